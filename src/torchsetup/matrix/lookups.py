"""What doctor knows about PyTorch releases, asked of the compatibility matrix.

The rules use these small functions (and only these); release facts — Python and glibc
support, the CUDA arch list of each published wheel, companion versions and the
torchvision/torchaudio numbering, the first torch whose Dynamo supports a Python, which
platforms a release serves — come from the matrix (``resources/matrix.json``, every entry with
its source; :mod:`torchsetup.matrix.model`), and arch coverage is the matrix's own rule
(:func:`torchsetup.matrix.model.coverage_of`), so doctor and the resolver agree. What the
matrix does not hold and doctor still needs lives here, with its sources: the minimum macOS of
the MPS backend (pytorch/pytorch#78343: 12.3; PR #133141 and #141182: 13 from 2.5; #164943 and
#177819: 14 for 2.10). GPU model names with their compute capability, and which capabilities
old toolkits and torch 1.x binaries could target, are the GPU table (``resources/gpus.json``). Every function answers ``None`` where it does not know.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Optional

from torchsetup.versions import version_tuple as version_tuple  # noqa: PLC0414 (re-exported for doctor)

if TYPE_CHECKING:
    from torchsetup.matrix.model import Matrix, Release

Minor = tuple[int, int]

PYTORCH_INDEX = "https://download.pytorch.org/whl"

# Minimum macOS for the MPS backend, by the first torch minor that required it.
_MPS_MIN_MACOS: tuple[tuple[Minor, str], ...] = (
    ((2, 10), "14.0"),
    ((2, 5), "13.0"),
    ((1, 12), "12.3"),
)

# --- versions ----------------------------------------------------------------------------------


def _minor(version: Optional[str]) -> Optional[Minor]:
    vt = version_tuple(version)
    return (vt[0], vt[1]) if len(vt) >= 2 else None


def is_prerelease(version: str) -> bool:
    """Nightlies and release candidates ("2.10.0.dev20251008", "2.5.0rc1") pin differently."""
    return bool(re.search(r"(dev|rc|a|b)\d", version.split("+", maxsplit=1)[0]))


def _matrix() -> Matrix:
    from torchsetup.matrix.load import load_matrix

    return load_matrix()


def _release(torch_version: str) -> Optional[Release]:
    """The matrix release of ``torch_version``, or the newest patch of its minor series."""
    m = _matrix()
    public = torch_version.split("+", maxsplit=1)[0]
    found = m.release(public)
    if found is not None:
        return found
    minor = _minor(public)
    return next((r for r in m.releases if minor is not None and r.version[:2] == minor), None)


def _releases_oldest_first() -> list[Release]:
    return list(reversed(_matrix().releases))


def newest_release() -> str:
    return _matrix().releases[0].torch


# --- Python, glibc, platforms ------------------------------------------------------------------


def python_supported(torch_version: str, python_minor: str) -> Optional[bool]:
    """Whether ``torch_version`` published wheels for Python ``python_minor`` ("3.12")."""
    release = _release(torch_version)
    if release is None:
        return None
    return python_minor in release.python or any(
        exp.version == python_minor for exp in release.python_experimental
    )


def pythons_of(torch_version: str) -> tuple[str, ...]:
    """The Pythons ``torch_version`` published wheels for (("3.11", ..., "3.15")); () unknown."""
    release = _release(torch_version)
    return tuple(release.python) if release is not None else ()


def oldest_python() -> Optional[str]:
    """The oldest Python any release in the data has wheels for ("3.8")."""
    known = {p for r in _matrix().releases for p in r.python}
    return min(known, key=version_tuple) if known else None


def newest_torch_for_python(python_minor: str) -> Optional[str]:
    """The newest release with wheels for ``python_minor``; None when none has."""
    return next((r.torch for r in _matrix().releases if python_minor in r.python), None)


def min_glibc(torch_version: str, platform: str, variant: Optional[str] = None) -> Optional[str]:
    """The glibc the Linux wheels of ``torch_version`` need (manylinux2014: 2.17, 2_28: 2.28)."""
    release = _release(torch_version)
    if release is None or not platform.startswith("linux"):
        return None
    build = release.variant(variant) if variant else None
    if build is not None:
        wheel = release.wheel(build, platform)
        return wheel.min_glibc if wheel else None
    info = release.platform(platform)
    return info.wheel.min_glibc if info else None


def newest_torch_for_glibc(glibc: str, platform: str) -> Optional[str]:
    """The newest release whose (default) Linux wheels install on ``glibc``."""
    have = version_tuple(glibc)
    for release in _matrix().releases:
        need = min_glibc(release.torch, platform)
        if release.available_on(platform) and need is not None and version_tuple(need) <= have:
            return release.torch
    return None


def last_release_for(platform: str) -> Optional[str]:
    """The last torch with wheels for a platform PyTorch dropped ("macos-x86_64": "2.2.2");
    None while the newest release still serves it."""
    releases = _matrix().releases
    if not releases or releases[0].available_on(platform):
        return None
    return next((r.torch for r in releases if r.available_on(platform)), None)


def mps_min_macos(torch_version: str) -> Optional[str]:
    """The macOS the MPS backend of ``torch_version`` needs ("14.0"); None before MPS (1.12)."""
    minor = _minor(torch_version)
    if minor is None:
        return None
    return next((mac for first, mac in _MPS_MIN_MACOS if minor >= first), None)


def dynamo_min_torch(python_minor: str) -> Optional[str]:
    """The first torch whose torch.compile runs on ``python_minor``; None: no release does."""
    return _matrix().dynamo.min_torch(python_minor)


# --- CUDA arch lists ---------------------------------------------------------------------------


def arch_list(torch_version: str, variant: str, platform: str) -> Optional[tuple[str, ...]]:
    """The CUDA architectures a published wheel has kernels for, as torch.cuda.get_arch_list()
    prints them (sm_90, compute_120 for PTX); None when not known."""
    release = _release(torch_version)
    build = release.variant(variant) if release is not None else None
    archs = build.arch_list(platform) if build is not None else None
    if archs is None:
        return None
    out: list[str] = []
    for e in archs.entries:
        out.append(f"sm_{e.major}{e.minor}{e.suffix}")
        if e.ptx:
            out.append(f"compute_{e.major}{e.minor}")
    return tuple(out)


def _cc(text: str) -> Optional[tuple[int, int]]:  # (for arch_span)
    """(12, 0) from "12.0", "sm_120", "compute_120", "sm_90a"."""
    m = re.fullmatch(r"(\d+)\.(\d+)", text)
    if m:
        return int(m.group(1)), int(m.group(2))
    m = re.fullmatch(r"(?:sm|compute)_(\d+)(\d)[a-z]?", text)
    return (int(m.group(1)), int(m.group(2))) if m else None


def arch_supports(capability: str, archs: tuple[str, ...]) -> Optional[bool]:
    """Whether a GPU of ``capability`` ("8.6") runs a build with ``archs`` (get_arch_list()
    names: sm_86, sm_90a, sm_100f, compute_120).

    The matrix's coverage rule (:func:`torchsetup.matrix.model.coverage_of`, the one the
    resolver uses): SASS runs on GPUs of the same major and an equal or higher minor (sm_80 code
    runs on sm_86, family sm_100f on 10.3), except arch-specific "a" targets (sm_90a); PTX
    (compute_XY) is JIT-compiled by the driver for any newer GPU.
    """
    from torchsetup.matrix.model import arch_entry_from_name, coverage_of

    gpu = _cc(capability)
    if gpu is None:
        return None
    entries = (e for a in archs if (e := arch_entry_from_name(a)) is not None)
    return coverage_of(entries, gpu) is not None


def arch_span(archs: tuple[str, ...]) -> Optional[tuple[tuple[int, int], tuple[int, int]]]:
    """(lowest, highest) capability in an arch list."""
    ccs = [cc for a in archs if (cc := _cc(a)) is not None]
    return (min(ccs), max(ccs)) if ccs else None


def builds_with_kernels_for(capability: str, platform: str) -> list[tuple[str, str]]:
    """(torch release, variant) pairs, oldest first, whose published wheels run on ``capability``."""
    out = []
    for release in _releases_oldest_first():
        for build in release.variants:
            archs = arch_list(release.torch, build.name, platform)
            if archs and arch_supports(capability, archs):
                out.append((release.torch, build.name))
    return out


def capability_from_name(name: str) -> Optional[str]:
    """Compute capability of an NVIDIA GPU model name ("NVIDIA GeForce RTX 5090" -> "12.0"),
    from the one GPU table (``resources/gpus.json``, :mod:`torchsetup.matrix.gpus`)."""
    from torchsetup.matrix.gpus import capability_from_name as from_table

    return from_table(name)


def no_kernels_ever(capability: str, cuda: str, torch_version: str) -> Optional[str]:
    """Why a torch ``torch_version`` built with CUDA ``cuda`` cannot have kernels for a GPU of
    ``capability``, from the era facts (CUDA ``cuda`` cannot target it, or the torch 1.x
    binaries of that CUDA started above it); None when those facts do not exclude it."""
    from torchsetup.matrix.gpus import gpu_table

    table, major = gpu_table(), version_tuple(cuda)[:1]
    if not major:
        return None
    cc = version_tuple(capability)
    floor = table.toolkit_floor(major[0])
    if floor is not None and cc < version_tuple(floor.min_capability):
        return f"CUDA {cuda} cannot compile for compute capability below {floor.min_capability}"
    binary = table.torch_1x_floor(major[0]) if version_tuple(torch_version)[:1] == (1,) else None
    if binary is not None and cc < version_tuple(binary.min_capability):
        return (
            f"the official torch 1.x CUDA {major[0]} binaries start at compute capability "
            f"{binary.min_capability}"
        )
    return None


# --- companions and indexes --------------------------------------------------------------------


def companion_versions(torch_version: str) -> Optional[tuple[str, Optional[str]]]:
    """(torchvision, torchaudio) released with ``torch_version``; None for unknown releases."""
    release = _matrix().release(torch_version.split("+", maxsplit=1)[0])
    if release is None or release.torchvision is None:
        return None
    return release.torchvision, release.torchaudio


def torch_minors_for(name: str, version: str) -> Optional[tuple[Minor, Optional[Minor]]]:
    """(first, last) torch minor a torchvision/torchaudio release works with (last None: open).

    The numbering rules are data (matrix.json ``facts.companions``, each with its source):
    torchvision 0.N pairs with torch 1.(N-1) for 5 <= N <= 14 and 2.(N-15) from 0.15;
    0.29.1 and later are ABI stable for torch >= 2.14. torchaudio 0.N pairs with 1.N and
    2.x with the same 2.x; torchaudio 2.11 (the last) declares torch >= 2.11.
    """
    return _matrix().companion_torch_span(name, version)


def index_url(variant: str) -> str:
    """The PyTorch index of a build variant ("cu128" -> https://download.pytorch.org/whl/cu128)."""
    return f"{PYTORCH_INDEX}/{variant}"


def index_for_local_label(local: Optional[str]) -> Optional[str]:
    """Where a torch package with this local label came from: +cu128 -> its PyTorch index,
    no label -> None (PyPI, whose wheel is the default build of the platform)."""
    if not local or not re.fullmatch(r"cu\d+|cpu|rocm[\d.]+|xpu", local):
        return None
    return index_url(local)


# --- other GPU vendors (issue 11): matrix.json gpu_vendors ------------------------------------


def rocm_gfx_targets(variant: str) -> Optional[tuple[str, ...]]:
    """The gfx targets the ROCm build ``variant`` (rocm6.4, or a torch.version.hip-derived name)
    ships kernels for; None when the data does not say."""
    row = _matrix().vendors.targets_of(variant)
    return row.targets if row else None


def rocm_gfx_targets_all() -> tuple[str, ...]:
    """Every gfx target some ROCm build of torch ships kernels for."""
    return tuple(sorted({t for row in _matrix().vendors.rocm_targets for t in row.targets}))


def hsa_override_for(gfx: str) -> Optional[str]:
    """The HSA_OVERRIDE_GFX_VERSION that runs ``gfx`` as a supported target of its family."""
    return _matrix().vendors.override_for(gfx)
