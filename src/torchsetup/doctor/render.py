"""Rendering doctor reports: rich text for people, JSON for machines."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from torchsetup import __version__
from torchsetup.detect.model import Environment, environment_to_dict
from torchsetup.doctor.model import CHECK_FAILED, ERROR, INFO, OK, WARNING, DoctorReport
from torchsetup.sanitize import clean, sanitize
from torchsetup.term import Style


def _clean(text: str) -> str:
    """Facts can carry pasted text (a report's GPU name, an error message): no terminal
    controls reach the terminal, whatever the paste held."""
    return sanitize(text, one_line=True)


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


def print_text(
    env: Environment,
    report: DoctorReport,
    *,
    verbose: bool = False,
    file: TextIO | None = None,
    paste: dict[str, Any] | None = None,
) -> None:
    out = file or sys.stdout
    st = Style(out)
    lines: list[str] = []
    add = lines.append
    source = "" if env.source == "live" else f" — facts from {_clean(env.source)}"
    took = f", {report.elapsed_s:.2f} s" if report.elapsed_s is not None else ""
    hint = "" if verbose else "; all facts: torchsetup doctor -v"
    add(f"{st('Doctor summary', 'bold')} (torchsetup {__version__}{took}{hint}){source}")
    if paste is not None:
        add(st(f"read: {', '.join(paste['formats'])}", "dim"))
        for note in paste["notes"]:
            add(f"{st('note:', 'yellow')} {_clean(note)}")
    for cat in report.categories:
        mark, colour = MARKS[cat.status]
        summary = " " + st(f"({_clean(cat.summary)})", "dim") if cat.summary else ""
        add(f"{st(mark, colour)} {_clean(cat.title)}{summary}")
        if verbose:
            add_all = [f"    {st('•', 'green')} {_clean(fact)}" for fact in cat.facts]
            lines.extend(add_all)
        for check in cat.failed_checks:
            add(f"    {st('☠', 'red')} check failed: {clean(check)}")
        for f in cat.findings:
            if f.severity == INFO and not verbose and cat.status == OK:
                add(
                    f"    {st('•', 'blue')} {_clean(f.title)} "
                    + st(f"({f.id}; details with -v)", "dim")
                )
                continue
            fmark, fcolour = FINDING_MARKS.get(f.severity, ("•", "blue"))
            add(f"    {st(fmark, fcolour)} {st(_clean(f.title), 'bold')} " + st(f"({f.id})", "dim"))
            add(f"      {_clean(f.detail)}")
            for line in f.evidence:
                add("      " + st(f"> {_clean(line)}", "dim"))
            if f.fix:
                add(f"      {st('fix:', 'bold')} {_clean(f.fix)}")
    for crashed in report.crashed_rules:
        add(f"{st('[☠]', 'red')} a doctor rule crashed: {clean(crashed)} (please report it)")
    if verbose:
        add(
            st(
                "probes: "
                + ", ".join(
                    f"{p.name} {p.duration_s * 1000:.0f} ms" + ("" if p.ok else " (failed)")
                    for p in env.probes
                ),
                "dim",
            )
        )
    add(_closing_line(report, st))
    out.write("\n".join(lines) + "\n")
    out.flush()


def _closing_line(report: DoctorReport, st: Style) -> str:
    bad = [c for c in report.categories if c.status != OK]
    if not bad and not report.crashed_rules:
        return f"{st('•', 'green')} No issues found!"
    counts = []
    if report.errors:
        counts.append(f"{report.errors} error{'s' if report.errors != 1 else ''}")
    if report.warnings:
        counts.append(f"{report.warnings} warning{'s' if report.warnings != 1 else ''}")
    failed = sum(1 for c in report.categories if c.status == CHECK_FAILED)
    if failed:
        counts.append(f"{failed} failed check{'s' if failed != 1 else ''}")
    n = len(bad)
    return (
        f"{st('!', 'yellow')} Doctor found {' and '.join(counts) or 'issues'} in {n} "
        f"categor{'ies' if n != 1 else 'y'}."
    )
