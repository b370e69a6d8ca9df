"""The collect_env parser on every shape people paste: real reports and the tricky corners."""

from __future__ import annotations

from pathlib import Path

import pytest

from torchsetup.detect.parse.collect_env import clean_lines, parse_collect_env

DATA = Path(__file__).resolve().parent.parent / "data"
H200 = (DATA / "real" / "h200-ubuntu24.04-driver580-torch2.11cu130" / "collect_env.txt").read_text()


def _report(name: str) -> str:
    return (DATA / "reports" / f"{name}.txt").read_text(encoding="utf-8")


def test_real_h200_report() -> None:
    r = parse_collect_env(H200)
    assert r.get("torch") == "2.11.0+cu130"
    assert r.get("cuda_build") == "13.0"
    assert r.get("nvcc") == "13.0.88"
    assert r.get("driver") == "580.159.04"
    assert r.get("clang") is None  # "Could not collect"
    assert r.fields["rocm_build"] == "N/A"
    assert r.gpus == [(0, "NVIDIA H200")]
    assert len(r.cudnn) == 8 and r.cudnn[0] == "/usr/lib/x86_64-linux-gnu/libcudnn.so.9.14.0"
    assert r.cpu[0].startswith("Architecture:") and len(r.cpu) > 30
    assert ("torch", "2.11.0") in r.pip and ("nvidia-cudnn-cu13", "9.19.0.56") in r.pip
    assert r.conda_section == "Could not collect" and r.packages_complete


@pytest.mark.parametrize(
    "wrap",
    [
        lambda t: f"<details>\n<summary>collect_env</summary>\n\n```\n{t}\n```\n\n</details>\n",
        lambda t: f"### Versions\n\n```text\n{t}```\n\nThanks!",
        lambda t: "\n".join("> " + line for line in t.splitlines()),
        lambda t: t.replace("\n", "\r\n"),
        lambda t: "\n".join("    " + line for line in t.splitlines()),
    ],
    ids=["details", "fence-and-prose", "quoted", "crlf", "indented"],
)
def test_wrapping_does_not_change_the_facts(wrap: object) -> None:
    plain = parse_collect_env(H200)
    wrapped = parse_collect_env(wrap(H200))  # type: ignore[operator]
    assert wrapped.fields == plain.fields
    assert wrapped.gpus == plain.gpus and wrapped.pip == plain.pip


def test_quoted_1x_report_with_pip_lines() -> None:
    r = parse_collect_env(_report("healthy-quoted-windows-cu101-pytorch-40682"))
    assert r.get("torch") == "1.5.0+cu101"
    assert r.get("cuda_available") == "Yes"
    assert r.gpus == [(0, "TITAN RTX"), (1, "TITAN RTX")]
    assert ("torchvision", "0.6.0+cu101") in r.pip  # "[pip]" lines of 1.x
    assert r.cudnn == [] and r.get("cudnn") is not None  # a Windows DLL path on the label line


def test_a_scripts_own_print_before_the_report_is_not_the_report() -> None:
    """#78343: the user printed "PyTorch version: ..." first; the report proper starts later."""
    r = parse_collect_env(_report("mps-macos12-pytorch-78343"))
    assert r.get("os") == "macOS 12.2.1 (arm64)"
    assert any("Is MPS available? False" in line for line in r.preamble)


def test_report_cut_off_part_way() -> None:
    r = parse_collect_env(_report("driver-too-old-warning-lhotse-793"))
    assert r.get("torch") == "1.12.1+cu102" and r.get("cuda_build") == "10.2"
    assert "os" not in r.fields and not r.packages_complete
    assert any("found version 9010" in line for line in r.preamble)


def test_trailing_prose_and_nvidia_smi_are_not_read() -> None:
    r = parse_collect_env(_report("driver-too-old-pytorch-43058"))
    assert r.gpus == [(0, "Tesla V100-PCIE-16GB"), (1, "Tesla V100-PCIE-16GB")]
    assert r.conda == [("numpy", "1.19.1", "<pip>", None), ("torch", "1.6.0", "<pip>", None)]
    assert "Driver Version" not in "".join(r.fields.values())


def test_only_the_first_report_is_read() -> None:
    second = H200.replace("2.11.0+cu130", "9.9.9").replace("NVIDIA H200", "Other GPU")
    r = parse_collect_env(H200 + "\n\nand on the other machine:\n\n" + second)
    assert r.get("torch") == "2.11.0+cu130" and r.gpus == [(0, "NVIDIA H200")]


