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


def request(method: str, url: str, *, timeout: float, accept: Optional[str] = None) -> Response:
    """One HTTP request; non-2xx answers are returned, not raised."""
    import requests

    headers = {"Accept": accept} if accept else {}
    try:
        r = _session().request(method, url, headers=headers, timeout=timeout, allow_redirects=True)
    except requests.RequestException as exc:
        raise NetError(redact_url_credentials(f"{type(exc).__name__}: {exc}")) from None
    return Response(
        url=redact_url_credentials(r.url),
        status=r.status_code,
        headers={k.lower(): v for k, v in r.headers.items()},
        content=r.content if method != "HEAD" else b"",
    )


def get(url: str, *, timeout: float, accept: Optional[str] = None) -> Response:
    return request("GET", url, timeout=timeout, accept=accept)


def head(url: str, *, timeout: float) -> Response:
    return request("HEAD", url, timeout=timeout)
