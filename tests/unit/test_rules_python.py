"""Rules of the Python category (doctor/rules/python.py)."""

from __future__ import annotations

import pytest

from tests.helpers import envs
from tests.helpers.rule_cases import cases_for, check_case, finding
from torchsetup.detect.model import TargetPython
from torchsetup.doctor.model import ERROR


@pytest.mark.parametrize("name", cases_for("python"))
def test_rule_fires(name: str) -> None:
    check_case(name)


def test_target_python_not_found() -> None:
    env = envs.minimal(
        python=TargetPython(
            executable="/nope/python", ok=False, error="target Python not found: /nope/python"
        )
    )
    f = finding(env, "TS102")
    assert f.severity == ERROR and "/nope/python" in f.detail
