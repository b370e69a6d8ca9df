"""Hostile files (issue 15, items 7, 9 and 17): snapshots, capture folders, reports and pip
configuration that are FIFOs, endless devices, empty, deeply nested, of the wrong types or in
UTF-16 are a one-line refusal (exit 2) or read correctly: never a hang, never exit 70."""

from __future__ import annotations

import json
import os
import random
import threading
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.unit.test_cli_install import run_captured

SNAPSHOTS = Path(__file__).resolve().parents[1] / "data" / "snapshots"
REPORTS = Path(__file__).resolve().parents[1] / "data" / "reports"


def within(seconds: float, fn: Callable[[], Any]) -> Any:
    """``fn()``, failing the test (not hanging it) when it takes longer than ``seconds``."""
    box: list[Any] = []
    t = threading.Thread(target=lambda: box.append(fn()), daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"still running after {seconds} s"
    return box[0]


def one_line_refusal(argv: list[str]) -> str:
    code, out, err = within(60, lambda: run_captured(argv))
    assert isinstance(err, str)
    assert code == 2, (code, out[-500:], err[-500:])
    assert "internal error" not in err and "Traceback" not in err
    lines = [x for x in err.splitlines() if not x.startswith("  hint:")]
    assert len(lines) == 1, err
    return err


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    if not hasattr(os, "mkfifo"):
        pytest.skip("NOT RUN: no FIFOs on this system")
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize(
    "argv",
    [
        ["install", "--dry-run", "--snapshot", "{f}"],
        ["doctor", "--snapshot", "{f}"],
        ["doctor", "--from-report", "{f}"],
        ["restore", "{f}", "--yes"],
    ],
)
@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "empty", "nested", "folder"])
def test_hostile_files_are_refused(argv: list[str], kind: str, tmp_path: Path, fifo: Path) -> None:
    if kind == "fifo":
        path = str(fifo)
    elif kind == "dev-zero":
        path = "/dev/zero"
    elif kind == "folder":
        (tmp_path / "d").mkdir()
        path = str(tmp_path / "d")
    else:
        f = tmp_path / "f.json"
        f.write_text("" if kind == "empty" else "[" * 100_000 + "]" * 100_000)
        path = str(f)
    args = [a.replace("{f}", path) for a in argv]
    if argv[0] == "restore":
        os.environ.setdefault("TORCHSETUP_CACHE_DIR", str(tmp_path / "cache"))
    if kind == "folder" and "--snapshot" in argv:  # a capture folder: holds no outputs
        one_line_refusal(args)
        return
    one_line_refusal(args)


def _leaves(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(data, dict):
        return [p for k, v in data.items() for p in _leaves(v, (*path, k))] or [path]
    if isinstance(data, list):
        return [p for i, v in enumerate(data) for p in _leaves(v, (*path, i))] or [path]
    return [path]


def _set(data: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        data = data[key]
    data[path[-1]] = value


WRONG = [None, 7, -1, 2**80, "x", [], {}, [1, "a"], {"a": 1}, True, 1.5e308]


@pytest.mark.parametrize("name", ["h200-real", "linux-py311-nodriver"])
def test_snapshots_with_wrong_types_never_crash(name: str, tmp_path: Path) -> None:
    original = json.loads((SNAPSHOTS / f"{name}.json").read_text())
    rng = random.Random(15)
    leaves = _leaves(original)
    crashes = []
    for i in range(60):
        data = json.loads(json.dumps(original))
        path = rng.choice(leaves)
        value = rng.choice(WRONG)
        _set(data, path, value)
        f = tmp_path / f"s{i}.json"
        f.write_text(json.dumps(data))
        for argv in (
            ["doctor", "--snapshot", str(f)],
            ["install", "--dry-run", "--snapshot", str(f)],
        ):
            code, _out, err = run_captured(argv)
            if code not in (0, 1, 2) or "internal error" in err or "Traceback" in err:
                crashes.append((argv[0], path, value, code, err[-300:]))
    assert not crashes, crashes[:5]


def test_utf16_reports_are_read(tmp_path: Path) -> None:
    text = (REPORTS / "driver-too-old-pytorch-43058.txt").read_text()
    f = tmp_path / "report.txt"
    f.write_bytes(text.encode("utf-16"))
    code, out, err = run_captured(["doctor", "--from-report", str(f)])
    assert code in (0, 1), err
    assert "V100" in out or "418.67" in out


def test_pip_config_fifo_does_not_hang(fifo: Path) -> None:
    from torchsetup.detect.probes.system import _read

    assert within(5, lambda: _read(str(fifo))) is None


@pytest.mark.parametrize("kind", ["file", "fifo"])
def test_venv_naming_a_file_or_fifo(kind: str, tmp_path: Path, fifo: Path) -> None:
    path = fifo if kind == "fifo" else tmp_path / "a-file"
    if kind == "file":
        path.write_text("")
    err = one_line_refusal(["install", "--dry-run", "--cpu", "--venv", str(path)])
    assert "is not a folder" in err
