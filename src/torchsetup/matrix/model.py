"""The compatibility matrix: which PyTorch builds exist, where, and what they need.

Package data (``torchsetup/resources/matrix.json``, curated by ``tools/curate_matrix.py`` and
refreshed by ``tools/update_matrix.py``), loaded once and validated into frozen dataclasses
(the entities) and named tuples (their small immutable records, cheaper to define: this module
is on the ``install --dry-run`` start-up path).
A bad entry (an unknown platform, a variant without an index URL, a CUDA variant without a
driver row, a release without sources, a malformed arch list) raises :class:`MatrixError`
naming the entry, at load time rather than in the middle of a plan.

Everything here is pure: no I/O beyond reading the packaged file.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Optional

from torchsetup.records import Record
from torchsetup.versions import cuda_variant_name, variant_cuda, variant_kind, version_tuple

PLATFORMS = ("linux-x86_64", "linux-aarch64", "windows-x86_64", "macos-arm64", "macos-x86_64")
COVERAGE_SASS = "sass"
COVERAGE_PTX = "ptx"

_VARIANT_RE = re.compile(r"^(cu\d{3}|rocm\d+\.\d+(\.\d+)?|cpu|xpu)$")
_ARCH_RE = re.compile(r"^(\d+)\.(\d+)([af]?)(\+PTX)?$")
_PYTHON_RE = re.compile(r"^3\.\d+t?$")
_PLATFORM_SET = frozenset(PLATFORMS)


class MatrixError(ValueError):
    """The packaged matrix (or one given to :func:`matrix_from_dict`) has a bad entry."""


# --- the model ---------------------------------------------------------------------------------


class ArchEntry(NamedTuple):
    """One TORCH_CUDA_ARCH_LIST item: 8.6, 9.0a, 12.0+PTX."""

    major: int
    minor: int
    suffix: str  # "", "a" (arch-specific: only that exact GPU) or "f" (family)
    ptx: bool

    @property
    def cc(self) -> tuple[int, int]:
        return (self.major, self.minor)

    def sass_covers(self, cc: tuple[int, int]) -> bool:
        """SASS for X.Z runs on X.Y when Z <= Y (same major); 'a' builds only on X.Z itself."""
        if self.major != cc[0]:
            return False
        return self.minor == cc[1] if self.suffix == "a" else self.minor <= cc[1]

    def ptx_covers(self, cc: tuple[int, int]) -> bool:
        """PTX for A.B is JIT-compiled by the driver for any GPU with compute capability >= A.B."""
        return self.ptx and self.cc <= cc


class ArchList(NamedTuple):
    text: str
    entries: tuple[ArchEntry, ...]
    source: str
    inferred: bool = False
    notes: tuple[str, ...] = ()

    def coverage(self, cc: tuple[int, int]) -> Optional[str]:
        """COVERAGE_SASS, COVERAGE_PTX (JIT only) or None (no kernels for this GPU)."""
        if any(e.sass_covers(cc) for e in self.entries):
            return COVERAGE_SASS
        if any(e.ptx_covers(cc) for e in self.entries):
            return COVERAGE_PTX
        return None

    @property
    def sm_names(self) -> str:
        """'sm_75, sm_80, ..., sm_120 + compute_120 (PTX)'."""
        sms = [f"sm_{e.major}{e.minor}{e.suffix}" for e in self.entries]
        ptx = [f"compute_{e.major}{e.minor}" for e in self.entries if e.ptx]
        return ", ".join(sms) + (f" + PTX {', '.join(ptx)}" if ptx else "")


class WheelInfo(NamedTuple):
    tag: Optional[str]
    min_glibc: Optional[str]
    source: str
    inferred: bool = False


class PlatformInfo(NamedTuple):
    key: str
    available: bool
    wheel: WheelInfo
    pypi_default: Optional[str]
    note: Optional[str] = None


@dataclass(frozen=True, eq=False, repr=False)
class Variant(Record):
    name: str
    index_url: str
    platforms: tuple[str, ...]
    advertised: bool
    source: str
    command: Optional[str] = None
    command_source: Optional[str] = None
    command_inferred: bool = False
    inferred: bool = False
    notes: tuple[str, ...] = ()
    wheels: tuple[tuple[str, WheelInfo], ...] = ()
    arch: tuple[tuple[str, ArchList], ...] = ()

    @property
    def kind(self) -> str:
        return variant_kind(self.name)

    @property
    def cuda(self) -> Optional[str]:
        return variant_cuda(self.name)

    def arch_list(self, key: str) -> Optional[ArchList]:
        """key: a platform ('linux-x86_64') or 'conda:<platform>' for the conda packages."""
        return dict(self.arch).get(key)

    def wheel_override(self, platform: str) -> Optional[WheelInfo]:
        return dict(self.wheels).get(platform)


class ExperimentalPython(NamedTuple):
    version: str
    platforms: Optional[tuple[str, ...]]  # None: every platform
    note: str


class PythonSupport(NamedTuple):
    experimental: bool
    note: str


class CondaInfo(NamedTuple):
    torchvision: Optional[str]
    torchaudio: Optional[str]
    commands: tuple[tuple[str, str], ...]  # variant -> documented command (Linux/Windows)
    command_macos: Optional[str]
    platforms: tuple[str, ...]
    source: str
    note: Optional[str] = None

    def command(self, variant: str, platform: str) -> Optional[str]:
        """The documented conda command for this variant and platform (None: not published)."""
        if platform not in self.platforms:
            return None
        if platform.startswith("macos"):
            return self.command_macos if variant == "cpu" else None
        return dict(self.commands).get(variant)

    @property
    def variants(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.commands)


class SourceBuild(NamedTuple):
    git_tag: str
    build: str  # "setup-py-develop" | "pip-editable"
    source: str
    inferred: bool = False


@dataclass(frozen=True, eq=False, repr=False)
class Release(Record):
    torch: str
    released: Optional[str]
    torchvision: Optional[str]
    torchaudio: Optional[str]
    python: tuple[str, ...]
    python_experimental: tuple[ExperimentalPython, ...]
    python_source: str
    platforms: tuple[PlatformInfo, ...]
    variants: tuple[Variant, ...]
    conda: Optional[CondaInfo]
    source_build: SourceBuild
    sources: tuple[str, ...]
    notes: tuple[str, ...] = ()
    inferred: bool = False

    @property
    def version(self) -> tuple[int, ...]:
        return version_tuple(self.torch)

    def platform(self, key: str) -> Optional[PlatformInfo]:
        for p in self.platforms:
            if p.key == key:
                return p
        return None

    def available_on(self, key: str) -> bool:
        info = self.platform(key)
        return info is not None and info.available

    def variant(self, name: str) -> Optional[Variant]:
        for v in self.variants:
            if v.name == name:
                return v
        return None

    def serves(self, variant: Variant, platform: str) -> bool:
        """True when this build can be installed on ``platform`` (its own index or PyPI)."""
        if not self.available_on(platform):
            return False
        info = self.platform(platform)
        return platform in variant.platforms or (
            info is not None and info.pypi_default == variant.name
        )

    def platforms_for(self, variant: Variant) -> tuple[str, ...]:
        """Every platform this build can be installed on (its own index or PyPI)."""
        return tuple(p for p in PLATFORMS if self.serves(variant, p))

    def variants_for(self, platform: str) -> tuple[Variant, ...]:
        """Every build of this release installable on ``platform``, in matrix order."""
        return tuple(v for v in self.variants if self.serves(v, platform))

    def index_url(self, variant: Variant, platform: str, pypi_url: str) -> str:
        """The variant's own index when it carries this platform, else PyPI (the default wheel)."""
        return variant.index_url if platform in variant.platforms else pypi_url

    def wheel(self, variant: Variant, platform: str) -> Optional[WheelInfo]:
        override = variant.wheel_override(platform)
        if override is not None:
            return override
        info = self.platform(platform)
        return info.wheel if info else None

    def python_support(self, minor: str, platform: str) -> Optional[PythonSupport]:
        """How this release supports Python ``minor`` on ``platform``; None: no wheels for it."""
        if minor in self.python:
            return PythonSupport(experimental=False, note="")
        for exp in self.python_experimental:
            if exp.version == minor and (exp.platforms is None or platform in exp.platforms):
                return PythonSupport(experimental=True, note=exp.note)
        return None

    @property
    def python_range(self) -> str:
        return f"{self.python[0]}–{self.python[-1]}" if self.python else "none"

    def companions(self, method: str) -> tuple[tuple[str, Optional[str]], ...]:
        """(torchvision, version), (torchaudio, version) paired with this release for ``method``."""
        if method == "conda" and self.conda is not None:
            return (("torchvision", self.conda.torchvision), ("torchaudio", self.conda.torchaudio))
        return (("torchvision", self.torchvision), ("torchaudio", self.torchaudio))


