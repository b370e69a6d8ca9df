"""Probe the NVIDIA driver stack.

Order: NVML (nvidia-ml-py), then libcuda's ``cuDriverGetVersion`` and ``nvidia-smi --query-gpu``
when NVML gave nothing. /proc/driver/nvidia and the PCI bus are always read (cheap files): they
tell "no GPU" from "GPU without a loaded driver" and catch a kernel module that differs from
the user-space library (the "Driver/library version mismatch" after an upgrade).

NVML and libcuda are loaded in torchsetup's own process: each call runs in a daemon thread
joined with the probe's deadline (ctypes releases the GIL while the driver is called), so a
wedged driver is a record that says it did not answer, never a hung doctor.
"""

from __future__ import annotations

import glob
import os
import shutil
import sys
import threading
import time
from typing import Any, Callable, Optional

from torchsetup import proc
from torchsetup.detect.parse.nvidia import SMI_QUERY_FIELDS, rejected_smi_field
from torchsetup.detect.probes.record import ProbeRecord, timed

WSL_LIB = "/usr/lib/wsl/lib"
LD_SO_CACHE = "/etc/ld.so.cache"


def probe_all(*, timeout: float) -> list[ProbeRecord]:
    hints = _driver_hints() if sys.platform.startswith("linux") else {}
    records = [
        timed("nvidia-proc", _proc_files),
        timed("pci", _pci_devices),
        timed("nvml", lambda: _with_deadline("NVML", lambda: _nvml(hints), timeout, hints)),
    ]
    nvml = records[-1]
    if not (nvml.ok and nvml.data.get("count") is not None):
        # no driver at all: nothing to load; NVML hung: libcuda is the same wedged driver
        if (not hints or any(hints.values())) and not nvml.data.get("timed_out"):
            records.append(
                timed("libcuda", lambda: _with_deadline("libcuda", _libcuda, timeout, {}))
            )
        records.append(timed("nvidia-smi", lambda: _smi(timeout)))
    return records


def _with_deadline(
    what: str, body: Callable[[], dict[str, Any]], timeout: float, extra: dict[str, Any]
) -> dict[str, Any]:
    """``body()`` in a daemon thread joined for ``timeout`` seconds. A driver call that does not
    return (a wedged GPU, a hung kernel module) leaves the thread behind, blocked in C with the
    GIL released, and the probe reports it as timed out; an exception is re-raised here (the
    caller's :func:`timed` records it)."""
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["data"] = body()
        except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
            box["exc"] = exc

    worker = threading.Thread(target=work, name=f"probe-{what}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        return {
            **extra,
            "timed_out": True,
            "_error": f"{what} did not answer within {timeout:g} s: the NVIDIA driver is wedged "
            "(a hung GPU or kernel module)",
        }
    if "exc" in box:
        raise box["exc"]
    data: dict[str, Any] = box["data"]
    return data


def _read(path: str) -> Optional[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return None


def _proc_files() -> dict[str, Any]:
    data: dict[str, Any] = {"version": _read("/proc/driver/nvidia/version")}
    gpus = {}
    for info in sorted(glob.glob("/proc/driver/nvidia/gpus/*/information")):
        text = _read(info)
        if text is not None:
            gpus[os.path.basename(os.path.dirname(info))] = text
    data["gpus"] = gpus
    return data


def _pci_devices() -> dict[str, Any]:
    """NVIDIA (0x10de) display/3D controllers on the PCI bus (Linux sysfs)."""
    base = "/sys/bus/pci/devices"
    if not os.path.isdir(base):
        return {"available": False}
    devices = []
    for dev in sorted(os.listdir(base)):
        vendor = (_read(os.path.join(base, dev, "vendor")) or "").strip()
        if vendor != "0x10de":
            continue
        klass = (_read(os.path.join(base, dev, "class")) or "").strip()
        if klass.startswith(("0x0300", "0x0302", "0x0380")):
            devices.append(
                {
                    "bus": dev,
                    "class": klass,
                    "device": (_read(os.path.join(base, dev, "device")) or "").strip(),
                }
            )
    return {"available": True, "devices": devices}


def _driver_hints() -> dict[str, bool]:
    """Cheap signs that an NVIDIA user-space driver exists, so NVML is worth loading."""
    cache = b""
    try:
        with open(LD_SO_CACHE, "rb") as fh:
            cache = fh.read()
    except OSError:
        pass
    return {
        "proc_driver": os.path.isdir("/proc/driver/nvidia"),
        "dev_nvidiactl": os.path.exists("/dev/nvidiactl"),
        "dev_nvidia": bool(glob.glob("/dev/nvidia[0-9]*")),
        "wsl_lib": os.path.isfile(os.path.join(WSL_LIB, "libnvidia-ml.so.1")),
        "ldcache_nvml": b"libnvidia-ml.so.1" in cache,
        "ldcache_libcuda": b"libcuda.so.1" in cache,
        "ld_library_path": _on_ld_library_path("libnvidia-ml.so.1", "libcuda.so.1"),
    }


def _on_ld_library_path(*names: str) -> bool:
    """One of ``names`` in a folder of LD_LIBRARY_PATH (where the loader looks first)."""
    for folder in os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep):
        if folder and any(os.path.isfile(os.path.join(folder, n)) for n in names):
            return True
    return False


