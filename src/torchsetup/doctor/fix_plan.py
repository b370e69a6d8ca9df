"""``doctor --fix``: the safe fixes of the findings, planned as a :class:`~torchsetup.resolve.plan.Plan`.

Pure: Environment + findings in, a Plan (or None) out. The package names, versions and the
torch a companion must match come from the findings' structured :attr:`Finding.data` (set by
the rules), never from their text. The plan is run by the install session (the CLI hands it
over: log, restore file, redaction, confirmation, stop at the first failure); doctor itself
runs nothing.

Only fixes that cannot make things worse are planned: remove ``torchtriton`` (TS014),
reinstall the torchvision/torchaudio release built for the installed torch from torch's own
index (TS011), and replace a CPU build on a GPU machine with the build the resolver plans for
this machine (TS001; it brings the matching companions too).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Optional

from torchsetup.detect.model import Environment, TargetPython
from torchsetup.doctor.fix_commands import install_plan
from torchsetup.doctor.model import Finding
from torchsetup.matrix import lookups as kb
from torchsetup.resolve.complete import target_facts
from torchsetup.resolve.plan import Plan, Step, pip_install_step

COMPANIONS = ("torchvision", "torchaudio")


def plan_fixes(env: Environment, findings: Sequence[Finding]) -> Optional[Plan]:
    """The plan that fixes what can be fixed safely (None: nothing can). Each step's
    description starts with the id of the rule whose finding it fixes."""
    py = env.python if env.python is not None and env.python.ok else None
    if py is None:
        return None
    steps: list[Step] = []
    fixed: list[str] = []
    for f in findings:
        if f.id == "TS014" and f.value("package") == "torchtriton":
            steps.append(_remove_torchtriton(py, f))
            fixed.append("TS014")
            break
    gpu_build = next((f for f in findings if f.id == "TS001"), None)
    planned = install_plan(env, ()) if gpu_build is not None else None
    if gpu_build is not None and planned is not None:
        steps += _replace_cpu_build(py, gpu_build, planned)
        fixed.append("TS001")
        torch, variant = planned.torch, planned.variant
    else:  # the GPU build brings matching companions; without it, fix the companions alone
        for f in findings:
            step = _companion(py, f) if f.id == "TS011" else None
            if step is not None:
                steps.append(step)
                fixed.append("TS011")
        torch = py.torch.version if py.torch else "?"
        variant = py.torch.variant if py.torch else "?"
    if not steps:
        return None
    return Plan(
        method="pip",
        torch=torch,
        variant=variant,
        python=py.executable,
        python_version=py.version,
        steps=tuple(steps),
        reasons=tuple(dict.fromkeys(fixed)),
        target=target_facts(py),
    )


def _pip(py: TargetPython, *args: str) -> tuple[str, ...]:
    return (py.executable, "-m", "pip", *args)


def _remove_torchtriton(py: TargetPython, f: Finding) -> Step:
    return Step(
        id="uninstall-torchtriton",
        description=f"[TS014] remove torchtriton {f.value('installed') or ''} (the package of "
        "the Dec-2022 attack; afterwards rotate this machine's SSH keys and tokens)",
        argv=_pip(py, "uninstall", "-y", "torchtriton"),
    )


def _replace_cpu_build(py: TargetPython, f: Finding, planned: Plan) -> list[Step]:
    """Uninstall the CPU build (pip keeps ``torch 2.13.0+cpu`` when asked for ``torch==2.13.0``
    from a GPU index: the version is satisfied), then the resolver's steps for this machine."""
    names = ["torch"] + [n for n, _ in planned.packages() if n != "torch" and py.dist(n)]
    uninstall = Step(
        id="uninstall-cpu-build",
        description=f"[TS001] uninstall the CPU build: {', '.join(names)} "
        f"(torch {f.value('installed') or '?'})",
        argv=_pip(py, "uninstall", "-y", *names),
    )
    steps = [
        dataclasses.replace(s, description=f"[TS001] {s.description}")
        for s in planned.steps
        if s.id != "create-venv"
    ]
    return [uninstall, *steps]


def _companion(py: TargetPython, f: Finding) -> Optional[Step]:
    """Reinstall the release of the companion built for the installed torch, from torch's index."""
    name, wanted, torch = f.value("package"), f.value("wanted"), f.value("torch")
    if name not in COMPANIONS or not wanted or not torch:
        return None
    dist = py.dist("torch")
    index = kb.index_for_local_label(dist.local if dist else None)
    description = (
        f"[TS011] install {name} {wanted}, the release built for torch {torch.partition('+')[0]}"
    )
    requirement = f"{name}=={wanted}"
    if index:
        step = pip_install_step(py.executable, [requirement], index)
        return dataclasses.replace(step, id=f"install-{name}", description=description)
    return Step(
        id=f"install-{name}", description=description, argv=_pip(py, "install", requirement)
    )
