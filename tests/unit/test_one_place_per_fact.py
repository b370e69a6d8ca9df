"""Each fact has one home: version parsing in versions.py, arch coverage in the matrix model,
release facts (Dynamo floors, companion numbering, ends of torchaudio and conda) in the data."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest

from torchsetup.matrix import lookups
from torchsetup.matrix.load import load_matrix
from torchsetup.matrix.model import (
    COVERAGE_PTX,
    COVERAGE_SASS,
    ArchList,
    arch_entry_from_name,
    coverage_of,
    parse_arch_list,
)
from torchsetup.versions import version_tuple

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2.13.0+cu128", (2, 13, 0)),
        ("1.2.3.4", (1, 2, 3, 4)),
        ("24.0.dev0", (24, 0)),
        ("2.10.0.dev20251008", (2, 10, 0)),
        ("2.5.0rc1", (2, 5, 0)),
        ("535.104.05", (535, 104, 5)),
        ("3.13t", (3, 13)),
        ("", ()),
        (None, ()),
    ],
)
def test_version_tuple(text: str | None, expected: tuple[int, ...]) -> None:
    assert version_tuple(text) == expected


def test_one_version_tuple() -> None:
    assert lookups.version_tuple is version_tuple
    curate = (ROOT / "tools/curate_matrix.py").read_text(encoding="utf-8")
    assert "def vtuple" not in curate
    for path in (ROOT / "src/torchsetup").rglob("*.py"):
        if path.name == "smoke.py":  # runs in the target, stdlib only: its own small copy
            continue
        defined = {  # module-level helpers (a record's own property is not a second parser)
            node.name
            for node in ast.parse(path.read_text(encoding="utf-8")).body
            if isinstance(node, ast.FunctionDef)
        }
        assert "version_tuple" not in defined or path.name == "versions.py", path


# --- arch coverage: one rule for the resolver (ArchList) and doctor (lookups.arch_supports) -----


def test_family_target_on_a_newer_minor_agrees() -> None:
    """sm_100f (family SASS) runs on a 10.3 GPU: the resolver and doctor both say so."""
    family = ArchList("9.0;10.0f", parse_arch_list("9.0;10.0f"), "test")
    assert family.coverage((10, 3)) == COVERAGE_SASS
    assert lookups.arch_supports("10.3", ("sm_90", "sm_100f")) is True
    assert lookups.arch_supports("10.3", ("sm_90", "sm_100a")) is False  # 'a': only 10.0
    assert lookups.arch_supports("10.0", ("sm_90", "sm_100a")) is True
    from torchsetup.verify.judge import arch_supported

    assert arch_supported((10, 3), ("sm_90", "sm_100f")) == "sm_100f"


def test_names_parse_to_the_matrix_entries() -> None:
    assert arch_entry_from_name("sm_90a") == (9, 0, "a", False, True)
    assert arch_entry_from_name("sm_100f") == (10, 0, "f", False, True)
    assert arch_entry_from_name("compute_120") == (12, 0, "", True, False)
    assert arch_entry_from_name("gfx90a") is None


LISTS = [
    "7.5;8.0;8.6;9.0;10.0;12.0",
    "8.0;9.0a;10.0f",
    "5.0;6.0;7.0+PTX",
    "9.0;12.0+PTX",
    "10.0a;12.0f",
]
CCS = [
    (6, 1),
    (7, 0),
    (7, 5),
    (8, 6),
    (8, 9),
    (9, 0),
    (9, 1),
    (10, 0),
    (10, 3),
    (11, 0),
    (12, 0),
    (12, 1),
    (13, 0),
]


def _torch_names(text: str) -> tuple[str, ...]:
    """What torch.cuda.get_arch_list() prints for a build with this TORCH_CUDA_ARCH_LIST."""
    out: list[str] = []
    for e in parse_arch_list(text):
        out.append(f"sm_{e.major}{e.minor}{e.suffix}")
        if e.ptx:
            out.append(f"compute_{e.major}{e.minor}")
    return tuple(out)


@pytest.mark.parametrize(("text", "cc"), list(itertools.product(LISTS, CCS)))
def test_doctor_and_resolver_agree(text: str, cc: tuple[int, int]) -> None:
    from torchsetup.verify.judge import arch_supported

    resolver = ArchList(text, parse_arch_list(text), "test").coverage(cc)
    doctor = lookups.arch_supports(f"{cc[0]}.{cc[1]}", _torch_names(text))
    verify = arch_supported(cc, _torch_names(text))
    assert doctor is (resolver is not None) is (verify is not None)


def test_ptx_only_names_are_not_sass() -> None:
    entries = [e for n in ("compute_90",) if (e := arch_entry_from_name(n))]
    assert coverage_of(entries, (9, 0)) == COVERAGE_PTX
    assert coverage_of(entries, (8, 9)) is None


# --- release facts come from the data ----------------------------------------------------------


def test_dynamo_floors_are_data() -> None:
    dynamo = load_matrix().dynamo
    assert dict(dynamo.floors)["3.13"] == lookups.dynamo_min_torch("3.13") == "2.6"
    assert dynamo.source and "#144048" in dynamo.source
    source = (ROOT / "src/torchsetup/matrix/lookups.py").read_text(encoding="utf-8")
    assert "_DYNAMO_MIN_TORCH" not in source and '"3.13"' not in source


def test_companion_numbering_is_data() -> None:
    matrix = load_matrix()
    rules = dict(matrix.companion_rules)
    assert {"torchvision", "torchaudio"} <= set(rules)
    assert all(rule.source for r in rules.values() for rule in r)
    assert lookups.torch_minors_for("torchvision", "0.29.2") == ((2, 14), None)
    source = (ROOT / "src/torchsetup/matrix/lookups.py").read_text(encoding="utf-8")
    assert "(0, 29, 1)" not in source


def test_the_ends_of_torchaudio_and_conda_are_computed_from_the_data() -> None:
    from torchsetup.resolve.resolver import conda_end, last_companion

    matrix = load_matrix()
    assert last_companion(matrix, "torchaudio") == "2.11.0"
    assert last_companion(matrix, "torchvision") is None  # the newest release still has one
    assert conda_end(matrix) == "the pytorch channel ended with 2.5.1"
    source = (ROOT / "src/torchsetup/resolve/resolver.py").read_text(encoding="utf-8")
    assert "2.11.0" not in source and "2.5.1" not in source


def test_the_ends_follow_the_data_when_it_changes() -> None:
    """torchvision ending (it has not) would be named with its own version, not torchaudio's."""
    import copy
    import json

    from torchsetup.matrix.load import matrix_from_dict
    from torchsetup.resolve.resolver import conda_end, last_companion

    raw = json.loads((ROOT / "src/torchsetup/resources/matrix.json").read_text(encoding="utf-8"))
    data = copy.deepcopy(raw)
    for release in data["releases"][:3]:  # 2.15.0, 2.14.1 and 2.14.0 without torchvision
        release["torchvision"] = None
    newest_conda = next(r for r in data["releases"] if r["conda"] is not None)
    newest_conda["conda"] = None  # 2.5.1 off the channel: it ended with 2.5.0
    matrix = matrix_from_dict(data)
    assert last_companion(matrix, "torchvision") == data["releases"][3]["torchvision"] == "0.28.0"
    assert last_companion(matrix, "torchaudio") == "2.11.0"
    assert conda_end(matrix) == "the pytorch channel ended with 2.5.0"
