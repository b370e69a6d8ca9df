"""The rule registry: :data:`RULES`, the :func:`rule` decorator and :func:`all_rules`.

A leaf: it imports no rule module. The category modules (one per key of
:data:`torchsetup.doctor.CATEGORIES`) register their rules here when imported, and
:mod:`torchsetup.doctor.rules` imports every one of them, so importing anything under
``torchsetup.doctor.rules`` registers every rule.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Callable, Optional

from torchsetup.doctor.context import RuleContext
from torchsetup.doctor.model import Finding, Rule

RULES: dict[str, Rule] = {}

Body = Callable[[RuleContext, Rule], Iterable[Finding]]


def rule(
    rule_id: str,
    *,
    title: str,
    category: str,
    severity: str,
    catalogue: Optional[int] = None,
    sources: tuple[str, ...] = (),
) -> Callable[[Body], Body]:
    """Register the decorated body as rule ``rule_id``; its docstring is the rule's page.

    A rule defined in a category module of this package must declare that module's category
    (``rules/nvidia.py`` holds the ``nvidia`` rules), so the split stays one module per category.
    """

    def register(fn: Body) -> Body:
        if rule_id in RULES:
            raise ValueError(f"duplicate rule id {rule_id}")
        package, _, module = fn.__module__.rpartition(".")
        if package == __package__ and module != category:
            raise ValueError(f"rule {rule_id} has category {category!r} but lives in {module}.py")
        explain = inspect.cleandoc(fn.__doc__ or title)
        RULES[rule_id] = Rule(
            id=rule_id,
            title=title,
            category=category,
            severity=severity,
            func=lambda ctx: fn(ctx, RULES[rule_id]),
            explain=explain,
            catalogue=catalogue,
            sources=sources,
        )
        return fn

    return register


def all_rules() -> list[Rule]:
    return list(RULES.values())
