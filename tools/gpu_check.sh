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
PY=${PYTHON:-python3}
TS=("$PY" -m torchsetup)
LOG=$OUT/run.log

step() {  # step NAME CMD... : run, time, append its output to the log
  local name=$1; shift
  local t0=$(date +%s.%N)
  echo "===== $name: $*" >>"$LOG"
  "$@" >>"$LOG" 2>&1
  local rc=$?
  echo "===== $name: rc=$rc $(echo "$(date +%s.%N) - $t0" | bc) s" >>"$LOG"
}

step machine sh -c 'nvidia-smi; uname -a; '"$PY"' -c "import torch,sys; print(sys.version); print(torch.__version__, torch.version.cuda)"'
step doctor-text "${TS[@]}" doctor -v
"${TS[@]}" doctor --json --save-snapshot "$OUT/snapshot.json" >"$OUT/doctor.json" 2>>"$LOG"
"${TS[@]}" doctor --deep --json >"$OUT/doctor_deep.json" 2>>"$LOG"
step doctor-deep-text "${TS[@]}" doctor --deep
"${TS[@]}" install --dry-run --json >"$OUT/install_dry_run.json" 2>>"$LOG"
step install-dry-run "${TS[@]}" install --dry-run
step install-cu126 "${TS[@]}" install --dry-run --cuda 12.6
step verify-quick "${TS[@]}" verify --quick --require-gpu
"${TS[@]}" verify --require-gpu --json --junit-xml "$OUT/verify_junit.xml" >"$OUT/verify.json" 2>>"$LOG"
step verify-text-warm "${TS[@]}" verify --require-gpu
step verify-distributed "${TS[@]}" verify --distributed --require-gpu --compile off --train-steps 5
step pytest-gpu "$PY" -m pytest -p no:cacheprovider -m gpu -v tests/gpu -rs

# doctor vs collect_env, interleaved, 5 runs each (seconds)
{
  echo "run doctor collect_env doctor_json"
  for i in 1 2 3 4 5; do
    a=$( { /usr/bin/time -f %e "${TS[@]}" doctor >/dev/null 2>&1; } 2>&1 | tail -1)
    b=$( { /usr/bin/time -f %e "$PY" -m torch.utils.collect_env >/dev/null 2>&1; } 2>&1 | tail -1)
    c=$( { /usr/bin/time -f %e "${TS[@]}" doctor --json >/dev/null 2>&1; } 2>&1 | tail -1)
    echo "$i $a $b $c"
  done
  echo "run help import_click dry_run"
  for i in 1 2 3 4 5; do
    a=$( { /usr/bin/time -f %e "${TS[@]}" --help >/dev/null 2>&1; } 2>&1 | tail -1)
    b=$( { /usr/bin/time -f %e "$PY" -c "import click" >/dev/null 2>&1; } 2>&1 | tail -1)
    c=$( { /usr/bin/time -f %e "${TS[@]}" install --dry-run >/dev/null 2>&1; } 2>&1 | tail -1)
    echo "$i $a $b $c"
  done
} >"$OUT/bench.txt" 2>&1
echo "done" >>"$LOG"
