"""The resolver's rules for AMD (ROCm), Intel (XPU) and Jetson GPUs (pure).

A GPU of these vendors is *usable* when its driver stack is there (AMD: /dev/kfd or a ROCm
runtime; Intel: Level Zero; Jetson: an L4T release) and some build of the matrix ships kernels
for it (AMD: its gfx target is in the build's PYTORCH_ROCM_ARCH; Intel: an XPU-supported
family). With a usable GPU the CPU build is never chosen automatically.
"""

from __future__ import annotations

import re
from typing import NamedTuple, Optional

from torchsetup.detect.model import Amd, Intel, Jetson
from torchsetup.detect.parse.vendors import intel_xpu_family, jetpack_for_l4t, jetson_capability
from torchsetup.matrix.model import GpuVendors
from torchsetup.versions import version_at_least, version_tuple


class AmdTarget(NamedTuple):
    label: str  # "Radeon RX 7900 XTX" or "GPU 0"
    gfx: Optional[str]
    integrated: bool = False


class IntelTarget(NamedTuple):
    label: str
    family: Optional[str]  # "arc-a", "max", ... None: not an XPU target
    integrated: bool = False


class JetsonTarget(NamedTuple):
    label: str  # the board model
    jetpack: Optional[str]
    l4t: Optional[str]
    cc: Optional[str]


class VendorCheck(NamedTuple):
    problem: str = ""
    why: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


_GFX_TOKEN = re.compile(r"^gfx\d{2,4}[a-z]?$")
_JETSON_TOKENS = {
    "orin": ("NVIDIA Jetson Orin", "6", "8.7"),
    "jetson-orin": ("NVIDIA Jetson Orin", "6", "8.7"),
    "xavier": ("NVIDIA Jetson Xavier", "5", "7.2"),
    "jetson-xavier": ("NVIDIA Jetson Xavier", "5", "7.2"),
    "thor": ("NVIDIA Jetson Thor", "7", "11.0"),
    "jetson-thor": ("NVIDIA Jetson Thor", "7", "11.0"),
}
_INTEL_TOKEN = re.compile(
    r"^(arc[-_ ]?[ab]\d{3}m?|[ab]\d{3}|arc|max[-_ ]?\d*|flex[-_ ]?\d*|core[-_ ]?ultra)$"
)


def gpu_token_kind(token: str) -> Optional[str]:
    """What a ``--target-gpu`` item names: "nvidia" (8.6), "amd" (gfx1100), "intel" (arc-a770,
    b580, max-1550, core-ultra) or "jetson" (orin, xavier, thor); None when none of them."""
    low = token.strip().lower()
    if re.fullmatch(r"\d+\.\d+", low):
        return "nvidia"
    if _GFX_TOKEN.match(low):
        return "amd"
    if low in _JETSON_TOKENS:
        return "jetson"
    if _INTEL_TOKEN.match(low):
        return "intel"
    return None


def intel_token_family(token: str) -> Optional[str]:
    low = token.strip().lower().replace("_", "-").replace(" ", "-")
    if low.startswith("max"):
        return "max"
    if low.startswith("flex"):
        return "flex"
    if low.startswith("core"):
        return "core-ultra"
    if re.match(r"^(arc-?)?b\d", low):
        return "arc-b"
    if re.match(r"^(arc-?)?a\d", low) or low == "arc":
        return "arc-a"
    return None


def jetson_token(token: str) -> JetsonTarget:
    label, jetpack, cc = _JETSON_TOKENS[token.strip().lower()]
    return JetsonTarget(label, jetpack, None, cc)


def amd_targets(amd: Optional[Amd]) -> tuple[AmdTarget, ...]:
    if amd is None:
        return ()
    return tuple(
        AmdTarget(g.name or f"AMD GPU {g.index}", g.gfx, bool(g.integrated)) for g in amd.gpus
    )


def intel_targets(intel: Optional[Intel]) -> tuple[IntelTarget, ...]:
    if intel is None:
        return ()
    return tuple(
        IntelTarget(
            g.name or f"Intel GPU {g.index}",
            intel_xpu_family(g.name, g.device_id),
            bool(g.integrated),
        )
        for g in intel.gpus
    )


