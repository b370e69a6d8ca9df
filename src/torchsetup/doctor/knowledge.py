"""What doctor knows about PyTorch releases: Python and glibc support, CUDA arch lists, ...

**To be replaced by torchsetup.matrix at merge.** The functions here are the interface the
rules use (and only the rules); their bodies read a small table derived from the shared
reference ``compat.json`` (PyTorch 2.0.0 to 2.14.1, every entry sourced there), and answer
``None`` wherever the table does not know. Rewiring means: same signatures, bodies that ask
the compatibility matrix, and these tables deleted.

Sources behind the tables (as compat.json cites them): RELEASE.md "Release Compatibility
Matrix"; pytorch/builder ``manywheel/build_cuda.sh`` and ``windows/cuda1xx.bat`` per release
branch and test-infra ``generate_binary_build_matrix.py`` (arch lists); the 2.6.0 release notes
and test-infra promote scripts (manylinux_2_28 / glibc 2.28 from 2.7); the 2.2.0 release notes
and pytorch/pytorch#114602 (last Intel-mac wheels: 2.2.2); pytorch/vision release notes
(torchvision pins; 0.29.1 relaxes to torch>=2.14). Found while building this module: the real
H200 capture (tests/data/real/h200-*) shows torch 2.11.0+cu130 on Linux with *no* PTX entry
(``sm_75 ... sm_120``), where compat.json says ``12.0+PTX``; the table follows the capture.
MPS minimum macOS: pytorch/pytorch#78343 (12.3), PR #133141 and #141182 (13 from 2.5), #164943
and #177819 (14 for 2.10). Dynamo's Python support: #104918 (3.11 from 2.1), #120233 (3.12
from 2.4), #144048 (3.13 from 2.6), #169875 (3.14 from 2.10).
"""

from __future__ import annotations

import re
from typing import Optional

Minor = tuple[int, int]

PYTORCH_INDEX = "https://download.pytorch.org/whl"

# torch release -> (torchvision, torchaudio) of that release (None: no torchaudio any more).
RELEASES: tuple[tuple[str, str, Optional[str]], ...] = (
    ("2.0.0", "0.15.1", "2.0.1"),
    ("2.0.1", "0.15.2", "2.0.2"),
    ("2.1.0", "0.16.0", "2.1.0"),
    ("2.1.1", "0.16.1", "2.1.1"),
    ("2.1.2", "0.16.2", "2.1.2"),
    ("2.2.0", "0.17.0", "2.2.0"),
    ("2.2.1", "0.17.1", "2.2.1"),
    ("2.2.2", "0.17.2", "2.2.2"),
    ("2.3.0", "0.18.0", "2.3.0"),
    ("2.3.1", "0.18.1", "2.3.1"),
    ("2.4.0", "0.19.0", "2.4.0"),
    ("2.4.1", "0.19.1", "2.4.1"),
    ("2.5.0", "0.20.0", "2.5.0"),
    ("2.5.1", "0.20.1", "2.5.1"),
    ("2.6.0", "0.21.0", "2.6.0"),
    ("2.7.0", "0.22.0", "2.7.0"),
    ("2.7.1", "0.22.1", "2.7.1"),
    ("2.8.0", "0.23.0", "2.8.0"),
    ("2.9.0", "0.24.0", "2.9.0"),
    ("2.9.1", "0.24.1", "2.9.1"),
    ("2.10.0", "0.25.0", "2.10.0"),
    ("2.11.0", "0.26.0", "2.11.0"),
    ("2.12.0", "0.27.0", None),
    ("2.12.1", "0.27.1", None),
    ("2.13.0", "0.28.0", None),
    ("2.14.0", "0.29.0", None),
    ("2.14.1", "0.29.1", None),
)

