"""doctor's CLI contract on saved facts: --json shape, exit codes, one-line errors (no processes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import DATA
from tests.helpers import envs
from tests.helpers.result import unwrap
from torchsetup.cli import run
from torchsetup.detect.model import environment_to_dict


def call(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_json_contract_on_real_h200_capture(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = call(["doctor", "--snapshot", str(envs.H200_DIR), "--json"], capsys)
    assert code == 0
    data = unwrap(out, "doctor")
    assert set(data) >= {"environment", "findings", "categories", "summary"}
    assert data["environment"]["nvidia"]["driver_version"] == "580.159.04"
    assert data["environment"]["nvidia"]["gpus"][0]["compute_capability"] == "9.0"
    assert data["environment"]["python"]["torch"]["version"] == "2.11.0+cu130"
    for f in data["findings"]:
        assert set(f) >= {"id", "severity", "title", "detail", "fix"}
    assert data["summary"]["errors"] == 0


def test_text_output_flutter_style(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = call(["doctor", "--snapshot", str(envs.H200_DIR)], capsys)
    assert code == 0
    assert out.splitlines()[0].startswith("Doctor summary")
    assert (
        "[✓] NVIDIA driver & GPUs (driver 580.159.04, supports CUDA <= 13.0; NVIDIA H200 (sm_90))"
        in out
    )
    assert out.rstrip().endswith("No issues found!")


def test_error_finding_exits_1_with_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = envs.with_installed_torch(envs.h200(), "2.13.0+cpu", None)
    snap = tmp_path / "cpu-on-gpu.json"
    snap.write_text(json.dumps({"environment": environment_to_dict(env)}))
    code, out, _ = call(["doctor", "--snapshot", str(snap)], capsys)
    assert code == 1
    assert "[✗] PyTorch" in out
    assert "CPU-only torch on a machine with an NVIDIA GPU (TS001)" in out
    assert "fix: torchsetup install" in out
    # torchvision 0.26.0 of the capture belongs to torch 2.11: a second, real problem.
    assert "torchvision 0.26.0 was built for another torch (TS011)" in out
    assert "Doctor found 2 errors in 2 categories." in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["doctor", "--bogus"], "No such option"),
        (["doctor", "--timeout", "abc"], "--timeout"),
        (["doctor", "--snapshot", "/nonexistent/snap.json"], "snapshot not found"),
        (
            ["doctor", "--snapshot", str(envs.H200_DIR), "--python", "/usr/bin/python3"],
            "--snapshot",
        ),
        (["nosuchcommand"], "No such command"),
    ],
)
def test_bad_input_one_line_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = call(args, capsys)
    assert code == 2
    assert out == ""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) <= 2, err  # the error, and at most a hint
    assert message in lines[0]
    assert "Traceback" not in err


def test_python_that_is_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = call(["doctor", "--python", str(tmp_path)], capsys)
    assert code == 2
    assert "is a directory" in err and "Traceback" not in err


def test_unreadable_snapshot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, _, err = call(["doctor", "--snapshot", str(bad)], capsys)
    assert code == 2 and "not valid JSON" in err
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}')
    code, _, err = call(["doctor", "--snapshot", str(other)], capsys)
    assert code == 2 and "neither a torchsetup snapshot" in err


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = call(["--help"], capsys)
    assert code == 0 and "doctor" in out and "install" in out and "Exit codes" in out
    code, out, _ = call(["--version"], capsys)
    assert code == 0 and "torchsetup" in out


def test_readme_example_cpu_wheel_on_the_h200(capsys: pytest.CaptureFixture[str]) -> None:
    """The README's example output is what doctor prints for that snapshot."""
    snap = DATA / "snapshots" / "h200-cpu-torch.json"
    code, out, _ = call(["doctor", "--snapshot", str(snap)], capsys)
    assert code == 1
    assert "[✗] PyTorch (2.13.0+cpu, CPU build)" in out
    assert (
        "(= /opt/torch/.venv/bin/python3 -m pip install torch==2.15.0 torchvision==0.29.2 "
        "--index-url https://download.pytorch.org/whl/cu130)"
    ) in out
    assert out.rstrip().endswith("! Doctor found 1 error in 1 category.")
