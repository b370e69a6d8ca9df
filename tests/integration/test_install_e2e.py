"""End to end with real parts only: a PEP 503/691 index on 127.0.0.1 serving the real torch
2.13.0 CPU wheel and its dependencies, real venvs, real pip and uv, a real import of torch.

The plans are the ones the resolver makes for
``torchsetup install --cpu --torch 2.13.0 --venv DIR --index-url http://127.0.0.1:PORT/simple --yes``
(built by hand in tests/helpers/install_driver.py, so the executor is tested on its own; the
installed command itself is tested end to end in test_install_cli.py).
"""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import pytest
from rich.console import Console

from tests.helpers.index import IndexServer
from tests.helpers.install_driver import (
    BEFORE,
    TORCH,
    install_cpu,
    pip_list,
    prepare_env,
    restore_cli,
)
from tests.helpers.recording import SpyRunner
from torchsetup.detect.target import venv_python
from torchsetup.install.session import InstallResult
from torchsetup.install.targets import find_uv

pytestmark = pytest.mark.slow


def install(
    venv: Path,
    index: IndexServer,
    env: dict[str, str],
    *,
    method: str = "pip",
    runner: SpyRunner | None = None,
) -> tuple[InstallResult, str]:
    out = io.StringIO()
    result = install_cpu(
        venv, index.url, env, method=method, runner=runner, console=Console(file=out, width=300)
    )
    return result, out.getvalue()


def torch_version(python: Path, env: dict[str, str]) -> str:
    out = subprocess.run(
        [str(python), "-c", "import torch; print(torch.__version__)"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("method", ["pip", "uv"])
def test_install_into_new_venv_then_the_same_again_changes_nothing(
    method: str, tmp_path: Path, index: IndexServer, env: dict[str, str]
) -> None:
    venv = tmp_path / f"{method}-env"
    first, out = install(venv, index, env, method=method)
    assert first.exit_code == 0 and first.status == "installed", out
    assert first.verify_ok is True and f"(torch {TORCH}+cpu)" in first.verify_message
    assert torch_version(Path(venv_python(str(venv))), env) == f"{TORCH}+cpu"
    assert [s.id for s in first.steps] == ["create-venv", "install"]
    assert any(p.endswith(".whl") and "torch-2.13.0" in p for p in index.downloads())

    index.requests.clear()
    spy = SpyRunner()
    second, out = install(venv, index, env, method=method, runner=spy)
    assert second.exit_code == 0 and second.status == "already-satisfied", out
    assert not spy.ran_pip(), f"pip/uv ran the second time: {spy.argvs}"
    assert index.requests == [], "the second run asked the index for something"
    assert second.steps == (), "a satisfied plan has no steps"
    assert f"already satisfied: torch {TORCH}+cpu" in second.log_path.read_text()
    assert second.restore_file is None and second.verify_ok is True

    # The first run's restore file takes the new venv back to what it held when created.
    assert first.restore_file is not None
    recorded = json.loads(first.restore_file.read_text())
    assert recorded["created_venv"] is True
    restored = restore_cli(first.restore_file, env)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert installed(venv, env) == {(p["name"], p["version"]) for p in recorded["packages"]}


def installed(venv: Path, env: dict[str, str]) -> set[tuple[str, str]]:
    """(canonical name, version) of every distribution in ``venv`` (with or without pip in it)."""
    uv = find_uv(env)
    assert uv is not None
    out = subprocess.run(
        [uv, "pip", "list", "--python", venv_python(str(venv)), "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    return {(d["name"].lower().replace("_", "-"), d["version"]) for d in json.loads(out.stdout)}


def test_install_into_an_existing_env_replaces_conflicts_and_restore_puts_it_back(
    tmp_path: Path, index: IndexServer, env: dict[str, str]
) -> None:
    venv = tmp_path / "existing-env"
    python = prepare_env(venv, index.url, env)
    before = pip_list(python, env)
    assert {"six", "torchtriton", "typing_extensions"} <= {d["name"] for d in before}

    result, out = install(venv, index, env)
    assert result.exit_code == 0, out
    assert [s.id for s in result.steps] == ["uninstall-conflicts", "install"]
    assert "torchtriton" in result.steps[0].description
    after = {d["name"]: d["version"] for d in pip_list(python, env)}
    assert (
        after["torch"] == f"{TORCH}+cpu"
        and "torchtriton" not in after
        and after["typing_extensions"] != "4.9.0"
    )
    assert result.restore_file is not None

    # the install's index is for torch packages only (torchtriton); typing-extensions comes
    # from pip's own configuration, here the machine's mirror (issue 15, item 11)
    restored = restore_cli(result.restore_file, {**env, "PIP_INDEX_URL": index.url})
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert pip_list(python, env) == before
    assert set(BEFORE) <= {f"{d['name'].replace('_', '-')}=={d['version']}" for d in before}
