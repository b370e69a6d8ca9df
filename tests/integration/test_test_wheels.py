"""A fresh machine gets the torch test wheel with no setting: nothing on disk, no pip
find-links, so it is downloaded once (real pip, from a real index on 127.0.0.1 standing in for
PyTorch's CPU index) into the test cache, and found there the next time without a download."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import venvs
from tests.helpers.index import IndexServer

pytestmark = pytest.mark.slow


def test_fresh_machine_downloads_the_wheel_once(
    index: IndexServer, env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "test-cache"
    monkeypatch.setenv("TORCHSETUP_TEST_CACHE", str(cache))
    monkeypatch.setenv("TORCHSETUP_TEST_WHEELS", str(tmp_path / "no-such-folder"))
    monkeypatch.setenv("TORCHSETUP_TEST_TORCH_INDEX", index.url)
    assert venvs.pip_find_links() == []  # `env` isolates pip from this machine's config
    assert venvs.find_torch_wheel() is None

    wheel = venvs.torch_wheel()
    assert wheel.parent == cache / "wheels"
    assert wheel.name.startswith(f"torch-{venvs.TORCH_VERSION}+cpu-cp311-")
    assert wheel.stat().st_size > 50_000_000
    assert not (cache / "wheels.partial").exists()
    served = index.bytes_sent("torch")
    assert served > 0

    assert venvs.torch_wheel() == wheel  # the second time: from the cache, no download
    assert index.bytes_sent("torch") == served
    shutil.rmtree(cache)  # 200 MB
