"""Restore files are untrusted (issue 15, items 5 and 9): validated before anything runs, the
interpreter they name is not run before the user agreed, no package name becomes a pip option."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from tests.helpers.recording import PROBE, RecordingRunner, probe_output
from tests.unit.test_restore import AFTER, PY, record
from torchsetup.errors import EXIT_PROBLEMS, EXIT_USAGE
from torchsetup.install.preflight import Source
from torchsetup.install.restore import FORMAT, load_record, write_record
from torchsetup.install.session import InstallDeps, run_restore


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCHSETUP_CACHE_DIR", str(tmp_path / "cache"))


def restore(path: Path, runner: RecordingRunner, *, yes: bool, answer: Any = None) -> Any:
    out = io.StringIO()
    result = run_restore(
        str(path),
        yes=yes,
        console=Console(file=out, width=300),
        deps=InstallDeps(runner=runner, environ={"PATH": ""}, confirm=lambda q: answer),
    )
    return result, out.getvalue()


def test_the_files_python_is_not_run_before_asking(tmp_path: Path) -> None:
    path = write_record(record(source=Source(index_url="https://idx/simple")), tmp_path)
    runner = RecordingRunner()  # strict: any command at all fails the test
    result, out = restore(path, runner, yes=False, answer=False)
    assert runner.calls == [], "ran the file's interpreter before asking"
    assert result.exit_code == EXIT_PROBLEMS and PY in out
    result, out = restore(path, RecordingRunner(), yes=False, answer=None)  # no terminal
    assert result.exit_code == EXIT_USAGE


def test_with_consent_it_runs(tmp_path: Path) -> None:
    path = write_record(record(source=Source(index_url="https://idx/simple")), tmp_path)
    runner = (
        RecordingRunner()
        .on(PROBE, output=probe_output(PY, dists=AFTER))
        .on(lambda a: a[:3] == (PY, "-m", "pip"))
    )
    result, out = restore(path, runner, yes=False, answer=True)
    assert result.status == "restored", out


def good() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        record(source=Source(index_url="https://idx/simple")).to_json()
    )
    return data


def bad_files() -> list[tuple[str, Any]]:
    cases: list[tuple[str, Any]] = [
        ("null", None),
        ("number", 3),
        ("string", "x"),
        ("list", []),
    ]
    for key, value in [
        ("python", None),
        ("python", 7),
        ("python", "relative/python"),
        ("packages", "six"),
        ("packages", [None]),
        ("packages", [{"name": "--index-url=http://evil/simple", "version": "1"}]),
        ("packages", [{"name": "-e", "version": "1"}]),
        ("packages", [{"name": "six", "version": "1 --pre"}]),
        ("packages", [{"name": "six", "version": "1", "url": "--extra-index-url=http://evil"}]),
        ("packages", [{"name": "six", "version": "1", "nope": 1}]),
        ("created_venv", "yes"),
        ("method", "curl"),
        ("index_url", "--pre"),
    ]:
        data = good()
        data[key] = value
        cases.append((f"{key}={value!r}"[:60], data))
    return cases


@pytest.mark.parametrize(("name", "data"), bad_files(), ids=[n for n, _ in bad_files()])
def test_a_malformed_file_is_a_usage_error_before_anything_runs(
    name: str, data: Any, tmp_path: Path
) -> None:
    path = tmp_path / "restore.json"
    path.write_text(json.dumps(data))
    runner = RecordingRunner()
    result, out = restore(path, runner, yes=True)
    assert result.exit_code == EXIT_USAGE, out
    assert runner.calls == []
    assert "not a torchsetup restore file" in out


def test_deep_nesting_and_empty_files(tmp_path: Path) -> None:
    for text in (
        "",
        "[" * 100_000 + "]" * 100_000,
        '{"format": "' + FORMAT + '", "packages": ' + "[" * 100_000,
    ):
        path = tmp_path / "r.json"
        path.write_text(text)
        with pytest.raises(Exception) as info:
            load_record(str(path))
        assert type(info.value).__name__ == "UsageError"
