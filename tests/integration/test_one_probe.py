"""One probe of the target: doctor, install --dry-run and verify see the torch the user's plain
``python`` imports, a torch in the *user site* included (real processes, a real torch).

The target is a venv made with ``--system-site-packages`` (such a venv honours the user site of
``PYTHONUSERBASE``) holding no torch itself; the cached torch 2.13.0+cpu is linked into that
user site. Before the one probe, doctor saw it and install (``python -I``) did not.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.result import unwrap
from tests.helpers.venvs import TORCH_PYTHON, cached_torch_venv, create_venv, site_packages

pytestmark = pytest.mark.slow

TORCH = "2.13.0+cpu"


def torchsetup(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "torchsetup", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def user_site_target(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    torch_site = site_packages(cached_torch_venv())
    root = tmp_path_factory.mktemp("user-site")
    python = create_venv(root / "venv", TORCH_PYTHON, with_pip=True)
    cfg = root / "venv" / "pyvenv.cfg"
    cfg.write_text(
        cfg.read_text().replace(
            "include-system-site-packages = false", "include-system-site-packages = true"
        )
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONNOUSERSITE", "VIRTUAL_ENV")}
    env["PYTHONUSERBASE"] = str(root / "userbase")
    user_site = Path(
        subprocess.run(
            [str(python), "-c", "import site; print(site.getusersitepackages())"],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            timeout=60,
        ).stdout.strip()
    )
    user_site.mkdir(parents=True)
    skip = ("pip", "setuptools", "_distutils_hack", "distutils-precedence.pth", "__pycache__")
    for entry in torch_site.iterdir():
        if not entry.name.startswith(skip):
            (user_site / entry.name).symlink_to(entry)
    return python, env


def test_doctor_install_and_verify_see_the_user_site_torch(
    user_site_target: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    python, env = user_site_target
    env = {**env, "TORCHSETUP_CACHE_DIR": str(tmp_path / "cache")}
    # what the user's own `python` imports
    own = subprocess.run(
        [str(python), "-c", "import torch; print(torch.__version__)"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=300,
        cwd=tmp_path,
    ).stdout.split()[-1]
    assert own == TORCH

    doctor = torchsetup("doctor", "--python", str(python), "--json", env=env)
    facts = unwrap(doctor.stdout)
    torch = facts["environment"]["python"]["torch"]
    assert torch is not None and torch["version"] == TORCH, doctor.stderr

    plan = torchsetup(
        "install",
        "--python",
        str(python),
        "--cpu",
        "--torch",
        "2.13.0",
        "--only",
        "torch",
        "--dry-run",
        "--json",
        env=env,
    )
    assert plan.returncode == 0, plan.stderr
    data = unwrap(plan.stdout)["plan"]
    assert data["already_satisfied"] == f"torch {TORCH}" and data["steps"] == [], data["steps"]
    assert ["torch", TORCH] in data["target"]["packages"]

    verify = torchsetup("verify", "--python", str(python), "--quick", "--json", env=env)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert unwrap(verify.stdout)["torch"]["version"] == TORCH
