"""Which Python interpreter torchsetup works on (the *target*), and how it was chosen.

Default: the interpreter of the active virtual environment (``VIRTUAL_ENV``), else of the
active conda environment (``CONDA_PREFIX``), else ``python3``/``python`` on PATH. torchsetup
itself may run from anywhere (pipx, its own venv): the target is what gets probed, installed
into and verified. (os.path, not pathlib: this module is on doctor's start-up path.)
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Optional

from torchsetup.errors import UsageError

_WINDOWS = os.name == "nt"


@dataclass(frozen=True)
class TargetChoice:
    python: str
    how: str  # "--python", "--venv", "VIRTUAL_ENV", "CONDA_PREFIX", "PATH", "self"


def venv_python(prefix: str) -> str:
    if _WINDOWS:
        return os.path.join(prefix, "Scripts", "python.exe")
    return os.path.join(prefix, "bin", "python")


def conda_python(prefix: str) -> str:
    if _WINDOWS:
        return os.path.join(prefix, "python.exe")
    return os.path.join(prefix, "bin", "python")


def validate_python_path(value: str) -> str:
    """Check a user-given interpreter path; a bad one is a UsageError (exit 2), one line."""
    path = os.path.expanduser(value)
    if os.path.isdir(path):
        # A venv/conda prefix given where an interpreter was expected: be helpful.
        for candidate in (venv_python(path), conda_python(path)):
            if os.path.isfile(candidate):
                raise UsageError(
                    f"--python {value} is a directory, not an interpreter",
                    hint=f"did you mean --python {candidate}?",
                )
        raise UsageError(f"--python {value} is a directory, not a Python interpreter")
    if not os.path.exists(path):
        found = shutil.which(value)
        if found:
            return found
        raise UsageError(f"--python {value}: no such file")
    if not os.access(path, os.X_OK):
        raise UsageError(f"--python {value}: not executable")
    return path


def choose_target(
    python: Optional[str] = None, *, environ: Optional[Mapping[str, str]] = None
) -> TargetChoice:
    """Pick the target interpreter (see module doc). ``python`` (from --python) wins."""
    env = os.environ if environ is None else environ
    if python:
        return TargetChoice(validate_python_path(python), "--python")
    venv = env.get("VIRTUAL_ENV")
    if venv and os.path.exists(venv_python(venv)):
        return TargetChoice(venv_python(venv), "VIRTUAL_ENV")
    conda = env.get("CONDA_PREFIX")
    if conda and os.path.exists(conda_python(conda)):
        return TargetChoice(conda_python(conda), "CONDA_PREFIX")
    path = env.get("PATH")
    for name in ("python3", "python"):
        found = shutil.which(name, path=path)
        if found:
            return TargetChoice(found, "PATH")
    return TargetChoice(sys.executable, "self")
