"""``torchsetup install`` through click's CliRunner: exit codes, one-line errors, refusals, output modes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.helpers.result import document, unwrap
from torchsetup.cli import run

SNAPSHOTS = Path(__file__).resolve().parents[1] / "data" / "snapshots"


@pytest.fixture(autouse=True)
def offline_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    """--export requirements/pylock read the index: here a made-up lock of the plan instead."""
    from tests.helpers.locks import fake_lock

    monkeypatch.setattr("torchsetup.install.lock.lock_plan", lambda plan, py, **_: fake_lock(plan))


def run_captured(argv: list[str]) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of run(argv) under CliRunner.isolation(), stderr kept apart
    on click 8.1 (Python 3.9) and 8.2+."""
    try:
        runner = CliRunner(mix_stderr=False)  # type: ignore[call-arg]  # click < 8.2
    except TypeError:
        runner = CliRunner()  # click >= 8.2 keeps them apart
    with runner.isolation() as streams:
        code = run(argv)
        return code, streams[0].getvalue().decode(), streams[1].getvalue().decode()


class Result:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


def invoke(*args: str, snapshot: str | None = "linux-py311-nodriver") -> Result:
    """Run the CLI as ``torchsetup`` does (run() maps errors to exit codes), capturing output."""
    argv = ["install", *args] + (
        ["--snapshot", str(SNAPSHOTS / f"{snapshot}.json")] if snapshot else []
    )
    return Result(*run_captured(argv))


def test_cuda_11_7_dry_run_json() -> None:
    r = invoke("--cuda", "11.7", "--dry-run", "--json")
    assert r.code == 0, r.err
    data = unwrap(r.out, "install")
    plan = data["plan"]
    assert (plan["torch"], plan["torchvision"], plan["torchaudio"], plan["variant"]) == (
        "2.0.1",
        "0.15.2",
        "2.0.2",
        "cu117",
    )
    assert plan["index_url"] == "https://download.pytorch.org/whl/cu117"
    install = next(s for s in plan["steps"] if s["id"] == "install")
    assert install["argv"][1:] == [
        "-m",
        "pip",
        "install",
        "torch==2.0.1",
        "torchvision==0.15.2",
        "torchaudio==2.0.2",
        "--index-url",
        "https://download.pytorch.org/whl/cu117",
    ]
    assert data["facts"] and data["reasons"] and isinstance(data["rejected"], list)


def test_panel_shows_choice_facts_reasons_commands() -> None:
    r = invoke("--dry-run", snapshot="h200-real")
    assert r.code == 0, r.err
    for text in (
        "torch 2.15.0",
        "cu130",
        "Facts used",
        "580.159.04",
        "Why",
        "Commands",
        "--index-url https://download.pytorch.org/whl/cu130",
        "Not chosen",
    ):
        assert text in r.out


def test_refusal_is_one_paragraph_with_the_nearest_request() -> None:
    r = invoke("--cuda", "11.7", "--torch", "2.1", "--dry-run")
    assert r.code == 2
    assert r.out == ""
    assert "Traceback" not in r.err
    paragraph = " ".join(r.err.split())
    assert paragraph.startswith(
        "torchsetup: cannot plan this install: no build satisfies --cuda 11.7 --torch 2.1"
    )
    assert "torchsetup install --cuda 11.7 --torch 2.0.1" in paragraph
    assert "torchsetup install --cuda 11.8 --torch 2.1.2" in paragraph
    assert "\n\n" not in r.err


@pytest.mark.parametrize(
    ("args", "snapshot", "expected"),
    [
        (("--cuda", "11.7"), "apple-m2", "no release has a cu117 build for macos-arm64"),
        (("--cuda", "12.8", "--target-python", "3.10"), "t4-driver470", "570.26"),
        (
            ("--torch", "2.0", "--target-python", "3.12"),
            "linux-py311-nodriver",
            "no Python 3.12 wheels",
        ),
        (
            ("--method", "conda", "--torch", "2.6"),
            "conda-a100-driver535",
            "the pytorch channel ended with 2.5.1",
        ),
    ],
)
def test_refusals(args: tuple[str, ...], snapshot: str, expected: str) -> None:
    r = invoke(*args, "--dry-run", snapshot=snapshot)
    assert r.code == 2
    assert expected in " ".join(r.err.split())
    assert "Nearest request that works: torchsetup install" in " ".join(r.err.split())


