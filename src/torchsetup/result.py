"""One versioned envelope for every ``--json`` output (pipx's ``result.py`` is the model).

Every command that prints JSON (doctor, install, verify, matrix, restore) prints exactly one
document, made here::

    {"schema": "torchsetup.result/1", "torchsetup_version": "0.1.0", "command": "doctor",
     "ok": false, "exit_code": 1, "result": {...}, "error": null}

``result`` is the command's own payload (its shape is documented per command in docs/json.md);
``error`` is null unless the command could not produce a result (an install that cannot be
planned: ``{"message", ...}``, with ``result`` null). ``ok`` is ``exit_code == 0``. The keys
of the envelope never change within ``torchsetup.result/1``; a payload may gain keys, never
lose or retype one. Saved snapshots and restore files are files, not command results: they
keep their own ``schema``/``format`` ids.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Callable, Optional

from torchsetup import __version__

RESULT_SCHEMA = "torchsetup.result/1"
ENVELOPE_KEYS = ("schema", "torchsetup_version", "command", "ok", "exit_code", "result", "error")
COMMANDS = ("doctor", "install", "verify", "matrix", "restore")


def envelope(
    command: str,
    result: Any,
    *,
    exit_code: int,
    error: Optional[Mapping[str, Any]] = None,
) -> dict[str, Any]:
    """The document ``torchsetup COMMAND --json`` prints."""
    if command not in COMMANDS:
        raise ValueError(f"unknown command {command!r}")
    return {
        "schema": RESULT_SCHEMA,
        "torchsetup_version": __version__,
        "command": command,
        "ok": exit_code == 0,
        "exit_code": exit_code,
        "result": result,
        "error": dict(error) if error is not None else None,
    }


def dumps(
    command: str,
    result: Any,
    *,
    exit_code: int,
    error: Optional[Mapping[str, Any]] = None,
    default: Optional[Callable[[Any], Any]] = None,
) -> str:
    """:func:`envelope` as the text printed on stdout (indented, no trailing newline).

    Every string in the document passes :func:`torchsetup.redact.redact_url_credentials` on
    its way out: no --json output carries a credential, whichever field it came in by (a
    restore file's python, an error message quoting a URL)."""
    from torchsetup.redact import redact_url_credentials

    doc = envelope(command, result, exit_code=exit_code, error=error)
    if default is not None:
        doc = json.loads(json.dumps(doc, default=default))
    return json.dumps(_redacted(doc, redact_url_credentials), indent=2)


def _redacted(value: Any, redact: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redacted(v, redact) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redacted(v, redact) for v in value]
    return value
