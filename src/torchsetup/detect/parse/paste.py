"""Everything else people paste next to (or instead of) a collect_env report. Pure.

* error text: tracebacks and the messages torch, pip, NCCL, NumPy and the LLM stack print
  (:data:`SIGNALS`, each a kind and the regex that finds it; every match keeps the line it
  was found on, to be quoted);
* ``nvidia-smi``'s table (driver, the CUDA it supports, the GPUs by name) and its failures;
* ``pip list``, ``pip freeze``, ``pip show`` and ``conda list`` output, and conda's
  transaction list.

:func:`parse_paste` reads them all from one text (already decoded: see
:func:`torchsetup.sanitize.decode_paste`) and says which formats it found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

# kind -> the pattern that finds it (searched in each line, and in each pair of lines joined
# with a space, since consoles wrap long messages). Named groups become the signal's values.
SIGNALS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.IGNORECASE if ci else 0))
    for kind, pattern, ci in (
        (
            "missing-library",
            r"(?P<lib>lib[\w+\-]+\.so(?:\.\d+)*): cannot open shared object file",
            False,
        ),
        (
            "missing-dll",
            r"WinError 126\]?.*?(?:Error loading \"(?P<dll>[^\"]+)\"|(?P<dll2>[\w.\-]+\.dll))",
            False,
        ),
        (
            "undefined-symbol",
            r"(?P<so>[\w./\\\-+]*\.(?:so|pyd)[\w.]*)?:?\s*undefined symbol: (?P<symbol>\S+)",
            False,
        ),
        ("no-kernel-image", r"no kernel image is available for execution on the device", False),
        (
            "driver-too-old",
            r"NVIDIA driver on your system is too old(?: \(found version (?P<found>\d+)\))?",
            False,
        ),
        ("no-driver", r"Found no NVIDIA driver on your system", False),
        (
            "smi-no-driver",
            r"NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver",
            False,
        ),
        (
            "nvml-mismatch",
            r"Failed to initialize NVML: Driver/library version mismatch",
            False,
        ),
        ("cuda-not-compiled", r"Torch not compiled with CUDA enabled", False),
        (
            "gpu-too-old",
            (
                r"(?:Found GPU ?(?P<index>\d+) (?P<name>.+?) which is of cuda capability "
                r"(?P<cc>\d+\.\d+)\.?\s*)?PyTorch no longer supports this GPU because it is too old"
            ),
            False,
        ),
        (
            "numpy-c-api",
            (
                r"module compiled against (?:ABI|API) version (?P<built>0x[0-9a-fA-F]+) but this "
                r"version of numpy is (?P<have>0x[0-9a-fA-F]+)"
            ),
            False,
        ),
        (
            "numpy-2-abi",
            r"A module that was compiled using NumPy 1\.x cannot be run in\s+NumPy (?P<have>\d[\w.]*)",
            False,
        ),
        ("numpy-init", r"Failed to initialize NumPy: (?P<why>.+)", False),
        ("numpy-multiarray", r"numpy\.core\.multiarray failed to import", False),
        (
            "nccl",
            (
                r"(?P<what>NCCL error[^\n]*|nccl(?:UnhandledCudaError|SystemError|InternalError|"
                r"InvalidUsage|RemoteError)[^\n]*|DistBackendError: NCCL[^\n]*)"
            ),
            False,
        ),
        (
            "pip-no-version",
            (
                r"Could not find a version that satisfies the requirement (?P<req>\S+)"
                r"(?: \(from versions: (?P<versions>[^)]*)\))?"
            ),
            False,
        ),
        ("pip-no-distribution", r"No matching distribution found for (?P<req>\S+)", False),
        (
            "pip-conflict",
            (
                r"(?P<pkg>[\w.\-]+) (?P<pkgver>\S+) requires (?P<req>.+?), but you have "
                r"(?P<have>[\w.\-]+) (?P<havever>\S+) which is incompatible"
            ),
            False,
        ),
        ("pip-resolution-impossible", r"ResolutionImpossible|conflicting dependencies", False),
        (
            "flash-attn-arch",
            r"FlashAttention only supports (?:Ampere|Hopper|Turing)? ?GPUs or newer",
            False,
        ),
        (
            "xformers-built-for",
            (
                r"xFormers was built for:\s*PyTorch (?P<built>\S+) with CUDA (?P<cuda>\S+) "
                r"\(you have (?P<have>\S+)\)"
            ),
            False,
        ),
        (
            "triton-api",
            r"cannot import name '(?P<name>triton_key|AttrsDescriptor)' from 'triton",
            False,
        ),
        (
            "transformers-torch-gate",
            (
                r"Disabling PyTorch because PyTorch >= ?(?P<need>\S+) is required but found "
                r"(?P<have>[\w.+]+)"
            ),
            False,
        ),
        (
            "cuda-home",
            (
                r"CUDA_HOME environment variable is not set|MissingCUDAException|"
                r"CUDA_HOME does not exist"
            ),
            False,
        ),
        (
            "nvcc-mismatch",
            (
                r"(?:Installed CUDA version (?P<nvcc>\S+) does not match the version torch was "
                r"compiled with (?P<torch>[\d.]+)|The detected CUDA version \((?P<nvcc2>[\d.]+)\) "
                r"mismatches the version that was used to compile\s+PyTorch \((?P<torch2>[\d.]+)\))"
            ),
            False,
        ),
        (
            "bitsandbytes-cuda",
            (
                r"CUDA Setup failed despite GPU being available|bitsandbytes was compiled without "
                r"GPU support|CUDA VERSION MISMATCH|Could not find the bitsandbytes CUDA binary"
            ),
            False,
        ),
        (
            "peft-transformers",
            (
                r"cannot import name '(?P<name>EncoderDecoderCache|HybridCache)' from 'transformers'|"
                r"The version of PEFT you are using is not compatible"
            ),
            False,
        ),
        ("cuda-unknown-error", r"CUDA unknown error", False),
        (
            "incompatible-gpu",
            (
                r"(?P<name>[A-Za-z0-9][\w\- ]*?) with CUDA capability sm_(?P<cc>\d+) is not "
                r"compatible with the current PyTorch installation"
            ),
            False,
        ),
        (
            "torchvision-nms",
            r"operator torchvision::nms does not exist|No such operator torchvision::",
            False,
        ),
        (
            "torch-import-missing",
            r"ModuleNotFoundError: No module named '?torch'?\s*$",
            False,
        ),
    )
)

# What ends a traceback: the exception line.
_EXCEPTION = re.compile(
    r"^(?P<type>(?:[A-Za-z_][\w]*\.)*[A-Za-z_]\w*(?:Error|Exception|Exit|Interrupt|Warning))"
    r"(?::\s*(?P<message>.*))?$"
)
_TRACEBACK = re.compile(r"^Traceback \(most recent call last\):")
_FILE_LINE = re.compile(r'^File "(?P<path>[^"]+)", line \d+')

_SMI_HEADER = re.compile(
    r"NVIDIA-SMI\s+(?P<smi>[\d.]+)\s+Driver Version:\s*(?P<driver>[\d.]+)"
    r"(?:\s+CUDA Version:\s*(?P<cuda>[\d.]+|N/A))?"
)
# "|   0  NVIDIA GeForce RTX 3090     Off  | 00000000:01:00.0  On |" (also WDDM/TCC on Windows)
_SMI_GPU = re.compile(
    r"^\|\s*(?P<index>\d+)\s+(?P<name>\S.*?)\s+(?:On|Off|WDDM|TCC)\s+\|\s+[0-9A-Fa-f]{4,8}:"
)

_PIP_LIST_HEADER = re.compile(r"^Package\s+Version(?:\s+\S.*)?$")
_PIP_LIST_ROW = re.compile(
    r"^(?P<name>[A-Za-z0-9][\w.\-]*)\s+(?P<version>\d[\w.+!\-]*)(?:\s+\S.*)?$"
)
_FREEZE_ROW = re.compile(
    r"^(?P<name>[A-Za-z0-9][\w.\-]*)(?:\[[^\]]*\])?\s*==\s*(?P<version>[\w.+!\-]+)\s*$"
)
_FREEZE_URL = re.compile(r"^(?P<name>[A-Za-z0-9][\w.\-]*) @ (?P<url>\S+)$")
# conda's transaction ("The following packages will be downloaded"): "pytorch-2.0.0.dev20221216 |
# py3.8_cpu_0  84.2 MB  pytorch-nightly", possibly after a CI log timestamp.
_CONDA_PLAN_ROW = re.compile(
    r"^(?:\S*\d{2}:\d{2}:\S*\s+)?(?P<name>[A-Za-z_][\w.\-]*?)-(?P<version>\d[\w.+!]*)\s*\|\s*"
    r"(?P<build>\S+)\s+[\d.]+ [KMG]?B(?:\s+(?P<channel>\S+))?$"
)
_CONDA_COMMAND = re.compile(r"(?:^|[\s$>])conda list\b")
_CONDA_HEADER = re.compile(r"^# packages in environment at (?P<prefix>.+?):?\s*$")
_CONDA_ROW = re.compile(
    r"^(?P<name>[A-Za-z0-9_][\w.\-]*)\s+(?P<version>[\w.+!\-]+)\s+(?P<build>\S+)(?:\s+(?P<channel>\S+))?$"
)


@dataclass(frozen=True)
class Signal:
    """One error message found in a paste: what it is, the line(s) it was read from."""

    kind: str
    line: int  # index of the first line in the cleaned lines (0-based)
    text: str  # the quoted line(s), as they were printed
    values: tuple[tuple[str, str], ...] = ()

    def value(self, key: str) -> Optional[str]:
        return dict(self.values).get(key)


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    build: Optional[str] = None
    channel: Optional[str] = None
    line: str = ""


@dataclass(frozen=True)
class Traceback:
    exception: str  # "ImportError: libcudnn.so.8: cannot open ..."
    line: int
    frames: tuple[str, ...] = ()  # the "File ..." paths, innermost last


@dataclass(frozen=True)
class SmiTable:
    driver: Optional[str] = None
    cuda: Optional[str] = None
    gpus: tuple[tuple[int, str], ...] = ()
    lines: tuple[str, ...] = ()  # the header line and the GPU lines, to quote


@dataclass
class Paste:
    """What :func:`parse_paste` found (collect_env itself is read by its own parser)."""

    signals: list[Signal] = field(default_factory=list)
    tracebacks: list[Traceback] = field(default_factory=list)
    smi: Optional[SmiTable] = None
    packages: list[Package] = field(default_factory=list)
    package_format: Optional[str] = None  # "pip list" | "pip freeze" | "conda list"
    conda_prefix: Optional[str] = None
    formats: list[str] = field(default_factory=list)

    def first(self, kind: str) -> Optional[Signal]:
        return next((s for s in self.signals if s.kind == kind), None)

    @property
    def found(self) -> bool:
        return bool(self.signals or self.tracebacks or self.smi or self.packages)


def parse_paste(lines: list[str], *, skip: range = range(0)) -> Paste:
    """Read ``lines`` (the cleaned, stripped lines of the paste); lines in ``skip`` (the
    collect_env report) are read for error signals only (torch prints warnings inside it)."""
    paste = Paste()
    _signals(paste, lines)
    _tracebacks(paste, lines)
    paste.smi = _smi(lines)
    if paste.smi is not None:
        paste.formats.append("nvidia-smi")
    _packages(paste, [ln if i not in skip else "" for i, ln in enumerate(lines)])
    if paste.tracebacks:
        paste.formats.append("traceback")
    if paste.signals and not paste.tracebacks:
        paste.formats.append("error text")
    return paste


def _signals(paste: Paste, lines: list[str]) -> None:
    seen: set[tuple[str, str]] = set()
    for i, line in enumerate(lines):
        if not line:
            continue
        joined = line
        if i + 1 < len(lines) and lines[i + 1]:
            joined = f"{line} {lines[i + 1]}"
        for kind, pattern in SIGNALS:
            m = pattern.search(line)
            text = line
            if m is None:
                m = pattern.search(joined)
                if m is None or m.start() >= len(line):
                    continue
                text = joined if m.end() > len(line) else line
            values = tuple((k, v) for k, v in m.groupdict().items() if v)
            key = (kind, m.group(0))
            if key in seen:
                continue
            seen.add(key)
            paste.signals.append(Signal(kind=kind, line=i, text=text, values=values))


def _tracebacks(paste: Paste, lines: list[str]) -> None:
    i = 0
    while i < len(lines):
        # A traceback, or its tail pasted without the "Traceback (most recent call last):" line.
        if not (_TRACEBACK.match(lines[i]) or _FILE_LINE.match(lines[i])):
            i += 1
            continue
        start, frames = i, []
        if _TRACEBACK.match(lines[i]):
            i += 1
        while i < len(lines):
            line = lines[i]
            fm = _FILE_LINE.match(line)
            if fm:
                frames.append(fm.group("path"))
            elif _EXCEPTION.match(line) and not line.startswith(("During handling", "The above")):
                paste.tracebacks.append(Traceback(exception=line, line=i, frames=tuple(frames)))
                break
            elif _TRACEBACK.match(line):
                break
            i += 1
        else:
            paste.tracebacks.append(
                Traceback(
                    exception="(cut off before the exception line)",
                    line=start,
                    frames=tuple(frames),
                )
            )
        i = max(i, start + 1)


def _smi(lines: list[str]) -> Optional[SmiTable]:
    for i, line in enumerate(lines):
        m = _SMI_HEADER.search(line)
        if not m:
            continue
        gpus, quoted = [], [line]
        for row in lines[i + 1 : i + 80]:
            g = _SMI_GPU.match(row)
            if g:
                gpus.append((int(g.group("index")), g.group("name").strip()))
                quoted.append(row)
            elif row.startswith("| Processes") or "GPU   GI   CI" in row:
                break
        cuda = m.group("cuda")
        return SmiTable(
            driver=m.group("driver"),
            cuda=None if cuda in (None, "N/A") else cuda,
            gpus=tuple(gpus),
            lines=tuple(quoted),
        )
    return None


def _packages(paste: Paste, lines: list[str]) -> None:
    """pip list (a "Package Version" header), conda list (its "# packages in environment"
    header), else pip freeze (at least three name==version lines)."""
    for i, line in enumerate(lines):
        conda = _CONDA_HEADER.match(line)
        if conda:
            paste.conda_prefix = conda.group("prefix")
            _read_rows(paste, lines[i + 1 :], "conda list")
            return
        if _PIP_LIST_HEADER.match(line):
            _read_rows(paste, lines[i + 1 :], "pip list")
            return
        if _CONDA_COMMAND.search(line):  # `conda list | grep cuda`: rows without a header
            _read_rows(paste, lines[i + 1 :], "conda list")
            if paste.packages:
                return
    shown = _pip_show(lines)
    if shown:
        paste.packages = shown
        paste.package_format = "pip show"
        paste.formats.append("pip show")
        return
    plan = [
        Package(
            name=m.group("name"),
            version=m.group("version"),
            build=m.group("build"),
            channel=m.group("channel"),
            line=ln,
        )
        for ln in lines
        if (m := _CONDA_PLAN_ROW.match(ln))
    ]
    if plan:
        paste.packages = plan
        paste.package_format = "conda list"
        paste.formats.append("conda transaction")
        return
    frozen = [
        Package(name=m.group("name"), version=m.group("version"), line=ln)
        for ln in lines
        if (m := _FREEZE_ROW.match(ln)) and not ln.startswith("[")
    ]
    if len(frozen) >= 3:
        paste.packages = frozen
        paste.package_format = "pip freeze"
        paste.formats.append("pip freeze")


_SHOW_NAME = re.compile(r"^Name:\s*(?P<name>[A-Za-z0-9][\w.\-]*)\s*$")
_SHOW_VERSION = re.compile(r"^Version:\s*(?P<version>\d[\w.+!\-]*)\s*$")


def _pip_show(lines: list[str]) -> list[Package]:
    """``pip show NAME ...``: a "Name:" line with its "Version:" line right after it."""
    out = []
    for i, line in enumerate(lines[:-1]):
        name, version = _SHOW_NAME.match(line), _SHOW_VERSION.match(lines[i + 1])
        if name and version:
            out.append(
                Package(name.group("name"), version.group("version"), line=f"{line} {lines[i + 1]}")
            )
    return out


def _read_rows(paste: Paste, rows: list[str], fmt: str) -> None:
    out: list[Package] = []
    misses = 0
    for row in rows:
        if not row or row.startswith("#") or set(row) <= set("- "):
            continue
        package = _row(row, fmt)
        if package is None:
            misses += 1
            if misses >= 2:
                break
            continue
        misses = 0
        out.append(package)
    if out:
        paste.packages = out
        paste.package_format = fmt
        paste.formats.append(fmt)


def _row(row: str, fmt: str) -> Optional[Package]:
    if fmt == "conda list":
        c = _CONDA_ROW.match(row)
        if c:
            return Package(
                c.group("name"),
                c.group("version"),
                build=c.group("build"),
                channel=c.group("channel"),
                line=row,
            )
    m = _PIP_LIST_ROW.match(row)
    return Package(m.group("name"), m.group("version"), line=row) if m else None


def signal_pattern(kind: str) -> re.Pattern[str]:
    """The pattern of signal ``kind`` (KeyError for an unknown kind: a typo in a rule)."""
    return _BY_KIND[kind]


_BY_KIND = dict(SIGNALS)
