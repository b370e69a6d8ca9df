"""A pasted collect_env report -> a partial :class:`Environment` the doctor rules can run on.

Only what the report says becomes a fact; everything else stays unknown (``None``), never
false. Two of collect_env's labels mislead and are mapped to what they really are: "CUDA
runtime version" is the version of ``nvcc`` on PATH (the toolkit, not the wheel's runtime), and
"cuDNN version" is ldconfig's guess, not the cuDNN torch loads (so it is not a fact here).
What torch itself said (CUDA available, its warnings) becomes ``env.deep`` with
``source="collect_env"``, like the facts of ``doctor --deep``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Optional

from torchsetup.detect.model import (
    Amd,
    AmdGpu,
    CondaPackage,
    CudaToolkit,
    DeepDevice,
    DeepFacts,
    Distribution,
    Environment,
    Gpu,
    LoadedLibrary,
    Nvidia,
    OSInfo,
    TargetPython,
    Tools,
    TorchBuild,
    canonical_name,
)
from torchsetup.detect.parse import nvidia as pnv
from torchsetup.detect.parse import system as psys
from torchsetup.detect.parse import toolkit as ptk
from torchsetup.detect.parse.collect_env import CollectEnvReport, clean_lines, parse_lines
from torchsetup.detect.parse.paste import Paste, Signal, parse_paste
from torchsetup.detect.parse.vendors import parse_rocm_version

ABSENT = ("None", "N/A", "No CUDA")

# torch's own warnings, as printed before the report.
_INCOMPATIBLE = re.compile(
    r"(?P<name>[A-Za-z0-9][\w\- ]*?) with CUDA capability sm_(?P<cc>\d+) is not compatible with the current "
    r"PyTorch installation\.?\s*The current PyTorch install supports CUDA capabilities "
    r"(?P<archs>(?:(?:sm|compute)_\d+\w*\s*)+)",
)
_DRIVER_FOUND = re.compile(r"driver on your system is too old \(found version (\d+)\)")
_WARNING = re.compile(r"(UserWarning|RuntimeWarning|Warning|Error|error):\s*(.*)")


def environment_from_parsed(rep: CollectEnvReport, source: str) -> Environment:
    """A parsed collect_env report (:func:`parse_collect_env` of the text, possibly wrapped in
    an issue) as an Environment."""
    preamble = "\n".join(rep.preamble)
    python = _python(rep)
    return Environment(
        os=_os(rep),
        nvidia=_nvidia(rep, preamble),
        toolkit=_toolkit(rep),
        python=python,
        tools=_tools(rep),
        env_vars=_env_vars(rep),
        source=f"report:{source}",
        deep=_deep(rep, preamble, python),
        amd=_amd(rep),
    )


def _amd(rep: CollectEnvReport) -> Optional[Amd]:
    """AMD GPUs of a ROCm torch's report: "GPU models and configuration: AMD Instinct MI250X
    (gfx90a:sramecc+:xnack-)", "HIP runtime version: 6.2.41133". None when it shows none."""
    gpus = tuple(
        AmdGpu(
            index=i, name=re.sub(r"\s*\(gfx[^)]*\)\s*$", "", name).strip(), gfx=gfx.split(":")[0]
        )
        for i, name in (rep.gpus or list(enumerate(rep.gpu_text)))
        if (gfx := _gfx(name))
    )
    hip = rep.get("hip_runtime")
    if not gpus and _absent(hip):
        return None
    runtime = None if _absent(hip) else parse_rocm_version(hip or "")
    return Amd(
        status="ok" if gpus and runtime else "no-gpu" if not gpus else "unknown",
        gpus=gpus,
        rocm_version=runtime,
        rocm_source="report (HIP runtime version)" if runtime else None,
        sources=("report",),
    )


def _absent(value: Optional[str]) -> bool:
    return value is not None and value.strip() in ABSENT


# --- OS ----------------------------------------------------------------------------------------


