"""The one door for HTTP.

``requests`` is imported on first use (``torchsetup --help`` never pays for it). One session per
process; every request has a timeout; retries are off (a preflight that waits minutes for a dead
index helps nobody: pip retries on its own later); errors come back as :class:`NetError` whose
message never carries credentials from the URL.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from torchsetup.redact import redact_url_credentials

USER_AGENT = "torchsetup"


class NetError(Exception):
    """A request that got no HTTP answer (DNS, refused, timeout, TLS). The message is redacted."""


@dataclass(frozen=True)
class Response:
    url: str  # the final URL, redacted
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    content: bytes = b""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


@functools.lru_cache(maxsize=1)
def _session() -> Any:
    import requests
    from requests.adapters import HTTPAdapter

    session = requests.Session()
    adapter = HTTPAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


MAX_BYTES = 64 * 1024 * 1024  # an index page larger than this is not an index page


def request(
    method: str,
    url: str,
    *,
    timeout: float,
    accept: Optional[str] = None,
    headers: Optional[Mapping[str, str]] = None,
    max_bytes: Optional[int] = None,
) -> Response:
    """One HTTP request; non-2xx answers are returned, not raised. ``headers`` are added to the
    request (conditional requests: If-None-Match, If-Modified-Since).

    ``timeout`` bounds the *whole* request (connect, headers and body), not each read: an
    index that sends a byte every 2 s cannot hold a caller past it. A body over ``max_bytes``
    is a NetError, never held in memory."""
    import math
    import threading
    import time

    limit = MAX_BYTES if max_bytes is None else max_bytes
    sent = {**(headers or {}), **({"Accept": accept} if accept else {})}
    if not math.isfinite(timeout) or timeout <= 0:
        raise ValueError(f"timeout must be a positive finite number, not {timeout!r}")
    box: dict[str, Any] = {}
    deadline = time.monotonic() + timeout
    cancelled = threading.Event()

    def work() -> None:
        try:
            box["response"] = _request(method, url, timeout, sent, limit, deadline, cancelled)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=work, name="torchsetup-net", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        cancelled.set()  # the worker stops at its next read; a daemon thread never holds exit
        raise NetError(
            f"no complete answer within {timeout:g} s from {redact_url_credentials(url)}"
        )
    if "error" in box:
        raise box["error"]
    response: Response = box["response"]
    return response


def _request(
    method: str,
    url: str,
    timeout: float,
    headers: Mapping[str, str],
    max_bytes: int,
    deadline: float,
    cancelled: Any,
) -> Response:
    import time

    import requests

    try:
        r = _session().request(
            method, url, headers=headers, timeout=timeout, allow_redirects=True, stream=True
        )
        with r:
            chunks: list[bytes] = []
            size = 0
            if method != "HEAD":
                for chunk in r.iter_content(64 * 1024):
                    size += len(chunk)
                    if size > max_bytes:
                        limit = (
                            f"{max_bytes // (1024 * 1024)} MB"
                            if max_bytes >= 1024 * 1024
                            else f"{max_bytes} bytes"
                        )
                        raise NetError(
                            f"the answer from {redact_url_credentials(url)} is larger than {limit}"
                        )
                    if cancelled.is_set() or time.monotonic() > deadline:
                        raise NetError(f"no complete answer within {timeout:g} s")
                    chunks.append(chunk)
    except requests.RequestException as exc:
        raise NetError(redact_url_credentials(f"{type(exc).__name__}: {exc}")) from None
    return Response(
        url=redact_url_credentials(r.url),
        status=r.status_code,
        headers={k.lower(): v for k, v in r.headers.items()},
        content=b"".join(chunks),
    )


def get(
    url: str,
    *,
    timeout: float,
    accept: Optional[str] = None,
    headers: Optional[Mapping[str, str]] = None,
    max_bytes: Optional[int] = None,
) -> Response:
    return request("GET", url, timeout=timeout, accept=accept, headers=headers, max_bytes=max_bytes)


def head(url: str, *, timeout: float) -> Response:
    return request("HEAD", url, timeout=timeout)
