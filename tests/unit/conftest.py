"""Unit tests never touch the machine (cibuildwheel's mock_protection, made unswallowable).

No real process, socket, NVML or CUDA library load, and no read of /proc or /sys. A unit test
that needs a program's output or a machine's files feeds a recorded one (tests/data/real)
through the pure parsers, or injects the side effect; anything else belongs in
tests/integration.

The guard raises :class:`UnitTestTouchedTheMachine`, a ``BaseException``: the probes turn every
``Exception`` into a probe record ("probes never raise"), so an ``AssertionError`` here used to
come back as a fact and the test passed. The guard also records each trip and fails the test at
teardown, so even code that catches ``BaseException`` (or a probe thread that dies of it)
cannot hide one.
"""

from __future__ import annotations

import builtins
import ctypes
import io
import os
import socket
import subprocess
from collections.abc import Iterator
from typing import Any, Callable

import pytest

MACHINE_PATHS = ("/proc", "/sys")


class UnitTestTouchedTheMachine(BaseException):
    """Raised by the unit-test guard; not an Exception, so ``except Exception`` cannot eat it."""


class Guard:
    def __init__(self) -> None:
        self.trips: list[str] = []

    def trip(self, what: str) -> UnitTestTouchedTheMachine:
        self.trips.append(what)
        return UnitTestTouchedTheMachine(
            f"unit tests must not {what}: inject the side effect or move the test to "
            "tests/integration"
        )


def _machine_path(path: Any) -> str | None:
    """``path`` normalised when it lies under /proc or /sys, else None (file descriptors pass)."""
    if isinstance(path, int) or path is None:
        return None
    try:
        text = os.path.abspath(os.fsdecode(os.fspath(path)))
    except TypeError:
        return None
    for root in MACHINE_PATHS:
        if text == root or text.startswith(root + "/"):
            return text
    return None


def _path_guarded(guard: Guard, real: Callable[..., Any], verb: str) -> Callable[..., Any]:
    def guarded(path: Any = ".", *args: Any, **kwargs: Any) -> Any:
        hit = _machine_path(path)
        if hit is not None:
            raise guard.trip(f"{verb} {hit}")
        return real(path, *args, **kwargs)

    return guarded


def _always(guard: Guard, verb: str) -> Callable[..., Any]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise guard.trip(f"{verb} {args[:1]!r}")

    return refuse


def install_guard(monkeypatch: pytest.MonkeyPatch, guard: Guard) -> None:
    monkeypatch.setattr(subprocess, "Popen", _always(guard, "start processes"))
    for name in ("system", "posix_spawn", "posix_spawnp", "fork", "forkpty"):
        if hasattr(os, name):
            monkeypatch.setattr(os, name, _always(guard, f"start processes (os.{name})"))
    monkeypatch.setattr(socket.socket, "connect", _always(guard, "open sockets"))
    monkeypatch.setattr(socket, "create_connection", _always(guard, "open sockets"))

    real_cdll_init = ctypes.CDLL.__init__

    def cdll_init(self: ctypes.CDLL, name: Any, *args: Any, **kwargs: Any) -> None:
        if name is not None:  # CDLL(None) is this process itself
            raise guard.trip(f"load shared libraries ({name!r}: NVML, libcuda)")
        real_cdll_init(self, name, *args, **kwargs)

    monkeypatch.setattr(ctypes.CDLL, "__init__", cdll_init)
    try:
        import pynvml
    except ImportError:  # pragma: no cover - nvidia-ml-py is a dependency
        pass
    else:
        for name in ("nvmlInit", "nvmlInitWithFlags", "_LoadNvmlLibrary"):
            if hasattr(pynvml, name):
                monkeypatch.setattr(pynvml, name, _always(guard, "initialise NVML"))

    for module, name in ((builtins, "open"), (io, "open"), (os, "open")):
        monkeypatch.setattr(module, name, _path_guarded(guard, getattr(module, name), "read"))
    for name in ("listdir", "scandir", "stat", "lstat"):
        monkeypatch.setattr(os, name, _path_guarded(guard, getattr(os, name), "look at"))


@pytest.fixture
def unit_guard() -> Guard:
    return Guard()


@pytest.fixture(autouse=True)
def mock_protection(monkeypatch: pytest.MonkeyPatch, unit_guard: Guard) -> Iterator[None]:
    install_guard(monkeypatch, unit_guard)
    yield
    monkeypatch.undo()
    if unit_guard.trips:
        pytest.fail(
            f"the unit-test guard tripped {len(unit_guard.trips)} time(s), even if something "
            "caught it: " + "; ".join(unit_guard.trips[:5]),
            pytrace=False,
        )
