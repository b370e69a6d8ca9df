"""Fleets for doctor --fleet tests: copies of the real H200 doctor --json, each altered as a
real fleet drifts (another driver, a GPU missing, a CPU torch on one node)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Callable

REAL = Path(__file__).resolve().parent.parent / "data" / "real"
H200 = REAL / "h200-torchsetup-run"
CAPTURE = REAL / "h200-ubuntu24.04-driver580-torch2.11cu130"

Alter = Callable[[dict[str, Any]], None]


def doctor_json() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((H200 / "doctor.json").read_text(encoding="utf-8"))
    return data


def another_driver(env: dict[str, Any]) -> None:
    env["nvidia"]["driver_version"] = "570.172.08"
    env["nvidia"]["cuda_driver_version"] = "12.8"


def a_gpu_missing(env: dict[str, Any]) -> None:
    env["nvidia"]["gpus"] = []


def cpu_torch(env: dict[str, Any]) -> None:
    torch = env["python"]["torch"]
    torch.update(version="2.11.0+cpu", cuda=None)
    env["python"]["distributions"] = [
        d for d in env["python"]["distributions"] if not d["name"].startswith("nvidia-")
    ]


def write_fleet(tmp: Path, changes: dict[str, Alter | None], *, wrap: set[str] = set()) -> Path:  # noqa: B006
    folder = tmp / "fleet"
    folder.mkdir()
    for host, change in changes.items():
        data = copy.deepcopy(doctor_json())
        data["environment"]["os"]["hostname"] = host
        if change is not None:
            change(data["environment"])
        if host in wrap:
            data = {"schema": 1, "torchsetup_version": "0.2.0", "command": "doctor", "result": data}
        (folder / f"{host}.json").write_text(json.dumps(data), encoding="utf-8")
    return folder
