"""The outputs other tools read: the --json contract, JUnit XML, and the table people read."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from pathlib import Path

from rich.console import Console

from tests.helpers.result import unwrap
from torchsetup.verify.junit import junit_xml, write_junit
from torchsetup.verify.model import FAIL, NOT_RUN, PASS, CheckResult, TorchInfo, VerifyResult
from torchsetup.verify.render import render_json, render_table, summary_line

INFO = TorchInfo(version="2.13.0+cpu", variant="cpu", python="3.11.7", import_seconds=1.5)


def sample(*, failing: bool = True) -> VerifyResult:
    checks = [
        CheckResult("import", PASS, 1.5, "torch 2.13.0+cpu"),
        CheckResult("gpu", NOT_RUN, 0.0, "no GPU: torch 2.13.0+cpu is a CPU build"),
        CheckResult("cpu.compile", PASS, 12.25, "inductor forward+backward match eager"),
    ]
    if failing:
        checks.append(
            CheckResult(
                "torchvision",
                FAIL,
                0.3,
                "RuntimeError: operator torchvision::nms does not exist",
                hint="install matching releases",
                data={
                    "error": "RuntimeError: operator torchvision::nms does not exist\x1b[0m\x00",
                    "output_tail": ["warning: \x1b[31mred\x1b[0m"],
                },
            )
        )
    return VerifyResult(
        python="/v/bin/python", mode="full", checks=tuple(checks), torch=INFO, seconds=14.0
    )


def test_json_contract() -> None:
    doc = unwrap(render_json(sample()), "verify")
    assert set(doc) >= {"ok", "torch", "checks", "summary", "schema", "python", "mode"}
    assert doc["ok"] is False
    assert doc["torch"]["version"] == "2.13.0+cpu"
    assert doc["torch"]["variant"] == "cpu"
    assert doc["summary"] == {"passed": 2, "failed": 1, "not_run": 1}
    for check in doc["checks"]:
        assert set(check) == {"name", "status", "seconds", "detail", "hint", "data"}
        assert check["status"] in ("pass", "fail", "not run")
    assert doc["checks"][1] == {
        "name": "gpu",
        "status": "not run",
        "seconds": 0.0,
        "detail": "no GPU: torch 2.13.0+cpu is a CPU build",
        "hint": None,
        "data": {},
    }


def test_ok_needs_a_passing_import_and_no_failure() -> None:
    assert sample(failing=False).ok
    assert sample(failing=False).exit_code == 0
    assert sample().exit_code == 1
    nothing = VerifyResult(python="p", mode="quick", checks=(CheckResult("import", NOT_RUN),))
    assert not nothing.ok


def test_junit_has_a_testcase_per_check(tmp_path: Path) -> None:
    path = tmp_path / "reports" / "verify.xml"
    write_junit(sample(), path)
    root = ET.parse(path).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "1", "1")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert list(cases) == ["import", "gpu", "cpu.compile", "torchvision"]
    assert cases["cpu.compile"].get("time") == "12.250"
    skipped = cases["gpu"].find("skipped")
    assert skipped is not None
    assert skipped.get("message") == "no GPU: torch 2.13.0+cpu is a CPU build"
    failure = cases["torchvision"].find("failure")
    assert failure is not None
    assert failure.get("message") == "RuntimeError: operator torchvision::nms does not exist"
    assert failure.text is not None
    assert "fix: install matching releases" in failure.text
    assert "\x1b" not in failure.text  # control characters would make the XML unreadable
    assert "warning: [31mred[0m" in failure.text
    assert cases["import"].find("failure") is None
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["torch"] == "2.13.0+cpu"


def test_junit_text_is_well_formed_xml() -> None:
    ET.fromstring(junit_xml(sample()).encode())


def test_table_shows_status_detail_and_fix() -> None:
    out = io.StringIO()
    render_table(sample(), Console(file=out, width=160, color_system=None))
    text = out.getvalue()
    assert "torch 2.13.0+cpu (cpu), Python 3.11.7" in text
    assert "✗ FAIL" in text
    assert "– not run" in text
    assert "fix: install matching releases" in text
    assert "12.25 s" in text
    assert text.rstrip().endswith("FAILED: 2 passed, 1 failed, 1 not run in 14.0 s")


def test_summary_line_ok() -> None:
    assert summary_line(sample(failing=False)) == "OK: 2 passed, 0 failed, 1 not run in 14.0 s"
