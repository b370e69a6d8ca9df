"""``verify --stack`` in a real torch venv without the stack: it fails, naming what is missing,
and the torch checks still run (the cached torch 2.13.0+cpu venv; no network)."""

from __future__ import annotations

import subprocess

import pytest

from tests.helpers.result import document
from tests.helpers.venvs import cached_torch_venv

pytestmark = pytest.mark.slow


def test_verify_stack_without_the_stack_fails_and_says_so(torchsetup_exe: str) -> None:
    python = cached_torch_venv()
    out = subprocess.run(
        [torchsetup_exe, "verify", "--quick", "--stack", "--python", str(python), "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 1, out.stderr[-2000:]
    doc = document(out.stdout, "verify")
    checks = {c["name"]: c for c in doc["result"]["checks"]}
    assert checks["import"]["status"] == "pass"
    assert checks["stack.versions"]["status"] == "fail"
    assert "no LLM-stack package is installed" in checks["stack.versions"]["detail"]
    assert not any(n.startswith("stack.gpt2") for n in checks)  # nothing to train with
