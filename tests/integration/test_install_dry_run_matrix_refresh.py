"""tools/update_matrix.py against a real PEP 691 / PEP 503 index served on 127.0.0.1.

The server speaks PEP 691 JSON for one build (when asked for it) and plain PEP 503 HTML for
another, like download.pytorch.org and simple mirrors do.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
PEP691 = "application/vnd.pypi.simple.v1+json"

CU118 = [  # what the fake cu118 index holds
    "torch-2.0.1+cu118-cp310-cp310-linux_x86_64.whl",
    "torch-2.0.1+cu118-cp312-cp312-linux_x86_64.whl",  # a Python the matrix does not list
    "torch-2.0.1+cu118-cp311-cp311-win_amd64.whl",
    "torch-2.0.0+cu118-cp310-cp310-linux_x86_64.whl",  # no Windows wheel for 2.0.0 here
    "torch-2.99.0+cu118-cp312-cp312-manylinux_2_28_x86_64.whl",  # a release the matrix lacks
    "torch-2.99.0rc1+cu118-cp312-cp312-linux_x86_64.whl",  # pre-releases are ignored
    "torchvision-0.15.2+cu118-cp310-cp310-linux_x86_64.whl",
]
CPU = [
    "torch-2.0.1%2Bcpu-cp311-cp311-linux_x86_64.whl",
    "torch-2.0.1-cp311-none-macosx_11_0_arm64.whl",
    "torch-2.0.1%2Bcpu-cp311-cp311-win_amd64.whl",
]


class Index(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/whl/cu118/torch/" and PEP691 in self.headers.get("Accept", ""):
            body = json.dumps(
                {
                    "meta": {"api-version": "1.0"},
                    "name": "torch",
                    "files": [{"filename": f, "url": f, "hashes": {}} for f in CU118],
                }
            )
            self._send(body, PEP691)
        elif self.path == "/whl/cpu/torch/":
            links = "".join(f'<a href="../../files/{f}#sha256=00">{f}</a><br/>' for f in CPU)
            self._send(f"<!DOCTYPE html><html><body>{links}</body></html>", "text/html")
        else:
            self.send_error(404)

    def _send(self, body: str, content_type: str) -> None:
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def index_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Index)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/whl"
    server.shutdown()
    server.server_close()


def update_matrix() -> ModuleType:
    spec = importlib.util.spec_from_file_location("update_matrix", ROOT / "tools/update_matrix.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def test_diff_against_a_local_index(
    index_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    matrix = tmp_path / "matrix.json"
    shutil.copy(ROOT / "src/torchsetup/resources/matrix.json", matrix)
    before = matrix.read_text()
    code = update_matrix().main(
        [
            "--index",
            index_url,
            "--variant",
            "cu118",
            "--variant",
            "cpu",
            "--variant",
            "cu999",
            "--matrix",
            str(matrix),
            "--observations",
            str(tmp_path / "obs.json"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 1  # differences found, nothing written
    assert matrix.read_text() == before and not (tmp_path / "obs.json").exists()
    assert (
        "~ 2.0.0 cu118: platforms ['linux-x86_64', 'windows-x86_64'] -> index ['linux-x86_64']"
        in out
    )
    assert "~ 2.0.1 cu118: Pythons on the index not listed ['3.12']" in out
    assert "+ 2.99.0 cu118: on the index, not in matrix.json" in out
    assert "2.99.0rc1" not in out
    assert "- 2.7.1 cu118: in matrix.json, no wheels on the index" in out
    assert (
        "~ 2.0.1 cpu: platforms ['linux-x86_64', 'windows-x86_64'] -> index "
        "['linux-x86_64', 'macos-arm64', 'windows-x86_64']" in out
    )  # read from PEP 503 HTML
    assert "cu999: cannot read" in out and "404" in out


def test_write_records_observations_and_recurates(index_url: str, tmp_path: Path) -> None:
    matrix, observations = tmp_path / "matrix.json", tmp_path / "obs.json"
    shutil.copy(ROOT / "src/torchsetup/resources/matrix.json", matrix)
    code = update_matrix().main(
        [
            "--index",
            index_url,
            "--variant",
            "cu118",
            "--matrix",
            str(matrix),
            "--observations",
            str(observations),
            "--write",
        ]
    )
    assert code == 0
    obs = json.loads(observations.read_text())
    assert obs["index"] == index_url and obs["platforms"]["cu118"]["2.0.0"] == ["linux-x86_64"]
    curated = json.loads(matrix.read_text())
    r200 = next(r for r in curated["releases"] if r["torch"] == "2.0.0")
    assert r200["variants"]["cu118"]["platforms"] == ["linux-x86_64"]
    assert "index_observations" in curated["generated_by"]
