"""Which Python interpreter torchsetup works on (the *target*), and how it was chosen.

Default: the interpreter of the active virtual environment (``VIRTUAL_ENV``), else of the
active conda environment (``CONDA_PREFIX``), else ``python3``/``python`` on PATH. torchsetup
itself may run from anywhere (pipx, its own venv): the target is what gets probed, installed
into and verified.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from torchsetup.errors import UsageError

_WINDOWS = os.name == "nt"


@dataclass(frozen=True)
class TargetChoice:
    python: str
    how: str  # "--python", "--venv", "VIRTUAL_ENV", "CONDA_PREFIX", "PATH", "self"


def venv_python(prefix: str | Path) -> Path:
    prefix = Path(prefix)
    if _WINDOWS:
        return prefix / "Scripts" / "python.exe"
    return prefix / "bin" / "python"


def conda_python(prefix: str | Path) -> Path:
    prefix = Path(prefix)
    if _WINDOWS:
        return prefix / "python.exe"
    return prefix / "bin" / "python"


def validate_python_path(value: str) -> str:
    """Check a user-given interpreter path; a bad one is a UsageError (exit 2), one line."""
    path = Path(value).expanduser()
    if path.is_dir():
        # A venv/conda prefix given where an interpreter was expected: be helpful.
        for candidate in (venv_python(path), conda_python(path)):
            if candidate.is_file():
                raise UsageError(
                    f"--python {value} is a directory, not an interpreter",
                    hint=f"did you mean --python {candidate}?",
                )
        raise UsageError(f"--python {value} is a directory, not a Python interpreter")
    if not path.exists():
        found = shutil.which(value)
        if found:
            return found
        raise UsageError(f"--python {value}: no such file")
    if not os.access(path, os.X_OK):
        raise UsageError(f"--python {value}: not executable")
    return str(path)


def choose_target(python: Optional[str] = None, *, environ: Optional[Mapping[str, str]] = None,
                  which: Optional[object] = None) -> TargetChoice:
    """Pick the target interpreter (see module doc). ``python`` (from --python) wins."""
    env = os.environ if environ is None else environ
    if python:
        return TargetChoice(validate_python_path(python), "--python")
    venv = env.get("VIRTUAL_ENV")
    if venv and venv_python(venv).exists():
        return TargetChoice(str(venv_python(venv)), "VIRTUAL_ENV")
    conda = env.get("CONDA_PREFIX")
    if conda and conda_python(conda).exists():
        return TargetChoice(str(conda_python(conda)), "CONDA_PREFIX")
    path = env.get("PATH")
    for name in ("python3", "python"):
        found = shutil.which(name, path=path)
        if found:
            return TargetChoice(found, "PATH")
    return TargetChoice(sys.executable, "self")
