"""Doctor's result model: findings, rules, categories, the report."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional

from torchsetup.errors import EXIT_OK, EXIT_PROBLEMS

if TYPE_CHECKING:
    from torchsetup.doctor.context import RuleContext

ERROR = "error"
WARNING = "warning"
INFO = "info"

# Category status marks, in the manner of flutter doctor.
OK = "ok"
CHECK_FAILED = "check failed"


@dataclass(frozen=True)
class Finding:
    id: str
    severity: str
    title: str
    detail: str
    fix: Optional[str]  # the fix line shown to the user (a command or an instruction)
    category: str
    # Structured facts of the finding for programs (doctor --fix, --json): which package,
    # which version is installed and which one is wanted, the torch it must match.
    data: tuple[tuple[str, str], ...] = ()
    # The lines of a pasted report the finding rests on (doctor --from-report), as pasted:
    # render them through torchsetup.sanitize.
    evidence: tuple[str, ...] = ()

    def value(self, key: str) -> Optional[str]:
        """One entry of :attr:`data` (None when the rule did not set it)."""
        return dict(self.data).get(key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "severity": self.severity,
            "title": self.title,
            "detail": self.detail,
            "fix": self.fix,
            "category": self.category,
            "data": dict(self.data),
            "evidence": list(self.evidence),
        }


RuleFunc = Callable[["RuleContext"], Iterable[Finding]]


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    category: str
    severity: str  # the usual severity; a rule may emit another one
    func: RuleFunc
    explain: str  # the rule's page: what it checks, why it matters, the fix
    catalogue: Optional[int] = None  # number in the failure catalogue (docs/rules)
    sources: tuple[str, ...] = ()

    def finding(
        self,
        *,
        title: Optional[str] = None,
        detail: str,
        fix: Optional[str],
        severity: Optional[str] = None,
        data: Optional[Mapping[str, str]] = None,
    ) -> Finding:
        return Finding(
            id=self.id,
            severity=severity or self.severity,
            title=title or self.title,
            detail=detail,
            fix=fix,
            category=self.category,
            data=tuple((data or {}).items()),
        )


@dataclass(frozen=True)
class CategoryResult:
    key: str
    title: str
    status: str  # ok | warning | error | check failed
    summary: str  # one line shown in parentheses after the title
    facts: tuple[str, ...] = ()  # shown with -v
    findings: tuple[Finding, ...] = ()
    failed_checks: tuple[str, ...] = ()


@dataclass(frozen=True)
class DoctorReport:
    categories: tuple[CategoryResult, ...]
    findings: tuple[Finding, ...]
    crashed_rules: tuple[str, ...] = field(default=())
    elapsed_s: Optional[float] = None

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == ERROR)

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == WARNING)

    def exit_code(self, *, strict: bool = False) -> int:
        if self.errors or self.crashed_rules:
            return EXIT_PROBLEMS
        if strict and (self.warnings or any(c.status == CHECK_FAILED for c in self.categories)):
            return EXIT_PROBLEMS
        return EXIT_OK
