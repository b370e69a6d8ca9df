"""install.session.run_steps_plan: a plan's steps run verbatim through the install session
(doctor --fix uses it): shown, confirmed, restore file first, logged, stopped at the first failure."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from tests.helpers.recording import PROBE, RecordingRunner, probe_output
from torchsetup.detect.model import TargetPython
from torchsetup.detect.parse.target_probe import build_python
from torchsetup.detect.probes.record import ProbeRecord
from torchsetup.errors import EXIT_OK, EXIT_PROBLEMS, EXIT_STEP_FAILED, EXIT_USAGE
from torchsetup.install.session import run_steps_plan
from torchsetup.resolve.complete import target_facts
from torchsetup.resolve.plan import Plan, Step

PY = "/envs/t/bin/python"
DISTS = (("pip", "24.2"), ("torch", "2.13.0+cpu"), ("torchtriton", "2.0.0"))


def _probed(python: str, dists: tuple[tuple[str, str], ...]) -> TargetPython:
    """The TargetPython the one probe reads from ``probe_output`` (the facts the plan assumes)."""
    data = {"executable": python, **json.loads(probe_output(python, dists=dists))}
    record = ProbeRecord("python", ok=True, data=data)
    py = build_python(record)
    assert py is not None
    return py


PLAN = Plan(
    method="pip",
    torch="2.13.0+cpu",
    variant="cpu",
    python=PY,
    steps=(
        Step(
            "uninstall-torchtriton",
            "[TS014] remove torchtriton",
            (PY, "-m", "pip", "uninstall", "-y", "torchtriton"),
        ),
        Step(
            "install-torchvision",
            "[TS011] install torchvision 0.28.0",
            (
                PY,
                "-m",
                "pip",
                "install",
                "torchvision==0.28.0",
                "--index-url",
                "https://u:secret@idx/simple",
            ),
        ),
    ),
    reasons=("TS014", "TS011"),
    target=target_facts(_probed(PY, DISTS)),
)


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCHSETUP_CACHE_DIR", str(tmp_path / "cache"))


def _runner() -> RecordingRunner:
    return (
        RecordingRunner()
        .on(PROBE, output=probe_output(PY, dists=DISTS))
        .on("uninstall -y torchtriton")
        .on("install torchvision==0.28.0")
    )


def _run(runner: RecordingRunner, plan: Plan = PLAN, **kw: Any) -> tuple[Any, str]:
    out = io.StringIO()
    kw.setdefault("yes", True)
    result = run_steps_plan(
        plan,
        what="doctor --fix TS014 TS011",
        console=Console(file=out, width=300),
        runner=runner,
        environ={"PATH": ""},
        **kw,
    )
    return result, out.getvalue()


def test_runs_the_steps_verbatim_after_writing_a_restore_file() -> None:
    runner = _runner()
    result, out = _run(runner)
    assert result.exit_code == EXIT_OK and result.status == "done", out
    assert [c.argv for c in runner.streamed()] == [s.argv for s in PLAN.steps]
    assert result.restore_file is not None
    record = json.loads(result.restore_file.read_text())
    assert record["python"] == PY and record["plan"] == "doctor --fix TS014 TS011"
    assert {p["name"] for p in record["packages"]} >= {"torch", "torchtriton"}
    assert "  1. [TS014] remove torchtriton" in out and "  2. [TS011] install torchvision" in out
    assert "secret" not in out and "secret" not in result.log_path.read_text()
    assert result.log_path.name.startswith("fix-")


def test_stops_at_the_first_failing_step() -> None:
    runner = (
        RecordingRunner()
        .on(PROBE, output=probe_output(PY, dists=DISTS))
        .on("uninstall -y torchtriton", returncode=1, output="ERROR: boom")
        .on("install torchvision==0.28.0")
    )
    result, out = _run(runner)
    assert result.exit_code == EXIT_STEP_FAILED
    assert [s.status for s in result.steps] == ["failed", "not-run"]
    assert len(runner.streamed()) == 1 and "boom" in out
    assert f"torchsetup restore {result.restore_file}" in out


def test_declined_runs_nothing() -> None:
    runner = _runner()
    result, _ = _run(runner, yes=False, confirm=lambda question: False)
    assert result.exit_code == EXIT_PROBLEMS and result.status == "declined"
    assert runner.streamed() == [] and result.restore_file is None


def test_without_a_way_to_ask_it_refuses() -> None:
    runner = _runner()
    result, out = _run(runner, yes=False, confirm=lambda question: None)
    assert result.exit_code == EXIT_USAGE and runner.streamed() == []
    assert "without confirmation" in out


def test_a_step_for_another_interpreter_is_refused() -> None:
    other = Step("x", "elsewhere", ("/other/bin/python", "-m", "pip", "install", "six"))
    runner = _runner()
    result, out = _run(runner, plan=dataclasses.replace(PLAN, steps=(other,)))
    assert result.exit_code == EXIT_USAGE and runner.calls == []
    assert "installs into /other/bin/python" in out


def test_a_target_that_changed_since_the_plan_is_refused() -> None:
    """The fix was planned for torch 2.13.0+cpu; the target now holds another torch."""
    runner = RecordingRunner().on(
        PROBE, output=probe_output(PY, dists=(("pip", "24.2"), ("torch", "2.12.0+cpu")))
    )
    result, out = _run(runner, plan=PLAN)
    assert result.exit_code == EXIT_USAGE
    assert "changed since the plan was made" in out and "2.12.0" in out
    assert [c.argv for c in runner.calls if "pip" in c.argv] == []
