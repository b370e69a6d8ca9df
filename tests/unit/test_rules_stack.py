"""Rules of the LLM stack category (doctor/rules/stack.py, TS201-TS212)."""

from __future__ import annotations

import pytest

from tests.helpers import envs
from tests.helpers.rule_cases import cases_for, check_case, finding, ids
from tests.helpers.stack_rule_cases import FA_WHEEL, _dist


@pytest.mark.parametrize("name", cases_for("stack"))
def test_rule_fires(name: str) -> None:
    check_case(name)


def test_at_least_twelve_rules() -> None:
    assert len({name.split("-")[0] for name in cases_for("stack")}) >= 12


def test_silent_on_a_healthy_stack() -> None:
    env = envs.with_python(
        envs.linux_gpu(),
        distributions=envs.dists(
            _dist("transformers", "5.23.0"),
            _dist("peft", "0.21.2"),
            _dist("accelerate", "1.15.0"),
            _dist("bitsandbytes", "0.50.2"),
            _dist("vllm", "0.26.0", requires=("torch==2.11.0",)),
            _dist("xformers", "0.0.35+cu130", requires=("torch>=2.10",)),
        ),
    )
    assert not {i for i in ids(env) if i.startswith("TS2")}


def test_a_matching_flash_attn_wheel_is_silent() -> None:
    good = FA_WHEEL.replace("torch2.8", "torch2.11").replace("cu12", "cu13")
    env = envs.with_python(
        envs.linux_gpu(), distributions=envs.dists(_dist("flash-attn", "2.8.3", direct_url=good))
    )
    assert "TS201" not in ids(env)


def test_findings_carry_the_resolver_s_version() -> None:
    env = envs.with_python(
        envs.linux_gpu(),
        distributions=envs.dists(_dist("bitsandbytes", "0.47.0", requires=("torch<3,>=2.2",))),
    )
    f = finding(env, "TS208")
    assert f.value("wanted") == "0.50.2" and f.value("installed") == "0.47.0"
    assert f.fix is not None and f.fix.startswith("torchsetup install --torch 2.11.0 --cuda 13.0")


def test_every_stack_rule_names_the_error_texts_its_failure_prints() -> None:
    from torchsetup.doctor.rules import all_rules
    from torchsetup.doctor.rules.stack import ERROR_TEXTS

    stack_ids = {r.id for r in all_rules() if r.category == "stack"}
    assert set(ERROR_TEXTS) == stack_ids
    assert all(texts and all(t.strip() for t in texts) for texts in ERROR_TEXTS.values())
