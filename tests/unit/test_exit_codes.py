"""The exit-code contract (errors.py, docs/cli.md): distinct codes, documented, and an
unexpected exception is exit 70 in one line, never a traceback."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO
from torchsetup import cli as cli_module
from torchsetup import errors
from torchsetup.cli import run

CODES = {
    name: value
    for name, value in vars(errors).items()
    if name.startswith("EXIT_") and isinstance(value, int)
}


def test_the_codes_are_distinct() -> None:
    assert len(set(CODES.values())) == len(CODES), CODES
    assert errors.EXIT_INTERNAL == 70


def test_every_code_is_documented_in_the_cli_reference() -> None:
    line = next(
        ln
        for ln in (REPO / "docs" / "cli.md").read_text(encoding="utf-8").splitlines()
        if ln.startswith("Exit codes, for every command:")
    )
    documented = {int(n) for n in re.findall(r"(?:^|[:;] )(\d+) ", line)}
    assert documented == set(CODES.values()), (documented, CODES)


def _crash(*args: object, **kwargs: object) -> object:
    raise RuntimeError("kaboom")


def test_an_unexpected_exception_is_exit_70_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TORCHSETUP_DEBUG", raising=False)
    monkeypatch.setattr(cli_module.cli, "main", _crash)
    assert run(["matrix"]) == errors.EXIT_INTERNAL
    err = capsys.readouterr().err
    expected = (
        "torchsetup: internal error: RuntimeError: kaboom "
        "(please report it; rerun with TORCHSETUP_DEBUG=1 for the traceback)"
    )
    assert err.splitlines() == [expected]


def test_torchsetup_debug_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCHSETUP_DEBUG", "1")
    monkeypatch.setattr(cli_module.cli, "main", _crash)
    with pytest.raises(RuntimeError, match="kaboom"):
        run(["matrix"])
