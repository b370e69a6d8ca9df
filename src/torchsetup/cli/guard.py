"""``torchsetup guard on|off|status``: the drift guard of a venv or conda environment.

``on`` pins the torch build installed in the target (and its companions) for every later
``pip install`` there, and for ``uv pip install`` in the activated environment (see
:mod:`torchsetup.guardfile`); ``torchsetup install`` runs it as the last step of its plan
(``--no-guard`` leaves it out). ``off`` lifts it. ``status`` shows it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable, Optional, TypeVar

import click

from torchsetup.errors import EXIT_OK, EXIT_PROBLEMS, UsageError

if TYPE_CHECKING:
    from torchsetup.detect.model import TargetPython
    from torchsetup.guardfile import GuardStatus

F = TypeVar("F", bound=Callable[..., Any])

_TARGET = [
    click.option("--python", metavar="PATH", help="The environment's interpreter."),
    click.option("--venv", metavar="DIR", help="The virtual environment (or conda prefix)."),
    click.option("--json", "as_json", is_flag=True, help="Print the guard's state as JSON."),
]


def _target_options(fn: F) -> F:
    for option in reversed(_TARGET):
        fn = option(fn)
    return fn


@click.group("guard", context_settings={"help_option_names": ["-h", "--help"]})
def guard() -> None:
    """Pin the installed torch build so a later pip/uv install cannot swap it.

    \b
      torchsetup guard status --venv .venv
      torchsetup guard off --venv .venv     lift it (a later install may replace torch)
      torchsetup guard on --venv .venv      pin what is installed now
    """


def _probe(python: Optional[str], venv: Optional[str]) -> tuple[TargetPython, str]:
    """The target environment (probed) and its prefix; not a venv/conda one: exit 2."""
    from torchsetup.detect.target import choose_target, validate_python_path, venv_python
    from torchsetup.install.targets import probe
    from torchsetup.proc import ProcRunner

    if python and venv:
        raise UsageError("use either --python or --venv, not both")
    if venv is not None:
        exe = venv_python(os.path.expanduser(venv))
        if not os.path.isfile(exe):
            raise UsageError(f"--venv {venv}: no virtual environment there (no {exe})")
    elif python is not None:
        exe = validate_python_path(python)
    else:
        exe = choose_target(None).python
    py = probe(exe, runner=ProcRunner(), env=dict(os.environ))
    if py.env_kind not in ("venv", "conda") or not py.prefix:
        raise UsageError(
            f"{exe} is not in a virtual or conda environment: the guard is per environment",
            hint="pass --venv DIR or --python of a venv's interpreter",
        )
    return py, py.prefix


def _show(status: GuardStatus, as_json: bool, what: str) -> None:
    if as_json:
        from torchsetup.result import dumps

        data = {
            "prefix": status.prefix,
            "on": status.on,
            "pins": list(status.pins),
            "pip": status.pip,
            "uv": status.uv,
            "foreign_pip_conf": status.foreign_pip_conf,
        }
        click.echo(dumps("guard", data, exit_code=EXIT_OK))
        return
    state = "on" if status.on else "off"
    click.echo(f"guard {state} in {status.prefix}{what}")
    if status.on:
        click.echo(f"  pins: {', '.join(status.pins)}")
        click.echo(
            f"  pip: {'held (its pip.conf names the pins)' if status.pip else 'NOT held'}; "
            f"uv: {'held when activated (UV_CONSTRAINT)' if status.uv else 'not held'}"
        )
    if status.foreign_pip_conf:
        click.echo(
            f"  note: {status.prefix} has its own pip.conf, left alone: add "
            f"'constraint = {status.prefix}/torchsetup-constraints.txt' to its [install] section"
        )


@guard.command("on")
@_target_options
def guard_on(python: Optional[str], venv: Optional[str], as_json: bool) -> int:
    """Pin the torch build installed in the environment, with its companions."""
    from torchsetup.guardfile import FAMILY, pip_config_files, user_constraints, write_guard

    py, prefix = _probe(python, venv)
    pins = [f"{d.name}=={d.version}" for name in FAMILY if (d := py.dist(name)) is not None]
    if not any(p.startswith("torch==") for p in pins):
        raise UsageError(f"no torch installed in {prefix}: nothing to guard")
    status = write_guard(prefix, pins, keep=user_constraints(pip_config_files(os.environ)))
    _show(status, as_json, "")
    return EXIT_OK


@guard.command("off")
@_target_options
def guard_off(python: Optional[str], venv: Optional[str], as_json: bool) -> int:
    """Lift the guard: later installs may replace torch again."""
    from torchsetup.guardfile import remove_guard

    _, prefix = _probe(python, venv)
    status = remove_guard(prefix)
    _show(status, as_json, " (lifted: torchsetup guard on, or torchsetup install, sets it again)")
    return EXIT_OK


@guard.command("status")
@_target_options
def guard_status(python: Optional[str], venv: Optional[str], as_json: bool) -> int:
    """Show whether the guard is on (exit 0) or off (exit 1)."""
    from torchsetup.guardfile import read_status

    _, prefix = _probe(python, venv)
    status = read_status(prefix)
    _show(status, as_json, "")
    return EXIT_OK if status.on else EXIT_PROBLEMS
