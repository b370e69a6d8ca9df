"""Probe the target interpreter by running the stdlib-only ``resources/target_probe.py`` in it.

The one probe of the target: doctor's facts (:func:`probe_target`, a record of the snapshot)
and install's re-read before it runs a plan (:func:`probe_python`) run the same script the
same way (:func:`torchsetup.proc.target_argv`) and parse it with the same parser
(:mod:`torchsetup.detect.parse.target_probe`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Optional

from torchsetup import proc
from torchsetup.detect.probes.record import ProbeRecord
from torchsetup.resources import TARGET_PROBE as PROBE_SCRIPT

if TYPE_CHECKING:
    from torchsetup.detect.model import TargetPython
    from torchsetup.proc import Runner


def probe_argv(python: str, *, all_distributions: bool = False) -> list[str]:
    return proc.target_argv(
        python, PROBE_SCRIPT, *(["--all-distributions"] if all_distributions else [])
    )


def probe_target(
    python: Optional[str],
    *,
    chosen_by: Optional[str],
    timeout: float,
    all_distributions: bool = False,
    runner: Optional[Runner] = None,
    env: Optional[Mapping[str, str]] = None,
) -> ProbeRecord:
    if not python:
        return ProbeRecord(
            "python",
            ok=False,
            error="no Python interpreter found",
            data={"executable": None, "chosen_by": chosen_by},
        )
    argv = probe_argv(python, all_distributions=all_distributions)
    if runner is None:
        res = proc.run(argv, timeout=timeout, env=env)
    else:
        res = runner.run(argv, timeout=timeout, env=env if env is not None else {})
    data: dict[str, Any] = {
        "executable": python,
        "chosen_by": chosen_by,
        "returncode": res.returncode,
    }
    if not res.ok:
        data["stderr_tail"] = res.stderr.strip().splitlines()[-5:]
        return ProbeRecord(
            "python", ok=False, duration_s=res.duration_s, data=data, error=_failure(python, res)
        )
    try:
        report = json.loads(res.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        report = None
    if not isinstance(report, dict):
        return ProbeRecord(
            "python",
            ok=False,
            duration_s=res.duration_s,
            data=data,
            error=f"{python} printed no probe result (stdout: {res.stdout[:120]!r})",
        )
    data.update(report)
    return ProbeRecord("python", ok=True, duration_s=res.duration_s, data=data)


def probe_python(
    python: str,
    *,
    runner: Runner,
    env: Mapping[str, str],
    chosen_by: Optional[str] = None,
    timeout: float = 60.0,
) -> TargetPython:
    """The target as a :class:`TargetPython`, every distribution listed (install's re-read).
    A failed probe comes back with ``ok=False`` and its ``error``."""
    from torchsetup.detect.parse.target_probe import build_python

    rec = probe_target(
        python,
        chosen_by=chosen_by,
        timeout=timeout,
        all_distributions=True,
        runner=runner,
        env=env,
    )
    py = build_python(rec)
    assert py is not None
    return py


def _failure(python: str, res: proc.ProcResult) -> str:
    if res.not_found:
        return f"target Python not found: {python}"
    if res.timed_out:
        return f"target Python did not answer within {res.duration_s:.0f} s: {python}"
    return f"target Python failed: {res.describe_failure()}"
