"""Install targets: which interpreter an install changes, creating a venv for ``--venv DIR``.

- ``--python PATH``: an existing interpreter;
- ``--venv DIR``: a virtual environment, created first when it does not exist (``python -m venv``
  with a ``pythonX.Y`` from PATH, or ``uv venv --python`` when the plan's method is uv); its
  Python must be the version the plan was resolved for;
- neither: the active virtual or conda environment (:func:`torchsetup.detect.target.choose_target`).

A Python that is neither a virtual nor a conda environment (a system or distribution Python, or
one marked ``EXTERNALLY-MANAGED``, PEP 668) is refused with the command that makes a venv
instead, unless the user forces it. Also here: finding uv and conda-family programs.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from torchsetup.detect.target import choose_target, venv_python
from torchsetup.errors import UsageError
from torchsetup.install.preflight import TargetState, probe_target
from torchsetup.resolve.plan import Plan, Step

if TYPE_CHECKING:
    from torchsetup.proc import Runner

CREATE_VENV = "create-venv"
_CONDA_FAMILY = ("conda", "mamba", "micromamba")


@dataclass(frozen=True)
class InstallTarget:
    """Where to install, as the user said it."""

    python: Optional[str] = None  # --python PATH
    venv: Optional[str] = None  # --venv DIR (created when missing)
    force: bool = False  # --force: install into a system / externally managed Python anyway


@dataclass(frozen=True)
class ResolvedTarget:
    python: str  # the interpreter the plan's steps install into
    how: str  # "--python", "--venv", "VIRTUAL_ENV", "CONDA_PREFIX", "PATH", "self"
    state: TargetState  # the target's probe; for a venv still to create, its base interpreter's
    create: Optional[Step] = None  # creates the venv; None when the target exists

    @property
    def exists(self) -> bool:
        return self.create is None


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


def version_problem(state: TargetState, plan: Plan) -> Optional[str]:
    """Why ``state``'s Python is not the one the plan was resolved for (None when it is)."""
    want = _minor(plan.python_version)
    have = state.python.minor
    if want and have != want:
        return f"{state.python.executable} is Python {state.python.version}, the plan was resolved for Python {want}"
    return None


def refuse_unmanaged(state: TargetState, *, force: bool) -> None:
    """A system or externally managed Python is refused (exit 2), with the venv command instead."""
    py = state.python
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


# --- resolving the target --------------------------------------------------------------------


def _base_python(plan: Plan, *, runner: Runner, env: Mapping[str, str]) -> str:
    """The interpreter a new venv is made from: Python X.Y as the plan says."""
    want = _minor(plan.python_version)
    if plan.method == "uv":
        uv = find_uv(env)
        if uv is None:
            raise UsageError(
                "the uv method needs uv, which is neither on PATH nor next to torchsetup",
                hint="pip install uv",
            )
        result = runner.run(
            [uv, "python", "find", *([want] if want else [])], timeout=60.0, env=env
        )
        if result.ok and result.stdout.strip():
            return result.stdout.strip().splitlines()[-1]
        raise UsageError(
            f"uv found no Python {want or ''} here".replace("  ", " "),
            hint=f"uv python install {want or '3'}",
        )
    if want is None:
        return sys.executable
    found = _which(f"python{want}", env)
    if found is None:
        raise UsageError(
            f"no python{want} on PATH to create the venv with",
            hint=f"install Python {want} (for example `uv python install {want}`) or use the uv method",
        )
    return found


def create_venv_step(plan: Plan, folder: str, base_python: str, env: Mapping[str, str]) -> Step:
    version = plan.python_version or "default"
    if plan.method == "uv":
        uv = find_uv(env) or "uv"
        return Step(
            CREATE_VENV,
            f"Create the virtual environment {folder} (Python {version}, uv)",
            (uv, "venv", "--python", base_python, folder),
            timeout_s=300,
        )
    return Step(
        CREATE_VENV,
        f"Create the virtual environment {folder} (Python {version})",
        (base_python, "-m", "venv", folder),
        timeout_s=300,
    )


def resolve_target(
    plan: Plan, target: InstallTarget, *, runner: Runner, env: Mapping[str, str]
) -> ResolvedTarget:
    """Find (or plan to create) the target and probe it; refusals raise UsageError (exit 2)."""
    if target.venv:
        return _resolve_venv(
            plan, str(Path(target.venv).expanduser().absolute()), runner=runner, env=env
        )
    choice = choose_target(target.python, environ=env)
    state = probe_target(choice.python, runner=runner, env=env)
    refuse_unmanaged(state, force=target.force)
    problem = version_problem(state, plan)
    if problem:
        raise UsageError(problem)
    return ResolvedTarget(choice.python, choice.how, state)


def _resolve_venv(
    plan: Plan, folder: str, *, runner: Runner, env: Mapping[str, str]
) -> ResolvedTarget:
    python = venv_python(folder)
    if Path(python).exists():
        state = probe_target(python, runner=runner, env=env)
        problem = version_problem(state, plan)
        if problem:
            raise UsageError(
                f"--venv {folder} exists but {problem}",
                hint="choose another folder, or remove this one",
            )
        return ResolvedTarget(python, "--venv", state)
    if Path(folder).exists() and any(Path(folder).iterdir()):
        raise UsageError(f"--venv {folder} exists and is not a virtual environment (no {python})")
    base = _base_python(plan, runner=runner, env=env)
    state = probe_target(base, runner=runner, env=env)
    problem = version_problem(state, plan)
    if problem:
        raise UsageError(problem)
    create = create_venv_step(plan, folder, state.sys_executable or base, env)
    return ResolvedTarget(str(python), "--venv", state, create)
