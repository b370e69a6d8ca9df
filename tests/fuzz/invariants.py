"""What every fuzzed run must satisfy, whatever the input.

- no traceback, no internal error (exit 70);
- the exit code is one of the documented ones (:data:`torchsetup.errors.EXIT_CODES`, less 70);
- no secret from the input in any output or any file torchsetup wrote;
- no control character from the input on the terminal (C0 but newline and tab, DEL, C1);
- with ``--json``, stdout is exactly one JSON document: the envelope of docs/json.md;
- exit 2 is one stderr line (plus at most one ``  hint:`` line); with ``--json``, install and
  restore may show their live view on stderr.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

from torchsetup.errors import EXIT_CODES, EXIT_INTERNAL, EXIT_USAGE
from torchsetup.result import ENVELOPE_KEYS, RESULT_SCHEMA

ALLOWED = tuple(c for c in EXIT_CODES if c != EXIT_INTERNAL)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def written_files(folder: Path) -> list[str]:
    out = []
    for p in folder.rglob("*") if folder.exists() else ():
        if p.is_file():
            out.append(p.read_text(encoding="utf-8", errors="replace"))
    return out


def check(
    argv: list[str],
    code: int,
    out: str,
    err: str,
    *,
    secrets: Iterable[str] = (),
    files: Iterable[str] = (),
) -> None:
    what = f"torchsetup {' '.join(argv)[:300]!r} -> {code}\nstdout: {out[-800:]!r}\nstderr: {err[-800:]!r}"
    assert code in ALLOWED, what
    assert "Traceback (most recent call last)" not in out + err, what
    assert "internal error" not in err, what
    shown = [out, err, *files]
    for secret in secrets:
        for text in shown:
            assert secret not in text, f"secret {secret!r} shown\n{what}"
    assert not CONTROL.search(out + err), f"control character on the terminal\n{what}"
    if "--json" in argv and out.strip():
        try:
            doc = json.loads(out)  # one document: json.loads refuses trailing data
        except ValueError as exc:
            raise AssertionError(
                f"--json stdout is not one JSON document ({exc})\n{what}"
            ) from None
        assert isinstance(doc, dict) and tuple(doc) == ENVELOPE_KEYS, what
        assert doc["schema"] == RESULT_SCHEMA and doc["exit_code"] == code, what
    if "--json" in argv and code in (0, 1, 2) and argv and argv[0] != "restore":
        assert out.strip(), f"--json printed nothing\n{what}"
    # with --json, install and restore show their live view on stderr (stdout is the document)
    running_with_json = "--json" in argv and argv[0] in ("install", "restore")
    if code == EXIT_USAGE and not running_with_json:
        lines = err.strip().splitlines()
        if "--json" not in argv or lines:
            rest = [x for x in lines[1:] if not x.startswith("  hint: ")]
            assert 1 <= len(lines) <= 2 and not rest, f"exit 2 is one stderr line\n{what}"
