"""Installs that fail, for real: a corrupted wheel, an index that goes away mid-download, Ctrl-C
mid-download, and an index without a wheel for this Python. Each starts from an environment that
already held packages (six, torchtriton, an old typing-extensions); the install's conflict step
removes torchtriton before the failing step, so there is something to put back, and
``torchsetup restore FILE`` (the real module in a real process) must give back exactly the
``pip list`` of before.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from rich.console import Console

from tests.helpers.index import IndexServer
from tests.helpers.install_driver import install_cpu, pip_list, prepare_env, restore_cli
from torchsetup.errors import EXIT_INTERRUPTED, EXIT_STEP_FAILED, EXIT_USAGE
from torchsetup.install.session import InstallResult

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
MB = 1_000_000


@pytest.fixture
def existing(
    tmp_path: Path, index: IndexServer, env: dict[str, str]
) -> tuple[Path, list[dict[str, str]]]:
    venv = tmp_path / "existing-env"
    python = prepare_env(venv, index.url, env)
    index.requests.clear()
    return venv, pip_list(python, env)


def install(venv: Path, index: IndexServer) -> tuple[InstallResult, str]:
    out = io.StringIO()
    result = install_cpu(venv, index.url, dict(os.environ), console=Console(file=out, width=300))
    return result, out.getvalue()


def names(python: Path, env: dict[str, str]) -> set[str]:
    return {d["name"] for d in pip_list(python, env)}


def assert_reported(result: InstallResult, out: str) -> None:
    assert result.failed_step is not None and result.failed_step.id == "install"
    assert "step 2/2 'install' (Install torch 2.13.0 (cpu))" in out
    assert result.log_path.is_file() and f"log: {result.log_path}" in out
    assert result.restore_file is not None and f"torchsetup restore {result.restore_file}" in out


def test_corrupted_wheel_exit_3_and_restore(
    index: IndexServer, env: dict[str, str], existing: tuple[Path, list[dict[str, str]]]
) -> None:
    venv, before = existing
    index.corrupt("torch")
    result, out = install(venv, index)
    assert result.exit_code == EXIT_STEP_FAILED and result.status == "failed", out
    assert_reported(result, out)
    assert (
        "DO NOT MATCH THE HASHES" in out
        and "DO NOT MATCH THE HASHES" in result.log_path.read_text()
    )
    assert [s.status for s in result.steps] == ["ok", "failed"]
    assert "torchtriton" not in names(venv / "bin" / "python", env)

    restored = restore_cli(result.restore_file, env)  # type: ignore[arg-type]
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert pip_list(venv / "bin" / "python", env) == before


def test_index_gone_mid_download_exit_3_and_restore_from_another_index(
    wheelhouse: Path,
    index: IndexServer,
    env: dict[str, str],
    existing: tuple[Path, list[dict[str, str]]],
) -> None:
    venv, before = existing
    index.throttle("torch", 20 * MB)
    index.stop_during("torch", 30 * MB)
    result, out = install(venv, index)
    assert index.stopped.is_set()
    assert result.exit_code == EXIT_STEP_FAILED, out
    assert_reported(result, out)

    with IndexServer(wheelhouse) as again:
        restored = restore_cli(result.restore_file, env, "--index-url", again.url)  # type: ignore[arg-type]
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert pip_list(venv / "bin" / "python", env) == before


def _alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def _using(folder: Path) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        if any(str(folder) in part for part in p.info["cmdline"] or ()):
            found.append(p)
    return _alive(found)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_sigint_mid_download_exit_130_children_stopped_and_restore(
    sig: int,
    index: IndexServer,
    env: dict[str, str],
    existing: tuple[Path, list[dict[str, str]]],
) -> None:
    """Ctrl-C, and SIGTERM handled like it (issue 15, item 10: SIGTERM gave 143, no message,
    no restore hint, no result line, and pip went on as an orphan)."""
    venv, before = existing
    index.throttle("torch", 2 * MB)
    config = json.dumps({"venv": str(venv), "index_url": index.url})
    driver = subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.install_driver", config],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert index.wait_for_bytes("torch", 3 * MB, timeout=180), (
            "the torch download never started"
        )
        children = psutil.Process(driver.pid).children(recursive=True)
        assert any("pip" in " ".join(c.cmdline()) for c in children), [
            c.cmdline() for c in children
        ]
        driver.send_signal(sig)
        out, _ = driver.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        driver.send_signal(signal.SIGUSR1)  # faulthandler: the stacks of the hung driver
        time.sleep(2)
        driver.kill()
        out, _ = driver.communicate()
        raise AssertionError(f"the install did not stop after Ctrl-C; its stacks:\n{out}") from None
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.communicate()
    assert driver.returncode == EXIT_INTERRUPTED, out
    assert _alive(children) == [] and _using(venv) == [], "a child of the install survived Ctrl-C"
    assert "interrupted during 'install'; its processes were stopped" in out
    log = re.search(r"log: (\S+\.log)", out)
    assert log, out
    assert "== result: interrupted" in Path(log.group(1)).read_text()
    match = re.search(r"torchsetup restore (\S+\.json)", out)
    assert match, out
    assert index.bytes_sent("torch") < 150 * MB, "the download went on after Ctrl-C"

    restored = restore_cli(Path(match.group(1)), env)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert pip_list(venv / "bin" / "python", env) == before


def test_index_without_a_wheel_for_this_python_refused_before_any_change(
    index: IndexServer, env: dict[str, str], existing: tuple[Path, list[dict[str, str]]]
) -> None:
    venv, before = existing
    index.list_only(
        "torch", [f"torch-2.13.0+cpu-cp3{m}-cp3{m}-manylinux_2_28_x86_64.whl" for m in (10, 12)]
    )
    result, out = install(venv, index)
    assert result.exit_code == EXIT_USAGE and result.status == "refused", out
    assert "has torch 2.13.0 for cp310, cp312 on manylinux_2_28_x86_64; your Python is cp311" in out
    assert result.restore_file is None and result.steps == ()
    assert index.downloads() == [] and pip_list(venv / "bin" / "python", env) == before


def test_restore_after_an_install_interrupted_while_extracting(
    tmp_path: Path, wheelhouse: Path, env: dict[str, str]
) -> None:
    """Issue 15, item 11: an install stopped while pip extracted torch leaves ``torch/`` (no
    dist-info) and a newer setuptools. restore left the folders and then failed: it asked the
    torch index for setuptools. Now it removes them, showing what, and takes setuptools from
    pip's own configuration (here PIP_INDEX_URL: the machine's mirror)."""
    from tests.helpers.venvs import TORCH_PYTHON, create_venv
    from torchsetup.detect.probes.python_target import probe_python
    from torchsetup.install.preflight import Source
    from torchsetup.install.restore import record_from_python, write_record
    from torchsetup.proc import ProcRunner

    python = create_venv(tmp_path / "fresh-env", TORCH_PYTHON)
    state = probe_python(str(python), runner=ProcRunner(), env=env)
    setuptools_before = state.dist("setuptools")
    assert setuptools_before is not None and state.purelib
    torch_only = tmp_path / "torch-index"  # like download.pytorch.org/whl/cpu: torch's projects
    torch_only.mkdir()
    for wheel in wheelhouse.glob("torch*.whl"):
        os.link(wheel, torch_only / wheel.name)
    with IndexServer(torch_only) as torch_index, IndexServer(wheelhouse) as mirror:
        record = record_from_python(
            state,
            method="pip",
            source=Source(index_url=torch_index.url),
            plan="torch 2.13.0 (cpu)",
            created_venv=False,
        )
        restore_file = write_record(record, tmp_path)
        # what the interrupted install did: a newer setuptools, torch half extracted
        newer = next(
            w.name.split("-")[1]
            for w in wheelhouse.glob("setuptools-*.whl")
            if w.name.split("-")[1] != setuptools_before.version
        )
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", f"setuptools=={newer}"],
            check=True,
            env={**env, "PIP_INDEX_URL": mirror.url},
            timeout=300,
        )
        site = Path(state.purelib)
        (site / "torch" / "lib").mkdir(parents=True)
        (site / "torch" / "__init__.py").write_text("")
        (site / "torch" / "lib" / "libtorch_cpu.so").write_bytes(b"\0" * 4096)
        (site / "torchgen").mkdir()

        restored = restore_cli(restore_file, {**env, "PIP_INDEX_URL": mirror.url})
        requested = [r.path for r in torch_index.requests]
    out = restored.stdout + restored.stderr
    assert restored.returncode == 0, out
    assert "Remove package folders left by an interrupted install" in out
    assert str(site / "torch") in out and str(site / "torchgen") in out
    assert not (site / "torch").exists() and not (site / "torchgen").exists()
    now = {d["name"]: d["version"] for d in pip_list(python, env)}
    assert now["setuptools"] == setuptools_before.version
    assert not any("setuptools" in p for p in requested), requested  # never the torch index
