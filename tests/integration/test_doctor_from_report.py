"""`torchsetup doctor --from-report -` as users run it: a real process reading stdin bytes in
a console's encoding, with terminal controls in the paste; no traceback, ever."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPORTS = Path(__file__).resolve().parents[1] / "data" / "reports"


def _doctor(exe: str, data: bytes, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [exe, "doctor", "--from-report", "-", *args],
        input=data,
        capture_output=True,
        timeout=120,
    )


def test_utf16_paste_with_escape_sequences_from_stdin(torchsetup_exe: str) -> None:
    text = (REPORTS / "cpu-wheel-windows-pytorch-122924.txt").read_text(encoding="utf-8")
    text = text.replace("RTX 4080", "RTX\x1b]0;pwned\x07 4080\x1b[2J\x9b31m")
    data = b"\xff\xfe" + text.replace("\n", "\r\n").encode("utf-16-le")
    res = _doctor(torchsetup_exe, data)
    out = res.stdout.decode("utf-8")
    assert res.returncode == 1, res.stderr
    assert "TS001" in out and "> GPU 0: NVIDIA GeForce RTX 4080 Laptop GPU" in out
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out
    assert b"Traceback" not in res.stderr


def test_a_traceback_alone_is_diagnosed(torchsetup_exe: str) -> None:
    res = _doctor(torchsetup_exe, (REPORTS / "numpy-c-api-deep-loglizer-10.txt").read_bytes())
    assert res.returncode == 1, res.stderr
    assert b"TS112" in res.stdout and b"> RuntimeError: module compiled against" in res.stdout


def test_nothing_to_diagnose_is_one_line_and_exit_2(torchsetup_exe: str) -> None:
    res = _doctor(torchsetup_exe, b"\x00\xff it does not work, please help\n")
    assert res.returncode == 2
    err = res.stderr.decode("utf-8", "replace")
    assert err.count("\n") == 1 and "holds nothing to diagnose" in err
    assert "collect_env" in err and "Traceback" not in err and res.stdout == b""


def test_from_report_start_up_stays_light() -> None:
    """Reading a paste imports no rich, requests or torch in torchsetup's process."""
    code = textwrap.dedent(f"""
        import io, sys, contextlib
        sys.stdin = io.TextIOWrapper(io.BytesIO(open({str(REPORTS / "sm120-cu126-pytorch-150733.txt")!r}, 'rb').read()))
        from torchsetup.cli import run
        with contextlib.redirect_stdout(io.StringIO()):
            rc = run(["doctor", "--from-report", "-"])
        heavy = [m for m in ("rich", "requests", "torch", "psutil", "pynvml") if m in sys.modules]
        print("RC", rc, "HEAVY", heavy)
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "RC 1 HEAVY []" in res.stdout
