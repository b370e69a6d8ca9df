"""The matrix for people: ``torchsetup matrix`` (a rich table) and one release's details."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from torchsetup.matrix.model import PLATFORMS, Matrix, Release

if TYPE_CHECKING:
    from rich.console import Console


def _console(console: Optional[Console]) -> Console:
    if console is not None:
        return console
    from torchsetup.term import rich_console

    return rich_console(highlight=False)


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
