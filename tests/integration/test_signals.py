"""Signals (issue 15, item 10): Ctrl-C, SIGTERM and SIGHUP on doctor stop every child, even one
a probe started from a worker thread (a hung nvidia-smi), and exit 130 with one line."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from torchsetup.errors import EXIT_INTERRUPTED

pytestmark = pytest.mark.skipif(
    os.name != "posix", reason="NOT RUN: POSIX only (signals, /dev/full, sh stand-ins)"
)


def hung_tool(folder: Path, name: str, pidfile: Path) -> None:
    tool = folder / name
    tool.write_text(f"#!/bin/sh\necho $$ > {pidfile}\nexec sleep 300\n")
    tool.chmod(0o755)


@pytest.mark.parametrize(
    "sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=["SIGINT", "SIGTERM", "SIGHUP"]
)
def test_a_signal_on_doctor_stops_a_hung_nvidia_smi(
    sig: int, torchsetup_exe: str, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    pidfile = tmp_path / "smi.pid"
    hung_tool(bin_dir, "nvidia-smi", pidfile)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    doctor = subprocess.Popen(
        [torchsetup_exe, "doctor", "--timeout", "120"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # as in a terminal: its signals are ours to send
    )
    try:
        deadline = time.monotonic() + 60
        while not pidfile.exists() or not pidfile.read_text().strip():
            assert time.monotonic() < deadline, "the stand-in nvidia-smi never ran"
            assert doctor.poll() is None, doctor.communicate()
            time.sleep(0.1)
        smi = psutil.Process(int(pidfile.read_text()))
        time.sleep(0.3)
        doctor.send_signal(sig)
        _out, err = doctor.communicate(timeout=30)
    finally:
        if doctor.poll() is None:
            doctor.kill()
            doctor.communicate()
    assert doctor.returncode == EXIT_INTERRUPTED, (doctor.returncode, err[-2000:])
    assert err.strip().splitlines()[-1] == "torchsetup: interrupted", err
    assert "Traceback" not in err
    if smi.is_running():
        smi.wait(timeout=10)
    assert not (smi.is_running() and smi.status() != psutil.STATUS_ZOMBIE), "nvidia-smi survived"
