"""torchsetup.sanitize.clean (issue 15, item 4): no escape sequence from untrusted text reaches a
terminal; newlines, tabs and Unicode stay."""

from __future__ import annotations

import time

import pytest

from torchsetup.sanitize import clean

HOSTILE = [
    ("\x1b[2J\x1b[Hcleared", "cleared"),
    ("\x1b]0;owned\x07title", "title"),
    ("\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\", "click"),
    ("\x1b]52;c;ZXZpbA==\x07paste", "paste"),
    ("\x9b31mred\x9d0;t\x07", "red"),
    ("over\rwrite", "over\\x0dwrite"),
    ("nul\x00bell\x07del\x7f", "nul\\x00bell\\x07del\\x7f"),
    ("open \x1b]0;never closed", "open "),
]


@pytest.mark.parametrize(("text", "shown"), HOSTILE)
def test_escape_sequences_are_removed_and_controls_shown(text: str, shown: str) -> None:
    out = clean(text)
    assert out == shown
    assert not any((ord(c) < 0x20 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F for c in out)


def test_ordinary_text_is_untouched() -> None:
    text = "NVIDIA H200 ✓ ünïcode\n\tindented"
    assert clean(text) == text


def test_linear() -> None:
    started = time.monotonic()
    clean("\x1b" * 2_000_000 + "\x1b]" + "a" * 5_000_000)
    assert time.monotonic() - started < 10.0
