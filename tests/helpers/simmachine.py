"""Simulated GPU machines for the real probe code (issue 11).

A :class:`Machine` is written into a folder: stand-in executables (nvidia-smi, rocminfo,
rocm_agent_enumerator, rocm-smi, amd-smi, xpu-smi, sycl-ls) for the front of PATH, and the files
the probes read (/sys/bus/pci/devices, /sys/class/kfd, /proc/driver/nvidia, /etc/nv_tegra_release,
/opt/rocm/.info/version, /sys/firmware/devicetree, /dev/kfd). :func:`run_in` runs a command in
a private mount namespace (``unshare --mount``, as root) where those files are bind- or
overlay-mounted over the real ones, so nothing outside the namespace changes. The method is the
one of ../shared/reference/anchors-measured-2026-12.md §2.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

SMI_FIELDS = (
    "index",
    "name",
    "uuid",
    "driver_version",
    "compute_cap",
    "memory.total",
    "memory.used",
    "pci.bus_id",
    "mig.mode.current",
)

# A stand-in nvidia-smi: answers --query-gpu=<fields> --format=csv[,noheader][,nounits] from
# spec.json next to it, like the real one; an "old" one rejects fields R470 lacks (compute_cap)
# with the real message and exit code 2 (huggingface/candle#733).
_SMI = r"""#!{python}
import json, os, sys
spec = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "nvidia-smi.json")))
with open(spec["log"], "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\n")
args = sys.argv[1:]
query = next((a.split("=", 1)[1] for a in args if a.startswith("--query-gpu=")), None)
fmt = next((a.split("=", 1)[1] for a in args if a.startswith("--format=")), "")
if query is None:
    print("NVIDIA-SMI %s   Driver Version: %s" % (spec["driver"], spec["driver"]))
    sys.exit(0)
fields = query.split(",")
for f in fields:
    if f in spec.get("reject", []):
        print('Field "%s" is not a valid field to query.' % f)
        print()
        sys.exit(2)
units = "nounits" not in fmt
def cell(i, g, f):
    return {
        "index": str(i), "name": g["name"], "uuid": g["uuid"], "driver_version": spec["driver"],
        "compute_cap": g["cc"], "memory.total": "%d MiB" % g["mem"] if units else str(g["mem"]),
        "memory.used": "0 MiB" if units else "0", "pci.bus_id": g["bus"],
        "mig.mode.current": g.get("mig", "[N/A]"),
    }[f]
if "noheader" not in fmt:
    print(", ".join(f + (" [MiB]" if f.startswith("memory.") and units else "") for f in fields))
for i, g in enumerate(spec["gpus"]):
    print(", ".join(cell(i, g, f) for f in fields))
