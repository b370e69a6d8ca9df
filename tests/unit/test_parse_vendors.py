"""AMD / Intel / Jetson parsers and builders on real output (tests/data/probes/*, each with a
.source file saying where it came from)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from torchsetup.detect.build_vendors import build_amd, build_intel, build_jetson
from torchsetup.detect.model import Environment, environment_from_dict, environment_to_dict
from torchsetup.detect.parse import vendors as pv
from torchsetup.detect.probes.record import ProbeRecord, Snapshot

DATA = Path(__file__).resolve().parents[1] / "data" / "probes"


def text(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def test_every_probe_sample_names_its_source() -> None:
    samples = [p for p in DATA.rglob("*") if p.is_file() and p.suffix != ".source"]
    assert len(samples) >= 12
    for sample in samples:
        source = sample.with_suffix(".source")
        assert source.is_file(), f"{sample.name} has no .source"
        assert "http" in source.read_text() or "docs" in source.read_text()


@pytest.mark.parametrize(
    ("value", "gfx"),
    [(110000, "gfx1100"), (90402, "gfx942"), (90010, "gfx90a"), (110003, "gfx1103"), (0, None)],
)
def test_gfx_from_kfd_target_version(value: int, gfx: str | None) -> None:
    assert pv.gfx_from_target_version(value) == gfx


def test_kfd_properties_of_a_real_7900xtx() -> None:
    gpu = pv.kfd_gpu(text("amd/kfd-properties-rx7900xtx.txt"))
    assert gpu is not None
    assert (gpu["gfx"], gpu["device_id"], gpu["vendor_id"]) == ("gfx1100", "0x744c", 4098)
    assert pv.kfd_gpu("cpu_cores_count 16\nsimd_count 0\ngfx_target_version 0\n") is None


def test_rocminfo_gpu_agents_only() -> None:
    agents = pv.parse_rocminfo(text("amd/rocminfo-rx7900xtx.txt"))
    assert agents == [{"gfx": "gfx1100", "name": "Radeon RX 7900 XTX"}]


def test_rocm_agent_enumerator_drops_the_cpu_agent() -> None:
    assert pv.parse_rocm_agent_enumerator(text("amd/rocm_agent_enumerator-gfx1100.txt")) == [
        "gfx1100"
    ]


def test_rocm_smi_product_json_normalises_gfx9010_to_gfx90a() -> None:
    (card,) = pv.parse_rocm_smi_json(text("amd/rocm-smi-showproductname-mi250x.json"))
    assert card["gfx"] == "gfx90a"
    assert card["name"] == "AMD INSTINCT MI200 (MCM) OAM LC MBA HPE C2"
    (igpu,) = pv.parse_rocm_smi_json(text("amd/rocm-smi-json-780m.json"))
    assert (igpu["name"], igpu["device_id"], igpu["gfx"]) == ("Phoenix3", "0x1900", None)


def test_amd_smi_list_json() -> None:
    rows = pv.parse_amd_smi_list_json(text("amd/amd-smi-list.json"))
    assert [r["pci_bus_id"] for r in rows] == ["0000:0c:00.0", "0000:22:00.0"]


def test_rocm_version_from_the_info_file_and_hipconfig() -> None:
    assert pv.parse_rocm_version(text("amd/opt-rocm-info-version.txt")) == "6.4.1"
    assert pv.parse_rocm_version("6.4.43483-a187df25c") == "6.4"


def test_xpu_smi_discovery_both_layouts() -> None:
    (a770,) = pv.parse_xpu_smi_discovery(text("intel/xpu-smi-discovery-a770.txt"))
    assert a770["name"] == "Intel(R) Arc(TM) A770 Graphics"
    assert (a770["device_id"], a770["type"]) == ("0x56a0", "Discrete GPU")
    (mtl,) = pv.parse_xpu_smi_discovery(text("intel/xpu-smi-discovery-table-meteorlake.txt"))
    assert (mtl["name"], mtl["device_id"]) == ("Intel(R) Arc(TM) Graphics", "0x7d55")
    assert pv.intel_xpu_family(a770["name"], a770["device_id"]) == "arc-a"
    assert pv.intel_xpu_family(mtl["name"], mtl["device_id"]) == "core-ultra"
    assert pv.intel_xpu_family("Intel(R) UHD Graphics 630", "0x3e92") is None


def test_sycl_ls_gpu_lines_and_their_backend() -> None:
    gpus = pv.parse_sycl_ls(text("intel/sycl-ls-a770-no-level-zero.txt"))
    assert gpus == [{"backend": "opencl", "name": "Intel(R) Arc(TM) A770 Graphics"}]


def test_nv_tegra_release_and_jetpack() -> None:
    l4t = pv.parse_nv_tegra_release(text("jetson/nv_tegra_release-r36.4.3.txt"))
    assert l4t == "36.4.3" and pv.jetpack_for_l4t(l4t) == "6"
    model = pv.clean_device_tree_string(text("jetson/device-tree-model-agx-orin.txt"))
    assert model == "NVIDIA Jetson AGX Orin Developer Kit"
    assert pv.jetson_capability(model) == "8.7"


def snap(**records: dict[str, Any]) -> Snapshot:
    return Snapshot(
        records={k: ProbeRecord(k, ok=True, data=v) for k, v in records.items()}, source="test"
    )


def tool(stdout: str) -> dict[str, Any]:
    return {"path": "/opt/rocm/bin/x", "returncode": 0, "stdout": stdout}


def test_amd_builder_prefers_the_kernel_topology_and_names_from_rocminfo() -> None:
    amd = build_amd(
        snap(
            amd={
                "kfd_nodes": {
                    "0": "cpu_cores_count 16\nsimd_count 0\ngfx_target_version 0\n",
                    "1": text("amd/kfd-properties-rx7900xtx.txt"),
                },
                "dev_kfd": True,
                "dev_kfd_rw": False,
                "uid": 1000,
                "groups": ["users"],
                "pci": {
                    "available": True,
                    "devices": [{"bus": "0000:03:00.0", "device": "0x744c"}],
                },
                "rocm_version_file": {"path": "/opt/rocm/.info/version", "text": "6.4.1-120\n"},
                "tools": {"rocminfo": tool(text("amd/rocminfo-rx7900xtx.txt"))},
            }
        )
    )
    assert amd is not None and amd.status == "ok"
    assert amd.gfx_targets == ("gfx1100",) and amd.gpus[0].name == "Radeon RX 7900 XTX"
    assert amd.rocm_version == "6.4.1" and amd.gpu_access is False  # not in render/video
    assert amd.gpus[0].pci_bus_id == "0000:03:00.0" and amd.gpus[0].integrated is False


def test_amd_gpu_without_rocm_is_found_on_the_pci_bus() -> None:
    amd = build_amd(
        snap(
            amd={
                "pci": {"available": True, "devices": [{"bus": "0000:c4:00.0", "device": "0x15bf"}]}
            }
        )
    )
    assert amd is not None and amd.status == "no-runtime"
    assert amd.gpus[0].gfx == "gfx1103" and amd.gpus[0].integrated is True


def test_intel_builder_without_level_zero() -> None:
    intel = build_intel(
        snap(
            intel={
                "pci": {
                    "devices": [{"bus": "0000:03:00.0", "class": "0x030000", "device": "0x56a0"}]
                },
                "level_zero": False,
                "tools": {"sycl-ls": tool(text("intel/sycl-ls-a770-no-level-zero.txt"))},
            }
        )
    )
    assert intel is not None and intel.status == "no-runtime"
    assert intel.gpus[0].name == "Intel(R) Arc(TM) A770 Graphics"
    assert intel.gpus[0].device_id == "0x56a0" and intel.gpus[0].integrated is False


def test_jetson_builder_and_not_a_jetson() -> None:
    jetson = build_jetson(
        snap(
            jetson={
                "nv_tegra_release": text("jetson/nv_tegra_release-r36.4.3.txt"),
                "model": text("jetson/device-tree-model-agx-orin.txt"),
            }
        )
    )
    assert jetson is not None and (jetson.l4t, jetson.jetpack, jetson.compute_capability) == (
        "36.4.3",
        "6",
        "8.7",
    )
    assert (
        build_jetson(snap(jetson={"nv_tegra_release": None, "model": "QEMU Virtual Machine"}))
        is None
    )


def test_old_snapshots_without_vendor_records_load_as_unknown() -> None:
    assert build_amd(snap()) is None and build_intel(snap()) is None
    old = environment_to_dict(Environment())
    for key in ("amd", "intel", "jetson"):
        old.pop(key, None)
    env = environment_from_dict(old)
    assert env.amd is None and env.intel is None and env.jetson is None


def test_rocm_smi_decimal_stepping_spellings() -> None:
    # `rocm-smi --showhw` on an RX 7600 XT prints "gfx11002" for gfx1102 and "gfx1036" for the
    # Raphael iGPU (ROCm/legacy-rocm-build#4380); rocm_smi_lib#159 shows gfx9010 for gfx90a
    assert pv.normalise_gfx("gfx11002") == "gfx1102"
    assert pv.normalise_gfx("gfx1036") == "gfx1036"
    assert pv.normalise_gfx("gfx9010") == "gfx90a"
    assert pv.normalise_gfx("N/A") is None


def test_a_capture_folder_with_rocminfo_plans_rocm(tmp_path: Path) -> None:
    from torchsetup.detect.snapshot import load_environment
    from torchsetup.matrix.load import load_matrix
    from torchsetup.resolve.request import parse_request
    from torchsetup.resolve.resolver import resolve

    (tmp_path / "uname.txt").write_text("Linux box 6.8.0-45-generic #45 SMP x86_64 GNU/Linux\n")
    (tmp_path / "ldd_version.txt").write_text("ldd (Ubuntu GLIBC 2.39-0ubuntu8) 2.39\n")
    (tmp_path / "rocminfo.txt").write_text(text("amd/rocminfo-rx7900xtx.txt"))
    (tmp_path / "rocm_version.txt").write_text(text("amd/opt-rocm-info-version.txt"))
    (tmp_path / "nv_tegra_release.txt").write_text(text("jetson/nv_tegra_release-r36.4.3.txt"))
    env = load_environment(str(tmp_path))
    assert env.amd is not None and env.amd.gfx_targets == ("gfx1100",)
    assert env.amd.rocm_version == "6.4.1" and env.jetson is not None
    (tmp_path / "nv_tegra_release.txt").unlink()
    env = load_environment(str(tmp_path))
    plan = resolve(env, parse_request(target_python="3.12"), load_matrix())
    assert plan.variant.startswith("rocm")
