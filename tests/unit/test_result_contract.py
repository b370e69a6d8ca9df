"""The --json contract (pipx's tests/test_result_contract.py is the model): every command prints
one envelope with exactly these keys, and each command's result keeps its top-level keys.

Adding a key to a result is allowed (update the set here and docs/json.md); removing or renaming
one, or touching the envelope, is a breaking change and needs a new schema id.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.result import document, recorded_result
from torchsetup import __version__
from torchsetup.cli import run
from torchsetup.cli import verify as verify_cli
from torchsetup.result import COMMANDS, ENVELOPE_KEYS, RESULT_SCHEMA, envelope
from torchsetup.verify.model import PASS, CheckResult, TorchInfo, VerifyOptions, VerifyResult

DOCS = Path(__file__).resolve().parents[2] / "docs" / "json.md"
SNAPSHOT = str(Path(__file__).resolve().parents[1] / "data" / "snapshots" / "h200-cpu-torch.json")

_ENVELOPE = frozenset(
    {"schema", "torchsetup_version", "command", "ok", "exit_code", "result", "error"}
)
DOCTOR_KEYS = {
    "torchsetup_version",
    "environment",
    "findings",
    "categories",
    "crashed_rules",
    "summary",
}
PLAN_KEYS = {"plan", "facts", "reasons", "rejected", "warnings"}
VERIFY_KEYS = {"ok", "schema", "python", "mode", "seconds", "torch", "checks", "summary"}
MATRIX_KEYS = {"releases", "data"}
# The install/restore record (install.session.InstallResult): the keys consumers read.
RECORD_KEYS = {"command", "status", "exit_code", "message", "log_path", "restore_file", "steps"}
ERROR_KEYS = {"message", "hint"}
REFUSAL_KEYS = ERROR_KEYS | {"reasons", "nearest"}


def json_of(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = run(args)
    doc = document(capsys.readouterr().out, args[0])
    assert set(doc) == _ENVELOPE
    assert doc["schema"] == "torchsetup.result/1" and doc["torchsetup_version"] == __version__
    assert doc["exit_code"] == code and doc["ok"] is (code == 0)
    return code, doc


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCHSETUP_CACHE_DIR", str(tmp_path / "cache"))


def test_the_envelope_keys_are_the_documented_ones() -> None:
    assert set(ENVELOPE_KEYS) == _ENVELOPE
    assert RESULT_SCHEMA == "torchsetup.result/1"
    assert set(COMMANDS) == {"doctor", "install", "verify", "matrix", "restore"}


def test_envelope_derives_ok_from_the_exit_code() -> None:
    assert envelope("doctor", {}, exit_code=0)["ok"] is True
    failed = envelope("install", None, exit_code=2, error={"message": "m", "hint": None})
    assert (failed["ok"], failed["result"], failed["error"]) == (
        False,
        None,
        {"message": "m", "hint": None},
    )
    with pytest.raises(ValueError, match="unknown command"):
        envelope("frobnicate", {}, exit_code=0)


def test_doctor(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = json_of(["doctor", "--snapshot", SNAPSHOT, "--json"], capsys)
    assert code == 1  # this snapshot has a CPU torch on an H200: an error finding
    assert set(doc["result"]) == DOCTOR_KEYS and doc["error"] is None
    assert doc["result"]["findings"]


def test_doctor_strict_changes_exit_code_and_ok(capsys: pytest.CaptureFixture[str]) -> None:
    h200 = str(Path(SNAPSHOT).parent / "h200-real.json")
    code, doc = json_of(["doctor", "--snapshot", h200, "--json"], capsys)
    strict_code, strict = json_of(["doctor", "--snapshot", h200, "--json", "--strict"], capsys)
    assert (doc["exit_code"], strict["exit_code"]) == (code, strict_code)
    assert set(strict["result"]) == DOCTOR_KEYS


def test_install_dry_run(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = json_of(["install", "--snapshot", SNAPSHOT, "--dry-run", "--json"], capsys)
    assert code == 0 and set(doc["result"]) == PLAN_KEYS and doc["error"] is None


def test_install_refusal_is_an_error_document(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["install", "--snapshot", SNAPSHOT, "--cuda", "11.7", "--torch", "2.1", "--json"]
    code, doc = json_of([*args, "--dry-run"], capsys)
    assert code == 2 and doc["result"] is None
    assert set(doc["error"]) == REFUSAL_KEYS
    assert doc["error"]["nearest"].startswith("torchsetup install")


def test_install_run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # No process: the facts come from the snapshot and the executor is replaced.
    from torchsetup.detect import build
    from torchsetup.detect.snapshot import load_environment
    from torchsetup.install import session

    def fake_install(plan: Any, **kw: Any) -> session.InstallResult:
        return session.InstallResult(
            command="install",
            status="installed",
            exit_code=0,
            message="installed",
            log_path=tmp_path / "install.log",
        )

    monkeypatch.setattr(build, "detect_environment", lambda python: load_environment(SNAPSHOT))
    monkeypatch.setattr(session, "run_install", fake_install)
    code, doc = json_of(["install", "--torch", "2.13.0", "--yes", "--json"], capsys)
    assert code == 0 and set(doc["result"]) == PLAN_KEYS | {"result"}
    assert set(doc["result"]["result"]) >= RECORD_KEYS
    assert doc["result"]["result"]["status"] == "installed"


def test_verify(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def fake(python: str, options: VerifyOptions, **kw: Any) -> VerifyResult:
        checks = (CheckResult("import", PASS, 1.0, "torch 2.13.0+cpu"),)
        info = TorchInfo(version="2.13.0+cpu", variant="cpu", python="3.11")
        return VerifyResult(
            python=python, mode=options.mode, checks=checks, seconds=1.0, torch=info
        )

    monkeypatch.setattr(verify_cli, "run_verify", fake)
    code, doc = json_of(["verify", "--python", "/usr/bin/python3", "--json"], capsys)
    assert code == 0 and set(doc["result"]) == VERIFY_KEYS and doc["error"] is None


def test_matrix(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = json_of(["matrix", "--torch", "2.0.1", "--json"], capsys)
    assert code == 0 and set(doc["result"]) == MATRIX_KEYS
    assert [r["torch"] for r in doc["result"]["releases"]] == ["2.0.1"]


def test_restore(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "not-a-restore-file.json"
    bad.write_text('{"x": 1}')
    code, doc = json_of(["restore", str(bad), "--yes", "--json"], capsys)
    assert code == 2 and set(doc["result"]) >= RECORD_KEYS
    assert doc["result"]["status"] == "refused" and doc["error"] is None


@pytest.mark.parametrize(
    "args",
    [
        ["doctor", "--json", "--snapshot", "/nonexistent/snapshot.json"],
        ["install", "--json", "--export", "sh", "--dry-run"],
        ["verify", "--json", "--no-such-option"],
        ["matrix", "--json", "--torch", "9.9"],
        ["restore", "--json"],
    ],
)
def test_a_failure_before_any_result_still_prints_the_envelope(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(args)
    out, err = capsys.readouterr()
    doc = document(out, args[0])
    assert code == 2 and doc["exit_code"] == 2 and doc["result"] is None
    assert set(doc["error"]) == ERROR_KEYS and doc["error"]["message"] in " ".join(err.split())


def test_without_json_errors_stay_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["doctor", "--snapshot", "/nonexistent/snapshot.json"]) == 2
    assert capsys.readouterr().out == ""


def test_docs_describe_the_envelope_and_every_command() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert RESULT_SCHEMA in text
    for key in ENVELOPE_KEYS:
        assert f"`{key}`" in text, key
    for command in COMMANDS:
        assert re.search(rf"^## `{command}", text, re.MULTILINE), command
    for key in DOCTOR_KEYS | PLAN_KEYS | VERIFY_KEYS | MATRIX_KEYS | RECORD_KEYS | REFUSAL_KEYS:
        assert f"`{key}`" in text, key


def test_doctor_json_output_is_accepted_as_saved_facts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # docs/snapshots.md: the output of `doctor --json` can be handed back to --snapshot.
    code, doc = json_of(["doctor", "--snapshot", SNAPSHOT, "--json"], capsys)
    saved = tmp_path / "doctor.json"
    saved.write_text(json.dumps(doc))
    again_code, again = json_of(["doctor", "--snapshot", str(saved), "--json"], capsys)
    assert again_code == code
    ids = [f["id"] for f in doc["result"]["findings"]]
    assert [f["id"] for f in again["result"]["findings"]] == ids
    assert again["result"]["environment"]["source"] == f"snapshot:{saved}"


def test_recorded_outputs_read_old_and_new(capsys: pytest.CaptureFixture[str]) -> None:
    _, doc = json_of(["matrix", "--torch", "2.0.1", "--json"], capsys)
    assert recorded_result(json.dumps(doc)) == doc["result"]
    assert (
        recorded_result(json.dumps(doc["result"])) == doc["result"]
    )  # recorded before the envelope