def _system(rep: CollectEnvReport) -> Optional[str]:
    plat = rep.get("python_platform") or ""
    os_line = rep.get("os") or ""
    if plat.startswith("Linux") or "glibc" in (rep.get("libc") or ""):
        return "Linux"
    if plat.startswith(("macOS", "Darwin")) or os_line.startswith(("macOS", "Mac OSX")):
        return "Darwin"
    if plat.startswith("Windows") or "Windows" in os_line:
        return "Windows"
    return None


def _machine(rep: CollectEnvReport, system: Optional[str]) -> Optional[str]:
    os_line, plat = rep.get("os") or "", rep.get("python_platform") or ""
    m = re.search(r"\((x86_64|aarch64|arm64|ppc64le|s390x|AMD64)\)\s*$", os_line)
    if m:
        return psys.normalise_machine(m.group(1), system)
    m = re.search(r"-(x86_64|aarch64|arm64|ppc64le|s390x)-", plat + "-")
    if m:
        return psys.normalise_machine(m.group(1), system)
    if re.search(r"\(AMD64\)|64 bit \(AMD64\)", rep.get("python") or ""):
        return "x86_64"
    return None


def _glibc(rep: CollectEnvReport) -> tuple[Optional[str], Optional[str]]:
    """From "-with-glibc2.35" in the platform, else "Libc version" when plausible: on some
    static Pythons platform.libc_ver() reports symbol versions such as glibc-2.2.5 or 2.9."""
    m = re.search(r"-with-glibc(\d+\.\d+)", rep.get("python_platform") or "")
    if m:
        return "glibc", m.group(1)
    libc, version = psys.parse_glibc(rep.get("libc"))
    if libc == "glibc" and version and tuple(int(x) for x in version.split(".")[:2]) < (2, 12):
        return None, None
    return libc, version


def _os(rep: CollectEnvReport) -> OSInfo:
    system = _system(rep)
    os_line = rep.get("os")
    name = (
        re.sub(r"\s*\((x86_64|aarch64|arm64|ppc64le|s390x|AMD64)\)\s*$", "", os_line or "") or None
    )
    machine = _machine(rep, system)
    plat = rep.get("python_platform") or ""
    version = distro = kernel = None
    if system == "Darwin":
        m = re.search(r"(\d+(?:\.\d+)+)", name or plat)
        version, distro = (m.group(1) if m else None), "macos"
    elif system == "Windows":
        m = re.search(r"Windows-\d+-([\d.]+)", plat)
        version, distro = (m.group(1) if m else None), "windows"
    elif system == "Linux":
        m = re.match(r"Linux-(.+?)-(?:x86_64|aarch64|ppc64le|s390x)(?:-|$)", plat)
        kernel = m.group(1) if m else None
        distro = _distro_id(name)
        v = re.search(r"\b(\d+(?:\.\d+)?)", name or "")
        version = v.group(1) if v else None
    libc, libc_version = _glibc(rep) if system == "Linux" else (None, None)
    cpu = " ".join(rep.cpu)
    return OSInfo(
        system=system,
        name=name,
        distro_id=distro,
        version=version,
        kernel=kernel,
        machine=machine,
        libc=libc,
        libc_version=libc_version,
        wsl=psys.is_wsl(None, kernel) if kernel else None,
        rosetta=(machine == "x86_64" and "Apple M" in cpu) if system == "Darwin" and cpu else None,
    )


def _distro_id(name: Optional[str]) -> Optional[str]:
    low = (name or "").lower()
    for needle, distro in (
        ("ubuntu", "ubuntu"),
        ("debian", "debian"),
        ("red hat", "rhel"),
        ("centos", "centos"),
        ("rocky", "rocky"),
        ("alma", "almalinux"),
        ("fedora", "fedora"),
        ("amazon", "amzn"),
        ("suse", "sles"),
        ("arch", "arch"),
        ("alpine", "alpine"),
    ):
        if needle in low:
            return distro
    return None


# --- NVIDIA ------------------------------------------------------------------------------------


