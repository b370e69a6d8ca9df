"""Rendering doctor reports: rich text for people, JSON for machines."""

from __future__ import annotations

import json
from typing import Any, TextIO

from torchsetup import __version__
from torchsetup.doctor.model import CHECK_FAILED, ERROR, INFO, OK, WARNING, DoctorReport
from torchsetup.environment import Environment, environment_to_dict

MARKS = {
    OK: ("[✓]", "green"),
    WARNING: ("[!]", "yellow"),
    ERROR: ("[✗]", "red"),
    CHECK_FAILED: ("[☠]", "red"),
}
FINDING_MARKS = {ERROR: ("✗", "red"), WARNING: ("!", "yellow"), INFO: ("•", "blue")}


def report_to_dict(env: Environment, report: DoctorReport) -> dict[str, Any]:
    return {
        "torchsetup_version": __version__,
        "environment": environment_to_dict(env),
        "findings": [f.to_dict() for f in report.findings],
        "categories": [
            {
                "key": c.key,
                "title": c.title,
                "status": c.status,
                "summary": c.summary,
                "facts": list(c.facts),
                "failed_checks": list(c.failed_checks),
                "findings": [f.id for f in c.findings],
            }
            for c in report.categories
        ],
        "crashed_rules": list(report.crashed_rules),
        "summary": {
            "errors": report.errors,
            "warnings": report.warnings,
            "elapsed_s": round(report.elapsed_s, 3) if report.elapsed_s is not None else None,
        },
    }


def print_json(env: Environment, report: DoctorReport, out: TextIO) -> None:
    out.write(json.dumps(report_to_dict(env, report), indent=2) + "\n")


def print_text(
    env: Environment, report: DoctorReport, *, verbose: bool = False, file: TextIO | None = None
) -> None:
    from rich.console import Console
    from rich.markup import escape

    con = Console(file=file, highlight=False, soft_wrap=True)
    source = "" if env.source == "live" else f" — facts from {escape(env.source)}"
    took = f", {report.elapsed_s:.2f} s" if report.elapsed_s is not None else ""
    hint = "" if verbose else "; all facts: torchsetup doctor -v"
    con.print(f"[bold]Doctor summary[/] (torchsetup {__version__}{took}{hint}){source}")
    for cat in report.categories:
        mark, colour = MARKS[cat.status]
        summary = f" [dim]({escape(cat.summary)})[/]" if cat.summary else ""
        con.print(f"[{colour}]{escape(mark)}[/] {escape(cat.title)}{summary}")
        if verbose:
            for fact in cat.facts:
                con.print(f"    [green]•[/] {escape(fact)}")
        for check in cat.failed_checks:
            con.print(f"    [red]☠[/] check failed: {escape(check)}")
        for f in cat.findings:
            if f.severity == INFO and not verbose and cat.status == OK:
                con.print(f"    [blue]•[/] {escape(f.title)} [dim]({f.id}; details with -v)[/]")
                continue
            fmark, fcolour = FINDING_MARKS.get(f.severity, ("•", "blue"))
            con.print(f"    [{fcolour}]{fmark}[/] [bold]{escape(f.title)}[/] [dim]({f.id})[/]")
            con.print(f"      {escape(f.detail)}")
            if f.fix:
                con.print(f"      [bold]fix:[/] {escape(f.fix)}")
    for crashed in report.crashed_rules:
        con.print(f"[red][☠][/] a doctor rule crashed: {escape(crashed)} (please report it)")
    if verbose:
        con.print(
            "[dim]probes: "
            + ", ".join(
                f"{p.name} {p.duration_s * 1000:.0f} ms" + ("" if p.ok else " (failed)")
                for p in env.probes
            )
            + "[/]"
        )
    bad = [c for c in report.categories if c.status != OK]
    if not bad and not report.crashed_rules:
        con.print("[green]•[/] No issues found!")
    else:
        counts = []
        if report.errors:
            counts.append(f"{report.errors} error{'s' if report.errors != 1 else ''}")
        if report.warnings:
            counts.append(f"{report.warnings} warning{'s' if report.warnings != 1 else ''}")
        failed = sum(1 for c in report.categories if c.status == CHECK_FAILED)
        if failed:
            counts.append(f"{failed} failed check{'s' if failed != 1 else ''}")
        n = len(bad)
        con.print(
            f"[yellow]![/] Doctor found {' and '.join(counts) or 'issues'} in {n} "
            f"categor{'ies' if n != 1 else 'y'}."
        )
