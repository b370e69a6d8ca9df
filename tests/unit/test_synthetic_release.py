"""Acceptance of "one place per fact": a release added to a copy of the data only (torch 2.99.0
with a new CUDA variant cu140 and its driver row, a new Python 3.15, a companion pair) is listed
by ``matrix``, planned by ``install --dry-run``, judged by doctor's rules and accepted by verify's
expectations, with no code change. The copy is chosen with ``TORCHSETUP_MATRIX``."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.helpers import envs, synthetic
from tests.helpers.result import unwrap
from tests.helpers.synthetic import CUDA, DRIVER, INDEX, PYTHON, TORCH, TORCHVISION, VARIANT
from torchsetup.cli import run
from torchsetup.detect.model import Environment
from torchsetup.doctor import run_rules
from torchsetup.matrix import lookups
from torchsetup.matrix.load import MATRIX_ENV, MatrixError, load_matrix
from torchsetup.verify.judge import judge, parse_expectations
from torchsetup.verify.model import FAIL, PASS, CheckResult, VerifyOptions


@pytest.fixture
def synthetic_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv(MATRIX_ENV, str(synthetic.write_matrix(tmp_path)))
    load_matrix.cache_clear()
    yield tmp_path
    load_matrix.cache_clear()  # the next test sees the packaged matrix again


def _run(argv: list[str]) -> tuple[int, str, str]:
    try:
        runner = CliRunner(mix_stderr=False)  # type: ignore[call-arg]  # click < 8.2
    except TypeError:
        runner = CliRunner()
    with runner.isolation() as streams:
        code = run(argv)
        return code, streams[0].getvalue().decode(), streams[1].getvalue().decode()


def test_the_copy_is_what_loads(synthetic_data: Path) -> None:
    matrix = load_matrix()
    assert matrix.releases[0].torch == TORCH
    row = matrix.cuda_row(VARIANT)
    assert row is not None and row.linux_min_driver == synthetic.MIN_DRIVER
    assert matrix.dynamo.min_torch(PYTHON) == "2.99"


def test_listed_by_matrix(synthetic_data: Path) -> None:
    code, out, err = _run(["matrix", "--torch", TORCH, "--json"])
    assert code == 0, err
    (release,) = unwrap(out)["releases"]
    assert release["torch"] == TORCH and release["torchvision"] == TORCHVISION
    assert VARIANT in json.dumps(release)
    code, table, err = _run(["matrix"])
    assert code == 0, err
    assert TORCH in table and VARIANT in table


def test_planned_by_install_dry_run(synthetic_data: Path) -> None:
    snapshot = synthetic.write_snapshot(synthetic_data)
    code, out, err = _run(["install", "--dry-run", "--snapshot", str(snapshot), "--json"])
    assert code == 0, err
    plan = unwrap(out)["plan"]
    assert (plan["torch"], plan["variant"], plan["torchvision"]) == (TORCH, VARIANT, TORCHVISION)
    assert plan["index_url"] == INDEX


def test_the_new_python_is_planned(synthetic_data: Path) -> None:
    snapshot = synthetic.write_snapshot(synthetic_data, python=f"{PYTHON}.0")
    code, out, err = _run(["install", "--dry-run", "--snapshot", str(snapshot), "--json"])
    assert code == 0, err
    plan = unwrap(out)["plan"]
    assert (plan["torch"], plan["variant"], plan["python_version"]) == (TORCH, VARIANT, PYTHON)


def test_the_new_driver_row_is_applied(synthetic_data: Path) -> None:
    """With the R580 driver of the real H200, cu140 (needs >= 610) is refused, by its row."""
    snapshot = synthetic.write_snapshot(synthetic_data, driver="580.159.04", driver_cuda="13.0")
    code, _, err = _run(
        ["install", "--dry-run", "--snapshot", str(snapshot), "--torch", TORCH, "--cuda", CUDA]
    )
    assert code == 2
    assert f"CUDA {CUDA} builds need NVIDIA driver >= {synthetic.MIN_DRIVER}" in err, err


def _h200_with_new_driver() -> Environment:
    return envs.with_nvidia(envs.h200(), driver_version=DRIVER, cuda_driver_version=CUDA)


def test_doctor_judges_a_mismatched_companion(synthetic_data: Path) -> None:
    env = envs.with_installed_torch(_h200_with_new_driver(), f"{TORCH}+{VARIANT}", CUDA)
    healthy = envs.with_dist(env, "torchvision", TORCHVISION)
    findings, crashed = run_rules(healthy)
    assert not crashed and "TS011" not in {f.id for f in findings}
    mismatched = envs.with_dist(env, "torchvision", "0.20.0")
    findings, crashed = run_rules(mismatched)
    assert not crashed
    (ts011,) = [f for f in findings if f.id == "TS011"]
    assert "torchvision 0.20.0 belongs to torch 2.5" in ts011.detail
    assert TORCH in ts011.detail


def test_doctor_judges_a_gpu_the_new_arch_list_lacks(synthetic_data: Path) -> None:
    assert lookups.arch_list(TORCH, VARIANT, "linux-x86_64") == (
        "sm_90",
        "sm_100f",
        "sm_120",
        "sm_140",
    )
    env = envs.with_installed_torch(_h200_with_new_driver(), f"{TORCH}+{VARIANT}", CUDA)
    assert "TS006" not in {f.id for f in run_rules(env)[0]}  # the H200 (9.0) is in the list
    a100 = envs.with_nvidia(env, gpus=(envs.gpu("NVIDIA A100-SXM4-80GB", "8.0"),))
    findings, crashed = run_rules(a100)
    assert not crashed
    (ts006,) = [f for f in findings if f.id == "TS006"]
    assert "sm_80" in ts006.detail
    assert "sm_90 sm_100f sm_120 sm_140 (from the published cu140 wheels of torch 2.99.0)" in (
        ts006.detail
    )
    b300 = envs.with_nvidia(env, gpus=(envs.gpu("NVIDIA B300", "10.3"),))
    ids = {f.id for f in run_rules(b300)[0]}
    assert "TS005" not in ids and "TS006" not in ids  # family 10.0f kernels run on 10.3


def _smoke_facts(capability: list[int]) -> list[CheckResult]:
    build = {
        "version": f"{TORCH}+{VARIANT}",
        "cuda": CUDA,
        "hip": None,
        "xpu": None,
        "debug": False,
        "arch_list": list(lookups.arch_list(TORCH, VARIANT, "linux-x86_64") or ()),
        "cudnn": 91000,
        "nccl": "2.30.1",
        "python": f"{PYTHON}.0",
        "file": "/venv/lib/python3.15/site-packages/torch/__init__.py",
    }
    device = {
        "name": "cuda:0",
        "kind": "cuda",
        "model": "GPU",
        "capability": capability,
        "gcn_arch": None,
        "total_memory": 2**36,
    }
    gpu = {
        "cuda_available": True,
        "warnings": [],
        "cuda_visible_devices": None,
        "devices": [device],
    }
    return [
        CheckResult("import", PASS, 3.0, "torch"),
        CheckResult("build", PASS, data={"torch": build}),
        CheckResult("gpu", PASS, data=gpu),
    ]


def test_verify_accepts_the_new_variant(synthetic_data: Path) -> None:
    expect = parse_expectations(torch=TORCH, cuda=CUDA, variant=VARIANT)
    checks, info = judge(_smoke_facts([9, 0]), VerifyOptions(require_gpu=True, expect=expect))
    assert info is not None and info.version == f"{TORCH}+{VARIANT}"
    by_name = {c.name: c for c in checks}
    assert {n: by_name[n].status for n in by_name if n.startswith("expect")} and all(
        c.status == PASS for c in checks
    ), [(c.name, c.status, c.detail) for c in checks]
    checks, _ = judge(_smoke_facts([10, 3]), VerifyOptions(expect=expect))
    assert all(c.status == PASS for c in checks)  # family 10.0f kernels run on 10.3


def test_verify_fails_a_gpu_the_new_arch_list_lacks(synthetic_data: Path) -> None:
    expect = parse_expectations(variant=VARIANT)
    checks, _ = judge(_smoke_facts([8, 6]), VerifyOptions(expect=expect))
    (arch,) = [c for c in checks if c.name.endswith(".arch")]
    assert arch.status == FAIL and "sm_86" in arch.detail


def test_a_broken_copy_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = synthetic.synthetic_matrix()
    data["releases"][0]["variants"][VARIANT]["advertized"] = True
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    monkeypatch.setenv(MATRIX_ENV, str(path))
    load_matrix.cache_clear()
    try:
        with pytest.raises(
            MatrixError, match=rf"releases\[{TORCH}\]\.variants\.{VARIANT}\.advertized"
        ):
            load_matrix()
        monkeypatch.setenv(MATRIX_ENV, str(tmp_path / "missing.json"))
        load_matrix.cache_clear()
        with pytest.raises(MatrixError, match=r"missing\.json"):
            load_matrix()
    finally:
        load_matrix.cache_clear()


def test_no_code_names_the_synthetic_release() -> None:
    root = Path(__file__).resolve().parents[2] / "src" / "torchsetup"
    for path in root.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "2.99" not in text and "cu140" not in text, path
    assert dataclasses.is_dataclass(load_matrix())
