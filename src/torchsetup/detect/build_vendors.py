"""AMD, Intel and Jetson facts from their probe records (pure). None when not probed.

AMD: the KFD topology is the kernel's own word on each GPU's gfx target and wins; rocminfo,
rocm_agent_enumerator and rocm-smi fill in names (and targets where /sys/class/kfd is not
mounted, e.g. a container); the PCI bus alone still finds a GPU whose ROCm is not installed,
with the target from the PCI id table.
"""

from __future__ import annotations

from typing import Any, Optional

from torchsetup.detect.model import Amd, AmdGpu, Intel, IntelGpu, Jetson
from torchsetup.detect.parse import vendors as pv
from torchsetup.detect.probes.record import Snapshot


def _stdout(tools: dict[str, Any], name: str) -> Optional[str]:
    rec = tools.get(name)
    if not isinstance(rec, dict) or rec.get("error") or rec.get("returncode") not in (0, None):
        return None
    out = rec.get("stdout")
    return out if isinstance(out, str) and out.strip() else None


def build_amd(snap: Snapshot) -> Optional[Amd]:
    rec = snap.records.get("amd")
    if rec is None:
        return None
    if not rec.ok:
        return Amd(status="unknown", errors=(rec.error or "AMD probe failed",))
    d = rec.data
    tools: dict[str, Any] = d.get("tools") or {}
    errors = [
        f"{name}: {t['error']}"
        for name, t in sorted(tools.items())
        if isinstance(t, dict) and t.get("error")
    ]
    sources: list[str] = []
    gpus: list[dict[str, Any]] = []

    for _node, text in sorted(
        (d.get("kfd_nodes") or {}).items(), key=lambda kv: int(kv[0]) if kv[0].isdigit() else 0
    ):
        gpu = pv.kfd_gpu(text)
        if gpu is not None:
            gpus.append({"gfx": gpu["gfx"], "device_id": gpu["device_id"], "name": None})
    if gpus:
        sources.append("kfd")

    names: list[Optional[str]] = []
    rocminfo = _stdout(tools, "rocminfo")
    agents = pv.parse_rocminfo(rocminfo) if rocminfo else []
    if agents:
        sources.append("rocminfo")
        names = [a["name"] for a in agents]
        if not gpus:
            gpus = [{"gfx": a["gfx"], "device_id": None, "name": a["name"]} for a in agents]
    enum_text = _stdout(tools, "rocm_agent_enumerator")
    targets = pv.parse_rocm_agent_enumerator(enum_text) if enum_text else []
    if targets:
        sources.append("rocm_agent_enumerator")
        if not gpus:
            gpus = [{"gfx": t, "device_id": None, "name": None} for t in targets]
    smi_text = _stdout(tools, "rocm-smi")
    cards: list[dict[str, Optional[str]]] = []
    if smi_text:
        try:
            cards = pv.parse_rocm_smi_json(smi_text)
            sources.append("rocm-smi")
        except (ValueError, AttributeError):
            errors.append("rocm-smi: output not understood")
    amd_smi = _stdout(tools, "amd-smi")
    listed: list[dict[str, Any]] = []
    if amd_smi:
        try:
            listed = pv.parse_amd_smi_list_json(amd_smi)
            sources.append("amd-smi")
        except ValueError:
            errors.append("amd-smi: output not understood")
    if not gpus and cards:
        gpus = [{"gfx": c["gfx"], "device_id": c["device_id"], "name": c["name"]} for c in cards]

    pci = (d.get("pci") or {}).get("devices") or []
    if pci:
        sources.append("pci")
    if not gpus:  # ROCm user space and KFD absent: the PCI bus still shows the GPUs
        for dev in pci:
            known = pv.AMD_PCI_IDS.get(dev.get("device", "").lower())
            gpus.append(
                {
                    "gfx": known[1] if known else None,
                    "device_id": dev.get("device"),
                    "name": known[0] if known else None,
                    "pci_bus_id": dev.get("bus"),
                }
            )
    for i, gpu in enumerate(gpus):
        if not gpu.get("name"):
            gpu["name"] = (
                names[i]
                if i < len(names) and names[i]
                else (cards[i]["name"] if i < len(cards) else None)
            )
        if not gpu.get("pci_bus_id"):
            bus = listed[i]["pci_bus_id"] if i < len(listed) else None
            gpu["pci_bus_id"] = bus or (pci[i].get("bus") if i < len(pci) else None)
        device = (gpu.get("device_id") or "").lower()
        known = pv.AMD_PCI_IDS.get(device)
        gpu["integrated"] = known[2] if known else _looks_integrated(gpu.get("name"))
        if not gpu.get("name") and known:
            gpu["name"] = known[0]

    version = source = None
    vfile = d.get("rocm_version_file")
    if isinstance(vfile, dict):
        version, source = pv.parse_rocm_version(vfile.get("text") or ""), vfile.get("path")
    hip = _stdout(tools, "hipconfig")
    if version is None and hip:
        version, source = pv.parse_rocm_version(hip), "hipconfig --version"
    runtime = bool(version) or bool(agents) or bool(targets)
    groups = d.get("groups")
    access = None
    if d.get("dev_kfd"):
        access = bool(d.get("uid") == 0 or d.get("dev_kfd_rw")) or bool(
            groups and {"render", "video"} & set(groups)
        )
    status = "no-gpu"
    if gpus:
        status = "ok" if runtime else "no-runtime"
    return Amd(
        status=status,
        gpus=tuple(
            AmdGpu(
                index=i,
                name=g.get("name"),
                gfx=g.get("gfx"),
                pci_bus_id=g.get("pci_bus_id"),
                device_id=g.get("device_id"),
                integrated=g.get("integrated"),
            )
            for i, g in enumerate(gpus)
        ),
        rocm_version=version,
        rocm_source=source,
        kfd=d.get("dev_kfd"),
        groups=tuple(groups) if groups is not None else None,
        gpu_access=access,
        sources=tuple(sources),
        errors=tuple(errors),
    )


