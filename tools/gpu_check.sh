#!/usr/bin/env bash
# torchsetup's checks on a real NVIDIA GPU machine, in one short run that installs nothing.
#
#   tools/gpu_check.sh OUTDIR
#
# Needs: python3 with torch (CUDA build) and torchsetup's dependencies (click, rich, packaging,
# psutil, nvidia-ml-py, requests, pytest). torchsetup runs from this checkout (PYTHONPATH=src).
# Writes at most 8 files into OUTDIR: the raw snapshot and doctor's JSON become a fixture in
# tests/data/real/, the figures go to docs/benchmarks.md.
set -u
OUT=${1:?usage: tools/gpu_check.sh OUTDIR}
mkdir -p "$OUT"
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1
unset PYTHONDONTWRITEBYTECODE
PY=$(command -v "${PYTHON:-python3}")
TS=("$PY" -m torchsetup)
T=(--python "$PY")
LOG=$OUT/run.log

step() {  # step NAME CMD... : run, time, append its output to the log
  local name=$1; shift
  local t0=$EPOCHREALTIME
  echo "===== $name: $*" >>"$LOG"
  "$@" >>"$LOG" 2>&1
  local rc=$?
  echo "===== $name: rc=$rc $("$PY" -c "print(round($EPOCHREALTIME - $t0, 2))") s" >>"$LOG"
}

step machine sh -c 'nvidia-smi; uname -a; '"$PY"' -c "import torch,sys; print(sys.version); print(torch.__version__, torch.version.cuda)"'
step doctor-text "${TS[@]}" doctor -v "${T[@]}"
"${TS[@]}" doctor "${T[@]}" --json --save-snapshot "$OUT/snapshot.json" >"$OUT/doctor.json" 2>>"$LOG"
"${TS[@]}" doctor "${T[@]}" --deep --json >"$OUT/doctor_deep.json" 2>>"$LOG"
step doctor-deep-text "${TS[@]}" doctor "${T[@]}" --deep
"${TS[@]}" install "${T[@]}" --dry-run --json >"$OUT/install_dry_run.json" 2>>"$LOG"
step install-dry-run "${TS[@]}" install "${T[@]}" --dry-run
step install-cu126 "${TS[@]}" install "${T[@]}" --dry-run --cuda 12.6
step verify-quick "${TS[@]}" verify "${T[@]}" --quick --require-gpu
"${TS[@]}" verify "${T[@]}" --require-gpu --json --junit-xml "$OUT/verify_junit.xml" >"$OUT/verify.json" 2>>"$LOG"
step verify-text-warm "${TS[@]}" verify "${T[@]}" --require-gpu
step verify-distributed "${TS[@]}" verify "${T[@]}" --distributed --require-gpu --compile off --train-steps 5
step pytest-gpu "$PY" -m pytest -p no:cacheprovider -m gpu -v tests/gpu -rs

# doctor vs collect_env, --help vs import click, install --dry-run (interleaved, medians)
"$PY" benchmarks/bench_doctor.py --python "$PY" --in-place --runs 5 >"$OUT/bench.txt" 2>&1
echo "done" >>"$LOG"