def jetson_target(jetson: Optional[Jetson]) -> Optional[JetsonTarget]:
    if jetson is None:
        return None
    return JetsonTarget(
        jetson.model or "NVIDIA Jetson",
        jetson.jetpack or jetpack_for_l4t(jetson.l4t),
        jetson.l4t,
        jetson.compute_capability or jetson_capability(jetson.model),
    )


def override_gfx(version: Optional[str]) -> Optional[str]:
    """HSA_OVERRIDE_GFX_VERSION=11.0.0 -> gfx1100 (the target the runtime then loads)."""
    if not version:
        return None
    m = re.fullmatch(r"\s*(\d+)\.(\d+)\.(\d+)\s*", version)
    if not m:
        return None
    return f"gfx{int(m.group(1))}{int(m.group(2)):x}{int(m.group(3)):x}"


def amd_covered(gpu: AmdTarget, targets: tuple[str, ...], override: Optional[str]) -> bool:
    return bool(gpu.gfx and (gpu.gfx in targets or (override and override in targets)))


def all_rocm_targets(vendors: GpuVendors) -> set[str]:
    return {t for row in vendors.rocm_targets for t in row.targets}


def amd_usable(
    kfd: Optional[bool],
    runtime: Optional[str],
    gpus: tuple[AmdTarget, ...],
    vendors: GpuVendors,
    override: Optional[str],
) -> tuple[bool, str]:
    """(usable, why not) for the AMD GPUs of the target (kfd/runtime None: unknown, e.g. a
    plan for another machine, taken as present)."""
    if not gpus:
        return False, ""
    if kfd is False and not runtime:
        return False, (
            f"an AMD GPU is present ({gpus[0].label}), but not its kernel driver (/dev/kfd): "
            "install the amdgpu driver (ROCm's amdgpu-dkms) to use it"
        )
    known = all_rocm_targets(vendors)
    if any(amd_covered(g, tuple(known), override) for g in gpus):
        return True, ""
    gpu = gpus[0]
    hint = vendors.override_for(gpu.gfx) if gpu.gfx else None
    return False, (
        f"no ROCm build of torch has kernels for {gpu.label} ({gpu.gfx or 'gfx target unknown'})"
        + (
            f"; HSA_OVERRIDE_GFX_VERSION={hint} would run it as {override_gfx(hint)} "
            "(not supported by AMD: some kernels may fail or give wrong results)"
            if hint
            else ""
        )
    )


