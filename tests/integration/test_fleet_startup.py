"""The console script on a fleet folder, and what `--help`, `verify --help` and `doctor --fleet`
import (``python -X importtime``): the new options must keep start-up cheap."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.helpers.fleet import another_driver, write_fleet
from tests.helpers.result import unwrap

HEAVY = ("rich", "packaging", "requests", "psutil", "pynvml")


def imported(*args: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "torchsetup", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    names = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    assert names, proc.stderr[-2000:]
    return names


def top_level(names: set[str]) -> set[str]:
    return {n.split(".")[0] for n in names}


def test_help_imports_nothing_heavy() -> None:
    assert not top_level(imported("--help")) & set(HEAVY)


def test_verify_help_does_not_import_the_bandwidth_or_topology_modules() -> None:
    names = imported("verify", "--help")
    assert not top_level(names) & set(HEAVY)
    assert not {"torchsetup.verify.bandwidth", "torchsetup.verify.topology"} & names
    assert "torchsetup.verify.slurm" not in names


def test_doctor_fleet_through_the_console_script(torchsetup_exe: str, tmp_path: Path) -> None:
    folder = write_fleet(tmp_path, {"gpu01": None, "gpu02": None, "gpu03": another_driver})
    proc = subprocess.run(
        [torchsetup_exe, "doctor", "--fleet", str(folder), "--strict", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    doc = unwrap(proc.stdout, "doctor")
    assert doc["drifted"] == ["driver", "cuda_max"]
    names = imported("doctor", "--fleet", str(folder))
    assert not top_level(names) & set(HEAVY)
    assert "torchsetup.doctor.rules" not in names  # comparing facts runs no rule
