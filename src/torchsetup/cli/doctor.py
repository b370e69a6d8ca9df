"""`torchsetup doctor`: what this machine is, what is wrong with its PyTorch setup, how to fix it."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any, Callable, Optional

import click

from torchsetup.cli.options import FiniteRange
from torchsetup.errors import EXIT_OK, UsageError

if TYPE_CHECKING:
    from torchsetup.detect.from_report import PasteReading
    from torchsetup.detect.model import Environment
    from torchsetup.detect.probes.record import ProbeRecord
    from torchsetup.doctor.model import DoctorReport


def _warm_imports() -> None:
    import torchsetup.detect.build
    import torchsetup.doctor.render
    import torchsetup.doctor.rules  # noqa: F401


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--python",
    "python",
    metavar="PATH",
    help="Target interpreter (default: the active venv/conda env, else python3 on PATH).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the environment and findings as JSON.")
@click.option("-v", "--verbose", is_flag=True, help="Show every fact behind each category.")
@click.option("--strict", is_flag=True, help="Exit 1 on warnings and failed checks too.")
@click.option(
    "--deep",
    is_flag=True,
    help="Also import torch in the target (a subprocess): CUDA init, arch list, loaded "
    "cuDNN/cuBLAS, a matmul per GPU, numpy interop.",
)
@click.option(
    "--snapshot",
    "snapshot",
    metavar="FILE",
    help="Diagnose a saved snapshot (or a folder of captured outputs) instead of this machine.",
)
@click.option(
    "--from-report",
    "from_report",
    metavar="FILE|-",
    help="Diagnose a paste (FILE, or - for stdin): a collect_env report of any era, tracebacks "
    "and error messages, nvidia-smi, pip/conda lists; a whole issue is fine.",
)
@click.option(
    "--save-snapshot", "save", metavar="FILE", help="Write the raw probe records to FILE."
)
@click.option(
    "--report",
    "bug_report",
    is_flag=True,
    help="Print a bug-report block to paste into an issue (personal details redacted).",
)
@click.option("--fix", is_flag=True, help="Run the safe fixes of the findings, after asking.")
@click.option("-y", "--yes", is_flag=True, help="With --fix: do not ask.")
@click.option(
    "--fleet",
    "fleet",
    multiple=True,
    metavar="FILE|DIR...",
    help="Compare many nodes' `doctor --json` outputs or snapshots (files, or folders of "
    "*.json) side by side, marking every value that differs from the majority; with "
    "--strict, exit 1 on any drift.",
)
@click.argument("more", nargs=-1, metavar="")
@click.option("--explain", "explain", metavar="ID", help="Print the page of rule ID and exit.")
@click.option("--list-rules", is_flag=True, help="List every rule id and title and exit.")
@click.option(
    "--timeout",
    type=FiniteRange(0.1, 3600.0),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="Timeout of each probe (--deep waits six times as long, at least 60 s).",
)
def doctor(
    python: Optional[str],
    as_json: bool,
    verbose: bool,
    strict: bool,
    deep: bool,
    snapshot: Optional[str],
    from_report: Optional[str],
    save: Optional[str],
    bug_report: bool,
    fix: bool,
    yes: bool,
    explain: Optional[str],
    list_rules: bool,
    timeout: float,
    fleet: tuple[str, ...] = (),
    more: tuple[str, ...] = (),
) -> int:
    """Explain this machine's PyTorch setup: one status per category, every problem with its fix.

    Exit code: 0 when no error was found, 1 when one was (warnings too with --strict);
    with --fix, 3 when a fix command failed; 2 for bad usage, including a --from-report paste
    with nothing to diagnose.
    """
    if list_rules or explain:
        return _rule_pages(explain, as_json=as_json)
    if fleet or more:
        return _fleet(
            (*fleet, *more),
            given=bool(fleet),
            as_json=as_json,
            strict=strict,
            others={
                "--python": python,
                "--snapshot": snapshot,
                "--from-report": from_report,
                "--save-snapshot": save,
                "--deep": deep,
                "--fix": fix,
                "--report": bug_report,
                "-v": verbose,
            },
        )
    _check_options(
        python=python,
        snapshot=snapshot,
        from_report=from_report,
        save=save,
        deep=deep,
        fix=fix,
        yes=yes,
        as_json=as_json,
        bug_report=bug_report,
    )

    reading = _read_report(from_report) if from_report else None

    def look(save_to: Optional[str]) -> Environment:
        if reading is not None:
            return reading.env
        return _environment(
            python=python,
            snapshot=snapshot,
            from_report=from_report,
            save=save_to,
            deep=deep,
            timeout=timeout,
            as_json=as_json,
        )

    started = time.perf_counter()
    env = look(save)
    from torchsetup.doctor import diagnose

    report = diagnose(env, elapsed_s=time.perf_counter() - started)
    if reading is not None:
        from torchsetup.doctor.evidence import attach_evidence

        report = attach_evidence(report, reading.evidence)
    if bug_report:
        from torchsetup.doctor.bugreport import render_bug_report

        click.echo(render_bug_report(env, report, **_who()), nl=False)
        return report.exit_code(strict=strict)
    _render(env, report, as_json=as_json, verbose=verbose, strict=strict, reading=reading)
    if fix:
        return _fix(env, report, yes=yes, strict=strict, look_again=lambda: look(None))
    return report.exit_code(strict=strict)


def _fleet(
    paths: tuple[str, ...],
    *,
    given: bool,
    as_json: bool,
    strict: bool,
    others: dict[str, object],
) -> int:
    if not given:
        raise UsageError(f"unexpected argument {paths[0]!r} (several files go with --fleet)")
    clash = [flag for flag, value in others.items() if value]
    if clash:
        raise UsageError(f"--fleet reads saved outputs; it cannot be combined with {clash[0]}")
    from torchsetup.doctor.fleet import compare, load_nodes, render_text

    report = compare(load_nodes(paths))
    code = report.exit_code(strict=strict)
    if as_json:  # the fleet table in the one --json envelope, like every command's result
        from torchsetup.result import dumps

        click.echo(dumps("doctor", report.to_json(), exit_code=code))
    else:
        render_text(report, sys.stdout)
    return code


def _check_options(
    *,
    python: Optional[str],
    snapshot: Optional[str],
    from_report: Optional[str],
    save: Optional[str],
    deep: bool,
    fix: bool,
    yes: bool,
    as_json: bool,
    bug_report: bool,
) -> None:
    """Usage errors (exit 2, one line) before anything is probed."""
    if snapshot and from_report:
        raise UsageError("--snapshot and --from-report each name the facts to use; give one")
    offline = "--snapshot" if snapshot else "--from-report" if from_report else None
    if offline and (python or save or deep or fix):
        raise UsageError(
            f"{offline} reads saved facts; it cannot be combined with "
            "--python, --save-snapshot, --deep or --fix"
        )
    if yes and not fix:
        raise UsageError("--yes only goes with --fix")
    if fix and (as_json or bug_report):
        raise UsageError(
            "--fix asks before it runs commands; it cannot be combined with --json or --report"
        )
    if bug_report and as_json:
        raise UsageError("--report prints a markdown block; --json prints JSON: choose one")
    if fix and not yes and not sys.stdin.isatty():
        raise UsageError(
            "--fix asks before it changes anything: run it in a terminal, or add --yes"
        )


def _rule_pages(explain: Optional[str], *, as_json: bool = False) -> int:
    """``--list-rules`` / ``--explain ID``; with ``--json`` in the one envelope (docs/json.md):
    ``{"rules": [{"id", "severity", "title", "category"}]}`` or ``{"rule": {..., "page"}}``."""
    from torchsetup.doctor.explain import find_rule, rule_list, rule_page
    from torchsetup.doctor.rules import all_rules

    def about(r: Any) -> dict[str, Any]:
        return {"id": r.id, "severity": r.severity, "title": r.title, "category": r.category}

    if explain is None:
        rules = sorted(all_rules(), key=lambda r: r.id)
        if as_json:
            from torchsetup.result import dumps

            click.echo(dumps("doctor", {"rules": [about(r) for r in rules]}, exit_code=0))
        else:
            click.echo(rule_list(rules), nl=False)
        return 0
    found = find_rule(explain)
    if found is None:
        raise UsageError(f"no rule {explain!r} (torchsetup doctor --list-rules lists the ids)")
    if as_json:
        from torchsetup.result import dumps

        page = {**about(found), "page": rule_page(found)}
        click.echo(dumps("doctor", {"rule": page}, exit_code=0))
    else:
        click.echo(rule_page(found), nl=False)
    return 0


def _environment(
    *,
    python: Optional[str],
    snapshot: Optional[str],
    from_report: Optional[str],
    save: Optional[str],
    deep: bool,
    timeout: float,
    as_json: bool,
) -> Environment:
    if snapshot:
        from torchsetup.detect.snapshot import load_environment

        return load_environment(snapshot)
    if from_report:
        return _read_report(from_report).env
    from torchsetup.detect.probes.collect import collect
    from torchsetup.detect.target import choose_target

    choice = choose_target(python)
    found: dict[str, ProbeRecord] = {}

    def while_waiting() -> None:
        # Import what comes next (and, with --deep, import torch in the target) while the
        # probes wait on their subprocesses.
        _warm_imports()
        if deep:
            from torchsetup.detect.probes.deep import deep_timeout, run_deep_probe

            found["deep"] = run_deep_probe(choice.python, timeout=deep_timeout(timeout))

    snap = collect(
        choice.python, chosen_by=choice.how, timeout=timeout, while_waiting=while_waiting
    )
    snap.records.update(found)
    if save:
        from torchsetup.detect.snapshot import save_snapshot

        save_snapshot(snap, save)
    from torchsetup.detect.build import build_environment

    return build_environment(snap)


def _read_report(path: str) -> PasteReading:
    """Read a paste (a file or ``-``: stdin) as bytes in any console encoding. A paste with
    nothing to diagnose is a usage error (exit 2, one line saying what to paste instead)."""
    from torchsetup.detect.from_report import read_paste
    from torchsetup.errors import SnapshotError
    from torchsetup.files import FileRefused, read_bytes
    from torchsetup.sanitize import decode_paste, sanitize

    name = "stdin" if path == "-" else path
    try:
        data = read_bytes(path)  # a FIFO, /dev/zero, a huge file: refused, never read forever
    except FileRefused as exc:
        raise SnapshotError(
            f"cannot read report {sanitize(path, one_line=True)}: it {exc}"
        ) from None
    reading = read_paste(decode_paste(data), name)
    if not reading.usable:
        raise SnapshotError(
            f"{sanitize(name, one_line=True)} holds nothing to diagnose (no collect_env report, "
            "error message, traceback, nvidia-smi or pip/conda list); paste the output of "
            "`python -m torch.utils.collect_env` and the full error"
        )
    return reading


def _render(
    env: Environment,
    report: DoctorReport,
    *,
    as_json: bool,
    verbose: bool,
    strict: bool = False,
    reading: Optional[PasteReading] = None,
) -> None:
    paste = None
    if reading is not None:
        paste = {"formats": list(reading.formats), "notes": list(reading.notes)}
    if as_json:
        from torchsetup.doctor.render import report_to_dict
        from torchsetup.result import dumps

        result = report_to_dict(env, report)
        if paste is not None:
            result["paste"] = paste
        click.echo(dumps("doctor", result, exit_code=report.exit_code(strict=strict)))
    else:
        from torchsetup.doctor.render import print_text

        print_text(env, report, verbose=verbose, paste=paste)


def _who() -> dict[str, Optional[str]]:
    """This user's home and name, for redaction."""
    import getpass
    import os

    try:
        user: Optional[str] = getpass.getuser()
    except (KeyError, OSError):
        user = None
    return {"home": os.path.expanduser("~"), "user": user}


