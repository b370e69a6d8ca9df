"""Probe AMD (ROCm), Intel (XPU) and Jetson (Tegra) GPUs.

Cheap files first (the KFD topology, the PCI bus, /opt/rocm/.info/version, /etc/nv_tegra_release,
the device tree), then the vendor tools that are on PATH (amd-smi, rocm-smi, rocminfo,
rocm_agent_enumerator, xpu-smi, sycl-ls), all within one deadline. Nothing here raises: a
missing tool or a failed run is recorded, and the builder turns the raw text into facts.
"""

from __future__ import annotations

import glob
import os
import shutil
import sys
import time
from typing import Any, Optional

from torchsetup import proc
from torchsetup.detect.probes.record import ProbeRecord, timed

KFD_NODES = "/sys/class/kfd/kfd/topology/nodes"
PCI_DEVICES = "/sys/bus/pci/devices"
ROCM_VERSION_FILES = ("/opt/rocm/.info/version", "/opt/rocm/.info/version-dev")
TEGRA_RELEASE = "/etc/nv_tegra_release"
DEVICE_TREE_MODELS = ("/proc/device-tree/model", "/sys/firmware/devicetree/base/model")
LD_SO_CACHE = "/etc/ld.so.cache"
LEVEL_ZERO_LIBS = (b"libze_loader.so.1", b"libze_intel_gpu.so.1")

AMD_TOOLS = (
    ("amd-smi", ("list", "--json")),
    ("rocm-smi", ("--showproductname", "--json")),
    ("rocminfo", ()),
    ("rocm_agent_enumerator", ()),
)
INTEL_TOOLS = (("xpu-smi", ("discovery",)), ("sycl-ls", ()))


def probe_all(*, timeout: float) -> list[ProbeRecord]:
    if not sys.platform.startswith("linux"):
        return []
    deadline = time.monotonic() + timeout
    return [
        timed("amd", lambda: _amd(deadline)),
        timed("intel", lambda: _intel(deadline)),
        timed("jetson", _jetson),
    ]


def _read(path: str, limit: int = 1 << 20) -> Optional[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read(limit)
    except OSError:
        return None


def pci_display_devices(vendor: str) -> dict[str, Any]:
    """Display (0x03xx) and processing-accelerator (0x12xx) devices of ``vendor`` on the PCI bus."""
    if not os.path.isdir(PCI_DEVICES):
        return {"available": False, "devices": []}
    devices = []
    for dev in sorted(os.listdir(PCI_DEVICES)):
        base = os.path.join(PCI_DEVICES, dev)
        if (_read(os.path.join(base, "vendor")) or "").strip() != vendor:
            continue
        klass = (_read(os.path.join(base, "class")) or "").strip()
        if klass.startswith(("0x03", "0x12")):
            device = (_read(os.path.join(base, "device")) or "").strip()
            devices.append({"bus": dev, "class": klass, "device": device})
    return {"available": True, "devices": devices}


def _tool(name: str, args: tuple[str, ...], deadline: float, extra: tuple[str, ...] = ()) -> Any:
    exe = shutil.which(name) or next(
        (p for d in extra if os.access(p := os.path.join(d, name), os.X_OK)), None
    )
    if exe is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        return {"path": exe, "error": "skipped: the probe deadline passed"}
    res = proc.run([exe, *args], timeout=left)
    out: dict[str, Any] = {
        "path": exe,
        "returncode": res.returncode,
        "stdout": res.stdout[:200_000],
    }
    if not res.ok:
        out["error"] = res.describe_failure()
        out["stderr"] = res.stderr[:4000]
    return out


def _groups() -> dict[str, Any]:
    try:
        import grp

        names = sorted({grp.getgrgid(g).gr_name for g in os.getgroups()})
    except (ImportError, KeyError, OSError):
        names = None
    return {"uid": os.getuid() if hasattr(os, "getuid") else None, "groups": names}


def _amd(deadline: float) -> dict[str, Any]:
    nodes = {}
    for path in sorted(glob.glob(os.path.join(KFD_NODES, "*", "properties"))):
        text = _read(path)
        if text is not None:
            nodes[os.path.basename(os.path.dirname(path))] = text
    data: dict[str, Any] = {
        "kfd_nodes": nodes,
        "dev_kfd": os.path.exists("/dev/kfd"),
        "dev_kfd_rw": os.access("/dev/kfd", os.R_OK | os.W_OK),
        "pci": pci_display_devices("0x1002"),
        **_groups(),
    }
    rocm_path = os.environ.get("ROCM_PATH")
    for path in (
        *((os.path.join(rocm_path, ".info", "version"),) if rocm_path else ()),
        *ROCM_VERSION_FILES,
    ):
        text = _read(path)
        if text is not None:
            data["rocm_version_file"] = {"path": path, "text": text[:200]}
            break
    extra = tuple(d for d in (os.path.join(rocm_path or "/opt/rocm", "bin"),) if os.path.isdir(d))
    found = bool(nodes) or bool(data["pci"]["devices"])
    data["tools"] = {}
    for name, args in AMD_TOOLS:
        # the tools are slow (rocminfo initialises the runtime): only where an AMD GPU may be
        if not found and name in ("rocminfo", "amd-smi") and not shutil.which(name):
            continue
        result = _tool(name, args, deadline, extra)
        if result is not None:
            data["tools"][name] = result
    if os.path.isdir("/opt/rocm") or rocm_path:
        hipconfig = _tool("hipconfig", ("--version",), deadline, extra)
        if hipconfig is not None:
            data["tools"]["hipconfig"] = hipconfig
    return data


def _level_zero() -> Optional[bool]:
    try:
        with open(LD_SO_CACHE, "rb") as fh:
            cache = fh.read()
    except OSError:
        cache = b""
    if any(lib in cache for lib in LEVEL_ZERO_LIBS):
        return True
    for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib"):
        if any(os.path.exists(os.path.join(d, lib.decode())) for lib in LEVEL_ZERO_LIBS):
            return True
    return False if cache else None


def _intel(deadline: float) -> dict[str, Any]:
    data: dict[str, Any] = {"pci": pci_display_devices("0x8086"), "level_zero": _level_zero()}
    data["tools"] = {}
    for name, args in INTEL_TOOLS:
        result = _tool(name, args, deadline)
        if result is not None:
            data["tools"][name] = result
    return data


def _jetson() -> dict[str, Any]:
    data: dict[str, Any] = {"nv_tegra_release": _read(TEGRA_RELEASE, 4000)}
    for path in DEVICE_TREE_MODELS:
        text = _read(path, 400)
        if text is not None:
            data["model"] = text
            break
    return data
