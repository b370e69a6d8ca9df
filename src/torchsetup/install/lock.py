"""Locking a plan: every file it installs, with its URL and sha256, read from the index.

:func:`lock_plan` starts from the plan's pins (``torch==2.13.0`` ...), picks for each the wheel
the target installs (its tags and ``Requires-Python``, the plan's variant preferred: the same
choice the preflight makes), reads that wheel's core metadata (PEP 658, ``URL.metadata``) and
follows its ``Requires-Dist`` (markers evaluated for the target), taking the newest version
each requirement allows, until every dependency is pinned. The index is read only through
:func:`index_project` and :func:`index_metadata` (the one door: a shared index client can
replace them). The result is a :class:`torchsetup.resolve.lockfile.Lock`; a conflict (two
requirements no one version meets) is a refusal: the lock would not be installable.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from email.parser import HeaderParser
from typing import Callable, Optional

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from torchsetup import net
from torchsetup.detect.model import TargetPython
from torchsetup.errors import UsageError
from torchsetup.install.preflight import (
    SIMPLE_ACCEPT,
    FileLink,
    _python_ok,
    fetch_project,
    target_tags,
)
from torchsetup.redact import redact_url_credentials
from torchsetup.resolve.lockfile import Lock, LockedPackage, LockedWheel
from torchsetup.resolve.plan import Plan

Get = Callable[..., net.Response]
MAX_PACKAGES = 500


# --- the index door ----------------------------------------------------------------------------


def index_project(index_url: str, name: str, *, get: Get = net.get) -> Optional[list[FileLink]]:
    """The files the index lists for ``name`` (PEP 691 JSON, else PEP 503 HTML; with hashes)."""
    return fetch_project(index_url, name, get=get)


def index_metadata(link: FileLink, *, get: Get = net.get) -> bytes:
    """The core metadata of a wheel: PEP 658's ``URL.metadata`` (never the whole wheel)."""
    where = redact_url_credentials(link.url)
    if link.core_metadata is None:
        raise UsageError(
            f"the index does not serve the metadata of {link.filename} (PEP 658): cannot lock "
            "its dependencies without downloading it",
            hint=f"lock from an index that does, or install without a lock ({where})",
        )
    r = get(link.metadata_url, timeout=60.0, accept=SIMPLE_ACCEPT)
    if not r.ok:
        raise net.NetError(f"HTTP {r.status} from {where}.metadata")
    return r.content


# --- the target's markers ----------------------------------------------------------------------


def marker_environment(py: TargetPython) -> dict[str, str]:
    """PEP 508 marker values of the target (from its probe, not from this process)."""
    version = py.version or ""
    minor = py.minor or ""
    platform = py.platform or "linux"
    machine = py.machine or "x86_64"
    system = {"linux": "Linux", "darwin": "Darwin", "win32": "Windows"}.get(platform, platform)
    impl = py.implementation or "cpython"
    return {
        "python_version": minor,
        "python_full_version": version,
        "sys_platform": platform,
        "platform_machine": machine,
        "platform_system": system,
        "os_name": "nt" if platform == "win32" else "posix",
        "implementation_name": impl,
        "platform_python_implementation": {"cpython": "CPython", "pypy": "PyPy"}.get(impl, impl),
        "platform_release": "",
        "platform_version": "",
        "implementation_version": version,
        "extra": "",
    }


def requirements_of(metadata: bytes, env: Mapping[str, str]) -> list[Requirement]:
    """The ``Requires-Dist`` of a wheel's metadata that apply to the target (no extras)."""
    headers = HeaderParser().parsestr(metadata.decode("utf-8", errors="replace"))
    out = []
    for line in headers.get_all("Requires-Dist") or []:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if req.marker is None or req.marker.evaluate(dict(env)):
            out.append(req)
    return out


# --- picking wheels ----------------------------------------------------------------------------


def _pick(
    name: str,
    spec: SpecifierSet,
    files: Iterable[FileLink],
    py: TargetPython,
    prefer_local: Optional[str],
) -> Optional[tuple[Version, FileLink]]:
    """The newest version ``spec`` allows that has a wheel for the target, and that wheel."""
    tags = target_tags(py)
    rank = {t: i for i, t in enumerate(tags)}
    key = canonicalize_name(name)
    best: dict[Version, tuple[int, FileLink]] = {}
    for f in files:
        try:
            wname, version, _, wtags = parse_wheel_filename(f.filename)
        except (InvalidWheelFilename, InvalidVersion):
            continue
        hits = [rank[t] for t in wtags if t in rank]
        if wname != key or not hits or not _python_ok(f.requires_python, py.version or ""):
            continue
        if not spec.contains(version, prereleases=bool(spec) and _pre(spec)):
            continue
        score = min(hits)
        if version not in best or score < best[version][0]:
            best[version] = (score, f)
    if not best:
        return None

    def order(v: Version) -> tuple[bool, Version]:
        return (prefer_local is None or v.local == prefer_local, v)

    chosen = max(best, key=order)
    return chosen, best[chosen][1]


