"""The one client for package indexes: PEP 691 JSON and PEP 503 HTML project pages, PEP 658/714
core metadata (a wheel's METADATA without the wheel).

Every request goes through :mod:`torchsetup.net` (one session, timeouts, redacted errors). A page
is asked for as JSON first (``Accept`` with the HTML types at lower quality) and parsed as
whatever the server answers. Conditional requests: pass the ``etag``/``last_modified`` of a
cached page and a ``304 Not Modified`` comes back as ``ProjectPage(not_modified=True)``. Every
answer is read up to a size limit (:data:`MAX_PAGE_BYTES`, :data:`MAX_METADATA_BYTES`).

Where an index does not serve PEP 658 files (pypi.org does not for every release), the
warehouse JSON API (``/pypi/<name>/<version>/json``, then ``/pypi/<name>/json`` for the newest
release) is the fallback for Requires-Dist: :func:`fetch_requirements`.

Pure parsing (:func:`parse_json`, :func:`parse_html`, :func:`parse_metadata`,
:func:`wheel_facts`) is separate from I/O so it can be tested without a server.
"""

from __future__ import annotations

import email.parser
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, Callable, NamedTuple, Optional
from urllib.parse import unquote, urljoin, urlsplit

from torchsetup import net
from torchsetup.redact import redact_url_credentials

SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
SIMPLE_ACCEPT = f"{SIMPLE_JSON}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
MAX_PAGE_BYTES = 32 * 1024 * 1024  # pypi.org's torch page is ~0.5 MB as JSON
MAX_METADATA_BYTES = 2 * 1024 * 1024

Get = Callable[..., net.Response]


class IndexAnswerError(net.NetError):
    """An index answered, but not with a page (HTTP 5xx, 403, not JSON...). Redacted."""


@dataclass(frozen=True)
class IndexFile:
    """One file a project page lists."""

    filename: str
    url: str
    size: Optional[int] = None
    requires_python: Optional[str] = None
    sha256: Optional[str] = field(default=None, compare=False)
    # PEP 658/714: the metadata file's hash ("sha256=..."), "true" when unhashed, None: not served
    core_metadata: Optional[str] = field(default=None, compare=False)
    yanked: bool = field(default=False, compare=False)

    @property
    def metadata_url(self) -> str:
        return self.url.split("#", 1)[0] + ".metadata"


@dataclass(frozen=True)
class ProjectPage:
    url: str  # redacted
    files: tuple[IndexFile, ...] = ()
    etag: Optional[str] = None
    last_modified: Optional[str] = None
    not_modified: bool = False  # a 304 answer to a conditional request: use the cached page


# --- pages -------------------------------------------------------------------------------------


def _meta_value(value: Any) -> Optional[str]:
    if value is True:
        return "true"
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in sorted(value.items())) or "true"
    return None


def parse_json(data: bytes, page_url: str) -> list[IndexFile]:
    """The files of a PEP 691 JSON project page."""
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise IndexAnswerError(f"{redact_url_credentials(page_url)}: not JSON ({exc})") from None
    files = doc.get("files") if isinstance(doc, dict) else None
    if not isinstance(files, list):
        raise IndexAnswerError(f"{redact_url_credentials(page_url)}: no 'files' list")
    out = []
    for f in files:
        if not isinstance(f, dict) or not isinstance(f.get("filename"), str):
            continue
        size = f.get("size")
        hashes: dict[str, Any] = f["hashes"] if isinstance(f.get("hashes"), dict) else {}
        meta = f.get("core-metadata", f.get("dist-info-metadata"))
        out.append(
            IndexFile(
                f["filename"],
                urljoin(page_url, str(f.get("url") or f["filename"])),
                size if isinstance(size, int) and not isinstance(size, bool) else None,
                f.get("requires-python") if isinstance(f.get("requires-python"), str) else None,
                hashes.get("sha256"),
                _meta_value(meta),
                bool(f.get("yanked")),
            )
        )
    return out


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[dict[str, Optional[str]], str]] = []
        self._current: Optional[dict[str, Optional[str]]] = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, Optional[str]]]) -> None:
        if tag == "a":
            self._current, self._text = dict(attrs), ""

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._current is not None:
            self.links.append((self._current, self._text.strip()))
            self._current = None


def parse_html(text: str, page_url: str) -> list[IndexFile]:
    """The files of a PEP 503 HTML project page (PEP 592 yanked, PEP 658/714 metadata)."""
    parser = _Anchors()
    parser.feed(text)
    out = []
    for attrs, label in parser.links:
        href = attrs.get("href")
        if not href:
            continue
        url = urljoin(page_url, href)
        path_name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
        fragment = urlsplit(url).fragment
        sha = fragment[7:] if fragment.startswith("sha256=") else None
        meta = attrs.get("data-core-metadata", attrs.get("data-dist-info-metadata"))
        out.append(
            IndexFile(
                label or path_name,
                url,
                None,
                attrs.get("data-requires-python"),
                sha,
                (meta or "true") if meta is not None and meta != "false" else None,
                "data-yanked" in attrs,
            )
        )
    return out


def project_url(index_url: str, name: str) -> str:
    from packaging.utils import canonicalize_name

    return f"{index_url.rstrip('/')}/{canonicalize_name(name)}/"


