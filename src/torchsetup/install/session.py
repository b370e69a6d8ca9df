"""The executor: runs a plan's steps into a target, with a log, a live view, a restore file and
a final verify. ``run_install`` is the entry point the install command calls; ``run_restore``
puts back what a restore file recorded.

Order of an install (nothing changes before step 5):

The plan is complete (:func:`torchsetup.resolve.complete.plan_install`): it holds every step,
and the executor runs exactly ``plan.steps``, adding, dropping and rewriting nothing.

1. the plan is checked (no ``--extra-index-url``, steps address its interpreter);
2. the target is read again with the one target probe (:mod:`torchsetup.install.targets`) and
   compared with the facts the plan was made from (``plan.target``): anything changed (torch,
   its build, the Python version, the prefix) is a refusal (exit 2) naming it. A plan that
   found the target already satisfied has no steps: nothing runs, verify does;
3. the preflight checks the index (or folder), the disk and the programs
   (:mod:`torchsetup.install.preflight`);
4. the plan is shown and confirmed (``--yes`` skips; no terminal and no ``--yes``: refused);
5. a planned venv is created; the target's package set is written to a restore file;
6. the steps run one by one through the injected :class:`Runner` (``proc.stream`` for real),
   every line into the log (credentials redacted) and the live view; the first failure stops;
7. the quick verify runs in the target unless ``no_verify``; its result decides the exit code.

Exit codes: 0 installed and verified (or already satisfied); 1 verification failed or the user
declined; 2 refused; 3 a step failed; 130 interrupted. The log path is printed whatever happened.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable, Optional
from urllib.parse import unquote

from packaging.version import InvalidVersion, Version

from torchsetup import __version__, net, proc
from torchsetup.detect.model import TargetPython
from torchsetup.errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PROBLEMS,
    EXIT_STEP_FAILED,
    TorchSetupError,
    UsageError,
)
from torchsetup.install.preflight import (
    PreflightReport,
    Refused,
    check_programs,
    existing_ancestor,
    install_source,
    run_preflight,
)
from torchsetup.install.restore import (
    load_record,
    new_file,
    record_from_python,
    restore_changes,
    restore_source,
    restore_steps,
    write_record,
)
from torchsetup.install.targets import (
    find_uv,
    probe,
    refuse_unmanaged,
    resolve_program,
    version_problem,
)
from torchsetup.paths import logs_dir
from torchsetup.proc import ProcRunner, Runner
from torchsetup.redact import redact_argv, redact_url_credentials
from torchsetup.resolve.complete import is_install, pip_subcommand, step_python, target_changes
from torchsetup.resolve.plan import CREATE_VENV, Plan, Step, TargetFacts

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

Verify = Callable[[str], tuple[bool, str]]  # target python -> (ok, one line)
Confirm = Callable[[str], Optional[bool]]  # question -> yes / no / None (cannot ask)

# Every step runs with these: output arrives line by line, and pip does not spend a request
# on its self-version check.
STEP_ENV = {"PYTHONUNBUFFERED": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
PIP_RAW_PROGRESS = Version("24.1")  # first pip with --progress-bar=raw ("Progress N of M")

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


def _result_of(step: Step, r: proc.ProcResult) -> StepResult:
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
            current.last_line = redact_url_credentials(line.strip())
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


# --- running steps ---------------------------------------------------------------------------


def run_step(
    step: Step,
    index: int,
    total: int,
    *,
    runner: Runner,
    env: Mapping[str, str],
    extra_env: Mapping[str, str],
    log: InstallLog,
    view: View,
) -> StepResult:
    additions = {**STEP_ENV, **extra_env, **step.env_dict}
    log.step_started(index, total, step, additions)
    view.step_started(index, total, step)

    def on_line(line: str) -> None:
        log.output(line)
        view.output(line)

    r = runner.stream(
        step.argv, timeout=step.timeout_s, on_line=on_line, env={**env, **additions}, cwd=step.cwd
    )
    result = _result_of(step, r)
    log.step_finished(index, total, result)
    view.step_finished(result)
    return result


def skip_step(
    step: Step, index: int, total: int, reason: str, *, log: InstallLog, view: View
) -> StepResult:
    result = StepResult.of(step, "skipped", reason)
    log.write(f"== [{index}/{total}] {step.id}: skipped ({reason})")
    view.say(f"· [{index}/{total}] {step.description}: skipped, {reason}", style="dim")
    return result


# --- checking the plan ----------------------------------------------------------------------


def check_plan(plan: Plan) -> Plan:
    if not plan.steps and not plan.already_satisfied:
        raise UsageError("the plan has no steps")
    for step in plan.steps:
        if not step.argv:
            raise UsageError(f"step '{step.id}' has no command")
        if any(a == "--extra-index-url" or a.startswith("--extra-index-url=") for a in step.argv):
            raise UsageError(
                f"step '{step.id}' uses --extra-index-url: torch packages must come from one index "
                "(--index-url), or a same-named package elsewhere can win (the torchtriton attack)"
            )
    if plan.target is None:
        raise UsageError(
            "the plan names no target facts: it was not completed for its target",
            hint="plan it with torchsetup.resolve.complete.plan_install (or complete_plan)",
        )
    return plan


def _check_addresses(steps: Sequence[Step], python: str) -> None:
    for step in steps:
        addressed = step_python(step)
        if addressed is not None and Path(addressed).absolute() != Path(python).absolute():
            raise UsageError(
                f"step '{step.id}' installs into {addressed}, but the target is {python}",
                hint="the plan was made for another interpreter: resolve it again for this target",
            )


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


# --- the install -----------------------------------------------------------------------------


def terminal_confirm(console: Console) -> Confirm:
    def ask(question: str) -> Optional[bool]:
        if not (sys.stdin.isatty() and console.is_terminal):
            return None
        from rich.prompt import Confirm as RichConfirm

        try:
            return RichConfirm.ask(question, console=console, default=True)
        except EOFError:
            return None

    return ask


def _default_console() -> Console:
    from rich.console import Console

    return Console(highlight=False)


@dataclass
class _Deps:
    runner: Runner
    env: dict[str, str]
    confirm: Confirm
    get: Callable[..., net.Response]
    head: Callable[..., net.Response]
    free_disk: Optional[Callable[[str], int]]
    check_programs: Callable[..., list[str]] = check_programs


def show_plan(view: View, plan: Plan, report: PreflightReport) -> None:
    say = view.say
    created = any(st.id == CREATE_VENV for st in plan.steps)
    say(
        f"Plan: torch {plan.torch} ({plan.variant}) with {plan.method} into {plan.python}"
        + (" (to be created)" if created else ""),
        style="bold",
    )
    for check in report.checks:
        if check.file is not None:
            size = f", {check.file.size / 1e6:.0f} MB" if check.file.size else ""
            say(f"  {check.name} {check.version}: {check.file.filename}{size}")
    for need in report.needs:
        say(f"  disk: {need.label} {need.path} needs about {need.bytes / 1e6:.0f} MB")
    for note in (*report.notes, *plan.warnings):
        say(f"  note: {note}", style="yellow")
    for i, step in enumerate(plan.steps, 1):
        say(f"  {i}. {step.description}")
        say("       $ " + " ".join(redact_argv(step.argv)), style="dim")


class _Session:
    """One install (or restore) run: owns the log, the view and the outcome."""

    def __init__(self, command: str, deps: _Deps, console: Console, verbose: bool) -> None:
        self.command = command
        self.deps = deps
        self.console = console
        self.log = InstallLog.create(command)
        self.view = View(console, verbose=verbose)
        self.results: list[StepResult] = []
        self.total = 0
        self.target: Optional[str] = None
        self.restore_file: Optional[Path] = None
        self.created_venv: Optional[str] = None
        self.current: Optional[Step] = None

    def result(self, status: str, exit_code: int, message: str, **extra: Any) -> InstallResult:
        return InstallResult(
            self.command,
            status,
            exit_code,
            message,
            self.log.path,
            self.target,
            self.restore_file,
            tuple(self.results),
            created_venv=self.created_venv,
            **extra,
        )

    def finish(self, run: Callable[[], InstallResult]) -> InstallResult:
        """Run ``run``; refusals and Ctrl-C become results; the log is closed and the report shown."""
        try:
            outcome = run()
        except TorchSetupError as exc:
            outcome = self.result("refused", exc.exit_code, exc.message, hint=exc.hint or "")
        except KeyboardInterrupt:
            outcome = self.result(
                "interrupted", EXIT_INTERRUPTED, "interrupted: nothing more was run"
            )
        except (
            BaseException
        ):  # a bug: keep its traceback in the log, say where the log is, re-raise
            self.log.write("== internal error\n" + traceback.format_exc())
            self.log.close()
            self.view.say(f"log: {self.log.path}")
            raise
        finally:
            self.view.close()
        self.log.write(
            f"== result: {outcome.status} (exit code {outcome.exit_code}): {outcome.message}"
        )
        if outcome.hint:
            self.log.write(f"   hint: {outcome.hint}")
        self.log.close()
        render_report(self.console, outcome)
        return outcome

    def confirm(self, yes: bool, what: str) -> bool:
        if yes:
            return True
        answer = self.deps.confirm(f"{what}?")
        if answer is None:
            raise UsageError(
                f"refusing to {what.lower()} without confirmation: there is no terminal to ask on",
                hint="review the plan above and rerun with --yes",
            )
        return answer

    def run_steps(
        self, steps: Sequence[Step], extra_env: Callable[[Step], Mapping[str, str]]
    ) -> Optional[StepResult]:
        """Run ``steps`` in order; returns the first that did not succeed (None when all did)."""
        for step in steps:
            index = len(self.results) + 1
            result = run_step(
                step,
                index,
                self.total,
                runner=self.deps.runner,
                env=self.deps.env,
                extra_env=extra_env(step),
                log=self.log,
                view=self.view,
            )
            self.results.append(result)
            if result.status != "ok":
                rest = steps[steps.index(step) + 1 :]
                self.results.extend(StepResult.of(s, "not-run") for s in rest)
                return result
        return None

    def failure(self, failed: StepResult) -> InstallResult:
        if failed.status == "interrupted":
            return self.result(
                "interrupted",
                EXIT_INTERRUPTED,
                f"interrupted during '{failed.id}'; its processes were stopped",
            )
        return self.result(
            "failed", EXIT_STEP_FAILED, f"{self.command} failed at step '{failed.id}'"
        )


def _pip_env(py: TargetPython, view: View) -> Callable[[Step], Mapping[str, str]]:
    """Per-step additions: pip's machine-readable progress when a live view can show it."""
    try:
        raw_ok = py.pip_version is not None and Version(py.pip_version) >= PIP_RAW_PROGRESS
    except InvalidVersion:
        raw_ok = False

    def additions(step: Step) -> Mapping[str, str]:
        if (
            view.interactive
            and raw_ok
            and pip_subcommand(step.argv) is not None
            and Path(step.argv[0]).stem != "uv"
        ):
            return {"PIP_PROGRESS_BAR": "raw"}
        return {}

    return additions


