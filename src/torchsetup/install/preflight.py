"""Preflight: everything an install checks before it changes anything.

1. The target interpreter (a :class:`TargetPython` from the one target probe,
   :func:`torchsetup.detect.probes.python_target.probe_python`) gives the platform facts wheel
   tags need.
2. For each planned distribution (torch, torchvision, torchaudio) the index is asked (PEP 691
   JSON, else the PEP 503 HTML page) whether a wheel of that exact version exists for the
   target's tags (:func:`check_index`; a ``--find-links`` folder is read instead,
   :func:`check_folder`). A missing one is a refusal that names what the index *does* offer.
3. Free disk (site-packages, the installer's cache, TMPDIR) is compared with the download size
   (from the index) and an installed-size estimate (:func:`disk_needs`, :func:`check_disk`).
4. Every step's program must exist (:func:`check_programs`).

Nothing here changes the machine; the only side effect is HTTP (through :mod:`torchsetup.net`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Callable, Optional
from urllib.parse import unquote, urljoin, urlsplit

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag, compatible_tags, cpython_tags, generic_tags, mac_platforms
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from torchsetup import net
from torchsetup.detect.model import TargetPython
from torchsetup.errors import UsageError
from torchsetup.redact import redact_url_credentials
from torchsetup.resolve.complete import option_value, version_matches
from torchsetup.resolve.plan import Plan, Step

# --- wheel tags of the target ----------------------------------------------------------------

_MANYLINUX_ALIASES = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}


def _sysconfig_platform(py: TargetPython) -> str:
    """sysconfig's platform as the probe reported it; derived from sys.platform and the machine
    for a record without it (an older snapshot)."""
    if py.sysconfig_platform:
        return py.sysconfig_platform
    machine = py.machine or "x86_64"
    if py.platform == "darwin":
        return f"macosx-11.0-{machine}"
    if py.platform == "win32":
        return {"AMD64": "win-amd64", "ARM64": "win-arm64"}.get(machine, "win-amd64")
    return f"linux-{machine}"


def _linux_platforms(arch: str, py: TargetPython) -> list[str]:
    out: list[str] = []
    m = re.match(r"(\d+)\.(\d+)", py.libc_version or "") if py.libc == "glibc" else None
    if m and int(m.group(1)) == 2:
        lowest = 5 if arch in ("x86_64", "i686") else 17
        for minor in range(int(m.group(2)), lowest - 1, -1):
            out.append(f"manylinux_2_{minor}_{arch}")
            alias = _MANYLINUX_ALIASES.get(minor)
            if alias and (minor == 17 or arch in ("x86_64", "i686")):
                out.append(f"{alias}_{arch}")
    out.append(f"linux_{arch}")
    return out


def platform_tags(py: TargetPython) -> list[str]:
    plat = _sysconfig_platform(py)
    if plat.startswith("linux-"):
        return _linux_platforms(plat.split("-", 1)[1], py)
    if plat.startswith("macosx-"):
        m = re.match(r"(\d+)\.(\d+)", py.mac_version or plat.split("-")[1])
        version = (int(m.group(1)), int(m.group(2))) if m else (11, 0)
        return list(mac_platforms(version, py.machine or plat.rsplit("-", 1)[1]))
    return [re.sub(r"[-.]", "_", plat)]


def target_tags(py: TargetPython) -> list[Tag]:
    """The target's supported tags, most preferred first (computed, not read from the target)."""
    vt = py.version_tuple
    if vt is None:
        raise UsageError(f"cannot tell the Python version of {py.executable}")
    platforms = platform_tags(py)
    if py.implementation in ("cpython", None):
        abi = f"cp{vt[0]}{vt[1]}{py.abiflags or ''}"
        tags = list(cpython_tags(vt, [abi], platforms))
        interpreter = f"cp{vt[0]}{vt[1]}"
    else:
        short = {"pypy": "pp"}.get(py.implementation or "", py.implementation or "py")
        interpreter = f"{short}{vt[0]}{vt[1]}"
        tags = list(generic_tags(interpreter, ["none"], platforms))
    return tags + list(compatible_tags(vt, interpreter, platforms))


