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

Step results and the log live in :mod:`torchsetup.install.log`, the live view and the closing
report in :mod:`torchsetup.install.view`; the side effects come in one :class:`InstallDeps`.

Exit codes: 0 installed and verified (or already satisfied); 1 verification failed or the user
declined; 2 refused; 3 a step failed; 130 interrupted. The log path is printed whatever happened.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

from packaging.version import InvalidVersion, Version

from torchsetup import net
from torchsetup.detect.model import TargetPython
from torchsetup.errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PROBLEMS,
    EXIT_STEP_FAILED,
    TorchSetupError,
    UsageError,
)
from torchsetup.install.log import (
    InstallLog,
    ProgressEvent,
    StepResult,
    parse_progress,
    result_of,
)
from torchsetup.install.one_at_a_time import locked
from torchsetup.install.preflight import (
    PreflightReport,
    Refused,
    check_programs,
    existing_ancestor,
    install_source,
    run_preflight,
)
from torchsetup.install.restore import (
    RestoreRecord,
    leftover_dirs,
    load_record,
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
from torchsetup.install.view import InstallResult, View, render_report, restore_command
from torchsetup.proc import ProcRunner, Runner
from torchsetup.redact import redact_argv
from torchsetup.resolve.complete import (
    is_install,
    pip_subcommand,
    step_python,
    target_changes,
    target_facts,
)
from torchsetup.resolve.plan import CREATE_VENV, Plan, Step, TargetFacts

if TYPE_CHECKING:
    from rich.console import Console

Verify = Callable[[str], tuple[bool, str]]  # target python -> (ok, one line)
Confirm = Callable[[str], Optional[bool]]  # question -> yes / no / None (cannot ask)

# Every step runs with these: output arrives line by line, and pip does not spend a request
# on its self-version check.
STEP_ENV = {"PYTHONUNBUFFERED": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
PIP_RAW_PROGRESS = Version("24.1")  # first pip with --progress-bar=raw ("Progress N of M")

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
    result = result_of(step, r)
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
    from torchsetup.term import rich_console

    return rich_console(highlight=False)


@dataclass
class InstallDeps:
    """The side effects of an install or a restore, injected as one object (tests pass fakes):
    subprocesses, the environment the steps run with, the confirmation prompt, HTTP, free disk
    and the check that each step's program exists."""

    runner: Runner = dataclasses.field(default_factory=ProcRunner)
    environ: Optional[Mapping[str, str]] = None  # default: os.environ
    confirm: Optional[Confirm] = None  # default: ask on the terminal
    get: Callable[..., net.Response] = net.get
    head: Callable[..., net.Response] = net.head
    free_disk: Optional[Callable[[str], int]] = None  # default: shutil.disk_usage
    programs: Callable[..., list[str]] = check_programs

    @property
    def env(self) -> dict[str, str]:
        return dict(os.environ if self.environ is None else self.environ)


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

    def __init__(self, command: str, deps: InstallDeps, console: Console, verbose: bool) -> None:
        self.command = command
        self.deps = dataclasses.replace(
            deps, environ=deps.env, confirm=deps.confirm or terminal_confirm(console)
        )
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
        except KeyboardInterrupt:  # also SIGTERM and SIGHUP (proc.Terminated)
            from torchsetup.proc import stop_all

            stop_all()
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
        assert self.deps.confirm is not None
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
        problems = deps.programs(plan.steps, deps.env, created=created)
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


def run_install(
    plan: Plan,
    *,
    verify: Optional[Verify],
    force: bool = False,
    yes: bool = False,
    verbose: bool = False,
    no_verify: bool = False,
    console: Optional[Console] = None,
    deps: Optional[InstallDeps] = None,
) -> InstallResult:
    """Run the complete ``plan`` (see the module doc); never raises for a failed install.

    ``verify`` checks the target afterwards (the install command passes ``torchsetup verify
    --quick``; None or ``no_verify`` skips it). ``force``: a system or externally managed
    Python is not refused. ``deps``: the side effects (:class:`InstallDeps`; tests inject fakes).
    """
    console = console or _default_console()
    deps = deps or InstallDeps()
    session = _Session("install", deps, console, verbose)
    session.log.header(f"install: torch {plan.torch} ({plan.variant}) with {plan.method}")
    install = _Install(session, plan, force=force)
    target = plan.target.python if plan.target is not None else plan.python
    return session.finish(  # one run per target at a time (install/one_at_a_time.py)
        lambda: locked(target, lambda: install.run(yes=yes, verify=None if no_verify else verify))
    )


# --- the restore -----------------------------------------------------------------------------


def run_restore(
    path: str,
    *,
    yes: bool = False,
    verbose: bool = False,
    index_url: Optional[str] = None,
    find_links: Optional[str] = None,
    console: Optional[Console] = None,
    deps: Optional[InstallDeps] = None,
) -> InstallResult:
    """Put back the package set a restore file recorded (uninstall added, reinstall changed)."""
    console = console or _default_console()
    deps = deps or InstallDeps()
    session = _Session("restore", deps, console, verbose)
    session.log.header(f"restore {path}")

    def run() -> InstallResult:
        record = load_record(path)  # validated: nothing in it can become an option
        session.target = record.python
        return locked(record.python, lambda: run_record(record))

    def run_record(record: RestoreRecord) -> InstallResult:
        if not yes:  # the file is untrusted: its interpreter runs only with consent
            session.view.say(f"{path} names the interpreter {record.python}.")
            if not session.confirm(False, f"Run {record.python} to read its packages"):
                return session.result("declined", EXIT_PROBLEMS, "not confirmed: nothing was run")
        state = probe(record.python, runner=deps.runner, env=deps.env)
        changes = restore_changes(record, state)
        leftovers = leftover_dirs(
            state.purelib, [p.name for p in record.packages] + ["torch", *changes.remove]
        )
        notes = (
            [
                f"{', '.join(changes.conda_owned)} changed but were installed by conda: restore them with conda"
            ]
            if changes.conda_owned
            else []
        )
        for note in notes:
            session.view.say(f"note: {note}", style="yellow")
        if changes.empty and not leftovers:
            return session.result(
                "nothing-to-do",
                EXIT_OK,
                f"{record.python} already holds the packages recorded in {path}",
            )
        source = restore_source(record, index_url=index_url, find_links=find_links, changes=changes)
        uv = find_uv(deps.env) if record.method == "uv" or state.pip_version is None else None
        steps = [
            dataclasses.replace(st, argv=resolve_program(st.argv, deps.env))
            for st in restore_steps(record, changes, uv=uv, source=source, leftovers=leftovers)
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


# --- a plan's steps as given (doctor --fix) --------------------------------------------------


def run_steps_plan(
    plan: Plan,
    *,
    what: str,
    yes: bool = False,
    verbose: bool = False,
    console: Optional[Console] = None,
    runner: Optional[Runner] = None,
    confirm: Optional[Confirm] = None,
    environ: Optional[Mapping[str, str]] = None,
) -> InstallResult:
    """Run ``plan.steps`` verbatim into ``plan.python`` (an existing interpreter) through the
    install session: shown, confirmed, the target's package set written to a restore file
    first, every step logged (credentials redacted), stopped at the first failure. No
    re-planning, preflight or verify: the caller judges the result (``doctor --fix`` runs the
    doctor again). ``what`` names the run in the log, the restore file and the messages."""
    console = console or _default_console()
    deps = InstallDeps(runner=runner or ProcRunner(), environ=environ, confirm=confirm)
    session = _Session("fix", deps, console, verbose)
    session.log.header(f"{what}: {len(plan.steps)} step(s) into {plan.python}")

    def run() -> InstallResult:
        steps = list(check_plan(plan).steps)
        _check_addresses(steps, plan.python)
        session.target = plan.python
        state = probe(plan.python, runner=deps.runner, env=deps.env)
        assert plan.target is not None  # check_plan
        changes = target_changes(plan.target, target_facts(state))
        if changes:
            raise UsageError(
                f"the target {plan.python} changed since the plan was made: " + "; ".join(changes),
                hint="run the command again to plan from what is there now",
            )
        session.view.say(f"{what}: {len(steps)} step(s) into {plan.python}", style="bold")
        for i, step in enumerate(steps, 1):
            session.view.say(f"  {i}. {step.description}")
            session.view.say("       $ " + " ".join(redact_argv(step.argv)), style="dim")
        if not session.confirm(yes, "Run them"):
            return session.result("declined", EXIT_PROBLEMS, "not confirmed: nothing was changed")
        session.total = len(steps)
        source = install_source(
            next((st.argv for st in steps if is_install(st)), ()), plan.method, deps.env
        )
        session.restore_file = write_record(
            record_from_python(
                state, method=plan.method, source=source, plan=what, created_venv=False
            )
        )
        session.log.write(f"== restore file: {session.restore_file}")
        failed = session.run_steps(steps, _pip_env(state, session.view))
        if failed is not None:
            return session.failure(failed)
        return session.result("done", EXIT_OK, f"{what}: {len(steps)} step(s) ran in {plan.python}")

    return session.finish(run)


__all__ = [
    "InstallDeps",
    "InstallLog",
    "InstallResult",
    "ProgressEvent",
    "StepResult",
    "View",
    "parse_progress",
    "render_report",
    "restore_command",
    "run_install",
    "run_restore",
    "run_steps_plan",
]
