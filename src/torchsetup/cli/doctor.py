"""`torchsetup doctor`: what this machine is, what is wrong with its PyTorch setup, how to fix it."""

from __future__ import annotations

import sys
import time
from typing import Optional

import click

from torchsetup.errors import UsageError


def _warm_imports() -> None:
    import torchsetup.detect
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
    "--snapshot",
    "snapshot",
    metavar="FILE",
    help="Diagnose a saved snapshot (or a folder of captured outputs) instead of this machine.",
)
@click.option(
    "--save-snapshot", "save", metavar="FILE", help="Write the raw probe records to FILE."
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="Timeout of each probe.",
)
def doctor(
    python: Optional[str],
    as_json: bool,
    verbose: bool,
    strict: bool,
    snapshot: Optional[str],
    save: Optional[str],
    timeout: float,
) -> int:
    """Explain this machine's PyTorch setup: one status per category, every problem with its fix.

    Exit code: 0 when no error was found, 1 when one was (warnings too with --strict).
    """
    if snapshot and (python or save):
        raise UsageError(
            "--snapshot reads saved facts; it cannot be combined with --python or --save-snapshot"
        )
    started = time.perf_counter()
    if snapshot:
        from torchsetup.snapshot import load_environment

        env = load_environment(snapshot)
    else:
        from torchsetup.probes import collect
        from torchsetup.target import choose_target

        choice = choose_target(python)
        # Import what comes next while the probes wait on their subprocesses.
        snap = collect(
            choice.python,
            chosen_by=choice.how,
            timeout=timeout,
            while_waiting=_warm_imports,
        )
        if save:
            from torchsetup.snapshot import save_snapshot

            save_snapshot(snap, save)
        from torchsetup.detect import build_environment

        env = build_environment(snap)
    from torchsetup.doctor import diagnose
    from torchsetup.doctor.render import print_json, print_text

    report = diagnose(env, elapsed_s=time.perf_counter() - started)
    if as_json:
        print_json(env, report, sys.stdout)
    else:
        print_text(env, report, verbose=verbose)
    return report.exit_code(strict=strict)
