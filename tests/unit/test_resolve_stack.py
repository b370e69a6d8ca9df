"""The LLM stack resolved against a fixed torch build (resolve/stack.py over resources/stack.json).

Every scenario names the torch build, the machine and the request, what must be chosen (or the
refusal and its nearest working request) and the source of that expectation: the entry of
tools/reference/llm-stack.json (the research record stack.json is curated from) or the design
note's worked examples (/work/shared/reference/llm/design-note.md section 3).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import pytest

from torchsetup.errors import ResolutionError, UsageError
from torchsetup.matrix.stack import load_stack
from torchsetup.resolve.stack import (
    StackPlan,
    StackTarget,
    parse_want,
    parse_wants,
    resolve_stack,
    torch_for_vllm,
)

STACK = load_stack()
LINUX = "linux-x86_64"


@dataclass(frozen=True)
class Case:
    id: str
    torch: str
    variant: str
    wants: tuple[str, ...]  # "llm" for --stack llm, else --with items
    source: str
    python: str = "3.11"
    platform: str = LINUX
    gpus: tuple[str, ...] = ()
    nvcc: Optional[str] = None
    chosen: dict[str, Optional[str]] = field(default_factory=dict)  # name -> version
    artifact: dict[str, str] = field(default_factory=dict)
    url_has: tuple[str, ...] = ()
    warns: tuple[str, ...] = ()
    refused: Optional[str] = None  # a substring of the refusal
    nearest: Optional[str] = None  # a substring of the nearest request


CASES = [
    Case(
        "cpu-2.13-llm-peft-floor",
        "2.13.0+cpu",
        "cpu",
        ("llm",),
        "cross_constraints transformers-peft-min: 5.24.0 needs peft 0.22.0, newest peft 0.21.2",
        chosen={
            "transformers": "5.23.0",
            "peft": "0.21.2",
            "accelerate": "1.15.0",
            "datasets": "5.2.0",
            "tokenizers": "0.23.3",
            "safetensors": None,
        },
    ),
    Case(
        "transformers-5.24-with-peft-refused",
        "2.13.0",
        "cpu",
        ("transformers==5.24.0", "peft"),
        "transformers-5.24.0 wheel integrations/peft.py MIN_PEFT_VERSION 0.22.0",
        refused="no transformers release ==5.24.0",
        nearest="--with transformers==5.23.0",
    ),
    Case(
        "transformers-5.24-alone",
        "2.13.0",
        "cpu",
        ("transformers==5.24.0",),
        "transformers 5.24.0 runtime gate >=2.6 (import_utils.py)",
        chosen={"transformers": "5.24.0"},
    ),
    Case(
        "torch-2.5-transformers-gate",
        "2.5.1",
        "cu124",
        ("transformers",),
        "transformers runtime_gate: 2.5 for 5.16-5.18, 2.6 for 5.20-5.24",
        gpus=("8.0",),
        chosen={"transformers": "5.18.0"},
    ),
    Case(
        "torch-2.0-transformers-4.51",
        "2.0.1",
        "cu118",
        ("transformers",),
        "quick_index_by_torch_minor 2.0: transformers_newest_checked_passing_gate 4.51.3",
        python="3.10",
        chosen={"transformers": "4.51.3"},
    ),
    Case(
        "torch-2.1-transformers-4.57",
        "2.1.2",
        "cu121",
        ("transformers",),
        "quick_index_by_torch_minor 2.1: transformers 4.57.6 (5.0 gates torch 2.2)",
        python="3.10",
        chosen={"transformers": "4.57.6"},
    ),
    Case(
        "py39-torch-2.4-llm",
        "2.4.1",
        "cu121",
        ("llm",),
        "requires_python: transformers 5.x >=3.10, peft 0.18 >=3.10, accelerate 1.11 >=3.10; "
        "transformers 4.57.6 tokenizers<=0.23.0,>=0.22.0 and hub<1.0 (hf-hub-ranges)",
        python="3.9",
        chosen={
            "transformers": "4.57.6",
            "peft": "0.17.1",
            "accelerate": "1.10.1",
            "tokenizers": "0.22.1",
            "datasets": "4.0.0",
        },
    ),
    Case(
        "vllm-0.33-caps-transformers",
        "2.14.0",
        "cu130",
        ("vllm", "transformers"),
        "vllm 0.33.0 metadata: torch==2.14.0, transformers>=5.16.1,<5.21.0",
        python="3.12",
        gpus=("9.0",),
        chosen={"vllm": "0.33.0", "transformers": "5.20.2"},
    ),
    Case(
        "vllm-on-cpu-refused",
        "2.13.0",
        "cpu",
        ("vllm",),
        "vllm distribution: PyPI wheels are CUDA builds (readelf libcudart.so.13)",
        refused="CUDA GPUs only",
        nearest="--cuda 13.0 --with vllm",
    ),
    Case(
        "vllm-on-windows-refused",
        "2.11.0",
        "cu130",
        ("vllm",),
        "vllm distribution: one Linux x86_64 abi3 wheel per release",
        platform="windows-x86_64",
        gpus=("8.6",),
        refused="no windows-x86_64 builds",
    ),
    Case(
        "vllm-cuda-major-mismatch",
        "2.11.0",
        "cu126",
        ("vllm",),
        "vllm 0.20.2-0.26.0 PyPI wheels link libcudart.so.13 (readelf -d)",
        gpus=("9.0",),
        refused="no vLLM release fits torch 2.11.0 (cu126)",
        nearest="--with vllm==",
    ),
    Case(
        "flash-attn-on-t4-refused",
        "2.8.0",
        "cu128",
        ("flash-attn",),
        "flash_api.cpp: 'FlashAttention only supports Ampere GPUs or newer.'",
        python="3.12",
        gpus=("7.5",),
        refused="needs compute capability 8.0+ and this GPU is sm_75",
        nearest="attn_implementation='sdpa'",
    ),
    Case(
        "flash-attn-2.8-h100",
        "2.8.0",
        "cu128",
        ("flash-attn",),
        "design note worked example: torch 2.8.0+cu128 py3.12 H100 -> 2.8.3.post1 "
        "+cu12torch2.8cxx11abiTRUE-cp312",
        python="3.12",
        gpus=("9.0",),
        chosen={"flash-attn": "2.8.3.post1"},
        artifact={"flash-attn": "github-release-wheel"},
        url_has=("v2.8.3.post1/flash_attn-2.8.3.post1+cu12torch2.8cxx11abiTRUE-cp312-cp312",),
    ),
    Case(
        "flash-attn-torch-2.1",
        "2.1.2",
        "cu121",
        ("flash-attn",),
        "design note worked example: torch 2.1.2+cu121 py3.10 -> 2.7.3 +cu12torch2.1cxx11abiFALSE",
        python="3.10",
        gpus=("8.0",),
        chosen={"flash-attn": "2.7.3"},
        url_has=("+cu12torch2.1cxx11abiFALSE-cp310",),
    ),
    Case(
        "flash-attn-torch-2.0-cu118",
        "2.0.1",
        "cu118",
        ("flash-attn",),
        "design note worked example: torch 2.0.1+cu118 -> 2.6.3 +cu118torch2.0cxx11abiFALSE",
        python="3.10",
        gpus=("8.6",),
        chosen={"flash-attn": "2.6.3"},
        url_has=("+cu118torch2.0cxx11abiFALSE",),
    ),
    Case(
        "flash-attn-blackwell-sm120",
        "2.8.0",
        "cu128",
        ("flash-attn",),
        "flash-attn 2.8.3.post1 matrix: torch 2.8.0, CUDA 12.9.1; sm_120 >= sm_80",
        python="3.12",
        gpus=("12.0",),
        chosen={"flash-attn": "2.8.3.post1"},
    ),
    Case(
        "flash-attn-torch-2.11-no-nvcc-refused",
        "2.11.0",
        "cu130",
        ("flash-attn",),
        "quick index: flash-attn >= torch 2.11 -> source build (no release matrix lists 2.11)",
        gpus=("9.0",),
        refused="a source build needs an nvcc 13.x",
        nearest="--torch 2.8 --cuda 12.8 --with flash-attn",
    ),
    Case(
        "flash-attn-torch-2.11-source-build",
        "2.11.0",
        "cu130",
        ("flash-attn",),
        "flash-attn setup.py: a build needs nvcc of torch's CUDA major, --no-build-isolation",
        gpus=("9.0",),
        nvcc="13.0",
        artifact={"flash-attn": "source-build"},
        warns=("flash-attn source build",),
    ),
    Case(
        "flash-attn-macos-refused",
        "2.8.0",
        "cpu",
        ("flash-attn",),
        "flash-attn distribution: Linux wheels only",
        platform="macos-arm64",
        refused="no macos-arm64 builds",
    ),
    Case(
        "xformers-2.10-stable-abi",
        "2.10.0",
        "cu128",
        ("xformers",),
        "xformers 0.0.35: torch>=2.10 (STABLE_TORCH_LIBRARY), builds cu126/cu128/cu130 on the "
        "PyTorch index",
        gpus=("8.0",),
        chosen={"xformers": "0.0.35"},
        artifact={"xformers": "torch-index-wheel"},
        warns=("stable-ABI",),
    ),
    Case(
        "xformers-2.11-cu130-index",
        "2.11.0",
        "cu130",
        ("xformers",),
        "design note: the PyPI 0.0.35 wheel links libcudart.so.12 -> take the cu130 index build",
        gpus=("9.0",),
        chosen={"xformers": "0.0.35"},
        artifact={"xformers": "torch-index-wheel"},
        url_has=("https://download.pytorch.org/whl/cu130",),
    ),
    Case(
        "xformers-2.8-exact",
        "2.8.0",
        "cu129",
        ("xformers",),
        "xformers 0.0.32.post2 metadata: torch==2.8.0; cu126/cu128/cu129 index builds",
        gpus=("9.0",),
        chosen={"xformers": "0.0.32.post2"},
    ),
    Case(
        "xformers-2.5.1",
        "2.5.1",
        "cu124",
        ("xformers",),
        "xformers 0.0.29.post1 metadata: torch==2.5.1 (index cu118/cu121/cu124)",
        gpus=("8.6",),
        chosen={"xformers": "0.0.29.post1"},
    ),
    Case(
        "xformers-cpu-refused",
        "2.13.0",
        "cpu",
        ("xformers",),
        "xformers builds are CUDA/ROCm (download.pytorch.org/whl/cuXYZ|rocm)",
        refused="CUDA GPUs only",
    ),
    Case(
        "bnb-cuda13",
        "2.11.0",
        "cu130",
        ("bitsandbytes",),
        "bitsandbytes 0.50.2 wheel bundles cuda118..132 (unzip -l); torch<3,>=2.4",
        gpus=("9.0",),
        chosen={"bitsandbytes": "0.50.2"},
    ),
    Case(
        "bnb-torch-2.2",
        "2.2.2",
        "cu121",
        ("bitsandbytes",),
        "quick index 2.2: bitsandbytes_newest_allowed 0.47.0 (0.48 needs torch>=2.3)",
        python="3.10",
        gpus=("8.0",),
        chosen={"bitsandbytes": "0.47.0"},
    ),
    Case(
        "bnb-torch-2.0",
        "2.0.1",
        "cu118",
        ("bitsandbytes",),
        "quick index 2.0: bitsandbytes_newest_allowed 0.45.5 (0.46 needs torch>=2.2)",
        python="3.10",
        gpus=("8.0",),
        chosen={"bitsandbytes": "0.45.5"},
    ),
    Case(
        "bnb-py39",
        "2.3.1",
        "cu121",
        ("bitsandbytes",),
        "bitsandbytes 0.49.0 requires_python >=3.10; 0.48.2 torch>=2.3",
        python="3.9",
        gpus=("8.0",),
        chosen={"bitsandbytes": "0.48.2"},
    ),
    Case(
        "bnb-pascal-int8-warning",
        "2.7.1",
        "cu118",
        ("bitsandbytes",),
        "bitsandbytes docs: LLM.int8() needs compute capability 7.5+, 8-bit optimizers 6.0+",
        gpus=("6.1",),
        chosen={"bitsandbytes": "0.50.2"},
        warns=("LLM.int8() needs compute capability 7.5+",),
    ),
    Case(
        "bnb-macos-refused",
        "2.8.0",
        "cpu",
        ("bitsandbytes",),
        "bitsandbytes distribution: Linux/Windows wheels",
        platform="macos-arm64",
        refused="no macos-arm64 builds",
    ),
    Case(
        "deepspeed-cuda13-no-whitelist",
        "2.11.0",
        "cu130",
        ("deepspeed",),
        "DeepSpeed op_builder/builder.py cuda_minor_mismatch_ok: no CUDA 13 entry",
        gpus=("9.0",),
        chosen={"deepspeed": "0.19.5"},
        artifact={"deepspeed": "source-build"},
        warns=("nvcc 13.0 exactly",),
    ),
    Case(
        "deepspeed-nvcc-major-mismatch",
        "2.8.0",
        "cu128",
        ("deepspeed",),
        "torch cpp_extension: nvcc major != torch CUDA major is refused (CUDA_MISMATCH_MESSAGE)",
        gpus=("8.0",),
        nvcc="11.8",
        warns=("op builds will fail",),
    ),
    Case(
        "deepspeed-windows-refused",
        "2.8.0",
        "cu128",
        ("deepspeed",),
        "deepspeed distribution: PyPI sdist, Linux JIT build",
        platform="windows-x86_64",
        refused="no windows-x86_64 builds",
    ),
    Case(
        "triton-follows-torch",
        "2.13.0",
        "cu130",
        ("triton",),
        "torch-2.13.0 wheel metadata: triton==3.7.1",
        gpus=("9.0",),
        chosen={"triton": "3.7.1"},
    ),
    Case(
        "triton-other-pin-refused",
        "2.13.0",
        "cu130",
        ("triton==3.6.0",),
        "triton rule: never upgrade/downgrade triton independently of torch",
        refused="is not the triton torch 2.13.0 pins",
    ),
    Case(
        "torch-2.15-cu132-llm-bnb",
        "2.15.0",
        "cu132",
        ("llm", "bitsandbytes"),
        "bitsandbytes 0.50.x bundles CUDA 13.2; torch 2.15 PyPI default CUDA 13.2",
        python="3.12",
        gpus=("10.0",),
        chosen={"bitsandbytes": "0.50.2", "transformers": "5.23.0"},
    ),
]


def _run(case: Case) -> StackPlan:
    items = [w for w in case.wants if w != "llm"]
    wants = parse_wants("llm" if "llm" in case.wants else None, items, STACK)
    target = StackTarget(
        case.torch,
        case.variant,
        case.python,
        case.platform,
        case.gpus,
        case.nvcc,
        cores=16,
        memory_gb=64,
    )
    return resolve_stack(target, wants, STACK)


def test_at_least_25_scenarios_cover_the_ranges() -> None:
    assert len(CASES) >= 25
    minors = {".".join(c.torch.split(".")[:2]) for c in CASES}
    assert {"2.0", "2.15"} <= minors
    assert {"cu118", "cu132", "cpu"} <= {c.variant for c in CASES}
    assert {"7.5", "12.0"} <= {g for c in CASES for g in c.gpus}
    assert {LINUX, "windows-x86_64", "macos-arm64"} <= {c.platform for c in CASES}
    assert all(c.source for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_scenario(case: Case) -> None:
    if case.refused is not None:
        with pytest.raises(ResolutionError) as info:
            _run(case)
        assert case.refused in info.value.message, info.value.message
        if case.nearest is not None:
            assert info.value.nearest is not None and case.nearest in info.value.nearest
        return
    plan = _run(case)
    for name, version in case.chosen.items():
        choice = plan.choice(name)
        assert choice is not None, name
        assert choice.version == version, (name, choice.reason)
    for name, artifact in case.artifact.items():
        choice = plan.choice(name)
        assert choice is not None and choice.artifact == artifact
    urls = " ".join(c.url or "" for c in plan.choices)
    for part in case.url_has:
        assert part in urls, urls
    for warning in case.warns:
        assert any(warning in w for w in plan.warnings), plan.warnings
    # every choice says why, with its source and confidence
    assert all(c.reason and c.source and c.confidence for c in plan.choices)
    assert plan.constraints[0] == f"torch=={case.torch}"


@pytest.mark.parametrize(
    ("want", "python", "selector", "expected"),
    [
        ("vllm==0.20.2", "3.11", None, ("0.20.2", "2.11.0")),  # design note: 0.20.2 -> 2.11.0
        ("vllm", "3.12", None, ("0.33.0", "2.14.0")),  # vllm 0.33.0 metadata torch==2.14.0
        ("vllm", "3.10", None, ("0.31.0", "2.13.0")),  # 0.32/0.33 need Python >=3.11
        ("vllm", "3.11", "2.9", ("0.16.0", "2.9.1")),  # 0.14.0-0.16.0 -> 2.9.1
    ],
)
def test_vllm_dictates_torch(
    want: str, python: str, selector: Optional[str], expected: tuple[str, str]
) -> None:
    assert (
        torch_for_vllm(parse_want(want), STACK, python=python, torch_selector=selector) == expected
    )


@pytest.mark.parametrize("torch", ["2.12", "2.15"])
def test_vllm_with_a_torch_no_vllm_pins_is_refused(torch: str) -> None:
    """design note 3.2: among the sampled versions none pins torch 2.12 or 2.15."""
    with pytest.raises(ResolutionError) as info:
        torch_for_vllm(parse_want("vllm"), STACK, python="3.12", torch_selector=torch)
    assert "pins a torch matching --torch" in info.value.message
    assert info.value.nearest is not None and "--with vllm==" in info.value.nearest


@pytest.mark.parametrize("bad", ["vllmx", "flash-attn==", "xformers>>1", "numpy"])
def test_bad_component_is_a_usage_error(bad: str) -> None:
    with pytest.raises(UsageError):
        parse_want(bad)


def test_every_choice_cites_a_source_from_the_data() -> None:
    plan = _run(CASES[0])
    texts = set(STACK.sources.values())
    assert all(c.source in texts for c in plan.choices)
    assert any(r.name == "transformers" and r.version == "5.24.0" for r in plan.rejected)
