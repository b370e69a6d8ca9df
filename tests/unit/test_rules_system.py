"""Rules of the System category (doctor/rules/system.py)."""

from __future__ import annotations

import pytest

from tests.helpers.rule_cases import cases_for, check_case


@pytest.mark.parametrize("name", cases_for("system"))
def test_rule_fires(name: str) -> None:
    check_case(name)
