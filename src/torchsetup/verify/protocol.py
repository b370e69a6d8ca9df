"""Reading the smoke script's output: sentinel lines, per-check deadlines, crashes (pure).

The smoke script prints ``SENTINEL + JSON`` lines (see smoke.py). A :class:`SmokeSession`
is fed every output line, knows which check is running and until when it may run, and at
the end turns what the process did (finished, crashed, hung, never started) into one
result per check: the check that was running when things went wrong fails with a readable
reason, the ones after it are "not run".
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any, Callable, Optional

from torchsetup.proc import ProcResult, _signal_name
from torchsetup.verify.model import FAIL, NOT_RUN, PASS, STATUSES, CheckResult

SENTINEL = "@@torchsetup@@ "  # smoke.py's SENTINEL (a test keeps the two equal)
PREFIX = ("import", "build", "gpu")  # the checks every smoke run reports first

# Seconds one check may take before the target is killed, by kind (the part after the last
# "."): generous, because a cold torch.compile on a slow CPU takes minutes, and scaled by
# --timeout-scale.
TIMEOUTS: Mapping[str, float] = {
    "import": 300,
    "build": 120,
    "gpu": 180,
    "tensor": 60,
    "math": 60,
    "autograd": 60,
    "matmul": 120,
    "conv": 180,
    "memory": 60,
    "torchvision": 120,
    "compile": 900,
    "train": 600,
    "distributed": 300,
    # verify --stack (stack_check.py): the first import of the stack is in "versions"
    "versions": 300,
    "tokenizers": 120,
    "datasets": 180,
    "gpt2": 600,
    "accelerate": 300,
    "peft": 300,
    "deepspeed": 900,
    "vllm": 900,
}
DEFAULT_TIMEOUT = 120.0
BETWEEN_CHECKS = 60.0  # after a result, until the next thing is announced
OUTPUT_TAIL = 20

ACTIVITY = {
    "import": "importing torch",
    "build": "reading torch's build information",
    "gpu": "initialising the GPU(s)",
}


def check_kind(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def timeout_for(name: str, scale: float = 1.0) -> float:
    return TIMEOUTS.get(check_kind(name), DEFAULT_TIMEOUT) * scale


def activity(name: str) -> str:
    return ACTIVITY.get(name, f"running the {name} check")


def parse_event(line: str) -> Optional[dict[str, Any]]:
    """The event on this line, or None for anything else (stray output, broken JSON)."""
    at = line.find(SENTINEL)
    if at < 0:
        return None
    try:
        event = json.loads(line[at + len(SENTINEL) :])
    except ValueError:
        return None
    if isinstance(event, dict) and isinstance(event.get("event"), str):
        return event
    return None


def result_from_event(event: Mapping[str, Any]) -> Optional[CheckResult]:
    """A CheckResult from a ``result`` event; None when the event is malformed."""
    name = event.get("name")
    status = event.get("status")
    if not isinstance(name, str) or status not in STATUSES:
        return None
    seconds = event.get("seconds")
    detail = event.get("detail")
    data = event.get("data")
    return CheckResult(
        name=name,
        status=status,
        seconds=float(seconds) if isinstance(seconds, (int, float)) else 0.0,
        detail=detail if isinstance(detail, str) else "",
        data=data if isinstance(data, dict) else {},
    )


class SmokeSession:
    """Follows one smoke run. ``feed`` runs on the reader thread, the rest on the caller's."""

    def __init__(
        self,
        *,
        scale: float = 1.0,
        prefix: Sequence[str] = PREFIX,
        on_start: Optional[Callable[[str], None]] = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._scale = scale
        self._clock = clock
        self._on_start = on_start
        self._lock = threading.Lock()
        self._expected: list[str] = list(prefix)
        self._results: dict[str, CheckResult] = {}
        self._tail: deque[str] = deque(maxlen=OUTPUT_TAIL)
        self.hello = False
        self.done = False
        self._timeout = 0.0
        self._deadline: Optional[float] = None
        self._started = clock()
        self._announced: Optional[str] = None
        self._advance()

    # -- called for every output line (reader thread)

    def feed(self, line: str) -> None:
        event = parse_event(line)
        if event is None:
            if line.strip():
                with self._lock:
                    self._tail.append(line.rstrip())
            return
        kind = event["event"]
        with self._lock:
            if kind == "hello":
                self.hello = True
                return
            if kind == "plan":
                names = event.get("checks")
                if isinstance(names, list):
                    self._expected += [n for n in names if isinstance(n, str)]
            elif kind == "result":
                result = result_from_event(event)
                if result is None:
                    return
                self._results.setdefault(result.name, result)
                if result.name not in self._expected:
                    self._expected.append(result.name)
            elif kind == "done":
                self.done = True
        self._advance()

    def _advance(self) -> None:
        """Move the deadline on to whatever runs next, and say what that is."""
        with self._lock:
            current = self._current()
            if self.done:
                self._deadline = None
                return
            if current == self._announced and self._deadline is not None:
                return  # still the same check: its deadline stands
            now = self._clock()
            self._started = now
            if current is None:
                self._timeout = BETWEEN_CHECKS * max(self._scale, 1.0)
            else:
                self._timeout = timeout_for(current, self._scale)
            self._deadline = now + self._timeout
            self._announced = current
        if current is not None and self._on_start is not None:
            self._on_start(current)

    def _current(self) -> Optional[str]:
        return next((n for n in self._expected if n not in self._results), None)

    # -- called by the runner

    def deadline(self) -> Optional[float]:
        with self._lock:
            return self._deadline

    def current(self) -> Optional[str]:
        with self._lock:
            return self._current()

    def finish(self, proc: ProcResult, *, python: str) -> list[CheckResult]:
        """One result per expected check, in order, once the process has ended."""
        with self._lock:
            results = dict(self._results)
            expected = list(self._expected)
            tail = list(self._tail)
            current = self._current()
        failed_at: Optional[str] = None
        if not self.done:
            failed_at = current or "smoke"
            if failed_at not in expected:
                expected.append(failed_at)
            results[failed_at] = CheckResult(
                failed_at,
                FAIL,
                max(self._clock() - self._started, 0.0),
                self._failure(proc, failed_at, python, tail),
                data={"output_tail": tail} if tail else {},
            )
        why = _why_not_run(results, expected, failed_at, timed_out=proc.timed_out)
        return [results.get(n) or CheckResult(n, NOT_RUN, detail=why) for n in expected]

    def _failure(self, proc: ProcResult, name: str, python: str, tail: list[str]) -> str:
        doing = activity(name) if name != "smoke" else "finishing the checks"
        last = f": {tail[-1]}" if tail else ""
        if proc.timed_out:
            return f"timed out after {self._timeout:g} s while {doing}"
        if proc.returncode is None:
            return f"could not run the target Python {python}: {proc.error}"
        if proc.signal is not None:
            oom = " (out of memory?)" if proc.signal == getattr(signal, "SIGKILL", -1) else ""
            return f"the target Python was killed by {_signal_name(proc.signal)} while {doing}{oom}"
        if not self.hello:
            return (
                f"{python} did not run the smoke script (exit code {proc.returncode}; "
                f"is it a Python 3.8+ interpreter?){last}"
            )
        if proc.returncode != 0:
            return f"the target Python exited with code {proc.returncode} while {doing}{last}"
        return f"the target Python exited without reporting while {doing}{last}"


def _why_not_run(
    results: Mapping[str, CheckResult],
    expected: Sequence[str],
    failed_at: Optional[str],
    *,
    timed_out: bool,
) -> str:
    if failed_at is not None:
        return f"{failed_at} {'timed out' if timed_out else 'failed'}"
    imported = results.get("import")
    if imported is None or imported.status != PASS:
        return "torch did not import"
    first_fail = next((n for n in expected if n in results and results[n].status == FAIL), None)
    return f"{first_fail} failed" if first_fail else "the smoke script did not report it"
