"""Rules of the PyTorch category (doctor/rules/torch.py)."""

from __future__ import annotations

import dataclasses

import pytest

from tests.helpers import envs
from tests.helpers.rule_cases import cases_for, check_case, finding, findings, ids
from torchsetup.doctor.model import ERROR


@pytest.mark.parametrize("name", cases_for("torch"))
def test_rule_fires(name: str) -> None:
    check_case(name)


def test_cpu_torch_on_gpu_machine() -> None:
    env = envs.with_installed_torch(envs.h200(), "2.13.0+cpu", None)
    f = finding(env, "TS001")
    assert f.severity == ERROR
    assert "2.13.0+cpu" in f.detail and "NVIDIA H200" in f.detail and "580.159.04" in f.detail
    assert f.fix and "torchsetup install" in f.fix


def test_cpu_torch_without_gpu_is_fine() -> None:
    env = envs.minimal()
    assert env.python is not None
    env = envs.with_installed_torch(
        dataclasses.replace(env, python=dataclasses.replace(env.python, distributions=())),
        "2.13.0+cpu",
        None,
    )
    assert "TS001" not in ids(env)


def test_install_fixes_carry_the_resolvers_command() -> None:
    """ "Install the right build" fixes show the exact command the resolver plans for the machine."""
    env = envs.with_installed_torch(envs.h200(), "2.13.0+cpu", None)
    fix = finding(env, "TS001").fix or ""
    assert fix.startswith("torchsetup install")
    assert "-m pip install torch==" in fix
    assert "--index-url https://download.pytorch.org/whl/cu130" in fix  # driver 580 -> CUDA 13.0
    assert "--extra-index-url" not in fix


def test_two_torch_installs() -> None:
    env = envs.with_python(
        envs.h200(),
        torch_locations=(
            "/root/.local/lib/python3.12/site-packages/torch",
            "/opt/torch/.venv/lib/python3.12/site-packages/torch",
        ),
    )
    f = finding(env, "TS010")
    assert "2 copies" in f.detail and "/root/.local" in f.detail


def test_each_rule_message_differs_with_facts() -> None:
    """Messages quote the detected facts: two GPUs give two different TS005 messages."""
    env = envs.with_torch(envs.linux_gpu(), version="2.6.0+cu126", cuda="12.6")
    a = findings(
        envs.with_nvidia(env, gpus=envs.one_gpu("NVIDIA GeForce RTX 5090", "12.0")), "TS005"
    )
    b = findings(envs.with_nvidia(env, gpus=envs.one_gpu("NVIDIA B200", "10.0")), "TS005")
    assert a[0].detail != b[0].detail and "sm_100" in b[0].detail


def test_sass_compatibility_within_a_major_is_not_a_mismatch() -> None:
    """sm_89 runs sm_86 SASS and sm_121 runs sm_120: no TS005/TS006 for them."""
    env = envs.with_torch(envs.linux_gpu(), version="2.6.0+cu126", cuda="12.6")
    assert findings(envs.with_nvidia(env, gpus=envs.one_gpu("NVIDIA L4", "8.9")), "TS005") == []
    spark = envs.with_nvidia(envs.linux_gpu(), gpus=envs.one_gpu("NVIDIA GB10", "12.1"))
    assert findings(spark, "TS005") == [] and findings(spark, "TS006") == []


def test_ptx_covers_newer_gpus() -> None:
    """cu130 wheels of 2.10 carry 12.0+PTX: a future sm_130 GPU JIT-compiles, no finding."""
    env = envs.with_torch(envs.linux_gpu(), version="2.10.0+cu130")
    assert findings(envs.with_nvidia(env, gpus=envs.one_gpu("Future GPU", "13.0")), "TS005") == []


def test_deep_arch_list_is_preferred_over_the_table() -> None:
    """The table says 2.11 cu130 covers sm_90; a torch built without it (from --deep) fires."""
    env = envs.with_deep(envs.linux_gpu(), arch_list=("sm_100", "sm_120"))
    found = findings(env, "TS006")
    assert found and "torch.cuda.get_arch_list()" in found[0].detail


def test_ts108_is_silent_without_the_guard_probe_or_outside_a_venv() -> None:
    from tests.helpers.envs import cpu_linux, with_python
    from tests.helpers.rule_cases import guarded

    assert findings(cpu_linux(), "TS127") == []  # a report or an old snapshot: not probed
    system = with_python(guarded(None), env_kind="system")
    assert findings(system, "TS127") == []
    no_torch = with_python(guarded(None), distributions=(), torch=None)
    assert findings(no_torch, "TS127") == []
