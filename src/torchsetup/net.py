"""The one door for HTTP: a requests session with a User-Agent and timeouts on every call.

Nothing in torchsetup's default paths touches the network; this is for index queries
(``tools/update_matrix.py`` today). Unit tests make sockets fail, so a stray call is loud.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

import requests

from torchsetup import __version__

TIMEOUT = (5.0, 30.0)  # (connect, read) seconds
USER_AGENT = f"torchsetup/{__version__} (+https://github.com/torchsetup/torchsetup)"


def session() -> requests.Session:
    s = requests.Session()
    s.headers["User-Agent"] = USER_AGENT
    return s


def get(
    url: str,
    *,
    headers: Optional[Mapping[str, str]] = None,
    sess: Optional[requests.Session] = None,
) -> requests.Response:
    """GET ``url`` with the default timeouts; raises requests.HTTPError for 4xx/5xx."""
    response = (sess or session()).get(url, headers=dict(headers or {}), timeout=TIMEOUT)
    response.raise_for_status()
    return response


def get_text(
    url: str,
    *,
    headers: Optional[Mapping[str, str]] = None,
    sess: Optional[requests.Session] = None,
) -> str:
    return get(url, headers=headers, sess=sess).text


def get_json(
    url: str,
    *,
    headers: Optional[Mapping[str, str]] = None,
    sess: Optional[requests.Session] = None,
) -> Any:
    return get(url, headers={"Accept": "application/json", **(headers or {})}, sess=sess).json()
