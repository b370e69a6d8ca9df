"""A real package index (PEP 503 HTML + PEP 691 JSON + PEP 658 metadata) on 127.0.0.1.

Serves the wheels of a folder from a thread of the test process, so pip and uv run against a
real HTTP index with no network. Switches make it misbehave the way real indexes do:

- ``corrupt(project)``: serve that project's wheels with bytes flipped (the listed hash is the
  true one, so pip fails on the hash check);
- ``throttle(project, bytes_per_s)``: serve that project's wheels slowly;
- ``stop_during(project, after_bytes)``: shut the whole server down after that many bytes of
  a wheel of that project were sent (connections then break and new ones are refused);
- ``list_only(project, filenames)``: list files that do not exist (for tag/version refusals);
- ``require_auth(user, password)``: every request needs HTTP basic auth (401 otherwise), as a
  private mirror does; ``auth_seen`` records the credentials requests came with;
- ``drip(seconds_per_byte)``: listing pages are sent one byte at a time (a slow-drip index:
  every read succeeds, the request never ends);
- ``bad_json(document)``: PEP 691 JSON answers are this document (any shape);
- ``huge_page(size)``: listing pages are padded to ``size`` bytes (a 340 MB page).
- ``swap(filename, other)``: serve another file under that name, with its own hash listed.

Project pages carry an ``ETag`` and a ``Last-Modified`` and answer a matching conditional
request (``If-None-Match`` / ``If-Modified-Since``) with ``304 Not Modified``. Besides
``/simple/<project>/`` the server answers ``/whl/<variant>/<project>/`` (the layout of
download.pytorch.org): the files of ``project`` whose local version label is ``variant``
(``torch-2.99.0+cpu-...`` on ``/whl/cpu/torch/``).

``requests`` records every request, ``bytes_sent(project)`` counts wheel bytes served.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import html
import json
import re
import threading
import time
import zipfile
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Optional
from urllib.parse import quote, unquote

from packaging.utils import canonicalize_name, parse_wheel_filename

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
LAST_MODIFIED = "Tue, 01 Dec 2026 08:00:00 GMT"
_CHUNK = 256 * 1024
_UNSET = object()


@dataclass(frozen=True)
class IndexFile:
    filename: str
    project: str
    path: Optional[Path]  # None: listed only
    size: int
    sha256: str
    requires_python: Optional[str] = None
    metadata: Optional[bytes] = None


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    accept: str
    user_agent: str
    if_none_match: str = ""
    status: int = 0  # the answer to a page request (200, 304, 404); 0 for files


@functools.cache
def _describe(path: Path, size: int, mtime: float) -> tuple[str, Optional[str], Optional[bytes]]:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    metadata = None
    requires_python = None
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            if re.fullmatch(r"[^/]+\.dist-info/METADATA", name):
                metadata = zf.read(name)
                m = re.search(rb"^Requires-Python: *(.+?)\s*$", metadata, re.MULTILINE)
                requires_python = m.group(1).decode() if m else None
                break
    return digest.hexdigest(), requires_python, metadata


def scan(folder: Path) -> list[IndexFile]:
    files = []
    for path in sorted(folder.glob("*.whl")):
        st = path.stat()
        sha, requires_python, metadata = _describe(path, st.st_size, st.st_mtime)
        project = canonicalize_name(parse_wheel_filename(path.name)[0])
        files.append(
            IndexFile(path.name, project, path, st.st_size, sha, requires_python, metadata)
        )
    return files


class IndexServer:
    def __init__(self, folder: Path) -> None:
        self._files = {f.filename: f for f in scan(folder)}
        self._lock = threading.Lock()
        self._corrupt: set[str] = set()
        self._throttle: dict[str, float] = {}
        self._stop_after: dict[str, int] = {}
        self._listed_only: dict[str, list[IndexFile]] = {}
        self._auth: Optional[str] = None
        self.auth_seen: list[str] = []
        self._drip: Optional[float] = None
        self._bad_json: Any = _UNSET
        self._huge: Optional[int] = None
        self._sent: dict[str, int] = {}
        self.requests: list[Request] = []
        self.stopped = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="test-index", daemon=True
        )

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def base(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def url(self) -> str:
        return self.base + "/simple"

    def start(self) -> IndexServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if not self.stopped.is_set():
            self.stopped.set()
            self._httpd.shutdown()
            self._httpd.server_close()

    def __enter__(self) -> IndexServer:  # noqa: PYI034 - typing.Self is 3.11+, no typing_extensions
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- switches ----------------------------------------------------------------------------
    def corrupt(self, project: str) -> None:
        self._corrupt.add(canonicalize_name(project))

    def swap(self, filename: str, other: Path) -> None:
        """Serve the bytes of ``other`` as ``filename``, listed with their own (true) hash and
        size: a file replaced on a compromised index or mirror."""
        f = self._files[filename]
        sha, requires_python, metadata = _describe(
            other, other.stat().st_size, other.stat().st_mtime
        )
        self._files[filename] = IndexFile(
            filename, f.project, other, other.stat().st_size, sha, requires_python, metadata
        )

    def throttle(self, project: str, bytes_per_s: float) -> None:
        self._throttle[canonicalize_name(project)] = bytes_per_s

    def stop_during(self, project: str, after_bytes: int) -> None:
        self._stop_after[canonicalize_name(project)] = after_bytes

    def list_only(self, project: str, filenames: list[str], size: int = 1000) -> None:
        key = canonicalize_name(project)
        self._listed_only[key] = [IndexFile(n, key, None, size, "0" * 64) for n in filenames]

    def require_auth(self, user: str, password: str) -> None:
        import base64

        self._auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def drip(self, seconds_per_byte: float) -> None:
        self._drip = seconds_per_byte

    def bad_json(self, document: Any) -> None:
        self._bad_json = document

    def huge_page(self, size: int) -> None:
        self._huge = size

    def credentialed_url(self, user: str, password: str) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{user}:{password}@{host!s}:{port}/simple"

    # -- observations ------------------------------------------------------------------------
    def bytes_sent(self, project: str) -> int:
        with self._lock:
            return self._sent.get(canonicalize_name(project), 0)

    def wait_for_bytes(self, project: str, at_least: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.bytes_sent(project) >= at_least:
                return True
            time.sleep(0.05)
        return False

    def downloads(self) -> list[str]:
        return [r.path for r in self.requests if r.path.startswith("/files/") and r.method == "GET"]

    # -- content -----------------------------------------------------------------------------
    def project_files(self, project: str) -> list[IndexFile]:
        key = canonicalize_name(project)
        if key in self._listed_only:
            return self._listed_only[key]
        return [f for f in self._files.values() if f.project == key]

    def projects(self) -> list[str]:
        return sorted({f.project for f in self._files.values()} | set(self._listed_only))

    def variant_files(self, variant: str, project: str) -> list[IndexFile]:
        return [
            f
            for f in self.project_files(project)
            if f"+{variant}-" in f.filename.replace("%2B", "+")
        ]

    def variant_url(self, variant: str) -> str:
        return f"{self.base}/whl/{variant}"

    def project_json(
        self, project: str, files_in: Optional[list[IndexFile]] = None
    ) -> dict[str, Any]:
        files = []
        for f in self.project_files(project) if files_in is None else files_in:
            entry: dict[str, Any] = {
                "filename": f.filename,
                "url": f"{self.base}/files/{quote(f.filename)}",
                "hashes": {"sha256": f.sha256},
                "size": f.size,
            }
            if f.requires_python:
                entry["requires-python"] = f.requires_python
            if f.metadata is not None:
                meta = {"sha256": hashlib.sha256(f.metadata).hexdigest()}
                entry["core-metadata"] = meta
                entry["dist-info-metadata"] = meta
            files.append(entry)
        versions = sorted({str(parse_wheel_filename(f["filename"])[1]) for f in files})
        return {
            "meta": {"api-version": "1.1"},
            "name": canonicalize_name(project),
            "files": files,
            "versions": versions,
        }

    def project_html(self, project: str, files_in: Optional[list[IndexFile]] = None) -> str:
        links = []
        for f in self.project_files(project) if files_in is None else files_in:
            attrs = ""
            if f.requires_python:
                attrs += f' data-requires-python="{html.escape(f.requires_python)}"'
            if f.metadata is not None:
                attrs += (
                    f' data-dist-info-metadata="sha256={hashlib.sha256(f.metadata).hexdigest()}"'
                )
            links.append(
                f'<a href="{self.base}/files/{quote(f.filename)}#sha256={f.sha256}"{attrs}>{f.filename}</a><br>'
            )
        return _page(f"Links for {project}", links)

    def root_html(self) -> str:
        return _page(
            "Simple index", [f'<a href="/simple/{p}/">{p}</a><br>' for p in self.projects()]
        )

    def root_json(self) -> dict[str, Any]:
        return {"meta": {"api-version": "1.1"}, "projects": [{"name": p} for p in self.projects()]}

    def file(self, filename: str) -> Optional[IndexFile]:
        return self._files.get(filename)

    # -- serving wheels ----------------------------------------------------------------------
    def send_wheel(self, f: IndexFile, wfile: Any) -> None:
        assert f.path is not None
        rate = self._throttle.get(f.project)
        stop_after = self._stop_after.get(f.project)
        corrupt = f.project in self._corrupt
        started = time.monotonic()
        sent = 0
        with f.path.open("rb") as src:
            while block := src.read(
                _CHUNK if rate is None else min(_CHUNK, max(1, int(rate / 10)))
            ):
                if corrupt and sent <= f.size // 2 < sent + len(block):
                    block = bytes(b ^ 0xFF for b in block)
                wfile.write(block)
                sent += len(block)
                with self._lock:
                    self._sent[f.project] = self._sent.get(f.project, 0) + len(block)
                if stop_after is not None and sent >= stop_after:
                    threading.Thread(target=self.stop, daemon=True).start()
                    raise ConnectionAbortedError("test index: stopping mid-download")
                if rate is not None:
                    ahead = sent / rate - (time.monotonic() - started)
                    if ahead > 0:
                        time.sleep(ahead)


def _page(title: str, lines: list[str]) -> str:
    body = "\n".join(lines)
    return (
        f'<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.1">'
        f"<title>{title}</title></head><body>\n{body}\n</body></html>\n"
    )


def _wants_json(accept: str) -> bool:
    for part in accept.split(","):
        media, _, params = part.strip().partition(";")
        if media.strip() == JSON_TYPE:
            q = re.search(r"q=([0-9.]+)", params)
            return q is None or float(q.group(1)) > 0
    return False


def _handler_for(index: IndexServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_HEAD(self) -> None:
            self._serve(body=False)

        def do_GET(self) -> None:
            self._serve(body=True)

        def _serve(self, *, body: bool) -> None:
            accept = self.headers.get("Accept", "")
            index.requests.append(
                Request(
                    self.command,
                    self.path,
                    accept,
                    self.headers.get("User-Agent", ""),
                    self.headers.get("If-None-Match", ""),
                )
            )
            if index._auth is not None:
                given = self.headers.get("Authorization", "")
                index.auth_seen.append(given)
                if given != index._auth:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="test index"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
            path = unquote(self.path.split("?", 1)[0].split("#", 1)[0])
            m = re.fullmatch(r"/simple/?", path)
            if m:
                self._send_listing(index.root_json(), index.root_html(), accept, body)
                return
            m = re.fullmatch(r"/simple/([^/]+)/?", path)
            if m:
                project = m.group(1)
                if not index.project_files(project):
                    self._send(404, "text/plain", b"not found\n", body)
                    return
                self._send_listing(
                    index.project_json(project), index.project_html(project), accept, body
                )
                return
            m = re.fullmatch(r"/whl/([^/]+)/([^/]+)/?", path)
            if m:
                files = index.variant_files(m.group(1), m.group(2))
                if not files:
                    self._send(404, "text/plain", b"not found\n", body)
                    return
                self._send_listing(
                    index.project_json(m.group(2), files),
                    index.project_html(m.group(2), files),
                    accept,
                    body,
                )
                return
            m = re.fullmatch(r"/files/([^/]+?)(\.metadata)?", path)
            f = index.file(m.group(1)) if m else None
            if m is None or f is None:
                self._send(404, "text/plain", b"not found\n", body)
                return
            if m.group(2):
                if f.metadata is None:
                    self._send(404, "text/plain", b"no metadata\n", body)
                else:
                    self._send(200, "text/plain", f.metadata, body)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(f.size))
            self.end_headers()
            if body:
                try:
                    index.send_wheel(f, self.wfile)
                except (ConnectionError, OSError):
                    self.close_connection = True

        def _send_listing(
            self, as_json: dict[str, Any], as_html: str, accept: str, body: bool
        ) -> None:
            if _wants_json(accept):
                doc = as_json if index._bad_json is _UNSET else index._bad_json
                ctype, data = JSON_TYPE, json.dumps(doc).encode()
            else:
                ctype, data = "text/html; charset=utf-8", as_html.encode()
            etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
            validators = {"ETag": etag, "Last-Modified": LAST_MODIFIED}
            if self.headers.get("If-None-Match") == etag or (
                self.headers.get("If-None-Match") is None
                and self.headers.get("If-Modified-Since") == LAST_MODIFIED
            ):
                self._record_status(304)
                self._send(304, ctype, b"", body, validators)
                return
            self._record_status(200)
            self._send(200, ctype, data, body, validators, listing=True)

        def _record_status(self, status: int) -> None:
            for i in range(len(index.requests) - 1, -1, -1):
                if index.requests[i].path == self.path:
                    index.requests[i] = dataclasses.replace(index.requests[i], status=status)
                    break

        def _send(
            self,
            status: int,
            ctype: str,
            data: bytes,
            body: bool,
            headers: Optional[dict[str, str]] = None,
            *,
            listing: bool = False,
        ) -> None:
            huge = index._huge if listing else None
            size = max(len(data), huge) if huge else len(data)
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(size))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if not body:
                return
            try:
                if listing and index._drip is not None:
                    for i in range(len(data)):
                        self.wfile.write(data[i : i + 1])
                        self.wfile.flush()
                        if index.stopped.wait(index._drip):
                            return
                    return
                self.wfile.write(data)
                if huge and huge > len(data):  # padding after the document: spaces
                    block = b" " * _CHUNK
                    left = huge - len(data)
                    while left > 0 and not index.stopped.is_set():
                        self.wfile.write(block[: min(left, _CHUNK)])
                        left -= _CHUNK
            except (ConnectionError, OSError):
                self.close_connection = True

    return Handler
