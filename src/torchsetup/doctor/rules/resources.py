"""Rules of the Disk & memory category (TS022)."""

from __future__ import annotations

from collections.abc import Iterator

from torchsetup.doctor.context import RuleContext
from torchsetup.doctor.model import ERROR, WARNING, Finding, Rule
from torchsetup.doctor.rules.registry import rule

GIB = 1024**3


@rule(
    "TS022",
    title="Little free disk space for PyTorch",
    category="resources",
    severity=WARNING,
    catalogue=22,
    sources=("pypa/pip#7745",),
)
def little_disk(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """Installing torch needs space in site-packages, the pip cache and TMPDIR: a CPU build
    about 1 GB (192 MB download, 754 MB installed), a CUDA build with its nvidia-* libraries
    5-8 GB. Too little ends with "[Errno 28] No space left on device" half-way.

    Fix: free space, or point TMPDIR and the pip cache at a larger disk
    (TMPDIR=/big/tmp pip install --no-cache-dir ...).
    """
    need = 8 * GIB if ctx.env.nvidia.gpus else 2 * GIB
    for disk in ctx.env.resources.disks:
        if disk.free_bytes is None or disk.free_bytes >= need:
            continue
        severity = ERROR if disk.free_bytes < need / 4 else WARNING
        kind = "a CUDA build" if ctx.env.nvidia.gpus else "a CPU build"
        fix = (
            "free space there, or use another disk: TMPDIR=/path/with/space "
            "torchsetup install ... (pip: --no-cache-dir)"
        )
        if disk.label == "pip cache":
            fix = f"{ctx.pip('cache', 'purge')}   (or export PIP_CACHE_DIR=/path/with/space)"
        yield r.finding(
            severity=severity,
            detail=(
                f"{disk.label} ({disk.path}) has {disk.free_bytes / GIB:.1f} GiB free; "
                f"{kind} of torch needs about {need / GIB:.0f} GiB."
            ),
            fix=fix,
        )
