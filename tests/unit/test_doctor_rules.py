"""The doctor's rules as a whole: the registry and its split by category, every rule silent on
healthy machines, categories, statuses and exit codes. The rules of one category are tested in
tests/unit/test_rules_<category>.py, their firing cases listed in tests/helpers/rule_cases.py.
"""

from __future__ import annotations

import ast
import dataclasses
import sys
from pathlib import Path

import pytest

from tests.helpers import envs
from tests.helpers.rule_cases import CASES, cases_for, findings, ids
from torchsetup.detect.model import Tools
from torchsetup.doctor import CATEGORIES, diagnose
from torchsetup.doctor.model import ERROR, Rule
from torchsetup.doctor.rules import RULES, all_rules
from torchsetup.doctor.rules.registry import rule

RULES_DIR = Path(__file__).resolve().parents[2] / "src" / "torchsetup" / "doctor" / "rules"

# tests/data/envs holds broken environments, each made for one rule.
ENV_FIXTURES = {
    "conda-pytorch-mkl-2024-1.json": "TS029",
    "macos-rosetta.json": "TS024",
    "rocm-gfx1031.json": "TS026",
    "windows-vc-runtime-missing.json": "TS028",
    "wsl-linux-driver-inside.json": "TS019",
}


def test_every_rule_has_a_firing_case() -> None:
    assert {c.rule for c in CASES.values()} >= {r.id for r in all_rules()}


def test_one_rules_module_per_category() -> None:
    """doctor/rules/<key>.py for every category, each with rules, and no other rule module."""
    keys = [key for key, _ in CATEGORIES]
    modules = sorted(p.stem for p in RULES_DIR.glob("*.py") if not p.stem.startswith("_"))
    assert modules == sorted([*keys, "registry"])
    for key in keys:
        assert f"torchsetup.doctor.rules.{key}" in sys.modules
        assert cases_for(key), f"no firing case for the {key} rules"
    assert {r.category for r in all_rules()} == set(keys)


def test_a_rule_outside_its_category_module_is_refused() -> None:
    def body(ctx, r):
        return []

    body.__module__ = "torchsetup.doctor.rules.nvidia"
    with pytest.raises(ValueError, match=r"category 'torch' but lives in nvidia\.py"):
        rule("TS998", title="t", category="torch", severity=ERROR)(body)
    assert "TS998" not in RULES


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of the top-level imports of a file."""
    out: list[tuple[str, list[str]]] = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.module:
            out.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names]
    return out


def test_the_registry_is_a_leaf() -> None:
    for module, _ in _imports(RULES_DIR / "registry.py"):
        assert not module.startswith("torchsetup.doctor.rules"), module


def test_no_module_imports_a_private_name_of_another() -> None:
    for path in RULES_DIR.glob("*.py"):
        for module, names in _imports(path):
            private = [n for n in names if n.startswith("_")]
            assert not private, f"{path.name} imports {private} from {module}"


def test_catalogue_coverage() -> None:
    """At least 25 of the 29 catalogue problems have a rule, each with its own id."""
    numbers = {r.catalogue for r in all_rules() if r.catalogue}
    assert len(numbers) >= 25
    for r in all_rules():
        if r.catalogue:
            assert r.id == f"TS{r.catalogue:03d}"


@pytest.mark.parametrize("healthy", sorted(envs.HEALTHY))
@pytest.mark.parametrize("rule_id", sorted({r.id for r in all_rules()}))
def test_rule_silent_on_healthy(rule_id: str, healthy: str) -> None:
    assert findings(envs.HEALTHY[healthy](), rule_id) == []


@pytest.mark.parametrize("healthy", sorted(envs.HEALTHY))
def test_healthy_environment_has_no_findings_and_no_crash(healthy: str) -> None:
    """(Includes the real H200 capture: no error, no warning, no crashed rule.)"""
    report = diagnose(envs.HEALTHY[healthy]())
    assert report.crashed_rules == ()
    assert report.errors == 0 and report.warnings == 0, [f.id for f in report.findings]


def test_every_env_fixture_is_listed() -> None:
    assert sorted(p.name for p in envs.ENVS_DIR.glob("*.json")) == sorted(ENV_FIXTURES)


@pytest.mark.parametrize("name", sorted(ENV_FIXTURES))
def test_env_fixture_fires_the_rule_it_was_made_for(name: str) -> None:
    report = diagnose(envs.env_fixture(name)())
    assert report.crashed_rules == ()
    rule_id = ENV_FIXTURES[name]
    assert rule_id in {f.id for f in report.findings if f.severity == ERROR}, [
        (f.id, f.severity) for f in report.findings
    ]


def test_no_gpu_no_driver_is_not_an_error() -> None:
    assert ids(envs.minimal(), ERROR) == set()


def test_categories_and_exit_codes() -> None:
    healthy = diagnose(envs.h200())
    assert healthy.exit_code() == 0
    assert [c.key for c in healthy.categories][:4] == ["system", "python", "nvidia", "torch"]
    nv = next(c for c in healthy.categories if c.key == "nvidia")
    assert nv.status == "ok"
    assert nv.summary == "driver 580.159.04, supports CUDA <= 13.0; NVIDIA H200 (sm_90)"
    libs = next(c for c in healthy.categories if c.key == "libraries")
    assert libs.summary == "driver supports CUDA <= 13.0 · torch built with CUDA 13.0 · nvcc 13.0"

    broken = diagnose(envs.with_installed_torch(envs.h200(), "2.13.0+cpu", None))
    assert broken.exit_code() == 1
    assert next(c for c in broken.categories if c.key == "torch").status == "error"

    warn_only = diagnose(
        dataclasses.replace(envs.h200(), tools=Tools(paths=(("git", "/usr/bin/git"),)))
    )
    assert warn_only.exit_code() == 0
    assert warn_only.exit_code(strict=True) == 1


def test_failed_probe_marks_check_failed() -> None:
    from torchsetup.detect.model import ProbeSummary

    env = dataclasses.replace(
        envs.build_machine(),
        probes=(
            ProbeSummary(
                name="nvidia-smi",
                ok=False,
                duration_s=2.0,
                error="nvidia-smi failed: timed out after 2 s: nvidia-smi",
            ),
        ),
    )
    report = diagnose(env)
    nv = next(c for c in report.categories if c.key == "nvidia")
    assert nv.status == "check failed"
    assert "timed out" in nv.failed_checks[0]
    assert report.exit_code() == 0 and report.exit_code(strict=True) == 1


def test_a_crashing_rule_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(ctx):
        raise RuntimeError("kaboom")

    monkeypatch.setitem(
        RULES,
        "TS999",
        Rule(id="TS999", title="t", category="system", severity=ERROR, func=boom, explain="x"),
    )
    report = diagnose(envs.h200())
    assert report.crashed_rules == ("TS999: RuntimeError: kaboom",)
    assert report.exit_code() == 1