@dataclass(frozen=True, eq=False, repr=False)
class CudaRow(Record):
    version: str
    variant: str
    source: str
    linux_min_driver: Optional[str] = None
    windows_min_driver: Optional[str] = None
    minor_compat_linux: Optional[str] = None
    minor_compat_windows: Optional[str] = None
    max_gcc: Optional[int] = None
    max_gcc_source: Optional[str] = None
    minor_compat_source: Optional[str] = None
    minor_compat_caveat: Optional[str] = None
    inferred: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def min_driver(self, family: str) -> Optional[str]:
        """Full-toolkit minimum driver for 'linux' or 'windows' (None: unknown)."""
        return self.windows_min_driver if family == "windows" else self.linux_min_driver

    def minor_floor(self, family: str) -> Optional[str]:
        """Minor-version-compatibility floor of this CUDA major for 'linux' or 'windows'."""
        return self.minor_compat_windows if family == "windows" else self.minor_compat_linux

    @property
    def major(self) -> int:
        return version_tuple(self.version)[0]


class PipFloor(NamedTuple):
    tag: str
    min_pip: str
    source: str


class Disagreement(NamedTuple):
    topic: str
    detail: str
    decision: str


@dataclass(frozen=True, eq=False, repr=False)
class Matrix(Record):
    releases: tuple[Release, ...]  # newest first
    cuda: tuple[CudaRow, ...]  # oldest first
    pip_floors: tuple[PipFloor, ...]
    pypi_index_url: str
    disagreements: tuple[Disagreement, ...] = ()
    generated_by: str = ""

    def release(self, torch: str) -> Optional[Release]:
        for r in self.releases:
            if r.torch == torch:
                return r
        return None

    def cuda_row(self, variant_or_version: str) -> Optional[CudaRow]:
        """Row for 'cu128' or '12.8'."""
        for row in self.cuda:
            if variant_or_version in (row.variant, row.version):
                return row
        return None

    def minor_floor_for_major(self, major: int, family: str) -> Optional[str]:
        """The minor-version-compatibility floor of a CUDA major (for toolkits without a row)."""
        for row in self.cuda:
            if row.major == major and row.minor_floor(family):
                return row.minor_floor(family)
        return None

    def pip_floor(self, tag: Optional[str]) -> Optional[PipFloor]:
        """The pip a wheel tag needs ('manylinux_2_28_x86_64' -> >= 20.3); None: any pip."""
        if not tag:
            return None
        for floor in self.pip_floors:
            if tag.startswith(floor.tag):
                return floor
        return None

    def pip_floor_named(self, tag: str) -> PipFloor:
        for floor in self.pip_floors:
            if floor.tag == tag:
                return floor
        raise MatrixError(f"pip_floors: no entry {tag!r}")

    @property
    def variant_names(self) -> tuple[str, ...]:
        """Every variant name any release has, CUDA ones oldest first."""
        names = {v.name for r in self.releases for v in r.variants}
        return tuple(sorted(names, key=_variant_sort_key))

    def releases_with(self, variant: str) -> tuple[Release, ...]:
        return tuple(r for r in self.releases if r.variant(variant) is not None)


