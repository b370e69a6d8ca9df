"""Reading files torchsetup did not write: snapshots, capture folders, pasted reports, restore
files, pip configuration.

Such a path may name a FIFO (reading it blocks forever), ``/dev/zero`` (never ends), a 10 GB
file or a UTF-16 text. :func:`read_text` opens only regular files (or stdin, ``-``), without
blocking, reads at most ``limit`` bytes and decodes UTF-8 or, by its byte-order mark, UTF-16.
"""

from __future__ import annotations

import codecs
import os
import stat
import sys

MB = 1024 * 1024
DEFAULT_LIMIT = 64 * MB


class FileRefused(Exception):
    """The file cannot be read as text: not a regular file, too large, unreadable, not text.
    The message is one line, fit to follow the file's name."""


def _decode(data: bytes, errors: str) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors=errors)
    data = data.removeprefix(codecs.BOM_UTF8)
    return data.decode("utf-8", errors=errors)


def read_bytes(path: str, *, limit: int = DEFAULT_LIMIT) -> bytes:
    """At most ``limit`` bytes of a regular file (or stdin for ``-``); FileRefused otherwise."""
    if path == "-":
        data = sys.stdin.buffer.read(limit + 1)
    else:
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        except OSError as exc:
            raise FileRefused(exc.strerror or str(exc)) from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                kind = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file"
                raise FileRefused(f"is {kind}")
            if st.st_size > limit:
                raise FileRefused(f"is larger than {limit // MB} MB")
            if hasattr(os, "set_blocking"):
                os.set_blocking(fd, True)
            with os.fdopen(fd, "rb", closefd=False) as fh:
                data = fh.read(limit + 1)
        except OSError as exc:
            raise FileRefused(exc.strerror or str(exc)) from None
        finally:
            os.close(fd)
    if len(data) > limit:
        raise FileRefused(f"is larger than {limit // MB} MB")
    return data


def read_text(path: str, *, limit: int = DEFAULT_LIMIT, errors: str = "strict") -> str:
    """:func:`read_bytes` decoded (UTF-8, or UTF-16 by its byte-order mark)."""
    data = read_bytes(path, limit=limit)
    try:
        return _decode(data, errors)
    except UnicodeDecodeError as exc:
        raise FileRefused(
            f"is not UTF-8 or UTF-16 text ({exc.reason} at byte {exc.start})"
        ) from None
