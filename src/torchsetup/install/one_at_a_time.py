"""One install or restore at a time per target interpreter.

Two installs into one environment at once interleave their uninstalls and installs and leave
it half done. Each run holds an exclusive lock (``flock``) on a file under
``paths.cache_dir()/locks`` named after the target interpreter's real path while it runs; a
second run into the same target is refused (exit 2) naming the holder. The lock goes with the
process, however it ends. (No locking where ``fcntl`` is missing, i.e. on Windows.)
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Callable, TypeVar

from torchsetup.errors import UsageError
from torchsetup.paths import cache_dir

T = TypeVar("T")


def lock_path(python: str) -> Path:
    real = os.path.realpath(python)
    return cache_dir() / "locks" / (hashlib.sha256(real.encode()).hexdigest()[:16] + ".lock")


@contextlib.contextmanager
def target_lock(python: str) -> Iterator[None]:
    """Hold the target's lock, or raise UsageError when another run holds it."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    path = lock_path(python)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "?"
            raise UsageError(
                f"another torchsetup install or restore is running into {python} ({holder})",
                hint="wait for it to finish; two at once would leave the environment half done",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def locked(python: str, run: Callable[[], T]) -> T:
    with target_lock(python):
        return run()
