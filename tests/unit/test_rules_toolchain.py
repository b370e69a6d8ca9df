"""Rules of the Compiler toolchain category (doctor/rules/toolchain.py)."""

from __future__ import annotations

import dataclasses

import pytest

from tests.helpers import envs
from tests.helpers.rule_cases import cases_for, check_case, finding
from torchsetup.detect.model import Tools


@pytest.mark.parametrize("name", cases_for("toolchain"))
def test_rule_fires(name: str) -> None:
    check_case(name)


def test_no_cxx_compiler() -> None:
    env = dataclasses.replace(envs.h200(), tools=Tools(paths=(("git", "/usr/bin/git"),)))
    f = finding(env, "TS015")
    assert f.fix == "sudo apt-get install -y build-essential"
    mac = dataclasses.replace(
        env, os=dataclasses.replace(env.os, system="Darwin", distro_id="macos")
    )
    assert finding(mac, "TS015").fix == "xcode-select --install"
