"""Rules of the CUDA libraries & toolkit category: cuDNN, cuBLAS and the nvidia-* wheels
torch loads, and conda's MKL (TS007 TS008 TS009 TS029)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator

from torchsetup.detect.model import LibraryDir, LoadedLibrary
from torchsetup.doctor.context import RuleContext
from torchsetup.doctor.fix_commands import install_command
from torchsetup.doctor.model import ERROR, WARNING, Finding, Rule
from torchsetup.doctor.rules._facts import (
    deep_facts,
    error_text,
    said,
    unmet_requirements,
)
from torchsetup.doctor.rules.registry import rule
from torchsetup.matrix import lookups as kb


def _shadowing(
    ctx: RuleContext, r: Rule, *, prefixes: tuple[str, ...], wheel_dist: str, what: str
) -> Iterator[Finding]:
    """Shared body of TS007 (cuDNN) and TS008 (cuBLAS): system copies that beat the wheel's."""
    torch, py = ctx.torch, ctx.py
    if torch is None or not torch.cuda or py is None or ctx.system == "Windows":
        return
    deep = deep_facts(ctx)
    loaded = [
        lib
        for lib in (deep.libraries or () if deep else ())
        if lib.name.startswith(prefixes) and not _in_environment(ctx, lib.path)
    ]
    if loaded:
        yield r.finding(
            detail=(
                f"torch {torch.version} loaded {what} from outside its environment: "
                + ", ".join(f"{lib.name} from {lib.path}" for lib in loaded)
                + "."
            ),
            fix=_ld_library_path_fix(ctx, sorted({_dirname(lib.path) for lib in loaded})),
        )
        return
    dirs = _ld_dirs_with(ctx, prefixes)
    bundled = [d for d in py.distributions if d.name.startswith(wheel_dist)]
    if not dirs or not bundled:
        return
    names = ", ".join(n for d in dirs for n in d.libraries if n.startswith(prefixes))
    yield r.finding(
        severity=WARNING,
        detail=(
            f"LD_LIBRARY_PATH puts {', '.join(d.path for d in dirs)} ({names}) ahead of the "
            f"{what} torch brings ({', '.join(f'{b.name} {b.version}' for b in bundled)}): "
            "a library the loader finds there first replaces the wheel's."
        ),
        fix=_ld_library_path_fix(ctx, [d.path for d in dirs]),
    )


def _ld_dirs_with(ctx: RuleContext, prefixes: tuple[str, ...]) -> list[LibraryDir]:
    """LD_LIBRARY_PATH folders holding libraries whose names start with ``prefixes``."""
    return [
        d
        for d in ctx.env.toolkit.ld_library_path_cuda_libs
        if any(n.startswith(prefixes) for n in d.libraries)
    ]


def _library_fix(ctx: RuleContext, outside: list[str], wheel_dist: str) -> str:
    """Drop the outside folders from LD_LIBRARY_PATH; without any, reinstall the wheels."""
    if outside:
        return _ld_library_path_fix(ctx, outside)
    dists = (
        [d.name for d in ctx.py.distributions if d.name.startswith(wheel_dist)] if ctx.py else []
    )
    return ctx.pip("uninstall", "-y", "torch", *dists) + " && " + install_command(ctx)


