"""The fuzz suite's checker catches what it must (a checker that passes everything proves
nothing)."""

from __future__ import annotations

import json

import pytest

from tests.fuzz.invariants import check
from torchsetup.result import dumps

OK_JSON = dumps("doctor", {}, exit_code=0)


@pytest.mark.parametrize(
    ("argv", "code", "out", "err", "secrets"),
    [
        (["doctor"], 70, "", "torchsetup: internal error: x", ()),
        (["doctor"], 143, "", "", ()),
        (["doctor"], 1, "Traceback (most recent call last):\n", "", ()),
        (["doctor"], 0, "\x1b]0;title\x07", "", ()),
        (["doctor"], 0, "", "user:Zq9secret@h", ("Zq9secret",)),
        (["doctor", "--json"], 0, OK_JSON + OK_JSON, "", ()),
        (["doctor", "--json"], 0, json.dumps([1]), "", ()),
        (["doctor", "--json"], 2, "", "torchsetup: error: x", ()),
        (["install"], 2, "", "torchsetup: error: a\nwrapped\nline", ()),
        (["install"], 2, "torchsetup: error: on stdout", "", ()),
    ],
)
def test_the_checker_fails_bad_runs(
    argv: list[str], code: int, out: str, err: str, secrets: tuple[str, ...]
) -> None:
    with pytest.raises(AssertionError):
        check(argv, code, out, err, secrets=secrets)


def test_the_checker_passes_good_runs() -> None:
    check(["doctor", "--json"], 0, OK_JSON, "")
    check(["install"], 2, "", "torchsetup: error: no\n  hint: yes\n")
    check(["doctor"], 1, "✓ fine\n\tindented\n", "")
