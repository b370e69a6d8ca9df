"""One-line summaries and -v facts per doctor category (pure, from the Environment)."""

from __future__ import annotations

from typing import Callable, Optional

from torchsetup.detect.model import Environment

GIB = 1024**3


def _gib(n: Optional[int]) -> str:
    return f"{n / GIB:.0f} GiB" if n else "?"


def category_facts(env: Environment, key: str) -> tuple[str, list[str]]:
    fn = _BUILDERS.get(key)
    return fn(env) if fn else ("", [])


def _system(env: Environment) -> tuple[str, list[str]]:
    o = env.os
    parts = [o.name or o.system or "unknown OS", o.machine or "?"]
    if o.libc_version:
        parts.append(f"{o.libc or 'libc'} {o.libc_version}")
    if o.wsl:
        parts.append("WSL2")
    if o.container:
        parts.append(f"container: {o.container}")
    if o.rosetta:
        parts.append("x86_64 Python under Rosetta")
    facts = [
        f"OS: {o.name or '?'} ({o.system or '?'} {o.kernel or ''})".rstrip(),
        f"architecture: {o.machine or '?'}; platform key: {o.platform_key or '?'}",
        f"libc: {o.libc or '?'} {o.libc_version or ''}".rstrip(),
    ]
    if o.wsl:
        facts.append(f"WSL2; libcuda: {o.wsl_libcuda or 'not found in /usr/lib/wsl/lib'}")
    if o.container:
        facts.append(f"container: {o.container}")
    return ", ".join(parts), facts


def _python(env: Environment) -> tuple[str, list[str]]:
    p = env.python
    if p is None:
        return "not probed", []
    if not p.ok:
        return f"{p.executable}: probe failed", [p.error or "?"]
    kind = p.env_kind or "?"
    traits = [t for t in (p.implementation, f"{p.bits}-bit" if p.bits else None, p.env_kind) if t]
    where = "from the report" if p.chosen_by == "report" else f"at {p.executable}"
    summary = f"{p.version or 'unknown version'} ({', '.join(traits) or '?'}) {where}"
    facts = [
        f"interpreter: {p.executable} (chosen by {p.chosen_by or '?'})",
        f"prefix: {p.prefix or '?'}; environment kind: {kind}",
        (
            f"pip: {p.pip_version or 'not installed'}; "
            f"externally managed (PEP 668): {_yn(p.externally_managed)}"
        ),
        f"Python.h: {_yn(p.has_python_h)} ({p.include_dir or '?'})",
        f"user site: {p.user_site or '?'} (enabled: {_yn(p.user_site_enabled)})",
    ]
    return summary, facts


def _nvidia(env: Environment) -> tuple[str, list[str]]:
    nv = env.nvidia
    facts = [f"status: {nv.status} (source: {nv.source or 'none'})"]
    if nv.kernel_module_version:
        facts.append(f"kernel module: {nv.kernel_module_version}")
    if nv.nvml_version:
        facts.append(f"NVML: {nv.nvml_version}")
    for g in nv.gpus:
        facts.append(
            f"GPU {g.index}: {g.name}, compute capability {g.compute_capability or '?'}"
            f", {_gib(g.memory_total_bytes)}"
            + (", MIG enabled" if g.mig_enabled else "")
            + (f", bus {g.pci_bus_id}" if g.pci_bus_id else "")
        )
    if nv.cuda_visible_devices is not None:
        facts.append(f"CUDA_VISIBLE_DEVICES={nv.cuda_visible_devices!r}")
    if nv.pci_nvidia_devices is not None:
        facts.append(f"NVIDIA devices on the PCI bus: {nv.pci_nvidia_devices}")
    facts += [f"probe: {e}" for e in nv.errors]
    if nv.driver_signs:
        facts.append(f"driver present: {', '.join(nv.driver_signs)}")
    facts += [f"GPU table: {p}" for p in nv.table_problems]
    # a broken nvidia-smi next to a present driver is a broken tool, never "no driver"
    broken = "driver present, nvidia-smi broken" if nv.smi_broken and nv.driver_signs else ""
    if nv.hung:
        return f"the driver did not answer ({' and '.join(nv.hung)} hung)", facts
    if nv.status == "ok" or nv.driver_version:
        gpus = ", ".join(sorted({f"{g.name} ({g.sm or '?'})" for g in nv.gpus})) or "no GPU listed"
        count = f"{len(nv.gpus)}x " if len(nv.gpus) > 1 else ""
        return (
            (f"{broken}; " if broken else "")
            + f"driver {nv.driver_version or '?'}, supports CUDA <= {nv.cuda_driver_version or '?'}; "
            f"{count}{gpus}"
        ), facts
    if broken:
        return broken, facts
    labels = {
        "no-driver": "no NVIDIA driver" + (", no NVIDIA GPU" if not nv.pci_nvidia_devices else ""),
        "not-loaded": "NVIDIA GPU present, driver not loaded",
        "mismatch": "driver/library version mismatch",
        "error": "the driver did not answer",
        "unknown": "unknown",
    }
    return labels.get(nv.status, nv.status), facts


