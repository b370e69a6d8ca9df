"""doctor --fix on real overlay venvs over the torch 2.13.0+cpu venv.

* torchtriton: a tiny local stand-in wheel named torchtriton (never the real malicious package);
  --fix --yes uninstalls it and the doctor run that follows is clean.
* torchvision 0.24.0 (built for torch 2.9.0, from PyPI with --no-deps): --fix --yes installs
  torchvision 0.28.0. The plan names torch's own index (download.pytorch.org/whl/cpu, not
  reachable here), so pip is pointed at a local wheelhouse filled from PyPI with PIP_NO_INDEX
  and PIP_FIND_LINKS, pip's own settings.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.helpers import venvs
from tests.helpers.result import unwrap

pytestmark = pytest.mark.slow


def _fake_wheel(folder: Path, name: str, version: str) -> Path:
    """A minimal, harmless wheel: metadata and one empty module."""
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}_placeholder/__init__.py": "# torchsetup test stand-in; does nothing\n",
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: torchsetup-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = "\n".join(record) + "\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return wheel


def _pip(python: Path, *args: str, **env: str) -> None:
    subprocess.run(
        [str(python), "-m", "pip", *args],
        check=True,
        env=venvs.isolated_pip_env(**env),
        timeout=600,
    )


def _doctor(exe: str, python: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [exe, "doctor", "--python", str(python), *args],
        check=False,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=900,
        env=venvs.isolated_pip_env(**env),
    )


def _finding_ids(exe: str, python: Path) -> set[str]:
    res = _doctor(exe, python, "--json")
    return {f["id"] for f in unwrap(res.stdout, "doctor")["findings"]}


def _installed(python: Path, name: str) -> str | None:
    res = subprocess.run(
        [str(python), "-c", f"import importlib.metadata as m; print(m.version({name!r}))"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return res.stdout.strip() if res.returncode == 0 else None


def test_fix_removes_torchtriton(tmp_path: Path, torch_python: Path, torchsetup_exe: str) -> None:
    python = venvs.overlay_venv(tmp_path / "venv", torch_python)
    wheel = _fake_wheel(tmp_path, "torchtriton", "2.0.0+0d7e753227")
    _pip(python, "install", "--no-deps", "--no-index", str(wheel))
    assert "TS014" in _finding_ids(torchsetup_exe, python)

    cache = tmp_path / "cache"
    res = _doctor(torchsetup_exe, python, "--fix", "--yes", TORCHSETUP_CACHE_DIR=str(cache))
    assert "remove torchtriton 2.0.0+0d7e753227" in res.stdout
    assert "pip uninstall -y torchtriton" in res.stdout
    assert "All fixes ran. The doctor again" in res.stdout
    assert res.returncode == 0, res.stdout + res.stderr
    # it ran through the install session: a log of the step, a restore file written before
    (log,) = (cache / "logs").glob("fix-*.log")
    assert "uninstall -y torchtriton" in log.read_text()
    (restore,) = (cache / "restore").glob("restore-*.json")
    recorded = {p["name"] for p in json.loads(restore.read_text())["packages"]}
    assert "torchtriton" in recorded
    assert _installed(python, "torchtriton") is None
    assert "TS014" not in _finding_ids(torchsetup_exe, python)


WHEELHOUSE = ("torchvision==0.28.0", "pillow", "setuptools>=77.0.3")


def _wheelhouse() -> Path:
    """torchvision 0.28.0 and what pip wants next to it, from PyPI, cached between runs.

    (setuptools: torch requires >=77.0.3, and the overlay venv's own older setuptools hides
    the base venv's.)
    """
    house = venvs.cache_root() / "wheelhouse-doctor-fix"
    ready = house / ".complete"
    if not ready.exists():
        house.mkdir(parents=True, exist_ok=True)
        for req in WHEELHOUSE:
            subprocess.run(
                [
                    venvs.python_for_torch() or "python3.11",
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "--only-binary=:all:",
                    "-d",
                    str(house),
                    req,
                ],
                check=True,
                env=venvs.isolated_pip_env(),
                timeout=600,
            )
        ready.write_text("\n".join(WHEELHOUSE))
    return house


def test_fix_reinstalls_the_matching_torchvision(
    tmp_path: Path, torch_python: Path, torchsetup_exe: str
) -> None:
    python = venvs.overlay_venv(tmp_path / "venv", torch_python)
    _pip(python, "install", "-q", "--no-deps", "torchvision==0.24.0")
    before = _doctor(torchsetup_exe, python)
    assert "torchvision 0.24.0 was built for another torch" in before.stdout
    assert before.returncode == 1

    house = _wheelhouse()
    res = _doctor(
        torchsetup_exe,
        python,
        "--fix",
        "--yes",
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(house),
    )
    assert "install torchvision 0.28.0, the release built for torch 2.13.0" in res.stdout
    assert "--index-url https://download.pytorch.org/whl/cpu" in res.stdout  # torch's own index
    assert res.returncode == 0, res.stdout + res.stderr
    assert _installed(python, "torchvision") == "0.28.0"
    assert "TS011" not in _finding_ids(torchsetup_exe, python)


def test_failed_fix_step_exits_3(tmp_path: Path, torch_python: Path, torchsetup_exe: str) -> None:
    """pip cannot find torchvision 0.28.0 (no index, empty find-links): step fails, exit 3."""
    python = venvs.overlay_venv(tmp_path / "venv", torch_python)
    _pip(python, "install", "-q", "--no-deps", "torchvision==0.24.0")
    empty = tmp_path / "empty"
    empty.mkdir()
    res = _doctor(
        torchsetup_exe,
        python,
        "--fix",
        "--yes",
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(empty),
        TORCHSETUP_CACHE_DIR=str(tmp_path / "cache"),
    )
    assert res.returncode == 3
    assert "fix step 1 failed" in res.stderr and res.stderr.count("\n") == 1
    assert "No matching distribution found for torchvision==0.28.0" in res.stderr
    assert "All fixes ran" not in res.stdout
    assert f"log: {tmp_path / 'cache' / 'logs'}" in res.stdout
    assert "to put the environment back as it was: torchsetup restore" in res.stdout
    assert _installed(python, "torchvision") == "0.24.0"


def test_fix_without_terminal_refuses(torch_python: Path, torchsetup_exe: str) -> None:
    res = _doctor(torchsetup_exe, torch_python, "--fix")
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.count("\n") == 1 and "--yes" in res.stderr
    assert os.path.exists(torch_python)


SMI_H200 = (
    "index, name, uuid, driver_version, compute_cap, memory.total [MiB], memory.used [MiB], "
    "pci.bus_id, mig.mode.current\n"
    "0, NVIDIA H200, GPU-2b7e0c6a-0000-4000-8000-000000000000, 580.82.07, 9.0, 143771 MiB, "
    "0 MiB, 00000000:04:00.0, Disabled\n"
)


def test_fix_yes_replaces_the_cpu_build_on_a_gpu_machine(
    tmp_path: Path, torch_python: Path, torchsetup_exe: str
) -> None:
    """Issue 15, item 12: ``doctor --fix --yes`` could not apply its main fix (TS001): the
    nested install ran with stdin at /dev/null and without --yes, refused, and the fix exited
    3. The GPU is a stand-in nvidia-smi (an H200, driver 580); the CUDA build the resolver
    plans comes from a folder of stand-in wheels (torch/torchvision named like the real
    cu130 ones, a few bytes each: never the real packages)."""
    from tests.helpers.wheelhouse import make_wheel
    from torchsetup.matrix.load import load_matrix

    python = venvs.overlay_venv(tmp_path / "venv", torch_python)
    tools = tmp_path / "tools"
    tools.mkdir()
    smi = tools / "nvidia-smi"
    smi.write_text(f"#!/bin/sh\ncat <<'EOF'\n{SMI_H200}EOF\n")
    smi.chmod(0o755)
    path = {"PATH": f"{tools}{os.pathsep}{os.environ['PATH']}"}
    before = _doctor(torchsetup_exe, python, "--json", **path)
    found = {f["id"]: f for f in unwrap(before.stdout, "doctor")["findings"]}
    assert "TS001" in found, before.stdout
    planned = found["TS001"][
        "fix"
    ]  # "... pip install torch==X torchvision==Y --index-url .../cuNNN"
    torch = planned.split("torch==", 1)[1].split()[0]
    variant = planned.rstrip(")").rsplit("/", 1)[1]
    release = load_matrix().release(torch)
    assert release is not None and release.torchvision
    house = tmp_path / "stand-in-wheels"
    house.mkdir()
    tag = "cp311-cp311-manylinux_2_28_x86_64"
    make_wheel(
        house,
        "torch",
        f"{torch}+{variant}",
        tag=tag,
        files={
            "torch/__init__.py": f"__version__ = '{torch}+{variant}'  # torchsetup test stand-in\n",
            "torch/version.py": f"__version__ = '{torch}+{variant}'\ncuda = '13.0'\nhip = None\n",
        },
    )
    make_wheel(
        house,
        "torchvision",
        f"{release.torchvision}+{variant}",
        tag=tag,
        requires_dist=(f"torch=={torch}",),
        files={"torchvision/__init__.py": "# torchsetup test stand-in\n"},
    )

    res = _doctor(
        torchsetup_exe,
        python,
        "--fix",
        "--yes",
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(house),
        TORCHSETUP_CACHE_DIR=str(tmp_path / "cache"),
        **path,
    )
    assert "torchsetup can fix TS001" in res.stdout, res.stdout + res.stderr
    assert "All fixes ran. The doctor again" in res.stdout, res.stdout + res.stderr
    assert res.returncode in (0, 1), res.stdout + res.stderr  # 1: what the doctor finds after
    assert _installed(python, "torch") == f"{torch}+{variant}"
    after = _doctor(torchsetup_exe, python, "--json", **path)
    assert "TS001" not in {f["id"] for f in unwrap(after.stdout, "doctor")["findings"]}