def fetch_project(
    index_url: str,
    name: str,
    *,
    timeout: float = 30.0,
    etag: Optional[str] = None,
    last_modified: Optional[str] = None,
    get: Get = net.get,
) -> Optional[ProjectPage]:
    """The page of ``name`` on ``index_url``; None when the index has no such project (404).
    Raises :class:`net.NetError` (no answer) or :class:`IndexAnswerError` (a bad answer)."""
    page = project_url(index_url, name)
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    r = get(page, timeout=timeout, accept=SIMPLE_ACCEPT, headers=headers, max_bytes=MAX_PAGE_BYTES)
    shown = redact_url_credentials(page)
    if r.status == 404:
        return None
    if r.status == 304:
        return ProjectPage(shown, (), etag, last_modified, not_modified=True)
    if not r.ok:
        raise IndexAnswerError(f"HTTP {r.status} from {shown}")
    files = parse_json(r.content, page) if r.content_type == SIMPLE_JSON else None
    if files is None:
        files = parse_html(r.text, page)
    return ProjectPage(
        shown, tuple(files), r.headers.get("etag"), r.headers.get("last-modified"), False
    )


# --- core metadata -------------------------------------------------------------------------------


class Metadata(NamedTuple):
    name: str
    version: str
    requires_python: Optional[str]
    requires_dist: tuple[str, ...]


def parse_metadata(data: bytes) -> Metadata:
    """A METADATA file (RFC 822 headers): name, version, Requires-Python, Requires-Dist."""
    msg = email.parser.BytesHeaderParser().parsebytes(data)
    return Metadata(
        str(msg.get("Name", "")),
        str(msg.get("Version", "")),
        str(msg["Requires-Python"]) if msg.get("Requires-Python") else None,
        tuple(str(v) for v in msg.get_all("Requires-Dist") or ()),
    )


def fetch_metadata(
    file: IndexFile, *, timeout: float = 15.0, get: Get = net.get
) -> Optional[Metadata]:
    """The PEP 658 metadata of ``file``; None when the index does not serve it."""
    if file.core_metadata is None:
        return None
    r = get(file.metadata_url, timeout=timeout, max_bytes=MAX_METADATA_BYTES)
    if r.status == 404:
        return None
    if not r.ok:
        raise IndexAnswerError(f"HTTP {r.status} from {redact_url_credentials(file.metadata_url)}")
    return parse_metadata(r.content)


def warehouse_json_url(index_url: str) -> Optional[str]:
    """'https://pypi.org/simple' -> 'https://pypi.org/pypi' (the warehouse JSON API); None for
    an index that is not a warehouse."""
    parts = urlsplit(index_url)
    if parts.path.rstrip("/") != "/simple" or parts.hostname not in ("pypi.org", "test.pypi.org"):
        return None
    return f"{parts.scheme}://{parts.netloc}/pypi"


def fetch_requirements(
    index_url: str,
    name: str,
    version: str,
    file: Optional[IndexFile],
    *,
    timeout: float = 15.0,
    get: Get = net.get,
) -> Optional[Metadata]:
    """Requires-Dist of ``name==version``: PEP 658 metadata of ``file`` when the index serves
    it, else (pypi.org) the warehouse JSON API; None when neither says."""
    if file is not None:
        found = fetch_metadata(file, timeout=timeout, get=get)
        if found is not None:
            return found
    api = warehouse_json_url(index_url)
    if api is None:
        return None
    for url in (f"{api}/{name}/{version}/json", f"{api}/{name}/json"):
        r = get(url, timeout=timeout, max_bytes=MAX_PAGE_BYTES)
        if not r.ok:
            continue
        try:
            info = json.loads(r.content).get("info") or {}
        except (ValueError, AttributeError):
            continue
        if str(info.get("version")) != version:
            continue
        return Metadata(
            str(info.get("name") or name),
            version,
            info.get("requires_python") or None,
            tuple(info.get("requires_dist") or ()),
        )
    return None


# --- wheel file names ----------------------------------------------------------------------------


class WheelFacts(NamedTuple):
    name: str  # canonical
    version: str  # public part: 2.15.0
    local: str  # local label: cu132, cpu, "" for none
    pythons: tuple[str, ...]  # '3.12', '3.14t'
    platforms: tuple[str, ...]  # matrix platform keys
    platform_tags: tuple[str, ...]  # manylinux_2_28_x86_64, ...


def platform_key(tag: str) -> Optional[str]:
    """A wheel platform tag -> the matrix's platform key (None: not one torchsetup plans for)."""
    if "linux" in tag and tag.endswith("x86_64"):
        return "linux-x86_64"
    if "linux" in tag and tag.endswith("aarch64"):
        return "linux-aarch64"
    if tag == "win_amd64":
        return "windows-x86_64"
    if tag.startswith("macosx") and tag.endswith(("arm64", "universal2")):
        return "macos-arm64"
    if tag.startswith("macosx") and tag.endswith("x86_64"):
        return "macos-x86_64"
    if tag == "any":
        return "any"
    return None


def python_of(interpreter: str, abi: str) -> Optional[str]:
    """cp310 / cp310 -> '3.10'; cp313 / cp313t -> '3.13t'; py3 -> None (any Python)."""
    m = re.fullmatch(r"cp3(\d+)", interpreter)
    if not m:
        return None
    return f"3.{m.group(1)}" + ("t" if abi.endswith("t") else "")


def wheel_facts(filename: str) -> Optional[WheelFacts]:
    """The facts a wheel's file name states; None for anything but a valid wheel name."""
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename
    from packaging.version import InvalidVersion

    try:
        name, version, _, tags = parse_wheel_filename(unquote(filename))
    except (InvalidWheelFilename, InvalidVersion):
        return None
    pythons = sorted({p for t in tags if (p := python_of(t.interpreter, t.abi))})
    platform_tags = sorted({t.platform for t in tags})
    platforms = sorted({k for p in platform_tags if (k := platform_key(p))})
    return WheelFacts(
        str(name),
        version.public,
        version.local or "",
        tuple(pythons),
        tuple(platforms),
        tuple(platform_tags),
    )
