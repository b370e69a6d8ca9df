"""Tried as a new user would: the CPU torch plus the Hugging Face set, then ``verify --stack``.

    torchsetup install --cpu --stack llm --venv V --yes
    torchsetup verify --stack --python V/bin/python

torch 2.13.0 (CPU) comes from the local test index (``--torch 2.13.0 --index-url``, the same
wheel the other install tests use); the stack's packages come from real PyPI through a pip cache
kept under the test cache (``stack-pip-cache``), so a warm run downloads nothing. Where pypi.org
is unreachable the test reports "NOT RUN: ..." (a skip), never a pass.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.index import IndexServer
from tests.helpers.result import unwrap
from tests.helpers.venvs import cache_root, isolated_pip_env, venv_python
from tests.helpers.wheelhouse import cached_wheelhouse

pytestmark = [pytest.mark.slow, pytest.mark.online]


def _pypi_reachable() -> bool:
    try:
        with urllib.request.urlopen("https://pypi.org/simple/peft/", timeout=15) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="module")
def index() -> Iterator[IndexServer]:
    with IndexServer(cached_wheelhouse()) as server:
        yield server


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    yield isolated_pip_env(
        TORCHSETUP_CACHE_DIR=str(tmp_path / "cache"),
        PIP_CACHE_DIR=str(cache_root() / "stack-pip-cache"),
        UV_NO_CACHE="1",
    )
    shutil.rmtree(tmp_path / "venv", ignore_errors=True)  # torch + the stack: ~1 GB


def test_cpu_torch_with_the_llm_stack_installs_and_verifies(
    torchsetup_exe: str, index: IndexServer, env: dict[str, str], tmp_path: Path
) -> None:
    if not _pypi_reachable():
        pytest.skip(
            "NOT RUN: pypi.org is unreachable from this machine (the stack comes from PyPI)"
        )
    venv = tmp_path / "venv"
    args = ["--cpu", "--stack", "llm", "--venv", str(venv), "--yes"]
    local = ["--torch", "2.13.0", "--index-url", index.url]  # torch from the test index
    planned = subprocess.run(
        [torchsetup_exe, "install", *args, *local, "--dry-run", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert planned.returncode == 0, planned.stderr[-2000:]
    plan = unwrap(planned.stdout, "install")
    pins = {c["name"]: c["version"] for c in plan["stack"]["choices"]}
    assert pins["transformers"] == "5.23.0" and pins["peft"] == "0.21.2"

    installed = subprocess.run(
        [torchsetup_exe, "install", *args, *local],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    assert installed.returncode == 0, installed.stdout[-4000:] + installed.stderr[-2000:]
    python = venv_python(venv)
    constraints = venv / "torchsetup-stack-constraints.txt"
    assert "torch==2.13.0" in constraints.read_text().split()
    versions = subprocess.run(
        [
            str(python),
            "-c",
            (
                "import json, importlib.metadata as m; print(json.dumps({n: m.version(n) for n in "
                "('torch', 'transformers', 'peft', 'accelerate', 'datasets', 'tokenizers', "
                "'safetensors')}))"
            ),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    have = json.loads(versions.stdout)
    assert have["torch"] == "2.13.0+cpu", "a stack install replaced the torch build"
    assert have["transformers"] == "5.23.0" and have["peft"] == "0.21.2"

    verified = subprocess.run(
        [torchsetup_exe, "verify", "--stack", "--python", str(python), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    result = unwrap(verified.stdout, "verify")
    checks = {c["name"]: c for c in result["checks"]}
    assert verified.returncode == 0, [
        (n, c["status"], c["detail"]) for n, c in checks.items() if c["status"] == "fail"
    ]
    for name in (
        "stack.versions",
        "stack.tokenizers",
        "stack.datasets",
        "stack.gpt2",
        "stack.accelerate",
        "stack.peft",
        "stack.safetensors",
    ):
        assert checks[name]["status"] == "pass", (name, checks[name]["detail"])
    gpt2 = checks["stack.gpt2"]["data"]
    assert gpt2["eval_loss_after"] < gpt2["eval_loss_before"]
    assert gpt2["perplexity"] > 1
