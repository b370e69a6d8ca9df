"""``torchsetup matrix``: the compatibility table (what the pytorch.org selector shows, for every release)."""

from __future__ import annotations

from typing import Optional

import click

from torchsetup.errors import EXIT_OK, UsageError
from torchsetup.result import dumps


@click.command(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    short_help="Show the PyTorch compatibility table.",
)
@click.option(
    "--torch",
    "torch_",
    metavar="VERSION|SPEC",
    help="Only these releases, in detail (2.4, 2.0.1, '>=2.6').",
)
@click.option(
    "--platform",
    metavar="PLATFORM",
    help="Only this platform's column (linux-x86_64, macos-arm64, ...).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the selected releases as JSON.")
def matrix(torch_: Optional[str], platform: Optional[str], as_json: bool) -> int:
    """Every PyTorch 2.x release: companions, Pythons, builds per platform, conda, sources.

    \b
      torchsetup matrix                       the whole table
      torchsetup matrix --torch 2.0.1         one release: builds, kernels, drivers, commands
      torchsetup matrix --platform macos-arm64 --json
    """
    from torchsetup.matrix.load import load_matrix
    from torchsetup.matrix.model import PLATFORMS
    from torchsetup.matrix.render import release_summary, render_matrix, render_release
    from torchsetup.resolve.request import parse_torch

    if platform is not None and platform not in PLATFORMS:
        raise UsageError(
            f"--platform {platform}: unknown platform", hint=f"one of {', '.join(PLATFORMS)}"
        )
    data = load_matrix()
    selector = parse_torch(torch_) if torch_ is not None else None
    releases = [r for r in data.releases if selector is None or selector.matches(r.torch)]
    if not releases:
        raise UsageError(
            f"--torch {torch_}: no release matches",
            hint=f"releases {data.releases[-1].torch} to {data.releases[0].torch}",
        )
    if as_json:
        summaries = [release_summary(r, data) for r in releases]
        if platform is not None:
            for summary in summaries:
                summary["platforms"] = {platform: summary["platforms"][platform]}
        click.echo(dumps("matrix", {"releases": summaries}, exit_code=0))
    elif selector is not None and len(releases) <= 3:
        for release in releases:
            render_release(release, data)
    else:
        render_matrix(releases, (platform,) if platform else PLATFORMS)
    return EXIT_OK