def _looks_integrated(name: Optional[str]) -> Optional[bool]:
    if not name:
        return None
    low = name.lower()
    return bool(
        any(
            k in low
            for k in (
                "780m",
                "760m",
                "680m",
                "890m",
                "880m",
                "8060s",
                "phoenix",
                "rembrandt",
                "strix",
            )
        )
    )


def build_intel(snap: Snapshot) -> Optional[Intel]:
    rec = snap.records.get("intel")
    if rec is None:
        return None
    if not rec.ok:
        return Intel(status="unknown", errors=(rec.error or "Intel probe failed",))
    d = rec.data
    tools: dict[str, Any] = d.get("tools") or {}
    sources: list[str] = []
    found: list[dict[str, Any]] = []
    xpu = _stdout(tools, "xpu-smi")
    if xpu:
        found = [dict(g) for g in pv.parse_xpu_smi_discovery(xpu)]
        if found:
            sources.append("xpu-smi")
    sycl = _stdout(tools, "sycl-ls")
    sycl_gpus = pv.parse_sycl_ls(sycl) if sycl else []
    if sycl_gpus:
        sources.append("sycl-ls")
        if not found:
            seen = list(dict.fromkeys(g["name"] for g in sycl_gpus))
            found = [{"name": n, "device_id": None, "pci_bus_id": None, "type": None} for n in seen]
    pci = (d.get("pci") or {}).get("devices") or []
    pci_gpus = [dev for dev in pci if dev.get("class", "").startswith("0x03")]
    if pci_gpus:
        sources.append("pci")
    if not found:
        found = [
            {
                "name": None,
                "device_id": dev.get("device"),
                "pci_bus_id": dev.get("bus"),
                "type": None,
            }
            for dev in pci_gpus
        ]
    for i, gpu in enumerate(found):
        if not gpu.get("device_id") and i < len(pci_gpus):
            gpu["device_id"] = pci_gpus[i].get("device")
        if not gpu.get("pci_bus_id") and i < len(pci_gpus):
            gpu["pci_bus_id"] = pci_gpus[i].get("bus")
    gpus = tuple(
        IntelGpu(
            index=i,
            name=g.get("name"),
            device_id=g.get("device_id"),
            pci_bus_id=g.get("pci_bus_id"),
            integrated=(
                True
                if (g.get("type") or "").lower().startswith("integrated")
                or (g.get("pci_bus_id") or "").endswith("00:02.0")
                else False
                if g.get("type") or g.get("pci_bus_id")
                else None
            ),
        )
        for i, g in enumerate(found)
    )
    level_zero = d.get("level_zero")
    if any(g["backend"] == "level_zero" for g in sycl_gpus):
        level_zero = True
    status = "no-gpu"
    if gpus:
        status = "ok" if level_zero else "no-runtime" if level_zero is False else "unknown"
    return Intel(status=status, gpus=gpus, level_zero=level_zero, sources=tuple(sources))


def build_jetson(snap: Snapshot) -> Optional[Jetson]:
    rec = snap.records.get("jetson")
    if rec is None or not rec.ok:
        return None
    d = rec.data
    release = d.get("nv_tegra_release")
    model = pv.clean_device_tree_string(d["model"]) if d.get("model") else None
    if not release and not (model and "jetson" in model.lower()):
        return None
    l4t = pv.parse_nv_tegra_release(release) if release else None
    return Jetson(
        model=model,
        l4t=l4t,
        jetpack=pv.jetpack_for_l4t(l4t),
        compute_capability=pv.jetson_capability(model),
        errors=() if l4t or not release else ("/etc/nv_tegra_release not understood",),
    )
