"""Plans: what an install will do, as data. Built by the resolver, run by the executor.

A plan carries its reasons: the facts it used, the choice, every candidate it rejected and
why, and warnings the user must see before anything changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from torchsetup.environment import to_jsonable


@dataclass(frozen=True)
class Step:
    """One command of a plan. ``argv`` is a list, never a shell string; ``env`` are additions."""

    id: str  # stable: "create-venv", "upgrade-pip", "uninstall-conflicts", "install", "clone", ...
    description: str
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    cwd: Optional[str] = None
    timeout_s: Optional[float] = None
    changes_target: bool = True  # False for read-only checks

    @property
    def env_dict(self) -> dict[str, str]:
        return dict(self.env)


@dataclass(frozen=True)
class Fact:
    """A fact the resolver used, with where it came from ("NVML", "--target-driver", ...)."""

    name: str
    value: str
    source: str


@dataclass(frozen=True)
class Rejection:
    """A candidate (torch version + variant) the resolver did not take, and why."""

    torch: str
    variant: str
    reason: str


@dataclass(frozen=True)
class Plan:
    method: str  # "pip" | "uv" | "conda" | "source"
    torch: str
    variant: str  # "cu118", "cpu", "rocm6.2", ...
    python: str  # target interpreter (executable) or the planned one
    torchvision: Optional[str] = None
    torchaudio: Optional[str] = None
    index_url: Optional[str] = None
    python_version: Optional[str] = None
    steps: tuple[Step, ...] = ()
    facts: tuple[Fact, ...] = ()
    reasons: tuple[str, ...] = ()
    rejected: tuple[Rejection, ...] = ()
    warnings: tuple[str, ...] = ()
    extra: tuple[tuple[str, str], ...] = field(default=())  # method-specific details

    def packages(self) -> list[tuple[str, str]]:
        """(distribution, exact version) the plan installs."""
        out = [("torch", self.torch)]
        if self.torchvision:
            out.append(("torchvision", self.torchvision))
        if self.torchaudio:
            out.append(("torchaudio", self.torchaudio))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "plan": {
                "method": self.method,
                "torch": self.torch,
                "torchvision": self.torchvision,
                "torchaudio": self.torchaudio,
                "variant": self.variant,
                "index_url": self.index_url,
                "python": self.python,
                "python_version": self.python_version,
                "steps": [
                    {
                        "id": s.id,
                        "description": s.description,
                        "argv": list(s.argv),
                        "env": dict(s.env),
                        "cwd": s.cwd,
                    }
                    for s in self.steps
                ],
            },
            "facts": to_jsonable(self.facts),
            "reasons": list(self.reasons),
            "rejected": to_jsonable(self.rejected),
            "warnings": list(self.warnings),
        }