class _Install:
    """Runs a complete plan (:mod:`torchsetup.resolve.complete`) verbatim: ``plan.steps``, in
    order, nothing added, dropped or rewritten. Before anything runs, the target is read again
    and compared with the facts the plan was made from (:func:`_reread`)."""

    def __init__(self, session: _Session, plan: Plan, *, force: bool) -> None:
        self.s = session
        self.plan = plan
        self.force = force

    def run(self, *, yes: bool, verify: Optional[Verify]) -> InstallResult:
        s = self.s
        plan = check_plan(self.plan)
        facts = plan.target
        assert facts is not None
        s.target = facts.python
        create = next((st for st in plan.steps if st.id == CREATE_VENV), None)
        _check_addresses(plan.steps, facts.python)
        py = self._reread(plan, facts, create)
        s.log.write(f"target: {facts.python}{', to be created' if create else ''}")
        if plan.already_satisfied:
            return self._verified(
                verify,
                "already-satisfied",
                f"already satisfied: {plan.already_satisfied} in {facts.python}; nothing was changed",
            )
        report = self._preflight(plan, py, create)
        show_plan(s.view, plan, report)
        if not s.confirm(yes, "Install"):
            return s.result("declined", EXIT_PROBLEMS, "not confirmed: nothing was changed")
        s.total = len(plan.steps)
        steps = list(plan.steps)
        state = py
        if create is not None:
            steps.remove(create)
            failed = s.run_steps([create], lambda _: {})
            s.created_venv = create.argv[-1]
            if failed is not None:
                s.results.extend(StepResult.of(st, "not-run") for st in steps)
                return s.failure(failed)
            state = self._probe_new_venv(plan, facts.python)
        source = install_source(
            next((st.argv for st in steps if is_install(st)), ()), plan.method, s.deps.env
        )
        s.restore_file = write_record(
            record_from_python(
                state,
                method=plan.method,
                source=source,
                plan=f"torch {plan.torch} ({plan.variant})",
                created_venv=create is not None,
            )
        )
        s.log.write(f"== restore file: {s.restore_file}")
        failed = s.run_steps(steps, _pip_env(state, s.view))
        if failed is not None:
            return s.failure(failed)
        return self._verified(
            verify, "installed", f"installed torch {plan.torch} ({plan.variant}) into {s.target}"
        )

    def _reread(self, plan: Plan, facts: TargetFacts, create: Optional[Step]) -> TargetPython:
        """The target now (for a venv to create: its base interpreter); refused (exit 2) when
        it is not what the plan was made from."""
        deps = self.s.deps
        if create is not None:
            folder = Path(create.argv[-1])
            if Path(facts.python).exists():
                raise UsageError(
                    f"the target changed since the plan was made: {folder} now exists",
                    hint="plan again (rerun the install command) to install into it",
                )
            if folder.exists() and any(folder.iterdir()):
                raise UsageError(
                    f"--venv {folder} exists and is not a virtual environment (no {facts.python})"
                )
            base = facts.base_python or create.argv[0]
            py = probe(base, runner=deps.runner, env=deps.env)
            now = TargetFacts(
                python=facts.python, exists=False, version=py.version, base_python=base
            )
        else:
            py = probe(facts.python, runner=deps.runner, env=deps.env)
            refuse_unmanaged(py, force=self.force)
            from torchsetup.resolve.complete import target_facts

            now = target_facts(py)
        changes = target_changes(facts, now)
        if changes:
            raise UsageError(
                f"the target {facts.python} changed since the plan was made: " + "; ".join(changes),
                hint="plan again: rerun the install command (add --dry-run to see the new plan)",
            )
        problem = version_problem(py, plan)
        if problem:
            raise UsageError(problem)
        return py

    def _preflight(self, plan: Plan, py: TargetPython, create: Optional[Step]) -> PreflightReport:
        """Programs, index and disk checks; refused when something is missing."""
        deps = self.s.deps
        created = [create.argv[-1]] if create else []
        problems = deps.check_programs(plan.steps, deps.env, created=created)
        install = next((st for st in plan.steps if is_install(st)), None)
        report = PreflightReport(
            notes=("index and disk checks skipped: no pip or uv install step",)
        )
        if install is not None and plan.method in ("pip", "uv"):
            site = created[0] if created else (py.purelib or plan.python)
            extra = {"free": deps.free_disk} if deps.free_disk else {}
            report = run_preflight(
                plan,
                py,
                install.argv,
                site_dir=existing_ancestor(site),
                env=deps.env,
                get=deps.get,
                head=deps.head,
                **extra,
            )
        for line in report.notes:
            self.s.log.write(f"preflight note: {line}")
        if problems or report.problems:
            raise Refused([*report.problems, *problems])
        return report

    def _probe_new_venv(self, plan: Plan, python: str) -> TargetPython:
        py = probe(python, runner=self.s.deps.runner, env=self.s.deps.env)
        problem = version_problem(py, plan)
        if problem:
            raise UsageError(f"the new virtual environment does not match the plan: {problem}")
        return py

    def _verified(self, verify: Optional[Verify], status: str, message: str) -> InstallResult:
        s = self.s
        if verify is None:
            return s.result(status, EXIT_OK, message + "; verify skipped (--no-verify)")
        assert s.target is not None
        s.view.say(f"Verifying torch in {s.target} ...")
        ok, detail = verify(s.target)
        s.log.write(f"== verify: {'ok' if ok else 'FAILED'}: {detail}")
        if not ok:
            return s.result(
                "verify-failed",
                EXIT_PROBLEMS,
                message + ", but verification FAILED",
                verify_ok=False,
                verify_message=detail,
            )
        return s.result(
            status, EXIT_OK, message + "; verified", verify_ok=True, verify_message=detail
        )


