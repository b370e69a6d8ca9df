"""Doctor rules for the rest of the failure catalogue (TS005-TS029) and for ``--deep`` facts.

Registered into the same :data:`torchsetup.doctor.rules.RULES` registry. Every rule is a pure
function of the Environment: facts from files and the driver first, and, when present,
``env.deep`` (``doctor --deep`` imported torch in the target, or a collect_env report said what
torch saw). What the rules know about releases (arch lists, Python and glibc support, ...)
comes from :mod:`torchsetup.matrix.lookups`.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from typing import Callable, Optional

from torchsetup.detect.model import DeepFacts, LibraryDir, LoadedLibrary, TargetPython
from torchsetup.doctor.context import RuleContext
from torchsetup.doctor.model import ERROR, INFO, WARNING, Finding, Rule
from torchsetup.doctor.rules import _gpu_list, driver_shortfall, rule
from torchsetup.matrix import lookups as kb

# --- shared helpers ----------------------------------------------------------------------------


def _deep(ctx: RuleContext) -> Optional[DeepFacts]:
    return ctx.env.deep


def _reported(ctx: RuleContext) -> bool:
    """Facts from a pasted report: what it does not mention is unknown, not absent."""
    return ctx.env.source.startswith("report:")


def _gpu_capabilities(ctx: RuleContext) -> list[tuple[str, str]]:
    """(GPU label, compute capability): torch's own view first, then NVML, then the model name."""
    deep = _deep(ctx)
    if deep is not None and any(d.capability for d in deep.devices):
        return [(d.name or f"GPU {d.index}", d.capability) for d in deep.devices if d.capability]
    out = []
    for g in ctx.env.nvidia.gpus:
        cc = g.compute_capability or kb.capability_from_name(g.name)
        if cc:
            out.append((g.name, cc))
    return out


def _arch_list(ctx: RuleContext) -> tuple[Optional[tuple[str, ...]], str]:
    """The installed torch's CUDA arch list and where it came from."""
    deep = _deep(ctx)
    if deep is not None and deep.arch_list:
        return deep.arch_list, "torch.cuda.get_arch_list()"
    torch, platform = ctx.torch, ctx.env.os.platform_key
    if torch is None or platform is None:
        return None, ""
    archs = kb.arch_list(torch.public_version, torch.variant, platform)
    return archs, f"the published {torch.variant} wheels of torch {torch.public_version}"


def _arch_mismatches(ctx: RuleContext) -> list[tuple[str, str, tuple[str, ...], str]]:
    """GPUs the installed CUDA torch has no kernels for: (GPU, capability, arch list, source)."""
    torch = ctx.torch
    if torch is None or not torch.cuda:
        return []
    archs, where = _arch_list(ctx)
    if not archs:
        return []
    return [
        (label, cc, archs, where)
        for label, cc in _gpu_capabilities(ctx)
        if kb.arch_supports(cc, archs) is False
    ]


def _sm(capability: str) -> str:
    return "sm_" + capability.replace(".", "")


def _cuda_of(variant: str) -> str:
    """cu126 -> 12.6."""
    digits = variant[2:]
    return f"{digits[:-1]}.{digits[-1]}"


def _marker_environment(ctx: RuleContext) -> Optional[dict[str, str]]:
    """PEP 508 marker values of the target interpreter (not of torchsetup's own Python)."""
    py, os_ = ctx.py, ctx.env.os
    if py is None or not py.version or not os_.system:
        return None
    machine = py.machine or os_.machine or ""
    return {
        "python_version": py.minor or "",
        "python_full_version": py.version,
        "platform_system": os_.system,
        "sys_platform": py.platform
        or {"Linux": "linux", "Darwin": "darwin"}.get(os_.system, "win32"),
        "platform_machine": machine,
        "os_name": "nt" if os_.system == "Windows" else "posix",
        "implementation_name": py.implementation or "cpython",
        "platform_python_implementation": "CPython",
        "platform_release": os_.kernel or "",
        "platform_version": "",
        "implementation_version": py.version,
        "extra": "",
    }


_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*\(?\s*==\s*([^\s;,()]+)\s*\)?\s*(?:;|$)")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def exact_pin_met(raw: str, py: TargetPython) -> bool:
    """The cheap path: ``name==X`` with X installed. Importing packaging.requirements costs
    about 75 ms (it pulls packaging.tags, sysconfig, logging), a third of a whole doctor run on
    a small machine; torch pins exactly, and in a healthy environment the pin is met as text."""
    m = _PIN.match(raw)
    if not m:
        return False
    dist = py.dist(m.group(1))
    return dist is not None and m.group(2) in (dist.version, dist.public_version)