def _variant_sort_key(name: str) -> tuple[int, tuple[int, ...]]:
    kind = {"cuda": 0, "rocm": 1, "xpu": 2, "cpu": 3}[variant_kind(name)]
    return kind, version_tuple(re.sub(r"^[a-z]+", "", name) or "0")


# --- loading and validation --------------------------------------------------------------------


@functools.cache
def load_matrix() -> Matrix:
    """The packaged matrix, parsed and validated once per process."""
    from torchsetup.resources import read_bytes

    data = read_bytes("matrix.json")
    return matrix_from_dict(json.loads(data))


def matrix_from_dict(data: Mapping[str, Any]) -> Matrix:
    """Validate a matrix document into a :class:`Matrix`; raises :class:`MatrixError`."""
    _check_platform_list(data.get("platforms"))
    cuda = tuple(
        _cuda_row(row, f"cuda[{i}]") for i, row in enumerate(_list(data, "cuda", "matrix"))
    )
    floors = tuple(
        PipFloor(
            _str(f, "tag", f"pip_floors[{i}]"),
            _str(f, "min_pip", f"pip_floors[{i}]"),
            _str(f, "source", f"pip_floors[{i}]"),
        )
        for i, f in enumerate(_list(data, "pip_floors", "matrix"))
    )
    known = _Known(frozenset(row.variant for row in cuda), {})
    releases = tuple(_release(rel, known) for rel in _list(data, "releases", "matrix"))
    _check_order(releases)
    return Matrix(
        releases=releases,
        cuda=cuda,
        pip_floors=floors,
        pypi_index_url=_str(data, "pypi_index_url", "matrix"),
        disagreements=tuple(
            Disagreement(str(d["topic"]), str(d["detail"]), str(d["decision"]))
            for d in data.get("disagreements", [])
        ),
        generated_by=str(data.get("generated_by", "")),
    )


