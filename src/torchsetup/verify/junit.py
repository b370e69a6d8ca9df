"""JUnit XML for CI systems: one testcase per check (fail -> failure, not run -> skipped)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from torchsetup.verify.model import FAIL, NOT_RUN, PASS, CheckResult, VerifyResult

SUITE = "torchsetup.verify"
# Characters XML 1.0 cannot hold (ANSI escapes and other control bytes from tool output).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: str) -> str:
    return _NOT_XML.sub("", text)


def _failure_text(check: CheckResult) -> str:
    lines = [check.detail]
    if check.hint:
        lines.append(f"fix: {check.hint}")
    error = check.data.get("error")
    if error and error not in check.detail:
        lines.append(str(error))
    lines += [str(line) for line in check.data.get("output_tail") or ()]
    return "\n".join(lines)


def junit_xml(result: VerifyResult) -> str:
    counts = {
        "tests": str(len(result.checks)),
        "failures": str(result.count(FAIL)),
        "errors": "0",
        "skipped": str(result.count(NOT_RUN)),
        "time": f"{result.seconds:.3f}",
    }
    root = ET.Element("testsuites", {"name": "torchsetup verify", **counts})
    suite = ET.SubElement(root, "testsuite", {"name": SUITE, **counts})
    props = ET.SubElement(suite, "properties")
    facts = {"python": result.python, "mode": result.mode}
    if result.torch:
        facts.update(torch=result.torch.version, variant=result.torch.variant)
    for key, value in facts.items():
        ET.SubElement(props, "property", name=key, value=_clean(value))
    for check in result.checks:
        case = ET.SubElement(
            suite, "testcase", classname=SUITE, name=check.name, time=f"{check.seconds:.3f}"
        )
        if check.status == FAIL:
            failure = ET.SubElement(
                case, "failure", message=_clean(check.detail), type="VerificationFailed"
            )
            failure.text = _clean(_failure_text(check))
        elif check.status == NOT_RUN:
            ET.SubElement(case, "skipped", message=_clean(check.detail))
        elif check.status == PASS and check.detail:
            ET.SubElement(case, "system-out").text = _clean(check.detail)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(result: VerifyResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(junit_xml(result), encoding="utf-8")
