"""The engine choice (--method auto), the guard steps of a plan and the guard's files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.test_cli_install import invoke
from tests.unit.test_plan_is_what_runs import SNAPSHOTS
from torchsetup.detect.snapshot import load_environment
from torchsetup.guardfile import (
    pip_conf_text,
    read_status,
    remove_guard,
    status_from_text,
    user_constraints,
    write_guard,
)
from torchsetup.matrix.load import load_matrix
from torchsetup.resolve.complete import plan_install
from torchsetup.resolve.plan import Plan
from torchsetup.resolve.request import parse_request

VENV_PY = "/opt/torch/.venv/bin/python3"


@pytest.fixture(autouse=True)
def offline_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    """--export requirements/pylock read the index: here a made-up lock of the plan instead."""
    from tests.helpers.locks import fake_lock

    monkeypatch.setattr("torchsetup.install.lock.lock_plan", lambda plan, py, **_: fake_lock(plan))


def plan(name: str, **kw: object) -> Plan:
    method = str(kw.pop("method", "auto"))
    return plan_install(
        load_environment(str(SNAPSHOTS / f"{name}.json")),
        parse_request(torch="2.13.0", method=method),
        load_matrix(),
        **kw,  # type: ignore[arg-type]
    )


# --- the engine --------------------------------------------------------------------------------


def test_auto_is_uv_where_the_machine_has_it() -> None:
    p = plan("h200-real")
    assert p.method == "uv"
    install = next(st for st in p.steps if st.id == "install")
    assert install.argv[:5] == ("/usr/local/bin/uv", "pip", "install", "--python", VENV_PY)
    assert "--compile-bytecode" not in install.argv and "--no-cache" not in install.argv
    after = p.steps[p.steps.index(install) + 1]
    assert after.id == "bytecode" and after.argv[0] == VENV_PY, "the .pyc of import torch, next"
    assert any(r.startswith("uv: the default engine (/usr/local/bin/uv)") for r in p.reasons)


def test_auto_falls_back_to_pip_with_a_note_when_uv_is_missing() -> None:
    p = plan("linux-py311-nodriver")
    assert p.method == "pip"
    assert any("the default engine uv was not found" in w for w in p.warnings)
    shown = invoke("--torch", "2.13.0", "--dry-run", snapshot="linux-py311-nodriver")
    assert "uv was not found" in shown.out + shown.err


def test_method_pip_is_kept_as_asked() -> None:
    p = plan("h200-real", method="pip")
    assert p.method == "pip" and not any("default engine" in x for x in (*p.reasons, *p.warnings))
    assert next(st for st in p.steps if st.id == "install").argv[1:3] == ("-m", "pip")


def ids(p: Plan) -> list[str]:
    return [st.id for st in p.steps]


def install_argv(p: Plan) -> tuple[str, ...]:
    return next(st for st in p.steps if st.id == "install").argv


def test_bytecode_import_is_uvs_default_and_all_is_pips() -> None:
    uv = plan("h200-real")
    assert ids(uv) == ["install", "bytecode", "guard"] and "--compile-bytecode" not in install_argv(
        uv
    )
    step = uv.steps[1]
    assert step.argv[:2] == (VENV_PY, "-c"), "a snapshot's machine: the import by python -c"
    assert "import torch" in step.argv[2] and "dont_write_bytecode = False" in step.argv[2]
    pip = plan("h200-real", method="pip")
    assert ids(pip) == ["install", "guard"] and "--no-compile" not in install_argv(pip)


@pytest.mark.parametrize(
    ("method", "mode", "steps", "flag", "not_flag"),
    [
        ("uv", "all", ["install", "guard"], "--compile-bytecode", None),
        ("uv", "none", ["install", "guard"], None, "--compile-bytecode"),
        ("pip", "import", ["install", "bytecode", "guard"], "--no-compile", None),
        ("pip", "none", ["install", "guard"], "--no-compile", None),
        ("pip", "all", ["install", "guard"], None, "--no-compile"),
    ],
)
def test_bytecode_modes(
    method: str, mode: str, steps: list[str], flag: str | None, not_flag: str | None
) -> None:
    p = plan("h200-real", method=method, bytecode=mode)
    assert ids(p) == steps
    argv = install_argv(p)
    if flag:
        assert flag in argv
        # right after `install` (after `--python PY` for uv): an option, never a requirement
        at = argv.index(flag)
        assert argv[at - 1] in ("install", VENV_PY)
    if not_flag:
        assert not_flag not in argv


def test_bytecode_with_a_lock_keeps_the_compile_flag() -> None:
    from torchsetup.resolve.complete import with_lock

    locked = with_lock(plan("h200-real", bytecode="all"), "/tmp/pylock.toml", 10)
    assert "--compile-bytecode" in install_argv(locked) and "-r" in install_argv(locked)
    default = with_lock(plan("h200-real"), "/tmp/pylock.toml", 10)
    assert ids(default) == ["install", "bytecode", "guard"]
    assert "--compile-bytecode" not in install_argv(default)


def test_bytecode_for_a_conda_plan_is_refused_in_one_line() -> None:
    r = invoke("--method", "conda", "--bytecode", "import", "--dry-run", snapshot="h200-real")
    assert r.code == 2 and "--bytecode import is for pip and uv installs" in r.err, r.err
    assert "Traceback" not in r.err


def test_the_bytecode_step_is_a_comment_of_the_requirements_export() -> None:
    req = invoke("--torch", "2.13.0", "--export", "requirements", snapshot="h200-real")
    assert req.code == 0, req.err
    assert "# then write the bytecode of what import torch loads: " in req.out


def test_an_unknown_method_is_one_line_and_exit_2() -> None:
    r = invoke("--method", "poetry", "--dry-run", snapshot="h200-real")
    assert r.code == 2 and "--method poetry: unknown" in r.err and "Traceback" not in r.err


# --- the guard steps ---------------------------------------------------------------------------


def test_a_venv_install_ends_with_the_guard_step() -> None:
    p = plan("h200-real")
    assert [st.id for st in p.steps][-3:] == ["install", "bytecode", "guard"]
    assert p.steps[-1].argv == ("torchsetup", "guard", "on", "--python", VENV_PY)
    assert "pin torch 2.13.0" in p.steps[-1].description


def test_no_guard_leaves_it_out() -> None:
    assert [st.id for st in plan("h200-real", guard=False).steps] == ["install", "bytecode"]


def test_a_guarded_target_is_lifted_first_and_guarded_again() -> None:
    p = plan("h200-real", guarded=("torch==2.14.1+cu130",))
    assert [st.id for st in p.steps] == ["guard-off", "install", "bytecode", "guard"]
    assert p.steps[0].argv == ("torchsetup", "guard", "off", "--python", VENV_PY)
    assert "torch==2.14.1+cu130 pinned" in p.steps[0].description
    unguarded = plan("h200-real", guarded=("torch==2.14.1+cu130",), guard=False)
    assert [st.id for st in unguarded.steps] == ["guard-off", "install", "bytecode"]


def test_a_system_python_gets_no_guard() -> None:
    env = load_environment(str(SNAPSHOTS / "pascal-gtx1080ti-driver580.json"))
    assert env.python is not None and env.python.env_kind == "system"
    steps = plan("pascal-gtx1080ti-driver580", force=True).steps
    assert "install" in [st.id for st in steps] and "guard" not in [st.id for st in steps]


def test_the_guard_is_in_json_sh_and_a_note_of_requirements() -> None:
    args = ("--torch", "2.13.0")
    sh = invoke(*args, "--export", "sh", snapshot="h200-real")
    assert sh.code == 0 and f"torchsetup guard on --python {VENV_PY}" in sh.out
    req = invoke(*args, "--export", "requirements", snapshot="h200-real")
    assert req.code == 0
    assert req.out.splitlines()[-1] == (
        f"# then pin this build for later installs: torchsetup guard on --python {VENV_PY}"
    )


# --- the files ---------------------------------------------------------------------------------


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    root = tmp_path / "venv"
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "activate").write_text("# venv activate\nexport VIRTUAL_ENV=x\n")
    return root


def test_write_then_remove(venv: Path) -> None:
    status = write_guard(venv, ["torch==2.13.0+cpu"], keep=["/etc/xdg/pip/constraints.txt"])
    assert status.on and status.pip and status.uv and status.pins == ("torch==2.13.0+cpu",)
    conf = (venv / "pip.conf").read_text()
    assert "[install]" in conf
    assert f"constraint = {venv}/torchsetup-constraints.txt /etc/xdg/pip/constraints.txt" in conf
    activate = (venv / "bin" / "activate").read_text()
    assert activate.startswith("# venv activate\n")
    assert f"export UV_CONSTRAINT={venv}/torchsetup-constraints.txt" in activate
    # set again (a new build): one block, new pins
    write_guard(venv, ["torch==2.12.0"])
    assert (venv / "bin" / "activate").read_text().count("UV_CONSTRAINT") == 1
    assert read_status(venv).pins == ("torch==2.12.0",)

    off = remove_guard(venv)
    assert not off.on and not off.pip and not off.uv
    assert not (venv / "pip.conf").exists()
    assert (venv / "bin" / "activate").read_text() == "# venv activate\nexport VIRTUAL_ENV=x\n"
    assert (venv / "torchsetup-constraints.txt").exists(), "kept (empty) for shells that export it"
    assert read_status(venv).pins == ()


def test_a_pip_conf_of_the_user_is_left_alone(venv: Path) -> None:
    (venv / "pip.conf").write_text("[global]\ntimeout = 60\n")
    status = write_guard(venv, ["torch==2.13.0+cpu"])
    assert status.foreign_pip_conf and not status.pip and status.uv and status.on
    assert (venv / "pip.conf").read_text() == "[global]\ntimeout = 60\n"
    remove_guard(venv)
    assert (venv / "pip.conf").read_text() == "[global]\ntimeout = 60\n"


def test_user_constraints_are_carried_over(tmp_path: Path) -> None:
    a = tmp_path / "a.conf"
    a.write_text("[global]\nconstraint = /etc/c1.txt\n")
    b = tmp_path / "b.conf"
    b.write_text("[install]\nconstraint = /etc/c1.txt /home/c2.txt\n")
    broken = tmp_path / "broken.conf"
    broken.write_text("not ini at all [")
    assert user_constraints([a, b, broken, tmp_path / "missing"]) == ["/etc/c1.txt", "/home/c2.txt"]


def test_status_from_text() -> None:
    conf = pip_conf_text("/v", [])
    on = status_from_text(
        "/v",
        pins_text="# x\ntorch==2.13.0\n",
        pip_conf_text=conf,
        activate="# >>> torchsetup guard >>>",
    )
    assert on.on and on.pip and on.uv
    off = status_from_text("/v", pins_text="# off\n", pip_conf_text=None)
    assert not off.on and not off.foreign_pip_conf


def test_the_guard_steps_are_run_as_shown(tmp_path: Path) -> None:
    """guard-off, install, guard: the script and the executor's commands are the plan's steps."""
    from tests.unit.test_plan_is_what_runs import executed
    from torchsetup.resolve.exporters import export_sh

    p = plan("h200-real", guarded=("torch==2.14.1+cu130",))
    assert [st.id for st in p.steps] == ["guard-off", "install", "bytecode", "guard"]
    lines = [x for x in export_sh(p).splitlines() if x and not x.startswith(("#", "set "))]
    assert lines == [st.shell_line() for st in p.steps]
    assert [argv for argv, _, _ in executed(p, "h200-real", tmp_path)] == [
        st.argv for st in p.steps
    ]


def test_a_conda_environment_exports_on_activate_and_unsets_on_deactivate(tmp_path: Path) -> None:
    env = tmp_path / "conda-env"
    (env / "conda-meta").mkdir(parents=True)
    status = write_guard(env, ["torch==2.5.1"])
    assert status.on and status.uv
    on = env / "etc" / "conda" / "activate.d" / "torchsetup-guard.sh"
    off = env / "etc" / "conda" / "deactivate.d" / "torchsetup-guard.sh"
    assert f"export UV_CONSTRAINT={env}/torchsetup-constraints.txt" in on.read_text()
    assert "unset UV_CONSTRAINT" in off.read_text()
    remove_guard(env)
    assert not on.exists() and not off.exists()
