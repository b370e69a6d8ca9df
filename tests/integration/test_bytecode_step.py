"""The plan's ``bytecode`` step (``resources/bytecode.py``, and the ``python -c`` form of a plan
for another machine), run as the executor runs it: its argv in a real venv, with
``PYTHONDONTWRITEBYTECODE=1`` set as on the build machine. The torch here is a **stand-in
package named torch** (a few modules, a RECORD), so that each test takes a second, not a 192 MB
wheel; the real wheel is in test_install_engine.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.venvs import create_venv
from torchsetup.resolve.plan import bytecode_step
from torchsetup.resources import BYTECODE


def site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python3.*/site-packages"))


def standin_torch(site: Path, *, broken: bool = False) -> None:
    """torch/__init__ imports torch.loaded (and, broken, raises); torch.unused is never imported."""
    pkg = site / "torch"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        "from torch import loaded\n"
        + ("raise ImportError('libfake.so.1: cannot open shared object file')\n" if broken else "")
    )
    (pkg / "loaded.py").write_text("X = 1\n")
    (pkg / "unused.py").write_text("Y = 2\n")
    info = site / "torch-2.13.0+cpu.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: torch\nVersion: 2.13.0+cpu\n")
    (info / "RECORD").write_text(
        "torch/__init__.py,sha256=a,1\ntorch/loaded.py,sha256=b,1\ntorch/unused.py,sha256=c,1\n"
        "../../../bin/torchrun,sha256=this-venv,1\ntorch-2.13.0+cpu.dist-info/RECORD,,\n"
    )


def venv_with_torch(path: Path, **kw: bool) -> Path:
    python = create_venv(path, with_pip=False)
    standin_torch(site_packages(path), **kw)
    return python


def run_step(argv: tuple[str, ...], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


def pycs(site: Path) -> set[str]:
    return {p.name.split(".")[0] for p in (site / "torch").glob("__pycache__/*.pyc")}


def test_the_step_writes_the_pyc_of_what_import_torch_loads_and_keeps_them(
    tmp_path: Path,
) -> None:
    python = venv_with_torch(tmp_path / "a")
    cache = tmp_path / "cache"
    ran = run_step(bytecode_step(str(python), BYTECODE, str(cache)).argv, tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert pycs(site_packages(tmp_path / "a")) == {"__init__", "loaded"}, "not torch.unused"
    assert "2 of the 2 modules import torch loads have their .pyc (0 copied" in ran.stdout
    (build,) = cache.iterdir()
    assert build.name.startswith(sys.implementation.cache_tag + "-")
    assert {p.name.split(".")[0] for p in build.rglob("*.pyc")} == {"__init__", "loaded"}


def test_the_next_venv_of_the_same_build_copies_them(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = venv_with_torch(tmp_path / "a")
    assert run_step(bytecode_step(str(first), BYTECODE, str(cache)).argv, tmp_path).returncode == 0
    # the same files (uv links them out of its cache: same content, same mtimes), another venv
    second = create_venv(tmp_path / "b", with_pip=False)
    site_a, site_b = site_packages(tmp_path / "a"), site_packages(tmp_path / "b")
    shutil.copytree(
        site_a / "torch", site_b / "torch", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copytree(site_a / "torch-2.13.0+cpu.dist-info", site_b / "torch-2.13.0+cpu.dist-info")
    record = site_b / "torch-2.13.0+cpu.dist-info" / "RECORD"  # its bin/ script names venv b
    record.write_text(record.read_text().replace("this-venv", "venv-b"))
    ran = run_step(bytecode_step(str(second), BYTECODE, str(cache)).argv, tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert "(2 copied from " in ran.stdout, ran.stdout
    assert pycs(site_b) == {"__init__", "loaded"}
    assert len(list(cache.iterdir())) == 1, "one build, one folder"


def test_another_build_is_not_served_the_pyc_of_the_first(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = venv_with_torch(tmp_path / "a")
    assert run_step(bytecode_step(str(first), BYTECODE, str(cache)).argv, tmp_path).returncode == 0
    other = venv_with_torch(tmp_path / "b")
    record = site_packages(tmp_path / "b") / "torch-2.13.0+cpu.dist-info" / "RECORD"
    record.write_text(record.read_text().replace("sha256=b", "sha256=B"))  # another loaded.py
    ran = run_step(bytecode_step(str(other), BYTECODE, str(cache)).argv, tmp_path)
    assert ran.returncode == 0 and "(0 copied from " in ran.stdout, ran.stdout
    assert len(list(cache.iterdir())) == 2


@pytest.mark.parametrize("with_script", [True, False], ids=["script", "python -c"])
def test_a_failing_import_leaves_the_install_done(tmp_path: Path, with_script: bool) -> None:
    python = venv_with_torch(tmp_path / "a", broken=True)
    step = bytecode_step(str(python), *((BYTECODE, str(tmp_path / "c")) if with_script else ()))
    ran = run_step(step.argv, tmp_path)
    assert ran.returncode == 0, "verify says why; the step does not fail the install"
    assert "ImportError" in ran.stderr and "libfake.so.1" in ran.stderr
    assert len(ran.stderr.strip().splitlines()) == 1, ran.stderr
    # compiled before it ran (and raised): what the import reached
    assert pycs(site_packages(tmp_path / "a")) == {"__init__", "loaded"}


@pytest.mark.parametrize("with_script", [True, False], ids=["script", "python -c"])
def test_a_torch_folder_in_the_working_directory_is_not_what_is_imported(
    tmp_path: Path, with_script: bool
) -> None:
    python = venv_with_torch(tmp_path / "a")
    checkout = tmp_path / "pytorch-checkout"
    (checkout / "torch").mkdir(parents=True)
    (checkout / "torch" / "__init__.py").write_text(
        "raise SystemExit('the checkout was imported')\n"
    )
    step = bytecode_step(str(python), *((BYTECODE, str(tmp_path / "c")) if with_script else ()))
    ran = run_step(step.argv, checkout)
    assert ran.returncode == 0 and "checkout" not in ran.stderr, ran.stderr
    assert pycs(site_packages(tmp_path / "a")) == {"__init__", "loaded"}


def doctor_findings(exe: str, python: Path, **env: str) -> dict[str, dict[str, str]]:
    from tests.helpers.result import unwrap

    out = subprocess.run(
        [exe, "doctor", "--python", str(python), "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )
    assert out.returncode in (0, 1), out.stderr
    return {f["id"]: f for f in unwrap(out.stdout, "doctor")["findings"]}


def test_doctor_names_a_torch_that_compiles_at_every_import_and_its_fix_works(
    tmp_path: Path, torchsetup_exe: str
) -> None:
    import shlex

    python = venv_with_torch(tmp_path / "a")
    (site_packages(tmp_path / "a") / "torch" / "version.py").write_text(
        "__version__ = '2.13.0+cpu'\ncuda = None\n"
    )
    found = doctor_findings(torchsetup_exe, python, PYTHONDONTWRITEBYTECODE="1")
    assert "TS134" in found, sorted(found)
    # without the variable the next import writes the bytecode itself: nothing to say
    assert "TS134" not in doctor_findings(torchsetup_exe, python, PYTHONDONTWRITEBYTECODE="")
    # the fix, run as printed (one import with bytecode writing on)
    command = shlex.split(found["TS134"]["fix"].split("   (")[0])
    assert command[0] == str(python)
    assert run_step(tuple(command), tmp_path).returncode == 0
    assert "TS134" not in doctor_findings(torchsetup_exe, python, PYTHONDONTWRITEBYTECODE="1")
