"""Probes: the only code that looks at the machine.

Each probe returns a :class:`ProbeRecord` (what it found as plain JSON data, how long it took,
its error) and never raises: a failed or hung probe is a fact too. :func:`collect` runs them
concurrently and returns a :class:`Snapshot` that serialises to JSON, so a snapshot taken on
one machine (``doctor --save-snapshot``) can be replayed anywhere (``--snapshot FILE``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from torchsetup import __version__

SNAPSHOT_SCHEMA = "torchsetup.snapshot/1"
DEFAULT_TIMEOUT = 10.0


@dataclass
class ProbeRecord:
    name: str
    ok: bool
    duration_s: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)
    error: Optional[str] = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "duration_s": round(self.duration_s, 4),
            "data": self.data,
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, name: str, raw: Mapping[str, Any]) -> ProbeRecord:
        return cls(
            name=name,
            ok=bool(raw.get("ok")),
            duration_s=float(raw.get("duration_s") or 0),
            data=dict(raw.get("data") or {}),
            error=raw.get("error"),
        )


@dataclass
class Snapshot:
    records: dict[str, ProbeRecord]
    captured_at: Optional[str] = None
    torchsetup_version: str = __version__
    source: str = "live"

    def get(self, name: str) -> ProbeRecord:
        return self.records.get(name) or ProbeRecord(name=name, ok=False, error="not probed")

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SNAPSHOT_SCHEMA,
            "torchsetup_version": self.torchsetup_version,
            "captured_at": self.captured_at,
            "records": {k: v.to_dict() for k, v in sorted(self.records.items())},
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], source: str) -> Snapshot:
        records = {k: ProbeRecord.from_dict(k, v) for k, v in (raw.get("records") or {}).items()}
        return cls(
            records=records,
            captured_at=raw.get("captured_at"),
            torchsetup_version=str(raw.get("torchsetup_version") or "?"),
            source=source,
        )


def timed(name: str, fn: Callable[[], dict[str, Any]]) -> ProbeRecord:
    """Run a probe body; exceptions become the record's error (probes never raise)."""
    started = time.perf_counter()
    try:
        data = fn()
    except Exception as exc:  # noqa: BLE001 - a broken probe is a fact, not a crash
        return ProbeRecord(
            name,
            ok=False,
            duration_s=time.perf_counter() - started,
            error=f"{type(exc).__name__}: {exc}",
        )
    error = data.pop("_error", None)
    return ProbeRecord(
        name, ok=error is None, duration_s=time.perf_counter() - started, data=data, error=error
    )
