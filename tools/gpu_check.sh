#!/usr/bin/env bash
# torchsetup's checks on a real NVIDIA GPU machine, in one short run that installs nothing.
#
#   tools/gpu_check.sh OUTDIR            everything below
#   tools/gpu_check.sh OUTDIR --stack    only the LLM-stack part (issue 13)
#
# Needs: python3 with torch (CUDA build) and torchsetup's dependencies (click, rich, packaging,
# psutil, nvidia-ml-py, requests, pytest). torchsetup runs from this checkout (PYTHONPATH=src).
# Writes at most 11 files into OUTDIR: the raw snapshot and doctor's JSON become a fixture in
# tests/data/real/, the figures go to docs/benchmarks.md (verify_fast.txt: the warm full verify
# against its goals, <= 10 s and <= 1.2x a hand-written script; verify_bandwidth.json: the
# single-node all_reduce bus bandwidth against what NVLink/PCIe promise, docs/verify.md),
# verify_stack.json to docs/stack.md.
#
# The LLM-stack part uses what the machine's Python already holds (there is no network there:
# last time torch 2.11.0+cu130, transformers, accelerate, peft, tokenizers), plus any wheels
# carried in tools/gpu_wheels/ (datasets, safetensors, ...: --no-index --no-deps into an overlay
# on PYTHONPATH). A component that is not there is not checked; GPU checks need a CUDA GPU.
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

stack_part() {
  # carried wheels go into an overlay on PYTHONPATH (the target runs as the user's plain python,
  # PYTHONPATH included); --no-deps: their dependencies come from what the machine holds
  local SPY=$PY
  if [ -d tools/gpu_wheels ]; then
    local OVERLAY=${TMPDIR:-/tmp}/torchsetup-stack-overlay
    step stack-carried-wheels "$PY" -m pip install --no-index --no-deps --target "$OVERLAY" \
      tools/gpu_wheels/*.whl
    export PYTHONPATH=$PYTHONPATH:$OVERLAY
  fi
  step stack-versions "$SPY" -c 'import importlib.metadata as m
for n in ("torch","triton","transformers","tokenizers","datasets","accelerate","peft","safetensors","flash-attn","xformers","bitsandbytes","deepspeed","vllm"):
    try: print(n, m.version(n))
    except m.PackageNotFoundError: print(n, "-")'
  "${TS[@]}" verify --python "$SPY" --quick --stack --json >"$OUT/verify_stack.json" 2>>"$LOG"
  step verify-stack-text "${TS[@]}" verify --python "$SPY" --quick --stack
  step doctor-stack "${TS[@]}" doctor --python "$SPY"
  step plan-stack-llm "${TS[@]}" install --python "$SPY" --stack llm --dry-run
  step plan-stack-gpu "${TS[@]}" install --python "$SPY" --with flash-attn,xformers,bitsandbytes,deepspeed --dry-run
  step plan-stack-vllm "${TS[@]}" install --python "$SPY" --with vllm --dry-run
}

if [ "${2:-}" = "--stack" ]; then
  stack_part
  echo "done" >>"$LOG"
  exit 0
fi

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
stack_part

# Issue 16: a warm full verify (cpu.compile in its own process beside the GPU checks) timed
# three times, then against the hand-written script; the single-node bandwidth parts.
since() { "$PY" -c "print(round($EPOCHREALTIME - $1, 2))"; }
{
  HAND_CACHE=$(mktemp -d)
  TORCHINDUCTOR_CACHE_DIR=$HAND_CACHE TORCHINDUCTOR_COMPILE_THREADS=1 "$PY" benchmarks/handwritten_verify.py >/dev/null 2>&1  # warm its cache
  for i in 1 2 3; do  # interleaved: noise hits both alike
    t0=$EPOCHREALTIME
    "${TS[@]}" verify "${T[@]}" --require-gpu --json >"$OUT/verify_warm.json" 2>/dev/null
    echo "warm full verify run $i: rc=$? $(since "$t0") s (goal <= 10 s)"
    t0=$EPOCHREALTIME
    TORCHINDUCTOR_CACHE_DIR=$HAND_CACHE TORCHINDUCTOR_COMPILE_THREADS=1 "$PY" benchmarks/handwritten_verify.py >/dev/null 2>&1
    echo "hand-written script run $i: rc=$? $(since "$t0") s (verify goal <= 1.2x this)"
  done
  "$PY" -c "import json,sys; d=json.load(open(sys.argv[1]))['result']; [print(c['name'], c['status'], round(c['seconds'], 2)) for c in d['checks']]" "$OUT/verify_warm.json"
  rm -rf "$HAND_CACHE" "$OUT/verify_warm.json"
} >"$OUT/verify_fast.txt" 2>&1
"${TS[@]}" verify "${T[@]}" --quick --bandwidth --require-gpu --json >"$OUT/verify_bandwidth.json" 2>>"$LOG"
step verify-bandwidth-text "${TS[@]}" verify "${T[@]}" --quick --bandwidth --require-gpu
step topology sh -c 'nvidia-smi topo -m; nvidia-smi nvlink -s; for d in /sys/bus/pci/devices/*; do [ "$(cat "$d/vendor")" = 0x10de ] && grep -H . "$d"/*_link_*; done; grep -H . /sys/class/infiniband/*/ports/*/rate; true'
step fleet "${TS[@]}" doctor --fleet "$OUT/doctor.json" tests/data/real/h200-torchsetup-run/doctor.json

# doctor vs collect_env, --help vs import click, install --dry-run (interleaved, medians)
"$PY" benchmarks/bench_doctor.py --python "$PY" --in-place --runs 5 >"$OUT/bench.txt" 2>&1
echo "done" >>"$LOG"
