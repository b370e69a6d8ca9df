"""doctor --deep with a real torch (2.13.0+cpu) and with broken, crashing and hanging ones."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import venvs
from tests.helpers.result import unwrap
from torchsetup.detect.build import build_deep
from torchsetup.detect.model import Environment, TargetPython, TorchBuild
from torchsetup.detect.probes.deep import run_deep_probe
from torchsetup.doctor import CATEGORIES, diagnose

pytestmark = pytest.mark.slow


def _doctor(exe: str, *args: str, timeout: float = 300) -> tuple[int, dict[str, Any]]:
    res = subprocess.run(
        [exe, "doctor", "--json", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    return res.returncode, unwrap(res.stdout, "doctor")


def _fake_torch_venv(tmp_path: Path, init: str, *, cuda: str = "13.0") -> Path:
    """A venv whose `torch` is a stand-in package: version.py says a CUDA build, __init__ misbehaves."""
    python = venvs.create_venv(tmp_path / "venv", sys.executable, with_pip=False)
    site = venvs.site_packages(python)
    pkg = site / "torch"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(init)
    (pkg / "version.py").write_text(f"__version__ = '2.13.0+cu130'\ncuda = '{cuda}'\nhip = None\n")
    return python


def test_deep_with_real_torch(torch_python: Path, torchsetup_exe: str) -> None:
    code, data = _doctor(torchsetup_exe, "--python", str(torch_python), "--deep")
    deep = data["environment"]["deep"]
    assert deep["source"] == "deep" and deep["imported"] is True
    assert deep["torch_version"] == "2.13.0+cpu"
    assert deep["cuda_available"] is False and deep["device_count"] == 0
    assert deep["numpy_version"] and deep["numpy_error"] is None
    assert deep["libraries"] == []  # /proc/self/maps read: a CPU torch maps no CUDA library
    assert deep["mps_built"] is False
    assert deep["import_s"] > 0
    cats = {c["key"]: c for c in data["categories"]}
    assert "CUDA not available" in cats["torch"]["summary"]
    assert "deep" in [p["name"] for p in data["environment"]["probes"]]
    assert code == 0, [f["id"] for f in data["findings"]]


def test_plain_doctor_does_not_import_torch(torch_python: Path, torchsetup_exe: str) -> None:
    _, data = _doctor(torchsetup_exe, "--python", str(torch_python))
    assert data["environment"]["deep"] is None
    assert "deep" not in [p["name"] for p in data["environment"]["probes"]]


def test_import_error_is_a_finding(tmp_path: Path, torchsetup_exe: str) -> None:
    python = _fake_torch_venv(
        tmp_path,
        "raise ImportError('libcudnn.so.9: cannot open shared object file: No such file or directory')\n",
    )
    code, data = _doctor(torchsetup_exe, "--python", str(python), "--deep")
    ids = {f["id"] for f in data["findings"]}
    assert {"TS105", "TS009"} <= ids
    ts105 = next(f for f in data["findings"] if f["id"] == "TS105")
    assert "libcudnn.so.9" in ts105["detail"]
    assert code == 1


def test_segfault_on_import_is_a_finding(tmp_path: Path, torchsetup_exe: str) -> None:
    python = _fake_torch_venv(tmp_path, "import ctypes\nctypes.string_at(0)\n")
    code, data = _doctor(torchsetup_exe, "--python", str(python), "--deep")
    ts105 = [f for f in data["findings"] if f["id"] == "TS105"]
    assert ts105 and "SIGSEGV" in ts105[0]["detail"]
    assert code == 1 and data["crashed_rules"] == []


def test_hanging_import_times_out(tmp_path: Path) -> None:
    python = _fake_torch_venv(tmp_path, "import time\ntime.sleep(60)\n")
    record = run_deep_probe(str(python), timeout=2)
    assert record.duration_s < 20
    facts = build_deep(record)
    assert facts is not None and facts.imported is False and "timed out" in (facts.error or "")
    env = Environment(
        python=TargetPython(
            executable=str(python),
            ok=True,
            torch=TorchBuild("2.13.0+cu130", cuda="13.0"),
            torch_checked=True,
        ),
        deep=facts,
    )
    assert "TS105" in {f.id for f in diagnose(env).findings}


def test_deep_facts_survive_a_snapshot(
    torch_python: Path, torchsetup_exe: str, tmp_path: Path
) -> None:
    snap = tmp_path / "snap.json"
    _doctor(torchsetup_exe, "--python", str(torch_python), "--deep", "--save-snapshot", str(snap))
    _, data = _doctor(torchsetup_exe, "--snapshot", str(snap))
    assert data["environment"]["deep"]["torch_version"] == "2.13.0+cpu"


def test_default_doctor_imports_nothing_heavy(torch_python: Path) -> None:
    """Plain doctor (all rules on) never imports torch, and on a healthy torch venv neither
    packaging's requirement parser (~75 ms) nor the --deep/--report/--fix modules."""
    script = (
        "import sys, io, contextlib\n"
        "from torchsetup.cli import run\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    code = run(['doctor', '--python', {str(torch_python)!r}])\n"
        "print(code, ' '.join(sorted(sys.modules)))\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True, timeout=120
    )
    code, modules = res.stdout.split(" ", 1)
    loaded = set(modules.split())
    assert code == "0"
    rule_modules = {f"torchsetup.doctor.rules.{key}" for key, _ in CATEGORIES}
    assert rule_modules <= loaded, rule_modules - loaded  # all rules ran
    for heavy in (
        "torch",
        "numpy",
        "packaging.requirements",
        "packaging.markers",
        "torchsetup.detect.probes.deep",
        "torchsetup.doctor.bugreport",
        "torchsetup.doctor.fix_plan",
        "torchsetup.install.session",
        "torchsetup.detect.from_report",
    ):
        assert heavy not in loaded, heavy


def test_probe_folder_is_not_on_torchs_path(tmp_path: Path) -> None:
    """torchsetup/probes holds nvidia.py, system.py, ...: torch must not import them instead
    of the real packages (the nvidia-* wheels are the `nvidia` namespace package)."""
    python = _fake_torch_venv(
        tmp_path,
        "import importlib.util as u\n"
        "for name in ('nvidia', 'system', 'toolkit', 'python_target'):\n"
        "    if u.find_spec(name) is not None:\n"
        "        raise ImportError('the probe folder is on sys.path: ' + name)\n",
    )
    facts = build_deep(run_deep_probe(str(python), timeout=60))
    assert facts is not None and facts.imported is True, facts
