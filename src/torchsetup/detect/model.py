"""The Environment: every fact torchsetup knows about a machine, as frozen dataclasses.

Built by :func:`torchsetup.detect.build.build_environment` (pure) from raw probe records, so it can
come from this machine, from a saved snapshot, or from a pasted collect_env report. ``None``
always means *unknown* (not probed, or the probe failed); absence is spelled out explicitly
(an empty tuple of GPUs with ``status="no-driver"``, ``torch=None`` with ``torch_checked=True``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Optional

from torchsetup.records import Record, from_jsonable, to_jsonable


@dataclass(frozen=True, eq=False, repr=False)
class DiskSpace(Record):
    label: str  # "site-packages", "pip cache", "TMPDIR"
    path: str
    free_bytes: Optional[int] = None
    total_bytes: Optional[int] = None


@dataclass(frozen=True, eq=False, repr=False)
class OSInfo(Record):
    _derived = ("platform_key",)
    system: Optional[str] = None  # "Linux" | "Darwin" | "Windows"
    name: Optional[str] = None  # "Ubuntu 24.04.3 LTS", "macOS 14.5", "Windows 11"
    distro_id: Optional[str] = None  # "ubuntu", "debian", ...
    version: Optional[str] = None  # "24.04", "14.5", "10.0.22631"
    kernel: Optional[str] = None
    machine: Optional[str] = None  # normalised: "x86_64", "aarch64", "arm64"
    libc: Optional[str] = None  # "glibc" | "musl" | None
    libc_version: Optional[str] = None
    wsl: Optional[bool] = None
    wsl_libcuda: Optional[str] = None  # /usr/lib/wsl/lib/libcuda.so.1 when present
    container: Optional[str] = None  # "docker", "podman", "kubernetes", "containerd", "lxc", ...
    rosetta: Optional[bool] = None  # x86_64 Python translated on Apple silicon
    hostname: Optional[str] = None
    # Windows: VC++ runtime DLLs torch needs that System32 lacks; () = all there, None = unchecked
    vc_runtime_missing: Optional[tuple[str, ...]] = None
    # WSL: a Linux NVIDIA driver library installed inside WSL (it must come from Windows)
    wsl_linux_driver: Optional[str] = None

    @property
    def platform_key(self) -> Optional[str]:
        """The compatibility-matrix platform: linux-x86_64, linux-aarch64, macos-arm64, ..."""
        if not self.system or not self.machine:
            return None
        system = {"Linux": "linux", "Darwin": "macos", "Windows": "windows"}.get(self.system)
        if system is None:
            return None
        machine = self.machine
        if system == "macos" and machine == "aarch64":
            machine = "arm64"
        if system == "linux" and machine == "arm64":
            machine = "aarch64"
        if system == "windows" and machine in ("AMD64", "amd64"):
            machine = "x86_64"
        return f"{system}-{machine}"


@dataclass(frozen=True, eq=False, repr=False)
class Resources(Record):
    logical_cpus: Optional[int] = None
    physical_cores: Optional[int] = None
    memory_total_bytes: Optional[int] = None
    memory_available_bytes: Optional[int] = None
    disks: tuple[DiskSpace, ...] = ()
    shm_bytes: Optional[int] = None  # /dev/shm size (NCCL and DataLoader workers need it)


@dataclass(frozen=True, eq=False, repr=False)
class Gpu(Record):
    _derived = ("sm",)
    index: int
    name: str
    compute_capability: Optional[str] = None  # "9.0"
    memory_total_bytes: Optional[int] = None
    uuid: Optional[str] = None
    pci_bus_id: Optional[str] = None
    mig_enabled: Optional[bool] = None
    ecc_enabled: Optional[bool] = None  # NVML's current ECC mode; None: unknown or no ECC

    @property
    def sm(self) -> Optional[str]:
        """sm_90 style name of the compute capability."""
        if not self.compute_capability:
            return None
        major, _, minor = self.compute_capability.partition(".")
        return f"sm_{major}{minor or '0'}"


@dataclass(frozen=True, eq=False, repr=False)
class Nvidia(Record):
    """What the NVIDIA driver stack says.

    ``status``: "ok" (driver answers), "no-driver" (no kernel module, no libcuda, no
    nvidia-smi), "not-loaded" (an NVIDIA PCI device or user-space library but no loaded
    kernel module), "mismatch" (NVML: Driver/library version mismatch), "error" (the driver
    is there but failed), "unknown" (not probed).
    """

    status: str = "unknown"
    driver_version: Optional[str] = None
    cuda_driver_version: Optional[str] = None  # max CUDA the driver supports, "13.0"
    gpus: tuple[Gpu, ...] = ()
    source: Optional[str] = None  # "nvml", "libcuda", "nvidia-smi", "proc"
    nvml_version: Optional[str] = None
    kernel_module_version: Optional[str] = None  # /proc/driver/nvidia/version
    nvml_error: Optional[str] = None
    smi_error: Optional[str] = None
    libcuda_error: Optional[str] = None
    pci_nvidia_devices: Optional[int] = None  # NVIDIA display/3D controllers on the PCI bus
    cuda_visible_devices: Optional[str] = None  # raw value; None = unset
    errors: tuple[str, ...] = ()
    # signs of an installed, loaded driver besides nvidia-smi ("/proc/driver/nvidia/version",
    # "/dev/nvidia*", "libnvidia-ml loads", "libcuda loads")
    driver_signs: tuple[str, ...] = ()
    smi_broken: Optional[str] = None  # nvidia-smi crashed, hung or printed garbage: how
    hung: tuple[str, ...] = ()  # in-process driver calls that did not answer ("NVML", "libcuda")
    table_problems: tuple[str, ...] = ()  # the GPU table contradicts itself (duplicates, ...)

    @property
    def has_gpu(self) -> bool:
        return bool(self.gpus) or bool(self.pci_nvidia_devices)


@dataclass(frozen=True, eq=False, repr=False)
class AmdGpu(Record):
    """One AMD GPU: its LLVM target (what ROCm builds ship kernels for) and where it was seen."""

    index: int
    name: Optional[str] = None  # "Radeon RX 7900 XTX"
    gfx: Optional[str] = None  # "gfx1100", "gfx942", "gfx90a"
    pci_bus_id: Optional[str] = None
    device_id: Optional[str] = None  # PCI device id, "0x744c"
    integrated: Optional[bool] = None  # an APU's iGPU (Radeon 780M)


@dataclass(frozen=True, eq=False, repr=False)
class Amd(Record):
    """What the AMD GPU stack says (``Environment.amd``; None there = not probed).

    ``status``: "ok" (GPUs and a ROCm runtime), "no-runtime" (AMD GPUs, no ROCm user space),
    "no-gpu" (no AMD GPU found), "unknown".
    """

    status: str = "unknown"
    gpus: tuple[AmdGpu, ...] = ()
    rocm_version: Optional[str] = None  # "6.4.1", from /opt/rocm/.info/version or HIP
    rocm_source: Optional[str] = None  # the file it came from
    kfd: Optional[bool] = None  # /dev/kfd exists (the amdgpu kernel driver's compute node)
    groups: Optional[tuple[str, ...]] = None  # the user's groups (render/video give GPU access)
    gpu_access: Optional[bool] = None  # root, or in the render/video group, or /dev/kfd is rw
    sources: tuple[str, ...] = ()  # "kfd", "rocminfo", "rocm_agent_enumerator", "pci", ...
    errors: tuple[str, ...] = ()

    @property
    def gfx_targets(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(g.gfx for g in self.gpus if g.gfx))


@dataclass(frozen=True, eq=False, repr=False)
class IntelGpu(Record):
    index: int
    name: Optional[str] = None  # "Intel(R) Arc(TM) A770 Graphics"
    device_id: Optional[str] = None  # "0x56a0"
    pci_bus_id: Optional[str] = None
    integrated: Optional[bool] = None


@dataclass(frozen=True, eq=False, repr=False)
class Intel(Record):
    """Intel GPUs (``Environment.intel``; None = not probed). ``status`` as for :class:`Amd`;
    "no-runtime" = GPUs but no Level Zero runtime (torch's XPU build needs it)."""

    status: str = "unknown"
    gpus: tuple[IntelGpu, ...] = ()
    level_zero: Optional[bool] = None  # libze_loader / libze_intel_gpu found
    sources: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False, repr=False)
