"""Step results, the installers' progress lines and the install log (one file per run).

:class:`StepResult` is what became of one step (status, exit code, duration, the reason it did
not succeed and the last lines of its output, all redacted); :func:`parse_progress` reads pip's
``--progress-bar=raw`` and pip's/uv's "Downloading" lines; :class:`InstallLog` writes every line
of a run (credentials redacted) under :func:`torchsetup.paths.logs_dir`.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Optional
from urllib.parse import unquote

from torchsetup import __version__, proc
from torchsetup.install.restore import new_file
from torchsetup.paths import logs_dir
from torchsetup.redact import redact_argv, redact_url_credentials
from torchsetup.resolve.plan import Step

# --- step results ----------------------------------------------------------------------------

_TAIL_LINES = 15


@dataclass(frozen=True)
class StepResult:
    id: str
    description: str
    status: str  # "ok" | "failed" | "interrupted" | "skipped" | "not-run"
    argv: tuple[str, ...] = ()  # redacted
    returncode: Optional[int] = None
    duration_s: float = 0.0
    reason: str = ""  # why it failed / was skipped
    tail: tuple[str, ...] = ()  # last lines of output, redacted

    @classmethod
    def of(cls, step: Step, status: str, reason: str = "") -> StepResult:
        return cls(step.id, step.description, status, tuple(redact_argv(step.argv)), reason=reason)


_BAR = re.compile(r"^\s*[━╸╺─]{3,}")  # pip's finished progress bars: noise in a failure report
_ERROR = re.compile(r"^\s*(ERROR|error|×)\b")


def _reason(r: proc.ProcResult, lines: Sequence[str]) -> str:
    """One line: why the step did not succeed (the installer's last error line, if it printed one)."""
    if r.error:
        return r.error
    if r.signal is not None:
        return r.describe_failure()
    error = next((x.strip() for x in reversed(lines) if _ERROR.match(x)), "")
    reason = f"exit code {r.returncode}" + (f": {error}" if error else "")
    return reason if len(reason) <= 300 else reason[:299] + "…"


def result_of(step: Step, r: proc.ProcResult) -> StepResult:
    lines = [
        redact_url_credentials(x)
        for x in r.stdout.splitlines()
        if x.strip() and not _RAW.match(x) and not _BAR.match(x)
    ]
    status = "ok" if r.ok else "interrupted" if r.interrupted else "failed"
    return StepResult(
        step.id,
        step.description,
        status,
        tuple(redact_argv(step.argv)),
        r.returncode,
        r.duration_s,
        "" if r.ok else _reason(r, lines),
        tuple(lines[-_TAIL_LINES:]),
    )


# --- pip's and uv's progress lines -----------------------------------------------------------

_RAW = re.compile(r"^Progress (\d+) of (\d+)$")
_DOWNLOADING = re.compile(r"^\s*Downloading (\S+)(?: \(([\d.]+ ?[kKMG]i?B)\))?\s*$")


@dataclass(frozen=True)
class ProgressEvent:
    label: Optional[str] = None  # a download started: its file or project name
    size: Optional[str] = None  # "191.8 MB" as the installer printed it
    done: Optional[int] = None  # bytes so far (pip --progress-bar=raw)
    total: Optional[int] = None


def parse_progress(line: str) -> Optional[ProgressEvent]:
    m = _RAW.match(line)
    if m:
        return ProgressEvent(done=int(m.group(1)), total=int(m.group(2)))
    m = _DOWNLOADING.match(line)
    if m:
        return ProgressEvent(label=unquote(m.group(1).rsplit("/", 1)[-1]), size=m.group(2))
    return None


# --- the log ---------------------------------------------------------------------------------


class InstallLog:
    """One file per run under :func:`paths.logs_dir`; every line redacted; safe across threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: IO[str] = path.open("w", encoding="utf-8", buffering=1)
        self._lock = threading.Lock()
        self._decile = -1

    @classmethod
    def create(cls, kind: str) -> InstallLog:
        return cls(new_file(logs_dir(), kind, ".log"))

    def header(self, text: str) -> None:
        self.write(f"torchsetup {__version__} {text}")
        self.write(f"started {time.strftime('%Y-%m-%d %H:%M:%S %z')} (pid {os.getpid()})")

    def write(self, text: str) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.write(redact_url_credentials(text) + "\n")

    def step_started(self, index: int, total: int, step: Step, env: Mapping[str, str]) -> None:
        self._decile = -1
        self.write(f"== [{index}/{total}] {step.id}: {step.description}")
        self.write(
            "$ " + " ".join(redact_argv(step.argv)) + (f"   (in {step.cwd})" if step.cwd else "")
        )
        for key, value in env.items():
            self.write(f"+ {key}={value}")

    def output(self, line: str) -> None:
        """A line of the step's output; pip's raw progress lines only at every tenth."""
        m = _RAW.match(line)
        if m:
            total = int(m.group(2)) or 1
            decile = int(m.group(1)) * 10 // total
            if decile == self._decile:
                return
            self._decile = decile
        self.write(line)

    def step_finished(self, index: int, total: int, result: StepResult) -> None:
        how = f"exit code {result.returncode}" if result.returncode is not None else result.reason
        self.write(
            f"== [{index}/{total}] {result.id}: {result.status} ({how}, {result.duration_s:.1f} s)"
        )

    def close(self) -> None:
        with self._lock:
            self._file.close()