def _torch(env: Environment) -> tuple[str, list[str]]:
    p = env.python
    if p is None or not p.ok:
        return "unknown (the target Python could not be probed)", []
    t = p.torch
    if t is None:
        return ("not installed" if p.torch_checked else "unknown"), _deep_facts(env)
    build = {"cpu": "CPU build"}.get(t.variant, f"{t.variant} build")
    if t.cuda:
        build = f"CUDA {t.cuda} build"
    elif t.hip:
        build = f"ROCm (HIP {t.hip}) build"
    facts = [f"torch {t.version} at {t.location or '?'}"]
    if t.git_version:
        facts.append(f"git: {t.git_version}")
    if len(p.torch_locations) > 1:
        facts += [f"also: {loc}" for loc in p.torch_locations[1:]]
    return f"{t.version}, {build}{_deep_summary(env)}", facts + _deep_facts(env)


def _deep_summary(env: Environment) -> str:
    """What torch itself said (--deep, a report), appended to the torch line."""
    d = env.deep
    if d is None:
        return ""
    if d.imported is False:
        return "; import torch fails"
    parts = []
    if d.cuda_available is not None:
        parts.append("CUDA available" if d.cuda_available else "CUDA not available")
    checked = [x for x in d.devices if x.tensor_ok is not None]
    if checked:
        good = sum(1 for x in checked if x.tensor_ok)
        parts.append(f"{good}/{len(checked)} GPU(s) passed a matmul")
    return ("; " + ", ".join(parts)) if parts else ""


def _deep_facts(env: Environment) -> list[str]:
    d = env.deep
    if d is None:
        return []
    said = "torch said (--deep)" if d.source == "deep" else "the report said"
    if d.imported is False:
        return [f"{said}: import torch failed: {d.error or '?'}"]
    facts = [
        f"{said}: torch {d.torch_version or '?'}"
        + (f", imported in {d.import_s:.1f} s" if d.import_s is not None else "")
    ]
    if d.error:
        facts.append(f"the probe stopped: {d.error}")
    if d.cuda_available is not None:
        facts.append(
            f"torch.cuda.is_available(): {d.cuda_available}"
            + (f", {d.device_count} device(s)" if d.device_count is not None else "")
        )
    if d.cuda_init_warning:
        facts.append(f"CUDA init: {d.cuda_init_warning}")
    if d.arch_list:
        facts.append(f"arch list: {' '.join(d.arch_list)}")
    for x in d.devices:
        state = {True: "matmul ok", False: f"failed: {x.error or 'wrong result'}", None: ""}[
            x.tensor_ok
        ]
        facts.append(
            f"device {x.index}: {x.name or '?'}"
            + (f", capability {x.capability}" if x.capability else "")
            + (f", {x.arch}" if x.arch else "")
            + (f", {state}" if state else "")
        )
    if d.mps_built is not None:
        facts.append(f"MPS: built {d.mps_built}, available {d.mps_available}")
    if d.numpy_version or d.numpy_error:
        facts.append(
            f"numpy interop: {'ok' if not d.numpy_error else d.numpy_error}"
            + (f" (numpy {d.numpy_version})" if d.numpy_version else "")
        )
    facts += [f"warning: {w}" for w in d.warnings]
    return facts


def _companions(env: Environment) -> tuple[str, list[str]]:
    p = env.python
    if p is None or not p.ok:
        return "unknown", []
    names = (
        "torchvision",
        "torchaudio",
        "triton",
        "pytorch-triton",
        "pytorch-triton-rocm",
        "triton-windows",
        "numpy",
        "torchtriton",
    )
    found = [f"{d.name} {d.version}" for n in names if (d := p.dist(n))]
    nvidia = [f"{d.name} {d.version}" for d in p.distributions if d.name.startswith("nvidia-")]
    if not found and not p.distributions_checked:
        return "unknown (the package list is missing or cut off)", nvidia
    return (", ".join(found) if found else "none installed"), found + nvidia


