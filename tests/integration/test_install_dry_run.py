"""The installed ``torchsetup`` console script, run as users run it (real processes)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers.result import unwrap

SNAPSHOTS = Path(__file__).resolve().parents[1] / "data" / "snapshots"


def torchsetup(exe: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=60, check=False)


def test_dry_run_json_from_a_snapshot(torchsetup_exe: str) -> None:
    r = torchsetup(
        torchsetup_exe,
        "install",
        "--dry-run",
        "--json",
        "--snapshot",
        str(SNAPSHOTS / "h200-real.json"),
    )
    assert r.returncode == 0, r.stderr
    data = unwrap(r.stdout, "install")
    assert (data["plan"]["torch"], data["plan"]["variant"]) == ("2.15.0", "cu130")
    # the default engine: uv, which that machine has (its tools probe found /usr/local/bin/uv)
    install = next(s for s in data["plan"]["steps"] if s["id"] == "install")
    assert install["argv"] == [
        "/usr/local/bin/uv",
        "pip",
        "install",
        "--python",
        "/opt/torch/.venv/bin/python3",
        "torch==2.15.0",
        "torchvision==0.29.2",
        "--index-url",
        "https://download.pytorch.org/whl/cu130",
    ]
    # a plan for another machine (the snapshot's): the bytecode step imports by `python -c`
    bytecode = next(s for s in data["plan"]["steps"] if s["id"] == "bytecode")
    assert bytecode["argv"][:2] == ["/opt/torch/.venv/bin/python3", "-c"]
    assert {f["name"] for f in data["facts"]} >= {
        "platform",
        "python",
        "nvidia driver",
        "gpu 0",
        "glibc",
    }


def test_cuda_11_7_as_a_real_process(torchsetup_exe: str) -> None:
    r = torchsetup(
        torchsetup_exe,
        "install",
        "--cuda",
        "11.7",
        "--dry-run",
        "--json",
        "--snapshot",
        str(SNAPSHOTS / "linux-py311-nodriver.json"),
    )
    assert r.returncode == 0, r.stderr
    steps = unwrap(r.stdout, "install")["plan"]["steps"]
    assert next(s for s in steps if s["id"] == "install")["argv"][3:] == [
        "install",
        "torch==2.0.1",
        "torchvision==0.15.2",
        "torchaudio==2.0.2",
        "--index-url",
        "https://download.pytorch.org/whl/cu117",
    ]


def test_refusal_exit_code_and_no_traceback(torchsetup_exe: str) -> None:
    r = torchsetup(
        torchsetup_exe,
        "install",
        "--cuda",
        "11.7",
        "--torch",
        "2.1",
        "--dry-run",
        "--snapshot",
        str(SNAPSHOTS / "linux-py311-nodriver.json"),
    )
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and "--cuda 11.7 --torch 2.0.1" in r.stderr


@pytest.mark.skipif(
    shutil.which("bash") is None, reason="NOT RUN: needs bash to parse the exported script"
)
@pytest.mark.parametrize("snapshot", ["h200-real", "windows-rtx3060"])
@pytest.mark.parametrize("method", ["pip", "source"])
def test_exported_script_is_valid_bash(
    torchsetup_exe: str, tmp_path: Path, snapshot: str, method: str
) -> None:
    r = torchsetup(
        torchsetup_exe,
        "install",
        "--export",
        "sh",
        "--method",
        method,
        "--venv",
        "/tmp/my env",
        "--snapshot",
        str(SNAPSHOTS / f"{snapshot}.json"),
    )
    assert r.returncode == 0, r.stderr
    script = tmp_path / "install.sh"
    script.write_text(r.stdout)
    check = subprocess.run(
        ["bash", "-n", str(script)], capture_output=True, text=True, timeout=30, check=False
    )
    assert check.returncode == 0, check.stderr
