"""Untrusted text made safe: the one grammar of terminal controls, used by every output path.

Text torchsetup did not write itself (a pasted ``--from-report``, GPU names from nvidia-smi,
torch's import errors, a restore file, a pip line, an index's page) may carry terminal control
sequences: clear screen, a window title, an OSC 8 hyperlink, an OSC 52 clipboard write, a
cursor move that hides a line, a bidirectional override that reorders what is shown.

* :func:`clean`: what every output line goes through. Escape sequences (CSI ``ESC [ ... final``,
  OSC ``ESC ] ... BEL|ST``, DCS/SOS/PM/APC strings, other ``ESC x`` sequences, their 8-bit
  forms) and bidirectional overrides are removed; every other C0/C1 control and DEL is shown
  as a visible ``\\xNN``; newlines and tabs stay. Linear in the length of the text.
* :func:`sanitize`: the same for a paste that is read as text (controls are dropped rather
  than shown; ``one_line`` also folds TAB and LF).
* :func:`decode_paste`: bytes as a console wrote them -> str. UTF-8 with or without BOM,
  UTF-16 LE/BE with BOM (PowerShell's ``>`` and ``Out-File`` default), UTF-16 without BOM
  (detected by its NUL bytes), UTF-32 with BOM, else cp1252, else UTF-8 with replacement;
  CRLF and lone CR become LF.

Core: no torchsetup imports.
"""

from __future__ import annotations

import re

# ESC-introduced strings (OSC, DCS, SOS, PM, APC) run to BEL or ST (ESC \ or U+009C); an
# unterminated one runs to the end of the line.
_STRING_SEQ = r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"
_CSI = r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
_ESC = r"\x1b[ -/]*[0-~]?"
_BIDI = r"[\u202a-\u202e\u2066-\u2069]"
_SEQUENCE = re.compile(f"{_STRING_SEQ}|{_CSI}|{_ESC}|{_BIDI}")
# what is left after the sequences: C0 (but TAB and LF), DEL, C1
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: str) -> str:
    """``text`` without terminal escape sequences; other control characters shown as ``\\xNN``."""
    if not text or text.isprintable():  # the common case (\n and \t are not "printable")
        return text
    text = _SEQUENCE.sub("", text)
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


def sanitize(text: str, *, one_line: bool = False) -> str:
    """``text`` without terminal controls, dropped rather than shown (see the module doc). With
    ``one_line``, TAB and LF become spaces too, for text shown inside a single output line."""
    out = _CONTROL.sub("", _SEQUENCE.sub("", text))
    if one_line:
        out = " ".join(out.replace("\t", " ").split("\n")).strip()
    return out


def has_control(text: str) -> bool:
    """Does ``text`` hold a control character (newline and tab included)?"""
    return bool(re.search(r"[\x00-\x1f\x7f-\x9f]", text))


def decode_paste(data: bytes) -> str:
    """Decode what a console wrote (see the module doc); never raises."""
    for bom, codec in (
        (b"\xff\xfe\x00\x00", "utf-32-le"),
        (b"\x00\x00\xfe\xff", "utf-32-be"),
        (b"\xef\xbb\xbf", "utf-8"),
        (b"\xff\xfe", "utf-16-le"),
        (b"\xfe\xff", "utf-16-be"),
    ):
        if data.startswith(bom):
            text = data[len(bom) :].decode(codec, errors="replace")
            break
    else:
        text = _decode_unmarked(data)
    return text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")


def _decode_unmarked(data: bytes) -> str:
    sample = data[:4000]
    if len(sample) >= 4:
        even, odd = sample[0::2], sample[1::2]
        # ASCII text in UTF-16 has a NUL in every other byte.
        if odd.count(0) > len(odd) * 0.4 and even.count(0) < len(even) * 0.1:
            return data.decode("utf-16-le", errors="replace")
        if even.count(0) > len(even) * 0.4 and odd.count(0) < len(odd) * 0.1:
            return data.decode("utf-16-be", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace")
