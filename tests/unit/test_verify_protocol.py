"""The smoke protocol: sentinel lines, per-check deadlines and what a crash or hang becomes."""

from __future__ import annotations

import json
import signal
from typing import Any

import pytest

from torchsetup.proc import ProcResult
from torchsetup.verify.model import FAIL, NOT_RUN, PASS
from torchsetup.verify.protocol import (
    SENTINEL,
    SmokeSession,
    parse_event,
    result_from_event,
    timeout_for,
)

PY = "/venv/bin/python"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def line(event: str, **fields: Any) -> str:
    return SENTINEL + json.dumps({"event": event, **fields})


def result(name: str, status: str = PASS, seconds: float = 0.5, **fields: Any) -> str:
    return line("result", name=name, status=status, seconds=seconds, detail=f"{name} ok", **fields)


def exited(rc: int | None = 0, **kw: Any) -> ProcResult:
    return ProcResult(argv=(PY,), returncode=rc, duration_s=3.0, **kw)


def healthy_run(session: SmokeSession, plan: tuple[str, ...] = ("cpu.math", "cpu.train")) -> None:
    session.feed(line("hello", protocol=1))
    for name in ("import", "build", "gpu"):
        session.feed(result(name))
    session.feed(line("plan", checks=list(plan)))
    for name in plan:
        session.feed(result(name))
    session.feed(line("done"))


def test_parse_event_finds_the_sentinel_after_stray_output() -> None:
    event = parse_event("some C library wrote this" + line("done"))
    assert event == {"event": "done"}


@pytest.mark.parametrize(
    "text",
    [
        "plain torch warning",
        SENTINEL + "{not json",
        SENTINEL + "[1, 2]",
        SENTINEL + json.dumps({"no": "event"}),
        "",
    ],
)
def test_parse_event_ignores_anything_else(text: str) -> None:
    assert parse_event(text) is None


def test_result_from_event_rejects_unknown_status_and_fixes_types() -> None:
    assert result_from_event({"event": "result", "name": "x", "status": "maybe"}) is None
    parsed = result_from_event(
        {"event": "result", "name": "x", "status": "pass", "seconds": "2", "detail": 3, "data": []}
    )
    assert parsed is not None
    assert (parsed.seconds, parsed.detail, dict(parsed.data)) == (0.0, "", {})


def test_a_complete_run_gives_every_result_in_order() -> None:
    session = SmokeSession()
    healthy_run(session)
    checks = session.finish(exited(0), python=PY)
    assert [c.name for c in checks] == ["import", "build", "gpu", "cpu.math", "cpu.train"]
    assert all(c.status == PASS for c in checks)


def test_the_deadline_follows_the_running_check() -> None:
    clock = Clock()
    started: list[str] = []
    session = SmokeSession(clock=clock, on_start=started.append, scale=2.0)
    assert session.current() == "import"
    assert session.deadline() == 100.0 + timeout_for("import", 2.0)
    clock.now = 110.0
    session.feed(result("import"))
    assert session.deadline() == 110.0 + timeout_for("build", 2.0)
    session.feed(result("build"))
    session.feed(result("gpu"))
    session.feed(line("plan", checks=["cpu.compile"]))
    assert session.current() == "cpu.compile"
    assert session.deadline() == 110.0 + timeout_for("cpu.compile", 2.0)
    assert timeout_for("cuda:3.compile") == timeout_for("cpu.compile") > timeout_for("cpu.math")
    session.feed(result("cpu.compile"))
    session.feed(line("done"))
    assert session.deadline() is None
    assert started == ["import", "build", "gpu", "cpu.compile"]


def test_noise_does_not_move_the_deadline() -> None:
    clock = Clock()
    session = SmokeSession(clock=clock)
    before = session.deadline()
    clock.now += 50
    session.feed("UserWarning: something noisy")
    assert session.deadline() == before


def test_a_hang_fails_the_running_check_and_skips_the_rest() -> None:
    clock = Clock()
    session = SmokeSession(clock=clock, scale=0.1)
    for name in ("import", "build", "gpu"):
        session.feed(result(name))
    session.feed(line("plan", checks=["cpu.math", "cpu.compile", "cpu.train"]))
    session.feed(result("cpu.math"))
    clock.now += 95
    checks = session.finish(exited(None, timed_out=True, error="timed out"), python=PY)
    by_name = {c.name: c for c in checks}
    assert by_name["cpu.compile"].status == FAIL
    assert (
        by_name["cpu.compile"].detail == "timed out after 90 s while running the cpu.compile check"
    )
    assert by_name["cpu.compile"].seconds == pytest.approx(95)
    assert by_name["cpu.train"].status == NOT_RUN
    assert by_name["cpu.train"].detail == "cpu.compile timed out"
    assert by_name["cpu.math"].status == PASS


