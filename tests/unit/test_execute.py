"""The executor with a RecordingRunner: every method's argv and env, targets, safety, exit codes.

No process starts here (tests/unit/conftest.py): conda, source builds and venv creation are
checked as recorded commands against stand-in programs on a private PATH.
"""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
import stat
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import pytest
from rich.console import Console

from tests.helpers.recording import (
    PROBE,
    RecordingRunner,
    fake_index,
    parsed_probe,
    probe_output,
    torch_version_py,
)
from torchsetup.detect.model import TargetPython, Tools
from torchsetup.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_PROBLEMS, EXIT_STEP_FAILED, EXIT_USAGE
from torchsetup.install.session import InstallDeps, InstallResult, run_install
from torchsetup.resolve.complete import Carries, complete_plan
from torchsetup.resolve.plan import Plan, Step

INDEX = "https://download.example.org/whl/cpu"
WHEEL = "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"


def _recording_verify(seen: list[str]) -> Callable[[str], tuple[bool, str]]:
    def verify(python: str) -> tuple[bool, str]:
        seen.append(python)
        return True, "ok"

    return verify


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


def runner_for(python: str, **probe: Any) -> RecordingRunner:
    """A strict runner that answers the target probe of ``python`` (the plan's own steps are
    answered with success by :func:`install`)."""
    return RecordingRunner().on(PROBE, output=probe_output(python, **probe))


def tools_on(env: dict[str, str]) -> Tools:
    names = ("uv", "conda", "mamba", "micromamba")
    return Tools(paths=tuple((n, p) for n in names if (p := shutil.which(n, path=env.get("PATH")))))


def probed(runner: RecordingRunner, python: str) -> Optional[TargetPython]:
    """The target as the runner's scripted probe answers for ``python`` (what planning saw)."""
    argv = (python, "/x/target_probe.py", "--all-distributions")
    script = next((s for s in runner._scripts if s.matches(argv)), None)
    return parsed_probe(python) if script is None else _parse(python, script.output)


def _parse(python: str, output: str) -> TargetPython:
    from torchsetup.detect.parse.target_probe import build_python
    from torchsetup.detect.probes.record import ProbeRecord

    data = {"executable": python, **json.loads(output)}
    result = build_python(ProbeRecord("python", ok=True, data=data))
    assert result is not None
    return result


def ok_verify(python: str) -> tuple[bool, str]:
    return True, f"torch imports in {python}"


def install(
    plan: Plan,
    runner: RecordingRunner,
    env: dict[str, str],
    *,
    venv: Optional[str] = None,
    base: Optional[str] = None,
    force: bool = False,
    find_links: Optional[str] = None,
    index_url: Optional[str] = None,
    carries: Optional[Carries] = None,
    terminal: bool = False,
    index: Optional[dict[str, Any]] = None,
    **kw: Any,
) -> tuple[InstallResult, str]:
    """Complete ``plan`` for the target the runner's probe describes (as the install command
    does), then run it; the plan's own steps are scripted to succeed unless a test scripted them."""
    if plan.target is None:
        target = probed(runner, base or plan.python)
        if index_url:
            from torchsetup.resolve.complete import apply_source

            plan = apply_source(plan, index_url=index_url, find_links=None)
        plan = complete_plan(
            plan,
            target,
            tools=tools_on(env),
            venv=venv,
            find_links=find_links,
            force=force,
            carries=carries,
            uv_venv=plan.method == "uv",
        )
    steps = {st.argv for st in plan.steps}
    runner.on(lambda a: a in steps)
    out = io.StringIO()
    console = Console(file=out, width=300, force_terminal=terminal, color_system=None)
    kw.setdefault("yes", True)
    kw.setdefault("verify", ok_verify)
    effects = {
        "get": fake_index(index or {"torch": [(WHEEL, 191_794_682)]}),
        "head": fake_index({}),
        "free_disk": lambda _: 10**12,
    }
    effects.update((k, kw.pop(k)) for k in ("get", "head", "free_disk", "confirm") if k in kw)
    deps = InstallDeps(runner=runner, environ=env, **effects)  # type: ignore[arg-type]
    result = run_install(plan, force=force, console=console, deps=deps, **kw)
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
    (probe,) = [c for c in runner.calls if c.kind == "run"]
    assert probe.argv[0] == py and probe.argv[1].endswith("target_probe.py"), "the one probe"
    assert "-I" not in probe.argv, "the target as the user's python sees it"
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
            lambda a: a[0] == str(base) and PROBE in a[1],
            output=probe_output(str(base), prefix=str(home), base_prefix=str(home)),
        )
        .on(PROBE, output=probe_output(new_py, base_prefix=str(home)))
    )
    result, out = install(pip_plan(new_py), runner, env, venv=str(folder), base=str(base))
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
    base = "/opt/py311/bin/python3.11"
    runner = (
        RecordingRunner()
        .on(
            lambda a: a[0] == base,
            output=probe_output(base, prefix="/opt/py311", base_prefix="/opt/py311"),
        )
        .on(PROBE, output=probe_output(new_py, base_prefix="/opt/py311", dists=()))
    )
    result, out = install(pip_plan(new_py, method="uv"), runner, env, venv=str(folder), base=base)
    assert result.exit_code == EXIT_OK, out
    create, step = runner.streamed()
    assert create.argv == (str(uv), "venv", "--python", base, str(folder))
    assert step.argv[:5] == (str(uv), "pip", "install", "--python", new_py)


def test_existing_venv_with_another_python_refused(env: dict[str, str], home: Path) -> None:
    folder = home / "old-env"
    python = str(executable(folder / "bin" / "python"))
    runner = RecordingRunner().on(PROBE, output=probe_output(python, version="3.10.4"))
    result, out = install(pip_plan(python), runner, env)
    assert result.exit_code == EXIT_USAGE
    assert "is Python 3.10.4, the plan was resolved for Python 3.11" in out
    assert runner.streamed() == []


