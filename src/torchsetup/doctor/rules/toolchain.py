"""Rules of the Compiler toolchain category: what torch.compile and CUDA extensions need to
build (TS015 TS018 TS119)."""

from __future__ import annotations

from collections.abc import Iterator

from torchsetup.doctor.context import RuleContext
from torchsetup.doctor.fix_commands import compiler_install_command
from torchsetup.doctor.model import ERROR, WARNING, Finding, Rule
from torchsetup.doctor.rules._facts import said
from torchsetup.doctor.rules.registry import rule


@rule(
    "TS015",
    title="No C++ compiler for torch.compile",
    category="toolchain",
    severity=WARNING,
    catalogue=15,
    sources=("pytorch/pytorch#92745",),
)
def no_cxx_compiler(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """torch.compile's default backend (inductor) writes C++ for the CPU and compiles it; on GPUs
    Triton compiles a small C helper too. Without a compiler it fails with "InvalidCxxCompiler:
    No working C++ compiler found".

    Fix: install the platform's compiler (build-essential, gcc-c++, Xcode command line tools,
    MSVC Build Tools).
    """
    tools_unknown = not ctx.env.tools.paths and ctx.env.source != "live"
    if ctx.env.tools.cxx_compiler or ctx.env.env("CXX") or tools_unknown or ctx.system is None:
        return
    torch_note = f" (torch {ctx.torch.version} is installed)" if ctx.torch else ""
    yield r.finding(
        detail=(
            "No C++ compiler (g++, c++, clang++, cl) on PATH: torch.compile "
            f"with the default inductor backend will fail{torch_note}."
        ),
        fix=compiler_install_command(ctx.system, ctx.env.os.distro_id),
    )


@rule(
    "TS018",
    title="Python headers missing (Triton cannot build its helper)",
    category="toolchain",
    severity=WARNING,
    catalogue=18,
    sources=("pytorch/pytorch#129351",),
)
def python_headers_missing(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """On the first torch.compile on a GPU, Triton compiles a small C helper against Python.h.
    A Python without its development headers (Debian/Ubuntu's python3 without python3-dev)
    fails with "cuda_utils.c: fatal error: Python.h: No such file or directory".

    Fix: install the headers of the same Python minor (python3.X-dev / python3-devel).
    """
    py, torch = ctx.py, ctx.torch
    if py is None or torch is None or not (torch.cuda or torch.hip) or py.has_python_h is not False:
        return
    if ctx.system != "Linux":
        return
    minor = py.minor or "3"
    distro = ctx.env.os.distro_id
    if distro in ("fedora", "rhel", "centos", "rocky", "almalinux", "amzn"):
        fix = f"sudo dnf install -y python{minor}-devel"
    elif distro in ("ubuntu", "debian"):
        fix = f"sudo apt-get install -y python{minor}-dev"
    else:
        fix = f"install the development headers of Python {minor} (Python.h) for your distribution"
    yield r.finding(
        detail=f"{py.include_dir or 'the include folder'}/Python.h does not exist for {py.executable}: "
        "torch.compile on the GPU will fail when Triton builds its helper.",
        fix=fix,
    )


@rule(
    "TS119",
    title="Building a CUDA extension needs an nvcc that matches torch",
    category="toolchain",
    severity=ERROR,
    sources=(
        "deepspeedai/DeepSpeed#2772",
        "deepspeedai/DeepSpeed#2902",
        "Dao-AILab/flash-attention#779",
    ),
)
def extension_build_toolkit(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """Compiling a CUDA extension (flash-attn, DeepSpeed ops, apex, a JIT-built op) failed
    before it started: "CUDA_HOME environment variable is not set" / "MissingCUDAException"
    (no toolkit: pip's torch brings the CUDA runtime but no nvcc), or "Installed CUDA version X
    does not match the version torch was compiled with Y" / "The detected CUDA version (X)
    mismatches the version that was used to compile PyTorch (Y)". Read from error text.

    Fix: install a CUDA toolkit of torch's CUDA major.minor and point CUDA_HOME at it, or take
    a prebuilt wheel of the extension for this torch.
    """
    torch = ctx.torch
    cuda = f" {torch.cuda}" if torch is not None and torch.cuda else ""
    home = said(ctx, "cuda-home")
    mismatch = said(ctx, "nvcc-mismatch")
    if mismatch is not None:
        nvcc = mismatch.group("nvcc") or mismatch.group("nvcc2")
        built = mismatch.group("torch") or mismatch.group("torch2")
        yield r.finding(
            detail=f"nvcc {nvcc} is not the CUDA {built} torch was built with: extensions "
            "compiled now would not load.",
            fix=f"install the CUDA {built} toolkit and export CUDA_HOME to it (or a torch built "
            f"for CUDA {nvcc})",
            data={"signal": "nvcc-mismatch"},
        )
    elif home is not None:
        yield r.finding(
            detail="No CUDA toolkit (nvcc) was found to compile the extension: CUDA_HOME is "
            "not set or does not exist.",
            fix=f"install the CUDA{cuda} toolkit (or pip install nvidia-cuda-nvcc-cu12) and "
            "export CUDA_HOME; or install a prebuilt wheel of the extension",
            data={"signal": "cuda-home"},
        )
