"""Live index data on top of the curated matrix: observations, their cache, and the merge rule.

**Observations** (:func:`refresh`): for torch, torchvision and torchaudio, what PyPI and each
PyTorch variant index (``<base>/<variant>/<project>/``) list: the versions, each version's
Python tags and platforms, and (read with PEP 658 metadata, or pypi.org's JSON API) the
Requires-Dist of versions the curated data does not know. All through :mod:`torchsetup.index`.

**The cache** (:func:`load_cache`, :func:`save_cache`): one JSON file under the user cache
folder (``observations.json``) with the time it was fetched and each page's ETag/Last-Modified,
so the next refresh asks conditionally.

**The merge rule** (:func:`merge`): curated facts win where they exist. A release the indexes
show and the data does not is added with facts inferred by stated rules, each recorded as an
:class:`Inferred` fact (shown in "Facts used", ``--json`` and ``torchsetup matrix``):

- Python range: the wheel tags (cp3XX; cp3XXt are experimental free-threaded builds);
- platforms, wheel tag and glibc floor: the wheel tags (manylinux_2_28 -> glibc 2.28);
- PyPI's default build: the CUDA its Linux wheel requires (``cuda-toolkit==13.2.*`` or
  ``nvidia-*-cu13``: the newest CUDA row of that major), else the CPU build;
- driver minimum: the variant's CUDA row (a CUDA variant without a row is not planned);
- kernel list: the newest curated list of the same CUDA variant and platform;
- companions: a torchvision/torchaudio newer than every curated pairing whose Requires-Dist
  admits the release (a companion whose line ended in the data is revived only by one that
  names this torch minor as its floor).

A curated build the index no longer serves (the page was read and the version is missing or
yanked) is not planned: its variant loses its platforms, or PyPI its default.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Callable, NamedTuple, Optional

from torchsetup.matrix.model import (
    PLATFORMS,
    ArchList,
    ExperimentalPython,
    Matrix,
    PlatformInfo,
    Release,
    SourceBuild,
    Variant,
    WheelInfo,
)
from torchsetup.versions import cuda_variant_name, variant_kind, version_tuple

CACHE_VERSION = 1
CACHE_NAME = "observations.json"
PROJECTS = ("torch", "torchvision", "torchaudio")
PYPI_URL = "https://pypi.org/simple"
PYTORCH_INDEX = "https://download.pytorch.org/whl"
PYPI_ENV = "TORCHSETUP_PYPI_URL"
PYTORCH_ENV = "TORCHSETUP_PYTORCH_INDEX"
OFFLINE_ENV = "TORCHSETUP_OFFLINE"
MAX_AGE_S = 24 * 3600.0
PYPI = "pypi"  # the key of PyPI's observations (the others are variant names)

_FINAL = re.compile(r"^\d+\.\d+\.\d+$")


class Inferred(NamedTuple):
    """One fact of a release the curated data lacks, and the rule that gave it."""

    what: str  # "python", "companion torchvision", "pypi default (linux-x86_64)", ...
    value: str
    rule: str


# --- observations ----------------------------------------------------------------------------


@dataclasses.dataclass
class Observations:
    fetched_at: float
    pypi_url: str
    pytorch_index: str
    # index key (PYPI or a variant) -> project -> version -> {"pythons", "platforms", ...}
    projects: dict[str, dict[str, dict[str, dict[str, Any]]]]
    # page URL -> {"etag", "last_modified", "ok", "error"}
    pages: dict[str, dict[str, Any]]

    def age_s(self, now: Optional[float] = None) -> float:
        return max(0.0, (time.time() if now is None else now) - self.fetched_at)

    def page_ok(self, key: str, project: str) -> bool:
        return bool(self.pages.get(self._page(key, project), {}).get("ok"))

    def _page(self, key: str, project: str) -> str:
        base = self.pypi_url if key == PYPI else f"{self.pytorch_index.rstrip('/')}/{key}"
        return f"{base.rstrip('/')}/{project}/"

    def versions(self, key: str, project: str) -> dict[str, dict[str, Any]]:
        return self.projects.get(key, {}).get(project, {})

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": CACHE_VERSION,
            "fetched_at": self.fetched_at,
            "pypi_url": self.pypi_url,
            "pytorch_index": self.pytorch_index,
            "projects": self.projects,
            "pages": self.pages,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Optional[Observations]:
        if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
            return None
        try:
            return cls(
                float(data["fetched_at"]),
                str(data["pypi_url"]),
                str(data["pytorch_index"]),
                dict(data["projects"]),
                dict(data["pages"]),
            )
        except (KeyError, TypeError, ValueError):
            return None


def condense(files: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """Index files -> version -> {"pythons": [...], "platforms": {key: [tags]}, "files": n}
    (final releases only; yanked files are not served)."""
    from torchsetup.index import wheel_facts

    out: dict[str, dict[str, Any]] = {}
    for f in files:
        if getattr(f, "yanked", False):
            continue
        facts = wheel_facts(f.filename)
        if facts is None or not _FINAL.match(facts.version):
            continue
        entry = out.setdefault(facts.version, {"pythons": [], "platforms": {}, "locals": []})
        entry["pythons"] = sorted(set(entry["pythons"]) | set(facts.pythons), key=_py_key)
        for tag in facts.platform_tags:
            key = _platform_of_tag(tag)
            if key:
                tags = entry["platforms"].setdefault(key, [])
                if tag not in tags:
                    tags.append(tag)
        if facts.local and facts.local not in entry["locals"]:
            entry["locals"].append(facts.local)
        if f.requires_python and "requires_python" not in entry:
            entry["requires_python"] = f.requires_python
        # the file whose metadata is read: a Linux x86_64 one with PEP 658 metadata if any
        best = entry.get("_file")
        if best is None or (_rank_file(f, facts) < _rank_file(best, wheel_facts(best.filename))):
            entry["_file"] = f
    return out


def _rank_file(f: Any, facts: Any) -> tuple[bool, bool]:
    linux = facts is not None and "linux-x86_64" in facts.platforms
    return (getattr(f, "core_metadata", None) is None, not linux)


def _platform_of_tag(tag: str) -> Optional[str]:
    from torchsetup.index import platform_key

    return platform_key(tag)


def _py_key(p: str) -> tuple[tuple[int, ...], str]:
    return version_tuple(p.rstrip("t")), p


# --- the cache -------------------------------------------------------------------------------


def cache_path() -> Path:
    from torchsetup.paths import cache_dir

    return cache_dir() / CACHE_NAME


def load_cache(path: Optional[Path] = None) -> Optional[Observations]:
    try:
        data = json.loads((path or cache_path()).read_bytes())
    except (OSError, ValueError):
        return None
    return Observations.from_dict(data)


def save_cache(obs: Observations, path: Optional[Path] = None) -> Path:
    target = path or cache_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(obs.to_dict(), separators=(",", ":")), encoding="utf-8")
    os.replace(tmp, target)
    return target


def configured_urls(env: Mapping[str, str]) -> tuple[str, str]:
    """(PyPI simple URL, base of the per-variant indexes): the defaults or a mirror."""
    return (
        (env.get(PYPI_ENV) or PYPI_URL).rstrip("/"),
        (env.get(PYTORCH_ENV) or PYTORCH_INDEX).rstrip("/"),
    )


def offline(env: Mapping[str, str]) -> bool:
    return (env.get(OFFLINE_ENV) or "").strip().lower() in ("1", "true", "yes", "on")


# --- refresh ---------------------------------------------------------------------------------


def variants_to_watch(matrix: Matrix) -> tuple[str, ...]:
    """The variant indexes to read: every build of the two newest curated releases."""
    names: dict[str, None] = {}
    for release in matrix.releases[:2]:
        for v in release.variants:
            names.setdefault(v.name, None)
    return tuple(names)


def refresh(
    matrix: Matrix,
    *,
    pypi_url: str = PYPI_URL,
    pytorch_index: str = PYTORCH_INDEX,
    previous: Optional[Observations] = None,
    deadline_s: float = 10.0,
    get: Optional[Callable[..., Any]] = None,
    now: Callable[[], float] = time.time,
) -> Observations:
    """Read the pages (in parallel, conditionally when ``previous`` has validators) and the
    metadata of versions the data lacks; a page that fails is recorded as not ok (its previous
    observation, if any, is kept). Raises nothing for network trouble."""
    from concurrent.futures import ThreadPoolExecutor, wait

    from torchsetup import index, net
    from torchsetup.redact import redact_url_credentials as shown

    fetch = get or net.get
    started = time.monotonic()
    # The cache never holds credentials: URLs are stored (and compared) redacted.
    same_source = previous is not None and (previous.pypi_url, previous.pytorch_index) == (
        shown(pypi_url),
        shown(pytorch_index),
    )
    prev = previous if same_source else None
    jobs: list[tuple[str, str, str]] = [(PYPI, p, pypi_url) for p in PROJECTS]
    for v in variants_to_watch(matrix):
        for p in ("torch", "torchvision"):
            jobs.append((v, p, f"{pytorch_index}/{v}"))
    timeout = max(0.5, min(deadline_s, 30.0))

    def one(job: tuple[str, str, str]) -> tuple[str, str, str, Any]:
        key, project, base = job
        url = shown(index.project_url(base, project))
        validators = prev.pages.get(url, {}) if prev is not None else {}
        try:
            page = index.fetch_project(
                base,
                project,
                timeout=timeout,
                etag=validators.get("etag") if validators.get("ok") else None,
                last_modified=validators.get("last_modified") if validators.get("ok") else None,
                get=fetch,
            )
        except net.NetError as exc:
            return key, project, url, exc
        return key, project, url, page

    projects: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
    pages: dict[str, dict[str, Any]] = {}
    files_of: dict[tuple[str, str, str], Any] = {}
    pool = ThreadPoolExecutor(max_workers=8)
    futures = [pool.submit(one, job) for job in jobs]
    done, _ = wait(futures, timeout=deadline_s)
    pool.shutdown(wait=False, cancel_futures=True)
    for job, fut in zip(jobs, futures):
        key, project, base = job
        url = shown(index.project_url(base, project))
        outcome: Any
        if fut not in done:
            outcome = TimeoutError(f"no answer within {deadline_s:g} s")
        elif fut.exception() is not None:
            outcome = fut.exception()
        else:
            outcome = fut.result()[3]
        kept = prev.versions(key, project) if prev is not None else {}
        if isinstance(outcome, Exception):
            pages[url] = {"ok": False, "error": str(outcome)}
            if kept:
                projects.setdefault(key, {})[project] = dict(kept)
            continue
        if outcome is None:  # 404: the index has no such project
            pages[url] = {"ok": True, "missing": True}
            continue
        if outcome.not_modified:
            pages[url] = dict(prev.pages[url]) if prev is not None else {"ok": True}
            projects.setdefault(key, {})[project] = dict(kept)
            continue
        pages[url] = {"ok": True, "etag": outcome.etag, "last_modified": outcome.last_modified}
        condensed = condense(outcome.files)
        for version, entry in condensed.items():
            files_of[(key, project, version)] = entry.pop("_file", None)
        projects.setdefault(key, {})[project] = condensed
    obs = Observations(now(), shown(pypi_url), shown(pytorch_index), projects, pages)
    left = deadline_s - (time.monotonic() - started)
    _read_requirements(obs, matrix, files_of, prev, left, (pypi_url, pytorch_index), fetch)
    return obs


def _read_requirements(
    obs: Observations,
    matrix: Matrix,
    files_of: Mapping[tuple[str, str, str], Any],
    prev: Optional[Observations],
    left_s: float,
    bases: tuple[str, str],
    get: Callable[..., Any],
) -> None:
    """Requires-Dist of the versions the data does not know (torch), or newer than every
    curated pairing (torchvision, torchaudio): from PyPI, else from a variant index."""
    from torchsetup import index, net

    known_torch = {r.torch for r in matrix.releases}
    newest_companion = {
        name: max(
            (version_tuple(v) for r in matrix.releases if (v := dict(r.companions("pip"))[name])),
            default=(0,),
        )
        for name in ("torchvision", "torchaudio")
    }
    started = time.monotonic()
    for key, project_map in obs.projects.items():
        for project, versions in project_map.items():
            for version, entry in versions.items():
                if "requires_dist" in entry:
                    continue
                wanted = (
                    version not in known_torch and version_tuple(version) >= (2, 0)
                    if project == "torch"
                    else version_tuple(version) > newest_companion.get(project, (0,))
                )
                if not wanted:
                    continue
                old = prev.versions(key, project).get(version, {}) if prev is not None else {}
                if "requires_dist" in old:
                    entry["requires_dist"] = old["requires_dist"]
                    continue
                left = left_s - (time.monotonic() - started)
                if left <= 0.2:
                    return
                file = files_of.get((key, project, version))
                base = bases[0] if key == PYPI else f"{bases[1]}/{key}"
                try:
                    meta = index.fetch_requirements(
                        base, project, version, file, timeout=min(left, 15.0), get=get
                    )
                except net.NetError:
                    continue
                if meta is not None:
                    entry["requires_dist"] = list(meta.requires_dist)
                    if meta.requires_python:
                        entry["requires_python"] = meta.requires_python


# --- the merge rule --------------------------------------------------------------------------


class Merged(NamedTuple):
    matrix: Matrix
    inferred: Mapping[str, tuple[Inferred, ...]]  # torch version -> its inferred facts
    removed: tuple[str, ...]  # "2.3.0 cu118: no longer on the index"


INFERRED_SOURCE = "inferred from the package indexes (torchsetup matrix --refresh; docs/matrix.md)"


def merge(matrix: Matrix, obs: Optional[Observations]) -> Merged:
    """The curated matrix with what ``obs`` adds (see the module doc); ``obs`` None: as is."""
    if obs is None or not obs.projects:
        return Merged(matrix, {}, ())
    removed: list[str] = []
    releases = [_drop_unserved(r, obs, removed) for r in matrix.releases]
    known = {r.torch for r in matrix.releases}
    seen: set[str] = set()
    for key in obs.projects:
        seen |= set(obs.versions(key, "torch"))
    inferred: dict[str, tuple[Inferred, ...]] = {}
    for version in sorted(seen - known, key=version_tuple, reverse=True):
        if version_tuple(version) < (2, 0):
            continue
        built = _infer_release(version, matrix, obs)
        if built is not None:
            releases.append(built[0])
            inferred[version] = built[1]
    releases.sort(key=lambda r: r.version, reverse=True)
    return Merged(dataclasses.replace(matrix, releases=tuple(releases)), inferred, tuple(removed))


def _drop_unserved(release: Release, obs: Observations, removed: list[str]) -> Release:
    variants = []
    changed = False
    for v in release.variants:
        listed = obs.versions(v.name, "torch")
        if v.platforms and obs.page_ok(v.name, "torch") and listed and release.torch not in listed:
            removed.append(f"{release.torch} {v.name}: not on {obs.pytorch_index}/{v.name}")
            variants.append(dataclasses.replace(v, platforms=()))
            changed = True
        else:
            variants.append(v)
    platforms = list(release.platforms)
    on_pypi = obs.versions(PYPI, "torch")
    if obs.page_ok(PYPI, "torch") and on_pypi and release.torch not in on_pypi:
        for i, p in enumerate(platforms):
            if p.pypi_default is not None:
                removed.append(f"{release.torch} {p.pypi_default} ({p.key}): not on PyPI")
                platforms[i] = p._replace(pypi_default=None)
                changed = True
    if not changed:
        return release
    return dataclasses.replace(release, variants=tuple(variants), platforms=tuple(platforms))


def _where(obs: Observations, key: str) -> str:
    return "PyPI" if key == PYPI else f"{obs.pytorch_index}/{key}"


def _infer_release(
    version: str, matrix: Matrix, obs: Observations
) -> Optional[tuple[Release, tuple[Inferred, ...]]]:
    facts: list[Inferred] = []
    entries = {
        key: e for key in obs.projects if (e := obs.versions(key, "torch").get(version)) is not None
    }
    if not entries:
        return None
    newest = matrix.releases[0]
    # Pythons from the wheel tags
    pythons = sorted({p for e in entries.values() for p in e.get("pythons", ())}, key=_py_key)
    regular = tuple(p for p in pythons if not p.endswith("t"))
    if not regular:
        return None
    threaded = tuple(
        ExperimentalPython(p, None, "free-threaded, experimental (inferred from wheel tags)")
        for p in pythons
        if p.endswith("t")
    )
    wheels_on = ", ".join(sorted(_where(obs, k) for k in entries))
    facts.append(
        Inferred("python", f"{regular[0]}–{regular[-1]}", f"wheel tags (cp3XX) on {wheels_on}")
    )
    # PyPI's default build per platform
    pypi = entries.get(PYPI)
    defaults: dict[str, str] = {}
    if pypi is not None:
        for key in [p for p in PLATFORMS if p in pypi.get("platforms", {})]:
            default, why = _pypi_default(key, pypi, matrix, newest)
            if default is not None:
                defaults[key] = default
                facts.append(Inferred(f"PyPI default build ({key})", default, why))
    # variants
    variants: list[Variant] = []
    names = [k for k in entries if k != PYPI] + [d for d in defaults.values() if d not in entries]
    for name in dict.fromkeys(names):
        var_platforms = tuple(
            p for p in PLATFORMS if p in entries.get(name, {}).get("platforms", {})
        )
        served = set(var_platforms) | {k for k, d in defaults.items() if d == name}
        if variant_kind(name) == "cuda":
            row = matrix.cuda_row(name)
            if row is None:
                facts.append(
                    Inferred(
                        f"build {name}", "not planned", "no driver row for its CUDA in the data"
                    )
                )
                continue
            facts.append(
                Inferred(
                    f"{name} driver minimum",
                    f">= {row.linux_min_driver or row.minor_compat_linux} (Linux)",
                    f"the CUDA {row.version} row of the data",
                )
            )
        arch: list[tuple[str, ArchList]] = []
        if variant_kind(name) == "cuda":
            for platform in sorted(served):
                found = _newest_arch(matrix, name, platform)
                if found is not None:
                    torch_of, lst = found
                    arch.append(
                        (
                            platform,
                            ArchList(
                                lst.text,
                                lst.entries,
                                INFERRED_SOURCE,
                                True,
                                (f"the kernel list of torch {torch_of} {name} (newest curated)",),
                            ),
                        )
                    )
                    facts.append(
                        Inferred(
                            f"{name} kernels ({platform})",
                            lst.sm_names,
                            f"newest curated list of {name}: torch {torch_of}",
                        )
                    )
        curated = newest.variant(name)
        index_url = f"{obs.pytorch_index}/{name}"
        variants.append(
            Variant(
                name=name,
                index_url=index_url,
                platforms=var_platforms,
                advertised=curated.advertised if curated is not None else name in defaults.values(),
                source=INFERRED_SOURCE,
                command=None,
                command_inferred=True,
                inferred=True,
                notes=(f"seen on {_where(obs, name) if name in entries else 'PyPI'}",),
                arch=tuple(arch),
            )
        )
    if not variants:
        return None
    # platforms
    platforms = []
    for key in PLATFORMS:
        tags = [t for e in entries.values() for t in e.get("platforms", {}).get(key, ())]
        tag = _preferred_tag(tags)
        glibc = _glibc_of(tag) if tag else None
        platforms.append(
            PlatformInfo(
                key,
                bool(tags),
                WheelInfo(tag, glibc, INFERRED_SOURCE, True),
                defaults.get(key),
                "inferred from the package indexes" if tags else "no wheels on the indexes",
            )
        )
        if tag:
            facts.append(
                Inferred(
                    f"wheel tag ({key})",
                    tag + (f" (glibc >= {glibc})" if glibc else ""),
                    "the wheel file names",
                )
            )
    companions = {
        name: _companion(name, version, matrix, obs, facts)
        for name in ("torchvision", "torchaudio")
    }
    release = Release(
        torch=version,
        released=None,
        torchvision=companions["torchvision"],
        torchaudio=companions["torchaudio"],
        python=regular,
        python_experimental=threaded,
        python_source=INFERRED_SOURCE,
        platforms=tuple(platforms),
        variants=tuple(variants),
        conda=None,
        source_build=SourceBuild(
            f"v{version}", newest.source_build.build, INFERRED_SOURCE, inferred=True
        ),
        sources=(INFERRED_SOURCE,),
        notes=(
            (
                f"torch {version} is not in the curated data: every fact here is inferred "
                f"from {wheels_on} (fetched {_stamp(obs.fetched_at)})."
            ),
        ),
        inferred=True,
    )
    return release, tuple(facts)


def _stamp(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(t))


def _preferred_tag(tags: Sequence[str]) -> Optional[str]:
    if not tags:
        return None
    return min(set(tags), key=lambda t: (-tags.count(t), t))


def _glibc_of(tag: str) -> Optional[str]:
    m = re.match(r"manylinux_(\d+)_(\d+)_", tag)
    if m:
        return f"{m.group(1)}.{m.group(2)}"
    legacy = {"manylinux2014": "2.17", "manylinux2010": "2.12", "manylinux1": "2.5"}
    for prefix, glibc in legacy.items():
        if tag.startswith(prefix + "_"):
            return glibc
    return None


_MARKER_ENV = {
    "linux-x86_64": {
        "platform_system": "Linux",
        "sys_platform": "linux",
        "platform_machine": "x86_64",
    },
    "linux-aarch64": {
        "platform_system": "Linux",
        "sys_platform": "linux",
        "platform_machine": "aarch64",
    },
    "windows-x86_64": {
        "platform_system": "Windows",
        "sys_platform": "win32",
        "platform_machine": "AMD64",
    },
    "macos-arm64": {
        "platform_system": "Darwin",
        "sys_platform": "darwin",
        "platform_machine": "arm64",
    },
    "macos-x86_64": {
        "platform_system": "Darwin",
        "sys_platform": "darwin",
        "platform_machine": "x86_64",
    },
}
_CUDA_PIN = re.compile(r"^(?:cuda-toolkit|nvidia-cuda-runtime(?:-cu\d+)?)$")
_CU_SUFFIX = re.compile(r"^nvidia-[a-z0-9-]+-cu(\d+)$")


def requirements_for(requires: Iterable[str], platform: str) -> list[Any]:
    """The requirements that apply on ``platform`` (markers evaluated; extras excluded)."""
    from packaging.requirements import InvalidRequirement, Requirement

    env = {**_MARKER_ENV.get(platform, {}), "extra": ""}
    out = []
    for text in requires:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue
        try:
            if req.marker is not None and not req.marker.evaluate(env):
                continue
        except (ValueError, KeyError):  # an undefined marker variable: not for this platform
            continue
        out.append(req)
    return out


def cuda_of_requirements(requires: Iterable[str], platform: str) -> tuple[Optional[str], str]:
    """('13.2', why) from a torch wheel's Requires-Dist on ``platform``; (None, why): a CPU
    wheel; ('13', why): only the major is stated (nvidia-*-cu13)."""
    from torchsetup.versions import version_tuple as vt

    major = None
    for req in requirements_for(requires, platform):
        name = req.name.lower()
        if _CUDA_PIN.match(name):
            for spec in req.specifier:
                parts = vt(spec.version)
                if spec.operator in ("==", "~=", ">=", "===") and len(parts) >= 2:
                    return (
                        f"{parts[0]}.{parts[1]}",
                        f"{req.name}{req.specifier} in torch's Requires-Dist",
                    )
        m = _CU_SUFFIX.match(name)
        if m and major is None:
            major = (m.group(1), f"{req.name} in torch's Requires-Dist")
    if major is not None:
        return major
    return None, "no CUDA libraries in torch's Requires-Dist"


def _pypi_default(
    platform: str, entry: Mapping[str, Any], matrix: Matrix, newest: Release
) -> tuple[Optional[str], str]:
    requires = entry.get("requires_dist")
    if requires is None:
        info = newest.platform(platform)
        default = info.pypi_default if info is not None else None
        return default, f"as for torch {newest.torch} (torch's Requires-Dist could not be read)"
    cuda, why = cuda_of_requirements(requires, platform)
    if cuda is None:
        return "cpu", why
    if "." in cuda:
        return cuda_variant_name(cuda), why
    rows = [r for r in matrix.cuda if str(r.major) == cuda and r.linux_min_driver]
    if not rows:
        return None, f"{why}: no CUDA {cuda}.x row in the data"
    return rows[-1].variant, f"{why}: the newest CUDA {cuda}.x row of the data"


def _newest_arch(matrix: Matrix, name: str, platform: str) -> Optional[tuple[str, ArchList]]:
    for release in matrix.releases:
        v = release.variant(name)
        lst = v.arch_list(platform) if v is not None else None
        if lst is not None:
            return release.torch, lst
    return None


def _companion(
    name: str, torch: str, matrix: Matrix, obs: Observations, facts: list[Inferred]
) -> Optional[str]:
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    newest = matrix.releases[0]
    curated_newest = max(
        (version_tuple(v) for r in matrix.releases if (v := dict(r.companions("pip"))[name])),
        default=(0,),
    )
    ended = dict(newest.companions("pip"))[name] is None
    minor = ".".join(torch.split(".")[:2])
    best: Optional[tuple[tuple[int, ...], str, str]] = None
    for key in obs.projects:
        for version, entry in obs.versions(key, name).items():
            requires = entry.get("requires_dist")
            if requires is None or version_tuple(version) <= curated_newest:
                continue
            pins = [
                r for r in requirements_for(requires, "linux-x86_64") if r.name.lower() == "torch"
            ]
            if not pins:
                continue
            spec: SpecifierSet = pins[0].specifier
            if not spec.contains(Version(torch), prereleases=True):
                continue
            if ended and not any(
                s.operator in (">=", "==", "~=") and s.version.startswith(minor) for s in spec
            ):
                continue
            candidate = (version_tuple(version), version, f"{name} {version} requires {pins[0]}")
            if best is None or candidate[0] > best[0]:
                best = candidate
    if best is None:
        facts.append(Inferred(f"companion {name}", "none", _no_companion(name, ended)))
        return None
    facts.append(Inferred(f"companion {name}", best[1], f"its Requires-Dist: {best[2]}"))
    return best[1]


def _no_companion(name: str, ended: bool) -> str:
    if ended:
        return f"the data has no {name} for the newest curated release, and none names this torch"
    return f"no {name} newer than the curated ones admits this torch (Requires-Dist)"


# --- what install and matrix use ---------------------------------------------------------------


class DataStatus(NamedTuple):
    """Which data a command used, for its one line and its --json."""

    source: str  # "bundled" | "bundled+observations"
    age_s: Optional[float]  # of the observations
    refreshed: bool  # fetched by this command
    offline: bool
    error: Optional[str]  # why a refresh failed
    indexes: tuple[str, ...]
    inferred_releases: tuple[str, ...]
    removed: tuple[str, ...]

    def line(self) -> str:
        if self.source == "bundled":
            text = "data: the bundled matrix only"
        else:
            age = _age(self.age_s or 0.0)
            text = (
                "data: the bundled matrix + index observations "
                + ("fetched now" if self.refreshed else f"{age} old")
                + f" ({', '.join(self.indexes)})"
            )
            if self.inferred_releases:
                text += f"; inferred: torch {', '.join(self.inferred_releases)}"
        if self.offline:
            text += " (offline)"
        if self.error:
            text += f"; refresh failed: {self.error}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "observations_age_s": None if self.age_s is None else round(self.age_s, 1),
            "refreshed": self.refreshed,
            "offline": self.offline,
            "refresh_error": self.error,
            "indexes": list(self.indexes),
            "inferred_releases": list(self.inferred_releases),
            "not_served": list(self.removed),
        }


def _age(seconds: float) -> str:
    if seconds < 90:
        return f"{int(seconds)} s"
    if seconds < 5400:
        return f"{int(seconds // 60)} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} d"


def current(
    matrix: Matrix,
    *,
    env: Mapping[str, str],
    offline_flag: bool = False,
    refresh_now: bool = False,
    auto_refresh: bool = True,
    deadline_s: float = 3.0,
    get: Optional[Callable[..., Any]] = None,
) -> tuple[Merged, DataStatus]:
    """The data a command plans with: the bundled matrix, merged with the cached observations
    (refreshed first when asked, or when older than a day and ``auto_refresh``)."""
    is_offline = offline_flag or offline(env)
    cached = load_cache()
    from torchsetup.redact import redact_url_credentials

    pypi_url, pytorch_index = configured_urls(env)
    configured = (redact_url_credentials(pypi_url), redact_url_credentials(pytorch_index))
    if cached is not None and (cached.pypi_url, cached.pytorch_index) != configured:
        cached = None if refresh_now or not is_offline else cached
    obs, refreshed, error = cached, False, None
    stale = cached is None or cached.age_s() > MAX_AGE_S
    failed_ago = _failed_ago(configured)
    if stale and auto_refresh and not refresh_now and not is_offline and failed_ago is not None:
        # an index that did not answer within the hour is not asked again yet
        stale = False
        error = f"no index answered {_age(failed_ago)} ago (asked again after an hour)"
    if not is_offline and (refresh_now or (auto_refresh and stale)):
        fresh = refresh(
            matrix,
            pypi_url=pypi_url,
            pytorch_index=pytorch_index,
            previous=cached,
            deadline_s=deadline_s,
            get=get,
        )
        failed = [p for p in fresh.pages.values() if not p.get("ok")]
        if len(failed) == len(fresh.pages):
            error = str(failed[0].get("error") or "no index answered") if failed else None
            _note_failure(configured)
        else:
            obs, refreshed = fresh, True
            _attempt_path().unlink(missing_ok=True)
            try:
                save_cache(fresh)
            except OSError as exc:
                error = f"cannot write the cache: {exc}"
    merged = merge(matrix, obs)
    status = DataStatus(
        "bundled" if obs is None else "bundled+observations",
        None if obs is None else obs.age_s(),
        refreshed,
        is_offline,
        error,
        () if obs is None else _index_names(obs),
        tuple(merged.inferred),
        merged.removed,
    )
    return merged, status


RETRY_AFTER_S = 3600.0


def _attempt_path() -> Path:
    return cache_path().with_name("observations.failed")


def _failed_ago(urls: tuple[str, str]) -> Optional[float]:
    """Seconds since a refresh of these (redacted) URLs found no index answering, when within
    :data:`RETRY_AFTER_S`."""
    path = _attempt_path()
    try:
        ago = time.time() - path.stat().st_mtime
        same = json.loads(path.read_text(encoding="utf-8")).get("urls") == list(urls)
    except (OSError, ValueError, AttributeError):
        return None
    return ago if same and 0 <= ago < RETRY_AFTER_S else None


def _note_failure(urls: tuple[str, str]) -> None:
    try:
        _attempt_path().parent.mkdir(parents=True, exist_ok=True)
        _attempt_path().write_text(json.dumps({"urls": list(urls)}), encoding="utf-8")
    except OSError:
        pass


def _index_names(obs: Observations) -> tuple[str, ...]:
    from torchsetup.redact import redact_url_credentials

    hosts = [obs.pypi_url, obs.pytorch_index]
    return tuple(dict.fromkeys(redact_url_credentials(h) for h in hosts))
