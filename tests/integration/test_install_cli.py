"""The install command as users run it: the installed console script, a real index on
127.0.0.1 holding the torch 2.13.0 CPU wheel and its dependencies, real venvs, real pip and uv.

    torchsetup install --cpu --torch 2.13.0 --venv DIR --index-url http://127.0.0.1:PORT/simple --yes
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.index import IndexServer
from tests.helpers.result import unwrap
from tests.helpers.venvs import isolated_pip_env, venv_python
from tests.helpers.wheelhouse import cached_wheelhouse

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def index() -> Iterator[IndexServer]:
    with IndexServer(cached_wheelhouse()) as server:
        yield server


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    yield isolated_pip_env(
        TORCHSETUP_CACHE_DIR=str(tmp_path / "cache"), PIP_NO_CACHE_DIR="1", UV_NO_CACHE="1"
    )
    shutil.rmtree(tmp_path / "venv", ignore_errors=True)  # ~750 MB each


def install(exe: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [exe, "install", *args], capture_output=True, text=True, env=env, timeout=900
    )


def torch_version(python: Path) -> str:
    out = subprocess.run(
        [str(python), "-c", "import torch; print(torch.__version__)"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return out.stdout.strip()


def test_pip_install_then_nothing_to_do(
    torchsetup_exe: str, index: IndexServer, env: dict[str, str], tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    args = ["--cpu", "--torch", "2.13.0", "--venv", str(venv), "--index-url", index.url, "--yes"]
    first = install(torchsetup_exe, env, *args, "--method", "pip")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-2000:]
    assert torch_version(venv_python(venv)) == "2.13.0+cpu"
    assert "verified" in first.stdout
    assert (
        "torchsetup verify --quick:" in first.stdout
        and "checks passed (torch 2.13.0+cpu)" in first.stdout
    )
    # the test index has no CPU torchvision (PyPI's needs a CUDA torch): a default companion the
    # index lacks is dropped with a note, not a failure
    assert "the index has no torchvision: installing without" in first.stdout
    logs = list((tmp_path / "cache" / "logs").glob("install-*.log"))
    assert logs and "pip install torch==2.13.0" in logs[0].read_text()

    sent = index.bytes_sent("torch")
    second = install(torchsetup_exe, env, *args)
    assert second.returncode == 0, second.stdout[-2000:]
    assert "already satisfied: torch 2.13.0+cpu" in second.stdout
    assert "nothing was changed" in second.stdout
    assert index.bytes_sent("torch") == sent, "the second run downloaded torch again"


def test_uv_install(
    torchsetup_exe: str, index: IndexServer, env: dict[str, str], tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    res = install(
        torchsetup_exe,
        env,
        "--cpu",
        "--torch",
        "2.13.0",
        "--method",
        "uv",
        "--venv",
        str(venv),
        "--index-url",
        index.url,
        "--yes",
        "--json",
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    data = unwrap(res.stdout, "install")
    assert data["plan"]["method"] == "uv"
    assert data["result"]["status"] == "installed"
    installs = [s for s in data["result"]["steps"] if s["id"] == "install"]
    assert (
        installs
        and Path(installs[0]["argv"][0]).name == "uv"
        and installs[0]["argv"][1:3] == ["pip", "install"]
    )
    assert torch_version(venv_python(venv)) == "2.13.0+cpu"


def test_required_companion_missing_is_refused_before_any_change(
    torchsetup_exe: str, index: IndexServer, env: dict[str, str], tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    res = install(
        torchsetup_exe,
        env,
        "--cpu",
        "--torch",
        "2.13.0",
        "--with",
        "torchvision",
        "--venv",
        str(venv),
        "--index-url",
        index.url,
        "--yes",
    )
    assert res.returncode == 2
    assert "has no torchvision at all" in res.stdout + res.stderr
    assert not venv.exists(), "a refused install must not leave a venv behind"


def test_no_terminal_and_no_yes_is_refused(
    torchsetup_exe: str, index: IndexServer, env: dict[str, str], tmp_path: Path
) -> None:
    res = install(
        torchsetup_exe,
        env,
        "--cpu",
        "--torch",
        "2.13.0",
        "--venv",
        str(tmp_path / "venv"),
        "--index-url",
        index.url,
    )
    assert res.returncode == 2
    assert "without confirmation" in res.stdout + res.stderr
    assert not (tmp_path / "venv").exists()
