"""What this node's links promise: NVLink, PCIe and InfiniBand/RoCE, read without torch.

The parsers are pure and tested on real outputs (tests/data/real/topology/):

- ``nvidia-smi topo -m``: the GPU-to-GPU matrix, ``NV#`` = a bonded set of # NVLinks;
- ``nvidia-smi nvlink -s``: per GPU, each link's speed (one direction) or ``<inactive>``;
- sysfs ``current_link_speed``/``max_link_speed`` (``"16.0 GT/s PCIe"``) and ``*_link_width``
  of each NVIDIA GPU's PCI function;
- ``/sys/class/infiniband/*/ports/*/rate`` (``"400 Gb/sec (4X NDR)"``), ``state``,
  ``link_layer``.

:func:`read_topology` is the side-effect shell (two nvidia-smi runs when it exists, a few
sysfs files); :func:`promise` says which figure an all_reduce bus bandwidth is compared with.
All bandwidths here are GB/s (10^9 bytes per second) in one direction.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from typing import Any, Optional

# An NVLink "sub-link" (one direction) of NVLink 2, 3 and 4 carries 25 GB/s; used when only
# `topo -m`'s link count is known (NVLink 5 doubles it: nvlink -s says so when present).
NVLINK_GBPS_PER_LINK = 25.0
# PCIe payload per lane and direction after line coding, GB/s, by generation.
PCIE_GBPS_PER_LANE = {1: 0.25, 2: 0.5, 3: 0.985, 4: 1.969, 5: 3.938, 6: 7.563}
_GTS_TO_GEN = {2.5: 1, 5.0: 2, 8.0: 3, 16.0: 4, 32.0: 5, 64.0: 6}


@dataclass(frozen=True)
class PcieLink:
    address: str
    gen: Optional[int]
    width: Optional[int]
    max_gen: Optional[int]
    max_width: Optional[int]

    @property
    def gbps(self) -> Optional[float]:
        """What the link can carry at its maximum (GPUs slow their link down when idle)."""
        gen, width = self.max_gen or self.gen, self.max_width or self.width
        if gen is None or width is None or gen not in PCIE_GBPS_PER_LANE:
            return None
        return PCIE_GBPS_PER_LANE[gen] * width


@dataclass(frozen=True)
class IbPort:
    device: str
    port: str
    rate_gbit: Optional[float]  # Gb/s, as the file says
    state: Optional[str] = None  # "4: ACTIVE"
    link_layer: Optional[str] = None  # "InfiniBand" | "Ethernet" (RoCE)

    @property
    def active(self) -> bool:
        return self.state is None or "ACTIVE" in self.state.upper()


@dataclass(frozen=True)
class NvlinkGpu:
    gpu: int
    active: int
    inactive: int
    gbps_per_link: Optional[float]


@dataclass(frozen=True)
class Topology:
    topo_links: Optional[int] = None  # fewest NVLinks between any two GPUs (topo -m), 0: none
    gpus: int = 0  # GPUs in topo -m
    nvlink: tuple[NvlinkGpu, ...] = ()
    pcie: tuple[PcieLink, ...] = ()
    ib: tuple[IbPort, ...] = ()
    errors: tuple[str, ...] = ()
    raw: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "topo_links": self.topo_links,
            "gpus": self.gpus,
            "nvlink": [vars(n) for n in self.nvlink],
            "pcie": [dict(vars(p), gbps=p.gbps) for p in self.pcie],
            "ib": [dict(vars(p), active=p.active) for p in self.ib],
            "errors": list(self.errors),
        }


# ---------------------------------------------------------------------------- parsers (pure)


def parse_topo_matrix(text: str) -> tuple[int, Optional[int]]:
    """(GPUs, fewest NVLinks between two GPUs) from ``nvidia-smi topo -m``; 0 links: some
    pair talks over PCIe only; None: fewer than two GPUs."""
    lines = [ln.rstrip() for ln in text.splitlines() if ln.strip()]
    header = next((ln for ln in lines if re.match(r"\s*GPU0\b", ln)), None)
    if header is None:
        return 0, None
    columns = header.split()
    gpu_columns = [i for i, c in enumerate(columns) if re.fullmatch(r"GPU\d+", c)]
    fewest: Optional[int] = None
    gpus = 0
    for line in lines:
        cells = line.split()
        if not cells or not re.fullmatch(r"GPU\d+", cells[0]) or line is header:
            continue
        gpus += 1
        for i in gpu_columns:
            if i + 1 >= len(cells):
                continue
            cell = cells[i + 1]
            if cell == "X":
                continue
            m = re.fullmatch(r"NV(\d+)", cell)
            links = int(m.group(1)) if m else 0
            fewest = links if fewest is None else min(fewest, links)
    return gpus, fewest


def parse_nvlink_status(text: str) -> tuple[NvlinkGpu, ...]:
    """Per GPU of ``nvidia-smi nvlink -s``: active and inactive links, GB/s per link."""
    found: list[NvlinkGpu] = []
    gpu: Optional[int] = None
    speeds: list[float] = []
    inactive = 0

    def close() -> None:
        if gpu is not None:
            found.append(NvlinkGpu(gpu, len(speeds), inactive, min(speeds) if speeds else None))

    for line in text.splitlines():
        head = re.match(r"\s*GPU (\d+):", line)
        if head:
            close()
            gpu, speeds, inactive = int(head.group(1)), [], 0
            continue
        link = re.match(r"\s*Link \d+:\s*(.+)", line)
        if link and gpu is not None:
            value = re.match(r"([\d.]+)\s*GB/s", link.group(1))
            if value:
                speeds.append(float(value.group(1)))
            else:
                inactive += 1
    close()
    return tuple(found)


def parse_link_speed(text: str) -> Optional[int]:
    """PCIe generation of a sysfs link speed: "16.0 GT/s PCIe" -> 4; None if unknown."""
    m = re.match(r"\s*([\d.]+)\s*GT/s", text or "")
    return _GTS_TO_GEN.get(float(m.group(1))) if m else None


def parse_ib_rate(text: str) -> Optional[float]:
    """Gb/s of an InfiniBand/RoCE port's ``rate``: "400 Gb/sec (4X NDR)" -> 400.0."""
    m = re.search(r"([\d.]+)\s*Gb/sec", text or "")
    return float(m.group(1)) if m else None


