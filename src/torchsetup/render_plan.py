"""Human output for ``install`` and ``matrix``: lines per plan, a rich table for the matrix.

A plan prints as plain styled lines (torchsetup.term: ``install --dry-run`` is waited on and
rich costs tens of milliseconds to import); the matrix uses rich, imported inside the functions.
Everything rendered here has already been redacted by the caller.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Optional, TextIO

from torchsetup.matrix import PLATFORMS, Matrix, Release, version_tuple
from torchsetup.term import Style
from torchsetup.term import width as term_width

if TYPE_CHECKING:
    from rich.console import Console

    from torchsetup.plan import Plan, Rejection

REJECTIONS_SHOWN = 8


def _console(console: Optional[Console]) -> Console:
    if console is not None:
        return console
    from rich.console import Console

    return Console(highlight=False)


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
        lines.append(f"  from {plan.index_url}")

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
    return out


def _command(words: Sequence[str], width: int) -> list[str]:
    """A shell command wrapped between words with `` \\`` continuations: still copy-pasteable."""
    lines: list[str] = []
    for word in words:
        if lines and len(lines[-1]) + 1 + len(word) <= width - 8:
            lines[-1] += " " + word
        else:
            lines.append(word)
    joined = "  $ " + " \\\n      ".join(lines)
    return joined.split("\n")


def _wrapped(prefix: str, text: str, width: int) -> list[str]:
    """``prefix`` + ``text`` wrapped to ``width``, continuation lines indented under the text."""
    lines = textwrap.wrap(text, width=max(20, width - len(prefix)), break_on_hyphens=False) or [""]
    return [prefix + lines[0]] + [" " * len(prefix) + line for line in lines[1:]]


# --- the matrix ----------------------------------------------------------------------------------


def _variant_cell(release: Release, platform: str) -> str:
    """'cu126 cu128* cu130 cpu (cu129)': * the PyPI default, (...) built but not advertised."""
    info = release.platform(platform)
    if info is None or not info.available:
        return "-"
    cells = []
    for v in release.variants_for(platform):
        name = v.name + ("*" if info.pypi_default == v.name else "")
        cells.append(name if v.advertised else f"({name})")
    return " ".join(cells)


def release_summary(release: Release, matrix: Matrix) -> dict[str, Any]:
    """One release as plain data (the ``matrix --json`` contract)."""
    variants: dict[str, Any] = {}
    for v in release.variants:
        row = matrix.cuda_row(v.name) if v.cuda else None
        variants[v.name] = {
            "index_url": v.index_url,
            "platforms": list(v.platforms),
            "advertised": v.advertised,
            "command": v.command,
            "cuda": v.cuda,
            "min_driver": {"linux": row.linux_min_driver, "windows": row.windows_min_driver}
            if row
            else None,
            "minor_compat_driver": (
                {"linux": row.minor_compat_linux, "windows": row.minor_compat_windows}
                if row
                else None
            ),
            "arch": {key: a.text for key, a in v.arch},
            "inferred": v.inferred,
        }
    return {
        "torch": release.torch,
        "released": release.released,
        "torchvision": release.torchvision,
        "torchaudio": release.torchaudio,
        "python": list(release.python),
        "python_experimental": [e.version for e in release.python_experimental],
        "platforms": {
            p.key: {
                "available": p.available,
                "wheel_tag": p.wheel.tag,
                "min_glibc": p.wheel.min_glibc,
                "pypi_default": p.pypi_default,
                "variants": [v.name for v in release.variants_for(p.key)] if p.available else [],
            }
            for p in release.platforms
        },
        "variants": variants,
        "conda": (
            {
                "torchvision": release.conda.torchvision,
                "torchaudio": release.conda.torchaudio,
                "variants": list(release.conda.variants),
            }
            if release.conda
            else None
        ),
        "source_build": {
            "git_tag": release.source_build.git_tag,
            "build": release.source_build.build,
        },
        "inferred": release.inferred,
        "sources": list(release.sources),
    }


def render_matrix(
    releases: list[Release],
    platforms: tuple[str, ...] = PLATFORMS,
    *,
    console: Optional[Console] = None,
) -> None:
    """The pytorch.org selector for every release: one row per release and platform (and conda)."""
    from rich.table import Table

    table = Table(title="PyTorch builds:  * the PyPI default wheel,  (x) built but not advertised")
    for column in ("torch", "vision", "audio", "python", "platform"):
        table.add_column(column, no_wrap=True)
    table.add_column("builds")
    for r in releases:
        python = f"{r.python[0]}-{r.python[-1]}"
        rows = [(p, _variant_cell(r, p)) for p in platforms if r.available_on(p)]
        if r.conda is not None:
            rows.append(("conda", " ".join(r.conda.variants)))
        for i, (platform, cell) in enumerate(rows):
            head = (
                (r.torch, r.torchvision or "-", r.torchaudio or "-", python)
                if i == 0
                else ("", "", "", "")
            )
            table.add_row(*head, platform, cell, end_section=i == len(rows) - 1)
    _console(console).print(table)


def render_release(release: Release, matrix: Matrix, *, console: Optional[Console] = None) -> None:
    """One release in detail: every build, where it installs, its driver, kernels and command."""
    from rich.markup import escape

    c = _console(console)
    c.print(
        f"[bold]torch {release.torch}[/] (released {release.released or 'not confirmed'}): "
        f"torchvision {release.torchvision or '-'}, torchaudio {release.torchaudio or '-'}, "
        f"Python {release.python_range}"
        + (" [yellow](inferred entries)[/]" if release.inferred else "")
    )
    for v in release.variants:
        flags = ("" if v.advertised else " [yellow]not advertised[/]") + (
            " [yellow]inferred[/]" if v.inferred else ""
        )
        c.print(f"  [bold cyan]{v.name}[/]{flags}  {', '.join(release.platforms_for(v))}")
        row = matrix.cuda_row(v.name) if v.cuda else None
        if row is not None:
            c.print(
                f"      driver >= {row.linux_min_driver or '?'} (Linux) / {row.windows_min_driver or '?'} (Windows); "
                f"minor-version compatibility >= {row.minor_compat_linux or '?'}"
            )
        for key, arch in v.arch:
            c.print(
                f"      kernels {key}: {arch.text}"
                + (" [yellow](inferred)[/]" if arch.inferred else "")
            )
        if v.command:
            c.print(f"      [green]{escape(v.command)}[/]")
    if release.conda:
        c.print(f"  [bold cyan]conda[/] (pytorch channel): {', '.join(release.conda.variants)}")
    for note in release.notes:
        c.print(f"  [dim]note: {escape(note)}[/]")
