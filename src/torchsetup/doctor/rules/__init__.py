"""Doctor rules: one small pure function per known failure, each with a stable id.

Ids TS001-TS029 follow the numbering of the failure catalogue (docs/rules/), TS1xx are
torchsetup's own checks, TS2xx judge the LLM stack (rules/stack.py). A rule receives the :class:`RuleContext` and yields findings whose
message quotes the detected facts and whose fix is a command computed from them. The rule's
docstring is its page (``torchsetup doctor --explain ID``).

One module per doctor category (the keys of :data:`torchsetup.doctor.CATEGORIES`), each
registering its rules into :mod:`.registry` (a leaf); shared helpers live in :mod:`._facts`.
Importing this package imports every category module, so every rule is registered. What the
rules know about releases (arch lists, Python and glibc support, ...) comes from
:mod:`torchsetup.matrix.lookups`.
"""

from __future__ import annotations

from torchsetup.doctor.rules import (  # noqa: F401 - imported to register their rules
    companions,
    libraries,
    nvidia,
    python,
    resources,
    stack,
    system,
    toolchain,
    torch,
    vendors,
)
from torchsetup.doctor.rules.registry import RULES, all_rules, rule

__all__ = ["RULES", "all_rules", "rule"]
