"""Benchmark: `torchsetup doctor --deep` against plain `doctor` and `python -m torch.utils.collect_env`.

All three look at the same target interpreter (default: the test suite's cached venv with
torch 2.13.0+cpu). Each round runs every command once, in a rotating order, after one warm-up
round; the table shows medians (and min/max) of wall time. Run it with bytecode writing on and
a non-editable install, as users run torchsetup:

    env -u PYTHONDONTWRITEBYTECODE python benchmarks/bench_doctor_deep.py --runs 7
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _time(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    res = subprocess.run(argv, capture_output=True, text=True, env=env, check=False, timeout=600)
    elapsed = time.perf_counter() - started
    if res.returncode not in (0, 1):  # doctor exits 1 when it finds an error
        raise SystemExit(f"{' '.join(argv)} failed ({res.returncode}): {res.stderr[-500:]}")
    return elapsed


def _default_python() -> str:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.helpers.venvs import cached_torch_venv

    return str(cached_torch_venv())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", help="target interpreter with torch (default: the test venv)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--torchsetup",
        default=shutil.which("torchsetup", path=str(Path(sys.executable).parent)) or "torchsetup",
    )
    args = parser.parse_args()
    python = args.python or _default_python()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    commands = {
        "torchsetup doctor": [args.torchsetup, "doctor", "--python", python, "--json"],
        "torchsetup doctor --deep": [
            args.torchsetup,
            "doctor",
            "--python",
            python,
            "--deep",
            "--json",
        ],
        "python -m torch.utils.collect_env": [python, "-m", "torch.utils.collect_env"],
        'python -c "import torch" (reference)': [python, "-c", "import torch"],
    }
    names = list(commands)
    for name in names:  # warm-up: page cache, bytecode
        _time(commands[name], env)
    times: dict[str, list[float]] = {name: [] for name in names}
    for i in range(args.runs):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            times[name].append(_time(commands[name], env))
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"target: {python}; {args.runs} runs after a warm-up\n"
    )
    print("| command | median (s) | min (s) | max (s) |")
    print("|---|---|---|---|")
    for name in names:
        t = times[name]
        print(f"| `{name}` | {statistics.median(t):.2f} | {min(t):.2f} | {max(t):.2f} |")
    print("\nraw: " + "; ".join(f"{n}: {', '.join(f'{x:.2f}' for x in times[n])}" for n in names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
