"""The executor: runs a plan's steps into a target, with a log, a live view, a restore file and
a final verify. ``run_install`` is the entry point the install command calls; ``run_restore``
puts back what a restore file recorded.

Order of an install (nothing changes before step 5):

1. the plan is checked and the user's ``--index-url``/``--find-links`` applied to its steps;
2. the target is resolved and probed (:mod:`torchsetup.install.targets`); if it already holds exactly
   the planned builds, every step is skipped as "already satisfied" and nothing runs;
3. conflicting installs become explicit uninstall steps (:func:`conflict_steps`), and the
   preflight checks the index (or folder), the disk and the programs (:mod:`torchsetup.install.preflight`);
4. the plan is shown and confirmed (``--yes`` skips; no terminal and no ``--yes``: refused);
5. a new venv is created; the target's package set is written to a restore file;
6. the steps run one by one through the injected :class:`Runner` (``proc.stream`` for real),
   every line into the log (credentials redacted) and the live view; the first failure stops;
7. the quick verify runs in the target unless ``no_verify``; its result decides the exit code.

Exit codes: 0 installed and verified (or already satisfied); 1 verification failed or the user
declined; 2 refused; 3 a step failed; 130 interrupted. The log path is printed whatever happened.
"""

from __future__ import annotations

import dataclasses
import json
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
from torchsetup.detect.model import TargetPython, TorchBuild
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
    TargetState,
    check_programs,
    existing_ancestor,
    install_source,
    option_value,
    probe_target,
    run_preflight,
    version_matches,
)
from torchsetup.install.restore import (
    load_record,
    new_file,
    record_from_state,
    restore_changes,
    restore_source,
    restore_steps,
    write_record,
)
from torchsetup.install.targets import (
    CREATE_VENV,
    InstallTarget,
    ResolvedTarget,
    find_uv,
    resolve_program,
    resolve_target,
    version_problem,
)
from torchsetup.paths import logs_dir
from torchsetup.proc import ProcRunner, Runner
from torchsetup.redact import redact_argv, redact_url_credentials
from torchsetup.resolve.plan import Plan, Step

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


# --- plan adaptation (pure) ------------------------------------------------------------------


def pip_subcommand(argv: Sequence[str]) -> Optional[int]:
    """Index of the pip subcommand in ``argv`` (``python -m pip X``, ``uv pip X``, ``pip X``)."""
    for i in range(1, min(len(argv) - 1, 3)):
        if argv[i] == "-m" and argv[i + 1] == "pip" and i + 2 < len(argv):
            return i + 2
    if len(argv) > 2 and Path(argv[0]).stem == "uv" and argv[1] == "pip":
        return 2
    if len(argv) > 1 and Path(argv[0]).stem in ("pip", "pip3"):
        return 1
    return None


def is_install(step: Step) -> bool:
    i = pip_subcommand(step.argv)
    return i is not None and step.argv[i] == "install"


def step_python(step: Step) -> Optional[str]:
    """The interpreter a pip/uv step changes (None for other steps)."""
    if pip_subcommand(step.argv) is None:
        return None
    program = Path(step.argv[0]).stem
    if program == "uv":
        return option_value(step.argv, "--python", "-p")
    return None if program in ("pip", "pip3") else step.argv[0]


def check_plan(plan: Plan) -> Plan:
    if not plan.steps:
        raise UsageError("the plan has no steps")
    for step in plan.steps:
        if not step.argv:
            raise UsageError(f"step '{step.id}' has no command")
        if any(a == "--extra-index-url" or a.startswith("--extra-index-url=") for a in step.argv):
            raise UsageError(
                f"step '{step.id}' uses --extra-index-url: torch packages must come from one index "
                "(--index-url), or a same-named package elsewhere can win (the torchtriton attack)"
            )
    return plan


_SOURCE_OPTIONS = ("--index-url", "-i", "--find-links", "-f", "--default-index")


def _without_source(argv: Sequence[str]) -> tuple[str, ...]:
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in _SOURCE_OPTIONS:
            skip = True
        elif arg != "--no-index" and not arg.startswith(tuple(o + "=" for o in _SOURCE_OPTIONS)):
            out.append(arg)
    return tuple(out)