def _deps(
    *,
    runner: Optional[Runner],
    environ: Optional[Mapping[str, str]],
    confirm: Optional[Confirm],
    console: Console,
    get: Optional[Callable[..., net.Response]],
    head: Optional[Callable[..., net.Response]],
    free_disk: Optional[Callable[[str], int]],
    programs: Optional[Callable[..., list[str]]] = None,
) -> _Deps:
    return _Deps(
        runner or ProcRunner(),
        dict(os.environ if environ is None else environ),
        confirm or terminal_confirm(console),
        get or net.get,
        head or net.head,
        free_disk,
        programs or check_programs,
    )


def run_install(
    plan: Plan,
    *,
    verify: Optional[Verify],
    force: bool = False,
    yes: bool = False,
    verbose: bool = False,
    no_verify: bool = False,
    console: Optional[Console] = None,
    runner: Optional[Runner] = None,
    confirm: Optional[Confirm] = None,
    environ: Optional[Mapping[str, str]] = None,
    get: Optional[Callable[..., net.Response]] = None,
    head: Optional[Callable[..., net.Response]] = None,
    free_disk: Optional[Callable[[str], int]] = None,
    programs: Optional[Callable[..., list[str]]] = None,
) -> InstallResult:
    """Run the complete ``plan`` (see the module doc); never raises for a failed install.

    ``verify`` checks the target afterwards (the install command passes ``torchsetup verify
    --quick``; None or ``no_verify`` skips it). ``force``: a system or externally managed
    Python is not refused. The keyword arguments after ``console`` are the side effects,
    injected for tests: the runner (subprocesses), the confirmation prompt, the environment
    the steps run with (default ``os.environ``), HTTP, free-disk and program lookups.
    """
    console = console or _default_console()
    deps = _deps(
        runner=runner,
        environ=environ,
        confirm=confirm,
        console=console,
        get=get,
        head=head,
        free_disk=free_disk,
        programs=programs,
    )
    session = _Session("install", deps, console, verbose)
    session.log.header(f"install: torch {plan.torch} ({plan.variant}) with {plan.method}")
    install = _Install(session, plan, force=force)
    return session.finish(lambda: install.run(yes=yes, verify=None if no_verify else verify))