def unmet_requirements(
    ctx: RuleContext, requires: tuple[str, ...], wanted: Callable[[str], bool]
) -> list[tuple[str, str]]:
    """(requirement, why) for the entries of ``requires`` whose name ``wanted`` accepts, that
    apply to the target (markers evaluated for it) and that it does not satisfy."""
    py = ctx.py
    if py is None:
        return []
    candidates = [
        raw
        for raw in requires
        if (m := _NAME.match(raw)) and wanted(m.group(1).lower()) and not exact_pin_met(raw, py)
    ]
    if not candidates:
        return []
    from packaging.markers import InvalidMarker, UndefinedComparison, UndefinedEnvironmentName
    from packaging.requirements import InvalidRequirement, Requirement

    env = _marker_environment(ctx)
    out = []
    for raw in candidates:
        try:
            req = Requirement(raw)
            if req.marker is not None and (env is None or not req.marker.evaluate(env)):
                continue
        except (InvalidRequirement, InvalidMarker, UndefinedComparison, UndefinedEnvironmentName):
            continue
        dist = py.dist(req.name)
        pin = f"{req.name}{req.specifier}"
        if dist is None:
            out.append((pin, f"{req.name} is missing"))
        elif req.specifier and not req.specifier.contains(dist.version, prereleases=True):
            out.append((pin, f"{req.name} {dist.version} is installed, torch needs {pin}"))
    return out


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


def _error_text(deep: Optional[DeepFacts]) -> str:
    """Everything torch said went wrong: the import error and its warnings."""
    if deep is None:
        return ""
    return "\n".join([deep.error or "", deep.cuda_init_warning or "", *deep.warnings])


# --- GPU architecture --------------------------------------------------------------------------