def apply_source(plan: Plan, *, index_url: Optional[str], find_links: Optional[str]) -> Plan:
    """Point the plan's install steps at ``--index-url URL`` or ``--find-links DIR --no-index``."""
    if not index_url and not find_links:
        return plan
    if index_url and find_links:
        raise UsageError("use either --index-url or --find-links, not both")
    if plan.method not in ("pip", "uv"):
        raise UsageError(
            f"--index-url and --find-links apply to the pip and uv methods, not {plan.method}"
        )
    extra = (
        ("--no-index", "--find-links", str(find_links))
        if find_links
        else ("--index-url", str(index_url))
    )
    steps = tuple(
        dataclasses.replace(s, argv=_without_source(s.argv) + extra) if is_install(s) else s
        for s in plan.steps
    )
    return dataclasses.replace(plan, steps=steps, index_url=None if find_links else index_url)


def _public(version: str) -> str:
    return version.partition("+")[0]


def _installed_variant(name: str, py: TargetPython) -> Optional[str]:
    """cpu / cu128 / rocm6.2 of an installed torch-family package; None when it does not say."""
    if name == "torch" and py.torch is not None:
        return py.torch.variant
    dist = py.dist(name)
    return dist.local if dist else None


_TORCH_PIN = re.compile(r"^torch\s*==\s*([^\s;,]+)")


def _conflicts(plan: Plan, py: TargetPython) -> list[tuple[str, str]]:
    """(distribution, why it must go) for installed packages the plan must replace."""
    out = []
    torch = py.dist("torch")
    variant = _installed_variant("torch", py)
    if (
        torch
        and variant
        and variant != plan.variant
        and _public(torch.version) == _public(plan.torch)
    ):
        out.append(
            (
                "torch",
                f"torch {torch.version} is a {variant} build, the plan installs {plan.variant}",
            )
        )
    if py.dist("torchtriton"):
        out.append(
            (
                "torchtriton",
                "torchtriton is the Dec-2022 dependency-confusion package; torch never needs it",
            )
        )
    for name in ("torchvision", "torchaudio"):
        dist = py.dist(name)
        if dist is None:
            continue
        planned: Optional[str] = getattr(plan, name)
        pin = next((m.group(1) for m in map(_TORCH_PIN.match, dist.requires) if m), None)
        if planned is None and pin and _public(pin) != _public(plan.torch):
            out.append(
                (
                    name,
                    f"{name} {dist.version} requires torch=={pin}, the plan installs torch {plan.torch}",
                )
            )
        elif (
            dist.local
            and dist.local != plan.variant
            and (planned is None or _public(planned) == dist.public_version)
        ):
            out.append(
                (
                    name,
                    f"{name} {dist.version} is a {dist.local} build, the plan installs {plan.variant}",
                )
            )
    return out


COMPANIONS = ("torchvision", "torchaudio")


def missing_companions(plan: Plan, report: PreflightReport) -> list[str]:
    """Default companions (not asked for with --with) that the index or folder does not carry."""
    if plan.detail("companions") != "default":
        return []
    return [
        c.name
        for c in report.checks
        if c.name in COMPANIONS and c.problem and c.problem.endswith(f"has no {c.name} at all")
    ]


def drop_companions(
    plan: Plan, steps: Sequence[Step], names: Sequence[str]
) -> tuple[Plan, list[Step]]:
    """The plan and steps without ``names`` (pins like ``torchvision==0.28.0`` removed)."""
    pins = tuple(f"{n}==" for n in names)

    def without(st: Step) -> Step:
        if not is_install(st):
            return st
        argv = tuple(a for a in st.argv if not a.startswith(pins))
        words = [w for w in st.description.split(" ") if not w.startswith(pins)]
        description = " ".join(words).replace(", from ", " from ").replace(",,", ",")
        return dataclasses.replace(st, argv=argv, description=description)

    new_plan = dataclasses.replace(
        plan,
        steps=tuple(without(st) for st in plan.steps),
        torchvision=None if "torchvision" in names else plan.torchvision,
        torchaudio=None if "torchaudio" in names else plan.torchaudio,
    )
    return new_plan, [without(st) for st in steps]


