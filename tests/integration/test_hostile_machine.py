"""A hostile machine (issue 15, items 9 and 14): an ASCII-only stdout, stdout on /dev/full, a
closed pipe, a cache folder that cannot be written. Each is a named failure or just works:
never exit 70, never a traceback."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    os.name != "posix", reason="NOT RUN: POSIX only (signals, /dev/full, sh stand-ins)"
)

SNAPSHOT = Path(__file__).resolve().parents[1] / "data" / "snapshots" / "h200-real.json"


def run(
    exe: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [exe, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
        check=False,
    )


def test_an_ascii_only_stdout(torchsetup_exe: str) -> None:
    r = run(
        torchsetup_exe, "doctor", "--snapshot", str(SNAPSHOT), env={"PYTHONIOENCODING": "ascii"}
    )
    assert r.returncode in (0, 1), r.stderr
    assert "internal error" not in r.stderr and "Doctor summary" in r.stdout
    assert "\\u2713" in r.stdout or "\\u2014" in r.stdout  # escaped, not an exception


@pytest.mark.parametrize(
    "args",
    [
        ("doctor", "--snapshot", str(SNAPSHOT)),
        ("matrix",),
        ("install", "--dry-run", "--json", "--snapshot", str(SNAPSHOT)),
    ],
    ids=["doctor", "matrix", "install-json"],
)
def test_stdout_on_dev_full(torchsetup_exe: str, args: tuple[str, ...]) -> None:
    with open("/dev/full", "w") as full:
        r = subprocess.run(
            [torchsetup_exe, *args], stdout=full, stderr=subprocess.PIPE, text=True, timeout=300
        )
    assert r.returncode == 1, r.stderr
    assert r.stderr.strip().splitlines() == ["torchsetup: error: No space left on device"] or (
        len(r.stderr.strip().splitlines()) == 1 and "No space left on device" in r.stderr
    ), r.stderr


def test_verify_into_head_keeps_its_exit_code(torchsetup_exe: str, torch_python: Path) -> None:
    """Item 14: rich's broken-pipe handling exited 1 whatever the checks said."""
    r = subprocess.run(
        f"'{torchsetup_exe}' verify --quick --python '{torch_python}' | head -1; exit ${{PIPESTATUS[0]}}",
        shell=True,
        executable="/bin/bash",
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(r.stdout.splitlines()) == 1


def test_a_cache_folder_that_cannot_be_written(
    torchsetup_exe: str, torch_python: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    r = run(
        torchsetup_exe,
        "install",
        "--cpu",
        "--torch",
        "2.13.0",
        "--python",
        str(torch_python),
        "--yes",
        "--index-url",
        "http://127.0.0.1:9/simple",
        env={"TORCHSETUP_CACHE_DIR": str(blocker / "cache")},
    )
    assert r.returncode == 1, r.stdout[-2000:] + r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("torchsetup: error: Not a directory")
    assert "internal error" not in r.stderr


def test_captured_output_is_capped(tmp_path: Path) -> None:
    """Item 15: 2 million nvidia-smi rows were all held (and took 45 s)."""
    import sys
    import time

    from torchsetup import proc

    started = time.monotonic()
    r = proc.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.stdout.write('0, NVIDIA H200, 580.1\\n' * 2_000_000)",
        ],
        timeout=60,
    )
    assert r.ok, r.describe_failure()
    assert len(r.stdout) <= proc.MAX_CAPTURE + len(proc.TRUNCATED)
    assert r.stdout.endswith(proc.TRUNCATED)
    assert time.monotonic() - started < 30


def test_a_huge_ld_library_path(torchsetup_exe: str) -> None:
    """Item 6: a 120 KB LD_LIBRARY_PATH made doctor take 20 s (quadratic redaction)."""
    import time

    value = ":".join(f"/opt/lib{i}/cuda-12.{i % 9}/lib64" for i in range(3900))  # ~110 KB
    started = time.monotonic()
    r = run(torchsetup_exe, "doctor", "--json", env={"LD_LIBRARY_PATH": value})
    assert r.returncode in (0, 1), r.stderr
    assert time.monotonic() - started < 20
