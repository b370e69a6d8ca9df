"""verify against a real torch 2.13.0 CPU venv: every CPU check passes, and the contract holds.

The expensive full run happens once, through the installed console script as users run it;
the tests below read its JSON and JUnit output. Cheaper variations go through CliRunner or
the Python API. The inductor cache lives under the tests' cache folder, not the user's.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.helpers import venvs
from tests.helpers.result import unwrap
from torchsetup.cli import cli
from torchsetup.verify.judge import parse_expectations
from torchsetup.verify.model import VerifyOptions
from torchsetup.verify.runner import run_verify

pytestmark = pytest.mark.slow

CPU_CHECKS = [
    "import",
    "build",
    "expect.torch",
    "expect.variant",
    "gpu",
    "cpu.math",
    "cpu.autograd",
    "cpu.compile",
    "cpu.train",
    "distributed",
]


@pytest.fixture(scope="session")
def verify_cache() -> Path:
    path = venvs.cache_root() / "torchsetup-cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


OTHER_CACHES = ("TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR")


@pytest.fixture(autouse=True)
def own_cache(monkeypatch: pytest.MonkeyPatch, verify_cache: Path) -> None:
    monkeypatch.setenv("TORCHSETUP_CACHE_DIR", str(verify_cache))
    for var in OTHER_CACHES:  # a user's own cache settings would win over torchsetup's
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def full_run(
    torchsetup_exe: str,
    torch_python: Path,
    verify_cache: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    """`torchsetup verify --distributed --json --junit-xml` through the console script."""
    junit = tmp_path_factory.mktemp("junit") / "verify.xml"
    env = {k: v for k, v in os.environ.items() if k not in OTHER_CACHES}
    env["TORCHSETUP_CACHE_DIR"] = str(verify_cache)
    proc = subprocess.run(
        [
            torchsetup_exe,
            "verify",
            "--python",
            str(torch_python),
            "--distributed",
            "--expect-torch",
            ">=2.13,<2.14",
            "--expect-variant",
            "cpu",
            "--json",
            "--junit-xml",
            str(junit),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        check=False,
    )
    return {"proc": proc, "doc": unwrap(proc.stdout, "verify"), "junit": junit}


def checks_of(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in doc["checks"]}


def test_every_cpu_check_passes(full_run: dict[str, Any]) -> None:
    proc, doc = full_run["proc"], full_run["doc"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert doc["ok"] is True
    assert [c["name"] for c in doc["checks"]] == CPU_CHECKS
    statuses = {name: c["status"] for name, c in checks_of(doc).items()}
    assert statuses == {**dict.fromkeys(CPU_CHECKS, "pass"), "gpu": "not run"}
    assert checks_of(doc)["gpu"]["detail"] == "no GPU: torch 2.13.0+cpu is a CPU build"


def test_build_facts(full_run: dict[str, Any]) -> None:
    torch = full_run["doc"]["torch"]
    assert (torch["version"], torch["variant"], torch["cuda"], torch["devices"]) == (
        "2.13.0+cpu",
        "cpu",
        None,
        [],
    )
    assert torch["python"].startswith("3.11.")
    assert 0 < torch["import_seconds"] < 60


def test_numerics_against_references(full_run: dict[str, Any]) -> None:
    checks = checks_of(full_run["doc"])
    assert checks["cpu.math"]["data"]["matmul_rel_err"] < 1e-5
    assert checks["cpu.autograd"]["data"]["max_err"] < 1e-10


def test_inductor_compiles_on_the_cpu_into_our_cache(
    full_run: dict[str, Any], verify_cache: Path
) -> None:
    data = checks_of(full_run["doc"])["cpu.compile"]["data"]
    assert data["backend"] == "inductor"
    assert data["compile_seconds"] > 0
    assert max(data["rel_err"].values()) < 1e-3
    assert data["cache_dir"] == str(verify_cache / "inductor" / "torch-2.13.0_cpu-py311")
    assert data["fxgraph_cache_hit"] + data["fxgraph_cache_miss"] >= 2  # forward and backward
    assert any(Path(data["cache_dir"]).iterdir())


def test_the_training_loss_falls(full_run: dict[str, Any]) -> None:
    data = checks_of(full_run["doc"])["cpu.train"]["data"]
    assert data["final_loss"] < 0.8 * data["initial_loss"]
    assert data["initial_loss"] > 4.0  # starts near ln(256): it really learned something
    assert data["steps"] == 20
    assert data["tokens_per_s"] > 0
    assert data["peak_memory"] > 100 * 2**20
    assert data["precision"] == "fp32"


def test_distributed_gloo_all_reduce(full_run: dict[str, Any]) -> None:
    check = checks_of(full_run["doc"])["distributed"]
    assert check["detail"].startswith(
        "torchrun, 2 local ranks, gloo: all_reduce, all_gather, broadcast, barrier exact on all 2"
    )
    ranks = check["data"]["ranks"]
    assert [r["rank"] for r in ranks] == [0, 1]
    assert all(r["ok"] and r["backend"] == "gloo" for r in ranks)
    assert check["data"]["verdict"] == {
        "ok": True,
        "world_size": 2,
        "failed": [],
        "missing": [],
        "joined_but_silent": [],
        "failures": {},
    }
    rows = check["data"]["rows"]
    assert {(r["rank"], r["check"]) for r in rows} >= {(0, "all_reduce"), (1, "barrier")}


def test_junit_parses(full_run: dict[str, Any]) -> None:
    suite = ET.parse(full_run["junit"]).getroot().find("testsuite")
    assert suite is not None
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert list(cases) == CPU_CHECKS
    assert cases["gpu"].find("skipped") is not None
    assert suite.get("failures") == "0"


def invoke(python: Path, *args: str) -> Any:
    return CliRunner().invoke(
        cli, ["verify", "--python", str(python), *args], catch_exceptions=False
    )


def test_require_gpu_fails_and_says_why(torch_python: Path) -> None:
    result = invoke(torch_python, "--quick", "--require-gpu", "--json")
    assert result.exit_code == 1
    gpu = checks_of(unwrap(result.output, "verify"))["gpu"]
    assert gpu["status"] == "fail"
    assert gpu["detail"] == "no GPU: torch 2.13.0+cpu is a CPU build (--require-gpu)"
    assert "download.pytorch.org/whl/cu" in gpu["hint"]


def test_expecting_a_cuda_variant_fails_on_the_cpu_build(torch_python: Path) -> None:
    result = invoke(torch_python, "--quick", "--expect-variant", "cu130", "--json")
    assert result.exit_code == 1
    check = checks_of(unwrap(result.output, "verify"))["expect.variant"]
    assert check["status"] == "fail"
    assert check["detail"] == "torch 2.13.0+cpu is a cpu build (expected cu130)"
    assert "whl/cu130" in check["hint"]


def test_quick_api_is_what_install_calls(torch_python: Path) -> None:
    result = run_verify(str(torch_python))
    assert result.ok
    assert [c.name for c in result.checks] == ["import", "build", "gpu", "cpu.tensor"]
    assert result.torch is not None
    assert result.torch.variant == "cpu"
    drift = run_verify(str(torch_python), VerifyOptions(expect=parse_expectations(torch="<2.13")))
    assert not drift.ok
    assert drift.exit_code == 1


def test_aot_eager_and_a_compiled_training_step(torch_python: Path) -> None:
    result = run_verify(
        str(torch_python),
        VerifyOptions(mode="full", compile="aot_eager", compile_train=True, train_steps=10),
    )
    assert result.ok, [c for c in result.checks if c.failed]
    compiled = result.check("cpu.compile")
    train = result.check("cpu.train")
    assert compiled is not None and train is not None
    assert compiled.data["backend"] == "aot_eager"
    assert "compiled (aot_eager)" in train.data["precision"]


def test_compile_off_is_not_run(torch_python: Path) -> None:
    result = run_verify(str(torch_python), VerifyOptions(mode="full", compile="off", train_steps=5))
    check = result.check("cpu.compile")
    assert check is not None
    assert (check.status, check.detail) == ("not run", "disabled (--compile off)")
    assert result.ok


def test_no_cxx_compiler_is_said_before_compiling(
    torch_python: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """torch.compile on the CPU with no compiler: failure #15, found before inductor runs."""
    monkeypatch.setenv("CXX", "no-such-compiler-xyz")
    result = run_verify(str(torch_python), VerifyOptions(mode="full", train_steps=5))
    check = result.check("cpu.compile")
    assert check is not None
    assert check.status == "fail"
    assert "no C++ compiler found (no-such-compiler-xyz is not on PATH)" in check.detail
    assert check.hint is not None and "apt install g++" in check.hint
    assert check.seconds < 5  # said up front, not after inductor tried


def test_torchsetup_never_imports_torch(torch_python: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "torchsetup",
            "verify",
            "--quick",
            "--python",
            str(torch_python),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    imported = re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", proc.stderr, re.MULTILINE)
    assert "torchsetup.verify.runner" in imported  # the trace covers verify's own code
    assert not [m for m in imported if m == "torch" or m.startswith("torch.")]


def test_cpu_compile_in_its_own_process_beside_the_rest(torch_python: Path) -> None:
    """What a GPU box does (split_cpu_compile), forced here on the CPU venv."""
    result = run_verify(str(torch_python), VerifyOptions(mode="full", train_steps=5), split=True)
    assert result.ok, [(c.name, c.detail) for c in result.checks if c.failed]
    names = [c.name for c in result.checks]
    assert names.count("cpu.compile") == 1
    assert names.index("cpu.compile") == names.index("cpu.train") - 1
    compiled = result.check("cpu.compile")
    assert compiled is not None and compiled.status == "pass"
    assert "forward+backward match eager" in compiled.detail
