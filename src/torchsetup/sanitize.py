"""Text from outside (a pasted report, a console capture) made safe to read and to print.

Two functions, used wherever such text is decoded or rendered:

* :func:`decode_paste`: bytes as a console wrote them -> str. UTF-8 with or without BOM,
  UTF-16 LE/BE with BOM (PowerShell's ``>`` and ``Out-File`` default), UTF-16 without BOM
  (detected by its NUL bytes), UTF-32 with BOM, else Latin-1-safe UTF-8 with replacement;
  CRLF and lone CR become LF.
* :func:`sanitize`: removes every terminal control a paste could carry before it reaches
  the user's terminal: CSI (``ESC [ ... final``), OSC (``ESC ] ... BEL|ST``: titles,
  hyperlinks, clipboard writes), DCS/SOS/PM/APC strings, other ``ESC x`` sequences, C0
  controls except TAB/LF, DEL, C1 controls (U+0080-U+009F, including the 8-bit CSI U+009B)
  and the bidirectional overrides that reorder what is shown.

Core: no torchsetup imports.
"""

from __future__ import annotations

import re

# ESC-introduced strings (OSC, DCS, SOS, PM, APC) run to BEL or ST (ESC \ or U+009C); an
# unterminated one runs to the end of the line.
_STRING_SEQ = r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"
_CSI = r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
_ESC = r"\x1b[ -/]*[0-~]?"
_CONTROLS = r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
_UNSAFE = re.compile(f"{_STRING_SEQ}|{_CSI}|{_ESC}|{_CONTROLS}")


def sanitize(text: str, *, one_line: bool = False) -> str:
    """``text`` without terminal controls (see the module doc). With ``one_line``, TAB and LF
    become spaces too, for text shown inside a single output line."""
    out = _UNSAFE.sub("", text)
    if one_line:
        out = " ".join(out.replace("\t", " ").split("\n")).strip()
    return out


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
