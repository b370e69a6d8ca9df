"""Showing a VerifyResult: a rich table for people, JSON for programs.

rich is imported inside the functions, so importing this module costs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Optional

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


_ROW_STYLE: dict[str, tuple[str, str]] = {str(k): v for k, v in _STYLE.items()}


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
    for check in result.checks:
        if check.name == "distributed" and check.data.get("rows"):
            _rank_table(check.data, console)
        if check.name == "bandwidth" and check.data.get("rows"):
            _bandwidth_table(check.data, console)
    style = "bold green" if result.ok else "bold red"
    console.print(f"[{style}]{escape(summary_line(result))}[/{style}]")


def rank_table_title(data: Mapping[str, Any]) -> str:
    ranks = data.get("ranks") or []
    world = ranks[0].get("world_size") if ranks and isinstance(ranks[0], dict) else None
    scope = "every rank (gathered by rank 0)" if data.get("gathered") else "this node's ranks"
    missing = data.get("missing") or []
    gone = f"; missing: {', '.join(f'rank {r}' for r in missing)}" if missing else ""
    return f"distributed: {scope}, world size {world}{gone}"


def _rank_table(data: Mapping[str, Any], console: Console) -> None:
    from rich.markup import escape
    from rich.table import Table

    console.print(escape(rank_table_title(data)), soft_wrap=True)
    table = Table(expand=False)
    for column in ("node", "rank", "device", "check", "status"):
        table.add_column(column, no_wrap=True)
    for row in data.get("rows") or ():
        status = row.get("status")
        label, style = _ROW_STYLE.get(str(status), (str(status), ""))
        node = f"{row.get('node')} ({row.get('host')})"
        table.add_row(
            escape(node),
            str(row.get("rank")),
            escape(str(row.get("device"))),
            escape(str(row.get("check"))),
            f"[{style}]{label}[/{style}]" if style else label,
        )
    console.print(table)


def bandwidth_rows(data: Mapping[str, Any]) -> list[tuple[str, ...]]:
    """(scope, ranks, size, algbw, busbw) per measured message, as printed."""
    out: list[tuple[str, ...]] = []
    for row in data.get("rows") or ():
        size = int(row.get("bytes") or 0)
        label = f"{size // 2**20} MiB" if size >= 2**20 else f"{size // 1024} KiB"
        node = row.get("node")
        scope = str(row.get("scope")) + (f" (node {node})" if node is not None else "")
        out.append(
            (
                scope,
                str(row.get("ranks")),
                label,
                f"{float(row.get('algbw_gbps') or 0.0):.2f}",
                f"{float(row.get('busbw_gbps') or 0.0):.2f}",
            )
        )
    return out


def _bandwidth_table(data: Mapping[str, Any], console: Console) -> None:
    from rich.markup import escape
    from rich.table import Table

    console.print("bandwidth: all_reduce, GB/s (busbw = algbw * 2(n-1)/n)", soft_wrap=True)
    table = Table(expand=False)
    for column in ("scope", "ranks", "size", "algbw", "busbw"):
        table.add_column(column, no_wrap=True, justify="left" if column == "scope" else "right")
    for row in bandwidth_rows(data):
        table.add_row(*(escape(cell) for cell in row))
    console.print(table)
