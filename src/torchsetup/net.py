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
    request (conditional requests: If-None-Match, If-Modified-Since); a body longer than
    ``max_bytes`` is a :class:`NetError` (the rest is not read)."""
    import requests

    sent = dict(headers or {})
    if accept:
        sent["Accept"] = accept
    try:
        r = _session().request(
            method,
            url,
            headers=sent,
            timeout=timeout,
            allow_redirects=True,
            stream=max_bytes is not None,
        )
        if method == "HEAD":
            content = b""
        elif max_bytes is None:
            content = r.content
        else:
            chunks, size = [], 0
            for chunk in r.iter_content(64 * 1024):
                size += len(chunk)
                if size > max_bytes:
                    r.close()
                    raise NetError(
                        redact_url_credentials(f"{url}: answer larger than {max_bytes} bytes")
                    )
                chunks.append(chunk)
            content = b"".join(chunks)
    except requests.RequestException as exc:
        raise NetError(redact_url_credentials(f"{type(exc).__name__}: {exc}")) from None
    return Response(
        url=redact_url_credentials(r.url),
        status=r.status_code,
        headers={k.lower(): v for k, v in r.headers.items()},
        content=content,
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
