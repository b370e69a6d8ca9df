"""--fix planning is pure: findings + facts in, argv lists out."""

from __future__ import annotations

import sys

import pytest

from tests.helpers.envs import linux_gpu, with_dists, with_python
from tests.helpers.rule_cases import CASES
from torchsetup.cli import run
from torchsetup.detect.model import Distribution, Environment
from torchsetup.doctor import diagnose
from torchsetup.doctor.fix import plan_fixes

PY = "/home/alice/venv/bin/python"


def _plan(env: Environment) -> list[tuple[str, tuple[str, ...]]]:
    return [(a.finding, a.argv) for a in plan_fixes(env, diagnose(env).findings)]


def test_healthy_environment_plans_nothing() -> None:
    assert _plan(linux_gpu()) == []


def test_torchtriton_is_removed() -> None:
    assert _plan(CASES["TS014-torchtriton"].build()) == [
        ("TS014", (PY, "-m", "pip", "uninstall", "-y", "torchtriton"))
    ]


def _old_torchvision_next_to(torch_dist_version: str) -> Environment:
    """torchvision 0.24.0 (for torch 2.9) next to torch 2.11 installed as ``torch_dist_version``."""
    env = with_dists(linux_gpu(), Distribution("torchvision", "0.24.0", requires=("torch==2.9.0",)))
    assert env.python is not None
    dists = tuple(
        Distribution("torch", torch_dist_version) if d.name == "torch" else d
        for d in env.python.distributions
    )
    return with_python(env, distributions=dists)


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


def test_cpu_build_on_gpu_machine_is_replaced_by_torchsetup_install() -> None:
    plan = _plan(CASES["TS001-cpu-wheel"].build())
    assert plan == [("TS001", (sys.executable, "-m", "torchsetup", "install", "--python", PY))]


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
