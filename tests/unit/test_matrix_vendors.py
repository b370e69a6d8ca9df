"""matrix.json 'gpu_vendors': ROCm gfx targets, XPU families, JetPack indexes (closed schema)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from torchsetup.matrix.load import load_matrix, matrix_from_dict
from torchsetup.matrix.model import MatrixError
from torchsetup.resources import read_bytes


def document() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(read_bytes("matrix.json"))
    return copy.deepcopy(data)


def test_every_rocm_build_of_the_matrix_has_its_gfx_targets() -> None:
    matrix = load_matrix()
    for release in matrix.releases:
        for variant in release.variants:
            if variant.kind == "rocm":
                targets = matrix.vendors.targets_of(variant.name)
                assert targets is not None, (release.torch, variant.name)
                assert "gfx90a" in targets.targets and targets.source


def test_rocm7_builds_have_mi300_and_strix_halo_kernels_and_not_the_780m() -> None:
    targets = load_matrix().vendors.targets_of("rocm7.2")
    assert targets is not None
    assert {"gfx942", "gfx1151"} <= set(targets.targets) and "gfx1103" not in targets.targets
    assert load_matrix().vendors.override_for("gfx1103") == "11.0.0"


def test_jetpack_indexes_and_xpu_families() -> None:
    vendors = load_matrix().vendors
    jp6 = vendors.jetson_index("6")
    assert jp6 is not None and jp6.index_url and jp6.python == "3.10"
    assert "arc-a" in vendors.xpu_families and "linux-x86_64" in vendors.xpu_platforms


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("rocm_targets", 0, "targets"), "gfx1100;sm_90", "not a gfx target"),
        (("jetson", 0, "wheel_url"), "https://example.org/x.whl", "exactly one of"),
        (("rocm_targets", 0, "colour"), "red", "colour"),
    ],
)
def test_gpu_vendors_schema_is_closed(path: tuple[Any, ...], value: Any, message: str) -> None:
    data = document()
    node = data["gpu_vendors"]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(MatrixError, match=message):
        matrix_from_dict(data)


def test_a_matrix_without_gpu_vendors_still_loads() -> None:
    data = document()
    del data["gpu_vendors"]
    used = json.dumps({k: v for k, v in data.items() if k != "sources"})
    data["sources"] = {k: v for k, v in data["sources"].items() if f'"{k}"' in used}
    assert matrix_from_dict(data).vendors.rocm_targets == ()
