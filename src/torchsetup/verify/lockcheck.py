"""``verify --expect-lock FILE``: the environment holds exactly the lock's packages.

Every package of the pylock.toml must be installed at exactly its version, local tag included
(``torch 2.13.0+cpu``, not ``2.13.0`` nor ``2.13.0+cu130``). Distributions the lock does not
name (pip, the project itself) are listed, not failed. Read from the target's one probe (its
distribution list); torch is not imported for this check.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from torchsetup.detect.model import Distribution
from torchsetup.resolve.lockfile import Lock
from torchsetup.verify.model import FAIL, PASS, CheckResult

NAME = "expect.lock"


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _same(locked: str, installed: str) -> bool:
    from packaging.version import InvalidVersion, Version

    try:
        return Version(locked) == Version(installed) and (
            Version(locked).local == Version(installed).local
        )
    except InvalidVersion:
        return locked == installed


def lock_check(lock: Lock, installed: Iterable[Distribution], where: str) -> CheckResult:
    have = {_canon(d.name): d.version for d in installed}
    wrong = []
    for p in lock.packages:
        got = have.get(_canon(p.name))
        if got is None:
            wrong.append(f"{p.name} {p.version} is not installed")
        elif not _same(p.version, got):
            wrong.append(f"{p.name} is {got}, the lock has {p.version}")
    extra = sorted(set(have) - {_canon(p.name) for p in lock.packages})
    data = {"lock": where, "mismatches": wrong, "not_in_lock": extra}
    if wrong:
        return CheckResult(
            NAME,
            FAIL,
            detail=f"the environment does not match {where}: "
            + "; ".join(wrong[:5])
            + (f" (and {len(wrong) - 5} more)" if len(wrong) > 5 else ""),
            hint=f"torchsetup install --lock {where}",
            data=data,
        )
    return CheckResult(
        NAME,
        PASS,
        detail=f"all {len(lock.packages)} packages of {where} installed at exactly their versions",
        data=data,
    )


__all__ = ["lock_check"]
