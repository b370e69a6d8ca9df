"""torchsetup doctor for real: the installed console script on this machine, real venvs with
real torch, and real stand-ins for a broken NVIDIA stack on PATH."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.helpers import venvs
from tests.helpers.result import unwrap

REPO = Path(__file__).resolve().parents[2]


def doctor(
    exe: str, *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [exe, "doctor", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def test_doctor_json_on_this_machine(torchsetup_exe: str) -> None:
    res = doctor(torchsetup_exe, "--json", "--python", sys.executable)
    assert res.returncode in (0, 1), res.stderr
    data = unwrap(res.stdout, "doctor")
    env = data["environment"]
    assert env["os"]["system"] == "Linux"
    assert env["os"]["platform_key"] in ("linux-x86_64", "linux-aarch64")
    assert env["python"]["ok"] is True
    assert env["python"]["version"] == "%d.%d.%d" % sys.version_info[:3]
    assert env["resources"]["logical_cpus"] == len(os.sched_getaffinity(0))
    # This build machine: no NVIDIA driver, no GPU, but a CUDA toolkit may be on PATH.
    if not Path("/proc/driver/nvidia").exists():
        assert env["nvidia"]["status"] == "no-driver"
        assert env["nvidia"]["gpus"] == []
        if env["toolkit"]["nvcc_version"]:
            assert any(f["id"] == "TS104" for f in data["findings"])


@pytest.mark.slow
def test_doctor_on_torch_venv_with_mismatched_torchvision(torchsetup_exe: str) -> None:
    py = venvs.cached_overlay("tv-0.24.0", ["torchvision==0.24.0"])
    res = doctor(torchsetup_exe, "--json", "--python", str(py))
    assert res.returncode == 1, res.stdout + res.stderr
    data = unwrap(res.stdout, "doctor")
    assert data["environment"]["python"]["torch"]["version"] == "2.13.0+cpu"
    tv = [f for f in data["findings"] if f["id"] == "TS011"]
    assert tv, data["findings"]
    assert "torchvision 0.24.0" in tv[0]["detail"] and "torch ==2.9.0" in tv[0]["detail"]
    assert tv[0]["severity"] == "error"


@pytest.mark.slow
def test_doctor_on_healthy_torch_venv(torchsetup_exe: str, torch_python: Path) -> None:
    res = doctor(torchsetup_exe, "--python", str(torch_python))
    assert "[✓] PyTorch (2.13.0+cpu, CPU build)" in res.stdout, res.stdout
    assert res.returncode == 0


def _fake_tool(dir_: Path, name: str, body: str) -> None:
    path = dir_ / name
    path.write_text("#!/bin/sh\n" + textwrap.dedent(body))
    path.chmod(0o755)


def _env_with(bin_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    return env


@pytest.mark.skipif(
    Path("/proc/driver/nvidia").exists(), reason="stand-ins only make sense without a real driver"
)
class TestBrokenNvidiaStandIns:
    """A fake nvidia-smi on PATH (real processes, real timeouts) — no GPU exists here."""

    def test_hanging_nvidia_smi_is_a_failed_check(
        self, tmp_path: Path, torchsetup_exe: str
    ) -> None:
        _fake_tool(tmp_path, "nvidia-smi", "sleep 60 &\nwait\n")
        started = time.perf_counter()
        res = doctor(
            torchsetup_exe,
            "--json",
            "--timeout",
            "2",
            "--python",
            sys.executable,
            env=_env_with(tmp_path),
        )
        took = time.perf_counter() - started
        assert took < 15, f"doctor took {took:.1f} s with a hanging nvidia-smi"
        data = unwrap(res.stdout, "doctor")
        nv = next(c for c in data["categories"] if c["key"] == "nvidia")
        assert nv["status"] == "check failed"
        assert "timed out" in nv["failed_checks"][0]
        assert "Traceback" not in res.stderr

    def test_garbage_nvidia_smi_is_a_failed_check(
        self, tmp_path: Path, torchsetup_exe: str
    ) -> None:
        _fake_tool(tmp_path, "nvidia-smi", "echo 'lorem ipsum dolor'\n")
        res = doctor(torchsetup_exe, "--json", "--python", sys.executable, env=_env_with(tmp_path))
        data = unwrap(res.stdout, "doctor")
        nv = next(c for c in data["categories"] if c["key"] == "nvidia")
        assert nv["status"] == "check failed"
        assert "not understood" in " ".join(data["environment"]["nvidia"]["errors"])

    def test_version_mismatch_nvidia_smi_is_a_finding(
        self, tmp_path: Path, torchsetup_exe: str
    ) -> None:
        _fake_tool(
            tmp_path,
            "nvidia-smi",
            """\
            echo 'Failed to initialize NVML: Driver/library version mismatch'
            echo 'NVML library version: 580.95'
            exit 18
            """,
        )
        res = doctor(torchsetup_exe, "--python", sys.executable, env=_env_with(tmp_path))
        assert res.returncode == 1
        assert "Driver/library version mismatch (NVML) (TS004)" in res.stdout
        assert "fix: sudo reboot" in res.stdout

    def test_text_output_with_hanging_smi_shows_skull(
        self, tmp_path: Path, torchsetup_exe: str
    ) -> None:
        _fake_tool(tmp_path, "nvidia-smi", "sleep 60\n")
        res = doctor(
            torchsetup_exe, "--timeout", "1", "--python", sys.executable, env=_env_with(tmp_path)
        )
        assert "[☠] NVIDIA driver & GPUs" in res.stdout
        assert "failed check" in res.stdout.splitlines()[-1]


def test_target_python_that_does_not_exist(torchsetup_exe: str, tmp_path: Path) -> None:
    gone = tmp_path / "venv" / "bin" / "python"
    gone.parent.mkdir(parents=True)
    gone.write_text('#!/bin/sh\nexec /nonexistent/interpreter "$@"\n')
    gone.chmod(0o755)
    res = doctor(torchsetup_exe, "--python", str(gone))
    assert res.returncode == 1
    assert "The target Python could not be probed (TS102)" in res.stdout
    assert "Traceback" not in res.stdout + res.stderr


def test_target_whose_torch_import_would_crash(torchsetup_exe: str, tmp_path: Path) -> None:
    """doctor reads torch from its files: a torch that segfaults on import can't take it down."""
    site = tmp_path / "site"
    (site / "torch").mkdir(parents=True)
    (site / "torch" / "__init__.py").write_text(
        "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n"
    )
    (site / "torch" / "version.py").write_text(
        "__version__ = '2.5.1+cu124'\ncuda = '12.4'\nhip = None\n"
    )
    dist = site / "torch-2.5.1+cu124.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: torch\nVersion: 2.5.1+cu124\n\n")
    env = dict(os.environ, PYTHONPATH=str(site))
    res = doctor(torchsetup_exe, "--json", "--python", sys.executable, env=env)
    data = unwrap(res.stdout, "doctor")
    torch = data["environment"]["python"]["torch"]
    assert torch["version"] == "2.5.1+cu124" and torch["variant"] == "cu124"
    assert "Traceback" not in res.stderr


