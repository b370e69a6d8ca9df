"""Tests generated from the research record: every documented pip command is what we plan.

For every release and every advertised pip variant in tools/reference/compat.json, on every
platform it lists, asking for exactly that build must plan compat.json's command (its
``command_index`` form where the page's own command relied on PyPI): ``pip install torch==X
torchvision==Y [torchaudio==Z] --index-url URL``, run by the target interpreter.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_resolve import install_args, snapshot
from torchsetup.matrix.load import load_matrix
from torchsetup.resolve.request import parse_request
from torchsetup.resolve.resolver import resolve
from torchsetup.versions import variant_cuda

COMPAT = json.loads(
    (Path(__file__).resolve().parents[2] / "tools/reference/compat.json").read_text(
        encoding="utf-8"
    )
)


def _flag(variant: str) -> dict[str, Any]:
    cuda = variant_cuda(variant)
    if cuda:
        return {"cuda": cuda}
    if variant == "cpu":
        return {"cpu": True}
    return {"rocm": variant[len("rocm") :]}


def _cases() -> Iterator[Any]:
    for rel in COMPAT["torch_releases"]:
        for name, v in rel["pip_variants"].items():
            command = v.get("command_index") or v.get("command")
            if not (v.get("advertised") and command):
                continue
            for platform in sorted({p.split()[0] for p in v["platforms"]}):
                yield pytest.param(
                    rel["torch"],
                    name,
                    platform,
                    rel["python"],
                    command,
                    id=f"{rel['torch']}-{name}-{platform}",
                )


CASES = list(_cases())


def test_cases_cover_every_documented_release() -> None:
    documented = {
        r["torch"]
        for r in COMPAT["torch_releases"]
        if any(
            v.get("advertised") and (v.get("command") or v.get("command_index"))
            for v in r["pip_variants"].values()
        )
    }
    assert {c.values[0] for c in CASES} == documented
    assert len(documented) == 25  # 2.0.0 to 2.13.0; compat.json has no page commands for 2.14.x yet
    assert len(CASES) > 120


@pytest.mark.parametrize(("torch", "variant", "platform", "pythons", "command"), CASES)
def test_plan_is_the_documented_command(
    torch: str, variant: str, platform: str, pythons: list[str], command: str
) -> None:
    env = snapshot("linux-py311-nodriver")
    for python in (pythons[0], pythons[-1]):
        request = parse_request(
            torch=torch,
            target_platform=platform,
            target_python=python,
            target_glibc="2.39",
            target_driver="none",
            **_flag(variant),
        )
        plan = resolve(env, request, load_matrix())
        assert (plan.torch, plan.variant) == (torch, variant)
        assert install_args(plan) == ["-m", "pip", *command.split()[1:]]
        assert "--extra-index-url" not in plan.steps[-1].argv
