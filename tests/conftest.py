"""Shared fixtures. Unit tests (tests/unit) run with a guard that fails on any real process,
socket, NVML load or /proc and /sys read (tests/unit/conftest.py); integration tests build real venvs with real torch (marked slow)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.helpers import venvs

pytest_plugins = ["pytester"]  # tests/unit/test_unit_guard.py runs inner sessions

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


# Every test plans from the bundled data unless it asks otherwise: no command started by a test
# refreshes the index observations (tests that do set TORCHSETUP_OFFLINE=0 and their own index),
# and the observations cache is a folder of this session, never the user's.
_SESSION_CACHE: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    import tempfile

    os.environ["TORCHSETUP_OFFLINE"] = "1"
    if not _SESSION_CACHE:
        _SESSION_CACHE.append(tempfile.mkdtemp(prefix="torchsetup-test-cache-"))
    os.environ["TORCHSETUP_CACHE_DIR"] = _SESSION_CACHE[0]


def pytest_unconfigure(config: pytest.Config) -> None:
    if _SESSION_CACHE and os.environ.get("TORCHSETUP_CACHE_DIR") == _SESSION_CACHE[0]:
        shutil.rmtree(_SESSION_CACHE[0], ignore_errors=True)


def _has_nvidia_gpu() -> bool:
    return Path("/proc/driver/nvidia/gpus").is_dir() and any(
        Path("/proc/driver/nvidia/gpus").iterdir()
    )


_PYPI_PROBE = "https://pypi.org/simple/torch/"


def _pypi_unreachable() -> str:
    """'' when pypi.org answers within a few seconds, else why not (checked once)."""
    import urllib.request

    try:
        req = urllib.request.Request(_PYPI_PROBE, method="HEAD", headers={"User-Agent": "tests"})
        with urllib.request.urlopen(req, timeout=5) as r:
            return "" if r.status < 500 else f"HTTP {r.status}"
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"


def _mark_online(items: list[pytest.Item]) -> None:
    online = [item for item in items if "online" in item.keywords]
    if not online:
        return
    why = _pypi_unreachable()
    if why:
        skip = pytest.mark.skip(reason=f"NOT RUN: pypi.org is unreachable from here ({why})")
        for item in online:
            item.add_marker(skip)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _mark_online(items)
    if _has_nvidia_gpu() or os.environ.get("TORCHSETUP_GPU_TESTS") == "1":
        return
    skip_gpu = pytest.mark.skip(
        reason="NOT RUN: needs an NVIDIA GPU (no /proc/driver/nvidia/gpus here)"
    )
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture(scope="session")
def torch_python() -> Path:
    """Interpreter of a real venv holding torch 2.13.0+cpu (built once, cached)."""
    return venvs.cached_torch_venv()


@pytest.fixture(scope="session")
def torchsetup_exe() -> str:
    """The installed console script, as users run it."""
    exe = shutil.which(
        "torchsetup",
        path=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
    )
    assert exe, "torchsetup console script not found: install the project first (see README)"
    return exe
