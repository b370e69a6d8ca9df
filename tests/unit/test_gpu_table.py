"""The one GPU table (resources/gpus.json): closed schema, every example placed by its own
entry, the era facts, and its users (doctor's lookups, --target-gpu by name)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from torchsetup.errors import UsageError
from torchsetup.matrix import lookups as kb
from torchsetup.matrix.gpus import gpu_table, table_from_dict
from torchsetup.matrix.model import MatrixError
from torchsetup.resolve.request import parse_targets
from torchsetup.resources import read_bytes

DOC: dict[str, Any] = json.loads(read_bytes("gpus.json"))


def test_covers_tesla_through_blackwell() -> None:
    archs = {m.architecture for m in gpu_table().models}
    assert {"Tesla", "Fermi", "Kepler", "Maxwell", "Pascal", "Volta", "Turing"} <= archs
    assert {"Ampere", "Ada Lovelace", "Hopper", "Blackwell"} <= archs
    ccs = {m.capability for m in gpu_table().models}
    assert {"1.0", "1.2", "2.0", "2.1", "3.0", "3.5", "3.7", "5.0", "5.2", "6.1", "12.0"} <= ccs


@pytest.mark.parametrize(
    ("name", "cc"),
    [
        ("GeForce 210", "1.2"),
        ("NVIDIA GeForce GTX 1080 Ti", "6.1"),
        ("GeForce GTX 580", "2.0"),
        ("Tesla K80", "3.7"),
        ("NVIDIA GeForce RTX 3060 Laptop GPU", "8.6"),
        ("NVIDIA GeForce GTX 960M", "5.0"),
        ("NVIDIA B300 SXM6 AC", "10.3"),
        ("NVIDIA GeForce RTX 3050 Laptop GPU", "8.6"),
        ("NVIDIA GeForce RTX 2080 SUPER", "7.5"),
        ("NVIDIA GeForce GTX 1660 Ti", "7.5"),
        ("NVIDIA RTX 2000 Ada Generation", "8.9"),
        ("NVIDIA GeForce RTX 5070", "12.0"),
        ("NVIDIA RTX PRO 6000 Blackwell Workstation Edition", "12.0"),
        ("NVIDIA A100-PCIE-40GB", "8.0"),
        ("NVIDIA RTX A500 Laptop GPU", "8.6"),
        ("Quadro GV100", "7.0"),
        ("Tesla P100-PCIE-12GB", "6.0"),
        ("GeForce GTX 1070 with Max-Q Design", "6.1"),
        ("Quadro M1200", "5.0"),
        ("GeForce GTX 980M", "5.2"),
        ("GeForce GT 730M", "3.0"),
        ("Quadro T2000", "7.5"),
        ("NVIDIA Jetson Orin Nano", "8.7"),
    ],
)
def test_names(name: str, cc: str) -> None:
    assert kb.capability_from_name(name) == cc


def _broken(change: Any) -> dict[str, Any]:
    doc = copy.deepcopy(DOC)
    change(doc)
    return doc


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["gpus"][0].update(capabilty="1.0"), r"gpus\[0\]\.capabilty: unknown key"),
        (lambda d: d["gpus"][0].update(capability="twelve"), "is not a compute capability"),
        (lambda d: d["gpus"][0].update(pattern="(unclosed"), r"gpus\[0\]\.pattern"),
        (lambda d: d["gpus"][0].update(source="nowhere"), "not in the sources table"),
        (
            lambda d: d["gpus"][-1]["examples"].append("NVIDIA H100"),
            "is placed at 9.0, not 1.0",
        ),
        (lambda d: d["toolkit_floors"].reverse(), "newest CUDA major first"),
    ],
)
def test_closed_schema(change: Any, message: str) -> None:
    with pytest.raises(MatrixError, match=message):
        table_from_dict(_broken(change))


def test_era_facts() -> None:
    assert kb.no_kernels_ever("1.2", "10.2", "1.8.1") is not None  # Tesla: no CUDA 10 code
    assert kb.no_kernels_ever("3.0", "10.2", "1.8.1") is not None  # below the 1.x binaries
    assert kb.no_kernels_ever("3.5", "10.2", "1.8.1") is None
    assert kb.no_kernels_ever("3.5", "11.3", "1.12.1") is not None  # cu11x binaries: 3.7
    assert kb.no_kernels_ever("6.1", "13.0", "2.11.0") is not None  # CUDA 13: from 7.5


def test_target_gpu_takes_model_names() -> None:
    targets = parse_targets(
        platform=None, python=None, driver=None, gpus="GeForce GTX 1080 Ti, 8.6", glibc=None
    )
    assert targets["target_gpus"] == ("6.1", "8.6")
    with pytest.raises(UsageError, match="malformed"):
        parse_targets(platform=None, python=None, driver=None, gpus="Voodoo 2", glibc=None)