ROCM = """Collecting environment information...
PyTorch version: 2.5.1+rocm6.2
Is debug build: False
CUDA used to build PyTorch: N/A
ROCM used to build PyTorch: 6.2.41133-dd7f95766

OS: Ubuntu 22.04.5 LTS (x86_64)
GCC version: (Ubuntu 11.4.0-1ubuntu1~22.04) 11.4.0
Clang version: 18.0.0git
CMake version: version 3.31.1
Libc version: glibc-2.35

Python version: 3.10.12 (main, Nov 20 2023, 15:14:05) [GCC 11.4.0] (64-bit runtime)
Python platform: Linux-6.8.0-49-generic-x86_64-with-glibc2.35
Is CUDA available: True
CUDA runtime version: Could not collect
CUDA_MODULE_LOADING set to: LAZY
GPU models and configuration: AMD Instinct MI300X (gfx942:sramecc+:xnack-)
Nvidia driver version: Could not collect
cuDNN version: Could not collect
HIP runtime version: 6.2.41133
MIOpen runtime version: 3.2.0
Is XNNPACK available: True
"""


def test_rocm_shape() -> None:
    r = parse_collect_env(ROCM)
    assert r.get("rocm_build") == "6.2.41133-dd7f95766"
    assert r.gpus == [] and r.gpu_text == ["AMD Instinct MI300X (gfx942:sramecc+:xnack-)"]
    assert r.get("hip_runtime") == "6.2.41133" and r.get("miopen") == "3.2.0"
    assert not r.packages_complete  # no package section at all


def test_fullwidth_colons_and_gpus_on_following_lines() -> None:
    text = "PyTorch version: 1.5.0\nIs debug build: No\nGPU models and configuration:\nGPU 0： Tesla P100-PCIE-16GB\nGPU 1： Tesla P100-PCIE-16GB\n\nNvidia driver version: 410.104\n"
    r = parse_collect_env(text)
    assert r.gpus == [(0, "Tesla P100-PCIE-16GB"), (1, "Tesla P100-PCIE-16GB")]
    assert r.get("driver") == "410.104"


def test_uuids_in_gpu_lines_are_dropped() -> None:
    text = "PyTorch version: 2.4.0\nIs debug build: False\nGPU models and configuration: GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-0f8a0c1e-1b2c-3d4e-5f60-718293a4b5c6)\n"
    assert parse_collect_env(text).gpus == [(0, "NVIDIA A100-SXM4-80GB")]


def test_package_sections_that_could_not_be_collected() -> None:
    text = "PyTorch version: 2.4.0\nIs debug build: False\n\nVersions of relevant libraries:\n[pip3] Could not collect\n[conda] Could not collect\n"
    r = parse_collect_env(text)
    assert r.pip == [] and r.pip_section == "Could not collect" and r.packages_complete


def test_no_report_at_all() -> None:
    r = parse_collect_env("My model does not train, please help.\n\nThanks")
    assert not r.found and r.pip == []


def test_clean_lines_removes_html_and_fences() -> None:
    assert clean_lines(
        "<details><summary>x</summary>\n```text\nPyTorch version: 2.0\n```\n</details>"
    ) == [
        "x",
        "",
        "PyTorch version: 2.0",
        "",
        "",
    ]


def test_log_lines_and_warnings_interleaved_with_the_fields_are_skipped() -> None:
    """vLLM's copy (and `2>&1`) put log lines and Python warnings between the fields."""
    noisy = H200.replace(
        "[pip3] torch==",
        "INFO 02-18 21:25:53 __init__.py:190] Automatically detected platform cuda.\n"
        "/x/site-packages/_distutils_hack/__init__.py:30: UserWarning: Setuptools is replacing "
        "distutils.\n  warnings.warn(\n[pip3] torch==",
    ).replace(
        "CPU:\n",
        "CPU:\nWARNING 02-18 21:25:54 cuda.py:29] You are using a deprecated `pynvml` package.\n",
    )
    plain, r = parse_collect_env(H200), parse_collect_env(noisy)
    assert r.fields == plain.fields and r.pip == plain.pip and r.cpu == plain.cpu
    assert r.packages_complete
