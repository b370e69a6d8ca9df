"""proc.stream's ``deadline``: a timeout per step that moves on as output arrives."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from torchsetup.proc import ProcResult, stream

TICKER = """
import subprocess, sys, time
if {with_child}:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    print("child", child.pid, flush=True)
for i in range({ticks}):
    print("tick", i, flush=True)
    time.sleep(0.2)
time.sleep({then_sleep})
"""


def run_ticker(
    ticks: int, then_sleep: float, idle: float, *, with_child: bool = False
) -> tuple[ProcResult, list[str]]:
    lines: list[str] = []
    last = [time.perf_counter()]

    def on_line(line: str) -> None:
        lines.append(line)
        last[0] = time.perf_counter()

    script = TICKER.format(ticks=ticks, then_sleep=then_sleep, with_child=with_child)
    result = stream(
        [sys.executable, "-c", script], timeout=30, on_line=on_line, deadline=lambda: last[0] + idle
    )
    return result, lines


def gone(pid: int, within: float = 5.0) -> bool:
    end = time.perf_counter() + within
    while time.perf_counter() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        stat = Path(f"/proc/{pid}/stat")
        if stat.exists() and stat.read_text().split()[2] == "Z":
            return True  # a zombie waiting for init: dead
        time.sleep(0.05)
    return False


def test_a_progressing_process_outlives_the_idle_deadline() -> None:
    result, lines = run_ticker(ticks=10, then_sleep=0, idle=1.0)  # 2 s in all, 0.2 s gaps
    assert result.ok, result.describe_failure()
    assert lines[-1] == "tick 9"


def test_a_silent_process_is_killed_with_its_children() -> None:
    started = time.perf_counter()
    result, lines = run_ticker(ticks=2, then_sleep=60, idle=1.0, with_child=True)
    elapsed = time.perf_counter() - started
    assert result.timed_out
    assert elapsed < 5
    assert result.error is not None
    assert "timed out after" in result.error
    child = int(lines[0].split()[1])
    assert gone(child), "the grandchild survived the deadline"


def test_without_deadline_the_plain_timeout_is_unchanged() -> None:
    result = stream(
        [sys.executable, "-c", "import time; time.sleep(30)"], timeout=1, on_line=lambda _: None
    )
    assert result.timed_out
    assert result.error == f"timed out after 1 s: {sys.executable}"


def test_a_deadline_of_none_means_no_deadline_yet() -> None:
    result = stream(
        [sys.executable, "-c", "import time; time.sleep(0.5); print('ok')"],
        timeout=10,
        on_line=lambda _: None,
        deadline=lambda: None,
    )
    assert result.ok
    assert result.stdout == "ok"
