"""Stand-in tools, fuzzed: nvidia-smi and nvcc on PATH that print garbage, escapes, secrets or
a flood of rows, exit with odd codes, crash or hang. doctor (a real process) must finish within
its deadlines and keep every invariant."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import examples
from tests.fuzz.invariants import check
from tests.fuzz.strategies import ESCAPES

pytestmark = pytest.mark.skipif(
    os.name != "posix", reason="NOT RUN: POSIX only (signals, /dev/full, sh stand-ins)"
)

SMI_ROWS = "0, NVIDIA H200, 580.1, 9.0, 143771 MiB, GPU-00000000-0000-0000-0000-000000000000\n"

output = st.one_of(
    st.text(max_size=200),
    st.sampled_from(ESCAPES).map(lambda e: f"0, NVIDIA H200{e}, 580.1, 9.0, 1 MiB\n"),
    st.just(SMI_ROWS * 200_000),  # 2 million fields: a flood
    st.just("Failed to initialize NVML: Driver/library version mismatch\n"),
    st.just(
        "nvcc: NVIDIA (R) Cuda compiler driver\nCuda compilation tools, release 99999999999999999999.0\n"
    ),
    st.binary(max_size=100).map(lambda b: b.decode("latin-1")),
)
behaviour = st.sampled_from(["exit0", "exit1", "segv", "hang"])


def stand_in(folder: Path, name: str, text: str, how: str) -> None:
    data = folder / f"{name}.out"
    data.write_text(text, encoding="utf-8", errors="surrogateescape")
    tail = {
        "exit0": "exit 0",
        "exit1": "exit 1",
        "segv": "kill -SEGV $$",
        "hang": "exec sleep 300",
    }[how]
    script = folder / name
    script.write_text(f"#!/bin/sh\ncat '{data}'\n{tail}\n")
    script.chmod(0o755)


@settings(max_examples=examples(12))
@given(smi=output, smi_how=behaviour, nvcc=output, nvcc_how=behaviour, as_json=st.booleans())
def test_doctor_with_hostile_tools(
    smi: str,
    smi_how: str,
    nvcc: str,
    nvcc_how: str,
    as_json: bool,
    tmp_path_factory: Any,
    torchsetup_exe: str,
) -> None:
    folder = tmp_path_factory.mktemp("tools")
    stand_in(folder, "nvidia-smi", smi, smi_how)
    stand_in(folder, "nvcc", nvcc, nvcc_how)
    env = {**os.environ, "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}", "CUDA_HOME": ""}
    argv = ["doctor", "--timeout", "2", *(["--json"] if as_json else [])]
    started = time.monotonic()
    r = subprocess.run(
        [torchsetup_exe, *argv], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    took = time.monotonic() - started
    assert took < 60, f"doctor took {took:.0f} s with --timeout 2"
    check(argv, r.returncode, r.stdout, r.stderr)
