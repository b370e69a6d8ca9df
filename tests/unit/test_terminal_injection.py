"""Terminal escape injection (issue 15, item 4): text from a pasted report, a GPU name, torch's
import error or a restore file never reaches the terminal with its escape sequences."""

from __future__ import annotations

import io
import re
from pathlib import Path

from rich.console import Console

from tests.unit.test_cli_install import run_captured

REPORTS = Path(__file__).resolve().parents[1] / "data" / "reports"
ESCAPES = "\x1b[2J\x1b[H\x1b]0;owned\x07\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\\x1b]52;c;ZXZpbA==\x07\x9b1m"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def hostile_report(tmp_path: Path) -> Path:
    text = (REPORTS / "driver-too-old-pytorch-43058.txt").read_text()
    text = text.replace("Tesla V100-PCIE-16GB", f"Tesla V100{ESCAPES}")
    text = text.replace("Red Hat Enterprise Linux Server 7.6", f"Red Hat{ESCAPES}")
    f = tmp_path / "report.txt"
    f.write_text(text)
    return f


def test_doctor_from_a_hostile_report_prints_no_escape(tmp_path: Path) -> None:
    report = hostile_report(tmp_path)
    for extra in ((), ("-v",), ("--report",)):
        code, out, err = run_captured(["doctor", "--from-report", str(report), *extra])
        assert code in (0, 1), err
        assert not CONTROL.search(out + err), repr((out + err)[:2000])
        assert "Tesla V100" in out or "V100" in out or extra == ()


def test_verify_table_cleans_torch_errors() -> None:
    from torchsetup.verify.model import FAIL, CheckResult, VerifyResult
    from torchsetup.verify.render import render_table

    check = CheckResult(name="import", status=FAIL, seconds=0.1, detail=f"ImportError: {ESCAPES}")
    result = VerifyResult(python="/x/python", mode="quick", checks=(check,), seconds=0.1)
    out = io.StringIO()
    render_table(result, Console(file=out, width=200, color_system=None))
    assert not CONTROL.search(out.getvalue()), repr(out.getvalue())
    assert "ImportError: link" in out.getvalue()


def test_install_view_cleans_every_line() -> None:
    from torchsetup.install.view import View

    out = io.StringIO()
    view = View(Console(file=out, width=200, color_system=None), verbose=True)
    view.say(f"restore: torch {ESCAPES} from http://u:pw@h/simple")
    assert not CONTROL.search(out.getvalue()) and "pw" not in out.getvalue()
