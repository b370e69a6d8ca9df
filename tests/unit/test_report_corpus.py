"""The whole corpus of real pastes (tests/data/reports): how often doctor names the cause the
thread established, per class, and never an error on a healthy paste.

Each ``NAME.txt`` is a paste as a public tracker holds it (bytes as a console wrote them),
``NAME.source`` its address, provenance and ``Expect:`` line: the rule ids that name the
established cause, ``no error`` (a healthy environment: the bug was elsewhere) or ``note``
(nothing about the machine can be said; doctor must say so instead). docs/doctor.md shows the
table this test prints (``pytest -s``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from torchsetup.detect.from_report import read_paste
from torchsetup.doctor import diagnose
from torchsetup.doctor.evidence import attach_evidence
from torchsetup.doctor.model import ERROR, DoctorReport
from torchsetup.sanitize import decode_paste

REPORTS = Path(__file__).resolve().parent.parent / "data" / "reports"
MIN_ACCURACY = 0.90

# Every paste format the reader handles has a real example in the corpus.
FORMATS = {
    "collect_env",
    "collect_env (1.x)",
    "collect_env (sectioned)",
    "traceback",
    "error text",
    "nvidia-smi",
    "pip freeze",
    "pip show",
    "conda list",
    "conda transaction",
}


def _expect(name: str) -> tuple[str, set[str]]:
    line = next(
        ln
        for ln in (REPORTS / f"{name}.source").read_text(encoding="utf-8").splitlines()
        if ln.startswith("Expect: ")
    )
    head = line.removeprefix("Expect: ").split(" (")[0]
    ids = set(re.findall(r"TS\d{3}", head))
    if ids:
        return "+".join(sorted(ids)), ids
    return ("note" if head.startswith("note") else "healthy"), set()


def _diagnose(name: str) -> tuple[DoctorReport, tuple[str, ...], tuple[str, ...]]:
    reading = read_paste(decode_paste((REPORTS / f"{name}.txt").read_bytes()), name)
    report = attach_evidence(diagnose(reading.env), reading.evidence)
    return report, reading.formats, reading.notes


def test_corpus_accuracy_per_class() -> None:
    names = sorted(p.stem for p in REPORTS.glob("*.txt"))
    assert len(names) >= 40
    hits: dict[str, list[bool]] = defaultdict(list)
    false_errors: list[tuple[str, set[str]]] = []
    misses: list[tuple[str, str, list[str]]] = []
    formats: set[str] = set()
    for name in names:
        cls, ids = _expect(name)
        report, found, notes = _diagnose(name)
        assert report.crashed_rules == (), name
        formats.update(found)
        fired = {f.id for f in report.findings}
        errors = {f.id for f in report.findings if f.severity == ERROR}
        if cls in ("healthy", "note"):
            ok = not errors and (cls == "healthy" or bool(notes))
            if errors:
                false_errors.append((name, errors))
        else:
            ok = ids <= fired
        hits[cls].append(ok)
        if not ok:
            misses.append((name, cls, sorted(fired)))
    total = sum(sum(v) for v in hits.values()) / len(names)
    rows = [
        f"| {cls} | {len(v)} | {sum(v)} | {sum(v) / len(v):.0%} |"
        for cls, v in sorted(hits.items())
    ]
    table = "\n".join(
        [
            "| expected | pastes | named | accuracy |",
            "|---|---|---|---|",
            *rows,
            f"| **all** | {len(names)} | {sum(sum(v) for v in hits.values())} | {total:.0%} |",
        ]
    )
    print("\n" + table)
    assert not false_errors, false_errors  # an error on a healthy paste is never acceptable
    assert total >= MIN_ACCURACY, (total, misses)
    assert formats >= FORMATS, FORMATS - formats


def test_every_finding_quotes_the_lines_it_rests_on() -> None:
    for path in sorted(REPORTS.glob("*.txt")):
        report, _, _ = _diagnose(path.stem)
        text = decode_paste(path.read_bytes())
        for f in report.findings:
            assert f.evidence, (path.stem, f.id)
            for line in f.evidence:
                # As pasted (whitespace aside): one line, two lines joined (a message wrapped
                # in the paste), or a line a console wrapped (joined again).
                flat = " ".join(line.split())
                assert flat in " ".join(text.split()) or line in text.replace("\n", ""), (
                    path.stem,
                    f.id,
                    line,
                )


def test_the_docs_show_the_current_table() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "doctor.md").read_text()
    names = sorted(p.stem for p in REPORTS.glob("*.txt"))
    assert f"| **all** | {len(names)} |" in docs


def test_any_cut_of_any_paste_is_read_without_a_crash() -> None:
    """Pastes end anywhere (an index's excerpt, a reader's selection): every prefix and suffix
    at a hundred cut points reads and diagnoses without an exception or a crashed rule."""
    import random

    rng = random.Random(14)
    texts = [decode_paste(p.read_bytes()) for p in sorted(REPORTS.glob("*.txt"))]
    for _ in range(100):
        text = rng.choice(texts)
        cut = rng.randrange(len(text) + 1)
        for piece in (text[:cut], text[cut:], text[:cut] + "\x1b[2J\x00" + text[cut:]):
            reading = read_paste(piece, "cut")
            report = diagnose(reading.env)
            assert report.crashed_rules == (), (piece[:200], report.crashed_rules)
