"""Plans as files: a shell script (``--export sh``), a requirements file with hashes
(``--export requirements``), a pylock.toml (``--export pylock``, PEP 751) and the uv project
settings that keep the build (``--export pyproject``).

Exporters always work on the redacted plan: credentials in an ``--index-url`` never reach a file.
The requirements file and the pylock.toml are made from a :class:`Lock` (every file with its
sha256, read from the index by :func:`torchsetup.install.lock.lock_plan`): the exporters here
only render it.

Every value is quoted for its format: shell words with shlex, comments kept to one line; a
requirements file gets one option and one pin per line, and a value that would add a line, an
option or a package is refused (exit 2), as is any value holding a control character.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Callable

from torchsetup import __version__
from torchsetup.errors import UsageError
from torchsetup.redact import REDACTED, redact_url_credentials
from torchsetup.resolve.lockfile import Lock, render_pylock, toml_string
from torchsetup.resolve.plan import BYTECODE, GUARD, Plan
from torchsetup.sanitize import clean


def _title(plan: Plan) -> str:
    platform = plan.detail("platform") or "?"
    return (
        f"torch {plan.torch} ({plan.variant}) with {plan.method} for {platform}, "
        f"Python {plan.python_version or '?'}"
    )


_PIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]*==[A-Za-z0-9][A-Za-z0-9.+!_\-]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _comment(text: str) -> str:
    """Text for a ``#`` comment line: one line, whatever it holds (a newline would end the
    comment and start a command)."""
    return " ".join(clean(text).split())


def _refuse_control(plan: Plan) -> None:
    """A value holding a control character cannot be exported (the CLI refuses it earlier)."""
    values = [plan.index_url or "", plan.python]
    for step in plan.steps:
        values += [*step.argv, *(v for kv in step.env for v in kv), step.cwd or ""]
    for value in values:
        if _CONTROL.search(value):
            raise UsageError(
                f"cannot export a plan holding a control character: {clean(value)[:60]!r}"
            )


def _credentials_note(text: str) -> list[str]:
    if REDACTED not in text:
        return []
    return [
        "# Credentials in the index URL were redacted: supply them with pip's keyring or ~/.netrc."
    ]


def export_sh(plan: Plan) -> str:
    """Every step of the plan, in order, each a line of shell words quoted with shlex."""
    _refuse_control(plan)
    plan = plan.redacted()
    body = ["set -euo pipefail", ""]
    if plan.already_satisfied:
        body += [f"# nothing to do: {_comment(plan.already_satisfied)} is installed already", ""]
    for step in plan.steps:
        body += [f"# {_comment(step.description)}", step.shell_line(), ""]
    header = [
        "#!/usr/bin/env bash",
        f"# torchsetup {__version__} install plan: {_comment(_title(plan))}",
        "# Review before running: torchsetup install --dry-run explains every choice.",
        *_credentials_note("\n".join(body)),
        *(f"# warning: {_comment(w)}" for w in plan.warnings),
    ]
    return "\n".join(header + body).rstrip("\n") + "\n"


def check_requirements(plan: Plan) -> None:
    """Can a requirements file (or a lock) say this plan? Refused (exit 2) when the plan has
    any step but its install (an uninstall, a venv, a pip upgrade): a file that silently
    dropped one would install something else than the plan."""
    if plan.method not in ("pip", "uv") or not plan.index_url:
        raise UsageError(
            f"--export requirements needs --method pip or uv (this plan uses {plan.method})",
            hint="use --export sh for conda and source plans",
        )
    # the bytecode and the guard are no installs: a requirements file cannot hold them (a
    # comment says how)
    others = [st for st in plan.steps if st.id not in ("install", *AFTER)]
    if others:
        raise UsageError(
            "--export requirements cannot express this plan: it also has to "
            + "; ".join(st.description[:1].lower() + st.description[1:] for st in others),
            hint="use --export sh, which holds every step",
        )
    if not plan.steps:
        raise UsageError(
            f"--export requirements: nothing to install ({plan.already_satisfied} is there already)"
        )


def export_requirements(plan: Plan, lock: Lock) -> str:
    """The plan's index and every package of its lock pinned exactly, each with ``--hash``
    (pip then checks every file: ``pip install --no-deps -r FILE``, hash-checking mode)."""
    check_requirements(plan)
    _refuse_control(plan)
    assert plan.index_url is not None
    if any(c.isspace() for c in plan.index_url) or plan.index_url.startswith("-"):
        # one line per option or pin: nothing may add an option (--extra-index-url) or a package
        raise UsageError(
            f"--export requirements: cannot write {clean(plan.index_url)[:60]!r} as one line"
        )
    bad = [
        f"{p.name}=={p.version}"
        for p in lock.packages
        if not _PIN.fullmatch(f"{p.name}=={p.version}")
        or (p.wheel is not None and not re.fullmatch(r"[0-9a-f]{64}", p.wheel.sha256 or ""))
    ]
    if bad:  # a name, version or hash that would add an option or a package to the file
        raise UsageError(
            f"--export requirements: cannot write {clean(bad[0])[:60]!r} as one requirements line"
        )
    plan = plan.redacted()
    assert plan.index_url is not None
    lines = [
        f"# torchsetup {__version__}: {_comment(_title(plan))}",
        "# every file pinned with its sha256 (read from the index): pip install --no-deps -r FILE",
        f"--index-url {plan.index_url}",
    ]
    for p in _planned_first(plan, lock):
        lines.append(
            f"{p.name}=={p.version}" + (f" --hash=sha256:{p.wheel.sha256}" if p.wheel else "")
        )
    lines += [f"# then {AFTER[st.id]}: {_comment(st.shell_line())}" for st in _after(plan)]
    return "\n".join([*_credentials_note(plan.index_url), *lines]) + "\n"


def _planned_first(plan: Plan, lock: Lock) -> list[Any]:
    """The lock's packages: the plan's own (torch, companions) in its order, then the rest."""
    order = {name: i for i, (name, _) in enumerate(plan.packages())}
    return sorted(lock.packages, key=lambda p: (order.get(p.name, len(order)), p.name))


def export_pylock(plan: Plan, lock: Lock) -> str:
    """A pylock.toml (PEP 751) of the plan's lock: each package with its index (the PyTorch
    index for torch) and its wheel's URL, size and sha256. ``torchsetup install --lock FILE``
    (or ``uv pip install -r pylock.toml``) installs exactly it."""
    check_requirements(plan)
    plan = plan.redacted()
    comment = "\n".join(
        [
            f"torchsetup {__version__} lock: {_title(plan)}",
            "install exactly this: torchsetup install --lock pylock.toml (or uv pip install -r pylock.toml)",
            *(f"then {AFTER[st.id]}: {st.shell_line()}" for st in _after(plan)),
            *_credentials_note(plan.index_url or ""),
        ]
    )
    redacted = Lock(
        tuple(
            dataclasses.replace(
                p,
                index=redact_url_credentials(p.index),
                wheel=dataclasses.replace(p.wheel, url=redact_url_credentials(p.wheel.url))
                if p.wheel
                else None,
            )
            for p in lock.packages
        ),
        lock.requires_python,
        lock.environment,
    )
    return render_pylock(redacted, created_by=f"torchsetup {__version__}", comment=comment)


def index_name(plan: Plan) -> str:
    """A name for the plan's index in ``[[tool.uv.index]]``: ``pytorch-cu130``, ``pytorch-cpu``."""
    return "pytorch-" + re.sub(r"[^a-z0-9.]+", "-", plan.variant.lower()).strip("-")