# (first, last torch minor) -> Python versions with wheels.
_PYTHONS: tuple[tuple[Minor, Minor, tuple[str, ...]], ...] = (
    ((2, 0), (2, 1), ("3.8", "3.9", "3.10", "3.11")),
    ((2, 2), (2, 4), ("3.8", "3.9", "3.10", "3.11", "3.12")),
    ((2, 5), (2, 5), ("3.9", "3.10", "3.11", "3.12")),
    ((2, 6), (2, 8), ("3.9", "3.10", "3.11", "3.12", "3.13")),
    ((2, 9), (2, 14), ("3.10", "3.11", "3.12", "3.13", "3.14")),
)

# TORCH_CUDA_ARCH_LIST of the published wheels: (first, last torch minor, variants, platform,
# list). "+PTX" adds a compute_XY entry (PTX the driver can JIT for newer GPUs).
_ARCH_LISTS: tuple[tuple[Minor, Minor, tuple[str, ...], str, str], ...] = (
    ((2, 0), (2, 0), ("cu117",), "linux-x86_64", "3.7;5.0;6.0;7.0;7.5;8.0;8.6"),
    ((2, 0), (2, 7), ("cu118",), "linux-x86_64", "3.7;5.0;6.0;7.0;7.5;8.0;8.6;9.0"),
    ((2, 1), (2, 6), ("cu121", "cu124"), "linux-x86_64", "5.0;6.0;7.0;7.5;8.0;8.6;9.0"),
    ((2, 6), (2, 14), ("cu126",), "linux-x86_64", "5.0;6.0;7.0;7.5;8.0;8.6;9.0"),
    ((2, 7), (2, 7), ("cu128",), "linux-x86_64", "7.5;8.0;8.6;9.0;10.0;12.0"),
    ((2, 8), (2, 10), ("cu128", "cu129"), "linux-x86_64", "7.0;7.5;8.0;8.6;9.0;10.0;12.0"),
    ((2, 9), (2, 10), ("cu130",), "linux-x86_64", "7.5;8.0;8.6;9.0;10.0;12.0+PTX"),
    ((2, 11), (2, 11), ("cu128", "cu129", "cu130"), "linux-x86_64", "7.5;8.0;8.6;9.0;10.0;12.0"),
    ((2, 12), (2, 13), ("cu129",), "linux-x86_64", "7.5;8.0;8.6;9.0;10.0;12.0"),
    ((2, 12), (2, 14), ("cu130", "cu132"), "linux-x86_64", "7.5;8.0;8.6;9.0;10.0;12.0+PTX"),
    ((2, 0), (2, 0), ("cu117",), "windows-x86_64", "3.7+PTX;5.0;6.0;6.1;7.0;7.5;8.0;8.6"),
    ((2, 0), (2, 5), ("cu118",), "windows-x86_64", "3.7+PTX;5.0;6.0;6.1;7.0;7.5;8.0;8.6;9.0"),
    ((2, 1), (2, 5), ("cu121", "cu124"), "windows-x86_64", "5.0;6.0;6.1;7.0;7.5;8.0;8.6;9.0"),
    ((2, 9), (2, 11), ("cu126",), "windows-x86_64", "5.0;6.0;7.0;7.5;8.0;8.6;9.0"),
    ((2, 9), (2, 10), ("cu128",), "windows-x86_64", "7.0;7.5;8.0;8.6;9.0;10.0;12.0"),
    ((2, 11), (2, 11), ("cu128",), "windows-x86_64", "7.5;8.0;8.6;9.0;10.0;12.0"),
    ((2, 9), (2, 14), ("cu130",), "windows-x86_64", "7.5;8.0;8.6;9.0;10.0;12.0"),
    ((2, 12), (2, 14), ("cu132",), "windows-x86_64", "7.5;8.0;8.6;9.0;10.0;12.0"),
    ((2, 7), (2, 7), ("cu128",), "linux-aarch64", "9.0;10.0;12.0"),
    ((2, 9), (2, 14), ("cu126",), "linux-aarch64", "8.0;9.0"),
    ((2, 9), (2, 11), ("cu128",), "linux-aarch64", "8.0;9.0;10.0;12.0"),
    ((2, 9), (2, 14), ("cu130",), "linux-aarch64", "8.0;9.0;10.0;11.0;12.0+PTX"),
    ((2, 12), (2, 14), ("cu132",), "linux-aarch64", "8.0;9.0;10.0;11.0;12.0+PTX"),
)

