"""Environments for rule tests: the real H200 capture, changed one fact at a time."""

from __future__ import annotations

import dataclasses
from functools import cache
from typing import Any

from tests.conftest import DATA
from torchsetup.detect.model import (
    Distribution,
    Environment,
    Gpu,
    Nvidia,
    OSInfo,
    TargetPython,
    TorchBuild,
)
from torchsetup.detect.snapshot import load_environment

H200_DIR = DATA / "real" / "h200-ubuntu24.04-driver580-torch2.11cu130"
BUILD_MACHINE_DIR = DATA / "real" / "debian12-cpu-nvcc13-no-driver"


@cache
def h200() -> Environment:
    return load_environment(str(H200_DIR))


@cache
def build_machine() -> Environment:
    return load_environment(str(BUILD_MACHINE_DIR))


def with_nvidia(env: Environment, **changes: Any) -> Environment:
    return dataclasses.replace(env, nvidia=dataclasses.replace(env.nvidia, **changes))


def with_python(env: Environment, **changes: Any) -> Environment:
    assert env.python is not None
    return dataclasses.replace(env, python=dataclasses.replace(env.python, **changes))


def with_torch(env: Environment, version: str, cuda: str | None) -> Environment:
    assert env.python is not None
    torch = TorchBuild(
        version=version, cuda=cuda, location="/venv/lib/python3.12/site-packages/torch"
    )
    dists = tuple(d for d in env.python.distributions if d.name != "torch") + (
        Distribution(
            name="torch",
            version=version.partition("+")[0],
            location="/venv/lib/python3.12/site-packages",
        ),
    )
    return with_python(env, torch=torch, distributions=dists)


def with_dist(
    env: Environment, name: str, version: str, requires: tuple[str, ...] = ()
) -> Environment:
    assert env.python is not None
    dists = tuple(d for d in env.python.distributions if d.name != name) + (
        Distribution(
            name=name,
            version=version,
            location="/venv/lib/python3.12/site-packages",
            requires=requires,
        ),
    )
    return with_python(env, distributions=dists)


def with_env_var(env: Environment, key: str, value: str) -> Environment:
    items = dict(env.env_vars)
    items[key] = value
    return dataclasses.replace(env, env_vars=tuple(sorted(items.items())))


def gpu(name: str = "NVIDIA GeForce RTX 3090", cc: str = "8.6", index: int = 0) -> Gpu:
    return Gpu(
        index=index,
        name=name,
        compute_capability=cc,
        memory_total_bytes=24 << 30,
        uuid=f"GPU-0000000{index}-aaaa-bbbb-cccc-dddddddddddd",
    )


def minimal(**changes: Any) -> Environment:
    base = Environment(
        os=OSInfo(
            system="Linux",
            name="Ubuntu 22.04.4 LTS",
            distro_id="ubuntu",
            version="22.04",
            machine="x86_64",
            libc="glibc",
            libc_version="2.35",
        ),
        nvidia=Nvidia(status="no-driver", pci_nvidia_devices=0),
        python=TargetPython(
            executable="/venv/bin/python",
            chosen_by="--python",
            ok=True,
            version="3.11.9",
            torch_checked=True,
        ),
    )
    return dataclasses.replace(base, **changes)
