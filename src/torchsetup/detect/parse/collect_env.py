"""Parser of ``python -m torch.utils.collect_env`` output, as people paste it into bug reports.

Accepts every torch 1.x/2.x shape: warnings printed before the report, "Could not collect"
fields, ``[pip]``/``[pip3]``/``[conda]`` sections, Windows, macOS and ROCm fields, reports cut
off part-way, markdown code fences, ``<details>`` and ``> `` quotes around it, and prose before
and after. Pure: text in, :class:`CollectEnvReport` out. Only the first report in the text is
read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

# Printed labels (all torch versions; "Version of relevant libraries" is a real typo seen in
# pasted 1.x reports) -> the key this module uses.
LABELS: dict[str, str] = {
    "PyTorch version": "torch",
    "Is debug build": "debug",
    "CUDA used to build PyTorch": "cuda_build",
    "ROCM used to build PyTorch": "rocm_build",
    "OS": "os",
    "GCC version": "gcc",
    "Clang version": "clang",
    "CMake version": "cmake",
    "Libc version": "libc",
    "Python version": "python",
    "Python platform": "python_platform",
    "Is CUDA available": "cuda_available",
    "CUDA runtime version": "nvcc",
    "CUDA_MODULE_LOADING set to": "cuda_module_loading",
    "GPU models and configuration": "gpus",
    "Nvidia driver version": "driver",
    "cuDNN version": "cudnn",
    "Is XPU available": "xpu_available",
    "HIP runtime version": "hip_runtime",
    "MIOpen runtime version": "miopen",
    "Is XNNPACK available": "xnnpack",
    "Caching allocator config": "allocator",
    "CPU": "cpu",
    "Versions of relevant libraries": "libraries",
    "Version of relevant libraries": "libraries",
    # Written by `torchsetup doctor --report` (ignored by other readers, read back here).
    "NVIDIA driver supports CUDA up to": "driver_cuda",
    "CUDA arch list": "arch_list",
    "cuDNN loaded by torch": "cudnn_loaded",
}

NOT_COLLECTED = "Could not collect"

_LABEL_RE = re.compile(
    r"^("
    + "|".join(re.escape(k) for k in sorted(LABELS, key=len, reverse=True))
    + r")\s*[:：]\s*(.*)$"
)
# "PyTorch version 1.5.0" (no colon) appears in hand-copied reports.
_LOOSE_TORCH_RE = re.compile(r"^PyTorch version\s+(\d[^\s]*)$")
_GPU_RE = re.compile(r"^GPU\s+(\d+)\s*[:：]\s*(.+?)\s*$")
_PKG_RE = re.compile(r"^\[(pip\d?|conda)\]\s*(.*)$")
_MULTILINE = ("gpus", "cudnn", "cpu")
# The sectioned format (vLLM's copy since 0.9, and later ones): "=====" rules around titles.
_RULE = re.compile(r"^={5,}$")
SECTION_TITLES = {
    "System Info": None,
    "PyTorch Info": None,
    "Python Environment": None,
    "CUDA / GPU Info": None,
    "CPU Info": "cpu",
    "Versions of relevant libraries": "libraries",
    "vLLM Info": "end",
    "Environment Variables": "end",
}
# Log lines vLLM (and others) print between the fields: "INFO 02-18 21:25:53 __init__.py:190] ..."
# "/x/y.py:30: UserWarning: ..." and the source line Python prints under it.
_PY_WARNING = re.compile(r"^(?:\S+\.py:\d+: \w*Warning:|warnings\.warn\(|warn\()")
_LOG_LINE = re.compile(r"^(?:INFO|WARNING|ERROR|DEBUG)\s+\d\d-\d\d \d\d:\d\d:\d\d")


@dataclass
class CollectEnvReport:
    """The fields of one report. Values are as printed ("Could not collect", "N/A", "No CUDA")."""

    fields: dict[str, str] = field(default_factory=dict)
    gpus: list[tuple[int, str]] = field(default_factory=list)  # (index, "NVIDIA H200 ...")
    gpu_text: list[str] = field(default_factory=list)  # non-"GPU n:" lines (ROCm, macOS)
    cudnn: list[str] = field(default_factory=list)
    cpu: list[str] = field(default_factory=list)
    pip: list[tuple[str, str]] = field(default_factory=list)  # (name, version)
    pip_section: Optional[str] = None  # "[pip3] Could not collect" -> that text
    conda: list[tuple[str, str, Optional[str], Optional[str]]] = field(default_factory=list)
    conda_section: Optional[str] = None
    preamble: list[str] = field(default_factory=list)  # lines before the first field: warnings
    field_lines: dict[str, str] = field(default_factory=dict)  # key -> the line it was read from
    package_lines: dict[str, str] = field(default_factory=dict)  # name -> its [pip3]/[conda] line
    span: tuple[int, int] = (0, 0)  # [start, end) of the report in the cleaned lines
    last_line: Optional[str] = None  # the report's last line (where a cut-off report ends)

    def get(self, key: str) -> Optional[str]:
        """A field's value, None when absent or "Could not collect"."""
        value = self.fields.get(key)
        if value is None or value.strip().startswith(NOT_COLLECTED):
            return None
        return value.strip()

    @property
    def found(self) -> bool:
        return bool(self.fields)

    @property
    def packages_complete(self) -> bool:
        """collect_env always ends with a [conda] line: without one the list was cut off."""
        return self.conda_section is not None or bool(self.conda)


