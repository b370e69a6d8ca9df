"""Firing cases of the LLM-stack rules (doctor/rules/stack.py, TS201-TS212), merged into
tests.helpers.rule_cases.CASES. The machine is envs.linux_gpu() (H100, torch 2.11.0+cu130,
Python 3.12) unless a case says otherwise; each fix piece is what the stack resolver picks."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from tests.helpers import envs
from torchsetup.detect.model import CudaToolkit, Distribution, Environment

FA_WHEEL = (
    '{"url": "https://github.com/Dao-AILab/flash-attention/releases/download/v2.8.3/'
    'flash_attn-2.8.3+cu12torch2.8cxx11abiTRUE-cp312-cp312-linux_x86_64.whl"}'
)


def _with(*extra: Distribution, base: Callable[[], Environment] = envs.linux_gpu) -> Any:
    return lambda: envs.with_python(base(), distributions=envs.dists(*extra))


def _dist(name: str, version: str, **kw: Any) -> Distribution:
    return Distribution(name, version, location=envs.SITE, **kw)


def _t4() -> Environment:
    return envs.with_nvidia(envs.linux_gpu(), gpus=envs.one_gpu("Tesla T4", "7.5"))


def _nvcc(version: str) -> Callable[[], Environment]:
    def build() -> Environment:
        env = envs.with_python(
            envs.linux_gpu(), distributions=envs.dists(_dist("deepspeed", "0.19.5"))
        )
        return dataclasses.replace(env, toolkit=CudaToolkit(nvcc_version=version))

    return build


def _old_torch() -> Environment:
    env = envs.with_installed_torch(envs.linux_gpu(), "2.5.1+cu124", "12.4")
    assert env.python is not None
    dists = (*env.python.distributions, _dist("transformers", "5.24.0"))
    return envs.with_python(env, distributions=dists)


def stack_cases(case: Callable[..., Any], error: str, warning: str) -> dict[str, Any]:
    return {
        "TS201-flash-attn-wheel-for-torch-2.8": case(
            "TS201",
            _with(_dist("flash-attn", "2.8.3", direct_url=FA_WHEEL)),
            error,
            "torch 2.8 (installed: 2.11)",
            "--torch 2.8 --cuda 12.8 --with flash-attn",
        ),
        "TS202-flash-attn-on-t4": case(
            "TS202",
            _with(_dist("flash-attn", "2.8.3"), base=_t4),
            error,
            "sm_75",
            "uninstall -y flash-attn",
        ),
        "TS203-xformers-pins-torch-2.8": case(
            "TS203",
            _with(_dist("xformers", "0.0.32.post2", requires=("torch==2.8.0",))),
            error,
            "requires torch==2.8.0",
            "--with xformers==0.0.35",
        ),
        "TS204-xformers-pypi-cu12-on-cu13": case(
            "TS204",
            _with(_dist("xformers", "0.0.35", requires=("torch>=2.10",))),
            error,
            "CUDA 12 build",
            "--cuda 13.0 --with xformers==0.0.35",
        ),
        "TS205-vllm-pins-torch-2.10": case(
            "TS205",
            _with(_dist("vllm", "0.19.1", requires=("torch==2.10.0",))),
            error,
            "requires torch==2.10.0",
            "--with vllm==0.26.0",
        ),
        "TS206-vllm-cu12-on-cu13": case(
            "TS206",
            _with(_dist("vllm", "0.19.1")),
            error,
            "libcudart.so.12",
            "--with vllm==0.26.0",
        ),
        "TS207-bitsandbytes-0.42": case(
            "TS207",
            _with(_dist("bitsandbytes", "0.42.0")),
            warning,
            "bitsandbytes 0.42.0 selects",
            "--with bitsandbytes==0.50.2",
        ),
        "TS208-bitsandbytes-without-cuda13": case(
            "TS208",
            _with(_dist("bitsandbytes", "0.47.0", requires=("torch<3,>=2.2",))),
            error,
            "bundles CUDA 11/12",
            "--with bitsandbytes==0.50.2",
        ),
        "TS209-deepspeed-no-cuda-home": case(
            "TS209",
            _with(_dist("deepspeed", "0.19.5")),
            warning,
            "no nvcc",
            "CUDA 13.0 toolkit",
        ),
        "TS210-deepspeed-nvcc-12.8-torch-cu130": case(
            "TS210", _nvcc("12.8"), warning, "nvcc 12.8 is not", "CUDA 13.0 toolkit"
        ),
        "TS211-transformers-5.24-on-torch-2.5": case(
            "TS211", _old_torch, error, "needs torch >= 2.6", "--with transformers==5.18.0"
        ),
        "TS212-peft-below-min-peft-version": case(
            "TS212",
            _with(_dist("transformers", "5.24.0"), _dist("peft", "0.21.2")),
            error,
            "needs peft >= 0.22.0",
            "--with transformers==5.23.0",
        ),
    }