def _nvml(hints: dict[str, bool]) -> dict[str, Any]:
    if hints and not any(hints.values()):
        return {
            "hints": hints,
            "_error": "NVML library not found (no libnvidia-ml.so.1 in the "
            "linker cache, no /proc/driver/nvidia): no NVIDIA driver installed",
        }
    started = time.perf_counter()
    try:
        import pynvml
    except ImportError as exc:
        return {"hints": hints, "_error": f"nvidia-ml-py not importable: {exc}"}
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        return {"hints": hints, "_error": f"NVML init failed: {_nvml_error(exc)}"}
    try:
        data: dict[str, Any] = {"hints": hints, "init_s": time.perf_counter() - started}
        data["driver"] = _text(pynvml.nvmlSystemGetDriverVersion())
        data["nvml_version"] = _try(lambda: _text(pynvml.nvmlSystemGetNVMLVersion()))
        data["cuda_driver_version"] = _try(pynvml.nvmlSystemGetCudaDriverVersion_v2) or _try(
            pynvml.nvmlSystemGetCudaDriverVersion
        )
        count = pynvml.nvmlDeviceGetCount()
        data["count"] = count
        data["gpus"] = [_nvml_gpu(pynvml, i) for i in range(count)]
        data["total_s"] = time.perf_counter() - started
        return data
    except pynvml.NVMLError as exc:
        return {"hints": hints, "_error": f"NVML query failed: {_nvml_error(exc)}"}
    finally:
        _try(pynvml.nvmlShutdown)


def _nvml_gpu(pynvml: Any, index: int) -> dict[str, Any]:
    h = pynvml.nvmlDeviceGetHandleByIndex(index)
    mem = _try(lambda: pynvml.nvmlDeviceGetMemoryInfo(h))
    pci = _try(lambda: pynvml.nvmlDeviceGetPciInfo(h))
    mig = _try(lambda: pynvml.nvmlDeviceGetMigMode(h))
    cc = _try(lambda: pynvml.nvmlDeviceGetCudaComputeCapability(h))
    ecc = _try(lambda: pynvml.nvmlDeviceGetEccMode(h))  # (current, pending); fails without ECC
    return {
        "name": _text(pynvml.nvmlDeviceGetName(h)),
        "cc": list(cc) if cc else None,
        "mem_total": getattr(mem, "total", None),
        "mem_used": getattr(mem, "used", None),
        "uuid": _try(lambda: _text(pynvml.nvmlDeviceGetUUID(h))),
        "pci": _text(getattr(pci, "busId", "")) or None if pci else None,
        "mig": list(mig) if mig else None,
        "ecc": list(ecc) if ecc else None,
    }


def _nvml_error(exc: Exception) -> str:
    text = str(exc)
    return text if text else type(exc).__name__


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _try(fn: Any) -> Any:
    try:
        return fn()
    except Exception:  # noqa: BLE001 - optional NVML fields differ per driver/GPU
        return None


def _libcuda() -> dict[str, Any]:
    import ctypes

    if sys.platform == "darwin":
        return {"_error": "no CUDA driver on macOS"}
    names = ["nvcuda.dll"] if os.name == "nt" else ["libcuda.so.1"]
    if os.path.isfile(os.path.join(WSL_LIB, "libcuda.so.1")):
        names.append(os.path.join(WSL_LIB, "libcuda.so.1"))
    last = "not found"
    for name in names:
        try:
            lib = ctypes.CDLL(name)
        except OSError as exc:
            last = str(exc)
            continue
        version = ctypes.c_int(0)
        rc = lib.cuDriverGetVersion(ctypes.byref(version))
        if rc != 0:
            return {"library": name, "rc": rc, "_error": f"cuDriverGetVersion returned {rc}"}
        return {"library": name, "rc": 0, "version": version.value}
    return {"_error": f"libcuda not loadable: {last}"}


def _smi_path() -> Optional[str]:
    found = shutil.which("nvidia-smi")
    if found or os.name != "nt":
        return found
    for cand in (
        r"C:\Windows\System32\nvidia-smi.exe",
        r"C:\Program Files\NVIDIA Corporation\NVSMI\nvidia-smi.exe",
    ):
        if os.path.isfile(cand):
            return cand
    return None


def _smi(timeout: float) -> dict[str, Any]:
    """``nvidia-smi --query-gpu=...``; a field the driver rejects (pre-R510 nvidia-smi has no
    ``compute_cap``: 'Field "compute_cap" is not a valid field to query.', exit 2) is dropped and
    the query retried, so driver, GPUs and the rest are still found. One deadline for all tries."""
    exe = _smi_path()
    if exe is None:
        return {"path": None, "_error": "nvidia-smi not found"}
    deadline = time.monotonic() + timeout
    fields = list(SMI_QUERY_FIELDS)
    rejected: list[str] = []
    while True:
        left = max(0.5, deadline - time.monotonic())
        res = proc.run([exe, "--query-gpu=" + ",".join(fields), "--format=csv"], timeout=left)
        field = None if res.ok or res.timed_out else rejected_smi_field(res.stdout + res.stderr)
        if field is None or field not in fields or len(fields) <= 1:
            break
        fields.remove(field)
        rejected.append(field)
        if time.monotonic() >= deadline:
            break
    data: dict[str, Any] = {
        "path": exe,
        "stdout": res.stdout,
        "stderr": res.stderr,
        "returncode": res.returncode,
        "timed_out": res.timed_out,
        "fields": fields,
        "rejected_fields": rejected,
    }
    if not res.ok:
        data["_error"] = f"nvidia-smi failed: {res.describe_failure()}"
    return data
