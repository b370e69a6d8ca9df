"""What the user sees of an install: the live view of the running step (rich, on a terminal;
plain lines elsewhere), the result of a run and its closing report."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from torchsetup.errors import EXIT_OK
from torchsetup.install.log import StepResult, parse_progress
from torchsetup.redact import redact_url_credentials
from torchsetup.resolve.plan import Step
from torchsetup.sanitize import clean

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

# --- the live view ---------------------------------------------------------------------------


@dataclass
class _Current:
    index: int
    total: int
    description: str
    started: float
    last_line: str = ""
    download: str = ""
    done: Optional[int] = None
    total_bytes: Optional[int] = None


class View:
    """A spinner, the step, its last line and download progress on a terminal; plain lines elsewhere.

    ``verbose`` prints every output line as well. Lines arrive from the reader thread; the live
    panel re-reads the current state four times a second (rich's own refresh thread).
    """

    REFRESH_PER_SECOND = 4

    def __init__(self, console: Console, *, verbose: bool) -> None:
        self.console = console
        self.verbose = verbose
        self.interactive = console.is_terminal and not console.is_dumb_terminal
        self._current: Optional[_Current] = None
        self._live: Any = None
        self._spinner: Any = None

    def say(self, text: str, style: Optional[str] = None) -> None:
        # everything shown passes redaction and the terminal sanitiser (pip lines, restore files)
        text = clean(redact_url_credentials(text))
        self.console.print(text, style=style, markup=False, highlight=False, soft_wrap=True)

    def step_started(self, index: int, total: int, step: Step) -> None:
        self._current = _Current(index, total, step.description, time.monotonic())
        if not self.interactive:
            self.say(f"[{index}/{total}] {step.description} ...")
            return
        from rich.live import Live
        from rich.spinner import Spinner

        self._spinner = Spinner("dots")
        self._live = Live(
            get_renderable=self._render,
            console=self.console,
            transient=True,
            refresh_per_second=self.REFRESH_PER_SECOND,
        )
        self._live.start()

    def output(self, line: str) -> None:
        current = self._current
        if current is None:
            return
        event = parse_progress(line)
        if event is not None and event.total is not None:
            current.done, current.total_bytes = event.done, event.total
            return
        if event is not None:
            current.download = f"downloading {event.label}" + (
                f" ({event.size})" if event.size else ""
            )
        elif line.strip():  # any other line: that download is over
            current.download = ""
        current.done = current.total_bytes = None
        if line.strip():
            current.last_line = clean(redact_url_credentials(line.strip()))
        if self.verbose:
            self.say("    " + redact_url_credentials(line), style="dim")

    def step_finished(self, result: StepResult) -> None:
        self._stop_live()
        current = self._current
        self._current = None
        if current is None:
            return
        ok = result.status == "ok"
        how = f"exit code {result.returncode}" if result.returncode is not None else result.reason
        what = f"done in {result.duration_s:.1f} s" if ok else f"{result.status} ({how})"
        self.say(
            f"{'✓' if ok else '✗'} [{current.index}/{current.total}] {current.description}: {what}",
            style="green" if ok else "red",
        )

    def close(self) -> None:
        self._stop_live()

    def _stop_live(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def _render(self) -> RenderableType:
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        current = self._current
        if current is None or self._spinner is None:
            return Text("")
        elapsed = time.monotonic() - current.started
        self._spinner.update(
            text=Text(
                f"[{current.index}/{current.total}] {current.description}  "
                f"{int(elapsed) // 60}:{int(elapsed) % 60:02d}"
            )
        )
        parts: list[RenderableType] = [self._spinner]
        detail = current.download or current.last_line
        if detail:
            parts.append(Text("   " + detail, style="dim", overflow="ellipsis", no_wrap=True))
        if current.total_bytes:
            row = Table.grid(padding=(0, 1))
            row.add_row(
                Text("  "),
                ProgressBar(total=current.total_bytes, completed=current.done or 0, width=40),
                Text(f"{(current.done or 0) / 1e6:.1f}/{current.total_bytes / 1e6:.1f} MB"),
            )
            parts.append(row)
        return Group(*parts)


# --- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class InstallResult:
    command: str  # "install" | "restore"
    status: str  # installed | already-satisfied | restored | nothing-to-do | refused | declined
    #              | failed | interrupted | verify-failed
    exit_code: int
    message: str
    log_path: Path
    target_python: Optional[str] = None
    restore_file: Optional[Path] = None
    steps: tuple[StepResult, ...] = ()
    verify_ok: Optional[bool] = None
    verify_message: str = ""
    hint: str = ""
    created_venv: Optional[str] = None

    @property
    def failed_step(self) -> Optional[StepResult]:
        return next((s for s in self.steps if s.status in ("failed", "interrupted")), None)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["log_path"] = str(self.log_path)
        data["restore_file"] = str(self.restore_file) if self.restore_file else None
        return data


def restore_command(path: Path) -> str:
    return f"torchsetup restore {path}"


def render_report(console: Console, result: InstallResult) -> None:
    """The closing lines: what happened, which step, its last lines, the log, how to get back."""

    def say(text: str, style: Optional[str] = None) -> None:
        text = clean(redact_url_credentials(text))
        console.print(text, style=style, markup=False, highlight=False, soft_wrap=True)

    ok = result.exit_code == EXIT_OK
    say(("✓ " if ok else "✗ ") + result.message, style="bold green" if ok else "bold red")
    if result.hint:
        say(f"  hint: {result.hint}")
    failed = result.failed_step
    if failed is not None:
        index = result.steps.index(failed) + 1
        say(
            f"  step {index}/{len(result.steps)} '{failed.id}' ({failed.description}): {failed.reason}"
        )
        if failed.tail:
            say("  last lines of its output:")
            for line in failed.tail:
                say(f"    {line}", style="dim")
    if result.verify_message:
        say(f"  verify: {result.verify_message}")
    say(f"  log: {result.log_path}")
    if result.restore_file is not None and not ok:
        say(f"  to put the environment back as it was: {restore_command(result.restore_file)}")
    if result.created_venv and not ok:
        say(f"  this run created {result.created_venv}; removing that folder also undoes it")
