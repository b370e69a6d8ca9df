"""How the target interpreter is chosen, and bad --python values (files only, no processes)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from torchsetup.detect.target import choose_target, validate_python_path
from torchsetup.errors import UsageError


def fake_python(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_explicit_python_wins(tmp_path: Path) -> None:
    py = fake_python(tmp_path / "x" / "bin" / "python")
    venv = tmp_path / "venv"
    fake_python(venv / "bin" / "python")
    choice = choose_target(str(py), environ={"VIRTUAL_ENV": str(venv)})
    assert (choice.python, choice.how) == (str(py), "--python")


def test_active_venv_then_conda_then_path(tmp_path: Path) -> None:
    venv, conda, bindir = tmp_path / "venv", tmp_path / "conda", tmp_path / "bin"
    fake_python(venv / "bin" / "python")
    fake_python(conda / "bin" / "python")
    fake_python(bindir / "python3")
    env = {"VIRTUAL_ENV": str(venv), "CONDA_PREFIX": str(conda), "PATH": str(bindir)}
    assert choose_target(environ=env).how == "VIRTUAL_ENV"
    del env["VIRTUAL_ENV"]
    assert choose_target(environ=env) == choose_target(environ=env)
    assert choose_target(environ=env).python == str(conda / "bin" / "python")
    del env["CONDA_PREFIX"]
    assert (choose_target(environ=env).python, choose_target(environ=env).how) == (
        str(bindir / "python3"),
        "PATH",
    )


def test_stale_virtual_env_is_skipped(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    fake_python(bindir / "python3")
    choice = choose_target(environ={"VIRTUAL_ENV": str(tmp_path / "gone"), "PATH": str(bindir)})
    assert choice.how == "PATH"


def test_directory_given_as_python_suggests_interpreter(tmp_path: Path) -> None:
    fake_python(tmp_path / "bin" / "python")
    with pytest.raises(UsageError) as exc:
        validate_python_path(str(tmp_path))
    assert "is a directory" in exc.value.message
    assert exc.value.hint == f"did you mean --python {tmp_path / 'bin' / 'python'}?"


def test_missing_and_not_executable(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        validate_python_path(str(tmp_path / "nope"))
    f = tmp_path / "python"
    f.write_text("")
    os.chmod(f, 0o644)
    with pytest.raises(UsageError, match="not executable"):
        validate_python_path(str(f))
