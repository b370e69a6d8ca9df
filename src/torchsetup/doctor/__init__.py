"""Doctor: run every rule on an Environment and group the findings into categories (pure)."""

from __future__ import annotations

import re
from typing import Optional

from torchsetup.detect.model import Environment
from torchsetup.doctor.context import RuleContext
from torchsetup.doctor.model import (
    CHECK_FAILED,
    ERROR,
    INFO,
    OK,
    WARNING,
    CategoryResult,
    DoctorReport,
    Finding,
)

CATEGORIES: tuple[tuple[str, str], ...] = (
    ("system", "System"),
    ("python", "Python"),
    ("nvidia", "NVIDIA driver & GPUs"),
    ("torch", "PyTorch"),
    ("vendors", "AMD, Intel & Jetson GPUs"),
    ("companions", "Companion packages"),
    ("libraries", "CUDA libraries & toolkit"),
    ("toolchain", "Compiler toolchain"),
    ("resources", "Disk & memory"),
    ("stack", "LLM stack"),
)

# Which probe feeds which category, for "check failed" marks.
PROBE_CATEGORY = {
    "platform": "system",
    "python": "python",
    "nvml": "nvidia",
    "libcuda": "nvidia",
    "nvidia-smi": "nvidia",
    "nvidia-proc": "nvidia",
    "pci": "nvidia",
    "amd": "vendors",
    "intel": "vendors",
    "jetson": "vendors",
    "cuda-toolkit": "libraries",
    "tools": "toolchain",
    "resources": "resources",
    "disk": "resources",
    "guard": "torch",
}

_UNEXPECTED_ERROR = re.compile(
    r"timed out|not understood|did not answer|^[A-Z]\w*(Error|Exception): "
)


def run_rules(env: Environment) -> tuple[list[Finding], list[str]]:
    """All findings, and the ids of rules that crashed (a crash is reported, never raised)."""
    from torchsetup.doctor.rules import all_rules

    ctx = RuleContext(env)
    findings: list[Finding] = []
    crashed: list[str] = []
    for r in all_rules():
        try:
            findings.extend(r.func(ctx))
        except Exception as exc:  # noqa: BLE001 - one broken rule must not hide the others
            crashed.append(f"{r.id}: {type(exc).__name__}: {exc}")
    order = {ERROR: 0, WARNING: 1, INFO: 2}
    findings.sort(key=lambda f: (order.get(f.severity, 3), f.id))
    return findings, crashed


def diagnose(env: Environment, *, elapsed_s: Optional[float] = None) -> DoctorReport:
    from torchsetup.doctor.summary import category_facts

    findings, crashed = run_rules(env)
    failed: dict[str, list[str]] = {}
    for p in env.probes:
        if p.error and _UNEXPECTED_ERROR.search(p.error):
            failed.setdefault(PROBE_CATEGORY.get(p.name, "system"), []).append(
                f"{p.name}: {p.error}"
            )
    for error in env.nvidia.errors:  # outputs the parsers could not understand
        if _UNEXPECTED_ERROR.search(error) and not any(
            error in f for f in failed.get("nvidia", [])
        ):
            failed.setdefault("nvidia", []).append(error)
    smi = env.nvidia.smi_broken
    if smi and not env.nvidia.driver_signs and not any(smi in f for f in failed.get("nvidia", [])):
        failed.setdefault("nvidia", []).append(smi)  # broken, and nothing else says "driver"
    categories = []
    for key, title in CATEGORIES:
        mine = tuple(f for f in findings if f.category == key)
        summary, facts = category_facts(env, key)
        categories.append(
            CategoryResult(
                key=key,
                title=title,
                status=_status(mine, failed.get(key)),
                summary=summary,
                facts=tuple(facts),
                findings=mine,
                failed_checks=tuple(failed.get(key, ())),
            )
        )
    return DoctorReport(
        categories=tuple(categories),
        findings=tuple(findings),
        crashed_rules=tuple(crashed),
        elapsed_s=elapsed_s,
    )


def _status(findings: tuple[Finding, ...], failed: Optional[list[str]]) -> str:
    severities = {f.severity for f in findings}
    if ERROR in severities:
        return ERROR
    if failed:
        return CHECK_FAILED
    if WARNING in severities:
        return WARNING
    return OK


__all__ = ["CATEGORIES", "INFO", "diagnose", "run_rules"]