# GPU model name -> compute capability, for reports that name the GPU but not its capability
# (NVIDIA's "CUDA GPUs" list). First match wins, so the specific patterns come first.
_CAPABILITY_BY_NAME: tuple[tuple[str, str], ...] = (
    (r"GB10\b|DGX Spark", "12.1"),
    (r"B300|GB300", "10.3"),
    (r"\bB200|\bB100|GB200", "10.0"),
    (r"RTX 50[5-9]0|RTX PRO \d+ Blackwell", "12.0"),
    (r"H100|H200|H800|H20\b|GH200", "9.0"),
    (r"RTX \d+ Ada|L40|\bL4\b|L20\b|RTX 40[5-9]0", "8.9"),
    (r"A100|A800|\bA30\b", "8.0"),
    (r"Orin", "8.7"),
    (r"RTX 30[5-9]0|RTX A\d+|\bA10G?\b|\bA40\b|\bA16\b|\bA2\b", "8.6"),
    (r"RTX 20[6-8]0|TITAN RTX|\bT4\b|Quadro RTX|RTX [4-8]000\b|GTX 16[5-6]0", "7.5"),
    (r"V100|TITAN V", "7.0"),
    (r"P100", "6.0"),
    (r"GTX 10[5-8]0|TITAN Xp|TITAN X \(Pascal\)|\bP40\b|\bP4\b|Quadro P", "6.1"),
    (r"GTX 9[5-8]0|GTX TITAN X|\bM40\b|\bM60\b|Quadro M", "5.2"),
    (r"GTX 750", "5.0"),
    (r"K80", "3.7"),
)

# Minimum macOS for the MPS backend, by the first torch minor that required it.
_MPS_MIN_MACOS: tuple[tuple[Minor, str], ...] = (
    ((2, 10), "14.0"),
    ((2, 5), "13.0"),
    ((1, 12), "12.3"),
)

# First torch whose Dynamo (torch.compile) supports a Python minor; older Pythons: any 2.x.
_DYNAMO_MIN_TORCH: dict[str, str] = {"3.11": "2.1", "3.12": "2.4", "3.13": "2.6", "3.14": "2.10"}

_LAST_RELEASE_FOR: dict[str, str] = {"macos-x86_64": "2.2.2"}


# --- versions ----------------------------------------------------------------------------------


def version_tuple(version: Optional[str]) -> tuple[int, ...]:
    """(2, 11, 0) from "2.11.0+cu130" or "2.10.0.dev20251008"; () when there is no number."""
    if not version:
        return ()
    return tuple(int(x) for x in re.findall(r"\d+", version.split("+")[0])[:3])


def _minor(version: Optional[str]) -> Optional[Minor]:
    vt = version_tuple(version)
    return (vt[0], vt[1]) if len(vt) >= 2 else None


def is_prerelease(version: str) -> bool:
    """Nightlies and release candidates ("2.10.0.dev20251008", "2.5.0rc1") pin differently."""
    return bool(re.search(r"(dev|rc|a|b)\d", version.split("+", maxsplit=1)[0]))


def newest_release() -> str:
    return RELEASES[-1][0]


# --- Python, glibc, platforms ------------------------------------------------------------------


def python_supported(torch_version: str, python_minor: str) -> Optional[bool]:
    """Whether ``torch_version`` published wheels for Python ``python_minor`` ("3.12")."""
    minor = _minor(torch_version)
    for first, last, pythons in _PYTHONS:
        if minor is not None and first <= minor <= last:
            return python_minor in pythons
    return None


