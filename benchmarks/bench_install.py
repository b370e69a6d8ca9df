"""Install torch 2.13.0 (CPU) three ways from the same local index, side by side.

1. plain pip:             python -m pip install torch==2.13.0 --index-url URL
2. torchsetup, pip method: run_install(plan) with the resolver's pip plan (same argv as 1)
3. torchsetup, uv method:  run_install(plan) with uv pip install --python PY ... (same index)

Every run installs into a fresh venv made beforehand with ``python3.11 -m venv`` (not timed),
from a PEP 503/691 index on 127.0.0.1 in this process (tests/helpers/index.py) serving the real
wheels (tests/helpers/wheelhouse.py). Caches are off for all three (PIP_NO_CACHE_DIR=1,
UV_NO_CACHE=1): every run downloads everything. Each run is a separate process, timed from
start to exit: for torchsetup that includes its start-up, the target probe, the index preflight,
the restore file and the log; the verify is off for the timing (``no_verify``) and timed once
separately. The order of the three rotates in every repetition. Pip's configuration on this
machine is isolated away (PIP_CONFIG_FILE=/dev/null, no PIP_* variables), as for a real user.

    python benchmarks/bench_install.py [--reps 5]
    python benchmarks/bench_install.py --engine [--reps 3]   # the default engine vs plain pip

Prints a markdown table (medians) and the per-run times. Besides wall time it reports the CPU
time (user+sys) of each run's process tree, which other work on a shared machine disturbs less,
and torchsetup's own time: a run's wall time minus its install step's duration (from its log).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.helpers.index import IndexServer
from tests.helpers.install_driver import cpu_plan
from tests.helpers.venvs import TORCH_PYTHON, create_venv, isolated_pip_env
from tests.helpers.wheelhouse import cached_wheelhouse

VARIANTS = ("plain pip", "torchsetup (pip)", "torchsetup (uv)")


def _argv(variant: str, venv: Path, index_url: str) -> list[str]:
    if variant == "plain pip":
        return list(cpu_plan(venv, index_url).steps[0].argv)
    method = "uv" if variant.endswith("(uv)") else "pip"
    config = json.dumps(
        {"venv": str(venv), "index_url": index_url, "method": method, "no_verify": True}
    )
    return [sys.executable, "-m", "tests.helpers.install_driver", config]


@dataclass
class Run:
    wall: float  # seconds, start to exit
    cpu: float  # user + sys seconds of the process and its children
    own: Optional[float] = None  # torchsetup only: wall minus the install step's own duration


def _timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        argv, check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=1800
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(
            f"failed ({done.returncode}): {' '.join(argv)}\n{done.stdout}\n{done.stderr}"
        )
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _install_step_seconds(logs: Path) -> float:
    """The install step's duration, from the newest torchsetup log."""
    log = max(logs.glob("install-*.log"), key=lambda p: p.stat().st_mtime)
    m = re.search(
        r"^== \[\d+/\d+\] install: ok \(exit code 0, ([\d.]+) s\)$", log.read_text(), re.MULTILINE
    )
    if m is None:
        raise SystemExit(f"no install step in {log}")
    return float(m.group(1))


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _torchsetup_cli() -> str:
    found = shutil.which("torchsetup", path=str(Path(sys.executable).parent))
    if found is None:
        raise SystemExit(
            "the torchsetup console script is not next to this Python: pip install -e ."
        )
    return found


def _first_import(python: Path, env: dict[str, str]) -> float:
    return _timed([str(python), "-c", "import torch"], env)[0]


ENGINE_ROWS = (
    "plain pip",
    "torchsetup (default)",
    "second venv",
    "torchsetup --bytecode all",
    "torchsetup --bytecode none",
    "import after pip",
    "import after torchsetup",
    "import after --bytecode none",
)


