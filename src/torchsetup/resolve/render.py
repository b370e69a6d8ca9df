"""Human output for ``install`` and ``matrix``: lines per plan, a rich table for the matrix.

A plan prints as plain styled lines (torchsetup.term: ``install --dry-run`` is waited on and
rich costs tens of milliseconds to import); the matrix uses rich, imported inside the functions.
Everything rendered here has already been redacted by the caller.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Optional, TextIO

from torchsetup.sanitize import clean
from torchsetup.term import Style
from torchsetup.term import width as term_width
from torchsetup.versions import version_tuple

if TYPE_CHECKING:
    from rich.console import Console

    from torchsetup.resolve.plan import Plan, Rejection

REJECTIONS_SHOWN = 8


def _console(console: Optional[Console]) -> Console:
    if console is not None:
        return console
    from torchsetup.term import rich_console

    return rich_console(highlight=False)


def render_plan(plan: Plan, *, file: Optional[TextIO] = None, dry_run: bool = True) -> None:
    """The plan as lines: the choice, the facts used, why, the commands, warnings, what lost."""
    out = file or sys.stdout
    st = Style(out)
    width = term_width() - 4
    lines: list[str] = []
    title = "torchsetup install --dry-run" if dry_run else "torchsetup install"
    lines.append(st(title, "bold"))
    lines.append(
        "  "
        + st(f"torch {plan.torch}", "bold")
        + "  "
        + st(f"{plan.variant}  via {plan.method}", "bold cyan")
        + f"  for {plan.detail('platform')}, Python {plan.python_version}"
    )
    companions = ", ".join(f"{n} {v}" for n, v in plan.packages()[1:])
    if companions:
        lines.append(f"  with {companions}")
    if plan.index_url:
        lines.append(f"  from {clean(plan.index_url)}")

    lines.append("")
    lines.append(st("Facts used", "bold"))
    pad = max((len(f.name) for f in plan.facts), default=0) + 4
    for fact in plan.facts:
        lines += _wrapped(f"  {fact.name.ljust(pad - 2)}", f"{fact.value}  ({fact.source})", width)

    lines.append("")
    lines.append(st("Why", "bold"))
    for reason in plan.reasons:
        lines += _wrapped("  • ", reason, width)

    lines.append("")
    lines.append(st("Commands", "bold"))
    if plan.already_satisfied:
        where = plan.target.python if plan.target is not None else plan.python
        lines += _wrapped(
            "  ", f"none: {plan.already_satisfied} is installed in {where} already", width
        )
    for step in plan.steps:
        lines += [st(x, "dim") for x in _wrapped("  # ", step.description, width)]
        lines += [st(x, "green") for x in _command(step.shell_words(), width)]

    if plan.warnings:
        lines.append("")
        lines.append(st("Warnings", "bold yellow"))
        for warning in plan.warnings:
            lines += [st(x, "yellow") for x in _wrapped("  ! ", warning, width)]

    if plan.rejected:
        lines.append("")
        lines.append(st(f"Not chosen ({len(plan.rejected)})", "bold"))
        groups = group_rejections(plan.rejected)
        for torches, variant, reason in groups[:REJECTIONS_SHOWN]:
            what = f"{torches} ({variant})" if variant != "*" else torches
            lines += [st(x, "dim") for x in _wrapped("  - ", f"{what}: {reason}", width)]
        if len(groups) > REJECTIONS_SHOWN:
            lines.append(
                st(
                    f"  ... and {len(groups) - REJECTIONS_SHOWN} more (--json lists them all)",
                    "dim",
                )
            )
    stack_rejected = getattr(plan.stack, "rejected", ()) if plan.stack is not None else ()
    if stack_rejected:
        lines.append("")
        lines.append(st(f"Stack releases not chosen ({len(stack_rejected)})", "bold"))
        for rej in stack_rejected[:REJECTIONS_SHOWN]:
            lines += [
                st(x, "dim")
                for x in _wrapped("  - ", f"{rej.name} {rej.version}: {rej.reason}", width)
            ]
        if len(stack_rejected) > REJECTIONS_SHOWN:
            lines.append(
                st(f"  ... and {len(stack_rejected) - REJECTIONS_SHOWN} more (--json)", "dim")
            )
    out.write("\n".join(lines) + "\n")
    out.flush()


def group_rejections(rejected: Sequence[Rejection]) -> list[tuple[str, str, str]]:
    """Rejections with the same build and reason merged: ('2.12.0–2.14.1', 'cu126', reason)."""
    groups: dict[tuple[str, str], list[str]] = {}
    for rej in rejected:
        groups.setdefault((rej.variant, rej.reason), []).append(rej.torch)
    out = []
    for (variant, reason), torches in groups.items():
        ordered = sorted(torches, key=version_tuple)
        label = ordered[0] if len(ordered) == 1 else f"{ordered[0]}–{ordered[-1]}"
        out.append((label, variant, reason))
    # builds that work here (and lost to the chosen one) first: the list must not hide them
    return sorted(out, key=lambda group: not group[2].startswith("works, but"))


def _command(words: Sequence[str], width: int) -> list[str]:
    """A shell command wrapped between words with `` \\`` continuations: still copy-pasteable."""
    lines: list[str] = []
    for word in map(clean, words):
        if lines and len(lines[-1]) + 1 + len(word) <= width - 8:
            lines[-1] += " " + word
        else:
            lines.append(word)
    joined = "  $ " + " \\\n      ".join(lines)
    return joined.split("\n")


def _wrapped(prefix: str, text: str, width: int) -> list[str]:
    """``prefix`` + ``text`` wrapped to ``width``, continuation lines indented under the text."""
    lines = textwrap.wrap(
        clean(text), width=max(20, width - len(prefix)), break_on_hyphens=False
    ) or [""]
    return [prefix + lines[0]] + [" " * len(prefix) + line for line in lines[1:]]
