"""What a rule sees: the Environment plus shared, derived helpers (computed once)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Optional

from torchsetup.detect.model import Environment, TargetPython, TorchBuild


@dataclass
class RuleContext:
    env: Environment
    _cache: dict[str, object] = field(default_factory=dict)

    @property
    def py(self) -> Optional[TargetPython]:
        p = self.env.python
        return p if p is not None and p.ok else None

    @property
    def torch(self) -> Optional[TorchBuild]:
        p = self.py
        return p.torch if p is not None else None

    @property
    def system(self) -> Optional[str]:
        return self.env.os.system

    @property
    def python_cmd(self) -> str:
        """How to call the target interpreter in a fix command."""
        p = self.env.python
        return shlex.quote(p.executable) if p is not None and p.executable else "python"

    def pip(self, *args: str) -> str:
        return " ".join([self.python_cmd, "-m", "pip", *(shlex.quote(a) for a in args)])

    def torchsetup(self, *args: str) -> str:
        """A torchsetup command aimed at the same target interpreter."""
        parts = ["torchsetup", *args]
        p = self.env.python
        if p is not None and p.executable and p.chosen_by in ("--python", "capture"):
            parts += ["--python", p.executable]
        return " ".join(shlex.quote(x) for x in parts)
