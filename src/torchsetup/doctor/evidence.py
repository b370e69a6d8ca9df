"""The pasted lines each finding rests on (``doctor --from-report``).

Rules speak of facts; a reading of a paste (:class:`~torchsetup.detect.from_report.PasteReading`)
keeps the line each fact came from. A finding quotes:

* the line of the signal it names (``data["signal"]``: an error message it was read from);
* every fact line whose value the finding's text mentions (the torch version, the GPU, the
  driver, a package's version);
* the lines of the facts its rule is about (:data:`RULE_FACTS`), when the paste has them;
* failing all of these, the first fact line of its category (:data:`CATEGORY_FACTS`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

from torchsetup.doctor.model import DoctorReport, Finding

# The facts a rule rests on, quoted whenever the paste has them (its text may not repeat them).
RULE_FACTS: dict[str, tuple[str, ...]] = {
    "TS001": ("torch", "cuda_build", "gpu:0", "smi:gpu:0"),
    "TS003": ("torch", "cuda_build", "driver", "smi", "signal:driver-too-old"),
    "TS004": ("signal:nvml-mismatch",),
    "TS005": ("gpu:0", "smi:gpu:0", "signal:incompatible-gpu"),
    "TS006": ("gpu:0", "smi:gpu:0", "signal:gpu-too-old", "torch"),
    "TS010": ("pkg:torch", "pkg:pytorch"),
    "TS011": ("torch",),  # and the companion's own line, which its text names
    "TS025": ("os", "torch"),
    "TS027": ("pkg:numpy", "signal:numpy-init", "signal:numpy-2-abi"),
    "TS028": ("signal:missing-dll", "os"),
    "TS101": ("torch",),
    "TS105": ("traceback", "torch"),
    "TS107": ("cuda_available", "torch"),
}

# Failing everything else: the first of these facts of the finding's category.
CATEGORY_FACTS: dict[str, tuple[str, ...]] = {
    "system": ("os", "python_platform", "libc"),
    "python": ("python", "python_platform", "pkg:torch"),
    "nvidia": ("driver", "smi", "gpu:0", "smi:gpu:0"),
    "torch": ("torch", "pkg:torch", "pkg:pytorch", "cuda_available"),
    "companions": ("pkg:torchvision", "pkg:torchaudio", "pkg:numpy", "torch"),
    "libraries": ("cudnn", "nvcc", "cuda_build"),
    "toolchain": ("gcc", "clang", "cmake", "nvcc"),
    "resources": (),
}

# Lines whose numbers are not the fact's value (paths, ldconfig's cuDNN guess, CPU flags).
_NOT_VALUES = frozenset({"traceback", "cudnn", "cpu", "gpus", "libraries", "allocator"})

_VERSIONISH = re.compile(r"\d+(?:\.\d+)+[\w.+\-]*")


def _needles(key: str, line: str) -> list[str]:
    """What of a fact line a finding would repeat: its version-like tokens, or its value."""
    value = line.split(":", 1)[1].strip() if ":" in line and not key.startswith("pkg:") else line
    if key.startswith(("gpu:", "smi:gpu:")):
        name = re.sub(r"^GPU \d+\s*[:：]\s*|\(UUID:[^)]*\)", "", value).strip()
        if key.startswith("smi:"):
            m = re.match(r"^\|\s*\d+\s+(.+?)\s+(?:On|Off|WDDM|TCC)\s+\|", line)
            name = m.group(1) if m else ""
        return [re.sub(r"^NVIDIA\s+", "", name)] if len(name) >= 4 else []
    if key.startswith(("signal:", "warning:")) or key in _NOT_VALUES:
        return []
    return [t for t in _VERSIONISH.findall(value) if len(t) >= 4]


def quotes_for(finding: Finding, evidence: Mapping[str, str]) -> tuple[str, ...]:
    """The evidence lines of ``finding`` (see the module doc), in paste order of discovery."""
    out: list[str] = []
    signal = finding.value("signal")
    if signal:
        for kind in signal.split(","):
            line = evidence.get(f"signal:{kind}")
            if line:
                out.append(line)
    text = " ".join(filter(None, (finding.title, finding.detail)))
    low = text.lower()
    for key, line in evidence.items():
        if key.startswith(("signal:", "warning:", "traceback")):
            continue
        if key.startswith("pkg:") and not re.search(
            rf"(?<![\w-]){re.escape(key[4:])}(?![\w-])", low.replace("_", "-")
        ):
            continue  # a package line only when the finding names the package
        if any(n and n in text for n in _needles(key, line)):
            out.append(line)
    for key in RULE_FACTS.get(finding.id, ()):
        line = evidence.get(key)
        if line:
            out.append(line)
    if not out and "traceback" in evidence and finding.id in ("TS105", "TS009"):
        out.append(evidence["traceback"])
    if not out:
        for key in CATEGORY_FACTS.get(finding.category, ()):
            line = evidence.get(key)
            if line:
                out.append(line)
                break
    return tuple(dict.fromkeys(out))


def attach_evidence(report: DoctorReport, evidence: Mapping[str, str]) -> DoctorReport:
    """``report`` with each finding's quoted lines filled in."""
    done: dict[int, Finding] = {}

    def quoted(f: Finding) -> Finding:
        key = id(f)
        if key not in done:
            done[key] = dataclasses.replace(f, evidence=quotes_for(f, evidence))
        return done[key]

    findings = tuple(quoted(f) for f in report.findings)
    categories = tuple(
        dataclasses.replace(c, findings=tuple(quoted(f) for f in c.findings))
        for c in report.categories
    )
    return dataclasses.replace(report, findings=findings, categories=categories)
