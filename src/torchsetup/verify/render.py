"""Showing a VerifyResult: a rich table for people, JSON for programs.

rich is imported inside the functions, so importing this module costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from torchsetup.result import dumps
from torchsetup.sanitize import clean
from torchsetup.verify.model import FAIL, NOT_RUN, PASS, Status, VerifyResult

if TYPE_CHECKING:
    from rich.console import Console

_STYLE: dict[Status, tuple[str, str]] = {
    PASS: ("✓ pass", "green"),
    FAIL: ("✗ FAIL", "bold red"),
    NOT_RUN: ("– not run", "yellow"),
}


def render_json(result: VerifyResult) -> str:
    """``verify --json``: the result in the one envelope (torchsetup.result)."""
    return dumps("verify", result.to_json(), exit_code=result.exit_code)


def summary_line(result: VerifyResult) -> str:
    counts = (
        f"{result.count(PASS)} passed, {result.count(FAIL)} failed, "
        f"{result.count(NOT_RUN)} not run in {result.seconds:.1f} s"
    )
    return f"{'OK' if result.ok else 'FAILED'}: {counts}"


def heading(result: VerifyResult, chosen_by: Optional[str] = None) -> str:
    torch = result.torch
    about = (
        f"torch {torch.version} ({torch.variant}), Python {torch.python}"
        if torch
        else "torch: not importable"
    )
    how = f" (from {chosen_by})" if chosen_by else ""
    return f"torchsetup verify ({result.mode}): {result.python}{how}\n{about}"


def render_table(
    result: VerifyResult, console: Console, *, chosen_by: Optional[str] = None
) -> None:
    from rich.markup import escape
    from rich.table import Table

    # The heading (interpreter paths are long) goes on its own unwrapped lines, not the table title.
    console.print(escape(clean(heading(result, chosen_by))), soft_wrap=True)
    table = Table(expand=False)
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("time", justify="right", no_wrap=True)
    table.add_column("detail", overflow="fold")
    for check in result.checks:
        label, style = _STYLE[check.status]
        detail = escape(clean(check.detail))
        if check.hint:
            detail += f"\n[cyan]fix: {escape(clean(check.hint))}[/cyan]"
        table.add_row(
            escape(clean(check.name)),
            f"[{style}]{label}[/{style}]",
            f"{check.seconds:.2f} s",
            detail,
        )
    console.print(table)
    style = "bold green" if result.ok else "bold red"
    console.print(f"[{style}]{escape(summary_line(result))}[/{style}]")
