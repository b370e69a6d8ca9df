"""``doctor --deep``: import torch in the target interpreter (a subprocess, with a timeout) and
keep what it printed as the ``deep`` probe record. torch is never imported in torchsetup's
own process; a torch that hangs or segfaults on import is a finding, not a crash.

The record's data is the merged JSON sections of ``probes/_deep_probe.py`` plus
``failure`` when the process did not finish; :func:`torchsetup.detect.build.build_deep` turns it
into :class:`~torchsetup.detect.model.DeepFacts`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from torchsetup import proc
from torchsetup.detect.probes.record import ProbeRecord
from torchsetup.resources import DEEP_PROBE

DEEP_SCRIPT = Path(DEEP_PROBE)
MIN_TIMEOUT = 60.0  # a cold `import torch` plus CUDA init can take tens of seconds


def deep_timeout(probe_timeout: float) -> float:
    """How long --deep waits: six probe timeouts, at least a minute."""
    return max(MIN_TIMEOUT, 6 * probe_timeout)


def run_deep_probe(python: str, *, timeout: float) -> ProbeRecord:
    """Run the deep probe with ``python``; never raises."""
    res = proc.run([python, str(DEEP_SCRIPT)], timeout=timeout)
    data = merge_sections(res.stdout)
    if data.get("done") is not True:
        after = f" (after: {', '.join(data['sections'])})" if data["sections"] else ""
        tail = res.stderr.strip().splitlines()[-3:]
        data["failure"] = (res.describe_failure() or "the probe stopped early") + after
        if tail:
            data["stderr_tail"] = tail
    return ProbeRecord("deep", ok=True, duration_s=res.duration_s, data=data)


def merge_sections(stdout: str) -> dict[str, Any]:
    """One dict from the probe's JSON lines (later sections add keys; lists of warnings join)."""
    data: dict[str, Any] = {"sections": []}
    for line in stdout.splitlines():
        try:
            section = json.loads(line)
        except ValueError:
            continue
        if not isinstance(section, dict):
            continue
        name = section.pop("section", "?")
        if name == "done":
            data["done"] = True
            continue
        data["sections"].append(name)
        for key in LIST_KEYS:
            data[key] = [*data.get(key, []), *(section.pop(key, None) or [])]
        data.update(section)
    return data


LIST_KEYS = ("warnings", "section_errors")  # several sections add to these
