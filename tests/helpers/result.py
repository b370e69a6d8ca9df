"""Reading ``torchsetup ... --json`` output in tests: the envelope is checked once, here.

``unwrap(stdout)`` returns the command's payload (``result``) after checking the envelope
(src/torchsetup/result.py, docs/json.md); ``document(stdout)`` returns the whole envelope,
for tests that look at ``ok``, ``exit_code`` or ``error``.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from torchsetup import __version__
from torchsetup.result import ENVELOPE_KEYS, RESULT_SCHEMA


def document(stdout: str, command: Optional[str] = None) -> dict[str, Any]:
    doc = json.loads(stdout)
    assert isinstance(doc, dict), f"--json printed {type(doc).__name__}, not an object"
    assert list(doc) == list(ENVELOPE_KEYS), f"not the result envelope: keys {sorted(doc)}"
    assert doc["schema"] == RESULT_SCHEMA
    assert doc["torchsetup_version"] == __version__
    assert isinstance(doc["exit_code"], int)
    assert doc["ok"] is (doc["exit_code"] == 0)
    if command is not None:
        assert doc["command"] == command
    return doc


def unwrap(stdout: str, command: Optional[str] = None) -> Any:
    """The payload of a ``--json`` document (``None`` when the command reported an error)."""
    return document(stdout, command)["result"]


def recorded_result(text: str) -> Any:
    """The payload of a ``--json`` output saved to a file (tests/data/real): an envelope, or a
    bare payload when it was recorded by a torchsetup older than torchsetup.result/1."""
    doc = json.loads(text)
    if isinstance(doc, dict) and doc.get("schema") == RESULT_SCHEMA:
        return unwrap(text)
    return doc
