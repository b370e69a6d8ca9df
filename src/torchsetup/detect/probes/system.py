"""Probe the operating system, resources, environment variables, pip config and tools on PATH."""

from __future__ import annotations

import glob
import os
import platform
import shutil
import sys
from typing import Any, Optional

from torchsetup import proc
from torchsetup.detect.probes.record import ProbeRecord, timed
from torchsetup.redact import redact_url_credentials

ENV_ALLOWLIST = (
    "CUDA_VISIBLE_DEVICES",
    "NVIDIA_VISIBLE_DEVICES",
    "CUDA_HOME",
    "CUDA_PATH",
    "CUDA_MODULE_LOADING",
    "LD_LIBRARY_PATH",
    "LD_PRELOAD",
    "PYTORCH_CUDA_ALLOC_CONF",
    "PYTORCH_ALLOC_CONF",
    "TORCH_CUDA_ARCH_LIST",
    "HSA_OVERRIDE_GFX_VERSION",
    "HIP_VISIBLE_DEVICES",
    "ROCR_VISIBLE_DEVICES",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "CONDA_DEFAULT_ENV",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_FIND_LINKS",
    "PIP_CONSTRAINT",
    "PIP_CONFIG_FILE",
    "UV_INDEX_URL",
    "UV_EXTRA_INDEX_URL",
    "UV_TORCH_BACKEND",
    "PYTHONPATH",
    "PYTHONNOUSERSITE",
    "TMPDIR",
    "PIP_CACHE_DIR",
    "XDG_CACHE_HOME",
    "TORCHINDUCTOR_CACHE_DIR",
    "TRITON_CACHE_DIR",
    "CC",
    "CXX",
    "WSL_DISTRO_NAME",
    "SLURM_JOB_ID",
    "KUBERNETES_SERVICE_HOST",
    "container",
    "NCCL_DEBUG",
    "NCCL_P2P_DISABLE",
    "NCCL_IB_DISABLE",
    "OMP_NUM_THREADS",
    "MASTER_ADDR",
    "WORLD_SIZE",
)

TOOLS = (
    "pip",
    "pip3",
    "uv",
    "conda",
    "mamba",
    "micromamba",
    "gcc",
    "g++",
    "c++",
    "clang",
    "clang++",
    "cl",
    "cmake",
    "ninja",
    "git",
    "nvcc",
    "nvidia-smi",
)


def probe_all(*, timeout: float) -> list[ProbeRecord]:
    return [
        timed("platform", _platform),
        timed("resources", _resources),
        timed("env", _env),
        timed("pip-config", _pip_config),
        timed("tools", lambda: _tools(timeout)),
    ]


def _read(path: str, limit: int = 65536) -> Optional[str]:
    """The first ``limit`` bytes of a regular file (a FIFO as pip.conf would block forever)."""
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read(limit).decode("utf-8", errors="replace")
    except OSError:
        return None
    finally:
        os.close(fd)


def _platform() -> dict[str, Any]:
    uname = platform.uname()
    data: dict[str, Any] = {
        "system": uname.system,
        "release": uname.release,
        "version": uname.version,
        "machine": uname.machine,
        "hostname": platform.node(),
    }
    if sys.platform.startswith("linux"):
        data["os_release"] = _read("/etc/os-release") or _read("/usr/lib/os-release")
        data["proc_version"] = _read("/proc/version")
        try:
            data["libc"] = os.confstr("CS_GNU_LIBC_VERSION")
        except (ValueError, OSError):
            data["libc"] = None
        if data["libc"] is None:
            lib, ver = platform.libc_ver()
            data["libc"] = f"{lib} {ver}" if lib else None
        data["dockerenv"] = os.path.exists("/.dockerenv")
        data["containerenv"] = os.path.exists("/run/.containerenv")
        data["cgroup"] = _read("/proc/1/cgroup", 4096)
        data["wsl_libcuda"] = (
            "/usr/lib/wsl/lib/libcuda.so.1"
            if os.path.exists("/usr/lib/wsl/lib/libcuda.so.1")
            else None
        )
        if os.path.isdir("/usr/lib/wsl"):
            data["wsl_linux_driver"] = _linux_driver_in_wsl()
    elif sys.platform == "darwin":
        data["mac_ver"] = platform.mac_ver()[0]
        res = proc.run(["sysctl", "-n", "sysctl.proc_translated"], timeout=5)
        data["proc_translated"] = res.stdout.strip() if res.ok else None
    elif sys.platform == "win32":
        data["win32_ver"] = list(platform.win32_ver())
        system32 = os.path.join(os.environ.get("SystemRoot", r"C:\Windows"), "System32")
        data["vc_runtime_missing"] = [
            dll for dll in VC_RUNTIME_DLLS if not os.path.isfile(os.path.join(system32, dll))
        ]
    return data


# The Microsoft Visual C++ runtime torch's DLLs link against (libomp140: torch 2.4.0 only).
VC_RUNTIME_DLLS = ("vcruntime140.dll", "vcruntime140_1.dll", "msvcp140.dll", "libomp140.x86_64.dll")


def _linux_driver_in_wsl() -> Optional[str]:
    """A libcuda of a Linux NVIDIA driver installed inside WSL (not a link to /usr/lib/wsl)."""
    for pattern in (
        "/usr/lib/x86_64-linux-gnu/libcuda.so*",
        "/usr/lib/aarch64-linux-gnu/libcuda.so*",
    ):
        for path in sorted(glob.glob(pattern)):
            if not os.path.realpath(path).startswith("/usr/lib/wsl/"):
                return path
    return None