def parse_ibstatus_rates(text: str) -> list[float]:
    """The ``rate:`` lines of ``ibstatus`` (the sysfs file's text after the label)."""
    return [
        rate
        for line in text.splitlines()
        if line.strip().startswith("rate:")
        and (rate := parse_ib_rate(line.split(":", 1)[1])) is not None
    ]


# ---------------------------------------------------------------------------- promises (pure)


@dataclass(frozen=True)
class Promise:
    gbps: float
    why: str


def promise(topo: Topology, scope: str, ranks_per_node: int = 1) -> Optional[Promise]:
    """What an all_reduce's bus bandwidth in ``scope`` can reach at best, or None (unknown)."""
    if scope == "intra-node":
        links = [n for n in topo.nvlink if n.active]
        if links:
            worst = min(links, key=lambda n: n.active * (n.gbps_per_link or 0))
            per_link = worst.gbps_per_link or NVLINK_GBPS_PER_LINK
            return Promise(
                worst.active * per_link,
                f"NVLink: {worst.active} link(s) x {per_link:g} GB/s on GPU {worst.gpu} "
                "(nvidia-smi nvlink -s)",
            )
        if topo.topo_links:
            return Promise(
                topo.topo_links * NVLINK_GBPS_PER_LINK,
                f"NVLink: NV{topo.topo_links} between GPUs x {NVLINK_GBPS_PER_LINK:g} GB/s "
                "(nvidia-smi topo -m)",
            )
        pcie = [p for p in topo.pcie if p.gbps]
        if pcie:
            slowest = min(pcie, key=lambda p: p.gbps or 0.0)
            return Promise(
                slowest.gbps or 0.0,
                f"PCIe Gen{slowest.max_gen or slowest.gen} x{slowest.max_width or slowest.width} "
                f"({slowest.address})",
            )
        return None
    ports = [p for p in topo.ib if p.active and p.rate_gbit]
    if not ports:
        return None
    total = sum(p.rate_gbit or 0.0 for p in ports) / 8.0
    share = max(ranks_per_node, 1)
    kind = "/".join(sorted({p.link_layer or "InfiniBand" for p in ports}))
    return Promise(
        total / share,
        f"{kind}: {len(ports)} active port(s), {total:g} GB/s for {share} rank(s) per node",
    )


