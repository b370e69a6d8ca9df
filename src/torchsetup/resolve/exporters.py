"""Plans as files: a shell script (``--export sh``) or a requirements file (``--export requirements``).

Exporters always work on the redacted plan: credentials in an ``--index-url`` never reach a file.
Every value is quoted for its format: shell words with shlex, comments kept to one line; a
requirements file gets one option and one pin per line, and a value that would add a line, an
option or a package is refused (exit 2), as is any value holding a control character.
"""

from __future__ import annotations

import re
from typing import Callable

from torchsetup import __version__
from torchsetup.errors import UsageError
from torchsetup.redact import REDACTED
from torchsetup.resolve.plan import Plan
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


def export_requirements(plan: Plan) -> str:
    """The install step's pins and index; refused (exit 2) when the plan has any other step
    (an uninstall, a venv, a pip upgrade): a requirements file that silently dropped one would
    install something else than the plan."""
    if plan.method not in ("pip", "uv") or not plan.index_url:
        raise UsageError(
            f"--export requirements needs --method pip or uv (this plan uses {plan.method})",
            hint="use --export sh for conda and source plans",
        )
    others = [st for st in plan.steps if st.id != "install"]
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
    _refuse_control(plan)
    bad = [r for r in plan.install_requirements if not _PIN.fullmatch(r)]
    if bad or any(c.isspace() for c in plan.index_url) or plan.index_url.startswith("-"):
        # one line per option or pin: nothing may add an option (--extra-index-url) or a package
        raise UsageError(
            f"--export requirements: cannot write {clean((bad or [plan.index_url])[0])[:60]!r} "
            "as one requirements line"
        )
    plan = plan.redacted()
    assert plan.index_url is not None
    lines = [
        f"# torchsetup {__version__}: {_comment(_title(plan))}",
        f"--index-url {plan.index_url}",
    ]
    lines += plan.install_requirements
    return "\n".join([*_credentials_note(plan.index_url), *lines]) + "\n"


EXPORTERS: dict[str, Callable[[Plan], str]] = {"sh": export_sh, "requirements": export_requirements}