def _meminfo() -> dict[str, int]:
    out: dict[str, int] = {}
    for line in (_read("/proc/meminfo") or "").splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            out[key] = int(parts[0]) * 1024
    return out


def _resources() -> dict[str, Any]:
    data: dict[str, Any] = {"logical_cpus": os.cpu_count()}
    if hasattr(os, "sched_getaffinity"):
        data["usable_cpus"] = len(os.sched_getaffinity(0))
    mem = _meminfo() if sys.platform.startswith("linux") else {}
    if mem.get("MemTotal"):
        data["memory_total"] = mem["MemTotal"]
        data["memory_available"] = mem.get("MemAvailable")
        data["physical_cores"] = _linux_physical_cores()
    else:  # macOS, Windows: psutil (imported only here, it is not free)
        import psutil

        vm = psutil.virtual_memory()
        data["memory_total"] = vm.total
        data["memory_available"] = vm.available
        data["physical_cores"] = psutil.cpu_count(logical=False)
    if os.path.isdir("/dev/shm"):
        data["shm_total"] = shutil.disk_usage("/dev/shm").total
    return data


def _linux_physical_cores() -> Optional[int]:
    text = _read("/proc/cpuinfo", 1 << 20)
    if not text:
        return None
    cores = set()
    phys = core = None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "physical id":
            phys = value.strip()
        elif key == "core id":
            core = value.strip()
        elif not line.strip():
            if core is not None:
                cores.add((phys, core))
            phys = core = None
    if core is not None:
        cores.add((phys, core))
    return len(cores) or None


def _env() -> dict[str, Any]:
    out = {}
    for key in ENV_ALLOWLIST:
        value = os.environ.get(key)
        if value is not None:
            out[key] = redact_url_credentials(value)
    return {"vars": out}


def _pip_config_files() -> list[str]:
    home = os.path.expanduser("~")
    files = []
    if os.environ.get("PIP_CONFIG_FILE"):
        files.append(os.environ["PIP_CONFIG_FILE"])
    if os.name == "nt":
        appdata = os.environ.get("APPDATA", "")
        files += [
            r"C:\ProgramData\pip\pip.ini",
            os.path.join(appdata, "pip", "pip.ini"),
            os.path.join(home, "pip", "pip.ini"),
        ]
    else:
        xdg_dirs = os.environ.get("XDG_CONFIG_DIRS", "/etc/xdg").split(":")
        files += [os.path.join(d, "pip", "pip.conf") for d in xdg_dirs]
        files += [
            "/etc/pip.conf",
            os.path.join(home, ".pip", "pip.conf"),
            os.path.join(
                os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config"),
                "pip",
                "pip.conf",
            ),
        ]
    venv = os.environ.get("VIRTUAL_ENV")
    if venv:
        files.append(os.path.join(venv, "pip.ini" if os.name == "nt" else "pip.conf"))
    return files


def _pip_config() -> dict[str, Any]:
    found = {}
    for path in _pip_config_files():
        text = _read(path, 16384)
        if text is not None:
            found[path] = redact_url_credentials(text)
    return {"files": found}


def _tools(timeout: float) -> dict[str, Any]:
    paths = {name: found for name in TOOLS if (found := shutil.which(name))}
    for var, name in (("CONDA_EXE", "conda"), ("MAMBA_EXE", "mamba")):
        exe = os.environ.get(var)
        if name not in paths and exe and os.path.isfile(exe):
            paths[name] = exe
    if "uv" not in paths:  # `pip install uv` into torchsetup's own environment puts it here
        beside = os.path.join(
            os.path.dirname(sys.executable), "uv.exe" if os.name == "nt" else "uv"
        )
        if os.path.isfile(beside):
            paths["uv"] = beside
    data: dict[str, Any] = {"paths": paths}
    if "gcc" in paths:
        res = proc.run([paths["gcc"], "--version"], timeout=timeout)
        data["gcc_version_stdout"] = res.stdout if res.ok else None
    return data


def _tempdir() -> str:
    for var in ("TMPDIR", "TEMP", "TMP"):
        if os.environ.get(var):
            return os.environ[var]
    return os.environ.get("SystemRoot", "C:\\Windows") + "\\Temp" if os.name == "nt" else "/tmp"


def probe_guard(prefix: Optional[str]) -> ProbeRecord:
    """The drift guard's files in the target's prefix (``torchsetup guard``), for doctor."""

    def body() -> dict[str, Any]:
        from torchsetup.guardfile import guard_files

        return {"prefix": prefix, "files": guard_files(prefix) if prefix else {}}

    return timed("guard", body)


def probe_disk(purelib: Optional[str]) -> ProbeRecord:
    def body() -> dict[str, Any]:
        pip_cache = os.environ.get("PIP_CACHE_DIR") or (
            os.path.join(os.environ.get("LOCALAPPDATA", ""), "pip", "Cache")
            if os.name == "nt"
            else os.path.join(
                os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "pip"
            )
        )
        targets = [("site-packages", purelib), ("pip cache", pip_cache), ("TMPDIR", _tempdir())]
        disks: list[dict[str, Any]] = []
        for label, path in targets:
            if not path:
                continue
            probe_path = _existing_parent(path)
            try:
                usage = shutil.disk_usage(probe_path)
            except OSError as exc:
                disks.append({"label": label, "path": path, "error": str(exc)})
                continue
            disks.append({"label": label, "path": path, "free": usage.free, "total": usage.total})
        return {"disks": disks}

    return timed("disk", body)


def _existing_parent(path: str) -> str:
    current = os.path.abspath(path)
    while not os.path.exists(current):
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    return current
