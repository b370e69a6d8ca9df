"""nvidia-smi of pre-R510 drivers rejects ``compute_cap``: the parser and the builder still find
the driver and the GPUs, and the resolver takes the capability from the GPU name."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tests.unit.test_resolve import snapshot
from torchsetup.detect import build
from torchsetup.detect.parse import nvidia as pnv
from torchsetup.detect.probes.record import ProbeRecord, Snapshot
from torchsetup.errors import ResolutionError
from torchsetup.matrix.load import load_matrix
from torchsetup.resolve.request import parse_request
from torchsetup.resolve.resolver import effective_target, resolve

DATA = Path(__file__).resolve().parents[1] / "data" / "probes"
FIELDS_470 = tuple(f for f in pnv.SMI_QUERY_FIELDS if f != "compute_cap")
T4_CSV = (
    "index, name, uuid, driver_version, memory.total [MiB], memory.used [MiB], pci.bus_id, "
    "mig.mode.current\n"
    "0, Tesla T4, GPU-0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b, 470.256.02, 15109 MiB, 0 MiB, "
    "00000000:00:1E.0, [N/A]\n"
)


def test_rejected_field_is_read_from_the_real_message() -> None:
    text = (DATA / "nvidia-smi-r470-compute-cap-rejected.txt").read_text()
    assert pnv.rejected_smi_field(text) == "compute_cap"
    assert pnv.rejected_smi_field("NVIDIA-SMI has failed because it couldn't communicate") is None


def test_csv_without_compute_cap_parses_with_the_fields_asked() -> None:
    rows = pnv.parse_smi_query_csv(T4_CSV, FIELDS_470)
    assert rows[0]["name"] == "Tesla T4"
    assert rows[0]["driver_version"] == "470.256.02"
    assert rows[0]["compute_capability"] is None
    assert rows[0]["memory_total_bytes"] == 15109 * 2**20


def _records(smi: dict[str, object]) -> Snapshot:
    recs = {
        "nvidia-proc": ProbeRecord("nvidia-proc", ok=True, duration_s=0, data={"gpus": {}}),
        "pci": ProbeRecord("pci", ok=True, duration_s=0, data={"available": False}),
        "nvml": ProbeRecord(
            "nvml", ok=False, duration_s=0, data={}, error="nvidia-ml-py not importable: x"
        ),
        "nvidia-smi": ProbeRecord("nvidia-smi", ok=True, duration_s=0, data=smi),
    }
    return Snapshot(records=recs)


def test_builder_finds_driver_and_gpu_when_compute_cap_was_dropped() -> None:
    snap = _records(
        {
            "path": "/usr/bin/nvidia-smi",
            "stdout": T4_CSV,
            "stderr": "",
            "returncode": 0,
            "fields": list(FIELDS_470),
            "rejected_fields": ["compute_cap"],
        }
    )
    nv = build.build_nvidia(snap, None)
    assert (nv.status, nv.driver_version, nv.source) == ("ok", "470.256.02", "nvidia-smi")
    assert [g.name for g in nv.gpus] == ["Tesla T4"] and nv.gpus[0].compute_capability is None


def test_nvidia_smi_present_but_failing_is_unknown_not_no_driver() -> None:
    text = (DATA / "nvidia-smi-r470-compute-cap-rejected.txt").read_text()
    rec = ProbeRecord(
        "nvidia-smi",
        ok=False,
        duration_s=0,
        data={"path": "/usr/bin/nvidia-smi", "stdout": text, "stderr": "", "returncode": 2},
        error="nvidia-smi failed: exit 2",
    )
    snap = _records({})
    snap.records["nvidia-smi"] = rec
    nv = build.build_nvidia(snap, None)
    assert nv.status == "error" and nv.driver_version is None
    env = dataclasses.replace(snapshot("linux-py311-nodriver"), nvidia=nv)
    with pytest.raises(ResolutionError, match="will not choose the CPU build silently"):
        resolve(env, parse_request(), load_matrix())
    assert resolve(env, parse_request(cpu=True), load_matrix()).variant == "cpu"


def test_capability_from_the_gpu_name_when_the_probe_has_none() -> None:
    env = snapshot("t4-driver470")
    nv = dataclasses.replace(
        env.nvidia,
        gpus=tuple(dataclasses.replace(g, compute_capability=None) for g in env.nvidia.gpus),
    )
    env = dataclasses.replace(env, nvidia=nv)
    target = effective_target(env, parse_request(target_python="3.10"))
    assert [g.text for g in target.gpus] == ["7.5"] and target.gpus[0].from_name
    assert any("GPU name table" in f.source for f in target.facts)
    plan = resolve(env, parse_request(target_python="3.10"), load_matrix())
    assert (plan.torch, plan.variant) == ("2.7.1", "cu118")
    assert not any("compute capability unknown" in w for w in plan.warnings)
