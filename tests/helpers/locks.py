"""A lock for a plan without an index (unit tests): the plan's packages with their variant as
local tag, plus one dependency, each with a made-up sha256."""

from __future__ import annotations

import hashlib

from torchsetup.resolve.lockfile import Lock, LockedPackage, LockedWheel
from torchsetup.resolve.plan import Plan


def fake_lock(plan: Plan) -> Lock:
    index = plan.index_url or "https://download.pytorch.org/whl/cpu"
    packages = [(name, f"{version}+{plan.variant}") for name, version in plan.packages()]
    packages.append(("filelock", "3.20.0"))
    return Lock(
        tuple(
            LockedPackage(
                name,
                version,
                index,
                LockedWheel(
                    f"{name}-{version}-py3-none-any.whl",
                    f"{index.rstrip('/')}/{name}-{version}-py3-none-any.whl",
                    hashlib.sha256(f"{name}=={version}".encode()).hexdigest(),
                    1000,
                ),
            )
            for name, version in packages
        ),
        requires_python="==3.11.*",
    )
