"""A hostile local index, fuzzed: the preflight's reads of an index that wants credentials,
drips, answers JSON of any shape or a page of hundreds of MB. Each read ends within its
deadline with an answer or a NetError, never another exception, and no credential in the
error."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import examples
from tests.helpers.index import IndexServer
from torchsetup import net
from torchsetup.install.preflight import fetch_project

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
documents = st.one_of(
    json_values,
    st.fixed_dictionaries({"files": json_values}),
    st.fixed_dictionaries(
        {
            "files": st.lists(
                st.fixed_dictionaries({"filename": json_values, "url": json_values}), max_size=3
            )
        }
    ),
)


LISTED = ["torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"]


def hostile_index(folder: Path) -> IndexServer:
    """An index listing a torch wheel (no wheel needed: the reads under test are the pages)."""
    server = IndexServer(folder)
    server.list_only("torch", LISTED)
    return server


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexServer]:
    with hostile_index(tmp_path_factory.mktemp("wheels")) as server:
        yield server


@settings(max_examples=examples(40))
@given(document=documents)
def test_json_of_any_shape(index: IndexServer, document: Any) -> None:
    index.bad_json(document)
    try:
        files = fetch_project(index.url, "torch", timeout=10.0)
    except net.NetError:
        return
    assert files is None or all(isinstance(f.filename, str) for f in files)


@settings(max_examples=examples(4))
@given(
    mode=st.sampled_from(["auth", "drip", "huge", "auth-drip"]),
    password=st.text("abcXYZ019", min_size=6, max_size=10),
)
def test_hostile_modes_end_within_the_deadline(
    mode: str, password: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with hostile_index(tmp_path_factory.mktemp("wheels")) as server:
        if "auth" in mode:
            server.require_auth("alice", "right-" + password)
        if "drip" in mode:
            server.drip(0.3)
        if mode == "huge":
            server.huge_page(net.MAX_BYTES + 1024 * 1024)
        url = server.credentialed_url("alice", "wrong-" + password)
        started = time.monotonic()
        try:
            fetch_project(url, "torch", timeout=3.0)
        except net.NetError as exc:
            assert password not in str(exc)
        assert time.monotonic() - started < 3.0 + 2.0
