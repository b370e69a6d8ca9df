"""Rules of the Companion packages category (doctor/rules/companions.py)."""

from __future__ import annotations

import dataclasses

import pytest

from tests.helpers import envs
from tests.helpers.rule_cases import cases_for, check_case, finding, ids
from torchsetup.doctor import run_rules
from torchsetup.doctor.model import ERROR, WARNING


@pytest.mark.parametrize("name", cases_for("companions"))
def test_rule_fires(name: str) -> None:
    check_case(name)


@pytest.mark.parametrize(
    ("name", "version", "requires", "local"),
    [
        ("torchvision", "0.24.0", ("torch==2.9.0",), None),
        ("torchaudio", "2.9.0", ("torch==2.9.0",), None),
        ("torchvision", "0.26.0+cu128", ("torch==2.11.0",), "cu128"),
    ],
)
def test_companion_built_for_another_torch(
    name: str, version: str, requires: tuple[str, ...], local: str | None
) -> None:
    env = envs.with_dist(
        envs.with_installed_torch(envs.h200(), "2.11.0+cu130", "13.0"), name, version, requires
    )
    f = finding(env, "TS011")
    assert name in f.title and version in f.detail and "2.11.0+cu130" in f.detail
    if local:
        assert "+cu128" in f.detail
    assert "--torch 2.11.0" in (f.fix or "")


def test_companion_matching_range_is_silent() -> None:
    env = envs.with_dist(
        envs.with_installed_torch(envs.h200(), "2.14.1+cu130", "13.0"),
        "torchvision",
        "0.29.1",
        ("torch>=2.14",),
    )
    assert "TS011" not in ids(env)


def test_torchtriton_installed() -> None:
    env = envs.with_dist(envs.h200(), "torchtriton", "2.0.0+0d7e753227")
    f = finding(env, "TS014")
    assert f.severity == ERROR and "torchtriton" in (f.fix or "") and "cache purge" in (f.fix or "")


def test_extra_index_url_for_pytorch_warns() -> None:
    env = dataclasses.replace(
        envs.h200(),
        pip_config=(
            (
                "/etc/pip.conf",
                "[global]\nextra-index-url = https://download.pytorch.org/whl/cu121\n",
            ),
        ),
    )
    found, _ = run_rules(env)
    warn = [f for f in found if f.id == "TS014"]
    assert warn and warn[0].severity == WARNING and "/etc/pip.conf" in warn[0].detail