def _nvidia(rep: CollectEnvReport, preamble: str) -> Nvidia:
    driver = rep.get("driver")
    found = _DRIVER_FOUND.search(preamble)
    warned_cuda = pnv.cuda_version_from_int(int(found.group(1))) if found else None
    if _absent(driver):
        return Nvidia(status="no-driver", source="report")
    caps = _incompatible_capabilities(preamble)
    gpus = tuple(
        Gpu(
            index=i,
            name=_gpu_name(name),
            compute_capability=_gpu_cc(name) or caps.get(_gpu_name(name)),
        )
        for i, name in rep.gpus
    )
    known = bool(driver or warned_cuda)
    return Nvidia(
        status="ok" if known else "unknown",
        driver_version=driver,
        cuda_driver_version=rep.get("driver_cuda")
        or warned_cuda
        or pnv.max_cuda_for_driver(driver),
        gpus=gpus,
        source="report" if known or gpus else None,
    )


def _gpu_name(text: str) -> str:
    """The model name without torchsetup's " (sm_90, 140 GiB)" suffix."""
    return re.sub(r"\s*\((?:sm_\d+|compute capability)[^)]*\)\s*$", "", text).strip()


def _gpu_cc(text: str) -> Optional[str]:
    m = re.search(r"\(sm_(\d+)(\d)\b", text)
    return f"{m.group(1)}.{m.group(2)}" if m else None


def _incompatible_capabilities(preamble: str) -> dict[str, str]:
    """GPU name -> capability from torch's "... with CUDA capability sm_120 is not compatible"."""
    flat = " ".join(preamble.split())
    out = {}
    for m in _INCOMPATIBLE.finditer(flat):
        cc = m.group("cc")
        out[m.group("name").strip()] = f"{cc[:-1]}.{cc[-1]}"
    return out


def _arch_list_from_warning(preamble: str) -> Optional[tuple[str, ...]]:
    m = _INCOMPATIBLE.search(" ".join(preamble.split()))
    return tuple(m.group("archs").split()) if m else None


# --- toolkit, tools, environment variables -----------------------------------------------------


def _toolkit(rep: CollectEnvReport) -> CudaToolkit:
    raw = rep.fields.get("nvcc")
    if raw is None:
        return CudaToolkit(nvcc_error="not in the report")
    if _absent(raw):
        return CudaToolkit()
    value = rep.get("nvcc")
    if value is None:
        return CudaToolkit(nvcc_error="collect_env could not collect it")
    short = ".".join(value.split(".")[:2])
    return CudaToolkit(nvcc_path="nvcc", nvcc_version=short, nvcc_full_version=value)


def _tools(rep: CollectEnvReport) -> Tools:
    def version(key: str) -> Optional[str]:
        value = rep.get(key)
        return ptk.parse_compiler_version(value) if value and not _absent(value) else None

    return Tools(
        gcc_version=version("gcc"), clang_version=version("clang"), cmake_version=version("cmake")
    )


def _env_vars(rep: CollectEnvReport) -> tuple[tuple[str, str], ...]:
    alloc = rep.get("allocator")
    return (("PYTORCH_CUDA_ALLOC_CONF", alloc),) if alloc and not _absent(alloc) else ()


# --- Python and packages -----------------------------------------------------------------------


def _python(rep: CollectEnvReport) -> Optional[TargetPython]:
    text = rep.get("python")
    torch = _torch(rep)
    if text is None and torch is None and not rep.pip:
        return None
    version = re.match(r"(\d+\.\d+(?:\.\d+)?)", text or "")
    bits = re.search(r"\((\d+)-bit runtime\)", text or "")
    conda_env = bool(re.search(r"conda-forge|Anaconda|Continuum|\bconda\b", text or ""))
    system = _system(rep)
    dists = tuple(Distribution(name=canonical_name(n), version=v) for n, v in rep.pip)
    return TargetPython(
        executable="python",
        chosen_by="report",
        ok=True,
        version=version.group(1) if version else None,
        implementation="cpython",
        bits=int(bits.group(1)) if bits else None,
        platform={"Linux": "linux", "Darwin": "darwin", "Windows": "win32"}.get(system or ""),
        machine=_machine(rep, system),
        env_kind="conda" if conda_env else None,
        distributions=dists,
        distributions_checked=bool(rep.pip) and rep.packages_complete,
        torch=torch,
        # "PyTorch version: N/A" with a complete package list that lacks torch: not installed.
        torch_checked=torch is not None
        or (
            _absent(rep.fields.get("torch")) and _torch_listed(rep) is None and _lists_packages(rep)
        ),
        conda_packages=tuple(
            CondaPackage(name=n, version=v, build=b, channel=c) for n, v, b, c in rep.conda
        )
        if conda_env
        else (),
    )


