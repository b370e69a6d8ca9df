"""The closed schema of matrix.json: every kind of mistake is rejected at load, naming its path."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any, Callable

import pytest

from torchsetup.matrix.load import MatrixError, load_matrix, matrix_from_dict

RAW = json.loads(
    (Path(__file__).resolve().parents[2] / "src/torchsetup/resources/matrix.json").read_text()
)


def _release(data: dict[str, Any], torch: str) -> dict[str, Any]:
    release: dict[str, Any] = next(r for r in data["releases"] if r["torch"] == torch)
    return release


def _cu130(data: dict[str, Any]) -> dict[str, Any]:
    variant: dict[str, Any] = _release(data, "2.13.0")["variants"]["cu130"]
    return variant


def _cuda(data: dict[str, Any], version: str) -> dict[str, Any]:
    return next(c for c in data["cuda"] if c["version"] == version)


def _rejects(edit: Callable[[dict[str, Any]], object]) -> str:
    data = copy.deepcopy(RAW)
    edit(data)
    with pytest.raises(MatrixError) as info:
        matrix_from_dict(data)
    return str(info.value)


def test_the_packaged_file_loads() -> None:
    assert load_matrix().release("2.13.0") is not None


# --- unknown keys ------------------------------------------------------------------------------


def test_unknown_key_in_a_variant() -> None:
    message = _rejects(lambda d: _cu130(d).update(advertized=True))
    assert message.startswith("matrix.json releases[2.13.0].variants.cu130.advertized: unknown key")


def test_unknown_key_at_the_top() -> None:
    assert "matrix.json matrix.releasez: unknown key" in _rejects(lambda d: d.update(releasez=[]))


def test_unknown_key_in_an_arch_list() -> None:
    message = _rejects(lambda d: _cu130(d)["arch"]["linux-x86_64"].update(lst="8.0"))
    assert "releases[2.13.0].variants.cu130.arch.linux-x86_64.lst: unknown key" in message


def test_unknown_platform_key_in_a_release() -> None:
    message = _rejects(lambda d: _release(d, "2.13.0")["platforms"].update({"linux-riscv64": {}}))
    assert "releases[2.13.0].platforms.linux-riscv64: unknown key" in message


def test_unknown_key_in_a_cuda_row() -> None:
    assert "cuda[13.0].max_gxx: unknown key" in _rejects(
        lambda d: _cuda(d, "13.0").update(max_gxx=1)
    )


def test_missing_required_key() -> None:
    message = _rejects(lambda d: _cu130(d).pop("index_url"))
    assert "releases[2.13.0].variants.cu130.index_url: missing" in message


# --- wrong types -------------------------------------------------------------------------------


def test_notes_as_a_string_are_rejected_not_split_into_characters() -> None:
    message = _rejects(lambda d: _cu130(d).update(notes="see PR 123"))
    assert "releases[2.13.0].variants.cu130.notes: must be a list of strings" in message


def test_max_gcc_as_a_string_is_rejected_at_load() -> None:
    message = _rejects(lambda d: _cuda(d, "13.0").update(max_gcc="14"))
    assert "cuda[13.0].max_gcc: must be an integer or null, not '14'" in message


def test_advertised_as_a_string() -> None:
    message = _rejects(lambda d: _cu130(d).update(advertised="yes"))
    assert "releases[2.13.0].variants.cu130.advertised: must be true or false" in message


def test_a_release_that_is_not_an_object() -> None:
    assert "releases[3]: must be an object, not str" in _rejects(
        lambda d: d["releases"].__setitem__(3, "x")
    )


# --- malformed versions ------------------------------------------------------------------------


def test_malformed_driver_version() -> None:
    message = _rejects(lambda d: _cuda(d, "13.0").update(linux_min_driver="banana"))
    assert "cuda[13.0].linux_min_driver: malformed version 'banana'" in message


def test_malformed_companion_version() -> None:
    message = _rejects(lambda d: _release(d, "2.13.0").update(torchvision="latest"))
    assert "releases[2.13.0].torchvision: malformed version 'latest'" in message


def test_malformed_release_date() -> None:
    message = _rejects(lambda d: _release(d, "2.13.0").update(released="soon"))
    assert "releases[2.13.0].released: must be a YYYY-MM-DD date" in message


def test_malformed_dynamo_floor() -> None:
    message = _rejects(lambda d: d["facts"]["dynamo"]["floors"].update({"3.15": "next"}))
    assert "facts.dynamo.floors.3.15: malformed version 'next'" in message


# --- the sources table -------------------------------------------------------------------------


def test_unknown_source_id() -> None:
    message = _rejects(lambda d: _cu130(d).update(source="s-nothere"))
    assert re.search(
        r"releases\[2\.13\.0\]\.variants\.cu130\.source: unknown source id 's-nothere'", message
    )


def test_unknown_source_id_in_a_release_list() -> None:
    message = _rejects(lambda d: _release(d, "2.13.0")["sources"].append("s-nothere"))
    assert "releases[2.13.0].sources: unknown source id 's-nothere'" in message


def test_an_unreferenced_source_is_rejected() -> None:
    message = _rejects(lambda d: d["sources"].update({"s-orphan": "nobody cites this"}))
    assert "sources.s-orphan: not referenced by any entry" in message


def test_sources_resolve_to_their_text() -> None:
    cu130 = load_matrix().release("2.13.0")
    assert cu130 is not None
    variant = cu130.variant("cu130")
    assert variant is not None
    assert variant.source == RAW["sources"][_cu130(RAW)["source"]]
    assert not variant.source.startswith("s-")


def test_each_source_text_is_stored_once() -> None:
    texts = list(RAW["sources"].values())
    assert len(texts) == len(set(texts))


def test_schema_version_is_checked() -> None:
    assert "schema_version: expected 2, found 1" in _rejects(lambda d: d.update(schema_version=1))


def test_the_facts_are_required() -> None:
    assert "matrix.json matrix.facts: missing" in _rejects(lambda d: d.pop("facts"))


def test_a_companion_rule_needs_one_torch_mapping() -> None:
    message = _rejects(lambda d: d["facts"]["companions"]["torchvision"][1].update(torch_minor=3))
    assert "facts.companions.torchvision[1]: needs exactly one of" in message
