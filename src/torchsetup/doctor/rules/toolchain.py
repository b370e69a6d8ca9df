"""Rules of the Compiler toolchain category: what torch.compile needs to build (TS015 TS018)."""

from __future__ import annotations

from collections.abc import Iterator

from torchsetup.doctor.context import RuleContext
from torchsetup.doctor.fix_commands import compiler_install_command
from torchsetup.doctor.model import WARNING, Finding, Rule
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
