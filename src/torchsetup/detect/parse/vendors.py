"""Parsers for AMD (ROCm), Intel (XPU) and Jetson (Tegra) facts. Pure: text in, data out.

Each is tested on real output under tests/data/probes (with where it came from).
"""

from __future__ import annotations

import json
import re
from typing import Any, Optional

AMD_VENDOR = "0x1002"
INTEL_VENDOR = "0x8086"
NVIDIA_VENDOR = "0x10de"

# --- AMD ---------------------------------------------------------------------------------------

_GFX = re.compile(r"\bgfx(\d{3,4}[a-z]?)\b")


def gfx_from_target_version(value: int) -> Optional[str]:
    """KFD's ``gfx_target_version`` (major*10000 + minor*100 + stepping) as an LLVM target:
    110000 -> gfx1100, 90402 -> gfx942, 90010 -> gfx90a, 0 (a CPU node) -> None."""
    if value <= 0:
        return None
    major, minor, step = value // 10000, (value // 100) % 100, value % 100
    return f"gfx{major}{minor:x}{step:x}"


def parse_kfd_properties(text: str) -> dict[str, int]:
    """``/sys/class/kfd/kfd/topology/nodes/N/properties``: one "key value" per line."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.strip().partition(" ")
        try:
            out[key] = int(value.strip())
        except ValueError:
            continue
    return out


def kfd_gpu(text: str) -> Optional[dict[str, Any]]:
    """A GPU node of the KFD topology ({"gfx", "device_id", "location_id"}), None for a CPU node."""
    props = parse_kfd_properties(text)
    gfx = gfx_from_target_version(props.get("gfx_target_version", 0))
    if gfx is None or not props.get("simd_count"):
        return None
    device = props.get("device_id")
    return {
        "gfx": gfx,
        "device_id": f"0x{device:04x}" if device else None,
        "vendor_id": props.get("vendor_id"),
        "location_id": props.get("location_id"),
    }


def parse_rocm_agent_enumerator(text: str) -> list[str]:
    """One LLVM target per line; gfx000 is the CPU agent."""
    return [
        t
        for line in text.splitlines()
        if (t := line.strip()) and t != "gfx000" and _GFX.fullmatch(t)
    ]


def parse_rocminfo(text: str) -> list[dict[str, Optional[str]]]:
    """The GPU agents of ``rocminfo``: [{"gfx": "gfx1100", "name": "Radeon RX 7900 XTX"}]."""
    agents: list[dict[str, Optional[str]]] = []
    current: dict[str, str] = {}

    def flush() -> None:
        if current.get("Device Type") == "GPU" and _GFX.fullmatch(current.get("Name", "")):
            agents.append({"gfx": current["Name"], "name": current.get("Marketing Name") or None})

    for line in text.splitlines():
        if re.match(r"^\s*Agent \d+\s*$", line):
            flush()
            current = {}
            continue
        m = re.match(r"^\s{2}(\S[^:]*?):\s*(.*?)\s*$", line)  # agent-level keys only
        if m and m.group(1) not in current:
            current[m.group(1)] = m.group(2)
    flush()
    return agents


def normalise_gfx(text: str) -> Optional[str]:
    """An LLVM target from rocm-smi's spelling: it prints stepping in decimal, so gfx90a (9.0.10)
    is "gfx9010"; "gfx1100" and "gfx942" pass unchanged. None when it is not a target."""
    m = re.fullmatch(r"gfx(\d+)([a-z]?)", text.strip())
    if not m:
        return None
    digits = m.group(1)
    if not m.group(2) and len(digits) == 4 and digits[0] == "9":
        return f"gfx9{digits[1]}{int(digits[2:]):x}"
    if not m.group(2) and len(digits) == 5 and digits[0] == "1":  # "gfx11002" = gfx1102
        return f"gfx{digits[:2]}{digits[2]}{int(digits[3:]):x}"
    return text.strip() if _GFX.fullmatch(text.strip()) else None


def parse_rocm_smi_json(text: str) -> list[dict[str, Optional[str]]]:
    """``rocm-smi --showproductname --json`` (or ``-a --json``): one entry per card."""
    data = json.loads(text)
    out = []
    for card, info in sorted(data.items()):
        if not card.startswith("card") or not isinstance(info, dict):
            continue
        gfx = info.get("GFX Version") or ""
        name = info.get("Card Series") or info.get("Device Name") or info.get("Card series")
        out.append(
            {
                "name": name,
                "gfx": normalise_gfx(gfx),
                "device_id": info.get("Device ID") or info.get("Card Model"),
                "pci_bus_id": info.get("PCI Bus"),
            }
        )
    return out


def parse_amd_smi_list_json(text: str) -> list[dict[str, Any]]:
    """``amd-smi list --json``: [{"gpu": 0, "bdf": "0000:03:00.0", "uuid": ...}, ...]."""
    data = json.loads(text)
    rows = data if isinstance(data, list) else []
    return [
        {"index": r.get("gpu"), "pci_bus_id": r.get("bdf"), "uuid": r.get("uuid")}
        for r in rows
        if isinstance(r, dict) and "gpu" in r
    ]


def parse_rocm_version(text: str) -> Optional[str]:
    """/opt/rocm/.info/version ("6.4.1-120") or ``hipconfig --version`` ("6.4.43483-a187df25c")."""
    m = re.search(r"(\d+\.\d+(?:\.\d+)?)", text)
    if not m:
        return None
    version = m.group(1)
    parts = version.split(".")
    if len(parts) == 3 and len(parts[2]) > 2:  # HIP's "6.4.43483": the patch is a build number
        version = ".".join(parts[:2])
    return version


# AMD GPUs torch users meet, by PCI device id: (name, gfx target, integrated). Only for machines
# where neither the KFD topology nor a ROCm tool says the target (ROCm not installed yet).
# Sources: the amdgpu kernel driver's PCI id list and ROCm's GPU support tables.
AMD_PCI_IDS: dict[str, tuple[str, str, bool]] = {
    "0x744c": ("Radeon RX 7900 XT/XTX", "gfx1100", False),
    "0x7448": ("Radeon Pro W7900", "gfx1100", False),
    "0x7480": ("Radeon RX 7600/7700S", "gfx1102", False),
    "0x73bf": ("Radeon RX 6800/6900 XT", "gfx1030", False),
    "0x7550": ("Radeon RX 9070/9070 XT", "gfx1201", False),
    "0x7551": ("Radeon AI PRO R9700", "gfx1201", False),
    "0x74a1": ("Instinct MI300X", "gfx942", False),
    "0x74a0": ("Instinct MI300A", "gfx942", False),
    "0x740c": ("Instinct MI250X/MI250", "gfx90a", False),
    "0x740f": ("Instinct MI210", "gfx90a", False),
    "0x738c": ("Instinct MI100", "gfx908", False),
    "0x15bf": ("Radeon 780M (Phoenix)", "gfx1103", True),
    "0x1900": ("Radeon 780M (Phoenix3)", "gfx1103", True),
    "0x150e": ("Radeon 890M (Strix Point)", "gfx1150", True),
    "0x1586": ("Radeon 8060S (Strix Halo)", "gfx1151", True),
}


# --- Intel -------------------------------------------------------------------------------------


def parse_xpu_smi_discovery(text: str) -> list[dict[str, Optional[str]]]:
    """``xpu-smi discovery`` (table or plain layout): one entry per "Device Name:"."""
    out: list[dict[str, Optional[str]]] = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("|") if c.strip()]
        if not cells:
            continue
        key, sep, value = re.sub(r"^\d+\s+", "", cells[-1]).partition(":")
        key, value = key.strip(), value.strip()
        if not sep:
            continue
        if key in ("Device Type", "Device Name"):
            field = "type" if key == "Device Type" else "name"
            if not out or out[-1][field] is not None:
                out.append({"name": None, "device_id": None, "pci_bus_id": None, "type": None})
            out[-1][field] = value
        elif out and key == "PCI Device ID":
            out[-1]["device_id"] = value.lower()
        elif out and key == "PCI BDF Address":
            out[-1]["pci_bus_id"] = value
        elif out and key == "Device Type":
            out[-1]["type"] = value
    return out


def parse_sycl_ls(text: str) -> list[dict[str, str]]:
    """``sycl-ls``: [{"backend": "level_zero", "name": "Intel(R) Arc(TM) A770 Graphics"}] for
    each GPU line (``[level_zero:gpu][level_zero:0] Intel(R) Level-Zero, <name> 1.3 [...]``)."""
    out = []
    for line in text.splitlines():
        m = re.match(r"^\s*\[(\w+):gpu\]\[\w+:\d+\]\s+[^,]+,\s+(.*?)\s+(?:OpenCL )?\d+\.\d+", line)
        if m:
            out.append({"backend": m.group(1), "name": m.group(2).strip()})
    return out


def intel_xpu_family(name: Optional[str], device_id: Optional[str]) -> Optional[str]:
    """ "arc-a", "arc-b", "max", "flex", "core-ultra" or None (not an XPU target, e.g. UHD 630)."""
    text = name or ""
    dev = (device_id or "").lower()
    if re.search(r"Data Center GPU Max", text) or dev.startswith("0x0bd"):
        return "max"
    if re.search(r"Data Center GPU Flex", text) or dev.startswith("0x56c"):
        return "flex"
    if re.search(r"Arc\(TM\) (Pro )?B\d|Arc B\d", text) or dev.startswith("0xe2"):
        return "arc-b"
    if re.search(r"Arc\(TM\) (Pro )?A\d|Arc A\d", text) or dev.startswith("0x56"):
        return "arc-a"
    if re.search(r"Arc\(TM\) (Graphics|1\d0V)|Core\(TM\) Ultra", text) or dev.startswith(
        ("0x7d", "0x64")
    ):
        return "core-ultra"
    return None


# --- Jetson ------------------------------------------------------------------------------------


def parse_nv_tegra_release(text: str) -> Optional[str]:
    """'# R36 (release), REVISION: 4.3, GCID: ...' -> '36.4.3'."""
    m = re.search(r"#\s*R(\d+)\s*\(release\),\s*REVISION:\s*([\d.]+)", text)
    return f"{m.group(1)}.{m.group(2).rstrip('.')}" if m else None


# L4T major -> JetPack major (NVIDIA's JetPack archive: R32 = JetPack 4, R35 = 5, R36 = 6,
# R38 = 7 for Thor).
_L4T_JETPACK = {"32": "4", "34": "5", "35": "5", "36": "6", "38": "7"}


def jetpack_for_l4t(l4t: Optional[str]) -> Optional[str]:
    return _L4T_JETPACK.get(l4t.split(".")[0]) if l4t else None


def jetson_capability(model: Optional[str]) -> Optional[str]:
    """Compute capability from the board model: Orin 8.7, Xavier 7.2, Thor 11.0, Nano/TX1 5.3."""
    text = model or ""
    for pattern, cc in (
        (r"Thor", "11.0"),
        (r"Orin", "8.7"),
        (r"Xavier", "7.2"),
        (r"TX2", "6.2"),
        (r"Nano|TX1", "5.3"),
    ):
        if re.search(pattern, text):
            return cc
    return None


def clean_device_tree_string(raw: str) -> str:
    """/proc/device-tree/model ends with a NUL."""
    return raw.replace("\x00", "").strip()