@functools.cache
def parse_arch_list(text: str) -> tuple[ArchEntry, ...]:
    """'7.5;8.0;12.0+PTX' -> entries (memoised: the matrix repeats a few dozen lists)."""
    entries = []
    for item in text.split(";"):
        m = _ARCH_RE.match(item.strip())
        if not m:
            raise MatrixError(f"bad TORCH_CUDA_ARCH_LIST item {item!r} in {text!r}")
        entries.append(ArchEntry(int(m.group(1)), int(m.group(2)), m.group(3), bool(m.group(4))))
    return tuple(entries)


def _parse_arch_checked(text: str, where: str) -> tuple[ArchEntry, ...]:
    try:
        return parse_arch_list(text)
    except MatrixError as exc:
        raise _fail(where, str(exc)) from None


def _fail(where: str, message: str) -> MatrixError:
    return MatrixError(f"matrix.json {where}: {message}")


def _list(data: Mapping[str, Any], key: str, where: str) -> Sequence[Any]:
    value = data.get(key)
    if not isinstance(value, list):
        raise _fail(where, f"'{key}' must be a list")
    return value


def _str(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise _fail(where, f"'{key}' must be a non-empty string")
    return value


def _opt_str(data: Mapping[str, Any], key: str, where: str) -> Optional[str]:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _fail(where, f"'{key}' must be a string or null")
    return value


def _platform(key: str, where: str) -> str:
    return _known_platforms((key,), where)[0]


def _known_platforms(keys: Iterable[str], where: str) -> tuple[str, ...]:
    out = tuple(keys)
    unknown = sorted(set(out) - _PLATFORM_SET)
    if unknown:
        raise _fail(where, f"unknown platform {unknown[0]!r} (known: {', '.join(PLATFORMS)})")
    return out


def _check_platform_list(value: Any) -> None:
    if value is not None and tuple(value) != PLATFORMS:
        raise _fail("platforms", f"expected {list(PLATFORMS)}, found {value!r}")


def _cuda_row(row: Mapping[str, Any], where: str) -> CudaRow:
    version = _str(row, "version", where)
    if not re.fullmatch(r"\d+\.\d", version):
        raise _fail(where, f"bad CUDA version {version!r}")
    out = CudaRow(
        version=version,
        variant=_str(row, "variant", where),
        source=_str(row, "source", where),
        linux_min_driver=_opt_str(row, "linux_min_driver", where),
        windows_min_driver=_opt_str(row, "windows_min_driver", where),
        minor_compat_linux=_opt_str(row, "minor_compat_linux", where),
        minor_compat_windows=_opt_str(row, "minor_compat_windows", where),
        max_gcc=row.get("max_gcc"),
        max_gcc_source=_opt_str(row, "max_gcc_source", where),
        minor_compat_source=_opt_str(row, "minor_compat_source", where),
        minor_compat_caveat=_opt_str(row, "minor_compat_caveat", where),
        inferred=tuple(row.get("inferred", ())),
        notes=tuple(row.get("notes", ())),
    )
    if out.variant != cuda_variant_name(version):
        raise _fail(where, f"variant {out.variant!r} does not match CUDA {version}")
    if not (out.linux_min_driver or out.minor_compat_linux):
        raise _fail(
            where, f"CUDA {version} has neither a Linux minimum driver nor a minor-version floor"
        )
    if out.max_gcc is not None and not out.max_gcc_source:
        raise _fail(where, f"CUDA {version} max_gcc without a source")
    return out


def _wheel(data: Mapping[str, Any], where: str) -> WheelInfo:
    return WheelInfo(
        tag=_opt_str(data, "wheel_tag", where),
        min_glibc=_opt_str(data, "min_glibc", where),
        source=_str(data, "source", where),
        inferred=bool(data.get("inferred", False)),
    )


_ArchKey = tuple[Any, Any, bool, tuple[str, ...]]


def _arch(data: Mapping[str, Any], where: str, cache: dict[_ArchKey, ArchList]) -> ArchList:
    """One arch-list entry; identical entries (the matrix repeats a few dozen) share one object."""
    key: _ArchKey = (
        data.get("list"),
        data.get("source"),
        bool(data.get("inferred", False)),
        tuple(data.get("notes", ())),
    )
    found = cache.get(key)
    if found is None:
        text, source = key[0], key[1]
        if not (isinstance(text, str) and text and isinstance(source, str) and source):
            raise _fail(where, "an arch list needs a non-empty 'list' and 'source'")
        found = cache[key] = ArchList(
            text, _parse_arch_checked(text, where), source, key[2], key[3]
        )
    return found


def _variant(name: str, data: Mapping[str, Any], where: str, known: _Known) -> Variant:
    if not _VARIANT_RE.match(name):
        raise _fail(where, f"bad variant name {name!r}")
    index_url = data.get("index_url")
    if not isinstance(index_url, str) or not index_url.startswith("https://"):
        raise _fail(where, "variant without an https index URL")
    kind = variant_kind(name)
    if kind == "cuda" and name not in known.cuda_variants:
        raise _fail(where, f"CUDA variant {name} has no driver row in 'cuda'")
    arch_data = data.get("arch") or {}
    if arch_data and kind != "cuda":
        raise _fail(where, "only CUDA variants carry a TORCH_CUDA_ARCH_LIST")
    _known_platforms((k.removeprefix("conda:") for k in arch_data), f"{where} arch")
    wheels = data.get("wheels") or {}
    advertised = bool(data.get("advertised"))
    command = _opt_str(data, "command", where)
    if advertised and not command:
        raise _fail(where, "advertised variant without its documented command")
    return Variant(
        name=name,
        index_url=index_url,
        platforms=_known_platforms(data.get("platforms", ()), where),
        advertised=advertised,
        source=_str(data, "source", where),
        command=command,
        command_source=_opt_str(data, "command_source", where),
        command_inferred=bool(data.get("command_inferred", False)),
        inferred=bool(data.get("inferred", False)),
        notes=tuple(data.get("notes", ())),
        wheels=tuple(
            (key, _wheel(w, where))
            for key, w in zip(_known_platforms(wheels, where), wheels.values())
        ),
        arch=tuple(
            (key, _arch(entry, where, known.arch_cache)) for key, entry in arch_data.items()
        ),
    )


def _conda(
    data: Optional[Mapping[str, Any]], where: str, variants: set[str]
) -> Optional[CondaInfo]:
    if data is None:
        return None
    commands = tuple((str(k), str(v)) for k, v in data.get("commands", {}).items())
    for name, _ in commands:
        if name not in variants:
            raise _fail(where, f"conda command for unknown variant {name!r}")
    return CondaInfo(
        torchvision=_opt_str(data, "torchvision", where),
        torchaudio=_opt_str(data, "torchaudio", where),
        commands=commands,
        command_macos=_opt_str(data, "command_macos", where),
        platforms=tuple(_platform(p, where) for p in data.get("platforms", ())),
        source=_str(data, "source", where),
        note=_opt_str(data, "note", where),
    )


class _Known(NamedTuple):
    """What a release's entries are checked against, and shared parsed objects."""

    cuda_variants: frozenset[str]
    arch_cache: dict[_ArchKey, ArchList]


def _release(data: Mapping[str, Any], known: _Known) -> Release:
    torch = _str(data, "torch", "releases[?]")
    where = f"release {torch}"
    if not re.fullmatch(r"2\.\d+\.\d+", torch):
        raise _fail(where, "torch version must be 2.X.Y")
    sources = tuple(data.get("sources") or ())
    if not sources:
        raise _fail(where, "release without sources")
    python = tuple(data.get("python") or ())
    if not python or not all(_PYTHON_RE.match(p) for p in python):
        raise _fail(where, f"bad Python list {python!r}")
    variants = tuple(
        _variant(name, v, f"{where} variant {name}", known)
        for name, v in (data.get("variants") or {}).items()
    )
    names = {v.name for v in variants}
    platforms = []
    for key, p in (data.get("platforms") or {}).items():
        pwhere = f"{where} platform {key}"
        _platform(key, pwhere)
        default = p.get("pypi_default")
        if default is not None and default not in names:
            raise _fail(pwhere, f"PyPI default {default!r} is not a variant of this release")
        platforms.append(
            PlatformInfo(
                key=key,
                available=bool(p.get("available")),
                wheel=_wheel(p, pwhere),
                pypi_default=default,
                note=_opt_str(p, "note", pwhere),
            )
        )
    if {p.key for p in platforms} != set(PLATFORMS):
        raise _fail(where, "every platform needs an entry (available or not)")
    experimental = tuple(
        ExperimentalPython(
            version=str(e["version"]),
            platforms=tuple(_platform(p, where) for p in e["platforms"])
            if e.get("platforms")
            else None,
            note=str(e.get("note", "")),
        )
        for e in data.get("python_experimental", ())
    )
    sb = data.get("source_build") or {}
    build = sb.get("build")
    if build not in ("setup-py-develop", "pip-editable"):
        raise _fail(
            where, f"source_build.build must be setup-py-develop or pip-editable, not {build!r}"
        )
    return Release(
        torch=torch,
        released=_opt_str(data, "released", where),
        torchvision=_opt_str(data, "torchvision", where),
        torchaudio=_opt_str(data, "torchaudio", where),
        python=python,
        python_experimental=experimental,
        python_source=_str(data, "python_source", where),
        platforms=tuple(platforms),
        variants=variants,
        conda=_conda(data.get("conda"), f"{where} conda", names),
        source_build=SourceBuild(
            git_tag=_str(sb, "git_tag", where),
            build=build,
            source=_str(sb, "source", where),
            inferred=bool(sb.get("inferred", False)),
        ),
        sources=sources,
        notes=tuple(data.get("notes", ())),
        inferred=bool(data.get("inferred", False)),
    )


def _check_order(releases: Sequence[Release]) -> None:
    versions = [r.version for r in releases]
    if len(set(versions)) != len(versions):
        raise _fail("releases", "duplicate torch versions")
    if versions != sorted(versions, reverse=True):
        raise _fail("releases", "releases must be listed newest first")
