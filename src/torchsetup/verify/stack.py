"""``verify --stack``: run resources/stack_check.py in the target, one result per component.

The script reports with smoke.py's protocol (SENTINEL lines: hello, plan, result, done); a
:class:`~torchsetup.verify.protocol.SmokeSession` follows it with a deadline per check, so a hung
CUDA init or a crash fails the check that was running and marks the rest "not run".
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from typing import Callable, Optional

from torchsetup import proc
from torchsetup.errors import InterruptedError_
from torchsetup.resources import STACK_CHECK, STACK_CORPUS
from torchsetup.verify.model import CheckResult
from torchsetup.verify.protocol import SmokeSession

DEFAULT_STEPS = 30


def stack_argv(
    python: str, work_dir: str, *, steps: int = DEFAULT_STEPS, require: Sequence[str] = ()
) -> list[str]:
    argv = proc.target_argv(
        python,
        STACK_CHECK,
        f"--corpus={STACK_CORPUS}",
        f"--work-dir={work_dir}",
        f"--steps={steps}",
        "--json-lines",
    )
    if require:
        argv.append("--require=" + ",".join(require))
    return argv


def run_stack_checks(
    python: str,
    *,
    steps: int = DEFAULT_STEPS,
    require: Sequence[str] = (),
    scale: float = 1.0,
    on_start: Optional[Callable[[str], None]] = None,
    environ: Optional[Mapping[str, str]] = None,
) -> list[CheckResult]:
    """The stack checks' results (a crash or hang is a failed check, never an exception)."""
    with tempfile.TemporaryDirectory(prefix="torchsetup-stack-") as work:
        session = SmokeSession(scale=scale, prefix=(), on_start=on_start)
        result = proc.stream(
            stack_argv(python, work, steps=steps, require=require),
            timeout=None,
            on_line=session.feed,
            deadline=session.deadline,
            env=environ,
        )
        if result.interrupted:
            raise InterruptedError_("verify interrupted")
        return session.finish(result, python=python)


__all__ = ["DEFAULT_STEPS", "run_stack_checks", "stack_argv"]
