"""A rule's page: ``doctor --explain ID``, ``doctor --list-rules`` and docs/rules/ (generated)."""

from __future__ import annotations

import re
from typing import Optional

from torchsetup.doctor.model import Rule

_ISSUE = re.compile(r"^([\w.-]+/[\w.-]+)#(\d+)$")


def find_rule(rule_id: str) -> Optional[Rule]:
    """The rule ``rule_id`` names ("TS005", "ts5" and "5" all name TS005)."""
    from torchsetup.doctor.rules import RULES  # importing the package registers every rule

    text = rule_id.strip().upper()
    digits = text.removeprefix("TS")
    key = f"TS{int(digits):03d}" if digits.isdigit() else text
    return RULES.get(key)


def category_title(key: str) -> str:
    from torchsetup.doctor import CATEGORIES

    return dict(CATEGORIES).get(key, key)


def source_link(source: str) -> str:
    """A markdown link for "owner/repo#123" and URLs; other sources stay text."""
    m = _ISSUE.match(source)
    if m:
        return f"[{source}](https://github.com/{m.group(1)}/issues/{m.group(2)})"
    if source.startswith(("http://", "https://")):
        return f"<{source}>"
    return source


def rule_page(rule: Rule, *, markdown: bool = False) -> str:
    """Title, severity, category, catalogue number, the docstring, the sources."""
    facts = [
        f"severity: {rule.severity}",
        f"category: {category_title(rule.category)}",
        (
            f"failure catalogue: #{rule.catalogue}"
            if rule.catalogue
            else "failure catalogue: none (a torchsetup check)"
        ),
    ]
    sources = [source_link(s) if markdown else s for s in rule.sources]
    if markdown:
        lines = [f"# {rule.id}: {rule.title}", "", *(f"- {f}" for f in facts), "", rule.explain]
        if sources:
            lines += ["", "## Sources", "", *(f"- {s}" for s in sources)]
    else:
        lines = [f"{rule.id}: {rule.title}", *(f"  {f}" for f in facts), "", rule.explain]
        if sources:
            lines += ["", "Sources:", *(f"  - {s}" for s in sources)]
    return "\n".join(lines) + "\n"


def rule_list(rules: list[Rule]) -> str:
    return "".join(
        f"{r.id}  {r.severity:<7}  {r.title}\n" for r in sorted(rules, key=lambda r: r.id)
    )
