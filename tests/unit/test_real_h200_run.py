"""torchsetup's own outputs from a real H200 run (tests/data/real/h200-torchsetup-run), replayed."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from tests.conftest import DATA
from tests.helpers.result import recorded_result
from torchsetup.detect.model import environment_from_dict
from torchsetup.detect.snapshot import load_environment
from torchsetup.doctor import diagnose

RUN = DATA / "real" / "h200-torchsetup-run"


def test_replayed_snapshot_has_the_h200_facts() -> None:
    env = load_environment(str(RUN / "snapshot.json"))
    nv = env.nvidia
    assert (nv.status, nv.source, nv.driver_version, nv.cuda_driver_version) == (
        "ok",
        "nvml",
        "580.159.04",
        "13.0",
    )
    assert [(g.name, g.compute_capability) for g in nv.gpus] == [("NVIDIA H200", "9.0")]
    assert nv.gpus[0].memory_total_bytes == 150754820096
    assert nv.kernel_module_version == "580.159.04"
    py = env.python
    assert py is not None and py.ok and py.version == "3.12.3" and py.env_kind == "venv"
    assert (
        py.torch is not None and py.torch.version == "2.11.0+cu130" and py.torch.variant == "cu130"
    )
    # the marker file is in the base interpreter's stdlib; PEP 668 exempts the venv
    assert py.externally_managed is False
    assert env.toolkit.nvcc_full_version == "13.0.88"
    assert env.resources.logical_cpus == 16


def test_replayed_snapshot_diagnoses_like_the_machine_did() -> None:
    env = load_environment(str(RUN / "snapshot.json"))
    report = diagnose(env)
    recorded = recorded_result((RUN / "doctor.json").read_text())
    assert report.exit_code() == 0
    assert [f.id for f in report.findings] == [f["id"] for f in recorded["findings"]]
    recorded_status = {c["key"]: c["status"] for c in recorded["categories"]}
    # categories added since the recording (vendors: AMD, Intel & Jetson; the LLM "stack") are
    # new, not changed
    assert {c.key: c.status for c in report.categories if c.key in recorded_status} == (
        recorded_status
    )
    assert {c.key for c in report.categories} - set(recorded_status) <= {"vendors", "stack"}


def test_deep_facts_show_the_bundled_cudnn_was_loaded() -> None:
    recorded = recorded_result((RUN / "doctor_deep.json").read_text())
    env = environment_from_dict(recorded["environment"])
    deep = env.deep
    assert deep is not None and deep.cuda_available and deep.device_count == 1
    assert deep.cudnn_version == 91900
    cudnn = [lib.path for lib in deep.libraries or () if lib.name.startswith("libcudnn.so")]
    assert cudnn and "site-packages/nvidia/cudnn" in cudnn[0]  # not the system cuDNN 9.14
    assert diagnose(env).errors == 0


def test_verify_on_the_h200_passed_every_check() -> None:
    data = recorded_result((RUN / "verify.json").read_text())
    assert data["ok"] is True
    statuses = {c["name"]: c["status"] for c in data["checks"]}
    for name in (
        "import",
        "gpu",
        "cuda:0.arch",
        "cuda:0.matmul",
        "cuda:0.conv",
        "cuda:0.compile",
        "cuda:0.train",
    ):
        assert statuses[name] == "pass", name
    junit = ET.parse(RUN / "verify_junit.xml").getroot()
    suite = junit if junit.tag == "testsuite" else junit.find("testsuite")
    assert suite is not None and suite.get("failures") == "0"


def test_dry_run_on_the_h200_picks_cu130() -> None:
    plan = recorded_result((RUN / "install_dry_run.json").read_text())["plan"]
    assert plan["variant"] == "cu130"
    assert plan["index_url"] == "https://download.pytorch.org/whl/cu130"
    assert "--extra-index-url" not in plan["steps"][-1]["argv"]