def conflict_steps(plan: Plan, installed: TargetPython) -> list[Step]:
    """Explicit uninstall steps for what the plan must replace but the installer would keep.

    pip and uv keep ``torch 2.13.0+cpu`` when asked for ``torch==2.13.0`` from a CUDA index
    (the version is satisfied), never remove ``torchtriton`` and keep a torchvision built for
    another torch. Packages conda installed are removed with conda.
    """
    conflicts = _conflicts(plan, installed)
    if not conflicts:
        return []
    why = "; ".join(reason for _, reason in conflicts)
    by_conda = [
        n for n, _ in conflicts if (d := installed.dist(n)) is not None and d.installer == "conda"
    ]
    by_pip = [n for n, _ in conflicts if n not in by_conda]
    steps = []
    if by_pip:
        argv = (
            ("uv", "pip", "uninstall", "--python", plan.python, *by_pip)
            if plan.method == "uv"
            else (plan.python, "-m", "pip", "uninstall", "-y", *by_pip)
        )
        steps.append(Step("uninstall-conflicts", f"Uninstall {', '.join(by_pip)} ({why})", argv))
    if by_conda:
        names = ["pytorch" if n == "torch" else n for n in by_conda]
        steps.append(
            Step(
                "uninstall-conflicts-conda",
                f"Remove {', '.join(names)} with conda ({why})",
                ("conda", "remove", "-y", "--prefix", installed.prefix or "", *names),
            )
        )
    return steps


def already_satisfied(plan: Plan, installed: TargetPython) -> bool:
    """True when the target holds exactly the planned builds (versions and variant) and nothing
    the plan would have to replace."""
    for name, version in plan.packages():
        dist = installed.dist(name)
        if dist is None or not version_matches(version, dist.version):
            return False
        variant = _installed_variant(name, installed)
        if variant is not None and variant != plan.variant:
            return False
    return not _conflicts(plan, installed)


def _break_system_packages(step: Step) -> Step:
    i = pip_subcommand(step.argv)
    if (
        i is None
        or step.argv[i] not in ("install", "uninstall")
        or "--break-system-packages" in step.argv
    ):
        return step
    return dataclasses.replace(
        step, argv=(*step.argv[: i + 1], "--break-system-packages", *step.argv[i + 1 :])
    )


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


def import_check(plan: Plan, runner: Runner, env: Mapping[str, str]) -> Verify:
    """The default verify of :func:`run_install`: import torch in the target, compare version and variant.
    (The install command passes the real quick verify, ``torchsetup verify --quick``, instead.)"""
    script = (
        "import json, torch; v = torch.version; print(json.dumps({'version': torch.__version__, "
        "'cuda': v.cuda, 'hip': getattr(v, 'hip', None), 'xpu': getattr(v, 'xpu', None)}))"
    )

    def verify(python: str) -> tuple[bool, str]:
        r = runner.run(proc.python_argv(python, "-c", script), timeout=300.0, env=env)
        if not r.ok:
            return False, f"import torch failed: {r.describe_failure()}"
        try:
            info = json.loads(r.stdout.strip().splitlines()[-1])
            build = TorchBuild(info["version"], info.get("cuda"), info.get("hip"), info.get("xpu"))
        except (ValueError, IndexError, KeyError, TypeError):
            return False, f"unreadable answer from the target: {r.stdout.strip()[-200:]!r}"
        if not version_matches(plan.torch, build.version) or build.variant != plan.variant:
            got = f"{build.version} ({build.variant})"
            return False, f"import torch gives {got}, the plan is {plan.torch} ({plan.variant})"
        return True, f"import torch gives {build.version}"

    return verify


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


