"""The install engine and the drift guard, as users run them: the installed console script, a
real index on 127.0.0.1 (the torch 2.13.0 CPU wheel, its dependencies, and a stand-in package
that requires ``torch==2.12.0`` the way xformers pins one exact torch), real venvs, real pip
and uv, and one uv cache shared by the tests of this module (as by a user's venvs).

    torchsetup install --cpu --torch 2.13.0 --venv DIR --index-url http://127.0.0.1:PORT/simple --yes
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.index import IndexServer
from tests.helpers.result import unwrap
from tests.helpers.venvs import TORCH_PYTHON, create_venv, isolated_pip_env, venv_python
from tests.helpers.wheelhouse import drift_wheelhouse, same_size_wheel
from torchsetup.install.targets import find_uv

pytestmark = pytest.mark.slow

TORCH_WHEEL = "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"


def index_sha(lock: Path, name: str) -> str:
    """The sha256 the lock holds for ``name``'s wheel."""
    from torchsetup.resolve.lockfile import parse_pylock

    wheel = next(p.wheel for p in parse_pylock(lock.read_text()).packages if p.name == name)
    assert wheel is not None
    return wheel.sha256


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexServer]:
    with IndexServer(drift_wheelhouse(tmp_path_factory.mktemp("drift-wheels"))) as server:
        yield server


@pytest.fixture(scope="module")
def uv_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("uv-cache")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def env(tmp_path: Path, uv_cache: Path) -> Iterator[dict[str, str]]:
    """Isolated from the machine's pip configuration; uv's cache on (this module's own)."""
    yield isolated_pip_env(
        TORCHSETUP_CACHE_DIR=str(tmp_path / "cache"),
        PIP_NO_CACHE_DIR="1",
        UV_CACHE_DIR=str(uv_cache),
    )
    for big in tmp_path.glob("venv*"):  # ~750 MB each
        shutil.rmtree(big, ignore_errors=True)


def user_env(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """A user's later ``pip install``: pip reads its configuration files again (an empty
    PIP_CONFIG_FILE, not /dev/null, which would skip the venv's own pip.conf too)."""
    empty = tmp_path / "empty-pip.conf"
    empty.write_text("")
    return {**env, "PIP_CONFIG_FILE": str(empty), "HOME": str(tmp_path)}


def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=900)


