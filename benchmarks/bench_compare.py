"""Two torchsetup installs side by side: the start-up commands people wait on, interleaved.

    python benchmarks/bench_compare.py OLD_EXE NEW_EXE [--runs 20] [--snapshot FILE]

OLD_EXE and NEW_EXE are the console scripts of two venvs (e.g. one holding a wheel built from
an older commit, one from this checkout: `pip install /path/to/checkout`). Each command runs
once per side as a warm-up, then ``--runs`` times, old and new alternating. It reports the
child's CPU time (user + sys), min and median: on a shared machine the minimum CPU time is far
steadier than wall time, and both sides see the same load.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cpu_ms(argv: list[str], env: dict[str, str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, capture_output=True, env=env, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return used * 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--snapshot", default=str(ROOT / "tests/data/snapshots/h200-real.json"))
    args = ap.parse_args()
    commands = {
        "--help": ["--help"],
        "doctor --snapshot h200-real.json": ["doctor", "--snapshot", args.snapshot],
        "install --dry-run --snapshot h200-real.json": [
            "install",
            "--dry-run",
            "--snapshot",
            args.snapshot,
        ],
        "doctor (live)": ["doctor"],
    }
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "VIRTUAL_ENV")
    }
    sides = {"old": args.old, "new": args.new}
    times: dict[tuple[str, str], list[float]] = {}
    for exe in sides.values():
        for argv in commands.values():
            cpu_ms([exe, *argv], env)
    for _ in range(args.runs):
        for name, argv in commands.items():
            for side, exe in sides.items():
                times.setdefault((side, name), []).append(cpu_ms([exe, *argv], env))
    print(
        "| command | before: CPU ms (min / median) | now: CPU ms (min / median) | now / before (min) |"
    )
    print("|---|---:|---:|---:|")
    for name in commands:
        old, new = times[("old", name)], times[("new", name)]
        print(
            f"| `torchsetup {name}` | {min(old):.0f} / {statistics.median(old):.0f} "
            f"| {min(new):.0f} / {statistics.median(new):.0f} | {min(new) / min(old):.2f}x |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
