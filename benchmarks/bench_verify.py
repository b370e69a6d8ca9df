"""Time `torchsetup verify` side by side with its baselines, in one run, on one machine.

    python benchmarks/bench_verify.py [--python PATH] [--runs 5] [--quick-runs 9] [--cold-runs 3]

Pairs, each run interleaved (A, B, A, B, ...) so that machine noise hits both alike:

1. `torchsetup verify` (default checks, warm inductor cache) vs benchmarks/handwritten_verify.py
   doing the same checks in one script (same cache state and compile settings). Target <= 1.2x.
2. `torchsetup verify --quick` vs a bare `python -c "import torch"`. Target <= 1.3x.
3. The first verify in a fresh cache (TORCHSETUP_CACHE_DIR = a new temp dir: cold inductor
   cache) vs a second one in the same dir (warm). Target: the second >= 2x faster.

Prints a markdown table (medians) and every raw time. The target interpreter defaults to
the tests' cached torch venv (tests/helpers/venvs.py).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parent.parent
HANDWRITTEN = REPO / "benchmarks" / "handwritten_verify.py"


def torchsetup_argv() -> list[str]:
    exe = shutil.which("torchsetup", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "torchsetup"]


class Sample(NamedTuple):
    wall: float
    cpu: float  # user + sys of every process it started (RUSAGE_CHILDREN)


def timed(argv: Sequence[str], env: dict[str, str]) -> Sample:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(list(argv), env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(
            f"benchmark command failed ({proc.returncode}): {' '.join(argv)}\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Sample(wall, cpu)


def interleaved(
    a: Sequence[str], b: Sequence[str], env_a: dict[str, str], env_b: dict[str, str], runs: int
) -> tuple[list[Sample], list[Sample]]:
    timed(a, env_a)  # warm-up: OS file cache, .pyc files, inductor cache
    timed(b, env_b)
    ta: list[Sample] = []
    tb: list[Sample] = []
    for i in range(runs):
        order = ((a, env_a, ta), (b, env_b, tb))
        for argv, env, out in order if i % 2 == 0 else reversed(order):
            out.append(timed(argv, env))
    return ta, tb


def cold_vs_warm(verify: Sequence[str], runs: int) -> tuple[list[Sample], list[Sample]]:
    cold: list[Sample] = []
    warm: list[Sample] = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="torchsetup-bench-") as tmp:
            env = {**os.environ, "TORCHSETUP_CACHE_DIR": tmp}
            cold.append(timed(verify, env))
            warm.append(timed(verify, env))
    return cold, warm


def machine(python: str) -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    target = subprocess.run(
        [python, "-c", "import sys, torch; print(torch.__version__, sys.version.split()[0])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return (
        f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} vCPUs, "
        f"target: torch {target[0]} on Python {target[1]}, torchsetup on Python "
        f"{platform.python_version()}"
    )


def median(samples: list[Sample], field: str) -> float:
    return float(statistics.median(getattr(s, field) for s in samples))


def row(
    label: str, ours: list[Sample], base: list[Sample], target: float, *, faster: bool = False
) -> str:
    """One table line: medians of wall and CPU time; the target is judged on wall time."""
    cells, ratios = [], []
    for field in ("wall", "cpu"):
        a, b = median(ours, field), median(base, field)
        ratios.append(b / a if faster else a / b)
        cells.append(f"{a:.2f} s | {b:.2f} s | {ratios[-1]:.2f}x")
    met = ratios[0] >= target if faster else ratios[0] <= target
    goal = f">= {target:g}x faster" if faster else f"<= {target:g}x"
    return f"| {label} | {' | '.join(cells)} | {goal} | {'yes' if met else 'NO'} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", help="target interpreter (default: the tests' torch venv)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick-runs", type=int, default=9)
    parser.add_argument("--cold-runs", type=int, default=3)
    args = parser.parse_args()
    if args.python is None:
        sys.path.insert(0, str(REPO))
        from tests.helpers import venvs

        args.python = str(venvs.cached_torch_venv())
    python = args.python
    ts = [*torchsetup_argv(), "verify", "--python", python]

    with tempfile.TemporaryDirectory(prefix="torchsetup-bench-warm-") as warm_dir:
        ours_env = {**os.environ, "TORCHSETUP_CACHE_DIR": warm_dir}
        # the baseline gets the same compile settings smoke.py uses, and its own warm cache
        hand_env = {
            **os.environ,
            "TORCHINDUCTOR_CACHE_DIR": str(Path(warm_dir) / "hand"),
            "TORCHINDUCTOR_COMPILE_THREADS": "1",
        }
        full = interleaved(ts, [python, str(HANDWRITTEN)], ours_env, hand_env, args.runs)
        quick = interleaved(
            [*ts, "--quick"], [python, "-c", "import torch"], ours_env, ours_env, args.quick_runs
        )
    cold, warm = cold_vs_warm(ts, args.cold_runs)

    print(f"Machine: {machine(python)}; load average at the end {os.getloadavg()[0]:.2f}\n")
    print(
        "| comparison | torchsetup (wall) | baseline (wall) | ratio | torchsetup (CPU) "
        "| baseline (CPU) | ratio | target (wall) | met |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    print(row("verify vs hand-written script (warm cache)", *full, 1.2))
    print(row("verify --quick vs `python -c 'import torch'`", *quick, 1.3))
    print(row("second verify (warm cache) vs first (cold)", warm, cold, 2.0, faster=True))
    print("\nRaw times, wall/CPU (s):")
    raw = (
        ("verify", full[0]),
        ("hand-written", full[1]),
        ("verify --quick", quick[0]),
        ("import torch", quick[1]),
        ("first verify (cold)", cold),
        ("second verify (warm)", warm),
    )
    for label, values in raw:
        print(f"- {label}: " + ", ".join(f"{v.wall:.2f}/{v.cpu:.2f}" for v in values))


if __name__ == "__main__":
    main()
