"""Rules of the AMD, Intel & Jetson GPUs category: the ROCm kernel driver and runtime, gfx
targets a build has no kernels for, GPU access groups, a CUDA build on an AMD box, a desktop
wheel on a Jetson, an Intel GPU without Level Zero (TS121-TS126)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Optional

from torchsetup.doctor.context import RuleContext
from torchsetup.doctor.fix_commands import install_command
from torchsetup.doctor.model import ERROR, INFO, WARNING, Finding, Rule
from torchsetup.doctor.rules.registry import rule
from torchsetup.matrix import lookups


def _rocm_build(ctx: RuleContext) -> Optional[str]:
    """rocm6.4 for an installed ROCm torch, else None."""
    torch = ctx.torch
    if torch is None or not torch.hip:
        return None
    return torch.variant if torch.variant.startswith("rocm") else None


def _minor(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", version)[:2])


def _amd_gpus(ctx: RuleContext) -> list[str]:
    amd = ctx.env.amd
    return [f"{g.name or 'AMD GPU'} ({g.gfx or 'gfx ?'})" for g in amd.gpus] if amd else []


@rule(
    "TS121",
    title="AMD GPU without its kernel driver, or a ROCm runtime older than the torch build",
    category="vendors",
    severity=ERROR,
    sources=("ROCm/ROCm#2216", "pytorch/pytorch#103973"),
)
def rocm_runtime(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """ROCm torch needs the amdgpu kernel driver (its compute node /dev/kfd); the ROCm user-space
    libraries come inside the wheel, but an old driver may not run a newer ROCm.

    Signals: AMD GPUs on the PCI bus or in the KFD topology, and no /dev/kfd (error: torch says
    "No HIP GPUs are available"); or a ROCm runtime in /opt/rocm older than the installed torch's
    ROCm build (warning).

    Fix: install the amdgpu driver (amdgpu-install --usecase=dkms, then reboot), or update ROCm
    to the build's version; or install the torch ROCm build that matches the runtime.
    """
    amd = ctx.env.amd
    if amd is None or not amd.gpus:
        return
    if amd.kfd is False:
        yield r.finding(
            detail=f"{', '.join(_amd_gpus(ctx))} found, but /dev/kfd is missing: the amdgpu "
            "kernel driver is not loaded, so ROCm (and torch) cannot use the GPU.",
            fix="sudo amdgpu-install --usecase=dkms && sudo reboot   (ROCm's installer; or "
            "your distribution's amdgpu-dkms package)",
            data={"gpus": ", ".join(_amd_gpus(ctx))},
        )
        return
    build = _rocm_build(ctx)
    if build and amd.rocm_version and _minor(amd.rocm_version) < _minor(build[4:]):
        yield r.finding(
            severity=WARNING,
            detail=f"torch {ctx.torch.version if ctx.torch else '?'} is a ROCm {build[4:]} build; "
            f"the ROCm runtime here is {amd.rocm_version} ({amd.rocm_source or 'ROCm probe'}).",
            fix=f"update ROCm to {build[4:]} or newer, or {install_command(ctx)}",
            data={"build": build, "runtime": amd.rocm_version},
        )


@rule(
    "TS122",
    title="AMD GPU whose gfx target the ROCm build has no kernels for",
    category="vendors",
    severity=WARNING,
    sources=("ROCm/ROCm#2527", "pytorch/pytorch#103973"),
)
def unsupported_gfx(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """Each ROCm build of torch ships kernels for a fixed list of LLVM targets
    (PYTORCH_ROCM_ARCH: gfx90a, gfx942, gfx1100, ...). On a GPU outside it (the Radeon 780M is
    gfx1103) torch fails with "HIP error: invalid device function".

    HSA_OVERRIDE_GFX_VERSION makes the runtime load the kernels of a supported target of the
    same family (11.0.0 = gfx1100 for RDNA3, 10.3.0 = gfx1030 for RDNA2). It often works, but AMD
    does not support it: some kernels can fail or compute wrong results, so verify after.

    Fix: a GPU the build supports; or set HSA_OVERRIDE_GFX_VERSION and run torchsetup verify.
    """
    amd = ctx.env.amd
    if amd is None or not amd.gpus:
        return
    build = _rocm_build(ctx)
    targets = lookups.rocm_gfx_targets(build) if build else lookups.rocm_gfx_targets_all()
    if not targets:
        return
    override = ctx.env.env("HSA_OVERRIDE_GFX_VERSION")
    discrete = [g for g in amd.gpus if not g.integrated] or list(amd.gpus)
    for gpu in discrete:
        if not gpu.gfx or gpu.gfx in targets:
            continue
        where = f"torch's {build} build" if build else "any ROCm build of torch"
        hint = lookups.hsa_override_for(gpu.gfx)
        if override:
            yield r.finding(
                severity=INFO,
                detail=f"{gpu.name or 'AMD GPU'} is {gpu.gfx}, which {where} has no kernels for; "
                f"HSA_OVERRIDE_GFX_VERSION={override} runs it as another target (unsupported by "
                "AMD).",
                fix=ctx.torchsetup("verify"),
                data={"gfx": gpu.gfx, "override": override},
            )
            continue
        yield r.finding(
            detail=f"{gpu.name or 'AMD GPU'} is {gpu.gfx}: {where} has no kernels for it "
            f"(it has {', '.join(targets)}).",
            fix=(
                f"export HSA_OVERRIDE_GFX_VERSION={hint}   (runs it as the supported "
                f"gfx{hint.replace('.', '')[:-1]}; not supported by AMD: then {ctx.torchsetup('verify')})"
                if hint
                else None
            ),
            data={"gfx": gpu.gfx, "build": build or ""},
        )


@rule(
    "TS123",
    title="The user cannot open the AMD GPU (not in the render/video group)",
    category="vendors",
    severity=ERROR,
    sources=("ROCm/ROCm#1798",),
)
def render_group(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """ROCm opens /dev/kfd and /dev/dri/renderD*; they belong to the render (and, on older
    distributions, video) group. A user outside them gets "No HIP GPUs are available" although
    rocminfo works under sudo.

    Fix: add the user to both groups and log in again.
    """
    amd = ctx.env.amd
    if amd is None or not amd.gpus or amd.kfd is not True or amd.gpu_access is not False:
        return
    groups = ", ".join(amd.groups or ()) or "(none)"
    yield r.finding(
        detail=f"/dev/kfd exists but this user cannot open it: groups {groups}, neither render "
        "nor video.",
        fix='sudo usermod -a -G render,video "$USER"   (then log out and in again)',
        data={"groups": groups},
    )


@rule(
    "TS124",
    title="An NVIDIA CUDA build of torch on a machine with AMD GPUs only",
    category="vendors",
    severity=ERROR,
    sources=("pytorch/pytorch#10670",),
)
def cuda_build_on_amd(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """`pip install torch` on Linux x86_64 gets the CUDA build; on a machine whose only GPUs are
    AMD ones torch.cuda.is_available() is then False and everything runs on the CPU.

    Fix: install the ROCm build (torch.cuda runs over HIP there).
    """
    torch, amd = ctx.torch, ctx.env.amd
    if torch is None or not torch.cuda or amd is None or not amd.gpus or ctx.env.nvidia.has_gpu:
        return
    yield r.finding(
        detail=f"torch {torch.version} is a CUDA {torch.cuda} build, but the GPUs here are AMD: "
        f"{', '.join(_amd_gpus(ctx))}.",
        fix=install_command(ctx),
        data={"torch": torch.version},
    )


@rule(
    "TS125",
    title="A desktop (PyPI / download.pytorch.org) wheel on a Jetson",
    category="vendors",
    severity=ERROR,
    sources=("pytorch/pytorch#146779", "dusty-nv/jetson-containers#714"),
)
def jetson_desktop_wheel(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """Jetson boards (Tegra, integrated GPU) need NVIDIA's JetPack builds of torch; the aarch64
    wheels on PyPI and download.pytorch.org are for SBSA servers (Grace) and run on the CPU only,
    or fail to load CUDA, on a Jetson.

    Signals: /etc/nv_tegra_release, and a torch whose version is not an NVIDIA JetPack build
    (no "nv" local label) or a CPU build.

    Fix: install the JetPack build from NVIDIA's index for your JetPack.
    """
    torch, jetson = ctx.torch, ctx.env.jetson
    if torch is None or jetson is None:
        return
    local = torch.version.partition("+")[2]
    if "nv" in local:  # NVIDIA's own JetPack wheels: 2.1.0a0+41361538.nv23.06
        return
    major = int(torch.cuda.split(".")[0]) if torch.cuda else 0
    sbsa = major >= 13 and (jetson.jetpack or "") in ("4", "5", "6")
    if torch.cuda and not local.startswith(("cu", "cpu")) and not sbsa:
        return  # a CUDA build without a download.pytorch.org label: the Jetson AI Lab index
    yield r.finding(
        detail=f"torch {torch.version} on {jetson.model or 'a Jetson'} (L4T "
        f"{jetson.l4t or '?'}, JetPack {jetson.jetpack or '?'}) is not a JetPack build.",
        fix=install_command(ctx),
        data={"torch": torch.version, "jetpack": jetson.jetpack or ""},
    )


@rule(
    "TS126",
    title="Intel GPU without the Level Zero runtime",
    category="vendors",
    severity=WARNING,
    sources=("intel/compute-runtime#764",),
)
def intel_level_zero(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """torch's XPU build talks to Intel GPUs through Level Zero (libze_loader, libze_intel_gpu).
    Without it torch.xpu.is_available() is False; sycl-ls then lists the GPU under OpenCL only.

    Fix: install Intel's GPU driver packages (intel-level-zero-gpu / libze1, from Intel's
    client GPU repository) and log in again (render group).
    """
    intel = ctx.env.intel
    if intel is None or not intel.gpus or intel.level_zero is not False:
        return
    arc = [g for g in intel.gpus if g.name and "Arc" in g.name] or list(intel.gpus)
    yield r.finding(
        detail=f"{arc[0].name or 'an Intel GPU'} found, but no Level Zero runtime "
        "(libze_loader.so.1 / libze_intel_gpu.so.1 not in the linker cache).",
        fix="sudo apt install libze1 libze-intel-gpu1   (Ubuntu 24.04+; older: "
        "intel-level-zero-gpu from Intel's repository)",
    )
