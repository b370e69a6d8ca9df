"""The exit-2 contract (issue 15, items 8, 9 and 16): bad input is exit 2 with exactly one
stderr line (``torchsetup...: error: ...`` or a refusal), optionally followed by one
``  hint:`` line; with --json, stdout holds one JSON envelope as well."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.test_cli_install import SNAPSHOTS, run_captured

BIG = "1" * 5000
H200 = str(SNAPSHOTS / "h200-real.json")

BAD = [
    ["doctor", "--timeout", "nan"],
    ["doctor", "--timeout", "inf"],
    ["doctor", "--timeout", "1e308"],
    ["verify", "--timeout-scale", "nan"],
    ["verify", "--timeout-scale", "inf"],
    ["install", "--dry-run", "--snapshot", H200, "--torch", BIG],
    ["install", "--dry-run", "--snapshot", H200, "--target-driver", BIG],
    ["install", "--dry-run", "--snapshot", H200, "--target-gpu", f"8.{BIG}"],
    ["install", "--dry-run", "--snapshot", H200, "--target-glibc", f"2.{BIG}"],
    ["install", "--dry-run", "--snapshot", H200, "--cuda", "11.7", "--torch", "2.1"],
    ["install", "--dry-run", "--snapshot", H200, "--cuda", "nope"],
    ["doctor", "--explain", "TS999"],
    # an empty value (an unset shell variable: --python "$PY") is refused, never "not given"
    ["install", "--dry-run", "--snapshot", H200, "--python", ""],
    ["install", "--dry-run", "--snapshot", H200, "--venv", ""],
    ["install", "--dry-run", "--snapshot", H200, "--find-links", ""],
    ["install", "--dry-run", "--snapshot", H200, "--with", ""],
    ["install", "--dry-run", "--snapshot", H200, "--index-url="],
    ["doctor", "--python", ""],
    ["doctor", "--snapshot", ""],
    ["doctor", "--from-report", ""],
    ["doctor", "--explain", ""],
    ["verify", "--python", ""],
    ["restore", ""],
]


def stderr_lines(err: str) -> list[str]:
    lines = err.splitlines()
    if len(lines) == 2 and lines[1].startswith("  hint: "):
        return lines[:1]
    return lines


@pytest.mark.parametrize("argv", BAD, ids=[" ".join(a)[:50] for a in BAD])
def test_bad_input_is_exit_2_with_one_stderr_line(argv: list[str]) -> None:
    code, out, err = run_captured(argv)
    assert code == 2, (out[-300:], err[-300:])
    assert len(stderr_lines(err)) == 1, err
    assert err.startswith("torchsetup"), err
    assert "internal error" not in err
    if "" in argv or argv[-1].endswith("="):
        assert "is empty" in err, err
    code, out, err = run_captured([*argv, "--json"])
    assert code == 2
    doc = json.loads(out)
    assert doc["exit_code"] == 2 and doc["ok"] is False and doc["error"]["message"]
    assert len(stderr_lines(err)) <= 1, err


def test_list_rules_and_explain_as_json() -> None:
    code, out, _ = run_captured(["doctor", "--list-rules", "--json"])
    assert code == 0
    rules = json.loads(out)["result"]["rules"]
    assert any(r["id"] == "TS001" for r in rules) and set(rules[0]) == {
        "id",
        "severity",
        "title",
        "category",
    }
    code, out, _ = run_captured(["doctor", "--explain", "TS001", "--json"])
    assert code == 0 and "TS001" in json.loads(out)["result"]["rule"]["page"]


def test_find_links_plans_do_not_claim_an_index(tmp_path: Path) -> None:
    """Item 17: --find-links installs still said "from download.pytorch.org"."""
    argv = ["install", "--dry-run", "--cpu", "--find-links", str(tmp_path)]
    code, out, err = run_captured(
        [*argv, "--snapshot", str(SNAPSHOTS / "linux-py311-nodriver.json")]
    )
    assert code == 0, err
    assert "download.pytorch.org" not in out
    assert f"from the folder {tmp_path} (--no-index)" in " ".join(out.split())
