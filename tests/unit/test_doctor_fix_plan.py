"""--fix planning is pure: findings (with their structured data) + facts in, a Plan out."""

from __future__ import annotations

import dataclasses

import pytest

from tests.helpers.envs import linux_gpu, with_dists, with_python
from tests.helpers.rule_cases import CASES
from torchsetup.cli import run
from torchsetup.detect.model import Distribution, Environment
from torchsetup.doctor import diagnose
from torchsetup.doctor.fix_commands import install_plan
from torchsetup.doctor.fix_plan import plan_fixes

PY = "/home/alice/venv/bin/python"


def _plan(env: Environment) -> list[tuple[str, tuple[str, ...]]]:
    """(rule id the step fixes, argv) of each planned step."""
    plan = plan_fixes(env, diagnose(env).findings)
    return [(s.description.split("]")[0].lstrip("["), s.argv) for s in plan.steps] if plan else []


def test_healthy_environment_plans_nothing() -> None:
    assert plan_fixes(linux_gpu(), diagnose(linux_gpu()).findings) is None


def test_torchtriton_is_removed() -> None:
    env = CASES["TS014-torchtriton"].build()
    assert _plan(env) == [("TS014", (PY, "-m", "pip", "uninstall", "-y", "torchtriton"))]
    plan = plan_fixes(env, diagnose(env).findings)
    assert plan is not None and plan.python == PY and plan.reasons == ("TS014",)
    assert "remove torchtriton 2.0.0+0d7e753227" in plan.steps[0].description


def _old_torchvision_next_to(torch_dist_version: str) -> Environment:
    """torchvision 0.24.0 (for torch 2.9) next to torch 2.11 installed as ``torch_dist_version``."""
    env = with_dists(linux_gpu(), Distribution("torchvision", "0.24.0", requires=("torch==2.9.0",)))
    assert env.python is not None
    dists = tuple(
        Distribution("torch", torch_dist_version) if d.name == "torch" else d
        for d in env.python.distributions
    )
    return with_python(env, distributions=dists)


def test_companion_findings_carry_structured_data() -> None:
    env = _old_torchvision_next_to("2.11.0+cu128")
    ts011 = next(f for f in diagnose(env).findings if f.id == "TS011")
    assert dict(ts011.data) == {
        "package": "torchvision",
        "installed": "0.24.0",
        "torch": "2.11.0+cu130",
        "wanted": "0.26.0",
    }
    assert ts011.to_dict()["data"] == dict(ts011.data)


def test_mismatched_torchvision_comes_from_torchs_index() -> None:
    assert _plan(_old_torchvision_next_to("2.11.0+cu128")) == [
        (
            "TS011",
            (
                PY,
                "-m",
                "pip",
                "install",
                "torchvision==0.26.0",
                "--index-url",
                "https://download.pytorch.org/whl/cu128",
            ),
        )
    ]


def test_pypi_torch_gets_its_companion_from_pypi() -> None:
    """torch 2.11.0 from PyPI has no local label in its metadata: no --index-url."""
    assert _plan(_old_torchvision_next_to("2.11.0")) == [
        ("TS011", (PY, "-m", "pip", "install", "torchvision==0.26.0"))
    ]


def test_the_package_comes_from_the_finding_data_not_its_title() -> None:
    env = _old_torchvision_next_to("2.11.0+cu128")
    audio = (
        ("package", "torchaudio"),
        ("installed", "2.5.1"),
        ("torch", "2.11.0+cu130"),
        ("wanted", "2.11.0"),
    )
    findings = [
        dataclasses.replace(f, title="torchvision 0.24.0 was built for another torch", data=audio)
        if f.id == "TS011"
        else f
        for f in diagnose(env).findings
    ]
    plan = plan_fixes(env, findings)
    assert plan is not None
    assert [s.argv[4] for s in plan.steps] == ["torchaudio==2.11.0"]
    without_data = [dataclasses.replace(f, data=()) for f in diagnose(env).findings]
    assert plan_fixes(env, without_data) is None


def test_cpu_build_on_gpu_machine_is_replaced_by_the_resolvers_plan() -> None:
    env = CASES["TS001-cpu-wheel"].build()
    resolved = install_plan(env, ())
    assert resolved is not None
    plan = plan_fixes(env, diagnose(env).findings)
    assert plan is not None and plan.reasons == ("TS001",)
    assert (plan.torch, plan.variant) == (resolved.torch, resolved.variant) == ("2.15.0", "cu130")
    first, *rest = plan.steps
    # pip would keep the +cpu build when asked for the same version from a GPU index
    assert first.argv == (PY, "-m", "pip", "uninstall", "-y", "torch", "torchvision")
    assert [s.argv for s in rest] == [s.argv for s in resolved.steps]
    assert rest[-1].argv[3:5] == ("install", "torch==2.15.0")
    assert rest[-1].argv[-2:] == ("--index-url", "https://download.pytorch.org/whl/cu130")
    assert all(s.description.startswith("[TS001] ") for s in plan.steps)


def test_unsafe_findings_plan_nothing() -> None:
    for case in ("TS003-too-old", "TS004-mismatch", "TS007-ld-library-path", "TS010-two-copies"):
        assert _plan(CASES[case].build()) == [], case


def test_fix_refuses_without_a_terminal_or_yes(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["doctor", "--fix"]) == 2  # pytest's stdin is not a terminal
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--yes" in err


def test_yes_needs_fix(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["doctor", "--yes"]) == 2
    assert "--yes only goes with --fix" in capsys.readouterr().err


def test_doctor_never_imports_install() -> None:
    """doctor and install are siblings: doctor plans, the CLI hands the plan to the install
    session. No import of torchsetup.install anywhere in doctor/, function-local ones included."""
    import ast
    from pathlib import Path

    import torchsetup.doctor

    folder = Path(torchsetup.doctor.__file__).parent
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            assert not any(n.startswith("torchsetup.install") for n in names), path
