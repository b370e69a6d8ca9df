"""Pure parsers fed with real captured outputs (tests/data/real) and known shapes."""

from __future__ import annotations

import pytest

from tests.conftest import DATA
from torchsetup.detect.parse import nvidia as pnv
from torchsetup.detect.parse import system as psys
from torchsetup.detect.parse import toolkit as ptk

H200 = DATA / "real" / "h200-ubuntu24.04-driver580-torch2.11cu130"
DEB = DATA / "real" / "debian12-cpu-nvcc13-no-driver"


def test_smi_query_csv_real_h200() -> None:
    rows = pnv.parse_smi_query_csv((H200 / "nvidia_smi_query.txt").read_text())
    assert len(rows) == 1
    gpu = rows[0]
    assert gpu["name"] == "NVIDIA H200"
    assert gpu["compute_capability"] == "9.0"
    assert gpu["driver_version"] == "580.159.04"
    assert gpu["memory_total_bytes"] == 143771 * 1024 * 1024
    assert gpu["mig_enabled"] is False
    assert gpu["uuid"] == "GPU-71992ad7-f259-b6ed-fd4d-f97a26e05328"


@pytest.mark.parametrize("text", ["", "garbage\n", "index, name\n0, A100, extra, cells"])
def test_smi_query_csv_rejects_garbage(text: str) -> None:
    with pytest.raises(pnv.SmiParseError):
        pnv.parse_smi_query_csv(text)


def test_proc_driver_version_real_h200() -> None:
    assert (
        pnv.parse_proc_driver_version((H200 / "proc_driver_version.txt").read_text())
        == "580.159.04"
    )


def test_proc_driver_version_proprietary_module() -> None:
    text = (
        "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 01:15:15 UTC 2023\n"
    )
    assert pnv.parse_proc_driver_version(text) == "535.104.05"


@pytest.mark.parametrize(
    ("text", "status"),
    [
        (
            "Failed to initialize NVML: Driver/library version mismatch\nNVML library version: 535.183",
            "mismatch",
        ),
        (
            "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.",
            "not-loaded",
        ),
        ("No devices were found", "no-gpu"),
        ("Failed to initialize NVML: Unknown Error", "error"),
        ("all fine", None),
    ],
)
def test_classify_smi_failure(text: str, status: str | None) -> None:
    assert pnv.classify_smi_failure(text) == status


@pytest.mark.parametrize(
    ("value", "cuda"), [(13000, "13.0"), (12040, "12.4"), (11080, "11.8"), (0, None), (None, None)]
)
def test_cuda_version_from_int(value: int | None, cuda: str | None) -> None:
    assert pnv.cuda_version_from_int(value) == cuda


@pytest.mark.parametrize(
    ("driver", "cuda"),
    [
        ("580.159.04", "13.0"),
        ("570.26", "12.8"),
        ("535.104.05", "12.2"),
        ("470.82.01", "11.4"),
        ("525.60.13", "12.0"),
        ("525.60.12", "11.8"),
        ("375.26", None),
        ("390.46", "9.1"),
        ("junk", None),
        (None, None),
    ],
)
def test_max_cuda_for_driver(driver: str | None, cuda: str | None) -> None:
    assert pnv.max_cuda_for_driver(driver) == cuda


@pytest.mark.parametrize(
    ("error", "status"),
    [
        ("NVML init failed: Driver/library version mismatch", "mismatch"),
        ("NVML init failed: Driver Not Loaded", "not-loaded"),
        ("NVML init failed: NVML Shared Library Not Found", "no-driver"),
        ("NVML init failed: Unknown Error", "error"),
    ],
)
def test_nvml_error_status(error: str, status: str) -> None:
    assert pnv.nvml_error_status(error) == status


def test_nvcc_real_captures() -> None:
    for d in (H200, DEB):
        assert ptk.parse_nvcc_version((d / "nvcc_version.txt").read_text()) == ("13.0", "13.0.88")
    assert ptk.parse_nvcc_version("no nvcc here") == (None, None)


def test_gcc_version_real() -> None:
    assert ptk.parse_compiler_version((H200 / "gcc_version.txt").read_text()) == "13.3.0"


def test_os_release_real() -> None:
    osr = psys.parse_os_release((H200 / "os_release.txt").read_text())
    assert osr["PRETTY_NAME"] == "Ubuntu 24.04.3 LTS"
    assert osr["ID"] == "ubuntu"
    assert osr["VERSION_ID"] == "24.04"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("glibc 2.36", ("glibc", "2.36")),
        ((DEB / "ldd_version.txt").read_text(), ("glibc", "2.36")),
        ((H200 / "ldd_version.txt").read_text(), ("glibc", "2.39")),
        ("Libc version: glibc-2.17", ("glibc", "2.17")),
        ("Linux-6.1-x86_64-with-glibc2.39", ("glibc", "2.39")),
        ("musl libc (x86_64) Version 1.2.4", ("musl", "1.2.4")),
        ("", (None, None)),
    ],
)
def test_parse_glibc(text: str, expected: tuple[str | None, str | None]) -> None:
    assert psys.parse_glibc(text) == expected


def test_wsl_and_container_hints() -> None:
    assert psys.is_wsl("Linux version 5.15.153.1-microsoft-standard-WSL2 (root@...)")
    assert not psys.is_wsl("Linux version 6.18.44-fc-v669")
    assert (
        psys.detect_container(dockerenv=True, containerenv=False, cgroup=None, env={}) == "docker"
    )
    assert (
        psys.detect_container(
            dockerenv=False, containerenv=False, cgroup="0::/kubepods/burstable", env={}
        )
        == "kubernetes"
    )
    assert psys.detect_container(dockerenv=False, containerenv=False, cgroup="0::/", env={}) is None