def clean_lines(text: str) -> list[str]:
    """Lines without markdown/HTML wrapping: fences, <details>/<summary>, "> " quotes; lines a
    Windows console wrapped mid-word at its width are joined again."""
    lines = _unwrap(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    quoted = sum(1 for ln in lines if ln.lstrip().startswith(">"))
    out = []
    for raw in lines:
        line = raw.rstrip()
        if quoted > len(lines) / 3 and line.lstrip().startswith(">"):
            line = line.lstrip()[1:]
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            out.append("")  # a fence ends a paragraph like a blank line
            continue
        line = re.sub(r"</?(details|summary|pre|code)[^>]*>", "", line, flags=re.IGNORECASE)
        out.append(line)
    return out


# Console widths: cmd.exe and PowerShell wrap at 80 or 120 columns (conhost's defaults).
_CONSOLE_WIDTHS = (80, 100, 120)


def _unwrap(lines: list[str]) -> list[str]:
    """Join the lines a console hard-wrapped at its width. A console that wraps fills the
    wrapped line to exactly its width (80, 100 or 120 columns), so when the longest line has
    such a width, each line of that width that ends in the middle of a word (a word character
    on both sides of the break) continues on the next line."""
    longest = max((len(ln) for ln in lines), default=0)
    if longest not in _CONSOLE_WIDTHS:
        return lines
    out: list[str] = []
    carry = ""
    for i, line in enumerate(lines):
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if (
            len(line) == longest
            and following
            and re.match(r"\w", following)
            and re.search(r"\w$", line)
        ):
            carry += line
            continue
        out.append(carry + line)
        carry = ""
    if carry:
        out.append(carry)
    return out


def parse_collect_env(text: str) -> CollectEnvReport:
    """Parse the first collect_env report in ``text`` (see module doc)."""
    lines = [ln.strip() for ln in clean_lines(text)]
    return parse_lines(lines)


def parse_lines(lines: list[str]) -> CollectEnvReport:
    """:func:`parse_collect_env` of already cleaned, stripped lines; ``span`` of the result
    says which of them the report took."""
    start = _report_start(lines)
    report = CollectEnvReport(preamble=lines[:start])
    current: Optional[str] = None  # the multi-line field being read
    in_libraries = False
    end = start
    for i in range(start, len(lines)):
        line = lines[i]
        if _LOG_LINE.match(line) or _RULE.match(line) or _PY_WARNING.match(line):
            continue  # interleaved log lines and Python warnings (stderr into the same paste)
        if line in SECTION_TITLES and i > 0 and _RULE.match(lines[i - 1]):
            what = SECTION_TITLES[line]
            if what == "end" and report.found:
                break
            current = "cpu" if what == "cpu" else None
            in_libraries = what == "libraries"
            if in_libraries:
                report.fields.setdefault("libraries", "")
            continue
        end = i + 1
        pkg = _PKG_RE.match(line)
        if in_libraries and not pkg:
            if not line and not (report.pip or report.conda or report.pip_section):
                continue
            end = i
            break  # the report ended
        if pkg:
            in_libraries = True
            _package(report, pkg.group(1), pkg.group(2))
            words = pkg.group(2).replace("==", " ").split()
            if words:
                report.package_lines.setdefault(words[0].lower(), line)
            continue
        key, value = _label(line)
        if key is not None:
            if key == "torch" and "torch" in report.fields:
                end = i
                break  # a second report follows
            report.fields.setdefault(key, value)
            report.field_lines.setdefault(key, line)
            current = key if key in _MULTILINE else None
            if key == "gpus" and value:
                _gpu_line(report, value)
            in_libraries = key == "libraries"
            continue
        if current is not None and _continue_multiline(report, current, line):
            continue
        current = None
    report.span = (start, end) if report.found or report.pip else (0, 0)
    report.last_line = _last_report_line(lines, report.span)
    return report


def _last_report_line(lines: list[str], span: tuple[int, int]) -> Optional[str]:
    for i in range(span[1] - 1, span[0] - 1, -1):
        if lines[i] and not _LOG_LINE.match(lines[i]):
            return lines[i]
    return None


def _label(line: str) -> tuple[Optional[str], str]:
    """(key, value) of a "Label: value" line; (None, "") when the line is not a field."""
    m = _LABEL_RE.match(line)
    if m:
        return LABELS[m.group(1)], m.group(2).strip()
    loose = _LOOSE_TORCH_RE.match(line)
    return ("torch", loose.group(1)) if loose else (None, "")


def _report_start(lines: list[str]) -> int:
    """Where the report begins: a "PyTorch version" line followed by the next fields (a script's
    own "PyTorch version: ..." print before the report does not count), else the first field."""
    for i, ln in enumerate(lines):
        if ln == "System Info" and i > 0 and _RULE.match(lines[i - 1]):
            return i - 1
    keyed = [(i, _label(ln)[0]) for i, ln in enumerate(lines)]
    fields = [(i, k) for i, k in keyed if k is not None]
    for i, key in fields:
        if key == "torch" and any(
            k in ("debug", "cuda_build") for j, k in fields if i < j <= i + 3
        ):
            return i
    if fields:
        return fields[0][0]
    return next((i for i, ln in enumerate(lines) if _PKG_RE.match(ln)), len(lines))


def _gpu_line(report: CollectEnvReport, text: str) -> None:
    m = _GPU_RE.match(text)
    if m:
        name = re.sub(r"\s*\(UUID:[^)]*\)", "", m.group(2)).strip()
        report.gpus.append((int(m.group(1)), name))
        report.field_lines.setdefault(f"gpu:{m.group(1)}", text)
    elif text not in (NOT_COLLECTED, "No CUDA", "N/A"):
        report.gpu_text.append(text)


def _continue_multiline(report: CollectEnvReport, key: str, line: str) -> bool:
    """Add a continuation line of a multi-line field; False when the field has ended."""
    if key == "gpus":
        if _GPU_RE.match(line):
            _gpu_line(report, line)
            return True
        return False
    if key == "cudnn":
        if (
            line.startswith(("/", "\\"))
            or re.match(r"^[A-Za-z]:\\", line)
            or "cudnn" in line.lower()
        ):
            report.cudnn.append(line)
            return True
        return False
    if key == "cpu":
        if not line:
            return bool(not report.cpu)  # a blank line right after "CPU:" is not the end
        report.cpu.append(line)
        return True
    return False


def _package(report: CollectEnvReport, section: str, rest: str) -> None:
    rest = rest.strip()
    if section == "conda":
        if rest in (NOT_COLLECTED, "No relevant packages") or not rest:
            report.conda_section = rest or "empty"
            return
        parts = rest.split()
        report.conda.append(
            (
                parts[0],
                parts[1] if len(parts) > 1 else "",
                parts[2] if len(parts) > 2 else None,
                parts[3] if len(parts) > 3 else None,
            )
        )
        return
    if rest in (NOT_COLLECTED, "No relevant packages") or not rest:
        report.pip_section = rest or "empty"
        return
    name, sep, version = rest.partition("==")
    if sep and name.strip() and version.strip():
        report.pip.append((name.strip(), version.strip()))