def show_plan(
    view: View, plan: Plan, steps: Sequence[Step], resolved: ResolvedTarget, report: PreflightReport
) -> None:
    say = view.say
    say(
        f"Plan: torch {plan.torch} ({plan.variant}) with {plan.method} into {resolved.python} ({resolved.how})",
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
    for i, step in enumerate(steps, 1):
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
        except Exception:  # a bug: keep its traceback in the log, say where the log is, re-raise
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


def _pip_env(state: TargetState, view: View) -> Callable[[Step], Mapping[str, str]]:
    """Per-step additions: pip's machine-readable progress when a live view can show it."""
    try:
        raw_ok = (
            state.python.pip_version is not None
            and Version(state.python.pip_version) >= PIP_RAW_PROGRESS
        )
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
    def __init__(self, session: _Session, plan: Plan, target: InstallTarget) -> None:
        self.s = session
        self.plan = plan
        self.target = target

    def run(
        self,
        *,
        yes: bool,
        index_url: Optional[str],
        find_links: Optional[str],
        verify: Optional[Verify],
    ) -> InstallResult:
        s, deps = self.s, self.s.deps
        plan = apply_source(check_plan(self.plan), index_url=index_url, find_links=find_links)
        resolved = resolve_target(plan, self.target, runner=deps.runner, env=deps.env)
        s.target = resolved.python
        s.log.write(
            f"target: {resolved.python} ({resolved.how}{', to be created' if resolved.create else ''})"
        )
        plan_steps = [st for st in plan.steps if st.id != CREATE_VENV]
        _check_addresses(plan_steps, resolved.python)
        if resolved.exists and already_satisfied(plan, resolved.state.python):
            return self._satisfied(plan, plan_steps, resolved, verify)
        steps = self._steps(plan, plan_steps, resolved)
        report = self._preflight(plan, steps, resolved, final=False)
        missing = missing_companions(plan, report)
        if missing:
            plan, steps = drop_companions(plan, steps, missing)
            if resolved.exists and already_satisfied(plan, resolved.state.python):
                kept = [st for st in plan.steps if st.id != CREATE_VENV]
                return self._satisfied(plan, kept, resolved, verify)
            report = self._preflight(plan, steps, resolved)
            note = (
                f"the index has no {' or '.join(missing)}: installing without "
                f"(--with {','.join(missing)} makes it required)"
            )
            report = dataclasses.replace(report, notes=(*report.notes, note))
        show_plan(s.view, plan, steps, resolved, report)
        if not s.confirm(yes, "Install"):
            return s.result("declined", EXIT_PROBLEMS, "not confirmed: nothing was changed")
        s.total = len(steps)
        state = resolved.state
        if resolved.create is not None:
            failed = s.run_steps([resolved.create], lambda _: {})
            s.created_venv = resolved.create.argv[-1]
            if failed is not None:
                return s.failure(failed)
            state = self._probe_new_venv(plan, resolved.python)
            steps = steps[1:]
        source = install_source(
            next((st.argv for st in steps if is_install(st)), ()), plan.method, deps.env
        )
        s.restore_file = write_record(
            record_from_state(
                state,
                method=plan.method,
                source=source,
                plan=f"torch {plan.torch} ({plan.variant})",
                created_venv=resolved.create is not None,
            )
        )
        s.log.write(f"== restore file: {s.restore_file}")
        failed = s.run_steps(steps, _pip_env(state, s.view))
        if failed is not None:
            return s.failure(failed)
        return self._verified(
            verify, "installed", f"installed torch {plan.torch} ({plan.variant}) into {s.target}"
        )

    def _steps(self, plan: Plan, plan_steps: list[Step], resolved: ResolvedTarget) -> list[Step]:
        steps = list(plan_steps)
        if resolved.exists and not any(st.id.startswith("uninstall-conflicts") for st in steps):
            first_change = next((i for i, st in enumerate(steps) if st.changes_target), len(steps))
            steps[first_change:first_change] = conflict_steps(plan, resolved.state.python)
        if resolved.create is not None:
            steps.insert(0, resolved.create)
        if self.target.force and resolved.state.python.externally_managed:
            steps = [_break_system_packages(st) for st in steps]
        return [
            dataclasses.replace(st, argv=resolve_program(st.argv, self.s.deps.env)) for st in steps
        ]

    def _preflight(
        self, plan: Plan, steps: Sequence[Step], resolved: ResolvedTarget, *, final: bool = True
    ) -> PreflightReport:
        """Programs, index and disk checks; refused when something is missing (``final``) — or,
        on the first pass, only when what is missing is more than a default companion."""
        deps = self.s.deps
        created = [resolved.create.argv[-1]] if resolved.create else []
        problems = check_programs(steps, deps.env, created=created)
        install = next((st for st in steps if is_install(st)), None)
        report = PreflightReport(
            notes=("index and disk checks skipped: no pip or uv install step",)
        )
        if install is not None and plan.method in ("pip", "uv"):
            site = created[0] if created else (resolved.state.python.purelib or resolved.python)
            extra = {"free": deps.free_disk} if deps.free_disk else {}
            report = run_preflight(
                plan,
                resolved.state,
                install.argv,
                site_dir=existing_ancestor(site),
                env=deps.env,
                get=deps.get,
                head=deps.head,
                **extra,
            )
        for line in report.notes:
            self.s.log.write(f"preflight note: {line}")
        droppable = (
            set()
            if final
            else {c.problem for c in report.checks if c.name in missing_companions(plan, report)}
        )
        blocking = [p for p in report.problems if p not in droppable]
        if problems or blocking:
            raise Refused([*blocking, *problems])
        return report

    def _probe_new_venv(self, plan: Plan, python: str) -> TargetState:
        state = probe_target(python, runner=self.s.deps.runner, env=self.s.deps.env)
        problem = version_problem(state, plan)
        if problem:
            raise UsageError(f"the new virtual environment does not match the plan: {problem}")
        return state

    def _satisfied(
        self, plan: Plan, steps: Sequence[Step], resolved: ResolvedTarget, verify: Optional[Verify]
    ) -> InstallResult:
        s = self.s
        s.total = len(steps)
        torch = resolved.state.python.dist("torch")
        have = f"torch {torch.version if torch else plan.torch}"
        for i, step in enumerate(steps, 1):
            s.results.append(
                skip_step(step, i, s.total, f"already satisfied ({have})", log=s.log, view=s.view)
            )
        return self._verified(
            verify,
            "already-satisfied",
            f"already satisfied: {have} in {resolved.python}; nothing was changed",
        )

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
) -> _Deps:
    return _Deps(
        runner or ProcRunner(),
        dict(os.environ if environ is None else environ),
        confirm or terminal_confirm(console),
        get or net.get,
        head or net.head,
        free_disk,
    )


