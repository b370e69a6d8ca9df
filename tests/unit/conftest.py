"""Unit tests never start a real process or open a real socket (cibuildwheel's mock_protection).

A unit test that needs a program's output feeds a recorded one (tests/data/real) through the
pure parsers instead.
"""

from __future__ import annotations

import socket
import subprocess

import pytest


def _fail(*args: object, **kwargs: object) -> None:
    raise AssertionError(f"unit tests must not start processes or open sockets: {args[:1]!r}")


@pytest.fixture(autouse=True)
def mock_protection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subprocess, "Popen", _fail)
    monkeypatch.setattr(socket.socket, "connect", _fail)
    monkeypatch.setattr(socket, "create_connection", _fail)