def _libraries(env: Environment) -> tuple[str, list[str]]:
    tk = env.toolkit
    py = env.python if env.python is not None and env.python.ok else None
    wheel = py.torch.cuda if py and py.torch else None
    torch_known = py is not None and (py.torch is not None or py.torch_checked)
    three = [
        f"driver supports CUDA <= {env.nvidia.cuda_driver_version or _absent_or_unknown(env.nvidia.status != 'unknown')}",
        f"torch built with CUDA {wheel or _absent_or_unknown(torch_known)}",
        "nvcc broken"
        if tk.nvcc_path and (tk.nvcc_error or not tk.nvcc_version)
        else f"nvcc {tk.nvcc_version or _absent_or_unknown(not tk.nvcc_error)}",
    ]
    facts = [
        "three CUDA numbers: " + "; ".join(three),
        f"nvcc: {tk.nvcc_path or 'not found'}"
        + (f" ({tk.nvcc_full_version})" if tk.nvcc_full_version else ""),
        f"CUDA_HOME: {tk.cuda_home or 'unset'}"
        + (f" (from {tk.cuda_home_var})" if tk.cuda_home_var else ""),
        f"toolkit folders: {', '.join(tk.install_dirs) or 'none'}",
    ]
    for d in tk.ld_library_path_cuda_libs:
        facts.append(
            f"LD_LIBRARY_PATH {d.path}: {', '.join(d.libraries[:6])}"
            + (" ..." if len(d.libraries) > 6 else "")
        )
    deep = env.deep
    if deep is not None and deep.cudnn_version:
        facts.append(f"cuDNN torch uses: {deep.cudnn_version} (torch.backends.cudnn.version())")
    if deep is not None and deep.cudnn_error:
        facts.append(f"cuDNN: {deep.cudnn_error}")
    if deep is not None and deep.libraries:
        facts += [f"loaded: {lib.name} from {lib.path}" for lib in deep.libraries]
    return " · ".join(three), facts


def _absent_or_unknown(known: bool) -> str:
    return "-" if known else "unknown"


def _toolchain(env: Environment) -> tuple[str, list[str]]:
    t = env.tools
    cxx = t.cxx_compiler
    if not t.paths and env.source != "live":
        reported = [
            f"{n} {v}" for n, v in (("gcc", t.gcc_version), ("clang", t.clang_version)) if v
        ]
        return ("unknown (PATH not probed)" + (f"; {', '.join(reported)}" if reported else "")), []
    parts = [
        f"C++ compiler: {cxx}" + (f" (gcc {t.gcc_version})" if t.gcc_version else "")
        if cxx
        else "no C++ compiler"
    ]
    for name in ("cmake", "ninja", "uv", "conda"):
        if t.path(name):
            parts.append(name)
    facts = [f"{k}: {v}" for k, v in t.paths]
    return ", ".join(parts), facts


def _resources(env: Environment) -> tuple[str, list[str]]:
    r = env.resources
    parts = []
    if r.logical_cpus:
        parts.append(f"{r.logical_cpus} CPUs")
    if r.memory_total_bytes:
        parts.append(f"{_gib(r.memory_total_bytes)} RAM")
    free = [d.free_bytes for d in r.disks if d.free_bytes is not None]
    if free:
        parts.append(f"{min(free) / GIB:.0f} GiB free disk")
    facts = [
        f"{d.label}: {d.path}: {_gib(d.free_bytes)} free of {_gib(d.total_bytes)}" for d in r.disks
    ]
    if r.shm_bytes:
        facts.append(f"/dev/shm: {_gib(r.shm_bytes)}")
    return (", ".join(parts) or "unknown"), facts


def _yn(v: Optional[bool]) -> str:
    return "unknown" if v is None else ("yes" if v else "no")


def _vendors(env: Environment) -> tuple[str, list[str]]:
    parts: list[str] = []
    facts: list[str] = []
    if env.amd is not None and env.amd.gpus:
        gpus = ", ".join(f"{g.name or 'AMD GPU'} ({g.gfx or 'gfx ?'})" for g in env.amd.gpus)
        parts.append(gpus)
        facts.append(f"AMD: {gpus}; found by {', '.join(env.amd.sources) or '?'}")
        facts.append(
            f"ROCm runtime: {env.amd.rocm_version or 'not found'}"
            + (f" ({env.amd.rocm_source})" if env.amd.rocm_source else "")
            + f"; /dev/kfd: {'yes' if env.amd.kfd else 'no' if env.amd.kfd is False else '?'}"
        )
        if env.amd.groups is not None:
            facts.append(f"groups: {', '.join(env.amd.groups) or '(none)'}")
    if env.intel is not None and env.intel.gpus:
        gpus = ", ".join(g.name or g.device_id or "Intel GPU" for g in env.intel.gpus)
        parts.append(gpus)
        level_zero = {True: "yes", False: "no", None: "?"}[env.intel.level_zero]
        facts.append(f"Intel: {gpus}; Level Zero: {level_zero}")
    if env.jetson is not None:
        parts.append(env.jetson.model or "Jetson")
        facts.append(
            f"Jetson: {env.jetson.model or '?'}, L4T {env.jetson.l4t or '?'}, "
            f"JetPack {env.jetson.jetpack or '?'}"
        )
    if env.amd is None and env.intel is None and env.jetson is None:
        return "not probed", []
    return ", ".join(parts) or "none found", facts


_BUILDERS: dict[str, Callable[[Environment], tuple[str, list[str]]]] = {
    "system": _system,
    "python": _python,
    "nvidia": _nvidia,
    "torch": _torch,
    "vendors": _vendors,
    "companions": _companions,
    "libraries": _libraries,
    "toolchain": _toolchain,
    "resources": _resources,
}