def export_pyproject(plan: Plan) -> str:
    """The uv project settings that make ``uv sync``/``uv lock`` keep this build: the index as
    an explicit ``[[tool.uv.index]]`` (used only for what is pinned to it) and
    ``[tool.uv.sources]`` pinning torch and its companions to it."""
    check_requirements(plan)
    plan = plan.redacted()
    assert plan.index_url is not None
    name = index_name(plan)
    deps = ", ".join(toml_string(r) for r in plan.install_requirements)
    lines = [
        f"# torchsetup {__version__}: {_title(plan)}",
        "# Merge into pyproject.toml; [project] dependencies must hold:",
        f"#   {deps}",
        *_credentials_note(plan.index_url),
        "",
        "[tool.uv.sources]",
        *(f"{pkg} = [{{ index = {toml_string(name)} }}]" for pkg, _ in plan.packages()),
        "",
        "[[tool.uv.index]]",
        f"name = {toml_string(name)}",
        f"url = {toml_string(plan.index_url)}",
        "explicit = true",
    ]
    return "\n".join(lines) + "\n"


# the steps after the install that a requirements file or a lock cannot hold, as their notes say
AFTER = {
    BYTECODE: "write the bytecode of what import torch loads",
    GUARD: "pin this build for later installs",
}


def _after(plan: Plan) -> list[Any]:
    return [st for st in plan.steps if st.id in AFTER]


EXPORTERS: dict[str, Callable[[Plan], str]] = {"sh": export_sh, "pyproject": export_pyproject}
# these need the plan's lock (read from the index): torchsetup.install.lock.lock_plan
LOCK_EXPORTERS: dict[str, Callable[[Plan, Lock], str]] = {
    "requirements": export_requirements,
    "pylock": export_pylock,
}