def _torch(rep: CollectEnvReport) -> Optional[TorchBuild]:
    version = rep.get("torch")
    if version is None or _absent(version):
        pip_torch = next((v for n, v in rep.pip if canonical_name(n) == "torch"), None)
        if pip_torch is None or version is not None:
            return None
        version = pip_torch
    cuda = rep.get("cuda_build")
    hip = rep.get("rocm_build")
    debug = rep.get("debug")
    return TorchBuild(
        version=version,
        # torch 1.0/1.1 printed the toolkit's full version ("9.0.176", "10.0.130").
        cuda=None if cuda is None or _absent(cuda) else ".".join(cuda.split(".")[:2]),
        hip=None if hip is None or _absent(hip) else hip,
        debug=None if debug is None else debug in ("True", "Yes"),
    )


# --- what torch itself said --------------------------------------------------------------------


def _warnings(preamble: str) -> list[str]:
    """Warning and error messages printed around the report (each as one line)."""
    out = []
    for chunk in re.split(r"\n(?=\S*(?:Warning|Error)\b|\S+\.py:\d+:)", preamble):
        flat = " ".join(chunk.split())
        m = _WARNING.search(flat)
        if m and m.group(2):
            out.append(f"{m.group(1)}: {m.group(2)}")
    return out


def _deep(
    rep: CollectEnvReport, preamble: str, python: Optional[TargetPython]
) -> Optional[DeepFacts]:
    if not rep.found:
        return None
    torch = python.torch if python is not None else None
    said = _warnings(preamble)
    init = next((w for w in said if "CUDA initialization" in w or "CUDA unknown error" in w), None)
    numpy = next((w for w in said if "Failed to initialize NumPy" in w), None)
    available = rep.get("cuda_available")
    caps = _incompatible_capabilities(preamble)
    devices = tuple(
        DeepDevice(
            index=i, name=_gpu_name(name), capability=_gpu_cc(name) or caps.get(_gpu_name(name))
        )
        for i, name in rep.gpus
    ) + tuple(
        DeepDevice(index=i, name=re.sub(r"\s*\(gfx[^)]*\)", "", text), arch=_gfx(text))
        for i, text in enumerate(rep.gpu_text)
        if _gfx(text)
    )
    version_na = _absent(rep.fields.get("torch"))
    failure = next(
        (w for w in said if re.match(r"(ImportError|OSError|ModuleNotFoundError)", w)), None
    )
    listed = _torch_listed(rep)
    if version_na and failure is None and listed is not None:
        failure = (
            f"collect_env could not import torch (PyTorch version: N/A) although the package "
            f"list has {listed}"
        )
    elif version_na and failure is None and not _lists_packages(rep):
        failure = (
            "collect_env could not import torch (PyTorch version: N/A): it is not installed in "
            "that Python, or importing it fails"
        )
    return DeepFacts(
        source="collect_env",
        imported=True if torch is not None and not version_na else (False if failure else None),
        error=failure if version_na else None,
        torch_version=torch.version if torch else None,
        cuda_available=None if available is None else available in ("True", "Yes"),
        device_count=len(devices) if available in ("True", "Yes") else None,
        cuda_init_warning=init,
        arch_list=_arch_list_field(rep) or _arch_list_from_warning(preamble),
        libraries=_loaded_libraries(rep),
        devices=devices,
        numpy_error=numpy,
        warnings=tuple(w for w in said if w not in (init, numpy)),
    )


def _torch_listed(rep: CollectEnvReport) -> Optional[str]:
    """torch as the report's package list has it ("torch==2.1.0"), None when it does not."""
    return next(
        (f"{n}=={v}" for n, v in rep.pip if canonical_name(n) == "torch"),
        next((f"{c[0]} {c[1]}" for c in rep.conda if c[0] in ("torch", "pytorch")), None),
    )