def test_refusal_as_json() -> None:
    r = invoke("--cuda", "11.7", "--torch", "2.1", "--dry-run", "--json")
    assert r.code == 2
    error = document(r.out, "install")["error"]
    assert "cu117" in error["message"] and "--cuda 11.7 --torch 2.0.1" in error["nearest"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--torch", "2.x.q"), "--torch 2.x.q: not a version or version specifier"),
        (("--cuda", "abc"), "--cuda abc: not a CUDA version"),
        (("--cuda", "12.8", "--cpu"), "--cuda and --cpu are mutually exclusive"),
        (("--json", "--export", "sh"), "--json and --export are mutually exclusive"),
        (("--export", "dockerfile"), "--export dockerfile: unknown format"),
        (
            ("--method", "conda", "--index-url", "https://m.example/simple"),
            "--index-url applies to",
        ),
        (("--target-gpu", "sm86"), "--target-gpu sm86: malformed"),
        (("--no-such-flag",), "No such option"),
    ],
)
def test_bad_usage_is_one_line_exit_2(args: tuple[str, ...], message: str) -> None:
    r = invoke(*args, "--dry-run")
    assert r.code == 2
    assert message in r.err
    assert "Traceback" not in r.err
    assert len([line for line in r.err.splitlines() if line.strip()]) <= 2  # error + hint


def test_bad_snapshot_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, _, err = run_captured(["install", "--dry-run", "--snapshot", str(bad)])
    assert code == 2 and "not valid JSON" in err


def test_a_plan_for_another_machine_is_not_run_here() -> None:
    """--snapshot/--target-* plans can be shown or exported; running one here is refused (2)."""
    r = invoke("--cuda", "11.7")
    assert r.code == 2
    assert "plan for another machine" in r.err
    assert "--dry-run" in r.err


def test_export_modes() -> None:
    sh = invoke("--cuda", "11.7", "--export", "sh")
    assert (
        sh.code == 0 and sh.out.startswith("#!/usr/bin/env bash") and "set -euo pipefail" in sh.out
    )
    req = invoke("--cuda", "11.7", "--export", "requirements")
    assert req.code == 0
    assert (
        "--index-url https://download.pytorch.org/whl/cu117\ntorch==2.0.1+cu117 --hash=sha256:"
        in req.out
    )
    assert "# then pin this build for later installs: " in req.out  # the guard, as a comment
    conda = invoke("--cuda", "11.7", "--method", "conda", "--export", "requirements")
    assert conda.code == 2 and "needs --method pip or uv" in conda.err


def test_credentials_never_printed() -> None:
    url = "https://carol:t0psecret@mirror.example.com/whl/cu130"
    for args in (
        ("--dry-run",),
        ("--dry-run", "--json"),
        ("--export", "sh"),
        ("--export", "requirements"),
    ):
        r = invoke("--index-url", url, *args, snapshot="h200-real")
        assert r.code == 0, r.err
        assert "t0psecret" not in r.out + r.err and "carol" not in r.out + r.err
        assert "***@mirror.example.com" in r.out


def test_target_overrides_plan_for_another_machine() -> None:
    r = invoke(
        "--dry-run",
        "--json",
        "--target-platform",
        "linux-x86_64",
        "--target-python",
        "3.12",
        "--target-driver",
        "580.95.05",
        "--target-gpu",
        "6.1,8.6",
        "--target-glibc",
        "2.35",
    )
    data: dict[str, Any] = unwrap(r.out, "install")
    assert (data["plan"]["torch"], data["plan"]["variant"]) == (
        "2.14.1",
        "cu126",
    )  # sm_61 keeps cu126
    sources = {f["name"]: f["source"] for f in data["facts"]}
    assert sources["gpu 1"] == "--target-gpu" and sources["nvidia driver"] == "--target-driver"


def test_matrix_command() -> None:
    code, out, _ = run_captured(["matrix", "--torch", "2.0.1", "--json"])
    data = unwrap(out, "matrix")
    assert code == 0
    release = data["releases"][0]
    assert (
        release["torch"] == "2.0.1"
        and release["variants"]["cu117"]["min_driver"]["linux"] == "515.43.04"
    )
    code, table, _ = run_captured(["matrix"])
    assert code == 0 and "2.14.1" in table and "2.0.0" in table
    code, _, err = run_captured(["matrix", "--platform", "beos-x86"])
    assert code == 2 and "unknown platform" in err
