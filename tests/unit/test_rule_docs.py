"""docs/rules is generated from the registry and current; --explain and --list-rules print it."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from click.testing import CliRunner

from torchsetup.cli import run
from torchsetup.cli.doctor import doctor
from torchsetup.doctor.explain import find_rule, rule_page
from torchsetup.doctor.rules import all_rules

REPO = Path(__file__).resolve().parents[2]


def _gen() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_rule_docs", REPO / "tools" / "gen_rule_docs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rule_docs_are_up_to_date() -> None:
    gen = _gen()
    assert gen.stale(gen.expected_files()) == [], "run: python tools/gen_rule_docs.py"


def test_stale_pages_are_detected(tmp_path: Path) -> None:
    gen = _gen()
    files = gen.expected_files()
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert gen.stale(files, tmp_path) == []
    (tmp_path / "TS005.md").write_text("old text", encoding="utf-8")
    (tmp_path / "TS999.md").write_text("a removed rule", encoding="utf-8")
    assert gen.stale(files, tmp_path) == ["TS005.md", "TS999.md"]


def test_every_rule_has_a_page_with_its_docstring() -> None:
    for r in all_rules():
        page = (REPO / "docs" / "rules" / f"{r.id}.md").read_text(encoding="utf-8")
        assert page.startswith(f"# {r.id}: {r.title}")
        assert r.explain.splitlines()[0] in page
        assert len(r.explain) > 80, f"{r.id} needs a real page (its docstring)"


def test_explain_prints_the_page() -> None:
    result = CliRunner().invoke(doctor, ["--explain", "TS014"])
    assert result.exit_code == 0
    assert result.output == rule_page(find_rule("TS014"))  # type: ignore[arg-type]
    assert "severity: error" in result.output
    assert "category: Companion packages" in result.output
    assert "https://pytorch.org/blog/compromised-nightly-dependency/" in result.output


@pytest.mark.parametrize("spelling", ["ts5", "5", "TS005", " ts005 "])
def test_explain_accepts_short_ids(spelling: str) -> None:
    result = CliRunner().invoke(doctor, ["--explain", spelling])
    assert result.exit_code == 0 and result.output.startswith("TS005: ")


def test_explain_unknown_id_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["doctor", "--explain", "TS999"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "TS999" in err and "torchsetup doctor --list-rules" in err


def test_list_rules_lists_every_id_and_title() -> None:
    result = CliRunner().invoke(doctor, ["--list-rules"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert len(lines) == len(all_rules())
    for r in all_rules():
        assert any(line.startswith(r.id) and line.endswith(r.title) for line in lines)
