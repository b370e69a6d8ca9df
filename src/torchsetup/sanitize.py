"""Untrusted text made safe for a terminal: the one function every output path uses.

Text torchsetup did not write itself (a pasted ``--from-report``, GPU names from nvidia-smi,
torch's import errors, a restore file, a pip line, an index's page) may carry terminal control
sequences: clear screen, a window title, an OSC 8 hyperlink, an OSC 52 clipboard write, a
cursor move that hides a line. :func:`clean` removes escape sequences (CSI, OSC, DCS/SOS/PM/APC
strings, other ESC sequences) and shows every other C0/C1 control character and DEL as a
visible ``\\xNN``; newlines and tabs stay. It is linear in the length of the text.
"""

from __future__ import annotations

import re

# ESC [ ... final byte (CSI), or the 8-bit CSI (0x9b)
_CSI = r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
# ESC ] ... BEL or ST (OSC), also ESC P / X / ^ / _ (DCS, SOS, PM, APC) and their 8-bit forms;
# an unterminated one runs to the end of the line.
_STRING = r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"
# any other ESC sequence: ESC, intermediates, a final byte
_ESC = r"\x1b[ -/]*[0-~]?"
_SEQUENCE = re.compile(f"{_STRING}|{_CSI}|{_ESC}")
# what is left: C0 (but \t and \n), DEL, C1
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: str) -> str:
    """``text`` without terminal escape sequences; other control characters shown as ``\\xNN``."""
    if not text:
        return text
    if text.isprintable():  # the common case: nothing to do (\n and \t are not "printable")
        return text
    text = _SEQUENCE.sub("", text)
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


def has_control(text: str) -> bool:
    """Does ``text`` hold a control character (newline and tab included)?"""
    return bool(re.search(r"[\x00-\x1f\x7f-\x9f]", text))
