"""Run every probe concurrently and return a :class:`Snapshot`."""

from __future__ import annotations

import datetime
import threading
from typing import Callable, Optional

from torchsetup.detect.probes.record import DEFAULT_TIMEOUT, ProbeRecord, Snapshot


def collect(
    python: Optional[str] = None,
    *,
    chosen_by: Optional[str] = None,
    timeout: float = DEFAULT_TIMEOUT,
    while_waiting: Optional[Callable[[], object]] = None,
) -> Snapshot:
    """Probe this machine and the target interpreter ``python``, concurrently.

    The probe groups run in threads (most of their time is spent waiting for subprocesses);
    ``while_waiting`` runs in the calling thread meanwhile, e.g. to import the renderer.
    """
    from torchsetup.detect.probes import nvidia, python_target, system, toolkit, vendors

    captured = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    jobs: list[Callable[[], list[ProbeRecord]]] = [
        lambda: [python_target.probe_target(python, chosen_by=chosen_by, timeout=timeout)],
        lambda: nvidia.probe_all(timeout=timeout),
        lambda: toolkit.probe_all(timeout=timeout),
        lambda: system.probe_all(timeout=timeout),
        lambda: vendors.probe_all(timeout=timeout),
    ]
    results: list[list[ProbeRecord]] = [[] for _ in jobs]

    def runner(i: int) -> None:
        results[i] = jobs[i]()

    threads = [
        threading.Thread(target=runner, args=(i,), name=f"probe-{i}", daemon=True)
        for i in range(len(jobs))
    ]
    for t in threads:
        t.start()
    if while_waiting is not None:
        while_waiting()
    for t in threads:
        t.join()
    records = {rec.name: rec for group in results for rec in group}
    target = records.get("python")
    purelib = target.data.get("python", {}).get("purelib") if target and target.ok else None
    records["disk"] = system.probe_disk(purelib)
    prefix = target.data.get("python", {}).get("prefix") if target and target.ok else None
    records["guard"] = system.probe_guard(prefix)
    return Snapshot(records=records, captured_at=captured)