@rule(
    "TS005",
    title="GPU newer than the installed torch's CUDA arch list",
    category="torch",
    severity=ERROR,
    catalogue=5,
    sources=("pytorch/pytorch#150733", "pytorch/pytorch#45130"),
)
def gpu_newer_than_wheel(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """The GPU's compute capability is newer than every architecture the installed torch was
    compiled for, and there is no PTX the driver could compile for it (e.g. a Blackwell
    RTX 5090, sm_120, with cu126 wheels that stop at sm_90). torch warns "NVIDIA GeForce RTX
    5090 with CUDA capability sm_120 is not compatible with the current PyTorch installation"
    and kernels fail with "no kernel image is available for execution on the device".

    Checked from the wheel's published arch list (or, with --deep and in reports that carry
    torch's warning, from torch.cuda.get_arch_list() itself) against the GPU's compute
    capability. SASS runs on the same major with an equal or higher minor; PTX on anything newer.

    Fix: install a build that has kernels for the GPU (cu128 or later for sm_120).
    """
    for label, cc, archs, where in _arch_mismatches(ctx):
        span = kb.arch_span(archs)
        if span is None or kb.version_tuple(cc) <= span[1]:
            continue
        first = kb.builds_with_kernels_for(cc, ctx.env.os.platform_key or "")
        hint = (
            f" The first wheels with {_sm(cc)} kernels: torch {first[0][0]} {first[0][1]}."
            if first
            else ""
        )
        yield r.finding(
            ctx,
            detail=(
                f"{label} has compute capability {cc} ({_sm(cc)}), but the installed torch has "
                f"kernels only for {' '.join(archs)} (from {where}).{hint}"
            ),
            fix=ctx.install_fix(),
        )


@rule(
    "TS006",
    title="GPU older than the installed torch's CUDA arch list",
    category="torch",
    severity=ERROR,
    catalogue=6,
    sources=("pytorch/pytorch#53164", "bnsreenu/digitalsreeni-image-annotator#57"),
)
def gpu_older_than_wheel(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """The GPU is older than the oldest architecture of the installed torch: Maxwell and Pascal
    (sm_50-sm_61) left the cu128 wheels in 2.7, Volta (sm_70) is gone from every CUDA 13 build.
    torch.cuda.is_available() is still True, but every kernel fails with "no kernel image is
    available for execution on the device".

    Fix: the newest build that still carries the GPU's architecture (cu126 up to torch 2.14;
    pytorch/pytorch#190385 proposes to drop it in 2.15), an older torch, or the CPU.
    """
    for label, cc, archs, where in _arch_mismatches(ctx):
        span = kb.arch_span(archs)
        if span is None or kb.version_tuple(cc) > span[1]:
            continue
        builds = kb.builds_with_kernels_for(cc, ctx.env.os.platform_key or "")
        if builds:
            torch_version, variant = builds[-1]
            hint = f" The newest wheels with {_sm(cc)} kernels: torch {torch_version} {variant}."
            fix = ctx.install_fix("--cuda", _cuda_of(variant))
        else:
            hint = " No published torch 2.x wheel has kernels for it any more."
            fix = ctx.install_fix("--cpu") + "   (or build torch from source for this GPU)"
        yield r.finding(
            ctx,
            detail=(
                f"{label} has compute capability {cc} ({_sm(cc)}), older than every "
                f"architecture the installed torch has kernels for: {' '.join(archs)} "
                f"(from {where}).{hint}"
            ),
            fix=fix,
        )


# --- libraries ---------------------------------------------------------------------------------


def _shadowing(
    ctx: RuleContext, r: Rule, *, prefixes: tuple[str, ...], wheel_dist: str, what: str
) -> Iterator[Finding]:
    """Shared body of TS007 (cuDNN) and TS008 (cuBLAS): system copies that beat the wheel's."""
    torch, py = ctx.torch, ctx.py
    if torch is None or not torch.cuda or py is None or ctx.system == "Windows":
        return
    deep = _deep(ctx)
    loaded = [
        lib
        for lib in (deep.libraries or () if deep else ())
        if lib.name.startswith(prefixes) and not _in_environment(ctx, lib.path)
    ]
    if loaded:
        yield r.finding(
            ctx,
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
        ctx,
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
    return ctx.pip("uninstall", "-y", "torch", *dists) + " && " + ctx.install_fix()


def _dirname(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else path


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
    deep = _deep(ctx)
    if deep is not None and deep.cudnn_error and "incompatib" in deep.cudnn_error.lower():
        yield r.finding(
            ctx,
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
    deep = _deep(ctx)
    libs: list[LoadedLibrary] = [
        lib for lib in (deep.libraries or () if deep else ()) if lib.name.startswith("libcublas")
    ]
    folders = sorted({_dirname(lib.path) for lib in libs})
    if len(folders) > 1 and ctx.torch is not None:
        yield r.finding(
            ctx,
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
    torch, py, deep = ctx.torch, ctx.py, _deep(ctx)
    if torch is None or py is None:
        return
    problems = []
    if py.distributions_checked:
        nvidia = unmet_requirements(ctx, torch.requires, lambda name: name.startswith("nvidia-"))
        problems += [why for _, why in nvidia]
    missing_lib = re.search(
        r"(lib(?:cu|nv)\w*\.so[.\d]*): cannot open shared object file", _error_text(deep)
    )
    if missing_lib:
        problems.append(f"import torch failed: {missing_lib.group(1)} cannot be opened")
    if not problems:
        return
    installed = [d.name for d in py.distributions if d.name.startswith("nvidia-")]
    yield r.finding(
        ctx,
        detail=f"torch {torch.version}: " + "; ".join(problems) + ".",
        fix=ctx.pip("uninstall", "-y", "torch", *installed) + " && " + ctx.install_fix(),
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
    py, deep = ctx.py, _deep(ctx)
    if py is None:
        return
    pytorch, mkl = py.conda("pytorch"), py.conda("mkl")
    said = "iJIT_NotifyEvent" in _error_text(deep)
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
        ctx,
        detail="; ".join(facts) + ".",
        fix="conda install mkl==2024.0   (in the same environment), or switch to pip wheels",
    )


# --- Python ------------------------------------------------------------------------------------


@rule(
    "TS012",
    title="No torch wheel for this Python",
    category="python",
    severity=ERROR,
    catalogue=12,
    sources=("facebookresearch/ImageBind#139",),
)
def no_wheel_for_python(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """Each torch release publishes wheels for a window of Python versions (2.9-2.14:
    3.10-3.14). Outside it pip says "Could not find a version that satisfies the requirement
    torch (from versions: none)", or quietly picks an old release.

    Before an install: an error when no 2.x release has wheels for this Python, a warning when
    only old ones do. With torch installed: information when newer releases dropped this Python.

    Fix: use a supported Python (`uv python install 3.12`) in a new environment.
    """
    py, torch = ctx.py, ctx.torch
    if py is None or not py.minor or (py.bits or 64) != 64:
        return
    newest = kb.newest_release()
    if kb.python_supported(newest, py.minor):
        return
    best = kb.newest_torch_for_python(py.minor)
    fix = "uv python install 3.12   (then create the environment with it and install torch there)"
    if torch is not None:
        last = f"torch {best} is the last release" if best else "no torch 2.x release has"
        yield r.finding(
            ctx,
            severity=INFO,
            title="Newer torch releases have no wheels for this Python",
            detail=(
                f"Python {py.version}: {last} with wheels for it (the newest release is "
                f"{newest}); torch {torch.version} is installed."
            ),
            fix=fix,
        )
        return
    if best is None:
        yield r.finding(
            ctx,
            detail=f"No torch 2.x release publishes wheels for Python {py.version}: pip finds none.",
            fix=fix,
        )
    else:
        yield r.finding(
            ctx,
            severity=WARNING,
            title="Only old torch releases have wheels for this Python",
            detail=f"The newest torch with wheels for Python {py.version} is {best} (newest release: {newest}).",
            fix=fix + f"   (or pin torch=={best})",
        )


@rule(
    "TS013",
    title="32-bit Python",
    category="python",
    severity=ERROR,
    catalogue=13,
    sources=("pytorch/pytorch#27815", "pytorch/pytorch#40511"),
)
def python_32bit(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """PyTorch publishes 64-bit wheels only. With a 32-bit Python (common on Windows, the
    "Windows installer (32-bit)" or a Program Files (x86) install) pip finds no torch at all:
    "Could not find a version that satisfies the requirement torch (from versions: none)".

    Fix: install a 64-bit Python and create the environment with it.
    """
    py = ctx.py
    if py is None or py.bits != 32:
        return
    if ctx.system == "Windows":
        fix = "winget install Python.Python.3.12   (64-bit), then recreate the environment with it"
    else:
        fix = "uv python install 3.12   (a 64-bit build), then recreate the environment with it"
    yield r.finding(
        ctx,
        detail=f"{py.executable} is a 32-bit Python {py.version}; torch has 64-bit wheels only.",
        fix=fix,
    )


@rule(
    "TS016",
    title="torch.compile does not support this Python in the installed torch",
    category="python",
    severity=WARNING,
    catalogue=16,
    sources=("pytorch/pytorch#120233", "pytorch/pytorch#144048", "pytorch/pytorch#169875"),
)
def dynamo_python(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """torch.compile (Dynamo) supports each new Python some releases after torch itself runs on
    it: 3.11 from 2.1, 3.12 from 2.4, 3.13 from 2.6, 3.14 from 2.10. Before that
    torch.compile raises "Dynamo is not supported on Python 3.12+"; eager mode works.

    Fix: upgrade torch, or use an older Python for code that compiles.
    """
    py, torch = ctx.py, ctx.torch
    if py is None or torch is None or not py.minor or kb.version_tuple(torch.version)[:1] < (2,):
        return  # torch.compile came with 2.0
    need = kb.dynamo_min_torch(py.minor)
    have = kb.version_tuple(torch.public_version)[:2]
    if need is None:
        detail = f"No torch release supports torch.compile on Python {py.version} yet (torch {torch.version} installed)."
        fix = "use Python 3.13 or older for code that calls torch.compile"
    elif have and have < kb.version_tuple(need):
        detail = (
            f"torch {torch.version} cannot torch.compile on Python {py.version}: "
            f"Dynamo supports Python {py.minor} from torch {need}."
        )
        fix = ctx.install_fix("--torch", f"{need}.0") + "   (or an older Python)"
    else:
        return
    yield r.finding(ctx, detail=detail, fix=fix)


# --- companions and toolchain ------------------------------------------------------------------


@rule(
    "TS017",
    title="Triton missing or not the version torch needs",
    category="companions",
    severity=WARNING,
    catalogue=17,
    sources=("pytorch/pytorch#136361", "pytorch/pytorch#90768"),
)
def triton_missing(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """torch.compile on NVIDIA and AMD GPUs generates Triton kernels. Linux GPU wheels pin the
    triton package they were built with; without it (or with another version) torch.compile
    raises "TritonMissing: Cannot find a working triton installation". Windows has no official
    Triton: torch.compile on the GPU needs the community triton-windows package.

    Fix: install the pinned triton (Linux), or triton-windows / backend="aot_eager" (Windows).
    """
    torch, py = ctx.torch, ctx.py
    if torch is None or py is None or not (torch.cuda or torch.hip) or not py.distributions_checked:
        return
    if kb.version_tuple(torch.version)[:1] < (2,):
        return  # torch.compile came with 2.0
    for pin, why in unmet_requirements(ctx, torch.requires, lambda name: "triton" in name):
        yield r.finding(
            ctx,
            detail=f"torch {torch.version} requires {pin} for torch.compile on the GPU: {why}.",
            fix=ctx.pip("install", pin),
        )
    if ctx.system == "Windows" and not (py.dist("triton-windows") or py.dist("triton")):
        yield r.finding(
            ctx,
            severity=INFO,
            title="No Triton on Windows: torch.compile cannot use the GPU",
            detail=f"torch {torch.version} is a GPU build on Windows, where PyTorch ships no Triton.",
            fix=ctx.pip("install", "triton-windows")
            + '   (community build), or torch.compile(model, backend="aot_eager")',
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
        ctx,
        detail=f"{py.include_dir or 'the include folder'}/Python.h does not exist for {py.executable}: "
        "torch.compile on the GPU will fail when Triton builds its helper.",
        fix=fix,
    )


@rule(
    "TS027",
    title="NumPy does not fit the installed torch",
    category="companions",
    severity=ERROR,
    catalogue=27,
    sources=("pytorch/pytorch#135013",),
)
def numpy_abi(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """torch before 2.3 was compiled against NumPy 1.x: with NumPy 2 "A module that was
    compiled using NumPy 1.x cannot be run in NumPy 2.x" and "Failed to initialize NumPy:
    _ARRAY_API not found", and tensor <-> numpy conversion breaks. Without NumPy at all, torch
    warns "Failed to initialize NumPy: No module named 'numpy'" and the interop is off
    (information only: torch 2.x does not need NumPy).

    Fix: `pip install "numpy<2"` or upgrade torch; install numpy if you convert tensors.
    """
    torch, py, deep = ctx.torch, ctx.py, _deep(ctx)
    text = _error_text(deep)
    numpy = py.dist("numpy") if py is not None else None
    old_torch = torch is not None and kb.version_tuple(torch.public_version)[:2] < (2, 3)
    abi_said = "compiled using NumPy 1.x" in text or "_ARRAY_API not found" in text
    if abi_said or (
        old_torch and numpy is not None and kb.version_tuple(numpy.version)[:1] >= (2,)
    ):
        torch_text = f"torch {torch.version}" if torch else "torch"
        yield r.finding(
            ctx,
            detail=(
                f"{torch_text} was built against NumPy 1.x"
                + (f", numpy {numpy.version} is installed" if numpy else "")
                + ("; torch said: NumPy 1.x/2.x ABI mismatch" if abi_said else "")
                + "."
            ),
            fix=ctx.pip("install", "numpy<2") + "   (or upgrade torch to 2.3 or newer)",
        )
        return
    missing = "No module named 'numpy'" in text or (
        deep is not None and deep.numpy_error is not None and "No module named" in deep.numpy_error
    )
    if missing or (
        py is not None
        and py.distributions_checked
        and numpy is None
        and torch
        and not _reported(ctx)
    ):
        yield r.finding(
            ctx,
            severity=INFO,
            title="NumPy is not installed (tensor <-> numpy conversion is off)",
            detail="torch runs without NumPy, but Tensor.numpy() and torch.from_numpy() fail.",
            fix=ctx.pip("install", "numpy"),
        )
        return
    if deep is not None and deep.numpy_error:
        yield r.finding(
            ctx,
            severity=WARNING,
            title="tensor <-> numpy conversion failed",
            detail=f"torch {torch.version if torch else ''} with numpy {deep.numpy_version or '?'}: {deep.numpy_error}",
            fix=ctx.pip("install", "--force-reinstall", "numpy"),
        )


# --- NVIDIA driver and CUDA initialisation -----------------------------------------------------


@rule(
    "TS019",
    title="WSL2 GPU driver plumbing",
    category="nvidia",
    severity=ERROR,
    catalogue=19,
    sources=("NVIDIA CUDA on WSL User Guide", "microsoft/WSL#5663"),
)
def wsl_driver(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """Under WSL2 the GPU driver lives on Windows and reaches Linux as /usr/lib/wsl/lib
    (libcuda.so.1, nvidia-smi). A Linux NVIDIA driver installed inside WSL breaks it, and
    without /usr/lib/wsl/lib/libcuda.so.1 nothing can use the GPU. (ldconfig's
    "/usr/lib/wsl/lib/libcuda.so.1 is not a symbolic link" warning is harmless.)

    Fix: install or update the NVIDIA driver on Windows only, `wsl --update`, and remove any
    Linux driver packages from the distribution; for nvcc use NVIDIA's WSL-Ubuntu cuda-toolkit.
    """
    o = ctx.env.os
    if not o.wsl:
        return
    if o.wsl_linux_driver:
        yield r.finding(
            ctx,
            detail=f"A Linux NVIDIA driver is installed inside WSL ({o.wsl_linux_driver}); WSL must use the Windows driver.",
            fix="sudo apt-get remove --purge '^nvidia-.*' '^libnvidia-.*'   (keep the driver on Windows)",
        )
    if o.wsl_libcuda is None and not _reported(ctx) and ctx.env.source == "live":
        yield r.finding(
            ctx,
            detail="WSL2 without /usr/lib/wsl/lib/libcuda.so.1: the Windows NVIDIA driver does not reach this distribution.",
            fix="install/update the NVIDIA driver on Windows, then run `wsl --update` and `wsl --shutdown` in PowerShell",
        )


@rule(
    "TS021",
    title="CUDA unknown error (often after suspend/resume)",
    category="nvidia",
    severity=ERROR,
    catalogue=21,
    sources=("pytorch/pytorch#88639",),
)
def cuda_unknown_error(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """nvidia-smi works, but CUDA initialisation fails with "CUDA initialization: CUDA unknown
    error - this may be due to an incorrectly set up environment, e.g. changing env variable
    CUDA_VISIBLE_DEVICES after program start" and torch sees no GPU. After a suspend/resume
    the nvidia_uvm kernel module is usually in a bad state. Needs --deep (or a report).

    Fix: reload nvidia_uvm (`sudo rmmod nvidia_uvm && sudo modprobe nvidia_uvm`) or reboot.
    """
    deep = _deep(ctx)
    if (
        deep is None
        or not deep.cuda_init_warning
        or "unknown error" not in deep.cuda_init_warning.lower()
    ):
        return
    yield r.finding(
        ctx,
        detail=f"CUDA initialisation failed: {_first_line(deep.cuda_init_warning)}",
        fix="sudo rmmod nvidia_uvm && sudo modprobe nvidia_uvm   (or reboot)",
    )


def _first_line(text: str) -> str:
    for line in text.strip().splitlines():
        if line.strip():
            return line.strip()
    return text.strip()


# --- system ------------------------------------------------------------------------------------


@rule(
    "TS023",
    title="glibc too old for current torch wheels",
    category="system",
    severity=WARNING,
    catalogue=23,
    sources=("pytorch/pytorch#156215", "pytorch/pytorch#126551"),
)
def glibc_too_old(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """Linux wheels are manylinux_2_28 from torch 2.7 (some 2.6 variants already): they need
    glibc 2.28 (Ubuntu 18.04 has 2.27, CentOS 7 2.17). pip then offers only older releases
    ("from versions: ... 2.6.0+cu118"), uv says "has no wheels with a matching platform tag".
    musl (Alpine) has no torch wheels at all.

    Before an install a warning, with an older torch installed information only.
    Fix: a newer OS or a container; or pin the newest torch the OS can run.
    """
    o, torch, py = ctx.env.os, ctx.torch, ctx.py
    platform = o.platform_key
    if o.system != "Linux" or platform is None or py is None:
        return
    if o.libc == "musl":
        yield r.finding(
            ctx,
            severity=ERROR,
            title="musl libc: no torch wheels",
            detail=f"{o.name or 'This Linux'} uses musl {o.libc_version or ''}; torch publishes glibc (manylinux) wheels only.",
            fix="use a glibc-based image (e.g. python:3.12-slim instead of python:3.12-alpine)",
        )
        return
    if o.libc != "glibc" or not o.libc_version:
        return
    need = kb.min_glibc(kb.newest_release(), platform)
    if need is None or kb.version_tuple(o.libc_version) >= kb.version_tuple(need):
        return
    best = kb.newest_torch_for_glibc(o.libc_version, platform)
    detail = (
        f"glibc {o.libc_version}: torch {kb.newest_release()} wheels need glibc {need}; "
        f"the newest torch that installs here is {best or 'none'}."
    )
    fix = "upgrade the OS or use a container with glibc >= 2.28" + (
        f"; or pin torch=={best}" if best else ""
    )
    yield r.finding(ctx, detail=detail, fix=fix, severity=INFO if torch is not None else WARNING)


@rule(
    "TS024",
    title="Intel Mac or x86_64 Python under Rosetta",
    category="system",
    severity=WARNING,
    catalogue=24,
    sources=("pytorch/pytorch#114602", "pytorch/pytorch#131766"),
)
def intel_mac(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """PyTorch stopped building macOS x86_64 wheels after 2.2: on an Intel Mac `pip install
    torch==2.4` fails with "(from versions: ... 2.2.2)". On Apple silicon the same happens to an
    x86_64 Python running under Rosetta, which also has no MPS.

    Fix: on Apple silicon a native arm64 Python; on an Intel Mac torch<=2.2.2 (or a source build).
    """
    o, torch = ctx.env.os, ctx.torch
    if o.system != "Darwin" or o.machine != "x86_64":
        return
    last = kb.last_release_for("macos-x86_64") or "2.2.2"
    if o.rosetta:
        yield r.finding(
            ctx,
            severity=ERROR,
            title="x86_64 Python under Rosetta on Apple silicon",
            detail=f"The target Python runs translated by Rosetta: it only gets torch <= {last} and no MPS.",
            fix="uv python install 3.12   (a native arm64 Python; check with: python -c 'import platform; print(platform.machine())'), then recreate the environment",
        )
        return
    if torch is not None and kb.version_tuple(torch.public_version) <= kb.version_tuple(last):
        return
    yield r.finding(
        ctx,
        detail=f"Intel Mac (macOS x86_64): the last torch with wheels for it is {last}.",
        fix=ctx.install_fix("--torch", last),
    )


@rule(
    "TS025",
    title="MPS (Apple GPU) not available",
    category="torch",
    severity=WARNING,
    catalogue=25,
    sources=("pytorch/pytorch#78343", "pytorch/pytorch#164943", "pytorch/pytorch#167679"),
)
def mps_unavailable(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """torch's MPS backend needs Apple silicon, a native arm64 Python and a minimum macOS that
    rose over time: 12.3 (torch 1.12), 13.0 (2.5), 14.0 (2.10). Below it
    torch.backends.mps.is_available() is False and `.to("mps")` raises "The MPS backend is
    supported on MacOS 14.0+". With --deep, an MPS that is built but unavailable on a new
    enough macOS is reported too (VMs, sandboxes, reports on macOS 26).

    Fix: upgrade macOS (or use a torch whose minimum is lower), else run on the CPU.
    """
    o, torch, deep = ctx.env.os, ctx.torch, _deep(ctx)
    if o.system != "Darwin" or torch is None or o.machine != "arm64":
        return
    need = kb.mps_min_macos(torch.public_version)
    if need and o.version and kb.version_tuple(o.version) < kb.version_tuple(need):
        yield r.finding(
            ctx,
            detail=f"macOS {o.version}: the MPS backend of torch {torch.version} needs macOS {need}; torch runs on the CPU only.",
            fix=f"upgrade macOS to {need} or newer (or run on the CPU)",
        )
        return
    if deep is not None and deep.mps_built and deep.mps_available is False:
        yield r.finding(
            ctx,
            detail=f"torch {torch.version} has MPS built in but torch.backends.mps.is_available() is False on macOS {o.version or '?'}.",
            fix="run outside a VM/sandbox; update macOS and torch; meanwhile use the CPU",
        )


@rule(
    "TS026",
    title="AMD GPU architecture not in the ROCm build",
    category="torch",
    severity=ERROR,
    catalogue=26,
    sources=("pytorch/pytorch#164346", "pytorch/pytorch#132570"),
)
def rocm_arch(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """ROCm wheels carry kernels for a list of gfx targets. Another AMD GPU (an APU such as
    gfx1151, an RX 6700 XT gfx1031, ...) fails at its first kernel with "HIP error: invalid
    device function". Needs --deep (gcnArchName and torch.cuda.get_arch_list()).

    Fix: a ROCm build with the target, or the unsupported HSA_OVERRIDE_GFX_VERSION workaround
    (10.3.0 for RDNA2, 11.0.0 for RDNA3; it may hang or compute wrong results).
    """
    deep, torch = _deep(ctx), ctx.torch
    if deep is None or not deep.arch_list or torch is None or not torch.hip:
        return
    for dev in deep.devices:
        gfx = (dev.arch or "").split(":")[0]
        if not gfx or gfx in deep.arch_list:
            continue
        override = (
            "10.3.0" if gfx.startswith("gfx103") else "11.0.0" if gfx.startswith("gfx11") else None
        )
        fix = ctx.install_fix()
        if override:
            fix += f"   (unsupported workaround: export HSA_OVERRIDE_GFX_VERSION={override})"
        yield r.finding(
            ctx,
            detail=f"{dev.name or 'GPU'} is {gfx}, but torch {torch.version} was built for {' '.join(deep.arch_list)}.",
            fix=fix,
        )


@rule(
    "TS028",
    title="Windows: Visual C++ runtime missing",
    category="system",
    severity=ERROR,
    catalogue=28,
    sources=("pytorch/pytorch#131662", "pytorch/pytorch#129568"),
)
def vc_runtime(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """torch's DLLs need the Microsoft Visual C++ 2015-2022 runtime (vcruntime140.dll,
    vcruntime140_1.dll, msvcp140.dll; torch 2.4.0 also libomp140.x86_64.dll). Without it
    `import torch` fails with "OSError: [WinError 126] The specified module could not be found.
    Error loading ...\\torch\\lib\\fbgemm.dll or one of its dependencies".

    Fix: install the latest Microsoft Visual C++ Redistributable (x64) - never DLLs from
    third-party DLL sites.
    """
    o, torch, deep = ctx.env.os, ctx.torch, _deep(ctx)
    if o.system != "Windows":
        return
    missing = [
        dll
        for dll in o.vc_runtime_missing or ()
        if dll != "libomp140.x86_64.dll" or (torch is not None and torch.public_version == "2.4.0")
    ]
    said = re.search(r"WinError 126\]?.*?([\w.]+\.dll)?", _error_text(deep))
    if not missing and not said:
        return
    detail = (
        f"System32 lacks {', '.join(missing)}"
        if missing
        else "import torch failed with WinError 126"
    )
    if said and said.group(1):
        detail += f" (import torch: Error loading {said.group(1)})"
    yield r.finding(
        ctx,
        detail=detail + ".",
        fix="winget install Microsoft.VCRedist.2015+.x64   (or https://aka.ms/vs/17/release/vc_redist.x64.exe)",
    )


# --- torch at run time (--deep) ----------------------------------------------------------------


@rule("TS105", title="import torch fails", category="torch", severity=ERROR)
def import_fails(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """With --deep, torchsetup imports torch in the target interpreter (in a subprocess, with
    a timeout). It failed, crashed or hung: the message is what Python said. Specific causes
    (missing NVIDIA libraries, the Visual C++ runtime, MKL) have their own rules next to this.

    Fix: reinstall torch for this machine; the specific rules name a narrower fix.
    """
    deep = _deep(ctx)
    if deep is None or deep.imported is not False:
        return
    yield r.finding(
        ctx,
        detail=f"import torch failed in {ctx.py.executable if ctx.py else 'the target'}: {_first_line(deep.error or '?')}",
        fix=ctx.install_fix(),
    )


@rule("TS106", title="A GPU failed the tensor check", category="torch", severity=ERROR)
def tensor_check(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """With --deep, torchsetup multiplies two small matrices on every visible GPU and compares
    the result with the CPU's. A device that raises or computes a wrong result cannot be used,
    whatever torch.cuda.is_available() says. "no kernel image" and "invalid device function"
    errors are explained by TS005/TS006/TS026 (the architecture) and are not repeated here.
    """
    deep = _deep(ctx)
    if deep is None:
        return
    for dev in deep.devices:
        if dev.tensor_ok is not False or _arch_error(dev.error):
            continue
        yield r.finding(
            ctx,
            detail=f"GPU {dev.index} ({dev.name or '?'}): "
            + (dev.error or "a 64x64 matmul returned a wrong result"),
            fix="run nvidia-smi -q for errors (ECC, Xid), update the driver; if it persists the GPU may be faulty",
        )


def _arch_error(error: Optional[str]) -> bool:
    """Errors that mean "no kernels for this GPU" (TS005/TS006/TS026 explain them)."""
    low = (error or "").lower()
    return "no kernel image" in low or "invalid device function" in low


@rule("TS107", title="torch cannot use the NVIDIA GPU", category="torch", severity=ERROR)
def cuda_unavailable(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """A CUDA build of torch, an NVIDIA GPU with a working driver, and yet
    torch.cuda.is_available() is False (with --deep, or as a report says), for a reason no
    narrower rule names (driver too old TS003, hidden GPUs TS020, unknown error TS021, ...).
    The message quotes torch's own warning.
    """
    deep, torch, nv = _deep(ctx), ctx.torch, ctx.env.nvidia
    if deep is None or deep.cuda_available is not False or torch is None or not torch.cuda:
        return
    if nv.status != "ok" or not nv.gpus:
        return
    warning = deep.cuda_init_warning or ""
    explained = (
        "unknown error" in warning.lower()
        or driver_shortfall(ctx) == ERROR
        or (nv.cuda_visible_devices is not None and not nv.cuda_visible_devices.strip(" ,"))
        or nv.cuda_visible_devices == "-1"
    )
    if explained:
        return
    said = f" torch said: {_first_line(warning)}" if warning else ""
    yield r.finding(
        ctx,
        detail=(
            f"torch {torch.version} (CUDA {torch.cuda}) reports torch.cuda.is_available() = False "
            f"with {_gpu_list(ctx)} and driver {nv.driver_version or '?'}.{said}"
        ),
        fix="torchsetup doctor --deep -v   (then: " + ctx.install_fix() + ")",
    )