class Jetson(Record):
    """An NVIDIA Jetson (Tegra) board (``Environment.jetson``; None = not probed or not one)."""

    model: Optional[str] = None  # /proc/device-tree/model: "NVIDIA Jetson AGX Orin Developer Kit"
    l4t: Optional[str] = None  # "36.4.3", from /etc/nv_tegra_release
    jetpack: Optional[str] = None  # "6", the JetPack major the L4T release belongs to
    compute_capability: Optional[str] = None  # "8.7" (Orin), from the model name
    errors: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False, repr=False)
class LibraryDir(Record):
    path: str
    libraries: tuple[str, ...]  # libcudnn*, libcublas* file names found there


@dataclass(frozen=True, eq=False, repr=False)
class CudaToolkit(Record):
    nvcc_path: Optional[str] = None
    nvcc_version: Optional[str] = None  # "13.0"
    nvcc_full_version: Optional[str] = None  # "13.0.88"
    nvcc_error: Optional[str] = None
    nvcc_output_head: Optional[str] = None  # what an nvcc with no version printed (first line)
    cuda_home: Optional[str] = None  # CUDA_HOME or CUDA_PATH
    cuda_home_var: Optional[str] = None  # which variable set it
    install_dirs: tuple[str, ...] = ()  # /usr/local/cuda*, ...
    ld_library_path: tuple[str, ...] = ()
    ld_library_path_cuda_libs: tuple[LibraryDir, ...] = ()  # dirs holding libcudnn/libcublas


