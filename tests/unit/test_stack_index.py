"""The stack's door to an index (install/stack_index.py) and what a newer peft changes."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from torchsetup import net
from torchsetup.install.stack_index import index_versions, newest_release
from torchsetup.matrix.stack import load_stack
from torchsetup.resolve.stack import StackTarget, parse_wants, resolve_stack

FILES = [
    "peft-0.21.2-py3-none-any.whl",
    "peft-0.21.2.tar.gz",
    "peft-0.22.0-py3-none-any.whl",
    "peft-0.23.0rc1-py3-none-any.whl",
    "not-a-dist.zip",
]


def _get(status: int = 200) -> Any:
    def get(url: str, *, timeout: float, accept: str | None = None, **_: Any) -> net.Response:
        assert url == "https://pypi.org/simple/peft/" and accept and "v1+json" in accept
        body = {"files": [{"filename": f, "url": f"../../files/{f}"} for f in FILES]}
        return net.Response(
            url,
            status,
            {"content-type": "application/vnd.pypi.simple.v1+json"},
            json.dumps(body).encode(),
        )

    return get


def _offline(*_a: Any, **_k: Any) -> net.Response:
    raise net.NetError("offline")


def test_versions_from_a_pep_691_page() -> None:
    assert index_versions("peft", get=_get()) == ["0.21.2", "0.22.0", "0.23.0rc1"]
    assert newest_release("peft", get=_get()) == "0.22.0"


def test_no_answer_is_none_not_an_error() -> None:
    assert index_versions("peft", get=_offline) is None
    assert index_versions("peft", get=_get(404)) is None
    assert newest_release("peft", get=_offline) is None


def test_a_peft_that_landed_after_curation_unlocks_transformers_5_24() -> None:
    data = dataclasses.replace(load_stack(), peft_newest="0.22.0", peft_newest_source="index")
    target = StackTarget("2.13.0", "cpu", "3.11", "linux-x86_64")
    plan = resolve_stack(target, parse_wants("llm", [], data), data)
    tf, peft = plan.choice("transformers"), plan.choice("peft")
    assert tf is not None and tf.version == "5.24.0"
    assert peft is not None and (peft.version, peft.confidence) == ("0.22.0", "low")