def engine(reps: int) -> None:
    """The default engine as users run it, side by side with plain pip, cold caches for both.

    Per repetition, into fresh venvs made beforehand with ``python3.11 -m venv`` (not timed),
    with a uv cache and a torchsetup cache of the repetition's own (empty: cold):
    1. ``python -m pip install torch==2.13.0 --index-url URL`` (PIP_NO_CACHE_DIR=1: cold);
    2. ``torchsetup install --cpu --torch 2.13.0 --venv A --index-url URL --yes --no-verify``,
       the default engine (uv, the cache on as by default; the bytecode step), cold;
       (1 and 2 alternate which goes first);
    3. the same into venv B, the caches now warm: the same build into a second venv;
    4. ``--bytecode all`` and ``--bytecode none`` into venvs C and D, each with a cold uv cache
       and a cold torchsetup cache of its own (the choices the default is measured against);
    5. the first ``import torch`` after pip, after the default install (A) and after
       ``--bytecode none`` (D), alternating which goes first.
    """
    work = Path(tempfile.mkdtemp(prefix="bench-engine-"))
    cli = _torchsetup_cli()
    cpu: dict[str, list[float]] = {}
    rows: dict[str, list[float]] = {k: [] for k in ENGINE_ROWS}
    try:
        with IndexServer(cached_wheelhouse()) as index:
            for rep in range(reps):

                def caches(name: str, rep: int = rep) -> dict[str, str]:
                    return isolated_pip_env(
                        TORCHSETUP_CACHE_DIR=str(work / f"ts-cache-{name}-{rep}"),
                        PIP_NO_CACHE_DIR="1",
                        UV_CACHE_DIR=str(work / f"uv-cache-{name}-{rep}"),
                    )

                venvs = {n: work / f"{n}-{rep}" for n in ("pip", "a", "b", "c", "d")}
                pythons = {n: create_venv(v, shutil.which(TORCH_PYTHON)) for n, v in venvs.items()}
                pip_argv = [str(pythons["pip"]), "-m", "pip", "install", "torch==2.13.0"]
                ts = [cli, "install", "--cpu", "--torch", "2.13.0", "--index-url", index.url]
                tail = ["--yes", "--no-verify"]
                first = [
                    ("plain pip", [*pip_argv, "--index-url", index.url], caches("pip")),
                    ("torchsetup (default)", [*ts, "--venv", str(venvs["a"]), *tail], caches("a")),
                ]
                later = [
                    # after the default run: its uv cache and its bytecode cache are warm
                    ("second venv", [*ts, "--venv", str(venvs["b"]), *tail], caches("a")),
                    (
                        "torchsetup --bytecode all",
                        [*ts, "--venv", str(venvs["c"]), *tail, "--bytecode", "all"],
                        caches("c"),
                    ),
                    (
                        "torchsetup --bytecode none",
                        [*ts, "--venv", str(venvs["d"]), *tail, "--bytecode", "none"],
                        caches("d"),
                    ),
                ]
                for name, argv, env in (first if rep % 2 == 0 else first[::-1]) + later:
                    wall, used = _timed(argv, env)
                    rows[name].append(wall)
                    cpu.setdefault(name, []).append(used)
                pair = [
                    ("import after pip", "pip"),
                    ("import after torchsetup", "a"),
                    ("import after --bytecode none", "d"),
                ]
                for name, venv in pair if rep % 2 == 0 else pair[::-1]:
                    rows[name].append(_first_import(pythons[venv], caches("pip")))
                print(
                    f"rep {rep + 1}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in rows.items()),
                    file=sys.stderr,
                )
                for folder in venvs.values():
                    shutil.rmtree(folder)
                for cache in work.glob("*-cache-*"):
                    shutil.rmtree(cache)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    med = {k: _median(v) for k, v in rows.items()}
    print(
        f"Machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"{reps} repetitions, medians; PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r}.\n"
    )
    print("| run | median wall (s) | median CPU user+sys (s) | wall per run (s) |")
    print("|---|---:|---:|---|")
    for k, v in rows.items():
        cpu_text = f"{_median(cpu[k]):.1f}" if k in cpu else "—"
        print(f"| {k} | {med[k]:.1f} | {cpu_text} | {', '.join(f'{x:.1f}' for x in v)} |")
    print(
        f"\ndefault torchsetup install vs plain pip: {med['plain pip'] / med['torchsetup (default)']:.1f}x "
        "faster (target: at least 4x)"
    )
    print(
        f"... in CPU time: {_median(cpu['plain pip']) / _median(cpu['torchsetup (default)']):.1f}x"
    )
    for k in ("torchsetup --bytecode all", "torchsetup --bytecode none"):
        print(f"{k} vs plain pip: {med['plain pip'] / med[k]:.1f}x")
    print(f"the same build into a second venv: {med['second venv']:.1f} s (target: at most 5 s)")
    print(
        f"first import torch, after torchsetup / after pip: "
        f"{med['import after torchsetup'] / med['import after pip']:.2f} (target: within noise of 1); "
        f"after --bytecode none / after pip: {med['import after --bytecode none'] / med['import after pip']:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument(
        "--engine",
        action="store_true",
        help="compare the default engine (uv, cache on) with plain pip instead (see engine())",
    )
    args = parser.parse_args()
    if args.engine:
        engine(args.reps)
        return
    work = Path(tempfile.mkdtemp(prefix="bench-install-"))
    env = isolated_pip_env(
        TORCHSETUP_CACHE_DIR=str(work / "cache"), PIP_NO_CACHE_DIR="1", UV_NO_CACHE="1"
    )
    runs: dict[str, list[Run]] = {v: [] for v in VARIANTS}
    verify = None
    try:
        with IndexServer(cached_wheelhouse()) as index:
            for rep in range(args.reps):
                order = VARIANTS[rep % 3 :] + VARIANTS[: rep % 3]
                for variant in order:
                    venv = work / f"venv-{rep}-{VARIANTS.index(variant)}"
                    python = create_venv(venv, shutil.which(TORCH_PYTHON))
                    wall, cpu = _timed(_argv(variant, venv, index.url), env)
                    own = (
                        None
                        if variant == "plain pip"
                        else wall - _install_step_seconds(work / "cache" / "logs")
                    )
                    runs[variant].append(Run(wall, cpu, own))
                    print(
                        f"rep {rep + 1} {variant}: {wall:.1f} s wall, {cpu:.1f} s cpu",
                        file=sys.stderr,
                    )
                    if verify is None:
                        verify = _timed([str(python), "-I", "-c", "import torch"], env)[0]
                    shutil.rmtree(venv)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _report(runs, args.reps, verify or 0.0)


