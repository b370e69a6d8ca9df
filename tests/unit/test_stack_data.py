"""resources/stack.json: curated reproducibly from the research record, closed schema, sources."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from torchsetup.matrix.model import MatrixError
from torchsetup.matrix.stack import load_stack, stack_from_dict

ROOT = Path(__file__).resolve().parents[2]
STACK_JSON = ROOT / "src" / "torchsetup" / "resources" / "stack.json"


def _curate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("curate_stack", ROOT / "tools/curate_stack.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _data() -> dict[str, Any]:
    return json.loads(STACK_JSON.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_stack_json_is_what_curate_writes() -> None:
    curate = _curate()
    research = json.loads(curate.RESEARCH.read_text(encoding="utf-8"))
    assert curate.render(curate.curate(research)) == STACK_JSON.read_text(encoding="utf-8"), (
        "run python tools/curate_stack.py --write"
    )


def test_every_release_has_a_source_and_a_confidence() -> None:
    stack = load_stack()
    for comp in stack.components.values():
        assert comp.source and comp.confidence in ("high", "medium", "low")
        for rel in comp.releases:
            assert rel.source and rel.confidence in ("high", "medium", "low"), (comp.name, rel)


def test_the_facts_the_issue_names() -> None:
    stack = load_stack()
    c = stack.components
    assert (c["flash-attn"].min_cc, c["bitsandbytes"].int8_min_cc) == ("8.0", "7.5")
    tf = {r.version: r for r in c["transformers"].releases}
    assert tf["5.24.0"].runtime_min["peft"] == "0.22.0"
    assert stack.peft_newest == "0.21.2"  # `pip index versions peft` on 2026-12-01
    assert {r.version: r.torch for r in c["vllm"].releases}["0.20.2"] == "==2.11.0"
    assert c["xformers"].coupling_of("0.0.34") == "exact"
    assert c["xformers"].coupling_of("0.0.35") == "stable-abi"
    assert c["flash-attn"].coupling == "minor" and c["bitsandbytes"].coupling == "range"
    torch = stack.torch_facts("2.13.0+cpu")
    assert torch is not None and torch.cxx11_abi and torch.triton == "==3.7.1"
    assert stack.sets["llm"] == (
        "transformers",
        "accelerate",
        "datasets",
        "tokenizers",
        "safetensors",
        "peft",
    )


def _broken(edit: Any) -> dict[str, Any]:
    data = copy.deepcopy(_data())
    edit(data)
    return data


@pytest.mark.parametrize(
    ("edit", "path"),
    [
        (lambda d: d["components"]["vllm"].update(advertized=True), "components.vllm.advertized"),
        (
            lambda d: d["components"]["vllm"]["releases"][0].update(confidence="sure"),
            "components.vllm.releases[0.2.1.post1].confidence",
        ),
        (
            lambda d: d["components"]["peft"]["releases"][0].update(source="nope"),
            "components.peft.releases[0.5.0].source",
        ),
        (
            lambda d: d["components"]["triton"].update(coupling="loose"),
            "components.triton.coupling",
        ),
        (
            lambda d: d["components"]["xformers"]["releases"][0].update(cuda_majors="12"),
            "components.xformers.releases[0.0.20].cuda_majors",
        ),
        (lambda d: d["sets"].update(llm=["transformers", "nope"]), "sets.llm"),
        (lambda d: d["sources"].update(s999="unused"), "sources.s999"),
    ],
)
def test_closed_schema_names_the_bad_entry(edit: Any, path: str) -> None:
    with pytest.raises(MatrixError) as info:
        stack_from_dict(_broken(edit))
    assert path in str(info.value)


def test_docs_stack_md_is_current() -> None:
    spec = importlib.util.spec_from_file_location(
        "gen_stack_docs", ROOT / "tools/gen_stack_docs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = module.render(load_stack())
    assert (ROOT / "docs" / "stack.md").read_text(encoding="utf-8") == text, (
        "run python tools/gen_stack_docs.py"
    )
    assert "| 0.20.2 | ==2.11.0 |" in text and "TS212" in text
