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
@click.option(
    "--refresh",
    is_flag=True,
    help="Read PyPI and the PyTorch indexes now (TORCHSETUP_PYPI_URL, TORCHSETUP_PYTORCH_INDEX "
    "name mirrors) and cache what they show.",
)
@click.option(
    "--offline", is_flag=True, help="Bundled data and cached observations only (never the network)."
)
def matrix(
    torch_: Optional[str], platform: Optional[str], as_json: bool, refresh: bool, offline: bool
) -> int:
    """Every PyTorch 2.x release: companions, Pythons, builds per platform, conda, sources.
    Releases the curated data lacks but the indexes show are marked † with their inferred facts.

    \b
      torchsetup matrix                       the whole table
      torchsetup matrix --torch 2.0.1         one release: builds, kernels, drivers, commands
      torchsetup matrix --platform macos-arm64 --json
      torchsetup matrix --refresh             what the indexes show today, on top of the data
    """
    import os

    from torchsetup.matrix.load import load_matrix
    from torchsetup.matrix.model import PLATFORMS
    from torchsetup.matrix.observed import current
    from torchsetup.matrix.render import release_summary, render_matrix, render_release
    from torchsetup.resolve.request import parse_torch

    if platform is not None and platform not in PLATFORMS:
        raise UsageError(
            f"--platform {platform}: unknown platform", hint=f"one of {', '.join(PLATFORMS)}"
        )
    if refresh and offline:
        raise UsageError("--refresh and --offline are mutually exclusive")
    merged, status = current(
        load_matrix(),
        env=os.environ,
        offline_flag=offline,
        refresh_now=refresh,
        auto_refresh=False,
        deadline_s=15.0,
    )
    if refresh and not status.refreshed:
        raise UsageError(
            f"--refresh: no index answered ({status.error or 'offline'})",
            hint="the table below would be the bundled data; check the network or the mirror URLs",
        )
    data = merged.matrix
    if not as_json and (refresh or status.source != "bundled"):
        click.echo(status.line(), err=True)
    selector = parse_torch(torch_) if torch_ is not None else None
    releases = [r for r in data.releases if selector is None or selector.matches(r.torch)]
    if not releases:
        raise UsageError(
            f"--torch {torch_}: no release matches",
            hint=f"releases {data.releases[-1].torch} to {data.releases[0].torch}",
        )
    if as_json:
        summaries = [release_summary(r, data) for r in releases]
        for summary in summaries:
            summary["inferred_facts"] = [
                item._asdict() for item in merged.inferred.get(summary["torch"], ())
            ]
            if platform is not None:
                summary["platforms"] = {platform: summary["platforms"][platform]}
        payload = {"releases": summaries, "data": status.to_dict()}
        click.echo(dumps("matrix", payload, exit_code=0))
    elif selector is not None and len(releases) <= 3:
        for release in releases:
            render_release(release, data)
            for item in merged.inferred.get(release.torch, ()):
                click.echo(f"  † {item.what}: {item.value} (inferred: {item.rule})")
    else:
        import dataclasses

        shown = [
            dataclasses.replace(r, torch=r.torch + " †") if r.torch in merged.inferred else r
            for r in releases
        ]
        render_matrix(shown, (platform,) if platform else PLATFORMS)
        if merged.inferred:
            click.echo(
                "† not in the curated data: inferred from the package indexes "
                "(torchsetup matrix --torch X lists the inferred facts)"
            )
    for line in merged.removed:
        click.echo(f"not planned, no longer on the index: {line}", err=True)
    return EXIT_OK