def run_install(
    plan: Plan,
    *,
    target: InstallTarget,
    yes: bool = False,
    verbose: bool = False,
    index_url: Optional[str] = None,
    find_links: Optional[str] = None,
    no_verify: bool = False,
    console: Optional[Console] = None,
    runner: Optional[Runner] = None,
    verify: Optional[Verify] = None,
    confirm: Optional[Confirm] = None,
    environ: Optional[Mapping[str, str]] = None,
    get: Optional[Callable[..., net.Response]] = None,
    head: Optional[Callable[..., net.Response]] = None,
    free_disk: Optional[Callable[[str], int]] = None,
) -> InstallResult:
    """Install ``plan`` into ``target`` (see the module doc); never raises for a failed install.

    The keyword arguments after ``console`` are the side effects, injected for tests: the
    runner (subprocesses), the verify (default :func:`import_check`), the confirmation prompt,
    the environment the steps run with (default ``os.environ``), HTTP and free-disk lookups.
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
    )
    session = _Session("install", deps, console, verbose)
    session.log.header(f"install: torch {plan.torch} ({plan.variant}) with {plan.method}")
    chosen = None if no_verify else (verify or import_check(plan, deps.runner, deps.env))
    install = _Install(session, plan, target)
    return session.finish(
        lambda: install.run(yes=yes, index_url=index_url, find_links=find_links, verify=chosen)
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
        state = probe_target(record.python, runner=deps.runner, env=deps.env)
        changes = restore_changes(record, state.python)
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
        uv = (
            find_uv(deps.env) if record.method == "uv" or state.python.pip_version is None else None
        )
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
    "InstallTarget",
    "StepResult",
    "already_satisfied",
    "apply_source",
    "conflict_steps",
    "import_check",
    "run_install",
    "run_restore",
]


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
    deps = _deps(
        runner=runner,
        environ=environ,
        confirm=confirm,
        console=console,
        get=None,
        head=None,
        free_disk=None,
    )
    session = _Session("fix", deps, console, verbose)
    session.log.header(f"{what}: {len(plan.steps)} step(s) into {plan.python}")

    def run() -> InstallResult:
        steps = list(check_plan(plan).steps)
        _check_addresses(steps, plan.python)
        session.target = plan.python
        state = probe_target(plan.python, runner=deps.runner, env=deps.env)
        steps = [dataclasses.replace(st, argv=resolve_program(st.argv, deps.env)) for st in steps]
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
            record_from_state(
                state, method=plan.method, source=source, plan=what, created_venv=False
            )
        )
        session.log.write(f"== restore file: {session.restore_file}")
        failed = session.run_steps(steps, _pip_env(state, session.view))
        if failed is not None:
            return session.failure(failed)
        return session.result("done", EXIT_OK, f"{what}: {len(steps)} step(s) ran in {plan.python}")

    return session.finish(run)