def rocm_check(
    gpus: tuple[AmdTarget, ...],
    variant: str,
    vendors: GpuVendors,
    *,
    explicit: bool,
    override: Optional[str],
    runtime: Optional[str],
) -> VendorCheck:
    """Kernels for every AMD GPU in the ROCm build (an integrated one beside a discrete one may
    lack them: a warning); the ROCm runtime here against the build's."""
    if not gpus:
        return VendorCheck(
            warnings=(
                f"No AMD GPU found: torchsetup could not check that {variant} has kernels for it.",
            )
        )
    row = vendors.targets_of(variant)
    if row is None:
        message = f"the gfx targets {variant} ships kernels for are unknown"
        return VendorCheck(warnings=(message + ".",)) if explicit else VendorCheck(problem=message)
    why: list[str] = []
    warnings: list[str] = []
    discrete = [g for g in gpus if not g.integrated] or list(gpus)
    missing = [g for g in discrete if not amd_covered(g, row.targets, override)]
    for gpu in [g for g in gpus if g.integrated and g not in discrete]:
        if not amd_covered(gpu, row.targets, override):
            warnings.append(
                f"{gpu.label} ({gpu.gfx}, integrated) has no kernels in {variant}: hide it with "
                "HIP_VISIBLE_DEVICES so torch uses the discrete GPU."
            )
    if missing and not explicit:
        gpu = missing[0]
        hint = vendors.override_for(gpu.gfx) if gpu.gfx else None
        return VendorCheck(
            problem=f"no kernels for {gpu.label} ({gpu.gfx or 'gfx target unknown'}): "
            f"{variant} has {', '.join(row.targets)}"
            + (
                f" (HSA_OVERRIDE_GFX_VERSION={hint} would run it as {override_gfx(hint)}, unsupported)"
                if hint
                else ""
            )
        )
    if missing:
        warnings.append(
            f"{', '.join(f'{g.label} ({g.gfx})' for g in missing)}: no kernels in {variant} "
            f"({', '.join(row.targets)}); it runs only with HSA_OVERRIDE_GFX_VERSION, unsupported."
        )
    labels = ", ".join(f"{g.label} {g.gfx}" for g in discrete if g not in missing)
    if labels:
        used_override = any(g.gfx not in row.targets for g in discrete if g not in missing)
        why.append(
            f"kernels for every AMD GPU ({labels}) in {variant}'s gfx targets"
            + (f" (through HSA_OVERRIDE_GFX_VERSION as {override})." if used_override else ".")
        )
        if used_override:
            warnings.append(
                f"HSA_OVERRIDE_GFX_VERSION is set: the GPU runs {override} kernels, which AMD "
                "does not support for it (some operations may fail or be wrong)."
            )
    if row.inferred:
        warnings.append(
            f"Inferred data (not confirmed by a primary source) behind {variant}: its gfx target "
            "list; see docs/matrix.md."
        )
    build = variant[4:]
    if runtime is None:
        warnings.append(
            "ROCm runtime version not found here: the wheel bundles ROCm's libraries, but the "
            "amdgpu kernel driver must be installed (and recent enough for ROCm "
            f"{build})."
        )
    elif not version_at_least(_minor(runtime), _minor(build)):
        warnings.append(
            f"The ROCm runtime here is {runtime}, older than the build's ROCm {build}: the wheel "
            "bundles its own ROCm libraries, but an old amdgpu driver may not run them."
        )
    else:
        why.append(f"ROCm {runtime} here >= the build's ROCm {build}.")
    return VendorCheck(why=tuple(why), warnings=tuple(warnings))


def rocm_rank(variant: str, runtime: Optional[str]) -> tuple[int, tuple[int, ...]]:
    """The ROCm build that matches the runtime first (newest not newer than it), then the newest."""
    version = version_tuple(variant[4:])
    newer = bool(runtime) and version_tuple(_minor(variant[4:])) > version_tuple(
        _minor(runtime or "0")
    )
    return (1 if newer else 0, tuple(-x for x in version))


def xpu_check(gpus: tuple[IntelTarget, ...], vendors: GpuVendors, *, explicit: bool) -> VendorCheck:
    if not gpus:
        return VendorCheck(
            warnings=("No Intel GPU found: torchsetup could not check the XPU build suits it.",)
        )
    supported = [g for g in gpus if g.family in vendors.xpu_families]
    if not supported:
        message = (
            f"{gpus[0].label} is not a GPU the XPU build supports "
            f"({', '.join(vendors.xpu_families)})"
        )
        return VendorCheck(warnings=(message + ".",)) if explicit else VendorCheck(problem=message)
    return VendorCheck(
        why=(
            (
                f"{', '.join(f'{g.label} ({g.family})' for g in supported)}: an Intel GPU the XPU "
                "build supports (docs.pytorch.org 'Getting Started on Intel GPU')."
            ),
        )
    )


def intel_usable(
    level_zero: Optional[bool], gpus: tuple[IntelTarget, ...], vendors: GpuVendors
) -> tuple[bool, str]:
    supported = [g for g in gpus if g.family in vendors.xpu_families]
    if not supported:
        return False, ""
    if level_zero is False:
        return False, (
            f"{supported[0].label} is an XPU GPU, but the Level Zero runtime is missing: install "
            "Intel's GPU driver (intel-level-zero-gpu / libze1), then the XPU build is chosen"
        )
    return True, ""


def _minor(version: str) -> str:
    parts = version.split(".")
    return ".".join(parts[:2])