def _lists_packages(rep: CollectEnvReport) -> bool:
    """Whether the report's package list is there to say what is (not) installed."""
    return bool(rep.pip or rep.pip_section == "No relevant packages") and rep.packages_complete


def _arch_list_field(rep: CollectEnvReport) -> Optional[tuple[str, ...]]:
    """``CUDA arch list:`` of a torchsetup --report."""
    value = rep.get("arch_list")
    return tuple(value.split()) if value and not _absent(value) else None


def _loaded_libraries(rep: CollectEnvReport) -> Optional[tuple[LoadedLibrary, ...]]:
    """``cuDNN loaded by torch: libcudnn.so.9 from /path; ...`` of a torchsetup --report."""
    value = rep.get("cudnn_loaded")
    if value is None:
        return None
    found = re.findall(r"(\S+) from (\S+)", value)
    return tuple(LoadedLibrary(name=n, path=p) for n, p in found)


def _gfx(text: str) -> Optional[str]:
    m = re.search(r"\((gfx\w+[^)]*)\)", text)
    return m.group(1) if m else None


# --- any paste ---------------------------------------------------------------------------------

# What each kind of signal is evidence for, as the key of the reading's evidence map.
_CUDA_LOCAL = re.compile(r"\+cu(\d+)(\d)$")


@dataclass(frozen=True)
class PasteReading:
    """A paste read as facts: the Environment the rules run on, the line each fact came from
    (``evidence``: fact key -> line; keys are collect_env's field keys, ``gpu:N``, ``pkg:NAME``,
    ``smi``, ``smi:gpu:N`` and ``signal:KIND``), the formats found, and what it could not say."""

    env: Environment
    evidence: dict[str, str]
    formats: tuple[str, ...]
    notes: tuple[str, ...]
    signals: tuple[Signal, ...]

    @property
    def usable(self) -> bool:
        return bool(self.formats)


def read_paste(text: str, source: str) -> PasteReading:
    """Read a whole paste (decoded text): collect_env of any era, tracebacks and error text,
    nvidia-smi, pip list/freeze, conda list, in any combination."""
    lines = [ln.strip() for ln in clean_lines(text)]
    rep = parse_lines(lines)
    paste = parse_paste(lines, skip=range(*rep.span))
    formats: list[str] = []
    # A lone "Python version: ..." printed by some launcher is not a collect_env report.
    is_report = rep.found and ("torch" in rep.fields or len(rep.fields) >= 3)
    if is_report:
        formats.append(_collect_env_format(rep, lines))
    formats += paste.formats
    env = (
        environment_from_parsed(rep, source)
        if rep.found
        else Environment(source=f"report:{source}")
    )
    env = _with_smi(env, paste)
    env = _with_packages(env, rep, paste)
    env = _with_signals(env, rep, paste)
    evidence = _evidence(rep, paste)
    notes = _notes(rep, paste, env) if is_report else _notes(CollectEnvReport(), paste, env)
    return PasteReading(
        env=env,
        evidence=evidence,
        formats=tuple(formats),
        notes=tuple(notes),
        signals=tuple(paste.signals),
    )


def _collect_env_format(rep: CollectEnvReport, lines: list[str]) -> str:
    head = lines[rep.span[0] : rep.span[1]]
    if any(ln == "System Info" for ln in head):
        return "collect_env (sectioned)"
    # torch 1.x printed Yes/No where 2.x prints True/False, and "[pip]" lines before "[pip3]".
    if any(re.match(r"(Is debug build|Is CUDA available): (Yes|No)$", ln) for ln in head) or any(
        ln.startswith("[pip]") for ln in head
    ):
        return "collect_env (1.x)"
    return "collect_env"


