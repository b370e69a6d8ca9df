"""Rules of the NVIDIA driver & GPUs category (doctor/rules/nvidia.py)."""

from __future__ import annotations

import pytest

from tests.helpers import envs
from tests.helpers.rule_cases import cases_for, check_case, finding, ids
from torchsetup.detect.model import CudaToolkit, Nvidia
from torchsetup.doctor.model import ERROR, INFO, WARNING


@pytest.mark.parametrize("name", cases_for("nvidia"))
def test_rule_fires(name: str) -> None:
    check_case(name)


def test_gpu_without_driver() -> None:
    env = envs.minimal(
        nvidia=Nvidia(status="no-driver", pci_nvidia_devices=1, nvml_error="NVML library not found")
    )
    f = finding(env, "TS002")
    assert f.severity == ERROR
    assert "1 NVIDIA device(s)" in f.detail
    assert f.fix == "sudo ubuntu-drivers install && sudo reboot"


def test_driver_too_old_across_major() -> None:
    env = envs.with_nvidia(envs.h200(), driver_version="535.104.05", cuda_driver_version="12.2")
    f = finding(envs.with_installed_torch(env, "2.11.0+cu130", "13.0"), "TS003")
    assert f.severity == ERROR
    assert "CUDA 13.0" in f.detail and "535.104.05" in f.detail and "12.2" in f.detail


def test_driver_older_same_major_is_minor_version_compat_warning() -> None:
    env = envs.with_nvidia(envs.h200(), driver_version="550.54.14", cuda_driver_version="12.4")
    f = finding(envs.with_installed_torch(env, "2.7.1+cu128", "12.8"), "TS003")
    assert f.severity == WARNING
    assert "minor-version compatibility" in f.detail


def test_driver_new_enough_is_silent() -> None:
    env = envs.with_installed_torch(envs.h200(), "2.7.1+cu128", "12.8")
    assert "TS003" not in ids(env)


def test_nvml_mismatch() -> None:
    env = envs.with_nvidia(
        envs.h200(),
        status="mismatch",
        kernel_module_version="580.95.05",
        driver_version="580.159.04",
    )
    f = finding(env, "TS004")
    assert "580.95.05" in f.detail and "580.159.04" in f.detail
    assert "reboot" in (f.fix or "")
    assert "apt-mark hold" in (f.fix or "")  # Ubuntu capture


def test_cuda_visible_devices_hides_all() -> None:
    for value in ("", "-1", "1", "GPU-deadbeef"):
        env = envs.with_nvidia(envs.h200(), cuda_visible_devices=value)
        f = finding(env, "TS020")
        assert repr(value) in f.detail
    for value in ("0", "GPU-71992ad7", "0,1"):
        env = envs.with_nvidia(envs.h200(), cuda_visible_devices=value)
        assert "TS020" not in ids(env)


def test_toolkit_without_driver_info_on_build_machine() -> None:
    env = envs.build_machine()
    f = finding(env, "TS104")
    assert f.severity == INFO and "13.0.88" in f.detail


def test_toolkit_fields_unknown_are_not_false() -> None:
    env = envs.minimal(toolkit=CudaToolkit())
    assert "TS104" not in ids(env)


def test_driver_table_covers_cuda_10() -> None:
    from torchsetup.detect.parse.nvidia import max_cuda_for_driver

    assert max_cuda_for_driver("418.67") == "10.1"
    assert max_cuda_for_driver("440.33.01") == "10.2"