def install(exe: str, env: dict[str, str], venv: Path, url: str, *extra: str) -> dict[str, Any]:
    res = run(
        [exe, "install", "--cpu", "--torch", "2.13.0", "--venv", str(venv), "--index-url", url]
        + ["--yes", "--json", *extra],
        env,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    data: dict[str, Any] = unwrap(res.stdout, "install")
    return data


def torch_dist(venv: Path, env: dict[str, str]) -> str:
    out = run(
        [str(venv_python(venv)), "-c", "import importlib.metadata as m; print(m.version('torch'))"],
        env,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def step_ids(data: dict[str, Any]) -> list[str]:
    return [s["id"] for s in data["result"]["steps"]]


# Counted in the target with PYTHONDONTWRITEBYTECODE=1 (as the env holds): the import reads
# .pyc files but writes none, so what it counts is what the install left.
COUNT_PYC = (
    "import os, sys, sysconfig; site = os.path.realpath(sysconfig.get_paths()['purelib']); "
    "import torch; mods = [m.__spec__ for m in list(sys.modules.values()) "
    "if getattr(m, '__spec__', None) and (m.__spec__.origin or '').endswith('.py') "
    "and os.path.realpath(m.__spec__.origin).startswith(site)]; "
    "print(len(mods), sum(os.path.isfile(s.cached) for s in mods))"
)


def compiled_on_import(venv: Path, env: dict[str, str]) -> tuple[int, int]:
    """(modules ``import torch`` loads from site-packages, how many of them have a .pyc)."""
    out = run([str(venv_python(venv)), "-c", COUNT_PYC], {**env, "PYTHONDONTWRITEBYTECODE": "1"})
    assert out.returncode == 0, out.stderr
    loaded, compiled = map(int, out.stdout.split())
    return loaded, compiled


def test_the_default_engine_is_uv_with_bytecode_and_a_second_venv_comes_from_the_cache(
    torchsetup_exe: str, index: IndexServer, env: dict[str, str], tmp_path: Path
) -> None:
    first = install(torchsetup_exe, env, tmp_path / "venv1", index.url)
    plan, result = first["plan"], first["result"]
    assert plan["method"] == "uv", "uv is found next to torchsetup's Python: the default engine"
    assert any("uv: the default engine" in r for r in first["reasons"])
    install_step = next(s for s in plan["steps"] if s["id"] == "install")
    assert Path(install_step["argv"][0]).name == "uv"
    assert "--compile-bytecode" not in install_step["argv"], "the bytecode step compiles"
    assert result["status"] == "installed" and result["verify_ok"] is True
    assert "(torch 2.13.0+cpu)" in result["verify_message"]
    assert step_ids(first) == ["create-venv", "install", "bytecode", "guard"]
    # every module the first `import torch` loads has its .pyc, and only those were compiled
    loaded, compiled = compiled_on_import(tmp_path / "venv1", env)
    assert loaded > 500 and compiled >= 0.98 * loaded, (loaded, compiled)
    site = next((tmp_path / "venv1" / "lib").glob("python3.*/site-packages"))
    sources = list((site / "torch").rglob("*.py"))
    written = list((site / "torch").rglob("__pycache__/*.pyc"))
    assert len(written) < 0.5 * len(sources), "not every module: what import torch loads"
    builds = list((tmp_path / "cache" / "bytecode").iterdir())
    assert len(builds) == 1 and len(list(builds[0].rglob("*.pyc"))) >= compiled - 5
    assert any(p.endswith(".whl") and "torch-2.13.0" in p for p in index.downloads())

    # The same build into a second venv: a copy out of uv's cache, no wheel from the index,
    # and the .pyc files copied out of torchsetup's (the import then compiles nothing).
    sent = index.bytes_sent("torch")
    index.requests.clear()
    second = install(torchsetup_exe, env, tmp_path / "venv2", index.url, "--no-verify")
    assert second["result"]["status"] == "installed"
    assert [p for p in index.downloads() if p.endswith(".whl")] == [], index.downloads()
    assert index.bytes_sent("torch") == sent
    assert torch_dist(tmp_path / "venv2", env) == "2.13.0+cpu"
    torch_init = next(
        (tmp_path / "venv2" / "lib").glob("python3.*/site-packages/torch/__init__.py")
    )
    assert os.stat(torch_init).st_nlink >= 2, "uv's default link mode: hard links from its cache"
    loaded2, compiled2 = compiled_on_import(tmp_path / "venv2", env)
    assert compiled2 >= 0.98 * loaded2
    log = Path(second["result"]["log_path"]).read_text()
    copied = re.search(
        r"bytecode: \d+ of the \d+ modules import torch loads have their \.pyc \((\d+) copied", log
    )
    assert copied and int(copied.group(1)) >= 0.9 * compiled, log[-2000:]


def test_bytecode_all_compiles_every_module_and_none_compiles_nothing(
    torchsetup_exe: str, index: IndexServer, env: dict[str, str], tmp_path: Path
) -> None:
    every = install(
        torchsetup_exe, env, tmp_path / "all", index.url, "--no-verify", "--bytecode", "all"
    )
    step = next(s for s in every["plan"]["steps"] if s["id"] == "install")
    assert "--compile-bytecode" in step["argv"] and "bytecode" not in step_ids(every)
    site = next((tmp_path / "all" / "lib").glob("python3.*/site-packages"))
    sources = list((site / "torch").rglob("*.py"))
    assert len(list((site / "torch").rglob("__pycache__/*.pyc"))) >= 0.95 * len(sources)
    shutil.rmtree(tmp_path / "all")

    nothing = install(
        torchsetup_exe, env, tmp_path / "none", index.url, "--no-verify", "--bytecode", "none"
    )
    assert step_ids(nothing) == ["create-venv", "install", "guard"]
    assert compiled_on_import(tmp_path / "none", env)[1] == 0


def standin_with_pip(venv: Path, url: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run([str(venv_python(venv)), "-m", "pip", "install", "standin", "--index-url", url], env)


def test_the_guard_holds_the_build_against_pip_and_uv_until_guard_off(
    torchsetup_exe: str, index: IndexServer, env: dict[str, str], tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    create_venv(venv, TORCH_PYTHON)  # a user's venv, with pip in it
    data = install(torchsetup_exe, env, venv, index.url, "--no-verify")
    assert step_ids(data) == ["install", "bytecode", "guard"]
    assert (venv / "torchsetup-constraints.txt").read_text().splitlines()[1:] == [
        "torch==2.13.0+cpu"
    ]
    status = run([torchsetup_exe, "guard", "status", "--venv", str(venv)], env)
    assert status.returncode == 0 and "guard on" in status.stdout, status.stdout + status.stderr

    user = user_env(env, tmp_path)
    pip = standin_with_pip(venv, index.url, user)
    assert pip.returncode != 0
    assert "ResolutionImpossible" in pip.stderr and "standin 1.0 depends on torch==2.12.0" in (
        pip.stdout + pip.stderr
    )
    assert torch_dist(venv, env) == "2.13.0+cpu"

    uv = find_uv(env)
    assert uv is not None
    activated = run(
        [
            "bash",
            "-c",
            f'. "{venv}/bin/activate" && "{uv}" pip install standin --index-url {index.url}',
        ],
        user,
    )
    assert activated.returncode != 0 and "No solution found" in activated.stderr, activated.stderr
    assert torch_dist(venv, env) == "2.13.0+cpu"

    off = run([torchsetup_exe, "guard", "off", "--venv", str(venv)], env)
    assert off.returncode == 0 and "guard off" in off.stdout, off.stdout + off.stderr
    assert not (venv / "pip.conf").exists()
    assert "UV_CONSTRAINT" not in (venv / "bin" / "activate").read_text()
    lifted = standin_with_pip(venv, index.url, user)
    assert lifted.returncode == 0, lifted.stdout[-2000:] + lifted.stderr[-2000:]
    assert torch_dist(venv, env) == "2.12.0", "without the guard, pip swaps the build"


def test_no_guard_leaves_the_build_unprotected(
    torchsetup_exe: str, index: IndexServer, env: dict[str, str], tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    create_venv(venv, TORCH_PYTHON)
    data = install(torchsetup_exe, env, venv, index.url, "--no-verify", "--no-guard")
    assert step_ids(data) == ["install", "bytecode"]
    assert not (venv / "pip.conf").exists()
    pip = standin_with_pip(venv, index.url, user_env(env, tmp_path))
    assert pip.returncode == 0, pip.stdout[-2000:] + pip.stderr[-2000:]
    assert torch_dist(venv, env) == "2.12.0"


def test_a_deliberate_install_with_torchsetup_moves_the_guard(
    torchsetup_exe: str, index: IndexServer, env: dict[str, str], tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    create_venv(venv, TORCH_PYTHON)
    install(torchsetup_exe, env, venv, index.url, "--no-verify")
    assert "torch==2.13.0+cpu" in (venv / "torchsetup-constraints.txt").read_text()
    # A different build on purpose, with a pip that reads the venv's pip.conf (which the guard
    # would hold): the plan lifts the guard first and sets it for the new build at the end.
    res = run(
        [torchsetup_exe, "install", "--cpu", "--torch", "2.12.0", "--venv", str(venv)]
        + ["--index-url", index.url, "--yes", "--json", "--no-verify", "--method", "pip"],
        user_env(env, tmp_path),
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    data = unwrap(res.stdout, "install")
    assert step_ids(data) == ["guard-off", "install", "guard"]  # pip compiles all itself
    assert torch_dist(venv, env) == "2.12.0"
    pins = (venv / "torchsetup-constraints.txt").read_text()
    assert "torch==2.12.0" in pins and "2.13.0" not in pins


def test_an_exported_pylock_installs_exactly_and_a_tampered_wheel_is_refused(
    torchsetup_exe: str, index: IndexServer, env: dict[str, str], tmp_path: Path
) -> None:
    args = ["--cpu", "--torch", "2.13.0", "--index-url", index.url]
    base = tmp_path / "venv-base"
    create_venv(base, TORCH_PYTHON, with_pip=False)  # the interpreter the lock is made for
    exported = run(
        [torchsetup_exe, "install", *args, "--python", str(venv_python(base))]
        + ["--export", "pylock"],
        env,
    )
    assert exported.returncode == 0, exported.stderr
    lock = tmp_path / "pylock.toml"
    lock.write_text(exported.stdout)
    assert 'name = "torch"\nversion = "2.13.0+cpu"' in exported.stdout
    assert f'index = "{index.url}"' in exported.stdout and "sha256 = " in exported.stdout
    assert 'name = "sympy"' in exported.stdout, "the dependencies are locked too"

    venv = tmp_path / "venv-locked"
    res = run(
        [torchsetup_exe, "install", "--lock", str(lock), "--venv", str(venv), "--yes", "--json"],
        env,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    data = unwrap(res.stdout, "install")
    install_step = next(s for s in data["plan"]["steps"] if s["id"] == "install")
    assert install_step["argv"][-2:] == ["-r", str(lock)]
    assert data["result"]["verify_ok"] is True
    gate = run(
        [torchsetup_exe, "verify", "--python", str(venv_python(venv)), "--quick"]
        + ["--expect-lock", str(lock), "--json"],
        env,
    )
    assert gate.returncode == 0, gate.stdout[-2000:] + gate.stderr[-2000:]
    assert '"expect.lock"' in gate.stdout

    # The lock names what is installed now: a changed environment fails the gate.
    changed = lock.read_text().replace('version = "4.16.0"', 'version = "4.9.0"')
    assert changed != lock.read_text()
    other = tmp_path / "other" / "pylock.toml"
    other.parent.mkdir()
    other.write_text(changed)
    failing = run(
        [torchsetup_exe, "verify", "--python", str(venv_python(venv)), "--quick"]
        + ["--expect-lock", str(other), "--json"],
        env,
    )
    assert failing.returncode == 1, failing.stdout[-2000:]
    check = next(c for c in unwrap(failing.stdout)["checks"] if c["name"] == "expect.lock")
    assert check["status"] == "fail"
    assert "typing-extensions is 4.16.0, the lock has 4.9.0" in check["detail"]

    # The torch wheel replaced on the index after locking (a valid wheel, listed with its own
    # hash): the lock's sha256 refuses it.
    real = index.file(TORCH_WHEEL)
    assert real is not None
    other_torch = same_size_wheel(tmp_path, "torch", "2.13.0+cpu", real.size)
    index.swap(TORCH_WHEEL, other_torch)
    fresh = {**env, "UV_CACHE_DIR": str(tmp_path / "uv-empty")}
    tampered = run(
        [torchsetup_exe, "install", "--lock", str(lock), "--venv", str(tmp_path / "venv-t")]
        + ["--yes", "--no-verify"],
        fresh,
    )
    assert tampered.returncode == 3, tampered.stdout[-2000:] + tampered.stderr[-2000:]
    assert "failed at step 'install'" in tampered.stdout
    logs = sorted((tmp_path / "cache" / "logs").glob("install-*.log"), key=os.path.getmtime)
    assert "Hash mismatch for `torch==2.13.0+cpu`" in logs[-1].read_text()
    assert f"sha256:{index_sha(lock, 'torch')}" in logs[-1].read_text(), "the lock's hash"
    assert not list((tmp_path / "venv-t").glob("lib/python3.*/site-packages/torch"))