def describe_target(py: TargetPython) -> str:
    """'cp311 on manylinux_2_36_x86_64 (glibc 2.36)': what the user's Python accepts, briefly."""
    tags = target_tags(py)
    libc = f" ({py.libc} {py.libc_version})" if py.libc and py.libc_version else ""
    return f"{tags[0].interpreter} on {tags[0].platform}{libc}"


# --- index pages -----------------------------------------------------------------------------

SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
SIMPLE_ACCEPT = f"{SIMPLE_JSON}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"


@dataclass(frozen=True)
class FileLink:
    filename: str
    url: str
    size: Optional[int] = None
    requires_python: Optional[str] = None


def parse_simple_json(data: bytes, page_url: str) -> list[FileLink]:
    doc = json.loads(data)
    files = doc.get("files", []) if isinstance(doc, dict) else None
    if not isinstance(files, list):
        raise TypeError("no list of files")
    out = []
    for f in files:
        if not isinstance(f, dict) or not isinstance(f.get("filename"), str):
            raise TypeError("a file entry without a filename")
        if not isinstance(f.get("url"), str):
            raise TypeError("a file entry without a url")
        size = f.get("size")
        requires = f.get("requires-python")
        out.append(
            FileLink(
                f["filename"],
                urljoin(page_url, f["url"]),
                size if isinstance(size, int) and not isinstance(size, bool) else None,
                requires if isinstance(requires, str) else None,
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


def parse_simple_html(text: str, page_url: str) -> list[FileLink]:
    parser = _Anchors()
    parser.feed(text)
    out = []
    for attrs, label in parser.links:
        href = attrs.get("href")
        if not href:
            continue
        url = urljoin(page_url, href)
        filename = label or unquote(urlsplit(url).path.rsplit("/", 1)[-1])
        out.append(FileLink(filename, url, None, attrs.get("data-requires-python")))
    return out


Get = Callable[..., net.Response]


def fetch_project(
    index_url: str, name: str, *, get: Get = net.get, timeout: float = 30.0
) -> Optional[list[FileLink]]:
    """The files an index lists for ``name``; None when the index has no such project (404)."""
    page = f"{index_url.rstrip('/')}/{canonicalize_name(name)}/"
    r = get(page, timeout=timeout, accept=SIMPLE_ACCEPT)
    if r.status == 404:
        return None
    if not r.ok:
        raise net.NetError(f"HTTP {r.status} from {redact_url_credentials(page)}")
    try:  # the index is untrusted: a page of the wrong shape is its fault, not a bug here
        if r.content_type == SIMPLE_JSON:
            return parse_simple_json(r.content, page)
        return parse_simple_html(r.text, page)
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        raise net.NetError(
            f"{redact_url_credentials(page)} is not a PEP 503/691 page ({type(exc).__name__})"
        ) from None


# --- matching planned distributions against what is offered ----------------------------------


@dataclass(frozen=True)
class DistCheck:
    name: str
    version: str
    file: Optional[FileLink] = None  # the wheel the installer will most likely pick
    problem: str = ""  # why there is none (empty when ``file`` is set)


def _python_ok(requires: Optional[str], python_version: str) -> bool:
    if not requires:
        return True
    try:
        return SpecifierSet(requires).contains(python_version, prereleases=True)
    except (InvalidSpecifier, InvalidVersion):
        return True


def _summary(wheels: list[tuple[FileLink, frozenset[Tag]]]) -> str:
    interpreters = sorted({t.interpreter for _, tags in wheels for t in tags})
    platforms = sorted({t.platform for _, tags in wheels for t in tags})
    return f"{', '.join(interpreters)} on {', '.join(platforms)}"


def match_distribution(
    name: str,
    version: str,
    variant: Optional[str],
    files: Iterable[FileLink],
    *,
    py: TargetPython,
    where: str,
) -> DistCheck:
    """Pick the wheel of ``name==version`` the target can install, or say what ``where`` offers."""
    key = canonicalize_name(name)
    wheels: list[tuple[FileLink, Version, frozenset[Tag]]] = []
    for f in files:
        try:
            wname, wversion, _, wtags = parse_wheel_filename(f.filename)
        except (InvalidWheelFilename, InvalidVersion):
            continue
        if wname == key:
            wheels.append((f, wversion, wtags))
    if not wheels:
        return DistCheck(name, version, problem=f"{where} has no {name} at all")
    same = [(f, v, t) for f, v, t in wheels if version_matches(version, v)]
    if not same:
        offered = sorted({Version(v.public) for _, v, _ in wheels}, reverse=True)
        shown = ", ".join(str(v) for v in offered[:8]) + (", …" if len(offered) > 8 else "")
        return DistCheck(name, version, problem=f"{where} has no {name} {version} (it has {shown})")
    tags = target_tags(py)
    rank = {t: i for i, t in enumerate(tags)}
    py_version = py.version or ""
    usable = [
        (f, v, t)
        for f, v, t in same
        if t & rank.keys() and _python_ok(f.requires_python, py_version)
    ]
    if not usable:
        return DistCheck(
            name,
            version,
            problem=(
                f"{where} has {name} {version} for {_summary([(f, t) for f, _, t in same])}; "
                f"your Python is {describe_target(py)}"
            ),
        )
    labelled = {v.local for _, v, _ in usable if v.local}
    if (
        variant
        and labelled
        and len(labelled) == len({v.local for _, v, _ in usable})
        and variant not in labelled
    ):
        return DistCheck(
            name,
            version,
            problem=(
                f"{where} offers {name} {version} only as {', '.join(sorted('+' + x for x in labelled))}, "
                f"but the plan is for {variant}: is it the right index?"
            ),
        )
    preferred = [(f, v, t) for f, v, t in usable if v.local in (None, variant)] or usable
    best = min(preferred, key=lambda item: min(rank[t] for t in item[2] if t in rank))
    return DistCheck(name, version, file=best[0])


def check_index(
    plan: Plan,
    py: TargetPython,
    index_url: str,
    *,
    get: Get = net.get,
    head: Optional[Get] = None,
) -> tuple[list[DistCheck], list[str]]:
    """Check each planned distribution on the index; returns (checks, notes about skipped ones)."""
    where = f"the index {redact_url_credentials(index_url)}"
    checks: list[DistCheck] = []
    notes: list[str] = []
    for name, version in plan.packages():
        try:
            files = fetch_project(index_url, name, get=get)
        except net.NetError as exc:
            notes.append(f"could not check {name} on {where}: {exc} (the installer will try)")
            continue
        if files is None:
            checks.append(DistCheck(name, version, problem=f"{where} has no {name} at all"))
            continue
        check = match_distribution(name, version, plan.variant, files, py=py, where=where)
        if check.file is not None and check.file.size is None and head is not None:
            check = DistCheck(name, version, file=_with_head_size(check.file, head))
        checks.append(check)
    return checks, notes


def _with_head_size(link: FileLink, head: Get) -> FileLink:
    try:
        r = head(link.url, timeout=15.0)
    except net.NetError:
        return link
    length = r.headers.get("content-length", "")
    if r.ok and length.isdigit():
        return FileLink(link.filename, link.url, int(length), link.requires_python)
    return link


def check_folder(plan: Plan, py: TargetPython, folder: str) -> list[DistCheck]:
    """The ``--find-links DIR`` counterpart of :func:`check_index`: read the folder."""
    path = Path(folder)
    if not path.is_dir():
        return [
            DistCheck(name, version, problem=f"--find-links {folder} is not a folder")
            for name, version in plan.packages()
        ]
    files = folder_files(path)
    return [
        match_distribution(name, version, plan.variant, files, py=py, where=f"the folder {folder}")
        for name, version in plan.packages()
    ]


def folder_files(path: Path) -> list[FileLink]:
    return [FileLink(p.name, p.as_uri(), p.stat().st_size) for p in sorted(path.glob("*.whl"))]


def source_carries(
    *, index_url: Optional[str], find_links: Optional[str], get: Get = net.get
) -> Callable[[str], Optional[bool]]:
    """For planning: does the ``--index-url`` or ``--find-links`` folder carry a project at all
    (None: could not tell, the network failed)? The plan drops a default companion it lacks."""

    def carries(name: str) -> Optional[bool]:
        key = canonicalize_name(name)
        if find_links:
            path = Path(find_links)
            if not path.is_dir():
                return None
            for f in folder_files(path):
                try:
                    if parse_wheel_filename(f.filename)[0] == key:
                        return True
                except (InvalidWheelFilename, InvalidVersion):
                    continue
            return False
        if not index_url:
            return None
        try:
            return fetch_project(index_url, name, get=get, timeout=10.0) is not None
        except net.NetError:
            return None

    return carries


# --- disk ------------------------------------------------------------------------------------

# (download, installed) as multiples of the planned wheels' size. CPU: the 192 MB torch 2.13 wheel
# installs to 754 MB and its dependencies add ~10 MB (failures.md, measured). CUDA/ROCm: the
# nvidia-*/rocm libraries come as separate wheels several times torch's size; a CUDA environment
# is ~7.2 GB against a ~0.9 GB torch wheel (failures.md #22).
_CPU_FACTORS = (1.1, 4.0)
_GPU_FACTORS = (4.0, 8.0)


@dataclass(frozen=True)
class DiskNeed:
    label: str  # "site-packages", "pip cache", "uv cache", "TMPDIR"
    path: str
    bytes: int


def _cache_home(env: Mapping[str, str], app: str) -> str:
    home = env.get("HOME") or str(Path.home())
    if os.name == "nt":
        return str(
            Path(env.get("LOCALAPPDATA") or home) / app / ("Cache" if app == "pip" else "cache")
        )
    if env.get("XDG_CACHE_HOME"):
        return str(Path(env["XDG_CACHE_HOME"]) / app)
    if sys.platform == "darwin":
        return str(Path(home) / "Library" / "Caches" / app)
    return str(Path(home) / ".cache" / app)


def _truthy(value: Optional[str]) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def disk_needs(
    *,
    method: str,
    variant: str,
    wheel_bytes: int,
    site_dir: str,
    install_argv: Sequence[str],
    env: Mapping[str, str],
    device_of: Callable[[str], int],
) -> list[DiskNeed]:
    """Where an install writes and how much, from the planned wheels' total size."""
    dl_factor, inst_factor = _CPU_FACTORS if variant == "cpu" else _GPU_FACTORS
    download, installed = int(wheel_bytes * dl_factor), int(wheel_bytes * inst_factor)
    tmp = env.get("TMPDIR") or tempfile.gettempdir()
    if method == "uv":
        no_cache = "--no-cache" in install_argv or _truthy(env.get("UV_NO_CACHE"))
        cache = tmp if no_cache else (env.get("UV_CACHE_DIR") or _cache_home(env, "uv"))
        needs = [DiskNeed("TMPDIR" if no_cache else "uv cache", cache, installed)]
        # uv hard-links from its cache into site-packages when both are on one file system.
        if device_of(cache) != device_of(site_dir):
            needs.append(DiskNeed("site-packages", site_dir, installed))
        return needs
    needs = [DiskNeed("site-packages", site_dir, installed), DiskNeed("TMPDIR", tmp, download)]
    if "--no-cache-dir" not in install_argv and not _truthy(env.get("PIP_NO_CACHE_DIR")):
        needs.append(
            DiskNeed("pip cache", env.get("PIP_CACHE_DIR") or _cache_home(env, "pip"), download)
        )
    return needs


def existing_ancestor(path: str) -> str:
    p = Path(path).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return str(p)


def _device(path: str) -> int:
    return Path(existing_ancestor(path)).stat().st_dev


def _mb(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


def check_disk(
    needs: Sequence[DiskNeed],
    *,
    free_bytes: Callable[[str], int],
    device_of: Callable[[str], int] = _device,
) -> list[str]:
    """One problem line per file system that lacks the room ``needs`` add up to there."""
    groups: dict[int, list[DiskNeed]] = {}
    for need in needs:
        groups.setdefault(device_of(need.path), []).append(need)
    problems = []
    for group in groups.values():
        total = sum(n.bytes for n in group)
        free = free_bytes(existing_ancestor(group[0].path))
        if free < total:
            parts = ", ".join(f"{n.label} {n.path}: {_mb(n.bytes)}" for n in group)
            problems.append(
                f"not enough free disk: {_mb(total)} needed ({parts}), {_mb(free)} free"
            )
    return problems


def free_bytes(path: str) -> int:
    return shutil.disk_usage(path).free


# --- programs --------------------------------------------------------------------------------


def check_programs(
    steps: Sequence[Step], env: Mapping[str, str], *, created: Sequence[str] = ()
) -> list[str]:
    """Every step's program must exist, except those inside folders an earlier step creates."""
    problems = []
    for step in steps:
        prog = step.argv[0]
        if any(_is_relative(prog, Path(c)) for c in created):
            continue
        found = (
            (Path(prog).is_file() and os.access(prog, os.X_OK))
            if os.sep in prog
            else bool(shutil.which(prog, path=env.get("PATH")))
        )
        if not found:
            problems.append(
                f"step '{step.id}' needs {prog}, which {'does not exist' if os.sep in prog else 'is not on PATH'}"
            )
    return problems


def _is_relative(path: str, folder: Path) -> bool:
    try:
        Path(path).relative_to(folder)
    except ValueError:
        return False
    return True


# --- the whole preflight ---------------------------------------------------------------------


@dataclass(frozen=True)
class PreflightReport:
    checks: tuple[DistCheck, ...] = ()
    wheel_bytes: Optional[int] = None  # total size of the planned wheels, when the source says
    needs: tuple[DiskNeed, ...] = ()
    notes: tuple[str, ...] = ()  # checks that could not run, and why
    problems: tuple[str, ...] = field(default=())


class Refused(UsageError):
    """A preflight refusal (exit 2): every reason, and nothing has been changed."""

    def __init__(self, problems: Sequence[str]) -> None:
        first = (
            problems[0]
            if len(problems) == 1
            else f"{len(problems)} problems: " + "; ".join(problems)
        )
        super().__init__(f"refusing to install: {first}", hint="nothing was changed")
        self.problems = tuple(problems)


@dataclass(frozen=True)
class Source:
    """Where the install step takes wheels from, read from its argv (and the environment)."""

    index_url: Optional[str] = None
    find_links: Optional[str] = None
    origin: str = ""  # "argv", "PIP_INDEX_URL", ...


def install_source(argv: Sequence[str], method: str, env: Mapping[str, str]) -> Source:
    links = option_value(argv, "--find-links", "-f")
    if links and "--no-index" in argv:
        return Source(find_links=links, origin="argv")
    url = option_value(argv, "--index-url", "-i", "--default-index")
    if url:
        return Source(index_url=url, origin="argv")
    for var in ("UV_DEFAULT_INDEX", "UV_INDEX_URL") if method == "uv" else ("PIP_INDEX_URL",):
        if env.get(var):
            return Source(index_url=env[var], origin=var)
    return Source()


def run_preflight(
    plan: Plan,
    py: TargetPython,
    install_argv: Sequence[str],
    *,
    site_dir: str,
    env: Mapping[str, str],
    get: Get = net.get,
    head: Optional[Get] = net.head,
    free: Callable[[str], int] = free_bytes,
    device_of: Callable[[str], int] = _device,
) -> PreflightReport:
    """Index/folder check and disk check for a pip or uv install step (see module doc)."""
    source = install_source(install_argv, plan.method, env)
    notes: list[str] = []
    if source.find_links:
        checks = check_folder(plan, py, source.find_links)
    elif source.index_url:
        checks, notes = check_index(plan, py, source.index_url, get=get, head=head)
    else:
        checks = []
        notes.append("index check skipped: the index comes from the installer's own configuration")
    problems = [c.problem for c in checks if c.problem]
    sizes = [c.file.size for c in checks if c.file is not None]
    wheel_bytes = (
        sum(s for s in sizes if s)
        if sizes and all(sizes) and len(sizes) == len(plan.packages())
        else None
    )
    needs: list[DiskNeed] = []
    if wheel_bytes is None:
        notes.append("disk check skipped: the download size is unknown")
    else:
        needs = disk_needs(
            method=plan.method,
            variant=plan.variant,
            wheel_bytes=wheel_bytes,
            site_dir=site_dir,
            install_argv=install_argv,
            env=env,
            device_of=device_of,
        )
        problems += check_disk(needs, free_bytes=free, device_of=device_of)
    return PreflightReport(tuple(checks), wheel_bytes, tuple(needs), tuple(notes), tuple(problems))