def _dirname(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else path


def _in_environment(ctx: RuleContext, path: str) -> bool:
    """Whether a loaded library comes from the Python environment (a wheel, the conda env)."""
    py = ctx.py
    norm = path.replace("\\", "/")
    if "/site-packages/" in norm or "/dist-packages/" in norm:
        return True
    return bool(
        py is not None and py.env_kind == "conda" and py.prefix and norm.startswith(py.prefix)
    )


def _without_dirs(entries: tuple[str, ...], drop: list[str]) -> str:
    return ":".join(e for e in entries if e not in drop)


def _ld_library_path_fix(ctx: RuleContext, dirs: list[str]) -> str:
    rest = _without_dirs(ctx.env.toolkit.ld_library_path, dirs)
    if not rest:
        return "unset LD_LIBRARY_PATH   (and remove it from your shell profile / job script)"
    return (
        f"export LD_LIBRARY_PATH={shlex.quote(rest)}   "
        f"(drops {', '.join(dirs)}; fix your shell profile / job script the same way)"
    )


@rule(
    "TS007",
    title="A system cuDNN shadows the one torch brings",
    category="libraries",
    severity=ERROR,
    catalogue=7,
    sources=("pytorch/pytorch#119989", "pytorch/pytorch#80637"),
)
def cudnn_shadowed(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """A cuDNN from the system (a CUDA toolkit folder on LD_LIBRARY_PATH) is loaded instead of
    the pip package torch depends on (nvidia-cudnn-cu12/13). Symptoms: "Could not load library
    libcudnn_cnn_train.so.8 ... undefined symbol" or "cuDNN version incompatibility: PyTorch was
    compiled against (8, 3, 2) but linked against (8, 0, 3)".

    Checked before import from LD_LIBRARY_PATH folders that hold libcudnn* (a warning), and with
    --deep from /proc/self/maps of a process that ran a convolution (an error: it happened).

    Fix: drop those folders from LD_LIBRARY_PATH (the fix line computes the rest of it).
    """
    deep = deep_facts(ctx)
    if deep is not None and deep.cudnn_error and "incompatib" in deep.cudnn_error.lower():
        yield r.finding(
            detail=f"torch.backends.cudnn.version() failed: {deep.cudnn_error}",
            fix=_library_fix(
                ctx, [d.path for d in _ld_dirs_with(ctx, ("libcudnn",))], "nvidia-cudnn"
            ),
        )
        return
    yield from _shadowing(ctx, r, prefixes=("libcudnn",), wheel_dist="nvidia-cudnn", what="cuDNN")


@rule(
    "TS008",
    title="A system cuBLAS is mixed with torch's pip cuBLAS",
    category="libraries",
    severity=ERROR,
    catalogue=8,
    sources=("pytorch/pytorch#103832", "pytorch/pytorch#174320"),
)
def cublas_mixed(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """libcublas and libcublasLt must come from the same CUDA release. With a CUDA toolkit
    folder on LD_LIBRARY_PATH the loader can take libcublasLt from there and libcublas from the
    nvidia-cublas wheel: "libcublas.so.11: undefined symbol: cublasLtGetStatusString, version
    libcublasLt.so.11".

    Checked from LD_LIBRARY_PATH folders holding libcublas* (a warning) and, with --deep, from
    the libraries a process that ran a matmul had mapped (an error).

    Fix: remove the system CUDA library folder from LD_LIBRARY_PATH.
    """
    deep = deep_facts(ctx)
    libs: list[LoadedLibrary] = [
        lib for lib in (deep.libraries or () if deep else ()) if lib.name.startswith("libcublas")
    ]
    folders = sorted({_dirname(lib.path) for lib in libs})
    if len(folders) > 1 and ctx.torch is not None:
        yield r.finding(
            detail="cuBLAS was loaded from several folders: "
            + ", ".join(f"{lib.name} from {lib.path}" for lib in libs)
            + ".",
            fix=_library_fix(
                ctx, [f for f in folders if not _in_environment(ctx, f)], "nvidia-cublas"
            ),
        )
        return
    yield from _shadowing(
        ctx, r, prefixes=("libcublas",), wheel_dist="nvidia-cublas", what="cuBLAS"
    )


@rule(
    "TS009",
    title="torch's bundled NVIDIA libraries are missing or have other versions",
    category="libraries",
    severity=ERROR,
    catalogue=9,
    sources=("pytorch/pytorch#104259",),
)
def nvidia_wheels_mismatch(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """Linux CUDA wheels of torch pin exact nvidia-* packages (nvidia-cudnn-cu12==9.1.0.70, ...).
    After `pip install --no-deps`, a manual uninstall or another package pinning a different
    version, `import torch` fails with "libcudnn.so.9: cannot open shared object file" or pip
    warns "torch 2.3.1 requires nvidia-cudnn-cu12==8.9.2.26, but you have 8.9.7.29".

    Checked without importing: torch's Requires-Dist (markers evaluated for the target) against
    the installed distributions, like `pip check`; with --deep also the import error itself.

    Fix: uninstall torch and its nvidia-* packages, then install torch again from one index.
    """
    torch, py, deep = ctx.torch, ctx.py, deep_facts(ctx)
    if torch is None or py is None:
        return
    problems = []
    if py.distributions_checked:
        nvidia = unmet_requirements(ctx, torch.requires, lambda name: name.startswith("nvidia-"))
        problems += [why for _, why in nvidia]
    missing_lib = re.search(
        r"(lib(?:cu|nv)\w*\.so[.\d]*): cannot open shared object file", error_text(deep)
    )
    if missing_lib:
        problems.append(f"import torch failed: {missing_lib.group(1)} cannot be opened")
    if not problems:
        return
    installed = [d.name for d in py.distributions if d.name.startswith("nvidia-")]
    yield r.finding(
        detail=f"torch {torch.version}: " + "; ".join(problems) + ".",
        fix=ctx.pip("uninstall", "-y", "torch", *installed) + " && " + install_command(ctx),
    )


@rule(
    "TS029",
    title="conda's pytorch with MKL 2024.1 or newer",
    category="libraries",
    severity=ERROR,
    catalogue=29,
    sources=("pytorch/pytorch#123097",),
)
def conda_mkl_2024_1(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """The pytorch packages of the `pytorch` conda channel link MKL dynamically and use a symbol
    MKL 2024.1 removed: `import torch` fails with "libtorch_cpu.so: undefined symbol:
    iJIT_NotifyEvent". pip wheels link MKL statically and are not affected.

    Fix: `conda install mkl==2024.0` in that environment, or use pip wheels.
    """
    py, deep = ctx.py, deep_facts(ctx)
    if py is None:
        return
    pytorch, mkl = py.conda("pytorch"), py.conda("mkl")
    said = "iJIT_NotifyEvent" in error_text(deep)
    old_channel = pytorch is not None and (
        pytorch.channel == "pytorch" or bool(re.match(r"py3\.\d+_(cuda|cpu)", pytorch.build or ""))
    )
    too_new = mkl is not None and kb.version_tuple(mkl.version) >= (2024, 1)
    if not (said or (old_channel and too_new)):
        return
    facts = []
    if pytorch is not None:
        facts.append(f"conda package pytorch {pytorch.version} ({pytorch.build or '?'})")
    if mkl is not None:
        facts.append(f"mkl {mkl.version}")
    if said:
        facts.append("import torch failed with: undefined symbol: iJIT_NotifyEvent")
    yield r.finding(
        detail="; ".join(facts) + ".",
        fix="conda install mkl==2024.0   (in the same environment), or switch to pip wheels",
    )


@rule(
    "TS109",
    title="A library torch needs cannot be loaded",
    category="libraries",
    severity=ERROR,
    sources=("pytorch/pytorch#101314", "pytorch/pytorch#131662"),
)
def library_not_loadable(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """Loading torch (or an extension) failed because a shared library is missing: "libcudnn.so.8:
    cannot open shared object file", "libcudart.so.12 ...", or on Windows "[WinError 126] ...
    Error loading ...\\torch\\lib\\cudnn_cnn_infer64_8.dll". The library belongs to a CUDA
    major, cuDNN or runtime the install expected and the environment lacks: a torch whose
    nvidia-* wheels are missing (TS009 when torch is known), an extension built for another
    CUDA major than torch's, or a missing Visual C++ runtime (TS028). Read from error text.

    Fix: reinstall torch so its libraries come with it, from one index; keep one CUDA major
    per environment.
    """
    m = said(ctx, "missing-library")
    dll = said(ctx, "missing-dll")
    if m is None and dll is None:
        return
    torch = ctx.torch
    if m is not None and torch is not None and re.match(r"lib(?:cu|nv)", m.group("lib")):
        return  # TS009 names it with the installed torch
    if dll is not None and m is None and ctx.env.os.system == "Windows":
        return  # TS028 (Visual C++ runtime) reads the same error on Windows
    if m is not None:
        lib = m.group("lib")
    else:
        lib = (dll.group("dll") or dll.group("dll2")) if dll is not None else None
        lib = lib or "a DLL"
    cuda = re.search(r"\.so\.(\d+)", lib) if m is not None else None
    mixed = ""
    if (
        cuda
        and torch is not None
        and torch.cuda
        and "cud" in lib
        and cuda.group(1) != torch.cuda.split(".")[0]
    ):
        mixed = (
            f" (it is CUDA {cuda.group(1)}'s, torch {torch.version} is CUDA {torch.cuda}: "
            "mixed CUDA majors)"
        )
    on = f" torch {torch.version}:" if torch else ""
    yield r.finding(
        detail=f"{on} {lib} cannot be loaded{mixed}.".strip(),
        fix=install_command(ctx) + "   (one CUDA major per environment)",
        data={"signal": "missing-library" if m is not None else "missing-dll"},
    )


@rule("TS132", title="nvcc is installed but fails", category="libraries", severity=WARNING)
def nvcc_fails(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """``nvcc --version`` crashed, hung, exited with an error or printed no CUDA version. Code
    that builds CUDA extensions (flash-attn, DeepSpeed ops, ``torch.utils.cpp_extension``)
    runs this nvcc and fails the same way; torchsetup cannot tell which toolkit it belongs to.
    A missing toolkit is no problem (wheels bring their CUDA runtime); a broken one is.

    Fix: run ``nvcc --version`` yourself; reinstall the CUDA toolkit it belongs to, or take
    the broken one off PATH / CUDA_HOME.
    """
    tk = ctx.env.toolkit
    if not tk.nvcc_path or (tk.nvcc_version and not tk.nvcc_error):
        return
    what = (
        f"failed: {tk.nvcc_error}"
        if tk.nvcc_error
        else f'printed no CUDA version ("{tk.nvcc_output_head or "(nothing)"}")'
    )
    yield r.finding(
        detail=f"{tk.nvcc_path} --version {what}. CUDA extension builds use this nvcc.",
        fix=f"{shlex.quote(tk.nvcc_path)} --version   (then reinstall that CUDA toolkit, or take "
        "it off PATH and CUDA_HOME)",
    )