def _report(runs: dict[str, list[Run]], reps: int, verify: float) -> None:
    base = _median([r.wall for r in runs["plain pip"]])
    base_cpu = _median([r.cpu for r in runs["plain pip"]])
    print(
        f"Machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"{reps} repetitions, medians.\n"
    )
    print(
        "| variant | wall (s) | vs plain pip | CPU user+sys (s) | torchsetup's own time (s) | wall per run (s) |"
    )
    print("|---|---:|---:|---:|---:|---|")
    for variant in VARIANTS:
        wall = _median([r.wall for r in runs[variant]])
        cpu = _median([r.cpu for r in runs[variant]])
        owns = [r.own for r in runs[variant] if r.own is not None]
        own = f"{_median(owns):.2f}" if owns else "—"
        each = ", ".join(f"{r.wall:.1f}" for r in runs[variant])
        print(f"| {variant} | {wall:.1f} | {wall / base:.2f}x | {cpu:.1f} | {own} | {each} |")
    ts_pip = runs["torchsetup (pip)"]
    print(
        f"\ntorchsetup (pip) vs plain pip: wall {_median([r.wall for r in ts_pip]) / base - 1:+.1%}, "
        f"CPU {_median([r.cpu for r in ts_pip]) / base_cpu - 1:+.1%} (target: at most +10%)"
    )
    print(
        f"torchsetup (uv) speed-up over plain pip: {base / _median([r.wall for r in runs['torchsetup (uv)']]):.1f}x "
        "(target: at least 2x)"
    )
    print(f"quick verify (import torch in the target), timed once: {verify:.1f} s")


if __name__ == "__main__":
    main()
