"""verify on a real NVIDIA GPU (marked gpu: reported NOT RUN where there is none).

Runs where torchsetup is not pip-installed: ``PYTHONPATH=src python -m pytest tests/gpu``.
So torchsetup is started as ``sys.executable -m torchsetup`` with src on PYTHONPATH, and the
target is this same interpreter (``--python sys.executable``), which has torch installed.
One full run (all checks, --distributed, expectations read from torch/version.py without
importing torch) feeds most tests; a second, quick run is what ``install`` does afterwards.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.result import unwrap

pytestmark = pytest.mark.gpu

SRC = Path(__file__).resolve().parents[2] / "src"
GPU_CHECKS = ("matmul", "conv", "memory", "compile", "arch")


def torch_cuda_version() -> str:
    """torch.version.cuda read from torch/version.py (this process never imports torch)."""
    spec = importlib.util.find_spec("torch")
    assert spec is not None and spec.submodule_search_locations, "torch is not installed here"
    text = (Path(next(iter(spec.submodule_search_locations))) / "version.py").read_text()
    m = re.search(r"^cuda\b[^=\n]*= '([\d.]+)'", text, re.MULTILINE)
    assert m, "this torch is not a CUDA build"
    return m.group(1)


def torchsetup(*args: str, cache: Path, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TORCHSETUP_CACHE_DIR": str(cache),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])),
    }
    return subprocess.run(
        [sys.executable, "-m", "torchsetup", "verify", "--python", sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("torchsetup-cache")


@pytest.fixture(scope="module")
def full(cache: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    cuda = torch_cuda_version()
    junit = tmp_path_factory.mktemp("junit") / "verify.xml"
    variant = "cu" + "".join(cuda.split(".")[:2])
    proc = torchsetup(
        "--require-gpu",
        "--distributed",
        "--json",
        "--junit-xml",
        str(junit),
        "--expect-cuda",
        cuda,
        "--expect-variant",
        variant,
        cache=cache,
    )
    assert proc.stdout, proc.stderr
    doc = unwrap(proc.stdout, "verify")
    return {
        "proc": proc,
        "doc": doc,
        "junit": junit,
        "checks": {c["name"]: c for c in doc["checks"]},
    }


def failures(doc: dict[str, Any]) -> list[str]:
    return [
        f"{c['name']}: {c['detail']} | fix: {c['hint']}"
        for c in doc["checks"]
        if c["status"] == "fail"
    ]


def devices(full: dict[str, Any]) -> list[dict[str, Any]]:
    return [d for d in full["doc"]["torch"]["devices"] if d["kind"] in ("cuda", "rocm")]


def test_everything_passes_with_a_gpu_required(full: dict[str, Any]) -> None:
    assert full["proc"].returncode == 0, failures(full["doc"])
    assert full["doc"]["ok"] is True
    assert full["checks"]["gpu"]["status"] == "pass"
    assert full["checks"]["expect.cuda"]["status"] == "pass"
    assert full["checks"]["expect.variant"]["status"] == "pass"
    assert [c for c in full["doc"]["checks"] if c["status"] == "not run"] == []


def test_every_gpu_is_checked(full: dict[str, Any]) -> None:
    gpus = devices(full)
    assert gpus, "torch saw no CUDA device"
    for gpu in gpus:
        for kind in GPU_CHECKS:
            check = full["checks"][f"{gpu['name']}.{kind}"]
            assert check["status"] == "pass", check


def test_compute_capability_is_in_the_arch_list(full: dict[str, Any]) -> None:
    torch = full["doc"]["torch"]
    for gpu in devices(full):
        major, minor = gpu["capability"]
        arch = full["checks"][f"{gpu['name']}.arch"]["data"]
        assert arch["device"] == f"sm_{major}{minor}"
        assert arch["match"] in torch["arch_list"]


def test_matmul_tolerances_per_precision(full: dict[str, Any]) -> None:
    for gpu in devices(full):
        results = full["checks"][f"{gpu['name']}.matmul"]["data"]["matmul"]
        assert results["fp32"]["rel_err"] <= 1e-5
        assert results["tf32"]["rel_err"] <= 1e-2
        assert results["fp16"]["rel_err"] <= 5e-3
        if gpu["capability"][0] >= 8:  # Ampere and newer do bf16
            assert 0 < results["bf16"]["rel_err"] <= 3e-2
        for label, r in results.items():
            assert r["rel_err"] <= r["tol"], label


def test_cudnn_convolution_and_the_libraries_loaded(full: dict[str, Any]) -> None:
    conv = full["checks"]["cuda:0.conv"]
    assert conv["detail"].startswith("cuDNN ")
    assert max(conv["data"]["rel_err"].values()) <= conv["data"]["tol"]
    libcudnn = conv["data"]["libraries"].get("libcudnn")
    assert libcudnn and Path(libcudnn).exists()


def test_memory_and_compile_on_the_gpu(full: dict[str, Any]) -> None:
    memory = full["checks"]["cuda:0.memory"]["data"]
    assert 0 < memory["free"] <= memory["total"]
    compiled = full["checks"]["cuda:0.compile"]["data"]
    assert compiled["backend"] == "inductor"
    assert max(compiled["rel_err"].values()) <= 1e-3
    assert Path(compiled["cache_dir"]).is_dir()


def test_training_step_in_mixed_precision(full: dict[str, Any]) -> None:
    [name] = [n for n in full["checks"] if n.endswith(".train")]
    assert name == "cuda:0.train"
    data = full["checks"][name]["data"]
    expected = "bf16 autocast" if devices(full)[0]["capability"][0] >= 8 else "fp16 autocast"
    assert data["precision"].startswith(expected)
    assert data["final_loss"] < 0.8 * data["initial_loss"]
    assert data["peak_memory"] > 0
    assert data["peak_memory_kind"] == "peak allocated"
    assert data["tokens_per_s"] > 0


def test_torchvision_ops_on_the_gpu_when_installed(full: dict[str, Any]) -> None:
    check = full["checks"].get("torchvision")
    if importlib.util.find_spec("torchvision") is None:
        assert check is None
        return
    assert check is not None
    assert check["status"] == "pass", check
    assert "cuda:0" in check["detail"]


def test_distributed_picks_nccl_only_with_a_gpu_per_rank(full: dict[str, Any]) -> None:
    check = full["checks"]["distributed"]
    assert check["status"] == "pass", check
    ranks = check["data"]["ranks"]
    assert [r["rank"] for r in ranks] == [0, 1]
    if len(devices(full)) >= 2:
        assert {r["backend"] for r in ranks} == {"nccl"}
    else:
        assert {r["backend"] for r in ranks} == {"gloo"}
        assert "NCCL needs one GPU per rank" in ranks[0]["why"]


def test_junit_has_no_failures(full: dict[str, Any]) -> None:
    suite = ET.parse(full["junit"]).getroot().find("testsuite")
    assert suite is not None
    assert suite.get("failures") == "0"
    assert suite.get("skipped") == "0"


def test_quick_check_with_a_gpu_required(cache: Path) -> None:
    proc = torchsetup("--quick", "--require-gpu", "--json", cache=cache, timeout=300)
    doc = unwrap(proc.stdout, "verify")
    assert proc.returncode == 0, failures(doc)
    names = [c["name"] for c in doc["checks"]]
    assert "cuda:0.tensor" in names
    assert "cuda:0.arch" in names


def test_cpu_compile_ran_beside_the_gpu_checks(full: dict[str, Any]) -> None:
    """On a GPU box cpu.compile runs in its own process (split_cpu_compile): still one result,
    in the plan's place, passing."""
    names = [c["name"] for c in full["doc"]["checks"]]
    assert names.count("cpu.compile") == 1
    assert full["checks"]["cpu.compile"]["status"] == "pass"
    first_gpu_compile = next(
        i for i, n in enumerate(names) if n.startswith("cuda:") and n.endswith(".compile")
    )
    assert names.index("cpu.compile") == first_gpu_compile - 1


def test_bandwidth_on_this_node(cache: Path) -> None:
    """The single-node bandwidth parts: NCCL with a GPU per rank (and then a promise from
    NVLink or PCIe to compare with), gloo otherwise; figures in --json either way."""
    proc = torchsetup("--quick", "--bandwidth", "--require-gpu", "--json", cache=cache)
    doc = unwrap(proc.stdout, "verify")
    checks = {c["name"]: c for c in doc["checks"]}
    bandwidth = checks["bandwidth"]
    rows = bandwidth["data"]["rows"]
    assert rows and all(r["busbw_gbps"] > 0 for r in rows), bandwidth
    backends = {r["backend"] for r in rows}
    if len(devices({"doc": doc})) >= 2:
        assert backends == {"nccl"}
        assert max(r["bytes"] for r in rows) == 2**30
        assert bandwidth["data"]["summary"][0]["promise_gbps"], bandwidth["data"]["topology"]
    else:
        assert backends == {"gloo"}
    assert bandwidth["status"] == "pass", bandwidth["detail"]