@dataclass(frozen=True, eq=False, repr=False)
class Distribution(Record):
    name: str  # canonical (lower-case, dashes)
    version: str
    location: Optional[str] = None
    requires: tuple[str, ...] = ()
    installer: Optional[str] = None
    wheel_tags: tuple[str, ...] = ()
    direct_url: Optional[str] = None  # PEP 610 direct_url.json text, when installed from a URL

    @property
    def local(self) -> Optional[str]:
        """The local version label: "cu130" in 2.11.0+cu130."""
        _, plus, local = self.version.partition("+")
        return local if plus else None

    @property
    def public_version(self) -> str:
        return self.version.partition("+")[0]


@dataclass(frozen=True, eq=False, repr=False)
class CondaPackage(Record):
    """A package of the target's conda environment (conda-meta/*.json, or a report's [conda])."""

    name: str
    version: str
    build: Optional[str] = None
    channel: Optional[str] = None


@dataclass(frozen=True, eq=False, repr=False)
class TorchBuild(Record):
    """torch as read from its files (torch/version.py, dist-info), without importing it."""

    _derived = ("variant",)

    version: str  # "2.11.0+cu130"
    cuda: Optional[str] = None  # "13.0", None for CPU/ROCm builds
    hip: Optional[str] = None
    xpu: Optional[str] = None
    git_version: Optional[str] = None
    debug: Optional[bool] = None
    location: Optional[str] = None
    requires: tuple[str, ...] = ()
    wheel_tags: tuple[str, ...] = ()
    # torch/version.py of a torch/ package "is missing or unreadable" / "holds no __version__"
    version_py_problem: Optional[str] = None
    # torch/__init__'s .pyc for the target Python: "present", "absent" (the next import writes
    # it), "absent-not-written" (PYTHONDONTWRITEBYTECODE or an unwritable folder: every import
    # compiles again); None: not read (a report, an older snapshot, PYTHONPYCACHEPREFIX)
    bytecode: Optional[str] = None

    @property
    def public_version(self) -> str:
        return self.version.partition("+")[0]

    @property
    def variant(self) -> str:
        """cu130 / cpu / rocm6.2 / xpu, from the build facts (not only the local tag)."""
        local = self.version.partition("+")[2]
        if self.cuda:
            return "cu" + self.cuda.replace(".", "")[:3]
        if self.hip:
            if local.startswith("rocm"):
                return local
            m = re.match(r"(\d+)\.(\d+)", self.hip)
            return f"rocm{m.group(1)}.{m.group(2)}" if m else "rocm"
        if self.xpu or local == "xpu":
            return "xpu"
        return "cpu"


