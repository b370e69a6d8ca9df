"""The install's target: re-reading it before a plan runs, and the refusals that apply to it.

The plan names its target and the facts it assumed (:class:`torchsetup.resolve.plan.TargetFacts`,
decided when planning: :mod:`torchsetup.resolve.complete`). Here the executor reads the target
again through the one target probe (:func:`probe`) and checks it:

- a Python that is neither a virtual nor a conda environment (a system or distribution Python,
  or one marked ``EXTERNALLY-MANAGED``, PEP 668) is refused with the command that makes a venv
  instead, unless the user forces it (:func:`refuse_unmanaged`);
- its Python must be the version the plan was resolved for (:func:`version_problem`).

Also here: finding uv and conda-family programs for ``torchsetup restore``.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from torchsetup.detect.model import TargetPython
from torchsetup.detect.target import venv_python
from torchsetup.errors import UsageError
from torchsetup.resolve.plan import Plan

if TYPE_CHECKING:
    from torchsetup.proc import Runner

_CONDA_FAMILY = ("conda", "mamba", "micromamba")


def probe(python: str, *, runner: Runner, env: Mapping[str, str]) -> TargetPython:
    """The target as the one target probe reads it, every distribution listed. An interpreter
    that does not run is a refusal (exit 2)."""
    from torchsetup.detect.probes.python_target import probe_python

    py = probe_python(python, runner=runner, env=env)
    if not py.ok:
        raise UsageError(f"the target Python {python} does not run: {py.error}")
    return py


# --- programs --------------------------------------------------------------------------------


def _which(name: str, env: Mapping[str, str]) -> Optional[str]:
    return shutil.which(name, path=env.get("PATH"))


def find_uv(env: Mapping[str, str]) -> Optional[str]:
    """uv on PATH, else next to torchsetup's own interpreter (``pip install uv`` puts it there)."""
    found = _which("uv", env)
    if found:
        return found
    beside = Path(sys.executable).parent / ("uv.exe" if os.name == "nt" else "uv")
    return str(beside) if beside.is_file() else None


def find_conda(env: Mapping[str, str]) -> Optional[str]:
    for var in ("CONDA_EXE", "MAMBA_EXE"):
        if env.get(var) and Path(env[var]).is_file():
            return env[var]
    return next((p for p in (_which(n, env) for n in _CONDA_FAMILY) if p), None)


def resolve_program(argv: tuple[str, ...], env: Mapping[str, str]) -> tuple[str, ...]:
    """Replace a bare ``uv``/``conda``/``mamba``/``micromamba`` with the program found here."""
    prog = argv[0]
    found: Optional[str] = None
    if prog == "uv":
        found = find_uv(env)
    elif prog in _CONDA_FAMILY:
        found = _which(prog, env) or find_conda(env)
    return (found, *argv[1:]) if found else argv


# --- checks ----------------------------------------------------------------------------------


def _minor(version: Optional[str]) -> Optional[str]:
    if not version:
        return None
    parts = version.split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 else None


def version_problem(py: TargetPython, plan: Plan) -> Optional[str]:
    """Why ``py`` is not the Python the plan was resolved for (None when it is)."""
    want = _minor(plan.python_version)
    have = py.minor
    if want and have != want:
        return f"{py.executable} is Python {py.version}, the plan was resolved for Python {want}"
    return None


def refuse_unmanaged(py: TargetPython, *, force: bool) -> None:
    """A system or externally managed Python is refused (exit 2), with the venv command instead."""
    if force or py.env_kind in ("venv", "conda"):
        return
    why = (
        "is externally managed (PEP 668: EXTERNALLY-MANAGED)"
        if py.externally_managed
        else "is not a virtual or conda environment"
    )
    folder = Path("~/.venvs/torch").expanduser()
    raise UsageError(
        f"refusing to install into {py.executable}: it {why}",
        hint=(
            f"create a virtual environment instead: `{py.executable} -m venv {folder}`, then rerun with "
            f"--python {venv_python(str(folder))} (or let torchsetup create it: --venv {folder}); "
            "--force installs into this Python anyway"
        ),
    )