def _with_smi(env: Environment, paste: Paste) -> Environment:
    smi = paste.smi
    nv = env.nvidia
    if paste.first("nvml-mismatch") and nv.status in ("unknown", "ok"):
        said = paste.first("nvml-mismatch")
        return replace(
            env,
            nvidia=replace(
                nv, status="mismatch", smi_error=said.text if said else None, source="report"
            ),
        )
    if smi is None:
        if paste.first("smi-no-driver") and nv.status == "unknown":
            said = paste.first("smi-no-driver")
            return replace(
                env,
                nvidia=replace(
                    nv, status="not-loaded", smi_error=said.text if said else None, source="report"
                ),
            )
        return env
    gpus = nv.gpus or tuple(Gpu(index=i, name=name) for i, name in smi.gpus)
    return replace(
        env,
        nvidia=replace(
            nv,
            status="ok",
            driver_version=nv.driver_version or smi.driver,
            cuda_driver_version=nv.cuda_driver_version
            or smi.cuda
            or pnv.max_cuda_for_driver(smi.driver),
            gpus=gpus,
            source="report",
        ),
    )


def _with_packages(env: Environment, rep: CollectEnvReport, paste: Paste) -> Environment:
    """pip list / freeze / conda list: the distributions (and torch) a report lacks."""
    if not paste.packages:
        return env
    py = env.python
    if py is not None and py.distributions and py.distributions_checked:
        return env
    conda = paste.package_format == "conda list"
    dists = tuple(
        Distribution(name=canonical_name(p.name), version=p.version)
        for p in paste.packages
        if not conda or p.channel in ("pypi", None) or p.build == "pypi_0"
    )
    conda_pkgs = (
        tuple(
            CondaPackage(name=p.name, version=p.version, build=p.build, channel=p.channel)
            for p in paste.packages
        )
        if conda
        else ()
    )
    torch = py.torch if py is not None else None
    if torch is None:
        torch = _torch_from_packages(paste)
    # A list is sorted by name: one cut off before "torch" cannot say torch is absent.
    past_torch = any(canonical_name(p.name) > "torch" for p in paste.packages)
    base = py or TargetPython(executable="python", chosen_by="report", ok=True)
    return replace(
        env,
        python=replace(
            base,
            distributions=dists if not (py and py.distributions) else py.distributions,
            distributions_checked=True,
            torch=torch,
            torch_checked=torch is not None or past_torch,
            env_kind="conda" if conda else base.env_kind,
            conda_packages=conda_pkgs or base.conda_packages,
        ),
    )


def _torch_from_packages(paste: Paste) -> Optional[TorchBuild]:
    for p in paste.packages:
        name = canonical_name(p.name)
        if name == "torch":
            m = _CUDA_LOCAL.search(p.version)
            return TorchBuild(version=p.version, cuda=f"{m.group(1)}.{m.group(2)}" if m else None)
        if name == "pytorch" and p.build:
            cuda = conda_build_cuda(p.build)
            if cuda is None:
                return None  # a build string that says neither: the variant is unknown
            return TorchBuild(version=p.version, cuda=cuda or None)
    return None


def conda_build_cuda(build: str) -> Optional[str]:
    """The CUDA of a conda pytorch build string, "" for a CPU build, None when it says neither:
    py3.10_cuda12.1_cudnn8.9.2_0 -> 12.1, cuda118_py310h... (conda-forge) -> 11.8,
    py36_4cu75 (0.x) -> 7.5, py3.10_cpu_0 / cpu_mkl_py310h... -> ""."""
    m = re.search(r"cuda(\d+)\.(\d+)", build)
    if m:
        return f"{m.group(1)}.{m.group(2)}"
    m = re.search(r"cuda_?(\d{2,3})(?!\d)", build) or re.search(
        r"(?<![a-z])cu(\d{2,3})(?!\d)", build
    )
    if m:
        digits = m.group(1)
        return f"{digits[:-1]}.{digits[-1]}"
    return "" if "cpu" in build else None


