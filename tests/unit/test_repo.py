"""The repository's own promises: the README's two commands and .ci/run stay in step."""

from __future__ import annotations

import re

from tests.conftest import REPO


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    block = re.search(r"```sh\n(.*?)```", text, re.DOTALL)
    assert block, "README must open with a sh block of two commands"
    return [ln for ln in block.group(1).splitlines() if ln.strip()]


def test_readme_opens_with_exactly_two_commands() -> None:
    text = (REPO / "README.md").read_text()
    first_block = text.index("```sh")
    assert text[:first_block].strip() == "# torchsetup"
    cmds = readme_commands()
    assert len(cmds) == 2
    assert "torchsetup doctor" in cmds[0]
    assert "pytest" in cmds[1]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    assert readme_commands()[1] in ci.splitlines()


def test_cli_reference_is_current() -> None:
    """docs/cli.md (tools/gen_cli_docs.py) names every command and every option there is."""
    import click

    from torchsetup.cli import COMMANDS, cli

    doc = (REPO / "docs" / "cli.md").read_text()
    ctx = click.Context(cli)
    for name in COMMANDS:
        assert f"## torchsetup {name}" in doc
        command = cli.get_command(ctx, name)
        assert command is not None
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--"):
                    assert opt in doc, (
                        f"{opt} of {name} missing from docs/cli.md: run tools/gen_cli_docs.py"
                    )
