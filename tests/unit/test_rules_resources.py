"""Rules of the Disk & memory category (doctor/rules/resources.py)."""

from __future__ import annotations

import dataclasses

import pytest

from tests.helpers import envs
from tests.helpers.rule_cases import cases_for, check_case, finding
from torchsetup.detect.model import DiskSpace, Resources
from torchsetup.doctor.model import ERROR


@pytest.mark.parametrize("name", cases_for("resources"))
def test_rule_fires(name: str) -> None:
    check_case(name)


def test_little_disk() -> None:
    env = dataclasses.replace(
        envs.h200(),
        resources=Resources(
            disks=(
                DiskSpace(label="TMPDIR", path="/tmp", free_bytes=1 << 30, total_bytes=100 << 30),
            )
        ),
    )
    f = finding(env, "TS022")
    assert f.severity == ERROR and "1.0 GiB" in f.detail and "/tmp" in f.detail
