"""doctor --fleet on recorded node outputs: the real H200 capture and altered copies of it.

The copies (tests/helpers/fleet.py) are made from tests/data/real/h200-torchsetup-run/doctor.json, each with
one change a real fleet has: another driver, a GPU missing, a CPU torch on one node; the
snapshot and the capture folder of the same machine stand for nodes probed differently.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.fleet import (
    CAPTURE,
    H200,
    Alter,
    a_gpu_missing,
    another_driver,
    cpu_torch,
    write_fleet,
)
from tests.helpers.result import unwrap
from torchsetup.cli import run
from torchsetup.doctor.fleet import (
    FLEET_SCHEMA,
    NOT_INSTALLED,
    compare,
    cudnn_text,
    load_nodes,
    majority,
    render_json,
    render_text,
)
from torchsetup.errors import SnapshotError


def fact(report: Any, key: str) -> Any:
    return next(f for f in report.facts if f.key == key)


def test_identical_nodes_do_not_drift(tmp_path: Path) -> None:
    folder = write_fleet(tmp_path, {"gpu01": None, "gpu02": None, "gpu03": None})
    report = compare(load_nodes([str(folder)]))
    assert [n.name for n in report.nodes] == ["gpu01", "gpu02", "gpu03"]
    assert report.drifted == ()
    assert report.exit_code(strict=True) == 0
    assert fact(report, "driver").majority == "580.159.04"
    assert fact(report, "torch").majority == "2.11.0+cu130"
    assert fact(report, "cudnn").majority == "9.19.0"
    assert fact(report, "nccl").majority == "2.28.9"
    assert fact(report, "gpu_model").majority == "NVIDIA H200"


def test_another_driver_a_missing_gpu_and_a_cpu_torch_are_each_named(tmp_path: Path) -> None:
    folder = write_fleet(
        tmp_path,
        {
            "gpu01": None,
            "gpu02": None,
            "gpu03": another_driver,
            "gpu04": a_gpu_missing,
            "gpu05": cpu_torch,
        },
    )
    report = compare(load_nodes([str(folder)]))
    drift = {f.key: f.drift for f in report.drifted}
    assert drift["driver"] == ("gpu03",)
    assert drift["cuda_max"] == ("gpu03",)
    assert drift["gpu_count"] == ("gpu04",)
    assert drift["gpu_model"] == ("gpu04",)
    assert drift["torch"] == ("gpu05",)
    assert drift["torch_build"] == ("gpu05",)
    assert "nccl" not in drift  # no NCCL wheel on the CPU node: unknown there, not a drift
    assert fact(report, "nccl").values["gpu05"] is None
    assert fact(report, "torch").values["gpu05"] == "2.11.0+cpu"
    assert fact(report, "gpu_count").values["gpu04"] == "0"
    assert report.exit_code(strict=True) == 1
    assert report.exit_code(strict=False) == 0


def test_the_text_table_marks_each_drifting_value(tmp_path: Path) -> None:
    folder = write_fleet(tmp_path, {"gpu01": None, "gpu02": None, "gpu03": another_driver})
    out = io.StringIO()
    render_text(compare(load_nodes([str(folder)])), out)
    text = out.getvalue()
    driver = next(ln for ln in text.splitlines() if ln.startswith("NVIDIA driver"))
    assert driver.split() == [
        "NVIDIA",
        "driver",
        "580.159.04",
        "580.159.04",
        "580.159.04",
        "570.172.08",
        "*",
    ]
    assert "NVIDIA driver: majority 580.159.04; gpu03 (570.172.08)" in text
    assert "\x1b[" not in text  # not a terminal: no colour


def test_json_for_dashboards(tmp_path: Path) -> None:
    folder = write_fleet(tmp_path, {"gpu01": None, "gpu02": None, "gpu03": cpu_torch})
    out = io.StringIO()
    render_json(compare(load_nodes([str(folder)])), out)
    doc = json.loads(out.getvalue())
    assert doc["schema"] == FLEET_SCHEMA
    assert doc["drift"] is True
    assert "torch" in doc["drifted"]
    torch = next(f for f in doc["facts"] if f["key"] == "torch")
    assert torch["values"] == {
        "gpu01": "2.11.0+cu130",
        "gpu02": "2.11.0+cu130",
        "gpu03": "2.11.0+cpu",
    }
    assert torch["drift"] == ["gpu03"]


def test_the_versioned_envelope_and_raw_output_are_both_read(tmp_path: Path) -> None:
    folder = write_fleet(tmp_path, {"gpu01": None, "gpu02": None}, wrap={"gpu02"})
    report = compare(load_nodes([str(folder / "gpu01.json"), str(folder / "gpu02.json")]))
    assert [n.name for n in report.nodes] == ["gpu01", "gpu02"]
    assert report.drifted == ()


def test_an_envelope_of_another_command_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "verify.json"
    other.write_text(json.dumps({"schema": 1, "command": "verify", "result": {}}))
    with pytest.raises(SnapshotError, match="holds the JSON of `torchsetup verify`, not doctor's"):
        load_nodes([str(other), str(H200 / "doctor.json")])


def test_a_snapshot_a_capture_folder_and_doctor_json_of_one_machine(tmp_path: Path) -> None:
    nodes = load_nodes([str(H200 / "doctor.json"), str(H200 / "snapshot.json"), str(CAPTURE)])
    assert [n.name for n in nodes] == [
        "vm:doctor",
        "vm:snapshot",
        "vm:h200-ubuntu24.04-driver580-torch2.11cu130",
    ]
    report = compare(nodes)
    for key in ("driver", "cuda_max", "gpu_model", "gpu_count", "torch", "python", "nccl"):
        assert fact(report, key).drift == (), key
    # The capture folder has NVML's ECC mode, the others did not record it: unknown, no drift.
    ecc = fact(report, "ecc")
    assert ecc.values["vm:h200-ubuntu24.04-driver580-torch2.11cu130"] == "on"
    assert ecc.values["vm:doctor"] is None
    assert ecc.drift == ()


def test_llm_packages_appear_when_any_node_has_them(tmp_path: Path) -> None:
    def with_vllm(env: dict[str, Any]) -> None:
        env["python"]["distributions"].append({"name": "vllm", "version": "0.14.0"})

    folder = write_fleet(tmp_path, {"gpu01": with_vllm, "gpu02": with_vllm, "gpu03": None})
    report = compare(load_nodes([str(folder)]))
    vllm = fact(report, "pkg:vllm")
    assert vllm.majority == "0.14.0"
    assert vllm.values["gpu03"] == NOT_INSTALLED
    assert vllm.drift == ("gpu03",)
    assert all(f.key != "pkg:deepspeed" for f in report.facts)


def test_majority() -> None:
    assert majority(["a", "a", "b"]) == "a"
    assert majority(["a", "b"]) is None
    assert majority([None, None]) is None
    assert majority([None, "x"]) == "x"


def test_cudnn_text() -> None:
    assert cudnn_text(91900) == "9.19.0"
    assert cudnn_text(8902) == "8.9.2"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fleet", "/nonexistent/a.json", "/nonexistent/b.json"], "no such file or folder"),
        (["--fleet", str(H200 / "doctor.json")], "needs at least two nodes' outputs, got 1"),
        (["--fleet", str(H200 / "doctor.json"), "--deep"], "cannot be combined with --deep"),
        ([str(H200 / "doctor.json")], "unexpected argument"),
        (["--fleet", str(H200 / "bench.txt"), str(H200 / "doctor.json")], "is not valid JSON"),
    ],
)
def test_bad_fleet_usage_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code = run(["doctor", *args])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_the_cli_exits_1_with_strict_on_drift(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_fleet(tmp_path, {"gpu01": None, "gpu02": None, "gpu03": a_gpu_missing})
    assert run(["doctor", "--fleet", str(folder)]) == 0
    assert "GPUs: majority 1; gpu03 (0)" in capsys.readouterr().out
    assert (
        run(
            [
                "doctor",
                "--fleet",
                str(folder / "gpu01.json"),
                str(folder / "gpu03.json"),
                str(folder / "gpu02.json"),
                "--strict",
                "--json",
            ]
        )
        == 1
    )
    doc = unwrap(capsys.readouterr().out, "doctor")
    assert doc["schema"] == FLEET_SCHEMA
    assert [n["name"] for n in doc["nodes"]] == ["gpu01", "gpu03", "gpu02"]


def test_a_split_fleet_has_no_majority_and_says_so(tmp_path: Path) -> None:
    folder = write_fleet(tmp_path, {"gpu01": None, "gpu02": another_driver})
    report = compare(load_nodes([str(folder)]))
    driver = fact(report, "driver")
    assert driver.majority is None
    assert driver.drift == ("gpu01", "gpu02")
    assert "NVIDIA driver: no majority (570.172.08, 580.159.04)" in report.notes
    out = io.StringIO()
    render_text(report, out)
    assert "NVIDIA driver: majority none; gpu01 (580.159.04), gpu02 (570.172.08)" in out.getvalue()
    assert "note: NVIDIA driver: no majority" in out.getvalue()


def test_a_wide_fleet_shows_the_majority_and_how_many_differ(tmp_path: Path) -> None:
    changes: dict[str, Alter | None] = {f"gpu{i:02d}": None for i in range(1, 11)}
    changes["gpu07"] = another_driver
    report = compare(load_nodes([str(write_fleet(tmp_path, changes))]))
    out = io.StringIO()
    render_text(report, out)
    text = out.getvalue()
    assert text.startswith("torchsetup doctor --fleet: 10 nodes (every value per node: --json)")
    assert "gpu01" not in text.split("drift")[0]  # no per-node columns
    driver = next(ln for ln in text.splitlines() if ln.startswith("NVIDIA driver "))
    assert driver.split() == ["NVIDIA", "driver", "580.159.04", "(1", "of", "10", "differ)"]
    assert "NVIDIA driver: majority 580.159.04; gpu07 (570.172.08)" in text
