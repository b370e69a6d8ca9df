"""The automatic choice on AMD, Intel and Jetson machines, and --target-gpu for them."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from tests.unit.test_resolve import snapshot
from torchsetup.detect.model import (
    Amd,
    AmdGpu,
    Environment,
    Gpu,
    Intel,
    IntelGpu,
    Jetson,
    Nvidia,
    OSInfo,
)
from torchsetup.errors import ResolutionError, UsageError
from torchsetup.matrix.load import load_matrix
from torchsetup.resolve.plan import Plan
from torchsetup.resolve.request import parse_request

XTX = AmdGpu(index=0, name="Radeon RX 7900 XTX", gfx="gfx1100", device_id="0x744c")
IGPU = AmdGpu(index=1, name="AMD Radeon 780M", gfx="gfx1103", device_id="0x15bf", integrated=True)
MI300X = AmdGpu(index=0, name="AMD Instinct MI300X", gfx="gfx942", device_id="0x74a1")
A770 = IntelGpu(index=0, name="Intel(R) Arc(TM) A770 Graphics", device_id="0x56a0")


def amd_box(*gpus: AmdGpu, rocm: str | None = "7.2.0", kfd: bool = True) -> Environment:
    return dataclasses.replace(
        snapshot("linux-py311-nodriver"),
        amd=Amd(status="ok" if rocm else "no-runtime", gpus=gpus, rocm_version=rocm, kfd=kfd),
    )


def newest_with(variant: str) -> str:
    """The newest release of the data with a build of ``variant`` (so tests follow the data)."""
    return next(
        r.torch for r in load_matrix().releases if any(v.name == variant for v in r.variants)
    )


def plan(env: Environment, **options: Any) -> Plan:
    from torchsetup.resolve.resolver import resolve

    return resolve(env, parse_request(**options), load_matrix())


def test_rx_7900_xtx_gets_the_rocm_build() -> None:
    p = plan(amd_box(XTX))
    assert (p.torch, p.variant) == ("2.14.1", "rocm7.14")
    assert any("kernels for every AMD GPU (Radeon RX 7900 XTX gfx1100)" in r for r in p.reasons)
    assert any("older than the build's ROCm 7.14" in w for w in p.warnings)  # runtime 7.2 here


def test_mi300x_gets_rocm_and_a_matching_runtime_says_so() -> None:
    p = plan(amd_box(MI300X, rocm="7.14.0"))
    assert p.variant == "rocm7.14"
    assert any("ROCm 7.14.0 here >= the build's ROCm 7.14" in r for r in p.reasons)


def test_780m_igpu_alone_is_cpu_with_the_reason_and_the_override_trade_off() -> None:
    p = plan(amd_box(IGPU))
    assert p.variant == "cpu"
    why = " ".join(p.reasons)
    assert "no ROCm build of torch has kernels for AMD Radeon 780M (gfx1103)" in why
    assert "HSA_OVERRIDE_GFX_VERSION=11.0.0" in why


def test_780m_with_the_override_set_gets_rocm_with_a_warning() -> None:
    env = dataclasses.replace(amd_box(IGPU), env_vars=(("HSA_OVERRIDE_GFX_VERSION", "11.0.0"),))
    p = plan(env)
    assert p.variant.startswith("rocm")
    assert any("does not support" in w for w in p.warnings)


def test_dgpu_plus_igpu_picks_rocm_and_warns_about_the_igpu() -> None:
    p = plan(amd_box(XTX, IGPU))
    assert p.variant == "rocm7.14"
    assert any("HIP_VISIBLE_DEVICES" in w for w in p.warnings)


def test_amd_gpu_without_its_kernel_driver_is_cpu_and_says_install_amdgpu() -> None:
    p = plan(amd_box(XTX, rocm=None, kfd=False))
    assert p.variant == "cpu"
    assert any("install the amdgpu driver" in r for r in p.reasons)


def test_arc_a770_gets_xpu_and_without_level_zero_cpu_with_the_reason() -> None:
    base = snapshot("linux-py311-nodriver")
    env = dataclasses.replace(base, intel=Intel(status="ok", gpus=(A770,), level_zero=True))
    p = plan(env)
    assert (p.torch, p.variant) == (newest_with("xpu"), "xpu")
    no_l0 = dataclasses.replace(
        env, intel=Intel(status="no-runtime", gpus=(A770,), level_zero=False)
    )
    cpu = plan(no_l0)
    assert cpu.variant == "cpu" and any("Level Zero" in r for r in cpu.reasons)


def test_uhd_igpu_is_not_an_xpu_target() -> None:
    uhd = IntelGpu(index=0, name="Intel(R) UHD Graphics 630", device_id="0x3e92", integrated=True)
    env = dataclasses.replace(
        snapshot("linux-py311-nodriver"), intel=Intel(status="ok", gpus=(uhd,), level_zero=True)
    )
    assert plan(env).variant == "cpu"


def jetson_env(python: str = "3.10.12") -> Environment:
    base = snapshot("linux-py311-nodriver")
    assert base.python is not None
    return dataclasses.replace(
        base,
        os=dataclasses.replace(base.os, machine="aarch64"),
        python=dataclasses.replace(base.python, machine="aarch64", version=python),
        jetson=Jetson(
            model="NVIDIA Jetson AGX Orin Developer Kit",
            l4t="36.4.3",
            jetpack="6",
            compute_capability="8.7",
        ),
    )


def test_jetson_orin_gets_the_jetpack_index_never_pypi_aarch64() -> None:
    p = plan(jetson_env())
    assert p.index_url == "https://pypi.jetson-ai-lab.io/jp6/cu126"
    assert (p.torch, p.variant) == ("2.8.0", "cu126")
    assert "download.pytorch.org" not in " ".join(p.steps[-1].argv)


def test_jetson_refusals_name_the_reason() -> None:
    with pytest.raises(ResolutionError, match=r"for Python 3\.10"):
        plan(jetson_env("3.12.3"))
    with pytest.raises(ResolutionError, match=r"not --torch 2\.14") as info:
        plan(jetson_env(), torch="2.14")
    assert info.value.nearest is not None and "--torch 2.8.0" in info.value.nearest
    assert plan(jetson_env(), cpu=True).variant == "cpu"  # --cpu opts out of the JetPack index


def test_nvidia_plus_amd_takes_cuda_and_lists_the_rocm_build() -> None:
    env = dataclasses.replace(
        amd_box(XTX),
        nvidia=Nvidia(
            status="ok",
            driver_version="580.95.05",
            cuda_driver_version="13.0",
            gpus=(Gpu(index=0, name="NVIDIA GeForce RTX 3090", compute_capability="8.6"),),
        ),
    )
    p = plan(env)  # the newest torch (2.15.0) has no ROCm build: CUDA, nothing AMD to list
    assert p.variant == "cu130" and newest_with("rocm7.14") == "2.14.1"
    p = plan(env, torch="2.14.1")  # a release with both: CUDA chosen, the ROCm build listed
    assert p.variant == "cu130"
    assert any(r.variant == "rocm7.14" and "--rocm 7.14" in r.reason for r in p.rejected)


def test_explicit_rocm_on_an_unsupported_gfx_plans_with_a_warning() -> None:
    p = plan(amd_box(IGPU), rocm="7.2")
    assert p.variant == "rocm7.2"
    assert any("no kernels in rocm7.2" in w for w in p.warnings)


@pytest.mark.parametrize(
    ("gpu", "variant"),
    [("gfx1100", "rocm7.14"), ("gfx942", "rocm7.14"), ("arc-a770", "xpu"), ("b580", "xpu")],
)
def test_target_gpu_names_other_vendors(gpu: str, variant: str) -> None:
    env = Environment(
        os=OSInfo(system="Linux", machine="x86_64", libc="glibc", libc_version="2.39")
    )
    p = plan(env, target_python="3.12", target_gpu=gpu)
    assert p.variant == variant


def test_target_gpu_orin_plans_the_jetpack_index_from_anywhere() -> None:
    env = Environment(
        os=OSInfo(system="Linux", machine="x86_64", libc="glibc", libc_version="2.39")
    )
    p = plan(env, target_platform="linux-aarch64", target_python="3.10", target_gpu="orin")
    assert p.index_url and "jp6" in p.index_url


def test_target_gpu_rejects_unknown_names() -> None:
    with pytest.raises(UsageError, match="malformed") as info:
        parse_request(target_gpu="radeon")
    assert info.value.hint is not None and "gfx1100" in info.value.hint


def test_a_pin_no_rocm_build_satisfies_is_refused_with_the_nearest_rocm_request() -> None:
    with pytest.raises(ResolutionError) as info:
        plan(amd_box(MI300X), torch="2.0")  # ROCm 5.x builds have no gfx942 kernels
    err = info.value
    assert err.exit_code == 2 and "no GPU build of torch 2.0" in err.message
    assert "AMD Instinct MI300X (gfx942)" in err.message and "--cpu" in err.message
    assert err.nearest is not None and "--rocm" in err.nearest and "cpu" not in err.nearest


def test_jetson_with_conda_is_refused_not_cpu() -> None:
    with pytest.raises(ResolutionError, match="install with pip or uv"):
        plan(jetson_env(), method="conda")
