"""Where torchsetup keeps its files: a platform-appropriate user cache directory.

Linux: $XDG_CACHE_HOME/torchsetup (~/.cache/torchsetup); macOS: ~/Library/Caches/torchsetup;
Windows: %LOCALAPPDATA%\\torchsetup\\Cache. TORCHSETUP_CACHE_DIR overrides all of them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def cache_dir() -> Path:
    override = os.environ.get("TORCHSETUP_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "torchsetup" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "torchsetup"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "torchsetup"


def logs_dir() -> Path:
    return cache_dir() / "logs"


def restore_dir() -> Path:
    return cache_dir() / "restore"


def inductor_cache_dir() -> Path:
    return cache_dir() / "inductor"
