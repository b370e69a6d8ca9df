"""Minimal terminal styling for line-based output (doctor, install plans).

rich costs ~40-50 ms to import on a small machine; the commands people wait on print lines,
so they use this instead and keep rich for tables and live views (matrix, verify, install).
Colour only on a terminal, never with NO_COLOR or TERM=dumb; FORCE_COLOR forces it.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rich.console import Console

_ANSI = {
    "green": "32",
    "yellow": "33",
    "red": "31",
    "blue": "34",
    "cyan": "36",
    "bold": "1",
    "dim": "2",
}


class Style:
    def __init__(self, stream: TextIO) -> None:
        force = os.environ.get("FORCE_COLOR") or os.environ.get("CLICOLOR_FORCE")
        tty = hasattr(stream, "isatty") and stream.isatty()
        self.enabled = bool(force) or (
            tty and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"
        )

    def __call__(self, text: str, style: str) -> str:
        if not self.enabled or not style:
            return text
        codes = ";".join(_ANSI[s] for s in style.split())
        return f"\x1b[{codes}m{text}\x1b[0m"


def width(default: int = 100) -> int:
    """Columns to wrap at: the terminal's (at most 120), else ``default``."""
    cols = shutil.get_terminal_size((default, 24)).columns
    return max(60, min(cols, 120))


def rich_console(**kwargs: Any) -> Console:
    """A rich Console for torchsetup's output. On a closed pipe (``verify | head``) it goes
    quiet instead of rich's default (exit 1 on the spot, whatever the result): the command
    still ends with its own exit code."""
    return _quiet_console_class()(**kwargs)


@functools.lru_cache(maxsize=1)
def _quiet_console_class() -> type[Console]:
    from rich.console import Console

    class QuietOnBrokenPipe(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
                os.close(devnull)
            except (OSError, ValueError):
                pass

    return QuietOnBrokenPipe