def _pre(spec: SpecifierSet) -> bool:
    return any(Version(s.version.replace("*", "0")).is_prerelease for s in spec if s.version)


# --- the lock ----------------------------------------------------------------------------------


def lock_plan(plan: Plan, py: TargetPython, *, get: Get = net.get) -> Lock:
    """Every file ``plan`` installs into ``py`` (the target, as probed or as in a snapshot),
    dependencies included, from the plan's index. Raises UsageError when it cannot."""
    index = plan.index_url
    if plan.method not in ("pip", "uv") or not index:
        raise UsageError(
            f"a lock needs a pip or uv plan with an index (this plan uses {plan.method})",
            hint="use --export sh for conda and source plans",
        )
    env = marker_environment(py)
    where = f"the index {redact_url_credentials(index)}"
    pending: deque[tuple[str, SpecifierSet, str]] = deque(
        (name, SpecifierSet(f"=={version}"), "the plan") for name, version in plan.packages()
    )
    planned = {canonicalize_name(n) for n, _ in plan.packages()}
    chosen: dict[str, tuple[Version, FileLink, str]] = {}
    pages: dict[str, Optional[list[FileLink]]] = {}
    while pending:
        name, spec, origin = pending.popleft()
        key = canonicalize_name(name)
        if key in chosen:
            version = chosen[key][0]
            if not spec.contains(version, prereleases=True):
                raise UsageError(
                    f"cannot lock: {origin} needs {name}{spec}, but {name} {version} was "
                    f"chosen for {chosen[key][2]}"
                )
            continue
        if len(chosen) >= MAX_PACKAGES:
            raise UsageError(f"cannot lock: more than {MAX_PACKAGES} packages")
        if key not in pages:
            try:
                pages[key] = index_project(index, name, get=get)
            except net.NetError as exc:
                raise UsageError(f"cannot lock: {where} could not be read: {exc}") from None
        files = pages[key]
        picked = (
            _pick(name, spec, files, py, plan.variant if key in planned else None)
            if files
            else None
        )
        if picked is None:
            raise UsageError(
                f"cannot lock: {where} has no wheel of {name}{spec or ''} for this target "
                f"(needed by {origin})"
            )
        version, link = picked
        if link.sha256 is None:
            raise UsageError(
                f"cannot lock: {where} lists {link.filename} without a sha256 (PEP 691/503 hash)"
            )
        chosen[key] = (version, link, origin)
        try:
            metadata = index_metadata(link, get=get)
        except net.NetError as exc:
            raise UsageError(f"cannot lock: {exc}") from None
        for req in requirements_of(metadata, env):
            pending.append((req.name, req.specifier, f"{name} {version}"))
    packages = tuple(
        LockedPackage(
            name=key,
            version=str(version),
            index=index,
            wheel=LockedWheel(
                link.filename, link.url.split("#", 1)[0], link.sha256 or "", link.size
            ),
        )
        for key, (version, link, _) in sorted(chosen.items())
    )
    requires = f"=={py.minor}.*" if py.minor else None
    marker = (
        f"sys_platform == '{env['sys_platform']}' and platform_machine == "
        f"'{env['platform_machine']}' and python_version == '{env['python_version']}'"
    )
    return Lock(packages, requires_python=requires, environment=marker)


# --- installing a lock -------------------------------------------------------------------------


def read_lock(path: str) -> Lock:
    """The pylock.toml at ``path`` (uv reads only files named pylock.toml / pylock.NAME.toml)."""
    from pathlib import Path

    from torchsetup.resolve.lockfile import parse_pylock

    file = Path(path)
    if not file.is_file():
        raise UsageError(f"--lock {path}: no such file")
    if not (
        file.name == "pylock.toml" or (file.name.startswith("pylock.") and file.suffix == ".toml")
    ):
        raise UsageError(
            f"--lock {path}: a lock file is named pylock.toml or pylock.NAME.toml (PEP 751)"
        )
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--lock {path}: cannot read it: {exc}") from None
    lock = parse_pylock(text, where=f"--lock {path}")
    missing = [p.name for p in lock.packages if p.wheel is None or not p.wheel.sha256]
    if missing:
        raise UsageError(f"--lock {path}: no wheel with a sha256 for {', '.join(missing)}")
    return lock


def lock_install_plan(plan: Plan, path: str, lock: Lock) -> Plan:
    """The complete plan with its install step replaced by the lock's (see with_lock)."""
    import os

    from torchsetup.resolve.complete import with_lock

    return with_lock(plan, os.path.abspath(path), len(lock.packages))


__all__ = [
    "index_metadata",
    "index_project",
    "lock_install_plan",
    "lock_plan",
    "marker_environment",
    "read_lock",
]
