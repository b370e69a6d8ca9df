"""Everything another process runs or reads: the data and the scripts that run inside the target.

``target_probe.py`` (what the target interpreter has: doctor, install and verify read it),
``deep_probe.py`` (``doctor --deep``), ``smoke.py`` (``verify``), ``bytecode.py`` (the install's ``bytecode`` step) run in the target interpreter,
stdlib only, by path; ``stack_check.py`` (``verify --stack``: stdlib + the LLM stack)
with its corpus ``stack_corpus.txt``; ``matrix.json`` and ``stack.json`` are the
compatibility data and ``gpus.json`` the GPU table (model names -> compute capability,
and the era facts of old toolkits and torch 1.x binaries; read by
:mod:`torchsetup.matrix.gpus`). Their paths live here only.
"""

from __future__ import annotations

import os

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET_PROBE = os.path.join(HERE, "target_probe.py")
DEEP_PROBE = os.path.join(HERE, "deep_probe.py")
SMOKE = os.path.join(HERE, "smoke.py")
BYTECODE = os.path.join(HERE, "bytecode.py")  # the install's bytecode step (issue 12)
MATRIX = os.path.join(HERE, "matrix.json")
GPUS = os.path.join(HERE, "gpus.json")
STACK_CHECK = os.path.join(HERE, "stack_check.py")  # verify --stack (issue 13)
STACK_CORPUS = os.path.join(HERE, "stack_corpus.txt")  # the GPT-2 practice's training text


def read_bytes(name: str) -> bytes:
    """A resource's content (the data files are read by path: ``pkgutil`` costs start-up time)."""
    with open(os.path.join(HERE, name), "rb") as f:
        return f.read()
