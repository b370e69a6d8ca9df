"""``verify --stack``: the in-target script's contract and how its output is judged (pure)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from torchsetup.proc import ProcResult
from torchsetup.resources import STACK_CHECK, STACK_CORPUS
from torchsetup.verify.protocol import SENTINEL, SmokeSession, timeout_for
from torchsetup.verify.stack import stack_argv

SCRIPT = Path(STACK_CHECK)


def _line(event: str, **fields: object) -> str:
    return SENTINEL + json.dumps({"event": event, **fields})


def test_the_script_runs_on_python_3_9_and_uses_only_stdlib_at_top_level() -> None:
    tree = ast.parse(SCRIPT.read_text(encoding="utf-8"), feature_version=(3, 9))
    top = {
        alias.name.split(".")[0]
        for node in tree.body
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in (
            node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")]
        )
    }
    assert top <= {"argparse", "json", "math", "os", "sys", "tempfile", "time", "traceback"}
    text = SCRIPT.read_text(encoding="utf-8")
    assert f'SENTINEL = "{SENTINEL}"' in text  # the same protocol as smoke.py
    for needle in ("GPT2LMHeadModel", 'lr_scheduler_type="cosine"', "warmup_steps", "Trainer("):
        assert needle in text


def test_the_corpus_ships_with_torchsetup() -> None:
    lines = Path(STACK_CORPUS).read_text(encoding="utf-8").splitlines()
    assert len(lines) > 500 and all(line.isascii() for line in lines)


def test_argv_points_at_the_packaged_script_and_corpus() -> None:
    argv = stack_argv("/venv/bin/python", "/tmp/w", steps=12, require=("vllm",))
    assert argv[:2] == ["/venv/bin/python", STACK_CHECK]
    assert f"--corpus={STACK_CORPUS}" in argv and "--steps=12" in argv
    assert "--require=vllm" in argv and "--json-lines" in argv


def test_the_training_checks_get_long_deadlines() -> None:
    assert timeout_for("stack.gpt2") >= 600 and timeout_for("stack.versions") >= 300


def test_a_crash_fails_the_running_check_and_marks_the_rest_not_run() -> None:
    session = SmokeSession(prefix=())
    session.feed(_line("hello"))
    session.feed(_line("plan", checks=["stack.versions", "stack.gpt2", "stack.peft"]))
    session.feed(_line("result", name="stack.versions", status="pass", detail="torch 2.13.0"))
    session.feed("Segmentation fault")
    done = ProcResult(argv=("python",), returncode=-11, signal=11)
    results = {c.name: c for c in session.finish(done, python="/venv/bin/python")}
    assert results["stack.versions"].status == "pass"
    assert results["stack.gpt2"].status == "fail" and "SIGSEGV" in results["stack.gpt2"].detail
    assert results["stack.peft"].status == "not run"


def test_a_finished_run_keeps_every_result() -> None:
    session = SmokeSession(prefix=())
    session.feed(_line("hello"))
    session.feed(_line("plan", checks=["stack.versions", "stack.vllm"]))
    session.feed(_line("result", name="stack.versions", status="pass", detail="ok"))
    session.feed(_line("result", name="stack.vllm", status="not run", detail="needs a CUDA GPU"))
    session.feed(_line("done"))
    results = session.finish(ProcResult(argv=("python",), returncode=0), python="python")
    assert [(c.name, c.status) for c in results] == [
        ("stack.versions", "pass"),
        ("stack.vllm", "not run"),
    ]