def test_doctor_never_imports_torch_in_its_own_process(torch_python: Path) -> None:
    """Run doctor inside an interpreter where torch IS importable; torch must stay unloaded."""
    import sysconfig

    deps = sysconfig.get_paths()["purelib"]  # click, rich, ... from the test's own environment
    code = textwrap.dedent(f"""
        import sys
        sys.path[:0] = [{str(REPO / "src")!r}]
        sys.path.append({deps!r})
        import importlib.util
        assert importlib.util.find_spec("torch") is not None, "torch must be importable here"
        from torchsetup.cli import run
        rc = run(["doctor", "--json", "--python", sys.executable])
        assert "torch" not in sys.modules, "doctor imported torch"
        print("RC", rc)
    """)
    res = subprocess.run(
        [str(torch_python), "-c", code], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    assert "RC 0" in res.stdout
    assert '"version": "2.13.0+cpu"' in res.stdout


def test_save_and_replay_snapshot(torchsetup_exe: str, tmp_path: Path) -> None:
    snap = tmp_path / "snap.json"
    live = doctor(
        torchsetup_exe, "--json", "--python", sys.executable, "--save-snapshot", str(snap)
    )
    replay = doctor(torchsetup_exe, "--json", "--snapshot", str(snap))
    a, b = unwrap(live.stdout, "doctor"), unwrap(replay.stdout, "doctor")
    assert live.returncode == replay.returncode
    assert a["environment"]["python"] == b["environment"]["python"]
    assert a["environment"]["nvidia"] == b["environment"]["nvidia"]
    assert [f["id"] for f in a["findings"]] == [f["id"] for f in b["findings"]]
    raw = json.loads(snap.read_text())
    assert raw["schema"] == "torchsetup.snapshot/1" and "nvml" in raw["records"]
