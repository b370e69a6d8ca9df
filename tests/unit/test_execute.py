"""The executor with a RecordingRunner: every method's argv and env, targets, safety, exit codes.

No process starts here (tests/unit/conftest.py): conda, source builds and venv creation are
checked as recorded commands against stand-in programs on a private PATH.
"""

from __future__ import annotations

import io
import json
import stat
import sys
from pathlib import Path
from typing import Any, Optional

import pytest
from rich.console import Console

from tests.helpers.recording import RecordingRunner, fake_index, probe_output, torch_version_py
from torchsetup.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_PROBLEMS, EXIT_STEP_FAILED, EXIT_USAGE
from torchsetup.install.preflight import PROBE_SCRIPT
from torchsetup.install.session import InstallResult, run_install
from torchsetup.install.targets import InstallTarget
from torchsetup.resolve.plan import Plan, Step

INDEX = "https://download.example.org/whl/cpu"
WHEEL = "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"
PROBE = "importlib.metadata"  # a substring of the probe script
VERIFY = "import json, torch"
assert PROBE in PROBE_SCRIPT


def executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TORCHSETUP_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "bin").mkdir()
    return tmp_path


@pytest.fixture
def env(home: Path) -> dict[str, str]:
    return {"PATH": str(home / "bin"), "HOME": str(home), "TMPDIR": str(home)}


@pytest.fixture
def py(home: Path) -> str:
    return str(executable(home / "venv" / "bin" / "python"))


def pip_plan(
    python: str, *, variant: str = "cpu", index: str = INDEX, method: str = "pip", **kw: Any
) -> Plan:
    if method == "uv":
        argv: tuple[str, ...] = (
            "uv",
            "pip",
            "install",
            "--python",
            python,
            "torch==2.13.0",
            "--index-url",
            index,
        )
    else:
        argv = (python, "-m", "pip", "install", "torch==2.13.0", "--index-url", index)
    return Plan(
        method=method,
        torch="2.13.0",
        variant=variant,
        python=python,
        index_url=index,
        python_version="3.11",
        steps=(Step("install", "Install torch 2.13.0", argv),),
        **kw,
    )


def runner_for(
    python: str, *, verify_version: str = "2.13.0+cpu", cuda: Optional[str] = None, **probe: Any
) -> RecordingRunner:
    answer = json.dumps({"version": verify_version, "cuda": cuda, "hip": None})
    return (
        RecordingRunner().on(PROBE, output=probe_output(python, **probe)).on(VERIFY, output=answer)
    )


def install(
    plan: Plan,
    runner: RecordingRunner,
    env: dict[str, str],
    *,
    target: Optional[InstallTarget] = None,
    terminal: bool = False,
    index: Optional[dict[str, Any]] = None,
    **kw: Any,
) -> tuple[InstallResult, str]:
    out = io.StringIO()
    console = Console(file=out, width=300, force_terminal=terminal, color_system=None)
    kw.setdefault("yes", True)
    result = run_install(
        plan,
        target=target or InstallTarget(python=plan.python),
        console=console,
        runner=runner,
        environ=env,
        get=fake_index(index or {"torch": [(WHEEL, 191_794_682)]}),
        head=fake_index({}),
        free_disk=lambda _: 10**12,
        **kw,
    )
    return result, out.getvalue()


# --- methods: argv and env ---------------------------------------------------------------------