def _with_signals(env: Environment, rep: CollectEnvReport, paste: Paste) -> Environment:
    """Error text becomes what torch said: ``deep.warnings`` (and ``deep.error`` when the
    traceback is ``import torch`` failing), the driver's CUDA from "found version N", GPUs
    torch called too old."""
    if not paste.signals and not paste.tracebacks:
        return env
    deep = env.deep or DeepFacts(source="paste")
    said = [s.text for s in paste.signals]
    known = set(deep.warnings) | {
        deep.error or "",
        deep.cuda_init_warning or "",
        deep.numpy_error or "",
    }
    new = tuple(t for t in dict.fromkeys(said) if not any(t in k or k in t for k in known if k))
    import_failure = _torch_import_failure(paste)
    nv = env.nvidia
    found = paste.first("driver-too-old")
    if found and found.value("found") and not nv.cuda_driver_version:
        nv = replace(
            nv, cuda_driver_version=pnv.cuda_version_from_int(int(found.value("found") or 0))
        )
    no_driver = paste.first("no-driver")
    if no_driver and nv.status == "unknown":
        nv = replace(nv, status="no-driver", source="report")
    devices = deep.devices
    for s in paste.signals:
        if s.kind == "gpu-too-old" and not devices and s.value("cc"):
            devices = (
                DeepDevice(
                    index=int(s.value("index") or 0), name=s.value("name"), capability=s.value("cc")
                ),
            )
    unknown = paste.first("cuda-unknown-error")
    os_info = env.os
    if os_info.system is None and paste.first("missing-dll"):
        os_info = replace(
            os_info, system="Windows", distro_id="windows"
        )  # only Windows says WinError
    return replace(
        env,
        os=os_info,
        nvidia=nv,
        deep=replace(
            deep,
            warnings=deep.warnings + new,
            imported=False if import_failure and deep.imported is not True else deep.imported,
            error=deep.error or import_failure,
            devices=devices,
            cuda_init_warning=deep.cuda_init_warning or (unknown.text if unknown else None),
        ),
    )


def _torch_import_failure(paste: Paste) -> Optional[str]:
    """The exception of a traceback raised while importing torch itself."""
    for tb in paste.tracebacks:
        if any(re.search(r"[/\\]torch[/\\]__init__\.py$", f) for f in tb.frames):
            return tb.exception
    return None


def _evidence(rep: CollectEnvReport, paste: Paste) -> dict[str, str]:
    out = dict(rep.field_lines)
    out.update({f"pkg:{canonical_name(n)}": ln for n, ln in rep.package_lines.items()})
    for p in paste.packages:
        out.setdefault(f"pkg:{canonical_name(p.name)}", p.line)
    if paste.smi is not None and paste.smi.lines:
        out.setdefault("smi", paste.smi.lines[0])
        for (i, _), line in zip(paste.smi.gpus, paste.smi.lines[1:]):
            out.setdefault(f"smi:gpu:{i}", line)
    for s in paste.signals:
        out.setdefault(f"signal:{s.kind}", s.text)
    for tb in paste.tracebacks:
        out.setdefault("traceback", tb.exception)
    for i, line in enumerate(rep.preamble):
        if _WARNING.search(line):
            out.setdefault(f"warning:{i}", line)
    return out


# Checks that need the package list ([pip3]/[conda] lines) and the rules they feed.
_PACKAGE_CHECKS = "companion versions (TS011), NumPy (TS027), duplicate torch (TS010)"


def _notes(rep: CollectEnvReport, paste: Paste, env: Environment) -> list[str]:
    """What the paste cannot tell: where a report was cut and which checks that disabled,
    a traceback without its exception line, collect_env's own crash."""
    notes = []
    if rep.found and not rep.packages_complete and not paste.packages:
        last = rep.last_line or "?"
        missing = []
        if "os" not in rep.fields:
            missing.append("the OS and Python (glibc, macOS and Python checks)")
        if "driver" not in rep.fields and paste.smi is None:
            missing.append("the driver (driver checks)")
        missing.append(f"the package list ({_PACKAGE_CHECKS})")
        notes.append(
            f"the report is cut off after {last!r}: not known: " + "; ".join(missing) + "."
        )
    for tb in paste.tracebacks:
        if tb.exception.startswith("(cut off"):
            notes.append(
                "a traceback is cut off before its exception line: its cause is not known."
            )
        elif any("collect_env" in f for f in tb.frames) and not rep.found:
            notes.append(
                f"collect_env itself crashed ({tb.exception}); paste `pip list` and `nvidia-smi` "
                "output instead."
            )
    return notes