# --- the restore -----------------------------------------------------------------------------


def run_restore(
    path: str,
    *,
    yes: bool = False,
    verbose: bool = False,
    index_url: Optional[str] = None,
    find_links: Optional[str] = None,
    console: Optional[Console] = None,
    runner: Optional[Runner] = None,
    confirm: Optional[Confirm] = None,
    environ: Optional[Mapping[str, str]] = None,
) -> InstallResult:
    """Put back the package set a restore file recorded (uninstall added, reinstall changed)."""
    console = console or _default_console()
    deps = _deps(
        runner=runner,
        environ=environ,
        confirm=confirm,
        console=console,
        get=None,
        head=None,
        free_disk=None,
    )
    session = _Session("restore", deps, console, verbose)
    session.log.header(f"restore {path}")

    def run() -> InstallResult:
        record = load_record(path)
        session.target = record.python
        state = probe(record.python, runner=deps.runner, env=deps.env)
        changes = restore_changes(record, state)
        notes = (
            [
                f"{', '.join(changes.conda_owned)} changed but were installed by conda: restore them with conda"
            ]
            if changes.conda_owned
            else []
        )
        for note in notes:
            session.view.say(f"note: {note}", style="yellow")
        if changes.empty:
            return session.result(
                "nothing-to-do",
                EXIT_OK,
                f"{record.python} already holds the packages recorded in {path}",
            )
        source = restore_source(record, index_url=index_url, find_links=find_links, changes=changes)
        uv = find_uv(deps.env) if record.method == "uv" or state.pip_version is None else None
        steps = [
            dataclasses.replace(st, argv=resolve_program(st.argv, deps.env))
            for st in restore_steps(record, changes, uv=uv, source=source)
        ]
        session.view.say(
            f"Restore {record.python} to its packages of {record.created} (before {record.plan}):",
            style="bold",
        )
        for i, step in enumerate(steps, 1):
            session.view.say(f"  {i}. {step.description}")
            session.view.say("       $ " + " ".join(redact_argv(step.argv)), style="dim")
        if not session.confirm(yes, "Restore"):
            return session.result("declined", EXIT_PROBLEMS, "not confirmed: nothing was changed")
        session.total = len(steps)
        failed = session.run_steps(steps, _pip_env(state, session.view))
        if failed is not None:
            return session.failure(failed)
        return session.result(
            "restored", EXIT_OK, f"restored {record.python} to the packages recorded in {path}"
        )

    return session.finish(run)


__all__ = [
    "InstallResult",
    "StepResult",
    "run_install",
    "run_restore",
]