def test_pip_plan_argv_and_env_recorded(py: str, env: dict[str, str]) -> None:
    runner = runner_for(py)
    result, out = install(pip_plan(py), runner, env)
    assert result.exit_code == EXIT_OK, out
    (step,) = runner.streamed()
    assert step.argv == (py, "-m", "pip", "install", "torch==2.13.0", "--index-url", INDEX)
    assert step.env_added(env) == {"PYTHONUNBUFFERED": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    assert result.status == "installed" and result.verify_ok is True
    assert next(c.argv[-1][:40] for c in runner.calls if c.kind == "run") == PROBE_SCRIPT[:40]
    assert f"log: {result.log_path}" in out
    assert (
        result.log_path.is_file()
        and result.restore_file is not None
        and result.restore_file.is_file()
    )


def test_step_env_cwd_timeout_passed_through(py: str, env: dict[str, str]) -> None:
    plan = pip_plan(py)
    step = Step(
        "install", "x", plan.steps[0].argv, env=(("PIP_RETRIES", "0"),), cwd="/work", timeout_s=99
    )
    runner = runner_for(py)
    install(Plan(**{**plan.__dict__, "steps": (step,)}), runner, env)
    (call,) = runner.streamed()
    assert call.env["PIP_RETRIES"] == "0" and call.cwd == "/work" and call.timeout == 99


def test_uv_plan_argv_recorded_with_uv_found(py: str, env: dict[str, str], home: Path) -> None:
    uv = executable(home / "bin" / "uv")
    runner = runner_for(py)
    result, out = install(pip_plan(py, method="uv"), runner, env)
    assert result.exit_code == EXIT_OK, out
    (step,) = runner.streamed()
    assert step.argv == (
        str(uv),
        "pip",
        "install",
        "--python",
        py,
        "torch==2.13.0",
        "--index-url",
        INDEX,
    )


def test_conda_plan_argv_recorded_fake_conda(py: str, env: dict[str, str], home: Path) -> None:
    conda = executable(home / "bin" / "conda")
    prefix = str(Path(py).parent.parent)
    argv = (
        "conda",
        "install",
        "-y",
        "--prefix",
        prefix,
        "pytorch==2.13.0",
        "cpuonly",
        "-c",
        "pytorch",
    )
    plan = Plan(
        method="conda",
        torch="2.13.0",
        variant="cpu",
        python=py,
        python_version="3.11",
        steps=(Step("install", "Install pytorch 2.13.0 with conda", argv),),
    )
    runner = runner_for(py, conda=True)
    result, out = install(plan, runner, env)
    assert result.exit_code == EXIT_OK, out
    (step,) = runner.streamed()
    assert step.argv == (str(conda), *argv[1:])
    assert "index and disk checks skipped" in result.log_path.read_text()


def test_conda_plan_runs_with_micromamba_when_no_conda_fake_micromamba(
    py: str, env: dict[str, str], home: Path
) -> None:
    micromamba = executable(home / "bin" / "micromamba")
    plan = Plan(
        method="conda",
        torch="2.13.0",
        variant="cpu",
        python=py,
        python_version="3.11",
        steps=(Step("install", "conda install", ("conda", "install", "-y", "pytorch==2.13.0")),),
    )
    runner = runner_for(py, conda=True)
    install(plan, runner, env)
    assert runner.streamed()[0].argv[0] == str(micromamba)


def test_conda_plan_without_any_conda_refused_before_changes(py: str, env: dict[str, str]) -> None:
    plan = Plan(
        method="conda",
        torch="2.13.0",
        variant="cpu",
        python=py,
        python_version="3.11",
        steps=(Step("install", "conda install", ("conda", "install", "-y", "pytorch")),),
    )
    runner = runner_for(py, conda=True)
    result, out = install(plan, runner, env)
    assert result.exit_code == EXIT_USAGE
    assert "needs conda, which is not on PATH" in out
    assert runner.streamed() == []


def test_source_build_plan_argv_cwd_env_recorded_fake_git(
    py: str, env: dict[str, str], home: Path
) -> None:
    executable(home / "bin" / "git")  # found on PATH by the preflight; run as "git"
    src = str(home / "pytorch")
    steps = (
        Step(
            "clone",
            "Clone pytorch v2.13.0",
            (
                "git",
                "clone",
                "--depth",
                "1",
                "--branch",
                "v2.13.0",
                "--recursive",
                "https://github.com/pytorch/pytorch",
                src,
            ),
            changes_target=False,
            timeout_s=3600,
        ),
        Step(
            "build",
            "Build and install torch from source",
            (py, "-m", "pip", "install", "--no-build-isolation", "-v", "."),
            env=(("USE_CUDA", "0"), ("MAX_JOBS", "2")),
            cwd=src,
            timeout_s=4 * 3600,
        ),
    )
    plan = Plan(
        method="source",
        torch="2.13.0",
        variant="cpu",
        python=py,
        python_version="3.11",
        steps=steps,
    )
    runner = runner_for(py)
    result, out = install(plan, runner, env)
    assert result.exit_code == EXIT_OK, out
    clone, build = runner.streamed()
    assert clone.argv[0] == "git" and clone.timeout == 3600 and clone.cwd is None
    assert build.argv == steps[1].argv and build.cwd == src
    assert build.env_added(env) == {
        "USE_CUDA": "0",
        "MAX_JOBS": "2",
        "PYTHONUNBUFFERED": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }


def test_venv_created_with_python_m_venv_recorded(env: dict[str, str], home: Path) -> None:
    base = executable(home / "bin" / "python3.11")
    folder = home / "new-env"
    new_py = str(folder / "bin" / "python")
    runner = (
        RecordingRunner()
        .on(
            lambda a: a[0] == str(base) and PROBE in a[-1],
            output=probe_output(str(base), prefix=str(home), base_prefix=str(home)),
        )
        .on(PROBE, output=probe_output(new_py, base_prefix=str(home)))
        .on(VERIFY, output=json.dumps({"version": "2.13.0+cpu", "cuda": None}))
    )
    result, out = install(pip_plan(new_py), runner, env, target=InstallTarget(venv=str(folder)))
    assert result.exit_code == EXIT_OK, out
    create, step = runner.streamed()
    assert create.argv == (str(base), "-m", "venv", str(folder))
    assert step.argv[0] == new_py
    assert result.created_venv == str(folder)
    assert json.loads(result.restore_file.read_text())["created_venv"] is True  # type: ignore[union-attr]


def test_venv_created_with_uv_venv_recorded(env: dict[str, str], home: Path) -> None:
    uv = executable(home / "bin" / "uv")
    folder = home / "uv-env"
    new_py = str(folder / "bin" / "python")
    runner = (
        RecordingRunner()
        .on("python find", output="/opt/py311/bin/python3.11\n")
        .on(
            lambda a: a[0] == "/opt/py311/bin/python3.11",
            output=probe_output(
                "/opt/py311/bin/python3.11", prefix="/opt/py311", base_prefix="/opt/py311"
            ),
        )
        .on(PROBE, output=probe_output(new_py, base_prefix="/opt/py311", dists=()))
        .on(VERIFY, output=json.dumps({"version": "2.13.0+cpu", "cuda": None}))
    )
    result, out = install(
        pip_plan(new_py, method="uv"), runner, env, target=InstallTarget(venv=str(folder))
    )
    assert result.exit_code == EXIT_OK, out
    assert runner.calls[0].argv == (str(uv), "python", "find", "3.11")
    create, step = runner.streamed()
    assert create.argv == (str(uv), "venv", "--python", "/opt/py311/bin/python3.11", str(folder))
    assert step.argv[:5] == (str(uv), "pip", "install", "--python", new_py)


def test_existing_venv_with_another_python_refused(env: dict[str, str], home: Path) -> None:
    folder = home / "old-env"
    python = str(executable(folder / "bin" / "python"))
    runner = RecordingRunner().on(PROBE, output=probe_output(python, version="3.10.4"))
    result, out = install(pip_plan(python), runner, env, target=InstallTarget(venv=str(folder)))
    assert result.exit_code == EXIT_USAGE
    assert "is Python 3.10.4, the plan was resolved for Python 3.11" in out
    assert runner.streamed() == []


def test_no_base_python_for_venv_refused_with_hint(env: dict[str, str], home: Path) -> None:
    folder = home / "env"
    result, out = install(
        pip_plan(str(folder / "bin" / "python")),
        RecordingRunner(),
        env,
        target=InstallTarget(venv=str(folder)),
    )
    assert result.exit_code == EXIT_USAGE
    assert "no python3.11 on PATH" in out and "uv python install 3.11" in out


# --- idempotence and conflicts ------------------------------------------------------------------


def test_already_satisfied_runs_nothing(py: str, env: dict[str, str]) -> None:
    runner = runner_for(
        py,
        dists=[("pip", "24.2"), ("torch", "2.13.0+cpu")],
        torch_version_py=torch_version_py("2.13.0+cpu"),
    )
    result, out = install(pip_plan(py), runner, env)
    assert result.exit_code == EXIT_OK and result.status == "already-satisfied", out
    assert runner.streamed() == []
    assert [s.status for s in result.steps] == ["skipped"]
    assert "already satisfied" in out and result.restore_file is None
    assert [c for c in runner.calls if VERIFY in c.argv[-1]], "verify still proves it"


def test_cpu_torch_replaced_when_cuda_planned(py: str, env: dict[str, str]) -> None:
    runner = runner_for(
        py,
        dists=[("pip", "24.2"), ("torch", "2.13.0+cpu")],
        torch_version_py=torch_version_py("2.13.0+cpu"),
        verify_version="2.13.0+cu128",
        cuda="12.8",
    )
    plan = pip_plan(py, variant="cu128", index="https://download.example.org/whl/cu128")
    wheel = "torch-2.13.0+cu128-cp311-cp311-manylinux_2_28_x86_64.whl"
    result, out = install(plan, runner, env, index={"torch": [(wheel, 900_000_000)]})
    assert result.exit_code == EXIT_OK, out
    uninstall, _step = runner.streamed()
    assert uninstall.argv == (py, "-m", "pip", "uninstall", "-y", "torch")
    assert "cpu build, the plan installs cu128" in result.steps[0].description


def test_verify_checks_the_variant_too(py: str, env: dict[str, str]) -> None:
    runner = runner_for(py, verify_version="2.13.0+cu126", cuda="12.6")
    plan = pip_plan(py, variant="cu128", index="https://download.example.org/whl/cu128")
    wheel = "torch-2.13.0+cu128-cp311-cp311-manylinux_2_28_x86_64.whl"
    result, out = install(plan, runner, env, index={"torch": [(wheel, 1)]})
    assert result.exit_code == EXIT_PROBLEMS
    assert "import torch gives 2.13.0+cu126 (cu126), the plan is 2.13.0 (cu128)" in out


def test_verify_mismatch_exit_1(py: str, env: dict[str, str]) -> None:
    runner = runner_for(py, verify_version="2.12.0+cpu")
    result, out = install(pip_plan(py), runner, env)
    assert result.exit_code == EXIT_PROBLEMS and result.status == "verify-failed"
    assert "import torch gives 2.12.0+cpu" in out
    assert f"torchsetup restore {result.restore_file}" in out


def test_no_verify_skips_verify(py: str, env: dict[str, str]) -> None:
    runner = runner_for(py)
    result, _ = install(pip_plan(py), runner, env, no_verify=True)
    assert result.exit_code == EXIT_OK and result.verify_ok is None
    assert not [c for c in runner.calls if VERIFY in c.argv[-1]]


def test_injected_verify_decides(py: str, env: dict[str, str]) -> None:
    result, _ = install(
        pip_plan(py), runner_for(py), env, verify=lambda p: (False, f"no GPU in {p}")
    )
    assert result.exit_code == EXIT_PROBLEMS and result.verify_message == f"no GPU in {py}"


# --- failures ------------------------------------------------------------------------------------

PIP_HASH_ERROR = """Collecting torch==2.13.0
Downloading https://download.example.org/whl/cpu/torch-2.13.0%2Bcpu-cp311-cp311-manylinux_2_28_x86_64.whl (191.8 MB)
ERROR: THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE.
    torch==2.13.0 from https://download.example.org/whl/cpu/torch-2.13.0%2Bcpu-cp311-cp311-manylinux_2_28_x86_64.whl:
        Expected sha256 aaaa
             Got        bbbb
"""


def test_failed_step_exit_3_names_step_tail_log_restore(py: str, env: dict[str, str]) -> None:
    plan = pip_plan(py)
    plan = Plan(
        **{**plan.__dict__, "steps": (*plan.steps, Step("after", "never runs", (py, "-c", "pass")))}
    )
    runner = runner_for(py).on("pip install", returncode=1, output=PIP_HASH_ERROR)
    result, out = install(plan, runner, env)
    assert result.exit_code == EXIT_STEP_FAILED and result.status == "failed"
    assert result.failed_step is not None and result.failed_step.id == "install"
    assert "step 1/2 'install' (Install torch 2.13.0): exit code 1" in out
    assert "Got        bbbb" in out
    assert f"log: {result.log_path}" in out
    assert f"torchsetup restore {result.restore_file}" in out
    assert [s.status for s in result.steps] == ["failed", "not-run"]
    assert "THESE PACKAGES DO NOT MATCH THE HASHES" in result.log_path.read_text()


def test_interrupted_step_exit_130(py: str, env: dict[str, str]) -> None:
    runner = runner_for(py).on(
        "pip install", returncode=-2, interrupted=True, output="Downloading x (1 MB)"
    )
    result, out = install(pip_plan(py), runner, env)
    assert result.exit_code == EXIT_INTERRUPTED and result.status == "interrupted"
    assert (
        "its processes were stopped" in out and f"torchsetup restore {result.restore_file}" in out
    )


def test_timed_out_step_exit_3(py: str, env: dict[str, str]) -> None:
    runner = runner_for(py).on("pip install", returncode=None, error="timed out after 5 s: python")
    result, out = install(pip_plan(py), runner, env)
    assert result.exit_code == EXIT_STEP_FAILED and "timed out after 5 s" in out


def test_keyboard_interrupt_between_steps_exit_130(py: str, env: dict[str, str]) -> None:
    class Interrupting(RecordingRunner):
        def stream(self, *a: Any, **k: Any) -> Any:
            raise KeyboardInterrupt

    runner = Interrupting().on(PROBE, output=probe_output(py))
    result, out = install(pip_plan(py), runner, env)
    assert result.exit_code == EXIT_INTERRUPTED and "log:" in out


# --- safety ----------------------------------------------------------------------------------------


def test_refused_without_terminal_and_without_yes(py: str, env: dict[str, str]) -> None:
    runner = runner_for(py)
    result, out = install(pip_plan(py), runner, env, yes=False, confirm=lambda q: None)
    assert result.exit_code == EXIT_USAGE and "no terminal to ask on" in out and "--yes" in out
    assert runner.streamed() == [] and result.restore_file is None


def test_plan_shown_before_confirmation_and_decline_changes_nothing(
    py: str, env: dict[str, str]
) -> None:
    asked: list[str] = []
    runner = runner_for(py)

    def confirm(question: str) -> bool:
        asked.append(question)
        return False

    result, out = install(pip_plan(py), runner, env, yes=False, confirm=confirm)
    assert asked == ["Install?"]
    assert result.exit_code == EXIT_PROBLEMS and result.status == "declined"
    assert out.index("Plan: torch 2.13.0 (cpu) with pip") < out.index("nothing was changed")
    assert f"$ {py} -m pip install torch==2.13.0 --index-url {INDEX}" in out
    assert runner.streamed() == []


def test_externally_managed_python_refused_with_venv_command(
    env: dict[str, str], home: Path
) -> None:
    system = str(executable(home / "usr" / "bin" / "python3"))
    runner = RecordingRunner().on(
        PROBE,
        output=probe_output(
            system, prefix=str(home / "usr"), base_prefix=str(home / "usr"), externally_managed=True
        ),
    )
    result, out = install(pip_plan(system), runner, env)
    assert result.exit_code == EXIT_USAGE
    assert "it is externally managed (PEP 668" in out
    assert f"`{system} -m venv " in out and "--force" in out
    assert runner.streamed() == []


def test_force_on_externally_managed_adds_break_system_packages(
    env: dict[str, str], home: Path
) -> None:
    system = str(executable(home / "usr" / "bin" / "python3"))
    runner = (
        RecordingRunner()
        .on(
            PROBE,
            output=probe_output(
                system,
                prefix=str(home / "usr"),
                base_prefix=str(home / "usr"),
                externally_managed=True,
            ),
        )
        .on(VERIFY, output=json.dumps({"version": "2.13.0+cpu", "cuda": None}))
    )
    result, out = install(
        pip_plan(system), runner, env, target=InstallTarget(python=system, force=True)
    )
    assert result.exit_code == EXIT_OK, out
    assert runner.streamed()[0].argv[:5] == (
        system,
        "-m",
        "pip",
        "install",
        "--break-system-packages",
    )


def test_extra_index_url_refused(py: str, env: dict[str, str]) -> None:
    plan = pip_plan(py)
    step = Step(
        "install", "x", (*plan.steps[0].argv, "--extra-index-url", "https://pypi.org/simple")
    )
    result, out = install(Plan(**{**plan.__dict__, "steps": (step,)}), runner_for(py), env)
    assert result.exit_code == EXIT_USAGE and "--extra-index-url" in out and "torchtriton" in out


def test_plan_for_another_interpreter_refused(py: str, env: dict[str, str], home: Path) -> None:
    other = str(executable(home / "other" / "bin" / "python"))
    result, out = install(pip_plan(other), runner_for(py), env, target=InstallTarget(python=py))
    assert (
        result.exit_code == EXIT_USAGE and f"installs into {other}, but the target is {py}" in out
    )


# --- sources: --index-url, --find-links, preflight ---------------------------------------------


def test_index_url_replaces_the_plans_index(py: str, env: dict[str, str]) -> None:
    mirror = "https://mirror.example.com/pytorch/cpu"
    runner = runner_for(py)
    result, out = install(pip_plan(py), runner, env, index_url=mirror)
    assert result.exit_code == EXIT_OK, out
    assert runner.streamed()[0].argv == (
        py,
        "-m",
        "pip",
        "install",
        "torch==2.13.0",
        "--index-url",
        mirror,
    )
    assert json.loads(result.restore_file.read_text())["index_url"] == mirror  # type: ignore[union-attr]


def test_find_links_installs_with_no_index_and_checks_the_folder(
    py: str, env: dict[str, str], home: Path
) -> None:
    folder = home / "wheels"
    folder.mkdir()
    (folder / WHEEL).write_bytes(b"x" * 1000)

    def no_network(*a: Any, **k: Any) -> Any:
        raise AssertionError("--find-links must not touch the network")

    runner = runner_for(py)
    out = io.StringIO()
    result = run_install(
        pip_plan(py),
        target=InstallTarget(python=py),
        yes=True,
        find_links=str(folder),
        console=Console(file=out, width=300),
        runner=runner,
        environ=env,
        get=no_network,
        head=no_network,
        free_disk=lambda _: 10**12,
    )
    assert result.exit_code == EXIT_OK, out.getvalue()
    assert runner.streamed()[0].argv == (
        py,
        "-m",
        "pip",
        "install",
        "torch==2.13.0",
        "--no-index",
        "--find-links",
        str(folder),
    )


def test_find_links_folder_without_the_wheel_refused(
    py: str, env: dict[str, str], home: Path
) -> None:
    folder = home / "wheels"
    folder.mkdir()
    (folder / "torch-2.12.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl").write_bytes(b"x")
    result, out = install(pip_plan(py), runner_for(py), env, find_links=str(folder))
    assert result.exit_code == EXIT_USAGE
    assert f"the folder {folder} has no torch 2.13.0 (it has 2.12.0)" in out


def test_preflight_refusal_names_what_the_index_offers(py: str, env: dict[str, str]) -> None:
    wheels = [(f"torch-2.13.0+cpu-cp3{m}-cp3{m}-manylinux_2_28_x86_64.whl", 1) for m in (10, 12)]
    runner = runner_for(py)
    result, out = install(pip_plan(py), runner, env, index={"torch": wheels})
    assert result.exit_code == EXIT_USAGE
    assert (
        f"the index {INDEX} has torch 2.13.0 for cp310, cp312 on manylinux_2_28_x86_64; "
        "your Python is cp311 on manylinux_2_36_x86_64 (glibc 2.36)"
    ) in out
    assert runner.streamed() == [] and "nothing was changed" in out


def test_not_enough_disk_refused(py: str, env: dict[str, str]) -> None:
    out = io.StringIO()
    result = run_install(
        pip_plan(py),
        target=InstallTarget(python=py),
        yes=True,
        console=Console(file=out, width=300),
        runner=runner_for(py),
        environ=env,
        get=fake_index({"torch": [(WHEEL, 191_794_682)]}),
        free_disk=lambda _: 300_000_000,
    )
    assert result.exit_code == EXIT_USAGE
    assert (
        "not enough free disk: 1.2 GB needed" in out.getvalue() and "300 MB free" in out.getvalue()
    )


def test_credentials_redacted_on_screen_and_in_log(py: str, env: dict[str, str]) -> None:
    secret_index = "https://alice:s3cr3t@mirror.example.com/simple"
    echo = f"Looking in indexes: {secret_index}\nERROR: 401 for {secret_index}/torch/"
    runner = runner_for(py).on("pip install", returncode=1, output=echo)
    result, out = install(
        pip_plan(py, index=secret_index), runner, env, verbose=True, index={"torch": [(WHEEL, 1)]}
    )
    log = result.log_path.read_text()
    restore = result.restore_file.read_text()  # type: ignore[union-attr]
    for text in (out, log, restore):
        assert "s3cr3t" not in text and "alice" not in text
    assert "https://***@mirror.example.com/simple" in log
    assert runner.streamed()[0].argv[-1] == secret_index, "the real command keeps its credentials"


# --- the live view and pip's progress ----------------------------------------------------------------


def test_pip_raw_progress_only_on_a_terminal_with_a_new_pip(py: str, env: dict[str, str]) -> None:
    for pip, terminal, expected in (
        ("24.2", True, "raw"),
        ("23.2.1", True, None),
        ("24.2", False, None),
    ):
        runner = runner_for(py, dists=[("pip", pip)])
        install(pip_plan(py), runner, env, terminal=terminal)
        assert runner.streamed()[0].env.get("PIP_PROGRESS_BAR") == expected, (pip, terminal)


def test_verbose_streams_every_line_and_log_keeps_a_tenth_of_progress(
    py: str, env: dict[str, str]
) -> None:
    lines = ["Collecting torch==2.13.0", "Downloading torch-2.13.0.whl (191.8 MB)"]
    lines += [f"Progress {i * 1_000_000} of 100000000" for i in range(101)]
    lines += ["Successfully installed torch-2.13.0+cpu"]
    runner = runner_for(py).on("pip install", output="\n".join(lines))
    result, out = install(pip_plan(py), runner, env, verbose=True)
    assert "Collecting torch==2.13.0" in out and "Successfully installed" in out
    assert "Progress 5000000 of" not in out
    progress = [x for x in result.log_path.read_text().splitlines() if x.startswith("Progress ")]
    assert len(progress) == 11


def test_log_is_one_file_per_run_under_logs_dir(py: str, env: dict[str, str], home: Path) -> None:
    first, _ = install(pip_plan(py), runner_for(py), env)
    second, _ = install(pip_plan(py), runner_for(py), env)
    assert first.log_path != second.log_path
    assert first.log_path.parent == home / "cache" / "logs"
    assert first.log_path.name.startswith("install-")


def test_result_json_contract(py: str, env: dict[str, str]) -> None:
    result, _ = install(pip_plan(py), runner_for(py), env)
    data = json.loads(json.dumps(result.to_dict()))
    assert {
        "command",
        "status",
        "exit_code",
        "message",
        "log_path",
        "restore_file",
        "steps",
        "verify_ok",
    } <= data.keys()
    assert data["steps"][0]["status"] == "ok" and data["steps"][0]["id"] == "install"


def test_the_executor_never_imports_torch(py: str, env: dict[str, str]) -> None:
    install(pip_plan(py), runner_for(py), env)
    assert "torch" not in sys.modules


def test_live_view_shows_step_last_line_and_download_progress() -> None:
    from torchsetup.install.session import View

    out = io.StringIO()
    console = Console(file=out, width=120, force_terminal=True, color_system=None)
    view = View(console, verbose=False)
    assert view.interactive
    view.step_started(2, 3, Step("install", "Install torch 2.13.0 (cpu)", ("pip",)))
    try:
        view.output(
            "Downloading https://h/files/torch-2.13.0%2Bcpu-cp311-cp311-linux_x86_64.whl (191.8 MB)"
        )
        view.output("Progress 95900000 of 191800000")
        rendered = io.StringIO()
        Console(file=rendered, width=120, color_system=None).print(view._render())
    finally:
        view.close()
    text = rendered.getvalue()
    assert "[2/3] Install torch 2.13.0 (cpu)" in text
    assert "downloading torch-2.13.0+cpu-cp311-cp311-linux_x86_64.whl (191.8 MB)" in text
    assert "95.9/191.8 MB" in text
    view.step_started(2, 3, Step("install", "Install torch 2.13.0 (cpu)", ("pip",)))
    view.output("Downloading torch (182.9MiB)")
    view.output("Installing collected packages: torch")
    rendered = io.StringIO()
    Console(file=rendered, width=120, color_system=None).print(view._render())
    view.close()
    assert "Installing collected packages: torch" in rendered.getvalue()
    assert "downloading" not in rendered.getvalue()


def test_parse_progress() -> None:
    from torchsetup.install.session import ProgressEvent, parse_progress

    assert parse_progress("Progress 10 of 20") == ProgressEvent(done=10, total=20)
    assert parse_progress("Downloading torch (182.9MiB)") == ProgressEvent(
        label="torch", size="182.9MiB"
    )
    assert parse_progress(
        "  Downloading https://h/f/six-1.17.0-py2.py3-none-any.whl.metadata (1.7 kB)"
    ) == ProgressEvent(label="six-1.17.0-py2.py3-none-any.whl.metadata", size="1.7 kB")
    assert parse_progress("Collecting torch") is None


def test_an_internal_error_still_names_the_log(py: str, env: dict[str, str]) -> None:
    class Broken(RecordingRunner):
        def stream(self, *a: Any, **k: Any) -> Any:
            raise RuntimeError("bug")

    out = io.StringIO()
    with pytest.raises(RuntimeError):
        run_install(
            pip_plan(py),
            target=InstallTarget(python=py),
            yes=True,
            console=Console(file=out, width=300),
            runner=Broken().on(PROBE, output=probe_output(py)),
            environ=env,
            get=fake_index({"torch": [(WHEEL, 1)]}),
            free_disk=lambda _: 10**12,
        )
    log = Path(out.getvalue().split("log: ")[1].strip())
    assert "RuntimeError: bug" in log.read_text()


def test_default_companion_missing_on_the_index_is_dropped_not_fatal() -> None:
    from torchsetup.install.preflight import DistCheck, PreflightReport
    from torchsetup.install.session import drop_companions, missing_companions
    from torchsetup.resolve.plan import Plan, Step

    step = Step(
        id="install",
        description="Install torch==2.13.0, torchvision==0.28.0 from http://i/simple",
        argv=(
            "/v/bin/python",
            "-m",
            "pip",
            "install",
            "torch==2.13.0",
            "torchvision==0.28.0",
            "--index-url",
            "http://i/simple",
        ),
    )
    plan = Plan(
        method="pip",
        torch="2.13.0",
        variant="cpu",
        python="/v/bin/python",
        torchvision="0.28.0",
        steps=(step,),
        extra=(("companions", "default"),),
    )
    report = PreflightReport(
        checks=(
            DistCheck("torch", "2.13.0"),
            DistCheck(
                "torchvision",
                "0.28.0",
                problem="the index http://i/simple has no torchvision at all",
            ),
        ),
        problems=("the index http://i/simple has no torchvision at all",),
    )
    assert missing_companions(plan, report) == ["torchvision"]
    new_plan, steps = drop_companions(plan, plan.steps, ["torchvision"])
    assert new_plan.torchvision is None
    assert steps[0].argv == (
        "/v/bin/python",
        "-m",
        "pip",
        "install",
        "torch==2.13.0",
        "--index-url",
        "http://i/simple",
    )
    assert steps[0].description == "Install torch==2.13.0 from http://i/simple"
    required = Plan(
        method="pip",
        torch="2.13.0",
        variant="cpu",
        python="/v/bin/python",
        torchvision="0.28.0",
        steps=(step,),
        extra=(("companions", "required"),),
    )
    assert missing_companions(required, report) == []
