"""``doctor --fix``: plan the safe fixes of the findings as commands, then run them.

Planning is pure (:func:`plan_fixes`: Environment + findings -> argv lists); running goes
through :func:`torchsetup.proc.stream`, one command at a time, stopping at the first failure.
Only fixes that cannot make things worse are planned: remove ``torchtriton``, reinstall the
torchvision/torchaudio release that matches the installed torch (from torch's own index), and
replace a CPU build with the right GPU build (``torchsetup install`` resolves and verifies it).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Callable, Optional

from torchsetup import proc
from torchsetup.detect.model import Environment, TargetPython
from torchsetup.doctor.model import Finding
from torchsetup.matrix import lookups as kb

STEP_TIMEOUT = 3600.0  # a CUDA build of torch is several GB


@dataclass(frozen=True)
class FixAction:
    finding: str  # the rule id it fixes
    description: str
    argv: tuple[str, ...]

    def command(self) -> str:
        import shlex

        return " ".join(shlex.quote(a) for a in self.argv)


def plan_fixes(env: Environment, findings: Sequence[Finding]) -> list[FixAction]:
    """The commands that fix what can be fixed safely, in order (pure)."""
    py = env.python if env.python is not None and env.python.ok else None
    if py is None:
        return []
    ids = {f.id for f in findings}
    actions: list[FixAction] = []
    if "TS014" in ids and (bad := py.dist("torchtriton")) is not None:
        actions.append(
            FixAction(
                "TS014",
                f"remove torchtriton {bad.version} (the package of the Dec-2022 attack; "
                "afterwards rotate this machine's SSH keys and tokens)",
                _pip(py, "uninstall", "-y", "torchtriton"),
            )
        )
    if "TS001" in ids:  # the install brings the matching torchvision/torchaudio too
        actions.append(
            FixAction(
                "TS001",
                "replace the CPU build of torch with the build for this GPU and driver",
                (sys.executable, "-m", "torchsetup", "install", "--python", py.executable),
            )
        )
        return actions
    mismatched = [f.title.split()[0] for f in findings if f.id == "TS011"]
    for name in ("torchvision", "torchaudio"):
        if name in mismatched and (action := _companion(py, name)) is not None:
            actions.append(action)
    return actions


def _pip(py: TargetPython, *args: str) -> tuple[str, ...]:
    return (py.executable, "-m", "pip", *args)


def _companion(py: TargetPython, name: str) -> Optional[FixAction]:
    """Reinstall the release of ``name`` that belongs to the installed torch, from torch's index."""
    torch, dist = py.torch, py.dist("torch")
    pair = kb.companion_versions(torch.version) if torch else None
    wanted = (pair[0] if name == "torchvision" else pair[1]) if pair else None
    if torch is None or wanted is None:
        return None
    index = kb.index_for_local_label(dist.local if dist else None)
    where = ("--index-url", index) if index else ()
    return FixAction(
        "TS011",
        f"install {name} {wanted}, the release built for torch {torch.public_version}",
        _pip(py, "install", f"{name}=={wanted}", *where),
    )


@dataclass(frozen=True)
class FixOutcome:
    action: FixAction
    result: proc.ProcResult


def run_fixes(
    actions: Sequence[FixAction], *, on_line: Callable[[str], None], timeout: float = STEP_TIMEOUT
) -> list[FixOutcome]:
    """Run the actions one by one; stops after the first that fails (its outcome is last)."""
    outcomes = []
    for action in actions:
        result = proc.stream(list(action.argv), timeout=timeout, on_line=on_line)
        outcomes.append(FixOutcome(action, result))
        if not result.ok:
            break
    return outcomes