def link_findings(topo: Topology) -> list[str]:
    """Links that are not what they should be, whatever the measurement says."""
    out = []
    for n in topo.nvlink:
        if n.inactive:
            out.append(f"GPU {n.gpu}: {n.inactive} NVLink(s) inactive, {n.active} active")
    for p in topo.pcie:
        if p.width and p.max_width and p.width < p.max_width:
            out.append(f"{p.address}: PCIe link runs at x{p.width} of x{p.max_width}")
    for ib in topo.ib:
        if not ib.active:
            out.append(f"{ib.device} port {ib.port}: {ib.state}")
    return out


# ---------------------------------------------------------------------------- reading (side effects)


def _read(path: str) -> Optional[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read().strip()
    except OSError:
        return None


def _int(text: Optional[str]) -> Optional[int]:
    return int(text) if text and text.isdigit() else None


def read_pcie(root: str = "/sys/bus/pci/devices") -> tuple[PcieLink, ...]:
    """The PCIe links of NVIDIA display/3D controllers (vendor 0x10de, class 0x03xxxx)."""
    try:
        addresses = sorted(os.listdir(root))
    except OSError:
        return ()
    links = []
    for addr in addresses:
        base = os.path.join(root, addr)
        if _read(os.path.join(base, "vendor")) != "0x10de":
            continue
        if not (_read(os.path.join(base, "class")) or "").startswith("0x03"):
            continue
        links.append(
            PcieLink(
                addr,
                parse_link_speed(_read(os.path.join(base, "current_link_speed")) or ""),
                _int(_read(os.path.join(base, "current_link_width"))),
                parse_link_speed(_read(os.path.join(base, "max_link_speed")) or ""),
                _int(_read(os.path.join(base, "max_link_width"))),
            )
        )
    return tuple(links)


def read_ib(root: str = "/sys/class/infiniband") -> tuple[IbPort, ...]:
    try:
        devices = sorted(os.listdir(root))
    except OSError:
        return ()
    ports = []
    for dev in devices:
        try:
            numbers = sorted(os.listdir(os.path.join(root, dev, "ports")))
        except OSError:
            continue
        for port in numbers:
            base = os.path.join(root, dev, "ports", port)
            ports.append(
                IbPort(
                    dev,
                    port,
                    parse_ib_rate(_read(os.path.join(base, "rate")) or ""),
                    _read(os.path.join(base, "state")),
                    _read(os.path.join(base, "link_layer")),
                )
            )
    return tuple(ports)


def read_topology(timeout: float = 10.0) -> Topology:
    """This node's links (never raises: what could not be read is in ``errors``)."""
    from torchsetup import proc

    errors: list[str] = []
    raw: dict[str, str] = {}
    gpus, links = 0, None
    nvlink: tuple[NvlinkGpu, ...] = ()
    smi = shutil.which("nvidia-smi")
    if smi:
        topo = proc.run([smi, "topo", "-m"], timeout=timeout)
        if topo.ok:
            raw["topo"] = topo.stdout
            gpus, links = parse_topo_matrix(topo.stdout)
        else:
            errors.append(f"nvidia-smi topo -m: {topo.describe_failure()}")
        status = proc.run([smi, "nvlink", "-s"], timeout=timeout)
        if status.ok:
            raw["nvlink"] = status.stdout
            nvlink = parse_nvlink_status(status.stdout)
    return Topology(links, gpus, nvlink, read_pcie(), read_ib(), tuple(errors), raw)