def test_venv_that_appeared_since_planning_refused(env: dict[str, str], home: Path) -> None:
    base = str(executable(home / "bin" / "python3.11"))
    folder = home / "env"
    runner = RecordingRunner().on(PROBE, output=probe_output(base, prefix=str(home)))
    plan = complete_plan(
        pip_plan(str(folder / "bin" / "python")),
        probed(runner, base),
        tools=Tools(),
        venv=str(folder),
    )
    executable(folder / "bin" / "python")  # someone made it between --dry-run and the run
    result, out = install(plan, runner, env)
    assert result.exit_code == EXIT_USAGE
    assert f"changed since the plan was made: {folder} now exists" in out
    assert runner.calls == []


# --- idempotence and conflicts ------------------------------------------------------------------


def test_already_satisfied_runs_nothing(py: str, env: dict[str, str]) -> None:
    runner = runner_for(
        py,
        dists=[("pip", "24.2"), ("torch", "2.13.0+cpu")],
        torch_version_py=torch_version_py("2.13.0+cpu"),
    )
    verified: list[str] = []
    result, out = install(pip_plan(py), runner, env, verify=_recording_verify(verified))
    assert result.exit_code == EXIT_OK and result.status == "already-satisfied", out
    assert runner.streamed() == [] and result.steps == ()
    assert "already satisfied: torch 2.13.0+cpu" in out and result.restore_file is None
    assert verified == [py], "verify still proves it"


def test_cpu_torch_replaced_when_cuda_planned(py: str, env: dict[str, str]) -> None:
    runner = runner_for(
        py,
        dists=[("pip", "24.2"), ("torch", "2.13.0+cpu")],
        torch_version_py=torch_version_py("2.13.0+cpu"),
    )
    plan = pip_plan(py, variant="cu128", index="https://download.example.org/whl/cu128")
    wheel = "torch-2.13.0+cu128-cp311-cp311-manylinux_2_28_x86_64.whl"
    result, out = install(plan, runner, env, index={"torch": [(wheel, 900_000_000)]})
    assert result.exit_code == EXIT_OK, out
    uninstall, _step = runner.streamed()
    assert uninstall.argv == (py, "-m", "pip", "uninstall", "-y", "torch")
    assert "cpu build, the plan installs cu128" in result.steps[0].description


def test_verify_failure_exit_1_with_the_restore_command(py: str, env: dict[str, str]) -> None:
    result, out = install(
        pip_plan(py), runner_for(py), env, verify=lambda p: (False, "import torch gives 2.12.0")
    )
    assert result.exit_code == EXIT_PROBLEMS and result.status == "verify-failed"
    assert "import torch gives 2.12.0" in out
    assert f"torchsetup restore {result.restore_file}" in out


def test_no_verify_skips_verify(py: str, env: dict[str, str]) -> None:
    called: list[str] = []
    result, _ = install(
        pip_plan(py),
        runner_for(py),
        env,
        no_verify=True,
        verify=_recording_verify(called),
    )
    assert result.exit_code == EXIT_OK and result.verify_ok is None and called == []


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
    runner = RecordingRunner().on(
        PROBE,
        output=probe_output(
            system,
            prefix=str(home / "usr"),
            base_prefix=str(home / "usr"),
            externally_managed=True,
        ),
    )
    result, out = install(pip_plan(system), runner, env, force=True)
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
    plan = dataclasses.replace(pip_plan(py), steps=pip_plan(other).steps)
    result, out = install(plan, runner_for(py), env)
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
    result, out = install(
        pip_plan(py), runner, env, find_links=str(folder), get=no_network, head=no_network
    )
    assert result.exit_code == EXIT_OK, out
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
    result, out = install(pip_plan(py), runner_for(py), env, free_disk=lambda _: 300_000_000)
    assert result.exit_code == EXIT_USAGE
    assert "not enough free disk: 1.2 GB needed" in out and "300 MB free" in out


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

    with pytest.raises(RuntimeError) as raised:
        install(pip_plan(py), Broken().on(PROBE, output=probe_output(py)), env)
    assert str(raised.value) == "bug"
    log = max((Path(env["HOME"]) / "cache" / "logs").glob("install-*"))
    assert "RuntimeError: bug" in log.read_text()


def test_default_companion_missing_on_the_index_is_dropped_with_a_note(
    py: str, env: dict[str, str]
) -> None:
    argv = (
        py,
        "-m",
        "pip",
        "install",
        "torch==2.13.0",
        "torchvision==0.28.0",
        "--index-url",
        INDEX,
    )
    plan = dataclasses.replace(
        pip_plan(py),
        torchvision="0.28.0",
        steps=(Step("install", f"Install torch==2.13.0, torchvision==0.28.0 from {INDEX}", argv),),
        extra=(("companions", "default"),),
    )
    runner = runner_for(py)
    result, out = install(plan, runner, env, carries=lambda name: name != "torchvision")
    assert result.exit_code == EXIT_OK, out
    (step,) = runner.streamed()
    assert step.argv == (py, "-m", "pip", "install", "torch==2.13.0", "--index-url", INDEX)
    assert "note: the index has no torchvision: installing without (--with torchvision" in out


def test_required_companion_is_not_dropped(py: str, env: dict[str, str]) -> None:
    plan = dataclasses.replace(
        pip_plan(py), torchvision="0.28.0", extra=(("companions", "required"),)
    )
    completed = complete_plan(
        plan, probed(runner_for(py), py), tools=Tools(), carries=lambda n: False
    )
    assert completed.torchvision == "0.28.0" and completed.warnings == ()
