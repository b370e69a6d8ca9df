"""A hostile index on 127.0.0.1 (issue 15, items 1, 7, 9 and 15): a private mirror behind basic
auth, a slow drip, PEP 691 JSON of the wrong shape, a page of hundreds of MB."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.index import IndexServer
from tests.helpers.venvs import isolated_pip_env, venv_python
from tests.helpers.wheelhouse import cached_wheelhouse
from torchsetup import net
from torchsetup.install.preflight import fetch_project

pytestmark = pytest.mark.slow


@pytest.fixture
def index() -> Iterator[IndexServer]:
    with IndexServer(cached_wheelhouse()) as server:
        yield server


def test_a_slow_drip_is_cut_at_the_request_deadline(index: IndexServer) -> None:
    index.drip(0.5)  # every read succeeds: a per-read timeout never fires
    started = time.monotonic()
    with pytest.raises(net.NetError, match="within 2 s"):
        fetch_project(index.url, "torch", timeout=2.0)
    assert time.monotonic() - started < 4.0


@pytest.mark.parametrize(
    "document",
    [
        [],
        "x",
        None,
        7,
        {"files": 3},
        {"files": [1]},
        {"files": [{"filename": 5, "url": "u"}]},
        {"files": [{"filename": "torch-2.13.0-py3-none-any.whl"}]},
    ],
)
def test_json_of_the_wrong_shape_is_a_net_error(index: IndexServer, document: object) -> None:
    index.bad_json(document)
    # a page that is not a PEP 691 document is a named error about that page (the index
    # client's IndexAnswerError); entries of the wrong shape in a real list are skipped: never a
    # crash, never a garbage file
    try:
        files = fetch_project(index.url, "torch", timeout=10.0)
    except net.NetError as exc:
        assert "/simple/torch/" in str(exc)
    else:
        assert isinstance(document, dict) and isinstance(document.get("files"), list)
        assert all(f.url and f.filename.endswith((".whl", ".tar.gz", ".zip")) for f in files or [])


def test_a_huge_page_is_refused_not_held(index: IndexServer) -> None:
    index.huge_page(net.MAX_BYTES + 10 * 1024 * 1024)
    with pytest.raises(net.NetError, match=r"larger than \d+ MB"):
        fetch_project(index.url, "torch", timeout=60.0)


def test_basic_auth_index_is_read_with_its_credentials(index: IndexServer) -> None:
    index.require_auth("alice", "s3cr3t@x")
    assert fetch_project(index.credentialed_url("alice", "s3cr3t%40x"), "torch", timeout=10.0)
    with pytest.raises(net.NetError, match="HTTP 401"):
        fetch_project(index.url, "torch", timeout=10.0)


def test_install_from_a_credentialed_index_url(
    torchsetup_exe: str, index: IndexServer, tmp_path: Path
) -> None:
    """Item 1: pip got *** as the user name and a 401; now it gets the real credentials, and
    nothing shown or written holds them."""
    index.require_auth("alice", "PW-s3cr3t")
    env = isolated_pip_env(
        TORCHSETUP_CACHE_DIR=str(tmp_path / "cache"), PIP_NO_CACHE_DIR="1", UV_NO_CACHE="1"
    )
    venv = tmp_path / "venv"
    url = index.credentialed_url("alice", "PW-s3cr3t")
    try:
        r = subprocess.run(
            [
                torchsetup_exe,
                "install",
                "--cpu",
                "--torch",
                "2.13.0",
                "--only",
                "torch",
                "--venv",
                str(venv),
                "--index-url",
                url,
                "--yes",
                "--no-verify",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=900,
        )
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
        assert venv_python(venv).exists()
        # every file torchsetup wrote (logs, restore files, the .pyc files of its bytecode cache)
        written = [
            p.read_bytes().decode("utf-8", "replace")
            for p in (tmp_path / "cache").rglob("*")
            if p.is_file()
        ]
        for text in (r.stdout, r.stderr, *written):
            assert "PW-s3cr3t" not in text
        assert any(a.startswith("Basic ") for a in index.auth_seen)
        assert index.downloads(), "pip downloaded nothing"
    finally:
        shutil.rmtree(venv, ignore_errors=True)
