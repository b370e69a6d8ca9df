"""The verify command's contract: options, exit codes, one-line usage errors (no processes:
the runner is replaced; the real one runs in tests/integration/test_verify_cpu.py)."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Optional

import pytest
from click.testing import CliRunner

from tests.helpers.result import unwrap
from torchsetup.cli import cli, run
from torchsetup.cli import verify as verify_cli
from torchsetup.errors import InterruptedError_
from torchsetup.verify.model import (
    FAIL,
    PASS,
    CheckResult,
    Expectations,
    Status,
    TorchInfo,
    VerifyOptions,
    VerifyResult,
)


class FakeRunner:
    def __init__(self, status: Status = PASS, raises: Optional[BaseException] = None) -> None:
        self.calls: list[tuple[str, VerifyOptions]] = []
        self.status = status
        self.raises = raises

    def __call__(self, python: str, options: VerifyOptions, **kw: Any) -> VerifyResult:
        self.calls.append((python, options))
        if self.raises:
            raise self.raises
        checks = (
            CheckResult("import", PASS, 1.0, "torch 2.13.0+cpu"),
            CheckResult("cpu.math", self.status, 0.1, "math"),
        )
        return VerifyResult(
            python=python,
            mode=options.mode,
            checks=checks,
            seconds=1.2,
            torch=TorchInfo(version="2.13.0+cpu", variant="cpu", python="3.11"),
        )


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeRunner:
    runner = FakeRunner()
    monkeypatch.setattr(verify_cli, "run_verify", runner)
    return runner


def invoke(*args: str) -> Any:
    return CliRunner().invoke(
        cli, ["verify", "--python", sys.executable, *args], catch_exceptions=False
    )


def test_defaults_are_the_full_check(fake: FakeRunner) -> None:
    result = invoke()
    assert result.exit_code == 0, result.output
    [(python, options)] = fake.calls
    assert python == sys.executable
    assert options == VerifyOptions(mode="full")
    assert "OK: 2 passed, 0 failed, 0 not run" in result.output


def test_options_reach_the_runner(fake: FakeRunner) -> None:
    result = invoke(
        "--quick",
        "--require-gpu",
        "--distributed",
        "--compile",
        "aot_eager",
        "--compile-train",
        "--train-steps",
        "7",
        "--expect-torch",
        ">=2.4",
        "--expect-cuda",
        "13.0",
        "--expect-variant",
        "cu130",
        "--timeout-scale",
        "3",
    )
    assert result.exit_code == 0, result.output
    [(_, options)] = fake.calls
    assert options == VerifyOptions(
        mode="quick",
        require_gpu=True,
        distributed=True,
        compile="aot_eager",
        compile_train=True,
        train_steps=7,
        expect=Expectations(">=2.4", "13.0", "cu130"),
        timeout_scale=3.0,
    )


def test_a_failed_check_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify_cli, "run_verify", FakeRunner(status=FAIL))
    result = invoke()
    assert result.exit_code == 1
    assert "FAILED: 1 passed, 1 failed" in result.output
    assert run(["verify", "--python", sys.executable, "--json"]) == 1  # the console script's path


def test_json_is_the_only_output(fake: FakeRunner) -> None:
    result = invoke("--json")
    doc = unwrap(result.output, "verify")
    assert doc["ok"] is True
    assert [c["name"] for c in doc["checks"]] == ["import", "cpu.math"]


def test_junit_file_is_written(fake: FakeRunner, tmp_path: Path) -> None:
    target = tmp_path / "out" / "verify.xml"
    assert invoke("--junit-xml", str(target)).exit_code == 0
    assert len(ET.parse(target).getroot().findall("./testsuite/testcase")) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--expect-torch", ">=2.4,<<3"], "--expect-torch '>=2.4,<<3' is not a version specifier"),
        (["--expect-variant", "cuda"], "--expect-variant 'cuda'"),
        (["--expect-cuda", "x"], "--expect-cuda 'x'"),
        (["--train-steps", "1"], "Invalid value for '--train-steps'"),
        (["--compile", "tvm"], "Invalid value for '--compile'"),
        (["--timeout-scale", "0"], "Invalid value for '--timeout-scale'"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(
    fake: FakeRunner, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code = run(["verify", "--python", sys.executable, *args])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert fake.calls == []


def test_python_that_is_a_directory(
    fake: FakeRunner, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(["verify", "--python", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"torchsetup: error: --python {tmp_path} is a directory")
    assert fake.calls == []


def test_junit_path_that_is_a_directory(
    fake: FakeRunner, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(["verify", "--python", sys.executable, "--junit-xml", str(tmp_path)])
    assert code == 2
    assert "is a directory" in capsys.readouterr().err


def test_interrupt_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(verify_cli, "run_verify", FakeRunner(raises=InterruptedError_("stop")))
    assert run(["verify", "--python", sys.executable]) == 130
    assert "stop" in capsys.readouterr().err


def test_an_unwritable_junit_path_is_a_usage_error(
    fake: FakeRunner, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    code = run(["verify", "--python", sys.executable, "--junit-xml", str(blocker / "x.xml")])
    captured = capsys.readouterr()
    assert code == 2
    assert "OK: 2 passed" in captured.out  # the result is shown before
    assert captured.err.startswith(f"torchsetup: error: --junit-xml {blocker / 'x.xml'}")


def test_the_table_names_how_the_target_was_chosen(fake: FakeRunner) -> None:
    assert f"{sys.executable} (from --python)" in invoke().output.replace("\n", "")
