"""Shared helpers for the benchmarks: interleaved repeated timing of whole commands."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def bench_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment real users have: bytecode caching on, no pip config of this machine."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")
    }
    env.update(extra or {})
    return env


def time_once(argv: Sequence[str], env: Mapping[str, str], timeout: float = 600) -> float:
    started = time.perf_counter()
    res = subprocess.run(
        list(argv),
        env=dict(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=timeout,
    )
    took = time.perf_counter() - started
    if res.returncode not in (0, 1):
        raise RuntimeError(f"{argv} failed ({res.returncode}): {res.stderr.decode()[-500:]}")
    return took


def compare(
    commands: dict[str, Sequence[str]], env: Mapping[str, str], runs: int, warmup: int = 1
) -> dict[str, list[float]]:
    """Run every command ``runs`` times, interleaved (A B A B ...), after ``warmup`` runs each."""
    for argv in commands.values():
        for _ in range(warmup):
            time_once(argv, env)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, argv in commands.items():
            times[name].append(time_once(argv, env))
    return times


def table(times: dict[str, list[float]]) -> str:
    rows = ["| command | median | min | max | runs |", "|---|---:|---:|---:|---:|"]
    for name, ts in times.items():
        rows.append(
            f"| `{name}` | {statistics.median(ts) * 1000:.0f} ms | {min(ts) * 1000:.0f} ms | "
            f"{max(ts) * 1000:.0f} ms | {len(ts)} |"
        )
    return "\n".join(rows)


def median(ts: list[float]) -> float:
    return statistics.median(ts)


def machine() -> str:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{platform.system()} {platform.release()}, {cpus} CPUs, Python "
        f"{platform.python_version()}, {time.strftime('%Y-%m-%d')}"
    )


def install_torchsetup(python: Path) -> Path:
    """Install this checkout (non-editable, byte-compiled, as users get it) into ``python``'s env."""
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", str(REPO)],
        check=True,
        env=bench_env({"PIP_CONFIG_FILE": os.devnull}),
    )
    deps = ["click", "rich", "packaging", "psutil", "nvidia-ml-py", "requests"]
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", *deps],
        check=True,
        env=bench_env({"PIP_CONFIG_FILE": os.devnull}),
    )
    return python.parent / "torchsetup"
