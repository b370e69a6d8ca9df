"""Plans as files: a shell script (``--export sh``) or a requirements file (``--export requirements``).

Exporters always work on the redacted plan: credentials in an ``--index-url`` never reach a file.
"""

from __future__ import annotations

from typing import Callable

from torchsetup import __version__
from torchsetup.errors import UsageError
from torchsetup.redact import REDACTED
from torchsetup.resolve.plan import GUARD, Plan


def _title(plan: Plan) -> str:
    platform = plan.detail("platform") or "?"
    return (
        f"torch {plan.torch} ({plan.variant}) with {plan.method} for {platform}, "
        f"Python {plan.python_version or '?'}"
    )


def _credentials_note(text: str) -> list[str]:
    if REDACTED not in text:
        return []
    return [
        "# Credentials in the index URL were redacted: supply them with pip's keyring or ~/.netrc."
    ]


def export_sh(plan: Plan) -> str:
    """Every step of the plan, in order, each a line of shell words quoted with shlex."""
    plan = plan.redacted()
    body = ["set -euo pipefail", ""]
    if plan.already_satisfied:
        body += [f"# nothing to do: {plan.already_satisfied} is installed already", ""]
    for step in plan.steps:
        body += [f"# {step.description}", step.shell_line(), ""]
    header = [
        "#!/usr/bin/env bash",
        f"# torchsetup {__version__} install plan: {_title(plan)}",
        "# Review before running: torchsetup install --dry-run explains every choice.",
        *_credentials_note("\n".join(body)),
        *(f"# warning: {w}" for w in plan.warnings),
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
    # the guard is no install: a requirements file cannot set it (a comment says how)
    others = [st for st in plan.steps if st.id not in ("install", GUARD)]
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
    plan = plan.redacted()
    assert plan.index_url is not None
    lines = [f"# torchsetup {__version__}: {_title(plan)}", f"--index-url {plan.index_url}"]
    lines += plan.install_requirements
    lines += _guard_note(plan)
    return "\n".join([*_credentials_note(plan.index_url), *lines]) + "\n"


def _guard_note(plan: Plan) -> list[str]:
    guard = next((st for st in plan.steps if st.id == GUARD), None)
    if guard is None:
        return []
    return ["# then pin this build for later installs: " + guard.shell_line()]


EXPORTERS: dict[str, Callable[[Plan], str]] = {"sh": export_sh, "requirements": export_requirements}
