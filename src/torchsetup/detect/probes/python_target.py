"""Probe the target interpreter by running the stdlib-only _target_probe.py in it."""

from __future__ import annotations

import json
from typing import Any, Optional

from torchsetup import proc
from torchsetup.detect.probes.record import ProbeRecord
from torchsetup.resources import TARGET_PROBE as PROBE_SCRIPT


def probe_target(python: Optional[str], *, chosen_by: Optional[str], timeout: float) -> ProbeRecord:
    if not python:
        return ProbeRecord(
            "python",
            ok=False,
            error="no Python interpreter found",
            data={"executable": None, "chosen_by": chosen_by},
        )
    # Not -I: the probe must see what the user's `python` sees (user site, PYTHONPATH);
    # running a file puts only the script's folder on sys.path, never the cwd.
    res = proc.run([python, PROBE_SCRIPT], timeout=timeout)
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
        return ProbeRecord(
            "python",
            ok=False,
            duration_s=res.duration_s,
            data=data,
            error=f"{python} printed no probe result (stdout: {res.stdout[:120]!r})",
        )
    data.update(report)
    return ProbeRecord("python", ok=True, duration_s=res.duration_s, data=data)


def _failure(python: str, res: proc.ProcResult) -> str:
    if res.not_found:
        return f"target Python not found: {python}"
    if res.timed_out:
        return f"target Python did not answer within {res.duration_s:.0f} s: {python}"
    return f"target Python failed: {res.describe_failure()}"