def test_a_segfault_while_importing_torch_is_named() -> None:
    session = SmokeSession()
    session.feed(line("hello", protocol=1))
    session.feed("Fatal Python error: Segmentation fault")
    checks = session.finish(exited(-signal.SIGSEGV, signal=signal.SIGSEGV), python=PY)
    assert [(c.name, c.status) for c in checks] == [
        ("import", FAIL),
        ("build", NOT_RUN),
        ("gpu", NOT_RUN),
    ]
    assert checks[0].detail == "the target Python was killed by SIGSEGV while importing torch"
    assert checks[0].data["output_tail"] == ["Fatal Python error: Segmentation fault"]
    assert checks[1].detail == "import failed"


def test_sigkill_suggests_out_of_memory() -> None:
    session = SmokeSession()
    healthy_prefix = ("import", "build", "gpu")
    for name in healthy_prefix:
        session.feed(result(name))
    session.feed(line("plan", checks=["cuda:0.train"]))
    checks = session.finish(exited(-9, signal=signal.SIGKILL), python=PY)
    assert checks[-1].detail == (
        "the target Python was killed by SIGKILL while running the cuda:0.train check "
        "(out of memory?)"
    )


def test_a_target_that_is_not_python() -> None:
    session = SmokeSession()
    session.feed("SyntaxError: invalid syntax")
    checks = session.finish(exited(1), python="/usr/bin/python3.6")
    assert checks[0].status == FAIL
    assert "did not run the smoke script (exit code 1; is it a Python 3.8+ interpreter?)" in (
        checks[0].detail
    )
    assert checks[0].detail.endswith("SyntaxError: invalid syntax")


def test_an_interpreter_that_cannot_start() -> None:
    session = SmokeSession()
    checks = session.finish(
        exited(None, error="not found: /nope/python", not_found=True), python="/nope/python"
    )
    assert (
        checks[0].detail == "could not run the target Python /nope/python: not found: /nope/python"
    )


def test_exit_code_while_running_a_check_quotes_the_last_line() -> None:
    session = SmokeSession()
    session.feed(line("hello", protocol=1))
    session.feed(result("import"))
    session.feed("RuntimeError: boom")
    checks = session.finish(exited(1), python=PY)
    assert checks[1].detail == (
        "the target Python exited with code 1 while reading torch's build information: "
        "RuntimeError: boom"
    )


def test_import_failure_reported_by_the_script_skips_the_rest() -> None:
    session = SmokeSession()
    session.feed(line("hello", protocol=1))
    session.feed(result("import", status=FAIL))
    session.feed(line("done"))
    checks = session.finish(exited(0), python=PY)
    assert [c.status for c in checks] == [FAIL, NOT_RUN, NOT_RUN]
    assert checks[1].detail == "torch did not import"


def test_a_crash_between_checks_and_plan_is_still_a_failure() -> None:
    session = SmokeSession()
    for name in ("import", "build", "gpu"):
        session.feed(result(name))
    checks = session.finish(exited(-11, signal=11), python=PY)
    assert checks[-1].name == "smoke"
    assert checks[-1].status == FAIL
    assert "while finishing the checks" in checks[-1].detail


def test_a_hang_after_done_does_not_matter() -> None:
    session = SmokeSession()
    healthy_run(session)
    checks = session.finish(exited(None, timed_out=True), python=PY)
    assert all(c.status == PASS for c in checks)


def test_duplicate_and_unplanned_results_are_kept_once() -> None:
    session = SmokeSession()
    session.feed(result("import"))
    session.feed(result("import", status=FAIL))
    session.feed(result("extra"))
    session.feed(result("build"))
    session.feed(result("gpu"))
    session.feed(line("done"))
    checks = session.finish(exited(0), python=PY)
    assert [(c.name, c.status) for c in checks] == [
        ("import", PASS),
        ("build", PASS),
        ("gpu", PASS),
        ("extra", PASS),
    ]


def test_a_repeated_event_does_not_extend_the_running_checks_deadline() -> None:
    clock = Clock()
    session = SmokeSession(clock=clock)
    session.feed(result("import"))
    before = session.deadline()
    clock.now += 30
    session.feed(result("import"))  # a duplicate: build is still running since before
    session.feed(line("hello", protocol=1))
    assert session.deadline() == before
