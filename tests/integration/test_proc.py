"""The subprocess door with real processes: timeouts kill the whole tree, nothing raises."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from torchsetup import proc


def test_run_captures_output_and_code() -> None:
    res = proc.run(
        [
            sys.executable,
            "-c",
            "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)",
        ],
        timeout=30,
    )
    assert res.returncode == 3 and res.stdout.strip() == "out" and res.stderr.strip() == "err"
    assert not res.ok and res.describe_failure() == "exit code 3: err"


def test_run_not_found_is_a_result() -> None:
    res = proc.run(["/definitely/not/here"], timeout=5)
    assert res.not_found and res.returncode is None and "not found" in (res.error or "")


def test_run_timeout_kills_grandchildren(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    script = tmp_path / "hang.sh"
    script.write_text(f"#!/bin/sh\nsleep 60 &\necho $! > {pidfile}\nwait\n")
    script.chmod(0o755)
    started = time.perf_counter()
    res = proc.run([str(script)], timeout=1)
    assert time.perf_counter() - started < 10
    assert res.timed_out and "timed out after 1 s" in (res.error or "")
    grandchild = int(pidfile.read_text())
    time.sleep(0.2)
    try:
        os.kill(grandchild, 0)
        alive = Path(f"/proc/{grandchild}/stat").read_text().split()[2] != "Z"
    except ProcessLookupError:
        alive = False
    assert not alive, "the sleeping grandchild survived the timeout"


def test_run_reports_signal_death() -> None:
    res = proc.run(
        [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"],
        timeout=30,
    )
    assert res.signal == signal.SIGSEGV
    assert "SIGSEGV" in res.describe_failure()


def test_stream_calls_back_per_line() -> None:
    lines: list[str] = []
    res = proc.stream(
        [
            sys.executable,
            "-u",
            "-c",
            "import sys\nfor i in range(3): print(i)\nprint('e', file=sys.stderr)",
        ],
        timeout=30,
        on_line=lines.append,
    )
    assert res.ok and lines == ["0", "1", "2", "e"] and res.stdout.splitlines()[-1] == "e"


def test_stream_timeout() -> None:
    res = proc.stream(
        [sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5, on_line=lambda _: None
    )
    assert res.timed_out and not res.ok


def test_stream_extra_env() -> None:
    lines: list[str] = []
    res = proc.stream(
        [sys.executable, "-c", "import os; print(os.environ['TS_PROBE'])"],
        timeout=30,
        on_line=lines.append,
        extra_env={"TS_PROBE": "yes"},
    )
    assert res.ok and lines == ["yes"]
