"""Hostile files, fuzzed: snapshots, pasted reports and restore files with wrong types, missing
keys, escapes, secrets, huge numbers, truncation and deep nesting."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import examples
from tests.fuzz.invariants import check, written_files
from tests.fuzz.strategies import ESCAPES, SECRET
from tests.unit.test_cli_install import run_captured

DATA = Path(__file__).resolve().parents[1] / "data"
SNAPSHOTS = sorted((DATA / "snapshots").glob("*.json"))
REPORTS = sorted((DATA / "reports").glob("*.txt"))


def leaves(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(data, dict) and data:
        return [p for k, v in data.items() for p in leaves(v, (*path, k))]
    if isinstance(data, list) and data:
        return [p for i, v in enumerate(data) for p in leaves(v, (*path, i))]
    return [path]


def hostile_value(secret: str) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.sampled_from([float("nan"), float("inf"), 1e308, -0.0]),
        st.text(max_size=20),
        st.sampled_from(ESCAPES).map(lambda e: f"NVIDIA H200{e}"),
        st.just(f"https://user:{secret}@mirror.example/simple"),
        st.just([]),
        st.just({}),
        st.just([[[[["deep"]]]]]),
        st.just({"a": [1, "b", None]}),
    )


@st.composite
def mutated_snapshot(draw: st.DrawFn) -> tuple[str, str]:
    path = draw(st.sampled_from(SNAPSHOTS))
    data = json.loads(path.read_text())
    secret = draw(SECRET)
    spots = leaves(data)
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.sampled_from(spots))
        if not where:
            continue
        target = data
        for key in where[:-1]:
            target = target[key]
        if draw(st.integers(0, 4)) == 0 and isinstance(target, dict):
            target.pop(where[-1], None)
        else:
            target[where[-1]] = draw(hostile_value(secret))
    text = json.dumps(data)
    cut = draw(st.one_of(st.none(), st.integers(0, len(text))))
    return (text if cut is None else text[:cut]), secret


@settings(max_examples=examples(80))
@given(
    case=mutated_snapshot(), how=st.sampled_from(["doctor", "doctor-json", "install", "install-sh"])
)
def test_mutated_snapshots(case: tuple[str, str], how: str, tmp_path_factory: Any) -> None:
    text, _secret = case
    f = tmp_path_factory.mktemp("snap") / "s.json"
    f.write_text(text)
    argv = {
        "doctor": ["doctor", "--snapshot", str(f)],
        "doctor-json": ["doctor", "--snapshot", str(f), "--json"],
        "install": ["install", "--dry-run", "--snapshot", str(f)],
        "install-sh": ["install", "--export", "sh", "--snapshot", str(f)],
    }[how]
    code, out, err = run_captured(argv)
    # a secret planted in a fact may be shown redacted, never raw
    check(argv, code, out, err)


@st.composite
def mutated_report(draw: st.DrawFn) -> tuple[bytes, str]:
    text = draw(st.sampled_from(REPORTS)).read_text()
    lines = text.splitlines()
    secret = draw(SECRET)
    for _ in range(draw(st.integers(1, 5))):
        i = draw(st.integers(0, max(0, len(lines) - 1)))
        junk = draw(
            st.one_of(
                st.sampled_from(ESCAPES),
                st.just(f" https://u:{secret}@mirror.example/simple "),
                st.just(f" ?private_token={secret}"),
                st.just("GPU 0: NVIDIA " + "9" * 5000),
                st.just("Nvidia driver version: " + "5" * 5000),
                st.text(max_size=30),
            )
        )
        lines[i] = lines[i] + junk if lines else junk
    text = "\n".join(lines)
    encoding = draw(st.sampled_from(["utf-8", "utf-16", "utf-8-sig"]))
    return text.encode(encoding), secret


@settings(max_examples=examples(60))
@given(case=mutated_report(), options=st.sampled_from([[], ["--json"], ["--report"], ["-v"]]))
def test_mutated_reports(
    case: tuple[bytes, str], options: list[str], tmp_path_factory: Any
) -> None:
    data, secret = case
    f = tmp_path_factory.mktemp("report") / "r.txt"
    f.write_bytes(data)
    argv = ["doctor", "--from-report", str(f), *options]
    code, out, err = run_captured(argv)
    check(argv, code, out, err, secrets=[secret] if "--report" in options else ())


RESTORE = {
    "format": "torchsetup-restore/1",
    "python": "/nonexistent/venv/bin/python",
    "python_version": "3.11.7",
    "prefix": "/nonexistent/venv",
    "method": "pip",
    "index_url": "https://idx.example/simple",
    "find_links": None,
    "created": "2026-12-01T00:00:00Z",
    "plan": "torch 2.13.0 (cpu)",
    "created_venv": False,
    "packages": [
        {"name": "six", "version": "1.17.0", "installer": "pip", "url": None, "editable": False}
    ],
}


@st.composite
def mutated_restore(draw: st.DrawFn) -> tuple[str, str]:
    data: Any = json.loads(json.dumps(RESTORE))
    secret = draw(SECRET)
    for _ in range(draw(st.integers(0, 3))):
        where = draw(st.sampled_from(leaves(data) or [()]))
        if not where:
            data = draw(hostile_value(secret))
            break
        target = data
        for key in where[:-1]:
            target = target[key]
        target[where[-1]] = draw(
            st.one_of(
                hostile_value(secret),
                st.sampled_from(["-e", "--index-url=http://evil", "--pre", "a b", "x\ny"]),
            )
        )
    return json.dumps(data), secret


@settings(max_examples=examples(50))
@given(case=mutated_restore(), as_json=st.booleans())
def test_mutated_restore_files(case: tuple[str, str], as_json: bool, tmp_path_factory: Any) -> None:
    text, secret = case
    f = tmp_path_factory.mktemp("restore") / "r.json"
    f.write_text(text)
    argv = ["restore", str(f), "--yes", *(["--json"] if as_json else [])]
    code, out, err = run_captured(argv)
    check(
        argv,
        code,
        out,
        err,
        secrets=[secret],
        files=written_files(Path(os.environ["TORCHSETUP_CACHE_DIR"])),
    )
