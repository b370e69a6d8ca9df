"""``doctor --report``: a bug-report block to paste into a GitHub issue.

It carries every field ``python -m torch.utils.collect_env`` prints, filled from torchsetup's
facts (with their better sources: the loaded cuDNN instead of ldconfig's guess, the driver's
maximum CUDA next to nvcc's), and the findings. User names in paths, GPU UUIDs, the host name
and credentials in index URLs are redacted. The block keeps collect_env's labels, so
collect_env readers (and ``doctor --from-report``) read it back.
"""

from __future__ import annotations

from typing import Optional

from torchsetup import __version__
from torchsetup.detect.model import Environment, Gpu
from torchsetup.doctor.model import DoctorReport
from torchsetup.redact import redact_report
from torchsetup.sanitize import clean, sanitize

NOT_COLLECTED = "Could not collect"
SUMMARY = "Environment and diagnosis (torchsetup doctor --report)"
GIB = 1024**3


def render_bug_report(
    env: Environment,
    report: DoctorReport,
    *,
    home: Optional[str] = None,
    user: Optional[str] = None,
) -> str:
    """The markdown block (``<details>`` around a fenced block), redacted."""
    # Facts can be pasted text (--from-report --report): no terminal controls in the block.
    body = "\n".join(sanitize(line) for line in [*_fields(env), "", *_findings(report)]).rstrip()
    text = f"<details>\n<summary>{SUMMARY}</summary>\n\n```text\n{body}\n```\n\n</details>"
    text = redact_report(text, home=home, user=user, hostname=env.os.hostname)
    return clean(text) + "\n"  # a paste may carry escape sequences (OSC 8, OSC 52, ...)


def _or(value: Optional[str], unknown: str = NOT_COLLECTED) -> str:
    return value if value else unknown


def _fields(env: Environment) -> list[str]:
    py = env.python if env.python is not None and env.python.ok else None
    torch = py.torch if py else None
    deep = env.deep
    o, nv, tools = env.os, env.nvidia, env.tools
    source = "live" if env.source == "live" else env.source
    return [
        f"Collecting environment information... (torchsetup {__version__} doctor --report, {source})",
        f"PyTorch version: {torch.version if torch else ('N/A' if py else NOT_COLLECTED)}",
        f"Is debug build: {_or(None if torch is None or torch.debug is None else str(torch.debug))}",
        f"CUDA used to build PyTorch: {(torch.cuda or 'None') if torch else 'N/A'}",
        f"ROCM used to build PyTorch: {(torch.hip or 'N/A') if torch else 'N/A'}",
        "",
        f"OS: {_or(o.name or o.system)}" + (f" ({o.machine})" if o.machine else ""),
        f"GCC version: {_or(tools.gcc_version)}",
        f"Clang version: {_or(tools.clang_version)}",
        f"CMake version: {_or(tools.cmake_version and 'version ' + tools.cmake_version)}",
        f"Libc version: {f'{o.libc}-{o.libc_version}' if o.libc and o.libc_version else ('N/A' if o.system in ('Darwin', 'Windows') else NOT_COLLECTED)}",
        "",
        f"Python version: {_python_line(env)}",
        f"Python platform: {_or(_platform_line(env))}",
        f"Is CUDA available: {_cuda_available(env)}",
        f"CUDA runtime version: {_nvcc(env)}",
        f"CUDA_MODULE_LOADING set to: {env.env('CUDA_MODULE_LOADING') or 'N/A'}",
        *_gpu_lines(env),
        f"Nvidia driver version: {_driver(env)}",
        f"NVIDIA driver supports CUDA up to: {_or(nv.cuda_driver_version, 'None' if nv.status == 'no-driver' else NOT_COLLECTED)}",
        f"cuDNN version: {_cudnn(env)}",
        f"cuDNN loaded by torch: {_cudnn_loaded(env)}",
        f"CUDA arch list: {' '.join(deep.arch_list) if deep and deep.arch_list else NOT_COLLECTED}",
        f"Is XPU available: {NOT_COLLECTED}",
        "HIP runtime version: N/A",
        "MIOpen runtime version: N/A",
        f"Is XNNPACK available: {NOT_COLLECTED}",
        f"Caching allocator config: {env.env('PYTORCH_CUDA_ALLOC_CONF') or env.env('PYTORCH_ALLOC_CONF') or 'N/A'}",
        "",
        "CPU:",
        *_cpu_lines(env),
        "",
        "Versions of relevant libraries:",
        *_package_lines(env),
    ]


def _cuda_available(env: Environment) -> str:
    """torch's answer (--deep, a report); a CPU build cannot say anything but False."""
    if env.deep is not None and env.deep.cuda_available is not None:
        return str(env.deep.cuda_available)
    torch = env.python.torch if env.python is not None else None
    if torch is not None and torch.variant == "cpu":
        return "False"
    return NOT_COLLECTED