@dataclass(frozen=True, eq=False, repr=False)
class TargetPython(Record):
    """The interpreter torchsetup works on, as its own subprocess probe reported it."""

    executable: str
    chosen_by: Optional[str] = None  # --python, VIRTUAL_ENV, CONDA_PREFIX, PATH
    ok: bool = False
    error: Optional[str] = None  # why the probe failed (not found, crashed, timed out)
    version: Optional[str] = None  # "3.12.3"
    implementation: Optional[str] = None  # "cpython"
    bits: Optional[int] = None
    platform: Optional[str] = None  # sys.platform
    machine: Optional[str] = None
    prefix: Optional[str] = None
    base_prefix: Optional[str] = None
    env_kind: Optional[str] = None  # "venv", "conda", "system", "user"
    externally_managed: Optional[bool] = None
    include_dir: Optional[str] = None
    has_python_h: Optional[bool] = None
    user_site: Optional[str] = None
    user_site_enabled: Optional[bool] = None
    pip_version: Optional[str] = None
    purelib: Optional[str] = None
    sys_path: tuple[str, ...] = ()
    distributions: tuple[Distribution, ...] = ()
    torch: Optional[TorchBuild] = None
    torch_checked: bool = False  # True when the probe looked (so torch=None means absent)
    torch_locations: tuple[str, ...] = ()  # every torch package/dist on sys.path (dups!)
    conda_packages: tuple[CondaPackage, ...] = ()
    distributions_checked: bool = True  # False: the package list is unknown (a cut-off report)
    # what wheel tags need (the target probe's "platform" section; None in older snapshots)
    sysconfig_platform: Optional[str] = None  # "linux-x86_64", "macosx-11.0-arm64", "win-amd64"
    abiflags: Optional[str] = None  # "t" for free-threaded builds
    libc: Optional[str] = None  # "glibc" (the interpreter's own, os.confstr)
    libc_version: Optional[str] = None  # "2.36"
    mac_version: Optional[str] = None  # "14.5"
    all_distributions: bool = False  # True: every distribution was listed, not only torch's kin

    def conda(self, name: str) -> Optional[CondaPackage]:
        return next((c for c in self.conda_packages if c.name == name), None)

    @property
    def version_tuple(self) -> Optional[tuple[int, int]]:
        if not self.version:
            return None
        m = re.match(r"(\d+)\.(\d+)", self.version)
        return (int(m.group(1)), int(m.group(2))) if m else None

    @property
    def minor(self) -> Optional[str]:
        vt = self.version_tuple
        return f"{vt[0]}.{vt[1]}" if vt else None

    def dist(self, name: str) -> Optional[Distribution]:
        key = canonical_name(name)
        for d in self.distributions:
            if d.name == key:
                return d
        return None


@dataclass(frozen=True, eq=False, repr=False)
class Tools(Record):
    """Programs found on PATH (name -> path) and compiler versions."""

    paths: tuple[tuple[str, str], ...] = ()
    gcc_version: Optional[str] = None
    clang_version: Optional[str] = None
    cmake_version: Optional[str] = None

    def path(self, name: str) -> Optional[str]:
        for key, value in self.paths:
            if key == name:
                return value
        return None

    @property
    def cxx_compiler(self) -> Optional[str]:
        for name in ("g++", "c++", "clang++", "cl"):
            p = self.path(name)
            if p:
                return p
        return None


