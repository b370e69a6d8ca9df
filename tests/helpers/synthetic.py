"""A synthetic release added to a copy of the data only: torch 2.99.0 with a new CUDA variant
(cu140, with its driver row), a new Python (3.15, with its Dynamo floor) and a companion pair
(torchvision 0.99.0, torchaudio 2.99.0). The acceptance test of "one place per fact": every
command sees it through ``TORCHSETUP_MATRIX`` with no code change."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PACKAGED = ROOT / "src" / "torchsetup" / "resources" / "matrix.json"
SNAPSHOT = ROOT / "tests" / "data" / "snapshots" / "h200-real.json"

TORCH, VARIANT, CUDA, PYTHON = "2.99.0", "cu140", "14.0", "3.15"
TORCHVISION, TORCHAUDIO = "0.99.0", "2.99.0"
DRIVER, MIN_DRIVER = "610.20.01", "610.10"
INDEX = f"https://download.pytorch.org/whl/{VARIANT}"
ARCH = "9.0;10.0f;12.0;14.0"  # no 8.x: an A100/RTX 3090 has no kernels in it
SOURCE_ID, SOURCE = "s-synthetic", "synthetic release for tests (tests/helpers/synthetic.py)"


def synthetic_matrix() -> dict[str, Any]:
    """The packaged matrix.json with the 2.99.0 release added (data only)."""
    data: dict[str, Any] = json.loads(PACKAGED.read_text(encoding="utf-8"))
    data["sources"][SOURCE_ID] = SOURCE
    release = copy.deepcopy(data["releases"][0])
    cpu = release["variants"]["cpu"]
    command = (
        f"pip install torch=={TORCH} torchvision=={TORCHVISION} torchaudio=={TORCHAUDIO} "
        f"--index-url {INDEX}"
    )
    cu140 = {
        "index_url": INDEX,
        "platforms": ["linux-x86_64"],
        "advertised": True,
        "command": command,
        "command_source": SOURCE_ID,
        "source": SOURCE_ID,
        "arch": {"linux-x86_64": {"list": ARCH, "source": SOURCE_ID}},
    }
    release.update(
        torch=TORCH,
        released="2027-06-01",
        torchvision=TORCHVISION,
        torchaudio=TORCHAUDIO,
        python=[*release["python"], PYTHON],
        variants={VARIANT: cu140, "cpu": cpu},
        conda=None,
        sources=[SOURCE_ID],
        notes=[],
        inferred=False,
    )
    release["platforms"]["linux-x86_64"]["pypi_default"] = VARIANT
    release["platforms"]["linux-aarch64"]["pypi_default"] = None
    data["releases"].insert(0, release)
    data["cuda"].append(
        {
            "version": CUDA,
            "variant": VARIANT,
            "linux_min_driver": MIN_DRIVER,
            "minor_compat_linux": "610",
            "source": SOURCE_ID,
            "max_gcc": 16,
            "max_gcc_source": SOURCE_ID,
        }
    )
    data["facts"]["dynamo"]["floors"][PYTHON] = "2.99"
    data["newest_torch"] = TORCH
    return data


def write_matrix(folder: Path) -> Path:
    path = folder / "matrix-2.99.json"
    path.write_text(json.dumps(synthetic_matrix(), indent=1), encoding="utf-8")
    return path


def write_snapshot(
    folder: Path, python: str = "3.12.3", driver: str = DRIVER, driver_cuda: str = CUDA
) -> Path:
    """The real H200 snapshot with a driver new enough for CUDA 14.0 (and another Python)."""
    snap = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    env = snap["environment"]
    env["nvidia"].update(driver_version=driver, cuda_driver_version=driver_cuda)
    env["nvidia"]["kernel_module_version"] = driver
    env["python"]["version"] = python
    path = folder / f"h200-driver{driver}-py{python}.json"
    path.write_text(json.dumps(snap, indent=1), encoding="utf-8")
    return path