def _fix(
    env: Environment,
    report: DoctorReport,
    *,
    yes: bool,
    strict: bool,
    look_again: Callable[[], Environment],
) -> int:
    """Plan the safe fixes (doctor, pure), run them through the install session, diagnose again."""
    from torchsetup.doctor.fix_plan import plan_fixes

    plan = plan_fixes(env, report.findings)
    if plan is None:
        click.echo(
            "--fix: none of the findings has a fix torchsetup runs by itself (see the fix lines)."
        )
        return report.exit_code(strict=strict)
    from torchsetup.install.session import run_steps_plan

    click.echo(f"\ntorchsetup can fix {', '.join(plan.reasons)} with these steps:")
    result = run_steps_plan(
        plan,
        what="doctor --fix " + " ".join(plan.reasons),
        yes=yes,
        confirm=lambda question: click.confirm(question, default=False),
    )
    if result.status == "declined":
        click.echo("Nothing was changed.")
        return report.exit_code(strict=strict)
    failed = result.failed_step
    if result.status == "failed" and failed is not None:
        from torchsetup.redact import redact_url_credentials

        index = result.steps.index(failed) + 1
        step = plan.redacted().steps[index - 1]
        click.echo(
            f"torchsetup: fix step {index} failed ({step.shell_line()}): "
            f"{redact_url_credentials(failed.reason)}",
            err=True,
        )
        return result.exit_code
    if result.exit_code != EXIT_OK:
        click.echo(f"torchsetup: {result.message}", err=True)
        return result.exit_code
    click.echo("\nAll fixes ran. The doctor again:\n")
    started = time.perf_counter()
    env = look_again()
    from torchsetup.doctor import diagnose

    after = diagnose(env, elapsed_s=time.perf_counter() - started)
    _render(env, after, as_json=False, verbose=False)
    return after.exit_code(strict=strict)
