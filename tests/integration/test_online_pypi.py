"""Against the real PyPI (marked ``online``: reported as NOT RUN where pypi.org is unreachable).

After ``torchsetup matrix --refresh`` the plan for linux-x86_64 / Python 3.12 / driver 580 /
one sm_90 GPU is torch 2.15.0 with torchvision 0.29.2, and for Python 3.10 it is 2.14.1 with
the reason (2.15.0 has no cp310 wheels). download.pytorch.org need not answer: PyPI's pages
and metadata are enough (a variant index that does not answer is recorded, not fatal).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helpers.result import unwrap
from tests.helpers.venvs import isolated_pip_env

pytestmark = pytest.mark.online

TARGET = ("--target-platform", "linux-x86_64", "--target-driver", "580", "--target-gpu", "9.0")


def run(exe: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [exe, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def test_after_a_refresh_pypi_s_newest_release_is_planned(
    torchsetup_exe: str, tmp_path: Path
) -> None:
    env = isolated_pip_env(TORCHSETUP_OFFLINE="0", TORCHSETUP_CACHE_DIR=str(tmp_path / "cache"))
    r = run(torchsetup_exe, env, "matrix", "--refresh")
    assert r.returncode == 0, r.stderr
    assert "fetched now" in r.stderr and "pypi.org" in r.stderr

    r = run(
        torchsetup_exe, env, "install", "--dry-run", "--json", "--target-python", "3.12", *TARGET
    )
    assert r.returncode == 0, r.stderr
    plan = unwrap(r.stdout)
    assert (plan["plan"]["torch"], plan["plan"]["torchvision"]) == ("2.15.0", "0.29.2")
    assert plan["plan"]["variant"] == "cu132"

    r = run(
        torchsetup_exe, env, "install", "--dry-run", "--json", "--target-python", "3.10", *TARGET
    )
    assert r.returncode == 0, r.stderr
    plan = unwrap(r.stdout)
    assert plan["plan"]["torch"] == "2.14.1"
    reasons = [x["reason"] for x in plan["rejected"] if x["torch"] == "2.15.0"]
    assert reasons and "no Python 3.10 wheels" in reasons[0] and "3.11" in reasons[0]
