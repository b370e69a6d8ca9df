"""doctor vs `python -m torch.utils.collect_env`, and `torchsetup --help` vs `import click`.

Both sides run in the same environment: a venv that holds torch 2.13.0 (CPU) and torchsetup,
installed the way users install it (a byte-compiled wheel). Commands are interleaved and
repeated; medians are compared. Targets (issue 2): doctor <= 0.10x collect_env; --help <= 1.5x
a bare `python -c "import click"`.

    python benchmarks/bench_doctor.py [--runs 15] [--python /path/to/venv-with-torch/bin/python]
    python benchmarks/bench_doctor.py --python python3 --in-place   # no install: PYTHONPATH=src
                                                                   # (machines without network)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import bench_env, compare, install_torchsetup, machine, median, table


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument(
        "--python", help="interpreter of an environment with torch (default: build one)"
    )
    ap.add_argument(
        "--in-place",
        action="store_true",
        help="run this checkout as `python -m torchsetup` (PYTHONPATH=src) instead of installing it",
    )
    args = ap.parse_args()
    if args.python:
        py = Path(shutil.which(args.python) or args.python)
    else:
        from tests.helpers import venvs

        base = venvs.cached_torch_venv()
        py = venvs.overlay_venv(Path(tempfile.mkdtemp(prefix="bench-doctor-")) / "venv", base)
    venv = py.parent.parent
    extra = {"VIRTUAL_ENV": str(venv), "PATH": f"{py.parent}{os.pathsep}{os.environ['PATH']}"}
    if args.in_place:
        ts = [str(py), "-m", "torchsetup"]
        extra["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent / "src")
    else:
        ts = [str(install_torchsetup(py))]
    times = compare(
        {
            "torchsetup doctor": [*ts, "doctor"],
            "python -m torch.utils.collect_env": [str(py), "-m", "torch.utils.collect_env"],
            "torchsetup --help": [*ts, "--help"],
            'python -c "import click"': [str(py), "-c", "import click"],
            "torchsetup doctor --json": [*ts, "doctor", "--json"],
            "torchsetup install --dry-run": [*ts, "install", "--dry-run"],
        },
        bench_env(extra),
        args.runs,
    )
    doctor_ratio = median(times["torchsetup doctor"]) / median(
        times["python -m torch.utils.collect_env"]
    )
    help_ratio = median(times["torchsetup --help"]) / median(times['python -c "import click"'])
    torch_version = subprocess.run(
        [str(py), "-c", "import torch; print(torch.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    print(f"Machine: {machine()}; environment: {venv} (torch {torch_version})\n")
    print(table(times))
    print()
    print(
        f"- doctor / collect_env = **{doctor_ratio:.3f}x** (target <= 0.10x): "
        f"{'met' if doctor_ratio <= 0.10 else 'MISSED'}"
    )
    print(
        f"- --help / import click = **{help_ratio:.2f}x** (target <= 1.5x): "
        f"{'met' if help_ratio <= 1.5 else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
