"""Broken environments, made for real: each is the right failing check with a readable reason,
never a torchsetup traceback, and torchsetup's exit code says so.

A shared overlay venv sees the real torch 2.13 venv through a .pth; a test drops a fake
``torch`` package into the overlay's own site-packages (first on sys.path) to break it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest
from click.testing import CliRunner

from tests.helpers import venvs
from tests.helpers.result import unwrap
from torchsetup.cli import cli
from torchsetup.verify.model import FAIL, NOT_RUN, PASS, VerifyOptions, VerifyResult
from torchsetup.verify.runner import run_verify

pytestmark = pytest.mark.slow

FakeTorch = Callable[[str], Path]


@pytest.fixture(scope="module")
def overlay(torch_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return venvs.overlay_venv(tmp_path_factory.mktemp("overlay") / "venv", torch_python)


@pytest.fixture
def fake_torch(overlay: Path) -> Iterator[FakeTorch]:
    """Shadow the real torch with a package whose __init__ is the given source."""
    package = venvs.site_packages(overlay) / "torch"

    def install(source: str) -> Path:
        package.mkdir()
        (package / "__init__.py").write_text(textwrap.dedent(source))
        return overlay

    yield install
    shutil.rmtree(package, ignore_errors=True)


def verify(python: Path | str, **options: Any) -> VerifyResult:
    return run_verify(str(python), VerifyOptions(**options))


def statuses(result: VerifyResult) -> dict[str, str]:
    return {c.name: c.status for c in result.checks}


def test_torchvision_from_another_release(
    torch_python: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """torchvision 0.24.0 (built for torch 2.9) next to torch 2.13: failure #11."""
    python = venvs.overlay_venv(tmp_path_factory.mktemp("tv") / "venv", torch_python)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "torchvision==0.24.0"],
        check=True,
        env=venvs.isolated_pip_env(),
        timeout=600,
    )
    result = verify(python, mode="full", compile="off", train_steps=5)
    check = result.check("torchvision")
    assert check is not None
    assert check.status == FAIL
    assert check.detail == "RuntimeError: operator torchvision::nms does not exist"
    assert check.hint is not None
    assert "torch 2.13.0 pairs with torchvision 0.28.0" in check.hint
    assert not result.ok
    others = {name: s for name, s in statuses(result).items() if name != "torchvision"}
    assert set(others.values()) <= {PASS, NOT_RUN}  # only torchvision is broken


def test_torch_whose_import_raises(fake_torch: FakeTorch) -> None:
    python = fake_torch("""
        raise ImportError("libtorch_cpu.so: cannot open shared object file: No such file or directory")
    """)
    result = verify(python)
    imported = result.check("import")
    assert imported is not None
    assert imported.status == FAIL
    assert imported.detail == (
        "ImportError: libtorch_cpu.so: cannot open shared object file: No such file or directory"
    )
    assert imported.hint is not None and "a library torch needs is missing" in imported.hint
    assert statuses(result) == {"import": FAIL, "build": NOT_RUN, "gpu": NOT_RUN}
    assert result.check("build").detail == "torch did not import"  # type: ignore[union-attr]


def test_torch_that_segfaults_on_import(
    fake_torch: FakeTorch, capfd: pytest.CaptureFixture[str]
) -> None:
    python = fake_torch("""
        import ctypes
        ctypes.string_at(0)
    """)
    result = CliRunner().invoke(
        cli, ["verify", "--python", str(python), "--json"], catch_exceptions=False
    )
    assert result.exit_code == 1
    doc = unwrap(result.output, "verify")
    imported = doc["checks"][0]
    assert imported["status"] == "fail"
    assert imported["detail"] == "the target Python was killed by SIGSEGV while importing torch"
    assert "Fatal Python error: Segmentation fault" in imported["data"]["output_tail"]
    assert "--force-reinstall torch" in imported["hint"]
    assert "Traceback" not in capfd.readouterr().err


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


def test_torch_that_hangs_on_import_is_killed_with_its_children(
    fake_torch: FakeTorch, tmp_path: Path
) -> None:
    pidfile = tmp_path / "child.pid"
    python = fake_torch(f"""
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        open({str(pidfile)!r}, "w").write(str(child.pid))
        time.sleep(600)
    """)
    started = time.perf_counter()
    result = verify(python, timeout_scale=0.01)  # import may take 3 s
    assert time.perf_counter() - started < 15
    imported = result.check("import")
    assert imported is not None
    assert imported.status == FAIL
    assert imported.detail == "timed out after 3 s while importing torch"
    assert statuses(result) == {"import": FAIL, "build": NOT_RUN, "gpu": NOT_RUN}
    assert result.check("gpu").detail == "import timed out"  # type: ignore[union-attr]
    child = int(pidfile.read_text())
    deadline = time.perf_counter() + 5
    while pid_alive(child) and time.perf_counter() < deadline:
        time.sleep(0.05)
    assert not pid_alive(child), "a process the hung target started survived"


def test_a_hang_after_import_fails_that_check_only(fake_torch: FakeTorch) -> None:
    python = fake_torch("""
        import time
        __version__ = "2.99.0"

        class _Hangs:
            def __getattr__(self, name):
                time.sleep(600)

        version = _Hangs()
    """)
    result = verify(python, timeout_scale=0.01)
    assert statuses(result) == {"import": PASS, "build": FAIL, "gpu": NOT_RUN}
    build = result.check("build")
    assert build is not None
    assert build.detail == "timed out after 1.2 s while reading torch's build information"
    assert result.check("gpu").detail == "build timed out"  # type: ignore[union-attr]


def python38() -> str:
    """A working Python 3.8 (PATH, or pyenv's versions folder where its shim is inactive)."""
    found = [
        shutil.which("python3.8"),
        *map(str, Path.home().glob(".pyenv/versions/3.8*/bin/python3.8")),
    ]
    for candidate in filter(None, found):
        out = subprocess.run(
            [candidate, "-c", "import sys; print(sys.executable)"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if out.returncode == 0:
            return out.stdout.strip()
    pytest.skip("NOT RUN: no working python3.8 here")


def test_a_python_38_without_torch() -> None:
    """smoke.py runs on Python 3.8, and a missing torch is a failed import, with the fix."""
    result = verify(python38())
    imported = result.check("import")
    assert imported is not None
    assert imported.detail == "ModuleNotFoundError: No module named 'torch'"
    assert imported.hint is not None and "torchsetup install" in imported.hint
    assert not result.ok


def test_a_target_that_is_not_python() -> None:
    result = verify(shutil.which("true") or "/bin/true")
    imported = result.check("import")
    assert imported is not None
    assert imported.status == FAIL
    assert "did not run the smoke script (exit code 0; is it a Python 3.8+ interpreter?)" in (
        imported.detail
    )


def test_a_missing_interpreter_is_a_failed_check_from_the_api(tmp_path: Path) -> None:
    result = verify(tmp_path / "no-python")
    imported = result.check("import")
    assert imported is not None
    assert imported.detail.startswith("could not run the target Python")
    assert result.exit_code == 1


def test_the_console_script_reports_a_broken_torch_in_one_table(
    fake_torch: FakeTorch, torchsetup_exe: str
) -> None:
    python = fake_torch("raise ImportError('broken on purpose')\n")
    proc = subprocess.run(
        [torchsetup_exe, "verify", "--quick", "--python", str(python)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )
    assert proc.returncode == 1
    assert "ImportError: broken on purpose" in proc.stdout
    assert "FAILED: 0 passed, 1 failed, 2 not run" in proc.stdout
    assert proc.stderr == ""