def newest_torch_for_python(python_minor: str) -> Optional[str]:
    """The newest release with wheels for ``python_minor``; None when none has."""
    found = [t for t, _, _ in RELEASES if python_supported(t, python_minor)]
    return found[-1] if found else None


def min_glibc(torch_version: str, platform: str, variant: Optional[str] = None) -> Optional[str]:
    """The glibc the Linux wheels of ``torch_version`` need (manylinux2014: 2.17, 2_28: 2.28)."""
    minor, newest = _minor(torch_version), _minor(newest_release())
    if minor is None or newest is None or minor > newest:
        return None
    if platform == "linux-x86_64":
        if minor == (2, 6):
            return "2.28" if variant and variant.startswith(("cu126", "rocm", "xpu")) else "2.17"
        return "2.28" if minor >= (2, 7) else "2.17"
    if platform == "linux-aarch64":
        return "2.28" if minor >= (2, 4) else "2.17"
    return None


def newest_torch_for_glibc(glibc: str, platform: str) -> Optional[str]:
    """The newest release whose (CPU/default) Linux wheels install on ``glibc``."""
    have = version_tuple(glibc)
    found = [
        t
        for t, _, _ in RELEASES
        if (need := min_glibc(t, platform)) is not None and version_tuple(need) <= have
    ]
    return found[-1] if found else None


def last_release_for(platform: str) -> Optional[str]:
    """The last torch with wheels for a platform PyTorch dropped ("macos-x86_64": "2.2.2")."""
    return _LAST_RELEASE_FOR.get(platform)


def mps_min_macos(torch_version: str) -> Optional[str]:
    """The macOS the MPS backend of ``torch_version`` needs ("14.0"); None before MPS (1.12)."""
    minor = _minor(torch_version)
    if minor is None:
        return None
    return next((mac for first, mac in _MPS_MIN_MACOS if minor >= first), None)


def dynamo_min_torch(python_minor: str) -> Optional[str]:
    """The first torch whose torch.compile runs on ``python_minor``; None: no release does."""
    if python_minor in _DYNAMO_MIN_TORCH:
        return _DYNAMO_MIN_TORCH[python_minor]
    vt = version_tuple(python_minor)
    if vt and vt < (3, 11):
        return "2.0"
    return None


# --- CUDA arch lists ---------------------------------------------------------------------------


def _arch_entries(spec: str) -> tuple[str, ...]:
    """An arch-list spec as torch.cuda.get_arch_list() prints it: 12.0+PTX -> sm_120, compute_120."""
    out: list[str] = []
    for item in spec.split(";"):
        number = item.replace("+PTX", "").replace(".", "")
        out.append(f"sm_{number}")
        if item.endswith("+PTX"):
            out.append(f"compute_{number}")
    return tuple(out)


def arch_list(torch_version: str, variant: str, platform: str) -> Optional[tuple[str, ...]]:
    """The CUDA architectures a published wheel has kernels for; None when not known."""
    minor = _minor(torch_version)
    if minor is None:
        return None
    for first, last, variants, plat, spec in _ARCH_LISTS:
        if plat == platform and variant in variants and first <= minor <= last:
            return _arch_entries(spec)
    return None


def _cc(text: str) -> Optional[tuple[int, int]]:
    """(12, 0) from "12.0", "sm_120", "compute_120", "sm_90a"."""
    m = re.fullmatch(r"(\d+)\.(\d+)", text)
    if m:
        return int(m.group(1)), int(m.group(2))
    m = re.fullmatch(r"(?:sm|compute)_(\d+)(\d)[a-z]?", text)
    return (int(m.group(1)), int(m.group(2))) if m else None


