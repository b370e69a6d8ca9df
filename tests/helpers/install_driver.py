"""Hand-built install plans, and a tiny driver that runs one through ``run_install``.

The plans have exactly the shape the resolver produces for
``torchsetup install --cpu --torch 2.13.0 --venv DIR --index-url URL [--method uv] --yes``,
completed for the real target as the install command completes them
(:func:`torchsetup.resolve.complete.complete_plan`: a venv to create, conflicts to uninstall,
already satisfied), and verified with the install command's own quick verify.
Until the install command is wired to the executor, tests that need a real process (SIGINT)
run this module::

    python -m tests.helpers.install_driver '{"venv": DIR, "index_url": URL, "method": "pip"}'

It exits with the install's exit code. The environment it runs with is the test's (isolated
from the machine's pip configuration).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from tests.helpers.venvs import TORCH_PYTHON, create_venv
from torchsetup.detect.model import Tools
from torchsetup.detect.probes.python_target import probe_python
from torchsetup.detect.target import venv_python
from torchsetup.install.session import InstallDeps, InstallResult, run_install
from torchsetup.install.targets import find_uv
from torchsetup.proc import ProcRunner, Runner
from torchsetup.resolve.complete import complete_plan
from torchsetup.resolve.plan import Plan, Step

if TYPE_CHECKING:
    from rich.console import Console

TORCH = "2.13.0"


def cpu_plan(
    venv: Path, index_url: str, *, method: str = "pip", extra: tuple[str, ...] = ()
) -> Plan:
    python = venv_python(str(venv.absolute()))
    if method == "uv":
        argv: tuple[str, ...] = (
            "uv",
            "pip",
            "install",
            "--python",
            python,
            f"torch=={TORCH}",
            *extra,
            "--index-url",
            index_url,
        )
    else:
        argv = (python, "-m", "pip", "install", f"torch=={TORCH}", *extra, "--index-url", index_url)
    step = Step("install", f"Install torch {TORCH} (cpu)", argv, timeout_s=1800)
    return Plan(
        method=method,
        torch=TORCH,
        variant="cpu",
        python=python,
        index_url=index_url,
        python_version="3.11",
        steps=(step,),
    )


def completed(plan: Plan, venv: Path, env: Mapping[str, str]) -> Plan:
    """``plan`` completed for ``venv`` as it is now (probed for real), or for a venv to create
    from ``python3.11`` on PATH."""
    uv = find_uv(env)
    tools = Tools(paths=(("uv", uv),) if uv else ())
    python = venv_python(str(venv.absolute()))
    if Path(python).exists():
        target = probe_python(python, runner=ProcRunner(), env=env)
        return complete_plan(plan, target, tools=tools)
    base = shutil.which(TORCH_PYTHON, path=env.get("PATH"))
    assert base is not None, f"no {TORCH_PYTHON} on PATH"
    target = probe_python(base, runner=ProcRunner(), env=env)
    return complete_plan(
        plan, target, tools=tools, venv=str(venv.absolute()), uv_venv=plan.method == "uv"
    )


def install_cpu(
    venv: Path,
    index_url: str,
    env: Mapping[str, str],
    *,
    method: str = "pip",
    extra: tuple[str, ...] = (),
    runner: Optional[Runner] = None,
    console: Optional[Console] = None,
    no_verify: bool = False,
    **kw: Any,
) -> InstallResult:
    """Plan (complete) and run the CPU install into ``venv``, verified as the install command
    verifies (``torchsetup verify --quick``)."""
    from torchsetup.cli.install import _quick_verify

    plan = completed(cpu_plan(venv, index_url, method=method, extra=extra), venv, env)
    return run_install(
        plan,
        verify=_quick_verify(plan),
        no_verify=no_verify,
        yes=True,
        console=console,
        deps=InstallDeps(runner=runner or ProcRunner(), environ=env, **kw),
    )


BEFORE = ("six==1.17.0", "torchtriton==0.0.1", "typing-extensions==4.9.0")


def prepare_env(
    folder: Path, index_url: str, env: Mapping[str, str], packages: tuple[str, ...] = BEFORE
) -> Path:
    """A Python 3.11 venv that already holds ``packages`` (from the test index)."""
    python = create_venv(folder, TORCH_PYTHON)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", *packages, "--index-url", index_url],
        check=True,
        env=dict(env),
        timeout=300,
    )
    return python


def pip_list(python: Path, env: Mapping[str, str]) -> list[dict[str, str]]:
    out = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=json"],
        check=True,
        capture_output=True,
        text=True,
        env=dict(env),
        timeout=120,
    )
    return sorted(json.loads(out.stdout), key=lambda d: d["name"].lower())


def restore_cli(
    restore_file: Path, env: Mapping[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    """``torchsetup restore FILE --yes ...`` as users run it (the real module, a real process)."""
    return subprocess.run(
        [sys.executable, "-m", "torchsetup", "restore", str(restore_file), "--yes", *args],
        check=False,
        capture_output=True,
        text=True,
        env=dict(env),
        timeout=600,
    )


def main(argv: Optional[list[str]] = None) -> int:
    import os

    config = json.loads((argv or sys.argv[1:])[0])
    result = install_cpu(
        Path(config["venv"]),
        config["index_url"],
        dict(os.environ),
        method=config.get("method", "pip"),
        extra=tuple(config.get("extra", ())),
        no_verify=config.get("no_verify", False),
    )
    return result.exit_code


if __name__ == "__main__":
    import faulthandler
    import signal

    # A test that finds this driver hung sends SIGUSR1: every thread's stack goes to stderr.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    # Ctrl-C as in a terminal: a test run started in the background (CI scripts, `cmd &`) hands
    # its children SIGINT ignored, and torchsetup rightly leaves an ignored SIGINT alone.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from torchsetup.proc import install_signal_handlers

    install_signal_handlers()  # as the CLI does: SIGTERM and SIGHUP handled like Ctrl-C
    sys.exit(main())