@dataclass(frozen=True, eq=False, repr=False)
class LoadedLibrary(Record):
    """A shared library the target's torch process had mapped (from /proc/self/maps)."""

    name: str  # "libcudnn.so.9"
    path: str  # where it was loaded from


@dataclass(frozen=True, eq=False, repr=False)
class DeepDevice(Record):
    """One accelerator as torch itself saw it (``torch.cuda.get_device_properties``)."""

    index: int
    name: Optional[str] = None
    capability: Optional[str] = None  # "9.0"
    arch: Optional[str] = None  # ROCm gcnArchName, "gfx90a:sramecc+:xnack-"
    tensor_ok: Optional[bool] = None  # a small matmul on it matched the CPU result
    error: Optional[str] = None  # what the tensor check raised


@dataclass(frozen=True, eq=False, repr=False)
class DeepFacts(Record):
    """What only importing torch can tell: ``doctor --deep``, or a pasted collect_env report.

    ``source`` is "deep" (torchsetup imported torch in the target interpreter) or
    "collect_env" (the facts a report printed). ``None`` is unknown, as everywhere.
    """

    source: str = "deep"
    imported: Optional[bool] = None  # import torch worked
    error: Optional[str] = None  # why import torch (or the probe) failed
    import_s: Optional[float] = None
    torch_version: Optional[str] = None
    cuda_available: Optional[bool] = None
    device_count: Optional[int] = None
    cuda_init_warning: Optional[str] = None  # "CUDA initialization: ..." and similar warnings
    arch_list: Optional[tuple[str, ...]] = None  # torch.cuda.get_arch_list()
    cudnn_version: Optional[int] = None  # torch.backends.cudnn.version(): 91900
    cudnn_error: Optional[str] = None
    libraries: Optional[tuple[LoadedLibrary, ...]] = None  # None: not readable on this OS
    devices: tuple[DeepDevice, ...] = ()
    mps_built: Optional[bool] = None
    mps_available: Optional[bool] = None
    numpy_version: Optional[str] = None
    numpy_error: Optional[str] = None  # why tensor <-> numpy interop failed
    warnings: tuple[str, ...] = ()  # other warnings torch printed (NumPy ABI, ...)


@dataclass(frozen=True, eq=False, repr=False)
class ProbeSummary(Record):
    name: str
    ok: bool
    duration_s: float
    error: Optional[str] = None


@dataclass(frozen=True, eq=False, repr=False)
class Environment(Record):
    os: OSInfo = field(default_factory=OSInfo)
    resources: Resources = field(default_factory=Resources)
    nvidia: Nvidia = field(default_factory=Nvidia)
    toolkit: CudaToolkit = field(default_factory=CudaToolkit)
    python: Optional[TargetPython] = None
    tools: Tools = field(default_factory=Tools)
    env_vars: tuple[tuple[str, str], ...] = ()  # the allow-listed variables that are set
    pip_config: tuple[tuple[str, str], ...] = ()  # (file, text with credentials redacted)
    probes: tuple[ProbeSummary, ...] = ()
    source: str = "live"  # "live", "snapshot:<path>", "report:<path>"
    captured_at: Optional[str] = None
    deep: Optional[DeepFacts] = None  # doctor --deep, or what a collect_env report said
    # other GPU vendors (None: not probed, e.g. a snapshot from before they were)
    amd: Optional[Amd] = None
    intel: Optional[Intel] = None
    jetson: Optional[Jetson] = None

    def env(self, name: str) -> Optional[str]:
        for key, value in self.env_vars:
            if key == name:
                return value
        return None


def canonical_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# --- JSON (de)serialisation ------------------------------------------------------------------


def environment_to_dict(env: Environment) -> dict[str, Any]:
    result = to_jsonable(env)
    assert isinstance(result, dict)
    return result


def environment_from_dict(data: dict[str, Any]) -> Environment:
    return from_jsonable(Environment, data, strict=True)  # untrusted: every type checked
