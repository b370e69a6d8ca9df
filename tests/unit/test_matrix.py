"""The packaged matrix: loading, validation, lookups and the coverage rule."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Callable

import pytest

from torchsetup.matrix.load import MatrixError, load_matrix, matrix_from_dict
from torchsetup.matrix.model import (
    COVERAGE_PTX,
    COVERAGE_SASS,
    PLATFORMS,
    Matrix,
    parse_arch_list,
)
from torchsetup.versions import version_at_least, version_tuple

DATA = Path(__file__).resolve().parents[1] / "data"
RAW = json.loads(
    (Path(__file__).resolve().parents[2] / "src/torchsetup/resources/matrix.json").read_text()
)


@pytest.fixture(scope="module")
def matrix() -> Matrix:
    return load_matrix()


def test_loaded_once_newest_first(matrix: Matrix) -> None:
    assert load_matrix() is matrix
    versions = [r.version for r in matrix.releases]
    assert versions == sorted(versions, reverse=True)
    assert matrix.releases[0].torch == "2.15.0" and matrix.releases[-1].torch == "2.0.0"
    assert len(matrix.releases) == 28


@pytest.mark.parametrize(
    ("arch", "cc", "expected"),
    [
        ("5.0;6.0;7.0;7.5;8.0;8.6;9.0", (6, 1), COVERAGE_SASS),  # 6.0 SASS runs on 6.1
        ("7.5;8.0;8.6;9.0;10.0;12.0", (6, 1), None),  # no 6.x at all
        ("7.5;8.0;8.6;9.0;10.0;12.0", (8, 9), COVERAGE_SASS),  # 8.6 SASS runs on 8.9
        ("7.5;8.0;8.6;9.0;10.0;12.0", (12, 1), COVERAGE_SASS),
        ("7.5;8.0;8.6;9.0;10.0;12.0", (11, 0), None),  # other major, no PTX
        ("7.5;8.0;8.6;9.0;10.0;12.0+PTX", (13, 0), COVERAGE_PTX),  # PTX JIT forward
        ("7.5;8.0;8.6;9.0;10.0;12.0+PTX", (11, 0), None),  # PTX only runs on >= 12.0
        ("8.0;9.0a", (9, 0), COVERAGE_SASS),
        ("8.0;9.0a", (9, 1), None),  # arch-specific 'a' SASS: only that exact GPU
        ("3.7+PTX;5.0", (12, 0), COVERAGE_PTX),
        ("8.6", (8, 0), None),  # SASS never runs on an older minor
    ],
)
def test_coverage_rule(
    arch: str, cc: tuple[int, int], expected: str | None, matrix: Matrix
) -> None:
    from torchsetup.matrix.model import ArchList

    assert ArchList(arch, parse_arch_list(arch), "test").coverage(cc) == expected


def test_cu117_only_for_2_0_with_its_index(matrix: Matrix) -> None:
    assert [r.torch for r in matrix.releases_with("cu117")] == ["2.0.1", "2.0.0"]
    r = matrix.release("2.0.1")
    assert r is not None
    v = r.variant("cu117")
    assert v is not None and v.index_url == "https://download.pytorch.org/whl/cu117"
    assert (r.torchvision, r.torchaudio) == ("0.15.2", "2.0.2")
    assert v.command == (
        "pip install torch==2.0.1 torchvision==0.15.2 torchaudio==2.0.2 --index-url https://download.pytorch.org/whl/cu117"
    )


def test_torchaudio_ends_with_2_11(matrix: Matrix) -> None:
    for r in matrix.releases:
        assert (r.torchaudio is None) == (r.version >= (2, 12)), r.torch


def test_conda_only_up_to_2_5_1_and_2_0_0_domains(matrix: Matrix) -> None:
    with_conda = [r.torch for r in matrix.releases if r.conda is not None]
    assert max(with_conda, key=version_tuple) == "2.5.1"
    r = matrix.release("2.0.0")
    assert r is not None and r.conda is not None
    assert (r.conda.torchvision, r.conda.torchaudio) == ("0.15.0", "2.0.0")
    assert (r.torchvision, r.torchaudio) == ("0.15.1", "2.0.1")  # pip pairs differ
    assert r.conda.command("cu117", "linux-x86_64") == (
        "conda install pytorch==2.0.0 torchvision==0.15.0 torchaudio==2.0.0 pytorch-cuda=11.7 -c pytorch -c nvidia"
    )
    assert (
        r.conda.command("cpu", "macos-arm64")
        == "conda install pytorch==2.0.0 torchvision==0.15.0 torchaudio==2.0.0 -c pytorch"
    )
    assert r.conda.command("cu117", "linux-aarch64") is None


def test_platform_rules(matrix: Matrix) -> None:
    intel_mac = [r.torch for r in matrix.releases if r.available_on("macos-x86_64")]
    assert max(intel_mac, key=version_tuple) == "2.2.2"
    aarch64_cuda = [
        r.torch
        for r in matrix.releases
        if any(v.kind == "cuda" for v in r.variants_for("linux-aarch64"))
    ]
    assert min(aarch64_cuda, key=version_tuple) == "2.7.0"
    for r in matrix.releases:
        win = r.platform("windows-x86_64")
        assert win is not None and win.pypi_default == "cpu"  # Windows PyPI wheel = CPU
        assert all(v.kind != "rocm" for v in r.variants_for("windows-x86_64"))  # no ROCm on Windows
        assert [v.name for v in r.variants_for("macos-arm64")] == ["cpu"]


def test_manylinux_floors(matrix: Matrix) -> None:
    def glibc(torch: str, variant: str, platform: str = "linux-x86_64") -> str | None:
        r = matrix.release(torch)
        assert r is not None
        v = r.variant(variant)
        assert v is not None
        wheel = r.wheel(v, platform)
        assert wheel is not None
        return wheel.min_glibc

    assert glibc("2.5.1", "cu124") == "2.17"
    assert glibc("2.6.0", "cu124") == "2.17"
    assert glibc("2.6.0", "cu126") == "2.28"
    assert glibc("2.7.0", "cpu") == "2.28"
    assert glibc("2.3.1", "cpu", "linux-aarch64") == "2.17"


def test_driver_rows(matrix: Matrix) -> None:
    rows = {row.variant: row for row in matrix.cuda}
    assert rows["cu117"].linux_min_driver == "515.43.04"
    assert rows["cu128"].linux_min_driver == "570.26"
    assert rows["cu132"].linux_min_driver == "595.45.04"
    assert {rows[v].minor_compat_linux for v in ("cu117", "cu118")} == {"450.80.02"}
    assert {rows[v].minor_compat_linux for v in ("cu121", "cu124", "cu126", "cu128", "cu129")} == {
        "525.60.13"
    }
    assert {rows[v].minor_compat_linux for v in ("cu130", "cu132", "cu134")} == {"580"}
    assert rows["cu134"].linux_min_driver is None and "minor_compat_linux" in rows["cu134"].inferred
    for row in matrix.cuda:
        assert row.max_gcc and row.max_gcc_source and "host_config.h" in row.max_gcc_source
    assert [rows[v].max_gcc for v in ("cu118", "cu121", "cu124", "cu128", "cu130")] == [
        11,
        12,
        13,
        14,
        15,
    ]


def test_h200_capture_followed_for_2_11_cu130(matrix: Matrix) -> None:
    captured = json.loads(
        (DATA / "real/h200-ubuntu24.04-driver580-torch2.11cu130/torch_info.txt").read_text()
    )
    assert captured["version"] == "2.11.0+cu130"
    r = matrix.release("2.11.0")
    assert r is not None
    v = r.variant("cu130")
    assert v is not None
    arch = v.arch_list("linux-x86_64")
    assert arch is not None and not arch.inferred and "torch_info.txt" in arch.source
    assert [f"sm_{e.major}{e.minor}" for e in arch.entries] == captured["arch_list"]
    assert not any(e.ptx for e in arch.entries)
    assert any("2.11.0 cu130" in d.topic for d in matrix.disagreements)


def test_unadvertised_builds(matrix: Matrix) -> None:
    cu129 = {r.torch: r.variant("cu129") for r in matrix.releases_with("cu129")}
    assert [t for t, v in cu129.items() if v is not None and v.advertised] == ["2.8.0"]
    assert all(not v.advertised for r in matrix.releases_with("cu134") if (v := r.variant("cu134")))


def test_every_entry_has_a_source(matrix: Matrix) -> None:
    for r in matrix.releases:
        assert r.sources and r.python_source and r.source_build.source
        for p in r.platforms:
            assert p.wheel.source, (r.torch, p.key)
        for v in r.variants:
            assert v.source, (r.torch, v.name)
            for key, arch in v.arch:
                assert arch.source, (r.torch, v.name, key)
    for row in matrix.cuda:
        assert row.source


def test_version_helpers() -> None:
    assert version_tuple("535.104.05") == (535, 104, 5)
    assert version_tuple("24.0.dev0") == (24, 0)
    assert version_at_least("580.0.1", "580")
    assert not version_at_least("575.51", "580")
    assert version_at_least("20.3", "20.3.0")


# --- validation: a bad entry fails at load, naming the entry ------------------------------------


def _mutate(edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    data: dict[str, Any] = copy.deepcopy(RAW)
    edit(data)
    return data


def _release(data: dict[str, Any], torch: str) -> dict[str, Any]:
    return next(r for r in data["releases"] if r["torch"] == torch)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: _release(d, "2.0.1")["variants"]["cu118"].update(platforms=["solaris-sparc"]),
            "unknown platform",
        ),
        (
            lambda d: _release(d, "2.0.1")["variants"]["cu118"].update(index_url=None),
            "without an https index URL",
        ),
        (
            lambda d: d.update(cuda=[c for c in d["cuda"] if c["variant"] != "cu118"]),
            "cu118 has no driver row",
        ),
        (lambda d: _release(d, "2.0.1").update(sources=[]), "release without sources"),
        (
            lambda d: _release(d, "2.0.1")["variants"]["cu118"]["arch"]["linux-x86_64"].update(
                list="8.6;sm_90"
            ),
            "bad TORCH_CUDA_ARCH_LIST item",
        ),
        (lambda d: d["releases"].reverse(), "newest first"),
        (
            lambda d: _release(d, "2.0.1")["platforms"]["linux-x86_64"].update(
                pypi_default="cu999"
            ),
            "PyPI default",
        ),
        (
            lambda d: _release(d, "2.0.1")["variants"]["cu118"].update(command=None),
            "without its documented command",
        ),
        (
            lambda d: d["cuda"][0].update(linux_min_driver=None, minor_compat_linux=None),
            "neither a Linux minimum",
        ),
        (lambda d: _release(d, "2.0.1")["source_build"].update(build="make"), "source_build.build"),
    ],
)
def test_bad_entries_raise(edit: Callable[[dict[str, Any]], None], message: str) -> None:
    with pytest.raises(MatrixError, match=message):
        matrix_from_dict(_mutate(edit))


def test_error_names_the_entry() -> None:
    data = _mutate(
        lambda d: _release(d, "2.4.1")["variants"]["cu121"].update(platforms=["linux-riscv64"])
    )
    with pytest.raises(MatrixError) as info:
        matrix_from_dict(data)
    assert "releases[2.4.1].variants.cu121.platforms" in str(info.value)


def test_platforms_constant_matches_data() -> None:
    assert tuple(RAW["platforms"]) == PLATFORMS
