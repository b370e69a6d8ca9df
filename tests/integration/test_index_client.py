"""The one index client (torchsetup.index) against a real index on 127.0.0.1: JSON when the
server speaks it, HTML when asked for it only, PEP 658 metadata, 304 on a conditional request,
the size limit, and a refused connection as a redacted NetError."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import standin
from tests.helpers.index import IndexServer
from torchsetup import index, net


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexServer]:
    with IndexServer(standin.build(tmp_path_factory.mktemp("wheels"))) as s:
        yield s


def test_json_page_metadata_and_a_conditional_request(server: IndexServer) -> None:
    page = index.fetch_project(server.url, "TorchVision")
    assert page is not None and page.etag and page.last_modified
    (file,) = page.files
    assert file.filename == "torchvision-0.99.0+cpu-py3-none-manylinux_2_28_x86_64.whl"
    assert file.core_metadata and file.sha256 and file.size
    meta = index.fetch_metadata(file)
    assert meta is not None and meta.requires_dist == ("torch==2.99.0",)
    again = index.fetch_project(server.url, "torchvision", etag=page.etag)
    assert again is not None and again.not_modified and again.files == ()
    assert server.requests[-1].status == 304
    assert index.fetch_project(server.url, "nothing-here") is None


def test_html_when_the_server_is_asked_for_html(server: IndexServer) -> None:
    def html_only(url: str, **kw: object) -> net.Response:
        kw["accept"] = "text/html"
        return net.get(url, **kw)  # type: ignore[arg-type]

    page = index.fetch_project(server.url, "torch", get=html_only)
    assert page is not None and len(page.files) == len(standin.PYTHONS)
    assert all(f.core_metadata and f.requires_python == ">=3.10" for f in page.files)
    assert server.requests[-1].accept == "text/html"


def test_size_limit_and_redacted_errors(
    server: IndexServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index, "MAX_PAGE_BYTES", 100)
    with pytest.raises(net.NetError, match="larger than 100 bytes"):
        index.fetch_project(server.url, "torch")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(net.NetError) as exc:
        index.fetch_project(f"http://bob:hunter2@127.0.0.1:{port}/simple", "torch", timeout=2)
    assert "hunter2" not in str(exc.value)


def test_update_matrix_reads_through_the_client() -> None:
    import importlib.util
    import sys

    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location(
        "update_matrix_c", root / "tools/update_matrix.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    assert module.parse_wheel("torch-2.0.1%2Bcu118-cp310-cp310-linux_x86_64.whl") == (
        "2.0.1",
        "cu118",
        "linux-x86_64",
        "3.10",
    )
    assert not hasattr(module, "_Links") and not hasattr(module, "_WHEEL")
