"""Rules of the NVIDIA driver & GPUs category: the driver, NVML, WSL plumbing, CUDA
initialisation and which GPUs are visible (TS002 TS003 TS004 TS019 TS020 TS021 TS104)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from torchsetup.doctor.context import RuleContext
from torchsetup.doctor.fix_commands import install_command
from torchsetup.doctor.model import ERROR, INFO, WARNING, Finding, Rule
from torchsetup.doctor.rules._facts import (
    deep_facts,
    driver_shortfall,
    first_line,
    gpu_list,
    is_reported,
    said,
)
from torchsetup.doctor.rules.registry import rule


def _visible_gpus(value: str, gpus: tuple[object, ...]) -> int:
    """How many GPUs CUDA sees for a CUDA_VISIBLE_DEVICES value (CUDA stops at the first bad entry)."""
    from torchsetup.detect.model import Gpu

    count = 0
    uuids = [g.uuid for g in gpus if isinstance(g, Gpu) and g.uuid]
    for token in [t.strip() for t in value.split(",")]:
        if not token:
            break
        if re.fullmatch(r"\d+", token):
            if int(token) >= len(gpus):
                break
            count += 1
        elif token.startswith(("GPU-", "MIG-")):
            if not any(u.startswith(token) for u in uuids):
                break
            count += 1
        else:
            break
    return count


@rule(
    "TS002",
    title="NVIDIA GPU present but no driver is loaded",
    category="nvidia",
    severity=ERROR,
    catalogue=2,
    sources=("pytorch/pytorch#74733",),
)
def gpu_without_driver(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """An NVIDIA GPU sits on the PCI bus, but no NVIDIA kernel driver answers.

    Signals: NVIDIA (0x10de) display controllers in /sys/bus/pci/devices, while
    /proc/driver/nvidia is absent and neither NVML nor libcuda can be loaded. torch then says
    "Found no NVIDIA driver on your system" and runs on the CPU.

    Fix: install the driver from the distribution (ubuntu-drivers, dnf/akmod-nvidia, ...) and
    reboot; in a container, run it with the NVIDIA container toolkit (--gpus all).
    """
    nv = ctx.env.nvidia
    if nv.status == "not-loaded" or (nv.status == "no-driver" and nv.pci_nvidia_devices):
        where = "in this container" if ctx.env.os.container else "on this machine"
        if ctx.env.os.container:
            fix = (
                "start the container with GPU access: docker run --gpus all ... "
                "(needs the NVIDIA Container Toolkit on the host)"
            )
        elif ctx.env.os.distro_id == "ubuntu":
            fix = "sudo ubuntu-drivers install && sudo reboot"
        else:
            fix = "install the NVIDIA driver package of your distribution, then reboot"
        detail = (
            f"{gpu_list(ctx)} found but no NVIDIA driver is loaded {where}"
            + (f" (NVML: {nv.nvml_error})" if nv.nvml_error else "")
            + "."
        )
        yield r.finding(detail=detail, fix=fix)


@rule(
    "TS004",
    title="Driver/library version mismatch (NVML)",
    category="nvidia",
    severity=ERROR,
    catalogue=4,
    sources=("oddmario/NVIDIA-Ubuntu-Driver-Guide#4",),
)
def nvml_mismatch(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """The loaded kernel module and the user-space driver libraries have different versions.

    Happens after a driver upgrade without a reboot (often an unattended upgrade). nvidia-smi
    prints "Failed to initialize NVML: Driver/library version mismatch" and torch reports CUDA
    unavailable.

    Fix: reboot (or unload and reload the nvidia kernel modules); hold the driver packages so
    unattended upgrades stop doing it again.
    """
    nv = ctx.env.nvidia
    if nv.status != "mismatch":
        return
    parts = []
    if nv.kernel_module_version:
        parts.append(f"kernel module {nv.kernel_module_version}")
    if nv.driver_version and nv.driver_version != nv.kernel_module_version:
        parts.append(f"user-space driver {nv.driver_version}")
    said = next((e for e in nv.errors if "mismatch" in e.lower()), None)
    detail = (
        "NVIDIA driver components disagree"
        + (f": {', '.join(parts)}" if parts else "")
        + (f" ({said})" if said else "")
        + "."
    )
    fix = "sudo reboot   (or: sudo rmmod nvidia_uvm nvidia_drm nvidia_modeset nvidia && sudo modprobe nvidia)"
    if ctx.env.os.distro_id in ("ubuntu", "debian"):
        fix += "; then stop unattended upgrades of it: sudo apt-mark hold 'nvidia-*'"
    yield r.finding(detail=detail, fix=fix)


@rule(
    "TS003",
    title="NVIDIA driver too old for the installed torch's CUDA",
    category="nvidia",
    severity=ERROR,
    catalogue=3,
    sources=("pytorch/pytorch#99138", "nagadomi/nunif#702"),
)
def driver_too_old(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """The driver supports an older CUDA than the one the installed torch wheel was built with.

    The driver's maximum CUDA (NVML / cuDriverGetVersion, nvidia-smi's "CUDA Version") must be
    at least the wheel's CUDA (torch/version.py). Within one major version (11 and later) CUDA's
    minor-version compatibility lets a newer runtime run on an older driver of the same branch,
    with limits (no PTX JIT): that is a warning. Across majors (and before CUDA 11) torch fails
    with "The NVIDIA driver on your system is too old".

    In a paste with torch's message but not the installed torch, the message itself is the
    finding (the CUDA the driver supports comes from its "found version N").

    Fix: update the driver, or install the build that matches the driver (torchsetup picks it).
    """
    shortfall = driver_shortfall(ctx)
    torch = ctx.torch
    nv = ctx.env.nvidia
    warned = said(ctx, "driver-too-old")
    if (shortfall is None or torch is None) and warned is not None:
        # Error text alone ("... too old (found version 11040)"): torch said it.
        supports = (
            f" (it supports CUDA up to {nv.cuda_driver_version})" if nv.cuda_driver_version else ""
        )
        yield r.finding(
            detail=f"torch said the NVIDIA driver is too old for its CUDA{supports}.",
            fix=install_command(ctx)
            + "   (a build for the driver's CUDA, or update the NVIDIA driver)",
            data={"signal": "driver-too-old"},
        )
        return
    if shortfall is None or torch is None:
        return
    detail = (
        f"torch {torch.version} was built with CUDA {torch.cuda}, but "
        + (f"driver {nv.driver_version}" if nv.driver_version else "the driver")
        + f" supports CUDA up to {nv.cuda_driver_version}."
    )
    fix = (
        install_command(ctx)
        + f"   (or update the NVIDIA driver to one that supports CUDA {torch.cuda})"
    )
    if shortfall == WARNING:
        detail += (
            " It runs under CUDA minor-version compatibility: PTX JIT is unavailable and "
            "some APIs may fail with cudaErrorCallRequiresNewerDriver."
        )
        yield r.finding(
            title="NVIDIA driver older than the wheel's CUDA (minor-version compatibility)",
            detail=detail,
            fix=fix,
            severity=WARNING,
        )
    else:
        yield r.finding(detail=detail, fix=fix)


@rule(
    "TS020",
    title="CUDA_VISIBLE_DEVICES hides every GPU",
    category="nvidia",
    severity=ERROR,
    catalogue=20,
    sources=("pytorch/pytorch#40618",),
)
def visible_devices_hide_all(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """CUDA_VISIBLE_DEVICES is set to a value that leaves no GPU visible.

    "" and "-1" hide every GPU; an index at or above the GPU count, or a UUID that matches no
    GPU, stops the list there. torch then says "No CUDA GPUs are available" while nvidia-smi
    shows the GPUs. Changing it after CUDA initialised in a process has no effect.

    Fix: unset it, or set it to existing indexes/UUIDs before the process starts.
    """
    value = ctx.env.nvidia.cuda_visible_devices
    gpus = ctx.env.nvidia.gpus
    if value is None or not gpus:
        return
    visible = _visible_gpus(value, gpus)
    if visible:
        return
    shown = repr(value)
    yield r.finding(
        detail=(
            f"CUDA_VISIBLE_DEVICES={shown} leaves none of the {len(gpus)} GPU(s) "
            f"visible ({gpu_list(ctx)})."
        ),
        fix="unset CUDA_VISIBLE_DEVICES   (or e.g. export CUDA_VISIBLE_DEVICES=0)",
    )


@rule(
    "TS104",
    title="CUDA toolkit installed, but no NVIDIA driver",
    category="nvidia",
    severity=INFO,
    sources=("tests/data/real/debian12-cpu-nvcc13-no-driver",),
)
def toolkit_without_driver(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """nvcc (the CUDA toolkit) is installed but there is no NVIDIA driver and no NVIDIA GPU.

    "CUDA is installed" and "CUDA can run" differ: the toolkit compiles CUDA code, only a
    driver and a GPU run it. PyTorch wheels bring their own CUDA runtime and need the driver,
    not the toolkit. Informational: fine for a build machine or a CPU-only setup.
    """
    nv = ctx.env.nvidia
    tk = ctx.env.toolkit
    if tk.nvcc_version and nv.status == "no-driver" and not nv.pci_nvidia_devices:
        yield r.finding(
            detail=(
                f"nvcc {tk.nvcc_full_version or tk.nvcc_version} is installed "
                f"({tk.nvcc_path}) but there is no NVIDIA driver and no NVIDIA "
                "GPU: CUDA code can be compiled here, not run. Use a CPU build "
                "of torch here."
            ),
            fix=None,
        )


@rule(
    "TS019",
    title="WSL2 GPU driver plumbing",
    category="nvidia",
    severity=ERROR,
    catalogue=19,
    sources=("NVIDIA CUDA on WSL User Guide", "microsoft/WSL#5663"),
)
def wsl_driver(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """Under WSL2 the GPU driver lives on Windows and reaches Linux as /usr/lib/wsl/lib
    (libcuda.so.1, nvidia-smi). A Linux NVIDIA driver installed inside WSL breaks it, and
    without /usr/lib/wsl/lib/libcuda.so.1 nothing can use the GPU. (ldconfig's
    "/usr/lib/wsl/lib/libcuda.so.1 is not a symbolic link" warning is harmless.)

    Fix: install or update the NVIDIA driver on Windows only, `wsl --update`, and remove any
    Linux driver packages from the distribution; for nvcc use NVIDIA's WSL-Ubuntu cuda-toolkit.
    """
    o = ctx.env.os
    if not o.wsl:
        return
    if o.wsl_linux_driver:
        yield r.finding(
            detail=f"A Linux NVIDIA driver is installed inside WSL ({o.wsl_linux_driver}); WSL must use the Windows driver.",
            fix="sudo apt-get remove --purge '^nvidia-.*' '^libnvidia-.*'   (keep the driver on Windows)",
        )
    if o.wsl_libcuda is None and not is_reported(ctx) and ctx.env.source == "live":
        yield r.finding(
            detail="WSL2 without /usr/lib/wsl/lib/libcuda.so.1: the Windows NVIDIA driver does not reach this distribution.",
            fix="install/update the NVIDIA driver on Windows, then run `wsl --update` and `wsl --shutdown` in PowerShell",
        )


@rule(
    "TS021",
    title="CUDA unknown error (often after suspend/resume)",
    category="nvidia",
    severity=ERROR,
    catalogue=21,
    sources=("pytorch/pytorch#88639",),
)
def cuda_unknown_error(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """nvidia-smi works, but CUDA initialisation fails with "CUDA initialization: CUDA unknown
    error - this may be due to an incorrectly set up environment, e.g. changing env variable
    CUDA_VISIBLE_DEVICES after program start" and torch sees no GPU. After a suspend/resume
    the nvidia_uvm kernel module is usually in a bad state. Needs --deep (or a report).

    Fix: reload nvidia_uvm (`sudo rmmod nvidia_uvm && sudo modprobe nvidia_uvm`) or reboot.
    """
    deep = deep_facts(ctx)
    if (
        deep is None
        or not deep.cuda_init_warning
        or "unknown error" not in deep.cuda_init_warning.lower()
    ):
        return
    yield r.finding(
        detail=f"CUDA initialisation failed: {first_line(deep.cuda_init_warning)}",
        fix="sudo rmmod nvidia_uvm && sudo modprobe nvidia_uvm   (or reboot)",
    )


@rule(
    "TS108",
    title="torch found no NVIDIA driver",
    category="nvidia",
    severity=ERROR,
    sources=("pytorch/pytorch#4546",),
)
def torch_found_no_driver(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """A CUDA build of torch said "Found no NVIDIA driver on your system", or nvidia-smi said it
    "couldn't communicate with the NVIDIA driver": the kernel module is not loaded (not
    installed, not built for the running kernel after an upgrade, blocked by Secure Boot) or
    the machine has no NVIDIA GPU. Read from error text (a paste, or --deep).

    Fix: install or rebuild the driver (`nvidia-smi` must list the GPU), or use a CPU build.
    """
    m = said(ctx, "no-driver") or said(ctx, "smi-no-driver")
    if m is None or ctx.env.nvidia.status == "ok":
        return
    kind = "no-driver" if said(ctx, "no-driver") else "smi-no-driver"
    yield r.finding(
        detail="No NVIDIA driver answers: " + m.group(0) + ".",
        fix="install the NVIDIA driver (or reboot after a kernel update) until `nvidia-smi` lists "
        "the GPU; without a GPU: " + install_command(ctx, "--cpu"),
        data={"signal": kind},
    )


@rule(
    "TS115",
    title="NCCL failed",
    category="nvidia",
    severity=ERROR,
    sources=("pytorch/pytorch#92011",),
)
def nccl_error(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """torch.distributed's NCCL backend failed ("NCCL error ... unhandled cuda error",
    "ncclSystemError", "ncclInternalError"). The usual causes: GPUs that cannot talk peer to
    peer (IOMMU/ACS on, a consumer board), a too-small /dev/shm in a container, a firewall or a
    wrong network interface, or two processes on one GPU. Read from error text.

    Fix: rerun with NCCL_DEBUG=INFO for the real cause; try NCCL_P2P_DISABLE=1, give the
    container --ipc=host (or a larger --shm-size), set NCCL_SOCKET_IFNAME to the right interface.
    """
    m = said(ctx, "nccl")
    if m is None:
        return
    yield r.finding(
        detail=f"NCCL reported: {m.group(0).strip()}",
        fix="rerun with NCCL_DEBUG=INFO; then try NCCL_P2P_DISABLE=1, docker --ipc=host "
        "(or --shm-size), NCCL_SOCKET_IFNAME=<interface>",
        data={"signal": "nccl"},
    )


@rule(
    "TS129",
    title="The NVIDIA driver does not answer (a wedged driver)",
    category="nvidia",
    severity=ERROR,
    sources=("NVIDIA Xid errors: docs.nvidia.com/deploy/xid-errors",),
)
def driver_wedged(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """A call into the NVIDIA driver did not return within the probe's deadline: NVML's
    ``nvmlInit`` or libcuda's ``cuDriverGetVersion``, made in torchsetup's own process in a
    thread with a deadline. The driver is installed but wedged: a GPU that fell off the bus
    (Xid 79), a hung kernel module, a GPU reset or a firmware update in progress. torch's
    ``import`` or first CUDA call would hang the same way.

    Fix: look at the kernel log (``sudo dmesg | grep -i -E 'NVRM|Xid'``), keep a
    ``sudo nvidia-bug-report.sh``, then reset the GPU (``sudo nvidia-smi -r``) or reboot.
    """
    nv = ctx.env.nvidia
    if not nv.hung:
        return
    said_ = [e for e in (nv.nvml_error, nv.libcuda_error) if e and "did not answer" in e]
    yield r.finding(
        detail=f"The NVIDIA driver is installed but wedged: {'; '.join(said_) or ', '.join(nv.hung) + ' did not answer'}. "
        "Anything that calls the driver (torch, nvidia-smi) would hang the same way.",
        fix="sudo dmesg | grep -i -E 'NVRM|Xid'; keep a report (sudo nvidia-bug-report.sh), "
        "then reset the GPU (sudo nvidia-smi -r) or reboot",
        data={"hung": ", ".join(nv.hung)},
    )


@rule(
    "TS130",
    title="nvidia-smi is broken, the NVIDIA driver is not",
    category="nvidia",
    severity=WARNING,
)
def smi_broken(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """nvidia-smi crashed, hung or printed something that is not its output, while the
    driver itself is present (``/proc/driver/nvidia/version``, ``/dev/nvidia*``, or
    libnvidia-ml/libcuda load). That is a broken tool, not a missing driver: a wrapper
    script or an old copy earlier on PATH, an nvidia-smi from another driver branch, a
    damaged utilities package. torch does not use nvidia-smi; do not switch to a CPU build
    because of it.

    Fix: see which nvidia-smi runs (``type -a nvidia-smi``) and reinstall the driver's
    utilities package of the installed branch.
    """
    nv = ctx.env.nvidia
    if not nv.smi_broken or not nv.driver_signs:
        return
    got = f"driver {nv.driver_version} (from {nv.source})" if nv.driver_version else "the driver"
    yield r.finding(
        detail=f"{nv.smi_broken}, although the NVIDIA driver is present "
        f"({', '.join(nv.driver_signs)}); torchsetup read {got} without it. "
        "This is a broken tool, not a reason to use a CPU build.",
        fix="type -a nvidia-smi   (a wrapper or stale copy first on PATH?); else reinstall the "
        "driver's utilities package of the installed branch (e.g. nvidia-utils-"
        + (nv.kernel_module_version or nv.driver_version or "<branch>").split(".")[0]
        + ")",
    )


@rule("TS131", title="The GPU table contradicts itself", category="nvidia", severity=WARNING)
def gpu_table_inconsistent(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """The GPU list nvidia-smi (or NVML) gave cannot be true: an index, UUID or PCI bus listed
    twice, indices that are not 0..N-1, memory used above the total, rows naming different
    drivers. A real driver does not print this; a wrapper script named nvidia-smi, a broken
    driver or a capture edited by hand does. torchsetup still shows the GPUs, but choices made
    from them (the CUDA build, which GPU a check runs on) rest on a table that lies.

    Fix: see which nvidia-smi runs (``type -a nvidia-smi``) and compare with
    ``nvidia-smi -L``; reinstall the driver if the real one prints it.
    """
    nv = ctx.env.nvidia
    if not nv.table_problems:
        return
    yield r.finding(
        detail=f"The GPU table from {nv.source or 'the driver'} contradicts itself: "
        + "; ".join(nv.table_problems)
        + ".",
        fix="type -a nvidia-smi; nvidia-smi -L   (a wrapper first on PATH? else reinstall the driver)",
        data={"problems": "; ".join(nv.table_problems)},
    )
