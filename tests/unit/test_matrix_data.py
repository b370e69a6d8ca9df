"""matrix.json against its research record: reproducible curation, documented commands kept."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from torchsetup.matrix.load import load_matrix

ROOT = Path(__file__).resolve().parents[2]
COMPAT = json.loads((ROOT / "tools/reference/compat.json").read_text(encoding="utf-8"))


def _curate_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("curate_matrix", ROOT / "tools/curate_matrix.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_curation_is_reproducible() -> None:
    curate = _curate_module()
    observations = (
        json.loads(curate.OBSERVATIONS.read_text(encoding="utf-8"))
        if curate.OBSERVATIONS.exists()
        else None
    )
    text = curate.render(curate.curate(COMPAT, observations))
    assert text == (ROOT / "src/torchsetup/resources/matrix.json").read_text(encoding="utf-8")


def test_observations_override_platforms() -> None:
    curate = _curate_module()
    obs = {
        "index": "http://127.0.0.1/whl",
        "checked": "2026-11-27",
        "platforms": {"cu118": {"2.0.1": ["linux-x86_64"]}},
    }
    data = curate.curate(COMPAT, obs)
    release = next(r for r in data["releases"] if r["torch"] == "2.0.1")
    assert release["variants"]["cu118"]["platforms"] == ["linux-x86_64"]
    assert any("127.0.0.1" in n for n in release["variants"]["cu118"]["notes"])


def _documented() -> list[tuple[str, str, str]]:
    """(torch, variant, command) for every advertised pip variant compat.json gives a command for."""
    out = []
    for rel in COMPAT["torch_releases"]:
        for name, v in rel["pip_variants"].items():
            command = v.get("command_index") or v.get("command")
            if v.get("advertised") and command:
                out.append((rel["torch"], name, command))
    return out


@pytest.mark.parametrize(("torch", "variant", "command"), _documented())
def test_documented_commands_kept(torch: str, variant: str, command: str) -> None:
    release = load_matrix().release(torch)
    assert release is not None
    v = release.variant(variant)
    assert v is not None and v.advertised
    assert v.command == command
    assert "--index-url" in command and "--extra-index-url" not in command


def test_every_compat_disagreement_has_a_decision() -> None:
    topics = {d.topic: d.decision for d in load_matrix().disagreements}
    for d in COMPAT["disagreements"]:
        assert topics.get(d["topic"]), d["topic"]


def _inferred_flags(data: Any) -> int:
    if isinstance(data, dict):
        return int(data.get("inferred") is True) + sum(_inferred_flags(v) for v in data.values())
    if isinstance(data, list):
        return sum(_inferred_flags(v) for v in data)
    return 0


def test_inferred_entries_stay_marked() -> None:
    matrix = json.loads((ROOT / "src/torchsetup/resources/matrix.json").read_text(encoding="utf-8"))
    assert _inferred_flags(matrix) >= _inferred_flags(COMPAT["torch_releases"]) // 2
    for rel in COMPAT["torch_releases"]:
        for name, v in rel["pip_variants"].items():
            if v.get("inferred"):
                curated = next(r for r in matrix["releases"] if r["torch"] == rel["torch"])[
                    "variants"
                ][name]
                assert curated["inferred"] is True, (rel["torch"], name)


def test_a_new_disagreement_topic_is_a_clear_error() -> None:
    curate = _curate_module()
    compat = json.loads(json.dumps(COMPAT))
    compat["disagreements"].append({"topic": "a new one", "detail": "x", "decision": ""})
    with pytest.raises(curate.CurationError, match="without a decision: 'a new one'"):
        curate.curate(compat)


def test_thresholds_are_declared_data() -> None:
    curate = _curate_module()
    assert curate.applies("source build pip-editable", "2.9.0")
    assert not curate.applies("source build pip-editable", "2.8.0")
    assert curate.applies("python 3.12 experimental", "2.3.1")
    assert curate.applies("conda macos-x86_64", "2.2.2")
    assert not curate.applies("conda macos-x86_64", "2.3.0")
    with pytest.raises(curate.CurationError, match="no threshold 'nope'"):
        curate.applies("nope", "2.9.0")
    source = (ROOT / "tools/curate_matrix.py").read_text(encoding="utf-8")
    assert not re.search(r"\bt(\[:\d\])? *(>=|<=|<|>|==|in) *\(+\d", source)  # no literal (2, 9)
    for name, rule in curate.THRESHOLDS.items():
        assert rule["decision"] and rule["source"], name


def test_facts_are_copied_from_the_curation_input() -> None:
    curate = _curate_module()
    matrix = json.loads((ROOT / "src/torchsetup/resources/matrix.json").read_text(encoding="utf-8"))
    facts = curate.CURATION_INPUT["facts"]
    assert matrix["facts"]["dynamo"]["floors"] == facts["dynamo"]["floors"]
    assert matrix["sources"][matrix["facts"]["dynamo"]["source"]] == facts["dynamo"]["source"]
