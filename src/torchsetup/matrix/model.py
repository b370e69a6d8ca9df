"""The compatibility matrix: which PyTorch builds exist, where, and what they need.

The records here are what :mod:`torchsetup.matrix.load` builds from the package data
(``torchsetup/resources/matrix.json``, curated by ``tools/curate_matrix.py`` and refreshed by
``tools/update_matrix.py``): frozen dataclasses (the entities) and named tuples (their small
immutable records, cheaper to define: this module is on the ``install --dry-run`` start-up path).
Every fact the code asks of the data (Dynamo's Python floors, the companion numbering, the end
of torchaudio and of the conda channel, the arch coverage rule) is answered here, from the data.

Everything here is pure: no I/O.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple, Optional

from torchsetup.errors import UsageError
from torchsetup.records import Record
from torchsetup.versions import variant_cuda, variant_kind, version_tuple

PLATFORMS = ("linux-x86_64", "linux-aarch64", "windows-x86_64", "macos-arm64", "macos-x86_64")
COVERAGE_SASS = "sass"
COVERAGE_PTX = "ptx"

_ARCH_RE = re.compile(r"^(\d+)\.(\d+)([af]?)(\+PTX)?$")


class MatrixError(UsageError, ValueError):
    """The matrix (the packaged one, ``$TORCHSETUP_MATRIX``, or one given to ``matrix_from_dict``)
    has a bad entry: one line naming its path, exit 2 (a UsageError), never a traceback."""


# --- the model ---------------------------------------------------------------------------------


class ArchEntry(NamedTuple):
    """One TORCH_CUDA_ARCH_LIST item (8.6, 9.0a, 10.0f, 12.0+PTX) or get_arch_list() name."""

    major: int
    minor: int
    suffix: str  # "", "a" (arch-specific: only that exact GPU) or "f" (family)
    ptx: bool
    sass: bool = True  # False: PTX only (torch's 'compute_120')

    @property
    def cc(self) -> tuple[int, int]:
        return (self.major, self.minor)

    def sass_covers(self, cc: tuple[int, int]) -> bool:
        """SASS for X.Z runs on X.Y when Z <= Y (same major, 'f' family targets too); 'a' builds
        only on X.Z itself."""
        if not self.sass or self.major != cc[0]:
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
        return coverage_of(self.entries, cc)

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


class CompanionRule(NamedTuple):
    """Which torch minors a torchvision/torchaudio release works with, for a range of them."""

    first: tuple[int, ...]  # the first companion version the rule covers
    # the last, compared as a prefix (0.28 covers 0.28.1); None: open
    last: Optional[tuple[int, ...]]
    torch_major: int
    torch_minor: Optional[int]  # a fixed torch minor, or None: companion minor + minor_offset
    minor_offset: int
    open: bool  # True: also every later torch (ABI-stable releases)
    source: str

    def matches(self, version: tuple[int, ...]) -> bool:
        return version >= self.first and (
            self.last is None or version[: len(self.last)] <= self.last
        )

    def span(self, version: tuple[int, ...]) -> tuple[tuple[int, int], Optional[tuple[int, int]]]:
        minor = self.torch_minor if self.torch_minor is not None else version[1] + self.minor_offset
        first = (self.torch_major, minor)
        return first, None if self.open else first


class DynamoFloors(NamedTuple):
    """The first torch whose Dynamo (torch.compile) supports a Python minor."""

    floors: tuple[tuple[str, str], ...]  # ("3.11", "2.1"), oldest Python first
    older: str  # the first torch for every Python older than the first floor
    source: str

    def min_torch(self, python_minor: str) -> Optional[str]:
        """None: no release in the data supports this Python yet."""
        found = dict(self.floors).get(python_minor)
        if found is not None:
            return found
        vt = version_tuple(python_minor)
        if self.floors and vt and vt < version_tuple(self.floors[0][0]):
            return self.older
        return None


@dataclass(frozen=True, eq=False, repr=False)
class RocmTargets(Record):
    """The LLVM gfx targets the ROCm builds ``variants`` ship kernels for (PYTORCH_ROCM_ARCH)."""

    variants: tuple[str, ...]
    targets: tuple[str, ...]
    source: str
    inferred: bool = False


@dataclass(frozen=True, eq=False, repr=False)
class JetsonIndex(Record):
    """Where NVIDIA publishes torch for one JetPack major (an index, or one wheel URL)."""

    jetpack: str  # "6"
    l4t: str  # "36"
    cuda: str
    python: str  # the JetPack's system Python minor
    torch: str
    source: str
    torchvision: Optional[str] = None
    index_url: Optional[str] = None
    wheel_url: Optional[str] = None
    inferred: bool = False


@dataclass(frozen=True, eq=False, repr=False)
class GpuVendors(Record):
    """matrix.json 'gpu_vendors': what the automatic choice needs for AMD, Intel and Jetson."""

    rocm_targets: tuple[RocmTargets, ...] = ()
    hsa_override: tuple[tuple[str, str], ...] = ()  # gfx1103 -> "11.0.0"
    hsa_override_source: str = ""
    xpu_families: tuple[str, ...] = ()
    xpu_platforms: tuple[str, ...] = ()
    xpu_source: str = ""
    jetson: tuple[JetsonIndex, ...] = ()

    def targets_of(self, variant: str) -> Optional[RocmTargets]:
        return next((r for r in self.rocm_targets if variant in r.variants), None)

    def override_for(self, gfx: str) -> Optional[str]:
        return dict(self.hsa_override).get(gfx)

    def jetson_index(self, jetpack: Optional[str]) -> Optional[JetsonIndex]:
        return next((j for j in self.jetson if j.jetpack == jetpack), None)


@dataclass(frozen=True, eq=False, repr=False)
class Matrix(Record):
    releases: tuple[Release, ...]  # newest first
    cuda: tuple[CudaRow, ...]  # oldest first
    pip_floors: tuple[PipFloor, ...]
    pypi_index_url: str
    disagreements: tuple[Disagreement, ...] = ()
    generated_by: str = ""
    dynamo: DynamoFloors = DynamoFloors((), "2.0", "")  # noqa: RUF009 (an immutable tuple)
    companion_rules: tuple[tuple[str, tuple[CompanionRule, ...]], ...] = ()
    vendors: GpuVendors = GpuVendors()

    def companion_torch_span(
        self, name: str, version: str
    ) -> Optional[tuple[tuple[int, int], Optional[tuple[int, int]]]]:
        """(first, last) torch minor a torchvision/torchaudio release works with (last None:
        every later torch too); None when no rule of the data covers it."""
        vt = version_tuple(version)
        if len(vt) < 2:
            return None
        for rule in dict(self.companion_rules).get(name, ()):
            if rule.matches(vt):
                return rule.span(vt)
        return None

    def last_with_companion(self, name: str, method: str = "pip") -> Optional[Release]:
        """The newest release that pairs a ``name`` (torchvision, torchaudio) for ``method``."""
        for release in self.releases:
            if method == "conda" and release.conda is None:
                continue
            if dict(release.companions(method)).get(name) is not None:
                return release
        return None

    def last_conda_release(self) -> Optional[Release]:
        """The newest release with packages on the pytorch conda channel."""
        return next((r for r in self.releases if r.conda is not None), None)

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


_TORCH_ARCH_RE = re.compile(r"(sm|compute)_(\d+)(\d)([af]?)")


def arch_entry_from_name(name: str) -> Optional[ArchEntry]:
    """An entry of ``torch.cuda.get_arch_list()``: 'sm_90' (SASS), 'sm_100f' (family SASS),
    'sm_90a' (arch-specific SASS) or 'compute_120' (PTX only); None for anything else."""
    m = _TORCH_ARCH_RE.fullmatch(name)
    if not m:
        return None
    ptx_only = m.group(1) == "compute"
    return ArchEntry(int(m.group(2)), int(m.group(3)), m.group(4), ptx=ptx_only, sass=not ptx_only)


def coverage_of(entries: Iterable[ArchEntry], cc: tuple[int, int]) -> Optional[str]:
    """COVERAGE_SASS, COVERAGE_PTX (JIT only) or None: the one coverage rule (resolver, doctor)."""
    entries = tuple(entries)
    if any(e.sass_covers(cc) for e in entries):
        return COVERAGE_SASS
    if any(e.ptx_covers(cc) for e in entries):
        return COVERAGE_PTX
    return None
