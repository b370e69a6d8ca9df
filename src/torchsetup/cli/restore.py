"""``torchsetup restore FILE``: put back the packages an install's restore file recorded."""

from __future__ import annotations

from typing import Optional

import click


@click.command("restore")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--index-url",
    metavar="URL",
    help="Reinstall from this index (default: the one the install used).",
)
@click.option(
    "--find-links", metavar="DIR", help="Reinstall from this folder of wheels, with no index."
)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("-v", "--verbose", is_flag=True, help="Show every line the installer prints.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON at the end.")
def restore(
    *,
    file: str,
    index_url: Optional[str],
    find_links: Optional[str],
    yes: bool,
    verbose: bool,
    as_json: bool,
) -> int:
    """Uninstall what an install added and reinstall what it removed or changed.

    FILE is the restore file an install wrote before changing the environment (its path is
    printed when an install fails). Exit codes: 0 restored (or nothing to do), 1 not confirmed,
    2 bad file or request, 3 a step failed, 130 interrupted.
    """
    from torchsetup.install.session import run_restore
    from torchsetup.term import rich_console

    console = rich_console(stderr=True, highlight=False) if as_json else None
    result = run_restore(
        file, yes=yes, verbose=verbose, index_url=index_url, find_links=find_links, console=console
    )
    if result.status == "refused" and not as_json:
        _stderr_refusal(result.message, result.hint)
    if as_json:
        from torchsetup.result import dumps

        click.echo(dumps("restore", result.to_dict(), exit_code=result.exit_code, default=str))
    return result.exit_code


def _stderr_refusal(message: str, hint: Optional[str]) -> None:
    """A refusal is also the one stderr line of the contract (docs/cli.md), after the report."""
    from torchsetup.cli import _one_line
    from torchsetup.redact import redact_url_credentials
    from torchsetup.sanitize import clean

    click.echo(f"torchsetup: error: {_one_line(clean(redact_url_credentials(message)))}", err=True)
    if hint:
        click.echo(f"  hint: {_one_line(clean(redact_url_credentials(hint)))}", err=True)
