"""Fixtures shared by the install tests (test_install_e2e.py, test_install_failures.py): the
real wheel folder, a PEP 503/691 index serving it on 127.0.0.1, and an environment isolated from
the machine's pip configuration. test_install_cli.py keeps its own ``index`` and ``env``."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.index import IndexServer
from tests.helpers.venvs import isolated_pip_env
from tests.helpers.wheelhouse import cached_wheelhouse


@pytest.fixture(scope="module")
def wheelhouse() -> Path:
    return cached_wheelhouse()


@pytest.fixture
def index(wheelhouse: Path) -> Iterator[IndexServer]:
    with IndexServer(wheelhouse) as server:
        yield server


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """This process and its children isolated from the machine's pip configuration; no caches
    (each run downloads from the test index, and nothing lands in the user's caches)."""
    isolated = isolated_pip_env(
        TORCHSETUP_CACHE_DIR=str(tmp_path / "cache"), PIP_NO_CACHE_DIR="1", UV_NO_CACHE="1"
    )
    for key in [k for k in os.environ if k.startswith("PIP_")]:
        monkeypatch.delenv(key)
    for key, value in isolated.items():
        monkeypatch.setenv(key, value)
    yield isolated
    for big in tmp_path.glob("*env*"):  # a torch venv is ~750 MB: do not keep it around
        shutil.rmtree(big, ignore_errors=True)
