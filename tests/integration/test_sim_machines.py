"""Simulated machines through the REAL probe code (issue 11): stand-in vendor tools on PATH and
fake /sys, /proc, /etc, /opt and /dev in a private mount namespace (tests/helpers/simmachine.py).
Each asserts the chosen build or the refusal and its reason. Not one of them, nor any other test
path, ends in an automatic CPU plan on a machine with a usable GPU.

Where mount namespaces are unavailable (not root, no unshare) the tests report "NOT RUN: ...".
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Callable, NamedTuple

import pytest

from tests.helpers.result import document
from tests.helpers.simmachine import Machine, NvidiaGpu, run_in, unshare_available, write

pytestmark = pytest.mark.slow

DATA = Path(__file__).resolve().parents[1] / "data" / "probes"
NOT_RUN = unshare_available()


def sample(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


KFD_7900 = sample("amd/kfd-properties-rx7900xtx.txt")
KFD_MI300X = KFD_7900.replace("gfx_target_version 110000", "gfx_target_version 90402").replace(
    "device_id 29772", "device_id 29857"
)
KFD_780M = KFD_7900.replace("gfx_target_version 110000", "gfx_target_version 110003").replace(
    "device_id 29772", "device_id 5567"
)
ROCMINFO_7900 = sample("amd/rocminfo-rx7900xtx.txt")
SYCL_L0_A770 = (
    "[opencl:cpu][opencl:0] Intel(R) OpenCL, 13th Gen Intel(R) Core(TM) i9-13900K OpenCL 3.0 "
    "(Build 0) [2024.18.6.0.02_160000]\n"
    "[level_zero:gpu][level_zero:0] Intel(R) Level-Zero, Intel(R) Arc(TM) A770 Graphics 1.3 "
    "[1.3.26241]\n"
)


def h200() -> NvidiaGpu:
    return NvidiaGpu("NVIDIA H200", "9.0", 143771, "00000000:04:00.0", "0x2335")


class Case(NamedTuple):
    machine: Machine
    args: tuple[str, ...]
    check: Callable[[dict[str, Any]], None]


def chosen(torch: str, variant: str) -> Callable[[dict[str, Any]], None]:
    def check(doc: dict[str, Any]) -> None:
        assert doc["exit_code"] == 0, doc["error"]
        plan = doc["result"]["plan"]
        assert (plan["torch"], plan["variant"]) == (torch, variant), plan
        assert doc["result"]["reasons"]

    return check


def refused(*needles: str) -> Callable[[dict[str, Any]], None]:
    def check(doc: dict[str, Any]) -> None:
        assert doc["exit_code"] == 2, doc["result"] and doc["result"]["plan"]
        text = doc["error"]["message"] + " " + (doc["error"]["nearest"] or "")
        text += " " + (doc["error"]["hint"] or "")
        for needle in needles:
            assert needle in text, (needle, text)

    return check


def both(*checks: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def check(doc: dict[str, Any]) -> None:
        for c in checks:
            c(doc)

    return check


def reason(needle: str) -> Callable[[dict[str, Any]], None]:
    def check(doc: dict[str, Any]) -> None:
        result = doc["result"]
        text = " ".join(result["reasons"] + result["warnings"]) + " ".join(
            f"{f['value']} {f['source']}" for f in result["facts"]
        )
        text += " ".join(f"{r['variant']} {r['reason']}" for r in result["rejected"])
        assert needle in text, (needle, text)

    return check


def fact(name: str, needle: str) -> Callable[[dict[str, Any]], None]:
    def check(doc: dict[str, Any]) -> None:
        facts = {f["name"]: f"{f['value']} ({f['source']})" for f in doc["result"]["facts"]}
        assert needle in facts.get(name, ""), (name, facts)

    return check


CASES: dict[str, Case] = {
    "h200-580": Case(
        Machine("h200", driver="580.159.04", nvidia=[h200()]),
        (),
        both(chosen("2.15.0", "cu130"), fact("gpu 0", "sm_90")),
    ),
    "t4-470-old-nvidia-smi": Case(
        Machine(
            "t4",
            driver="470.256.02",
            nvidia=[NvidiaGpu("Tesla T4", "7.5", 15109, "00000000:00:1E.0", "0x1eb8")],
            smi_rejects=["compute_cap"],  # R470 nvidia-smi; no NVML, no /proc
        ),
        (),
        both(
            chosen("2.7.1", "cu118"),
            fact("nvidia driver", "470.256.02"),
            fact("gpu 0", "capability from the GPU name table"),
            reason("minor-version compatibility"),
        ),
    ),
    "rtx5090-570": Case(
        Machine(
            "rtx5090",
            driver="570.133.07",
            nvidia=[
                NvidiaGpu("NVIDIA GeForce RTX 5090", "12.0", 32607, "00000000:01:00.0", "0x2b85")
            ],
            proc_nvidia=True,
        ),
        (),
        both(
            chosen("2.11.0", "cu128"),
            reason("cu129 works, but it is not advertised"),  # 2.13.0+cu129 is listed
        ),
    ),
    "rtx5090-570-torch-2.14.1": Case(
        Machine(
            "rtx5090",
            driver="570.133.07",
            nvidia=[
                NvidiaGpu("NVIDIA GeForce RTX 5090", "12.0", 32607, "00000000:01:00.0", "0x2b85")
            ],
        ),
        ("--torch", "2.14.1"),
        refused(
            "no GPU build of torch 2.14.1",
            "needs NVIDIA driver >= 580.65.06",
            "--cuda 12.8 --torch 2.11.0",
            "--variant cu129 --torch 2.13.0",
            "--cpu",
        ),
    ),
    "a100-535": Case(
        Machine(
            "a100",
            driver="535.104.05",
            nvidia=[NvidiaGpu("NVIDIA A100-SXM4-80GB", "8.0", 81920, "00000000:07:00.0", "0x20b2")],
        ),
        (),
        both(chosen("2.14.1", "cu126"), reason("minor-version compatibility")),
    ),
    "gtx1080ti-580": Case(
        Machine(
            "pascal",
            driver="580.95.05",
            nvidia=[
                NvidiaGpu("NVIDIA GeForce GTX 1080 Ti", "6.1", 11264, "00000000:02:00.0", "0x1b06")
            ],
        ),
        (),
        both(
            chosen("2.14.1", "cu126"), reason("no kernels for NVIDIA GeForce GTX 1080 Ti (sm_61)")
        ),
    ),
    "gtx1080ti-plus-rtx3090": Case(
        Machine(
            "mixed-nvidia",
            driver="580.95.05",
            nvidia=[
                NvidiaGpu("NVIDIA GeForce GTX 1080 Ti", "6.1", 11264, "00000000:02:00.0", "0x1b06"),
                NvidiaGpu("NVIDIA GeForce RTX 3090", "8.6", 24576, "00000000:03:00.0", "0x2204"),
            ],
        ),
        (),
        chosen("2.14.1", "cu126"),
    ),
    "rx7900xtx-rocm": Case(
        Machine(
            "rx7900",
            pci=[("0000:03:00.0", "0x1002", "0x030000", "0x744c")],
            kfd_nodes=[KFD_7900],
            dev_kfd=True,
            rocm_version="7.2.0-43",
            tools={"rocminfo": ROCMINFO_7900, "rocm_agent_enumerator": "gfx000\ngfx1100\n"},
        ),
        (),
        both(
            chosen("2.14.1", "rocm7.14"),
            fact("amd gpu 0", "Radeon RX 7900 XTX (gfx1100)"),
            fact("rocm", "7.2.0"),
        ),
    ),
    "mi300x": Case(
        Machine(
            "mi300x",
            pci=[
                ("0000:0c:00.0", "0x1002", "0x120000", "0x74a1"),
                ("0000:22:00.0", "0x1002", "0x120000", "0x74a1"),
            ],
            kfd_nodes=[KFD_MI300X, KFD_MI300X],
            dev_kfd=True,
            rocm_version="7.14.0-1",
            tools={"amd-smi": sample("amd/amd-smi-list.json")},
        ),
        (),
        both(chosen("2.14.1", "rocm7.14"), fact("amd gpu 1", "gfx942")),
    ),
    "radeon-780m-igpu": Case(
        Machine(
            "780m",
            pci=[("0000:c4:00.0", "0x1002", "0x030000", "0x15bf")],
            kfd_nodes=[KFD_780M],
            dev_kfd=True,
            rocm_version="6.4.1-120",
            tools={"rocm-smi": sample("amd/rocm-smi-json-780m.json")},
        ),
        (),
        # the only GPU has no kernels in any ROCm build: not usable, so CPU, saying why
        both(
            chosen("2.15.0", "cpu"),
            reason("no ROCm build of torch has kernels for"),
            reason("HSA_OVERRIDE_GFX_VERSION=11.0.0"),
        ),
    ),
    "arc-a770": Case(
        Machine(
            "arc",
            pci=[("0000:03:00.0", "0x8086", "0x030000", "0x56a0")],
            tools={
                "xpu-smi": sample("intel/xpu-smi-discovery-a770.txt"),
                "sycl-ls": SYCL_L0_A770,
            },
        ),
        (),
        both(
            chosen("2.15.0", "xpu"), fact("intel gpu 0", "Intel(R) Arc(TM) A770 Graphics (arc-a)")
        ),
    ),
    "arc-a770-no-level-zero": Case(
        Machine(
            "arc-nol0",
            pci=[("0000:03:00.0", "0x8086", "0x030000", "0x56a0")],
            tools={"sycl-ls": sample("intel/sycl-ls-a770-no-level-zero.txt")},
        ),
        (),
        both(chosen("2.15.0", "cpu"), reason("Level Zero runtime is missing")),
    ),
    "jetson-orin-jp6": Case(
        Machine(
            "orin",
            tegra_release=sample("jetson/nv_tegra_release-r36.4.3.txt"),
            device_tree_model="NVIDIA Jetson AGX Orin Developer Kit",
        ),
        ("--target-platform", "linux-aarch64", "--target-python", "3.10"),
        both(chosen("2.8.0", "cu126"), fact("jetson", "JetPack 6 (L4T 36.4.3)")),
    ),
    "nvidia-plus-amd": Case(
        Machine(
            "nvidia-amd",
            driver="580.95.05",
            nvidia=[
                NvidiaGpu("NVIDIA GeForce RTX 3090", "8.6", 24576, "00000000:01:00.0", "0x2204")
            ],
            pci=[("0000:03:00.0", "0x1002", "0x030000", "0x744c")],
            kfd_nodes=[KFD_7900],
            dev_kfd=True,
            rocm_version="7.2.0",
        ),
        ("--torch", "2.14.1"),  # a release with a ROCm build too (2.15.0 has none)
        both(chosen("2.14.1", "cu130"), reason("rocm7.14 works, but cu130 is preferred")),
    ),
    "amd-without-driver": Case(
        Machine("amd-nodrv", pci=[("0000:03:00.0", "0x1002", "0x030000", "0x744c")]),
        (),
        both(chosen("2.15.0", "cpu"), reason("install the amdgpu driver")),
    ),
    "no-gpu": Case(
        Machine("none"),
        (),
        both(chosen("2.15.0", "cpu"), reason("no NVIDIA driver here")),
    ),
}


def test_the_matrix_covers_the_issue_s_machines() -> None:
    assert len(CASES) >= 14


@pytest.mark.skipif(NOT_RUN is not None, reason=f"NOT RUN: {NOT_RUN}")
@pytest.mark.parametrize("name", sorted(CASES))
def test_simulated_machine(name: str, tmp_path: Path, torchsetup_exe: str) -> None:
    case = CASES[name]
    root = write(case.machine, tmp_path / "machine")
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("CUDA_", "HSA_", "ROCR_", "HIP_"))
    }
    args = ["install", "--dry-run", "--json", "--python", sys.executable, *case.args]
    if "--target-python" in case.args:
        args.remove("--python")
        args.remove(sys.executable)
    r = run_in(root, [torchsetup_exe, *args], env)
    assert r.stdout, r.stderr
    doc = document(r.stdout, "install")
    case.check(doc)
    if doc["exit_code"] == 0 and case.machine.driver:
        calls = (root / "nvidia_smi_calls.log").read_text()
        assert "--query-gpu=" in calls  # the real probe asked the stand-in
        if case.machine.smi_rejects:
            assert "compute_cap" in calls.splitlines()[0]
            assert "compute_cap" not in calls.splitlines()[-1]  # retried without it