"""

_CAT = "#!/bin/sh\ncat {path}\n"


@dataclass
class NvidiaGpu:
    name: str
    cc: str
    mem_mib: int
    bus: str  # "00000000:04:00.0"
    device_id: str  # PCI "0x2335"


@dataclass
class Machine:
    name: str
    driver: Optional[str] = None  # NVIDIA driver: nvidia-smi is on PATH when set
    nvidia: list[NvidiaGpu] = field(default_factory=list)
    smi_rejects: list[str] = field(default_factory=list)  # an old nvidia-smi
    proc_nvidia: bool = False  # /proc/driver/nvidia/version and gpus/*/information
    pci: list[tuple[str, str, str, str]] = field(default_factory=list)  # bus, vendor, class, device
    kfd_nodes: list[str] = field(default_factory=list)  # properties texts of the GPU nodes
    dev_kfd: bool = False
    rocm_version: Optional[str] = None  # /opt/rocm/.info/version
    tools: dict[str, str] = field(default_factory=dict)  # stand-in name -> its output
    tegra_release: Optional[str] = None
    device_tree_model: Optional[str] = None


def unshare_available() -> Optional[str]:
    """None when the simulation can run here, else why not."""
    if sys.platform != "linux":
        return "not Linux"
    if os.geteuid() != 0:
        return "needs root for mount namespaces"
    if shutil.which("unshare") is None:
        return "unshare not found"
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "true"],
        capture_output=True,
        text=True,
        check=False,
    )
    return None if probe.returncode == 0 else f"unshare --mount failed: {probe.stderr.strip()}"


def write(machine: Machine, root: Path) -> Path:
    """Lay the machine out under ``root``; returns the root."""
    bins, pci, sysclass = root / "bin", root / "pci", root / "sysclass"
    procdriver, etc, opt, dev = root / "procdriver", root / "etc", root / "opt", root / "dev"
    firmware = root / "firmware"
    for d in (bins, pci, sysclass, procdriver, etc, opt, dev, firmware):
        d.mkdir(parents=True, exist_ok=True)
    if machine.driver:
        spec = {
            "driver": machine.driver,
            "reject": machine.smi_rejects,
            "log": str(root / "nvidia_smi_calls.log"),
            "gpus": [
                {
                    "name": g.name,
                    "cc": g.cc,
                    "mem": g.mem_mib,
                    "bus": g.bus,
                    "uuid": f"GPU-{i:08x}-0000-4000-8000-{abs(hash(g.name)) % 10**12:012d}",
                }
                for i, g in enumerate(machine.nvidia)
            ],
        }
        (bins / "nvidia-smi.json").write_text(json.dumps(spec))
        _executable(bins / "nvidia-smi", _SMI.replace("{python}", sys.executable))
        for g in machine.nvidia:
            bus = g.bus.lower()[4:]  # 0000:04:00.0
            machine.pci.append((bus, "0x10de", "0x030200", g.device_id))
    if machine.proc_nvidia and machine.driver:
        nv = procdriver / "nvidia"
        (nv / "gpus").mkdir(parents=True, exist_ok=True)
        (nv / "version").write_text(
            f"NVRM version: NVIDIA UNIX x86_64 Kernel Module  {machine.driver}  "
            "Release Build  (dvs-builder@U16-I2-C03-12-4)  Thu Jan  1 00:00:00 UTC 2026\n"
            "GCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n"
        )
        for g in machine.nvidia:
            info = nv / "gpus" / g.bus.lower()[4:]
            info.mkdir(parents=True, exist_ok=True)
            (info / "information").write_text(
                f"Model: \t\t {g.name}\nIRQ:   \t\t 64\nGPU UUID: \t GPU-0000\n"
                f"Bus Location: \t {g.bus.lower()[4:]}\nDevice Minor: \t 0\n"
            )
    for bus, vendor, klass, device in machine.pci:
        d = pci / bus
        d.mkdir(parents=True, exist_ok=True)
        (d / "vendor").write_text(vendor + "\n")
        (d / "class").write_text(klass + "\n")
        (d / "device").write_text(device + "\n")
    if machine.kfd_nodes:
        nodes = sysclass / "kfd" / "kfd" / "topology" / "nodes"
        (nodes / "0").mkdir(parents=True, exist_ok=True)
        (nodes / "0" / "properties").write_text(
            "cpu_cores_count 16\nsimd_count 0\ngfx_target_version 0\n"
        )
        for i, text in enumerate(machine.kfd_nodes, start=1):
            (nodes / str(i)).mkdir(parents=True, exist_ok=True)
            (nodes / str(i) / "properties").write_text(text)
    if machine.dev_kfd:
        (dev / "kfd").write_text("")
    if machine.rocm_version:
        info = opt / "rocm" / ".info"
        info.mkdir(parents=True, exist_ok=True)
        (info / "version").write_text(machine.rocm_version + "\n")
    if machine.tegra_release:
        (etc / "nv_tegra_release").write_text(machine.tegra_release)
    if machine.device_tree_model:
        base = firmware / "devicetree" / "base"
        base.mkdir(parents=True, exist_ok=True)
        (base / "model").write_text(machine.device_tree_model + "\0")
    for name, output in machine.tools.items():
        out = root / f"{name}.out"
        out.write_text(output)
        _executable(bins / name, _CAT.format(path=shlex.quote(str(out))))
    return root


def _executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


def run_in(
    root: Path, argv: list[str], env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` inside a private mount namespace that shows the machine under ``root``."""
    r = shlex.quote(str(root))
    script = f"""set -e
mount --bind {r}/pci /sys/bus/pci/devices
mount --bind {r}/sysclass /sys/class
mount --bind {r}/firmware /sys/firmware
if [ -d /proc/driver ]; then mount --bind {r}/procdriver /proc/driver; fi
for d in etc opt dev; do
  [ -d /$d ] || continue
  mkdir -p {r}/ov-$d/work
  mount -t overlay overlay -o lowerdir=/$d,upperdir={r}/$d,workdir={r}/ov-$d/work /$d
done
export PATH={r}/bin:"$PATH"
exec "$@"
"""
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sim", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
