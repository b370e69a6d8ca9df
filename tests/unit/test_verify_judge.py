"""Judging facts: expectations, variants, GPU availability, arch lists and fixes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from torchsetup.errors import UsageError
from torchsetup.verify.judge import (
    arch_checks,
    arch_supported,
    expectation_checks,
    gpu_check,
    hint_for,
    judge,
    parse_expectations,
    torch_info,
    variant_of,
)
from torchsetup.verify.model import (
    FAIL,
    NOT_RUN,
    PASS,
    CheckResult,
    Device,
    Expectations,
    TorchInfo,
    VerifyOptions,
)

H200 = (
    Path(__file__).resolve().parents[1]
    / "data"
    / "real"
    / "h200-ubuntu24.04-driver580-torch2.11cu130"
)


def h200_facts() -> tuple[dict[str, Any], dict[str, Any]]:
    """build and gpu data as the smoke script would report them on the real H200."""
    info = json.loads((H200 / "torch_info.txt").read_text())
    build = {
        "version": info["version"],
        "cuda": info["cuda"],
        "hip": info["hip"],
        "xpu": None,
        "debug": info["debug"],
        "arch_list": info["arch_list"],
        "cudnn": info["cudnn"],
        "nccl": "2.28.9",
        "python": "3.12.3",
        "file": "/usr/lib/python3/torch/__init__.py",
    }
    total = 143155 * 2**20
    gpu = {
        "cuda_available": True,
        "warnings": [],
        "cuda_visible_devices": None,
        "devices": [
            {
                "name": "cuda:0",
                "kind": "cuda",
                "model": info["name"],
                "capability": info["cap"],
                "gcn_arch": None,
                "total_memory": total,
            }
        ],
    }
    return build, gpu


def raw_checks(build: dict[str, Any], gpu: dict[str, Any]) -> list[CheckResult]:
    return [
        CheckResult("import", PASS, 3.7, "torch"),
        CheckResult("build", PASS, data={"torch": build}),
        CheckResult("gpu", PASS, data=gpu),
        CheckResult("cpu.math", PASS),
    ]


def cpu_info(**kw: Any) -> TorchInfo:
    base: dict[str, Any] = {"version": "2.13.0+cpu", "variant": "cpu", "python": "3.11.7"}
    base.update(kw)
    return TorchInfo(**base)


# ---------------------------------------------------------------------------- expectations


@pytest.mark.parametrize(
    ("cuda", "hip", "xpu", "variant"),
    [
        ("13.0", None, None, "cu130"),
        ("11.8", None, None, "cu118"),
        ("12.6", None, None, "cu126"),
        (None, "6.2.41133-dd7f95766", None, "rocm6.2"),
        (None, None, "20250101", "xpu"),
        (None, None, None, "cpu"),
    ],
)
def test_variant_of(cuda: str | None, hip: str | None, xpu: str | None, variant: str) -> None:
    assert variant_of(cuda, hip, xpu) == variant


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"torch": ">=2.4,<<3"}, "--expect-torch '>=2.4,<<3' is not a version specifier"),
        ({"torch": "latest"}, "--expect-torch 'latest' is not a version specifier"),
        ({"cuda": "twelve"}, "--expect-cuda 'twelve'"),
        ({"cuda": "12.8.1.2"}, "--expect-cuda '12.8.1.2'"),
        ({"variant": "cuda128"}, "--expect-variant 'cuda128'"),
        ({"variant": "gpu"}, "--expect-variant 'gpu'"),
    ],
)
def test_malformed_expectations_are_usage_errors(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_expectations(**kwargs)
    assert message in err.value.message
    assert err.value.exit_code == 2


def test_good_expectations_parse() -> None:
    assert parse_expectations("2.11.0", "13.0", "cu130") == Expectations("2.11.0", "13.0", "cu130")
    assert parse_expectations(None, "13", "rocm6.2.4").variant == "rocm6.2.4"


@pytest.mark.parametrize(
    ("expect", "info", "status", "detail"),
    [
        (Expectations(torch=">=2.4"), cpu_info(), PASS, "torch 2.13.0+cpu satisfies '>=2.4'"),
        (Expectations(torch="2.13.0"), cpu_info(), PASS, "satisfies '2.13.0'"),
        (Expectations(torch="<2.13"), cpu_info(), FAIL, "does not satisfy '<2.13'"),
        (
            Expectations(torch=">=2.13"),
            cpu_info(version="2.14.0.dev20260101+cpu"),
            PASS,
            "satisfies",
        ),  # a nightly counts
        (Expectations(variant="cu130"), cpu_info(), FAIL, "is a cpu build (expected cu130)"),
        (Expectations(variant="cpu"), cpu_info(), PASS, "is a cpu build (expected cpu)"),
        (
            Expectations(variant="rocm6.2.4"),
            cpu_info(hip="6.2.41134-65d174c3e", variant="rocm6.2"),
            PASS,
            "is a rocm6.2 build (expected rocm6.2.4)",
        ),
        (
            Expectations(variant="rocm6.3"),
            cpu_info(hip="6.2.41134", variant="rocm6.2"),
            FAIL,
            "expected rocm6.3",
        ),
        (
            Expectations(cuda="12.8"),
            cpu_info(),
            FAIL,
            "expected CUDA 12.8, but torch 2.13.0+cpu is a CPU build (no CUDA)",
        ),
        (Expectations(cuda="13"), cpu_info(cuda="13.0", variant="cu130"), PASS, "CUDA 13.0"),
        (
            Expectations(cuda="13.1"),
            cpu_info(cuda="13.0", variant="cu130"),
            FAIL,
            "built with CUDA 13.0 (expected 13.1)",
        ),
        (
            Expectations(cuda="12.8"),
            cpu_info(hip="6.2.1", variant="rocm6.2"),
            FAIL,
            "is a ROCm 6.2.1 build",
        ),
    ],
)
def test_expectations(expect: Expectations, info: TorchInfo, status: str, detail: str) -> None:
    [check] = expectation_checks(info, expect)
    assert check.status == status
    assert detail in check.detail
    assert (check.hint is not None) == (status == FAIL)


def test_expectation_fixes_name_the_index() -> None:
    [variant] = expectation_checks(cpu_info(), Expectations(variant="cu128"))
    assert variant.hint is not None
    assert "--index-url https://download.pytorch.org/whl/cu128" in variant.hint
    [cuda] = expectation_checks(cpu_info(), Expectations(cuda="12.6"))
    assert cuda.hint is not None
    assert "whl/cu126" in cuda.hint


def test_expectations_without_torch_are_not_run() -> None:
    checks = expectation_checks(None, Expectations(torch=">=2", variant="cpu"))
    assert [(c.name, c.status) for c in checks] == [
        ("expect.torch", NOT_RUN),
        ("expect.variant", NOT_RUN),
    ]


# ---------------------------------------------------------------------------- facts from the H200


def test_torch_info_from_the_real_h200_capture() -> None:
    info = torch_info(raw_checks(*h200_facts()))
    assert info is not None
    assert (info.version, info.variant, info.cuda, info.cudnn) == (
        "2.11.0+cu130",
        "cu130",
        "13.0",
        91900,
    )
    assert info.devices == (Device("cuda:0", "cuda", "NVIDIA H200", (9, 0), None, 143155 * 2**20),)
    assert info.import_seconds == 3.7


def test_judge_on_the_h200_passes_gpu_and_arch() -> None:
    checks, info = judge(raw_checks(*h200_facts()), VerifyOptions(require_gpu=True))
    assert info is not None
    names = [c.name for c in checks]
    assert names == ["import", "build", "gpu", "cuda:0.arch", "cpu.math"]
    gpu, arch = checks[2], checks[3]
    assert gpu.status == PASS
    assert gpu.detail == "cuda:0 NVIDIA H200 (sm_90, 140 GiB)"
    assert arch.status == PASS
    assert arch.detail.startswith("sm_90 runs sm_90 kernels")


def test_judge_puts_expectations_after_build() -> None:
    options = VerifyOptions(expect=Expectations(variant="cpu", cuda="13.0"))
    checks, _ = judge(raw_checks(*h200_facts()), options)
    assert [c.name for c in checks][:5] == [
        "import",
        "build",
        "expect.cuda",
        "expect.variant",
        "gpu",
    ]
    assert [c.status for c in checks[2:4]] == [PASS, FAIL]


def test_torch_info_is_none_without_build_facts() -> None:
    assert torch_info([CheckResult("import", FAIL), CheckResult("build", NOT_RUN)]) is None
    assert torch_info([CheckResult("build", PASS, data={"torch": {"version": 2}})]) is None


# ---------------------------------------------------------------------------- no GPU


def gpu_result(**data: Any) -> CheckResult:
    base = {"cuda_available": False, "devices": [], "warnings": [], "cuda_visible_devices": None}
    base.update(data)
    return CheckResult("gpu", PASS, detail="no GPU visible to torch", data=base)


def test_no_gpu_is_not_run_unless_required() -> None:
    check = gpu_check(gpu_result(), cpu_info(), require_gpu=False)
    assert check.status == NOT_RUN
    assert check.detail == "no GPU: torch 2.13.0+cpu is a CPU build"
    required = gpu_check(gpu_result(), cpu_info(), require_gpu=True)
    assert required.status == FAIL
    assert required.detail == "no GPU: torch 2.13.0+cpu is a CPU build (--require-gpu)"
    assert required.hint is not None
    assert "torchsetup install" in required.hint


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"cuda_visible_devices": ""}, "with CUDA_VISIBLE_DEVICES='' (it may hide every GPU)"),
        ({"cuda_visible_devices": "-1"}, "CUDA_VISIBLE_DEVICES='-1'"),
        (
            {"warnings": ["CUDA initialization: CUDA unknown error - this may be due to ..."]},
            "torch.cuda.is_available() is False: CUDA initialization: CUDA unknown error",
        ),
        ({}, "torch.cuda.is_available() is False (no GPU or no working driver found)"),
    ],
)
def test_why_a_cuda_build_sees_no_gpu(data: dict[str, Any], reason: str) -> None:
    info = cpu_info(version="2.11.0+cu130", cuda="13.0", variant="cu130")
    check = gpu_check(gpu_result(**data), info, require_gpu=True)
    assert check.status == FAIL
    assert reason in check.detail


def test_mps_built_but_unavailable() -> None:
    check = gpu_check(gpu_result(mps_built=True), cpu_info(version="2.13.0"), require_gpu=False)
    assert "MPS is built but not available" in check.detail


def test_a_failed_gpu_enumeration_stays_failed() -> None:
    failed = CheckResult("gpu", FAIL, detail="RuntimeError: CUDA unknown error")
    assert gpu_check(failed, cpu_info(), require_gpu=False) is failed


# ---------------------------------------------------------------------------- arch lists

OLD_LIST = ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"]


@pytest.mark.parametrize(
    ("cap", "arch_list", "match"),
    [
        ((9, 0), ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"], "sm_90"),
        ((8, 9), OLD_LIST, "sm_86"),  # same major, lower minor: SASS runs
        ((12, 0), OLD_LIST, None),  # RTX 5090 with a cu126 wheel (failure #5)
        ((6, 1), ["sm_75", "sm_80", "sm_90", "sm_100", "sm_120"], None),  # Pascal, cu128+ (#6)
        ((12, 0), [*OLD_LIST, "compute_90"], "compute_90"),  # PTX JIT-compiles upwards
        ((8, 6), ["sm_90", "compute_90"], None),  # PTX does not run downwards
        ((9, 0), ["sm_90a"], "sm_90a"),
        ((10, 0), ["sm_90a"], None),  # arch-specific: that capability only
        ((8, 0), ["sm_86"], None),  # a higher minor of the same major does not run
        ((10, 3), ["sm_100", "sm_120"], "sm_100"),  # two-digit majors parse
    ],
)
def test_arch_supported(cap: tuple[int, int], arch_list: list[str], match: str | None) -> None:
    assert arch_supported(cap, arch_list) == match


def test_arch_check_fails_with_the_gpu_named() -> None:
    info = cpu_info(
        version="2.5.1+cu124",
        cuda="12.4",
        variant="cu124",
        arch_list=tuple(OLD_LIST),
        devices=(Device("cuda:0", "cuda", "NVIDIA GeForce RTX 5090", (12, 0)),),
    )
    [check] = arch_checks(info)
    assert check.status == FAIL
    assert check.detail == (
        "NVIDIA GeForce RTX 5090 is sm_120, which torch 2.5.1+cu124 has no kernels for "
        "(arch list: sm_50 sm_60 sm_70 sm_75 sm_80 sm_86 sm_90)"
    )
    assert check.hint is not None


def test_rocm_arch_compares_the_gfx_target() -> None:
    device = Device("cuda:0", "rocm", "AMD Instinct MI210", (9, 0), "gfx90a:sramecc+:xnack-")
    good = cpu_info(
        hip="6.2.1", variant="rocm6.2", arch_list=("gfx900", "gfx90a", "gfx942"), devices=(device,)
    )
    bad = cpu_info(hip="6.2.1", variant="rocm6.2", arch_list=("gfx1100",), devices=(device,))
    assert [c.status for c in arch_checks(good)] == [PASS]
    assert [c.status for c in arch_checks(bad)] == [FAIL]


def test_no_arch_check_for_mps_and_not_run_without_a_list() -> None:
    mps = cpu_info(devices=(Device("mps", "mps", "Apple MPS"),))
    assert arch_checks(mps) == []
    unknown = cpu_info(cuda="13.0", devices=(Device("cuda:0", "cuda", "GPU", (9, 0)),))
    assert [c.status for c in arch_checks(unknown)] == [NOT_RUN]


# ---------------------------------------------------------------------------- fixes


@pytest.mark.parametrize(
    ("text", "fix"),
    [
        ("ModuleNotFoundError: No module named 'torch'", "torch is not installed for this Python"),
        (
            "RuntimeError: operator torchvision::nms does not exist",
            "pip install torch==2.13.0 torchvision==0.28.0",
        ),
        (
            "ImportError: libcudnn.so.9: cannot open shared object file: No such file or directory",
            "a library torch needs is missing",
        ),
        ("OSError: libcublas.so.11: undefined symbol: cublasLtGetStatusString", "LD_LIBRARY_PATH"),
        (
            "torch.AcceleratorError: CUDA error: no kernel image is available for execution",
            "no kernels for this GPU",
        ),
        ("InvalidCxxCompiler: No working C++ compiler found", "apt install g++"),
        (
            "cuda_utils.c:5:10: fatal error: Python.h: No such file or directory",
            "apt install python3.11-dev",
        ),
        ("TritonMissing: Cannot find a working triton installation", "the triton it pins"),
        ("RuntimeError: Dynamo is not supported on Python 3.12+", "3.12 needs torch >= 2.4"),
        ("CUDA initialization: CUDA unknown error", "rmmod nvidia_uvm"),
        ("torch.OutOfMemoryError: CUDA out of memory.", "nvidia-smi"),
        (
            "the target Python was killed by SIGSEGV while importing torch",
            "pip install --force-reinstall torch",
        ),
        ("timed out after 300 s while importing torch", "--timeout-scale"),
    ],
)
def test_hint_for_known_failures(text: str, fix: str) -> None:
    hint = hint_for(CheckResult("x", FAIL, detail=text), cpu_info())
    assert hint is not None
    assert fix in hint


def test_hint_reads_the_error_and_output_tail_but_only_for_failures() -> None:
    check = CheckResult(
        "x",
        FAIL,
        detail="crashed",
        data={"output_tail": ["E: libnccl.so.2: cannot open shared object file"]},
    )
    assert hint_for(check, None) is not None
    assert hint_for(CheckResult("x", PASS, detail="out of memory"), None) is None
    assert hint_for(CheckResult("x", FAIL, detail="something new"), None) is None


def test_judge_adds_fixes_to_failures_but_keeps_existing_ones() -> None:
    raw = [
        CheckResult("import", FAIL, detail="ModuleNotFoundError: No module named 'torch'"),
        CheckResult("build", NOT_RUN),
        CheckResult("gpu", NOT_RUN),
    ]
    checks, info = judge(raw, VerifyOptions(require_gpu=True))
    assert info is None
    assert checks[0].hint is not None
    assert checks[2].status == NOT_RUN  # no torch: nothing to judge
    kept = CheckResult("x", FAIL, detail="out of memory", hint="mine")
    assert kept.with_hint("other") is kept


def test_an_xpu_build_without_a_visible_intel_gpu_says_so() -> None:
    info = cpu_info(version="2.14.1+xpu", variant="xpu")
    check = gpu_check(gpu_result(xpu_available=False), info, require_gpu=True)
    assert check.status == FAIL
    assert "is the XPU build, but torch.xpu.is_available() is False" in check.detail