def arch_supports(capability: str, archs: tuple[str, ...]) -> Optional[bool]:
    """Whether a GPU of ``capability`` ("8.6") runs a build with ``archs``.

    SASS runs on GPUs of the same major and an equal or higher minor (sm_80 code runs on
    sm_86), except arch-specific "a" targets (sm_90a); PTX (compute_XY) is JIT-compiled by the
    driver for any newer GPU.
    """
    gpu = _cc(capability)
    if gpu is None:
        return None
    for arch in archs:
        target = _cc(arch)
        if target is None:
            continue
        if arch.startswith("compute_") and target <= gpu:
            return True
        if arch.startswith("sm_") and (
            target == gpu or (not arch[-1].isalpha() and target[0] == gpu[0] and target < gpu)
        ):
            return True
    return False


def arch_span(archs: tuple[str, ...]) -> Optional[tuple[tuple[int, int], tuple[int, int]]]:
    """(lowest, highest) capability in an arch list."""
    ccs = [cc for a in archs if (cc := _cc(a)) is not None]
    return (min(ccs), max(ccs)) if ccs else None


def builds_with_kernels_for(capability: str, platform: str) -> list[tuple[str, str]]:
    """(torch release, variant) pairs whose published wheels run on ``capability``."""
    out = []
    for torch_version, _, _ in RELEASES:
        for variant in sorted({v for row in _ARCH_LISTS for v in row[2]}):
            archs = arch_list(torch_version, variant, platform)
            if archs and arch_supports(capability, archs):
                out.append((torch_version, variant))
    return out


def capability_from_name(name: str) -> Optional[str]:
    """Compute capability of an NVIDIA GPU model name ("NVIDIA GeForce RTX 5090" -> "12.0")."""
    for pattern, capability in _CAPABILITY_BY_NAME:
        if re.search(pattern, name, re.IGNORECASE):
            return capability
    return None


# --- companions and indexes --------------------------------------------------------------------


def companion_versions(torch_version: str) -> Optional[tuple[str, Optional[str]]]:
    """(torchvision, torchaudio) released with ``torch_version``; None for unknown releases."""
    public = torch_version.split("+", maxsplit=1)[0]
    return next(((tv, ta) for t, tv, ta in RELEASES if t == public), None)


def torch_minors_for(name: str, version: str) -> Optional[tuple[Minor, Optional[Minor]]]:
    """(first, last) torch minor a torchvision/torchaudio release works with (last None: open).

    torchvision 0.N pairs with torch 1.(N-1) for 5 <= N <= 14 and 2.(N-15) from 0.15;
    0.29.1 and later are ABI stable for torch >= 2.14. torchaudio 0.N pairs with 1.N and
    2.x with the same 2.x; torchaudio 2.11 (the last) declares torch >= 2.11.
    """
    vt = version_tuple(version)
    if len(vt) < 2:
        return None
    if name == "torchvision" and vt[0] == 0:
        n = vt[1]
        if vt >= (0, 29, 1):
            return (2, 14), None
        if n >= 15:
            return (2, n - 15), (2, n - 15)
        if 5 <= n <= 14:
            return (1, n - 1), (1, n - 1)
    if name == "torchaudio":
        if vt[0] == 0 and 5 <= vt[1] <= 13:
            return (1, vt[1]), (1, vt[1])
        if vt[0] == 2:
            minor = (2, vt[1])
            return (minor, None) if minor >= (2, 11) else (minor, minor)
    return None


def index_url(variant: str) -> str:
    """The PyTorch index of a build variant ("cu128" -> https://download.pytorch.org/whl/cu128)."""
    return f"{PYTORCH_INDEX}/{variant}"


def index_for_local_label(local: Optional[str]) -> Optional[str]:
    """Where a torch package with this local label came from: +cu128 -> its PyTorch index,
    no label -> None (PyPI, whose wheel is the default build of the platform)."""
    if not local or not re.fullmatch(r"cu\d+|cpu|rocm[\d.]+|xpu", local):
        return None
    return index_url(local)
