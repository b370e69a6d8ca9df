"""The knowledge interface the rules use, answered from the compatibility matrix."""

from __future__ import annotations

import pytest

from torchsetup.matrix import lookups as kb


@pytest.mark.parametrize(
    ("capability", "archs", "expected"),
    [
        ("8.6", ("sm_80",), True),  # same major, newer minor: SASS runs
        ("8.0", ("sm_86",), False),  # older minor does not run newer SASS
        ("12.0", ("sm_50", "sm_90"), False),
        ("12.1", ("sm_120",), True),
        ("13.0", ("sm_90", "compute_120"), True),  # PTX JIT for anything newer
        ("9.0", ("sm_90a",), True),
        ("10.0", ("sm_90a",), False),  # arch-specific targets are not forward compatible
        ("6.1", ("sm_75", "sm_80"), False),
    ],
)
def test_arch_supports(capability: str, archs: tuple[str, ...], expected: bool) -> None:
    assert kb.arch_supports(capability, archs) is expected


def test_arch_lists_follow_the_published_wheels() -> None:
    assert kb.arch_list("2.6.0+cu126", "cu126", "linux-x86_64") == (
        "sm_50",
        "sm_60",
        "sm_70",
        "sm_75",
        "sm_80",
        "sm_86",
        "sm_90",
    )
    assert kb.arch_list("2.10.0", "cu130", "linux-x86_64")[-2:] == ("sm_120", "compute_120")  # type: ignore[index]
    assert "compute_120" not in (kb.arch_list("2.12.1", "cu130", "windows-x86_64") or ())
    assert kb.arch_list("2.11.0", "cu130", "linux-x86_64") == (
        "sm_75",
        "sm_80",
        "sm_86",
        "sm_90",
        "sm_100",
        "sm_120",
    ), "the real H200 capture shows no PTX for 2.11 cu130"
    assert kb.arch_list("3.0.0", "cu130", "linux-x86_64") is None
    assert kb.arch_list("2.11.0", "cpu", "linux-x86_64") is None


def test_builds_with_kernels_for() -> None:
    assert kb.builds_with_kernels_for("12.0", "linux-x86_64")[0] == ("2.7.0", "cu128")
    assert kb.builds_with_kernels_for("6.1", "linux-x86_64")[-1] == ("2.14.1", "cu126")
    assert kb.builds_with_kernels_for("3.0", "linux-x86_64") == []


@pytest.mark.parametrize(
    ("torch", "python", "expected"),
    [
        ("2.0.1", "3.11", True),
        ("2.0.1", "3.12", False),
        ("2.4.1", "3.8", True),
        ("2.5.0", "3.8", False),
        ("2.6.0", "3.13", True),
        ("2.8.0", "3.9", True),
        ("2.9.0", "3.9", False),
        ("2.9.0", "3.14", True),
        ("2.14.1", "3.15", False),
        ("2.15.0", "3.15", True),
        ("2.15.0", "3.10", False),
        ("3.0.0", "3.12", None),  # not in the table: unknown
    ],
)
def test_python_supported(torch: str, python: str, expected: object) -> None:
    assert kb.python_supported(torch, python) is expected


def test_newest_torch_for_python_and_glibc() -> None:
    assert kb.newest_torch_for_python("3.8") == "2.4.1"
    assert kb.newest_torch_for_python("3.9") == "2.8.0"
    assert kb.newest_torch_for_python("3.15") == "2.15.0"
    assert kb.newest_torch_for_python("3.10") == "2.14.1"  # 2.15 drops 3.10
    assert kb.newest_torch_for_python("3.16") is None
    assert kb.min_glibc("2.7.0", "linux-x86_64") == "2.28"
    assert kb.min_glibc("2.6.0", "linux-x86_64", "cu126") == "2.28"
    assert kb.min_glibc("2.6.0", "linux-x86_64", "cu124") == "2.17"
    assert kb.min_glibc("2.6.0", "macos-arm64") is None
    assert kb.newest_torch_for_glibc("2.27", "linux-x86_64") == "2.6.0"  # pytorch/pytorch#156215


def test_platform_and_feature_minimums() -> None:
    assert kb.last_release_for("macos-x86_64") == "2.2.2"
    assert kb.last_release_for("linux-x86_64") is None
    assert kb.mps_min_macos("2.10.0") == "14.0"
    assert kb.mps_min_macos("2.5.1") == "13.0"
    assert kb.mps_min_macos("1.12.0") == "12.3"
    assert kb.mps_min_macos("1.11.0") is None
    assert kb.dynamo_min_torch("3.12") == "2.4"
    assert kb.dynamo_min_torch("3.10") == "2.0"
    assert kb.dynamo_min_torch("3.15") is None


@pytest.mark.parametrize(
    ("name", "version", "expected"),
    [
        ("torchvision", "0.7.0", ((1, 6), (1, 6))),
        ("torchvision", "0.28.0", ((2, 13), (2, 13))),
        ("torchvision", "0.29.1", ((2, 14), None)),
        ("torchaudio", "2.0.2", ((2, 0), (2, 0))),
        ("torchaudio", "2.11.0", ((2, 11), None)),
        ("torchaudio", "0.13.1", ((1, 13), (1, 13))),
        ("torchvision", "1.0.0", None),
    ],
)
def test_torch_minors_for(name: str, version: str, expected: object) -> None:
    assert kb.torch_minors_for(name, version) == expected


def test_companion_versions_and_indexes() -> None:
    assert kb.companion_versions("2.13.0+cpu") == ("0.28.0", None)
    assert kb.companion_versions("2.0.1") == ("0.15.2", "2.0.2")
    assert kb.companion_versions("9.9.9") is None
    assert kb.index_for_local_label("cu128") == "https://download.pytorch.org/whl/cu128"
    assert kb.index_for_local_label("rocm6.2") == "https://download.pytorch.org/whl/rocm6.2"
    assert kb.index_for_local_label(None) is None
    assert kb.index_for_local_label("gitabcdef") is None


@pytest.mark.parametrize(
    ("name", "cc"),
    [
        ("NVIDIA GeForce RTX 5090 D", "12.0"),
        ("NVIDIA GeForce RTX 4080 Laptop GPU", "8.9"),
        ("NVIDIA RTX 6000 Ada Generation", "8.9"),
        ("Quadro RTX 5000", "7.5"),
        ("NVIDIA RTX A5000", "8.6"),
        ("Tesla V100-PCIE-16GB", "7.0"),
        ("NVIDIA GeForce GTX 1050 Ti", "6.1"),
        ("NVIDIA H200", "9.0"),
        ("NVIDIA B200", "10.0"),
        ("TITAN RTX", "7.5"),
        ("Some Unknown Accelerator", None),
    ],
)
def test_capability_from_name(name: str, cc: object) -> None:
    assert kb.capability_from_name(name) == cc
