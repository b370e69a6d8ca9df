"""Restore files and restore plans (no process starts: the runner records)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from tests.helpers.recording import PROBE, RecordingRunner, parsed_probe, probe_output
from torchsetup.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_STEP_FAILED, EXIT_USAGE, UsageError
from torchsetup.install.preflight import Source
from torchsetup.install.restore import (
    FORMAT,
    RecordedPackage,
    RestoreRecord,
    load_record,
    pep610_origin,
    record_from_python,
    restore_changes,
    restore_source,
    restore_steps,
    write_record,
)
from torchsetup.install.session import InstallDeps, run_restore

PY = "/envs/t/bin/python"
BEFORE = [
    ("pip", "24.2"),
    ("six", "1.17.0"),
    ("typing-extensions", "4.9.0"),
    ("torchtriton", "0.0.1"),
]
AFTER = [
    ("pip", "24.2"),
    ("six", "1.17.0"),
    ("typing_extensions", "4.16.0"),
    ("torch", "2.13.0+cpu"),
    ("sympy", "1.14.0"),
]


def record(**kw: Any) -> RestoreRecord:
    state = parsed_probe(PY, dists=kw.pop("dists", BEFORE), extra=kw.pop("extra", None))
    return record_from_python(
        state,
        method=kw.pop("method", "pip"),
        source=kw.pop("source", Source(index_url="https://u:p@idx/simple")),
        plan="torch 2.13.0 (cpu)",
        created_venv=False,
    )


def now(dists: Any = AFTER, **kw: Any) -> Any:
    return parsed_probe(PY, dists=dists, **kw)


def test_record_round_trip_and_credentials_not_kept(tmp_path: Path) -> None:
    rec = record()
    path = write_record(rec, tmp_path)
    text = path.read_text()
    assert json.loads(text)["format"] == FORMAT and "u:p@" not in text
    assert load_record(str(path)) == rec
    assert rec.index_url == "https://***@idx/simple"
    assert [p.name for p in rec.packages] == ["pip", "six", "torchtriton", "typing-extensions"]
    assert write_record(rec, tmp_path) != path, "two records never share a file"


def test_load_record_errors_are_refusals(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something-else"}')
    for path in (str(bad), str(tmp_path / "missing.json")):
        with pytest.raises(UsageError) as exc:
            load_record(path)
        assert exc.value.exit_code == EXIT_USAGE


def test_pep610_origins() -> None:
    assert pep610_origin(None) == (None, False)
    assert pep610_origin('{"url": "https://h/x-1.0.whl", "archive_info": {}}') == (
        "https://h/x-1.0.whl",
        False,
    )
    assert pep610_origin(
        '{"url": "https://github.com/a/b", "vcs_info": {"vcs": "git", "commit_id": "abc"}}'
    ) == ("git+https://github.com/a/b@abc", False)
    assert pep610_origin('{"url": "file:///src/x", "dir_info": {"editable": true}}') == (
        "file:///src/x",
        True,
    )
    rec = record(
        extra={
            "six": {
                "direct_url": '{"url": "file:///w/six-1.17.0-py2.py3-none-any.whl", "archive_info": {}}'
            }
        }
    )
    six = next(p for p in rec.packages if p.name == "six")
    assert six.requirement() == ["six @ file:///w/six-1.17.0-py2.py3-none-any.whl"]
    assert RecordedPackage("x", "1", url="file:///src/x", editable=True).requirement() == [
        "-e",
        "file:///src/x",
    ]


def test_restore_changes() -> None:
    changes = restore_changes(record(), now())
    assert changes.remove == ("sympy", "torch")
    assert [(p.name, p.version) for p in changes.reinstall] == [
        ("torchtriton", "0.0.1"),
        ("typing-extensions", "4.9.0"),
    ]
    assert restore_changes(record(), now(BEFORE)).empty


def test_conda_packages_left_to_conda() -> None:
    changes = restore_changes(record(), now(extra={"torch": {"installer": "conda"}}))
    assert changes.conda_owned == ("torch",) and "torch" not in changes.remove


def test_restore_steps_pip_and_uv() -> None:
    rec = record()
    changes = restore_changes(rec, now())
    src = Source(index_url="https://idx/simple")
    uninstall, reinstall = restore_steps(rec, changes, uv=None, source=src)
    assert uninstall.argv == (PY, "-m", "pip", "uninstall", "-y", "sympy", "torch")
    assert reinstall.argv == (
        PY,
        "-m",
        "pip",
        "install",
        "--no-deps",
        "torchtriton==0.0.1",
        "typing-extensions==4.9.0",
        "--index-url",
        "https://idx/simple",
    )
    uv_un, uv_re = restore_steps(rec, changes, uv="/bin/uv", source=Source(find_links="/w"))
    assert uv_un.argv == ("/bin/uv", "pip", "uninstall", "--python", PY, "sympy", "torch")
    assert uv_re.argv[:6] == ("/bin/uv", "pip", "install", "--python", PY, "--no-deps")
    assert uv_re.argv[-3:] == ("--no-index", "--find-links", "/w")


def test_restore_source_needs_the_index_again_when_it_had_credentials() -> None:
    rec = record()
    changes = restore_changes(rec, now())
    with pytest.raises(UsageError, match="credentials are not kept"):
        restore_source(rec, index_url=None, find_links=None, changes=changes)
    assert (
        restore_source(
            rec, index_url="https://u:p@idx/simple", find_links=None, changes=changes
        ).index_url
        == "https://u:p@idx/simple"
    )
    plain = record(source=Source(index_url="https://idx/simple"))
    assert (
        restore_source(plain, index_url=None, find_links=None, changes=changes).index_url
        == "https://idx/simple"
    )


# --- run_restore ---------------------------------------------------------------------------------


def run(path: Path, runner: RecordingRunner, **kw: Any) -> tuple[Any, str]:
    out = io.StringIO()
    result = run_restore(
        str(path),
        yes=True,
        console=Console(file=out, width=300),
        deps=InstallDeps(runner=runner, environ={"PATH": ""}),
        **kw,
    )
    return result, out.getvalue()


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCHSETUP_CACHE_DIR", str(tmp_path / "cache"))


def test_run_restore_uninstalls_and_reinstalls(tmp_path: Path) -> None:
    path = write_record(record(source=Source(index_url="https://idx/simple")), tmp_path)
    runner = (
        RecordingRunner()
        .on(PROBE, output=probe_output(PY, dists=AFTER))
        .on(lambda a: a[:3] == (PY, "-m", "pip"))
    )
    result, out = run(path, runner)
    assert result.exit_code == EXIT_OK and result.status == "restored", out
    uninstall, torch_family, others = runner.streamed()
    assert [c.argv[3] for c in (uninstall, torch_family, others)] == [
        "uninstall",
        "install",
        "install",
    ]
    assert "torchtriton==0.0.1" in torch_family.argv and "--index-url" in torch_family.argv
    assert "typing-extensions==4.9.0" in others.argv and "--index-url" not in others.argv
    assert f"log: {result.log_path}" in out and result.log_path.name.startswith("restore-")


def test_run_restore_nothing_to_do(tmp_path: Path) -> None:
    path = write_record(record(), tmp_path)
    runner = RecordingRunner().on(PROBE, output=probe_output(PY, dists=BEFORE))
    result, _out = run(path, runner)
    assert (
        result.status == "nothing-to-do" and result.exit_code == EXIT_OK and runner.streamed() == []
    )


def test_run_restore_failure_and_interrupt(tmp_path: Path) -> None:
    path = write_record(record(source=Source(index_url="https://idx/simple")), tmp_path)
    probe = probe_output(PY, dists=AFTER)
    failing = (
        RecordingRunner()
        .on(PROBE, output=probe)
        .on(" install ", returncode=1, output="boom")
        .on(" uninstall ")
    )
    result, out = run(path, failing)
    assert (
        result.exit_code == EXIT_STEP_FAILED and "boom" in out and "torchsetup restore" not in out
    )
    stopped = (
        RecordingRunner().on(PROBE, output=probe).on("uninstall", interrupted=True, returncode=-2)
    )
    result, _ = run(path, stopped)
    assert result.exit_code == EXIT_INTERRUPTED


def test_run_restore_bad_file(tmp_path: Path) -> None:
    result, out = run(tmp_path / "nope.json", RecordingRunner())
    assert result.exit_code == EXIT_USAGE and "cannot read the restore file" in out


# --- an interrupted install (issue 15, item 11) --------------------------------------------------


def test_the_installs_index_is_for_torch_packages_only() -> None:
    """The restore file's index is the torch index the install used: pip's setuptools==65.5.0
    is not there (restore failed with "No matching distribution")."""
    rec = record(
        dists=[("pip", "24.2"), ("setuptools", "65.5.0"), ("torch", "2.5.1+cpu")],
        source=Source(index_url="https://download.pytorch.org/whl/cpu"),
    )
    changes = restore_changes(
        rec, now([("pip", "24.2"), ("setuptools", "84.2.1"), ("torch", "2.13.0+cpu")])
    )
    src = restore_source(rec, index_url=None, find_links=None, changes=changes)
    torch_step, other_step = restore_steps(rec, changes, uv=None, source=src)
    assert torch_step.argv == (
        PY,
        "-m",
        "pip",
        "install",
        "--no-deps",
        "torch==2.5.1+cpu",
        "--index-url",
        "https://download.pytorch.org/whl/cpu",
    )
    assert other_step.argv == (PY, "-m", "pip", "install", "--no-deps", "setuptools==65.5.0")
    assert "--index-url" not in other_step.argv and "--find-links" not in other_step.argv


def test_no_torch_package_to_reinstall_needs_no_index_again() -> None:
    rec = record(dists=[("pip", "24.2"), ("setuptools", "65.5.0")])  # credentials redacted
    changes = restore_changes(rec, now([("pip", "24.2"), ("setuptools", "84.2.1")]))
    src = restore_source(rec, index_url=None, find_links=None, changes=changes)
    (step,) = restore_steps(rec, changes, uv=None, source=src)
    assert step.argv == (PY, "-m", "pip", "install", "--no-deps", "setuptools==65.5.0")


def test_an_index_given_to_restore_is_for_every_package() -> None:
    rec = record(dists=[("setuptools", "65.5.0"), ("torch", "2.5.1+cpu")])
    changes = restore_changes(rec, now([("setuptools", "84.2.1"), ("torch", "2.13.0+cpu")]))
    src = restore_source(rec, index_url="https://mirror/simple", find_links=None, changes=changes)
    (step,) = restore_steps(rec, changes, uv=None, source=src)
    assert step.argv[-2:] == ("--index-url", "https://mirror/simple")
    assert "setuptools==65.5.0" in step.argv and "torch==2.5.1+cpu" in step.argv


def _site(python: str) -> Path:
    return Path(python.rsplit("/bin/", 1)[0]) / "lib" / "python3.11" / "site-packages"


def test_half_extracted_packages_are_found(tmp_path: Path) -> None:
    from torchsetup.install.restore import leftover_dirs

    site = tmp_path / "site"
    for d in ("torch", "torchgen", "six_leftover", "numpy", "PIL"):
        (site / d).mkdir(parents=True)
    (site / "numpy-2.1.0.dist-info").mkdir()
    (site / "pillow-11.0.0.dist-info").mkdir()
    (site / "pillow-11.0.0.dist-info" / "RECORD").write_text("PIL/__init__.py,,\n")
    found = leftover_dirs(str(site), ["torch", "numpy", "pillow", "six"])
    assert found == (str(site / "torch"), str(site / "torchgen"))  # numpy, PIL: owned


def test_restore_removes_half_extracted_packages_first(tmp_path: Path) -> None:
    python = str(tmp_path / "env" / "bin" / "python")
    site = _site(python)
    (site / "torch" / "lib").mkdir(parents=True)  # an install interrupted while extracting
    (site / "torch" / "__init__.py").write_text("")
    rec = record_from_python(
        parsed_probe(python, dists=[("pip", "24.2"), ("six", "1.17.0")]),
        method="pip",
        source=Source(index_url="https://idx/simple"),
        plan="torch 2.13.0 (cpu)",
        created_venv=True,
    )
    path = write_record(rec, tmp_path)
    runner = (
        RecordingRunner()
        .on(PROBE, output=probe_output(python, dists=[("pip", "24.2"), ("six", "1.17.0")]))
        .on(lambda a: a[0] == python)
    )
    result, out = run(path, runner)
    assert result.exit_code == EXIT_OK, out
    assert "left by an interrupted install" in out and str(site / "torch") in out
    (first,) = runner.streamed()
    assert first.argv[0] == python and first.argv[1] == "-c"
    assert first.argv[3:] == (str(site / "torch"),)
