"""Helpers several rule modules share (each a pure function of the RuleContext)."""

from __future__ import annotations

import re
from typing import Callable, Optional

from torchsetup.detect.model import DeepFacts, TargetPython
from torchsetup.doctor.context import RuleContext
from torchsetup.doctor.model import ERROR, WARNING
from torchsetup.matrix import lookups as kb


def gpu_list(ctx: RuleContext) -> str:
    gpus = ctx.env.nvidia.gpus
    if not gpus:
        n = ctx.env.nvidia.pci_nvidia_devices
        return f"{n} NVIDIA device(s) on the PCI bus" if n else "an NVIDIA GPU"
    names: dict[str, int] = {}
    for g in gpus:
        label = g.name + (
            f" (sm_{g.compute_capability.replace('.', '')})" if g.compute_capability else ""
        )
        names[label] = names.get(label, 0) + 1
    return ", ".join(f"{n}x {label}" if n > 1 else label for label, n in names.items())


def driver_shortfall(ctx: RuleContext) -> Optional[str]:
    """ERROR when the driver cannot run the wheel's CUDA, WARNING when only CUDA minor-version
    compatibility lets it (same major, 11 or later), None when the driver is new enough."""
    torch, nv = ctx.torch, ctx.env.nvidia
    if torch is None or not torch.cuda or not nv.cuda_driver_version:
        return None
    wheel, driver = kb.version_tuple(torch.cuda), kb.version_tuple(nv.cuda_driver_version)
    if not wheel or not driver or driver >= wheel[:2]:
        return None
    return WARNING if driver[0] == wheel[0] and wheel[0] >= 11 else ERROR


def deep_facts(ctx: RuleContext) -> Optional[DeepFacts]:
    return ctx.env.deep


def is_reported(ctx: RuleContext) -> bool:
    """Facts from a pasted report: what it does not mention is unknown, not absent."""
    return ctx.env.source.startswith("report:")


def _marker_environment(ctx: RuleContext) -> Optional[dict[str, str]]:
    """PEP 508 marker values of the target interpreter (not of torchsetup's own Python)."""
    py, os_ = ctx.py, ctx.env.os
    if py is None or not py.version or not os_.system:
        return None
    machine = py.machine or os_.machine or ""
    return {
        "python_version": py.minor or "",
        "python_full_version": py.version,
        "platform_system": os_.system,
        "sys_platform": py.platform
        or {"Linux": "linux", "Darwin": "darwin"}.get(os_.system, "win32"),
        "platform_machine": machine,
        "os_name": "nt" if os_.system == "Windows" else "posix",
        "implementation_name": py.implementation or "cpython",
        "platform_python_implementation": "CPython",
        "platform_release": os_.kernel or "",
        "platform_version": "",
        "implementation_version": py.version,
        "extra": "",
    }


_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*\(?\s*==\s*([^\s;,()]+)\s*\)?\s*(?:;|$)")


_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def exact_pin_met(raw: str, py: TargetPython) -> bool:
    """The cheap path: ``name==X`` with X installed. Importing packaging.requirements costs
    about 75 ms (it pulls packaging.tags, sysconfig, logging), a third of a whole doctor run on
    a small machine; torch pins exactly, and in a healthy environment the pin is met as text."""
    m = _PIN.match(raw)
    if not m:
        return False
    dist = py.dist(m.group(1))
    return dist is not None and m.group(2) in (dist.version, dist.public_version)


def unmet_requirements(
    ctx: RuleContext, requires: tuple[str, ...], wanted: Callable[[str], bool]
) -> list[tuple[str, str]]:
    """(requirement, why) for the entries of ``requires`` whose name ``wanted`` accepts, that
    apply to the target (markers evaluated for it) and that it does not satisfy."""
    py = ctx.py
    if py is None:
        return []
    candidates = [
        raw
        for raw in requires
        if (m := _NAME.match(raw)) and wanted(m.group(1).lower()) and not exact_pin_met(raw, py)
    ]
    if not candidates:
        return []
    from packaging.markers import InvalidMarker, UndefinedComparison, UndefinedEnvironmentName
    from packaging.requirements import InvalidRequirement, Requirement

    env = _marker_environment(ctx)
    out = []
    for raw in candidates:
        try:
            req = Requirement(raw)
            if req.marker is not None and (env is None or not req.marker.evaluate(env)):
                continue
        except (InvalidRequirement, InvalidMarker, UndefinedComparison, UndefinedEnvironmentName):
            continue
        dist = py.dist(req.name)
        pin = f"{req.name}{req.specifier}"
        if dist is None:
            out.append((pin, f"{req.name} is missing"))
        elif req.specifier and not req.specifier.contains(dist.version, prereleases=True):
            out.append((pin, f"{req.name} {dist.version} is installed, torch needs {pin}"))
    return out


def error_text(deep: Optional[DeepFacts]) -> str:
    """Everything torch said went wrong: the import error and its warnings."""
    if deep is None:
        return ""
    return "\n".join([deep.error or "", deep.cuda_init_warning or "", *deep.warnings])


def first_line(text: str) -> str:
    for line in text.strip().splitlines():
        if line.strip():
            return line.strip()
    return text.strip()


def said(ctx: RuleContext, kind: str) -> Optional[re.Match[str]]:
    """The first message of ``kind`` (:data:`torchsetup.detect.parse.paste.SIGNALS`) in what
    torch said (``--deep``) or what a paste holds (``--from-report``); None when absent."""
    from torchsetup.detect.parse.paste import signal_pattern

    text = error_text(deep_facts(ctx))
    if not text.strip():
        return None
    return signal_pattern(kind).search(" ".join(text.split("\n")))