def _python_line(env: Environment) -> str:
    py = env.python
    if py is None or not py.ok or not py.version:
        return NOT_COLLECTED
    kind = f"{py.implementation or 'cpython'}" + (f", {py.env_kind}" if py.env_kind else "")
    return f"{py.version} ({kind}) ({py.bits or 64}-bit runtime)"


def _platform_line(env: Environment) -> Optional[str]:
    """platform.platform()'s shape, rebuilt from the facts."""
    o = env.os
    if o.system == "Linux" and o.kernel and o.machine:
        libc = f"-with-{o.libc}{o.libc_version}" if o.libc and o.libc_version else ""
        return f"Linux-{o.kernel}-{o.machine}{libc}"
    if o.system == "Darwin" and o.version:
        return f"macOS-{o.version}-{o.machine or 'arm64'}"
    if o.system == "Windows" and o.version:
        release = (o.name or "Windows").removeprefix("Windows").strip() or "?"
        return f"Windows-{release}-{o.version}"
    return None


def _nvcc(env: Environment) -> str:
    tk = env.toolkit
    if tk.nvcc_full_version or tk.nvcc_version:
        return tk.nvcc_full_version or tk.nvcc_version or ""
    return NOT_COLLECTED if tk.nvcc_error else "None"


def _gpu_label(g: Gpu) -> str:
    extra = [
        x
        for x in (g.sm, f"{g.memory_total_bytes / GIB:.0f} GiB" if g.memory_total_bytes else None)
        if x
    ]
    return f"GPU {g.index}: {g.name}" + (f" ({', '.join(extra)})" if extra else "")


def _gpu_lines(env: Environment) -> list[str]:
    nv = env.nvidia
    if nv.gpus:
        if len(nv.gpus) == 1:
            return [f"GPU models and configuration: {_gpu_label(nv.gpus[0])}"]
        return ["GPU models and configuration: ", *(_gpu_label(g) for g in nv.gpus), ""]
    if nv.status in ("no-driver",) and not nv.pci_nvidia_devices:
        return ["GPU models and configuration: None"]
    return [f"GPU models and configuration: {NOT_COLLECTED}"]


def _driver(env: Environment) -> str:
    nv = env.nvidia
    if nv.driver_version:
        return nv.driver_version
    return "None" if nv.status == "no-driver" else NOT_COLLECTED


def _cudnn(env: Environment) -> str:
    """collect_env prints ldconfig's guess here; torchsetup prints the cuDNN torch depends on."""
    deep = env.deep
    if deep is not None and deep.cudnn_version:
        return str(deep.cudnn_version)
    py = env.python
    dist = (
        next((d for d in py.distributions if d.name.startswith("nvidia-cudnn")), None)
        if py
        else None
    )
    return f"{dist.version} ({dist.name})" if dist else NOT_COLLECTED


def _cudnn_loaded(env: Environment) -> str:
    deep = env.deep
    if deep is None or deep.libraries is None:
        return NOT_COLLECTED
    libs = [
        f"{lib.name} from {lib.path}" for lib in deep.libraries if lib.name.startswith("libcudnn")
    ]
    return "; ".join(libs) if libs else "None"


def _cpu_lines(env: Environment) -> list[str]:
    r = env.resources
    lines = []
    if r.logical_cpus:
        lines.append(f"CPU(s): {r.logical_cpus}")
    if r.physical_cores:
        lines.append(f"Core(s): {r.physical_cores}")
    if r.memory_total_bytes:
        lines.append(f"Memory: {r.memory_total_bytes / GIB:.0f} GiB")
    return lines or [NOT_COLLECTED]


def _package_lines(env: Environment) -> list[str]:
    py = env.python
    if py is None or not py.ok:
        return [f"[pip3] {NOT_COLLECTED}", f"[conda] {NOT_COLLECTED}"]
    pip = [f"[pip3] {d.name}=={d.version}" for d in sorted(py.distributions, key=lambda d: d.name)]
    conda = [
        "[conda] " + " ".join(x for x in (c.name, c.version, c.build, c.channel) if x)
        for c in py.conda_packages
    ]
    return (pip or ["[pip3] No relevant packages"]) + (conda or [f"[conda] {NOT_COLLECTED}"])


def _findings(report: DoctorReport) -> list[str]:
    if not report.findings and not report.crashed_rules:
        return ["torchsetup doctor: no issues found."]
    lines = [f"torchsetup doctor: {report.errors} error(s), {report.warnings} warning(s)"]
    for f in report.findings:
        lines.append(f"- [{f.severity}] {f.id} {f.title}: {f.detail}")
        if f.fix:
            lines.append(f"  fix: {f.fix}")
    lines += [f"- [crashed] {c}" for c in report.crashed_rules]
    return lines
