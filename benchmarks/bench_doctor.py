"""doctor vs `python -m torch.utils.collect_env`, and `torchsetup --help` vs `import click`.

Both sides run in the same environment: a venv that holds torch 2.13.0 (CPU) and torchsetup,
installed the way users install it (a byte-compiled wheel). Commands are interleaved and
repeated; medians are compared. Targets (issue 2): doctor <= 0.10x collect_env; --help <= 1.5x
a bare `python -c "import click"`.

    python benchmarks/bench_doctor.py [--runs 15] [--python /path/to/venv-with-torch/bin/python]
"""

from __future__ import annotations

import argparse
import os
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
    args = ap.parse_args()
    if args.python:
        py = Path(args.python)
    else:
        from tests.helpers import venvs

        base = venvs.cached_torch_venv()
        py = venvs.overlay_venv(Path(tempfile.mkdtemp(prefix="bench-doctor-")) / "venv", base)
    exe = install_torchsetup(py)
    venv = py.parent.parent
    env = bench_env(
        {"VIRTUAL_ENV": str(venv), "PATH": f"{py.parent}{os.pathsep}{os.environ['PATH']}"}
    )
    times = compare(
        {
            "torchsetup doctor": [str(exe), "doctor"],
            "python -m torch.utils.collect_env": [str(py), "-m", "torch.utils.collect_env"],
            "torchsetup --help": [str(exe), "--help"],
            'python -c "import click"': [str(py), "-c", "import click"],
            "torchsetup doctor --json": [str(exe), "doctor", "--json"],
        },
        env,
        args.runs,
    )
    doctor_ratio = median(times["torchsetup doctor"]) / median(
        times["python -m torch.utils.collect_env"]
    )
    help_ratio = median(times["torchsetup --help"]) / median(times['python -c "import click"'])
    print(f"Machine: {machine()}; environment: {venv} (torch 2.13.0+cpu)\n")
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
