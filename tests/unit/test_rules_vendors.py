"""Rules of the AMD, Intel & Jetson GPUs category (doctor/rules/vendors.py)."""

from __future__ import annotations

import dataclasses

import pytest

from tests.helpers.rule_cases import amd_box, cases_for, check_case, ids, jetson_box
from torchsetup.detect.model import AmdGpu, TorchBuild


@pytest.mark.parametrize("name", cases_for("vendors"))
def test_rule_fires(name: str) -> None:
    check_case(name)


def test_healthy_amd_box_with_a_rocm_build_is_quiet() -> None:
    from tests.helpers.envs import with_python

    env = with_python(
        amd_box(rocm_version="7.14.0"), torch=TorchBuild(version="2.14.1+rocm7.14", hip="7.14.1")
    )
    assert not ids(env) & {"TS121", "TS122", "TS123", "TS124"}


def test_the_override_set_turns_the_gfx_warning_into_info() -> None:
    env = dataclasses.replace(
        amd_box(AmdGpu(0, "AMD Radeon 780M", "gfx1103")),
        env_vars=(("HSA_OVERRIDE_GFX_VERSION", "11.0.0"),),
    )
    assert "TS122" in ids(env, "info") and "TS122" not in ids(env, "warning")


def test_an_integrated_gpu_beside_a_supported_dgpu_is_not_flagged() -> None:
    env = amd_box(
        AmdGpu(0, "Radeon RX 7900 XTX", "gfx1100"),
        AmdGpu(1, "AMD Radeon 780M", "gfx1103", integrated=True),
    )
    assert "TS122" not in ids(env)


def test_jetpack_builds_are_not_desktop_wheels() -> None:
    assert "TS125" not in ids(jetson_box("2.1.0a0+41361538.nv23.06", "11.4"))
    assert "TS125" not in ids(jetson_box("2.8.0", "12.6"))  # the Jetson AI Lab index
    assert "TS125" in ids(jetson_box("2.11.0", "13.0"))  # PyPI's aarch64 (SBSA) wheel
