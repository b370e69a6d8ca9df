"""Rules of the PyTorch category: the installed torch against this machine, and, with
``--deep`` (or a report), what torch itself saw at run time (TS001 TS005 TS006 TS010 TS025
TS026 TS101 TS105 TS106 TS107 TS128)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Optional

from torchsetup.doctor.context import RuleContext
from torchsetup.doctor.fix_commands import install_command
from torchsetup.doctor.model import ERROR, INFO, WARNING, Finding, Rule
from torchsetup.doctor.rules._facts import (
    deep_facts,
    driver_shortfall,
    first_line,
    gpu_list,
    said,
)
from torchsetup.doctor.rules.registry import rule
from torchsetup.matrix import lookups as kb


def _gpu_capabilities(ctx: RuleContext) -> list[tuple[str, str]]:
    """(GPU label, compute capability): torch's own view first, then NVML, then the model name."""
    deep = deep_facts(ctx)
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
    deep = deep_facts(ctx)
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


def _arch_error(error: Optional[str]) -> bool:
    """Errors that mean "no kernels for this GPU" (TS005/TS006/TS026 explain them)."""
    low = (error or "").lower()
    return "no kernel image" in low or "invalid device function" in low


@rule(
    "TS001",
    title="CPU-only torch on a machine with an NVIDIA GPU",
    category="torch",
    severity=ERROR,
    catalogue=1,
    sources=("pytorch/pytorch#131731", "astral-sh/uv#17236"),
)
def cpu_torch_on_gpu_machine(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """The installed torch is a CPU build while an NVIDIA GPU and driver are present.

    The classic: the PyPI wheel on Windows and macOS is CPU-only, a resolver picked "+cpu", or a
    later `pip install` replaced the CUDA build. torch then says "Torch not compiled with CUDA
    enabled" and training silently runs on the CPU.

    Fix: reinstall from the PyTorch index that matches the driver (torchsetup chooses it).
    """
    torch = ctx.torch
    nv = ctx.env.nvidia
    if torch is None or torch.variant != "cpu" or not nv.gpus:
        return
    yield r.finding(
        detail=(
            f"torch {torch.version} is a CPU build, but this machine has "
            f"{gpu_list(ctx)} with driver {nv.driver_version or '?'}."
        ),
        fix=install_command(ctx),
        data={"package": "torch", "installed": torch.version},
    )


@rule(
    "TS010",
    title="More than one torch installed",
    category="torch",
    severity=ERROR,
    catalogue=10,
    sources=("huggingface/transformers#29022", "pytorch/pytorch#12470"),
)
def two_torch_installs(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """Two copies of torch are importable from the target (user site + venv, conda + pip, a
    PYTHONPATH entry...). Which one `import torch` gets depends on sys.path order, so
    `torch.__version__` differs from what `pip show torch` says, and odd AttributeErrors or
    segfaults follow. A conda environment holding conda's `pytorch` package and a pip-installed
    `torch` (another version, or installed by pip over it) counts too: both write torch/.

    Fix: uninstall until `import torch` fails, then install once.
    """
    py = ctx.py
    if py is None:
        return
    locations = list(py.torch_locations)
    dist_locs = [d.location or "?" for d in py.distributions if d.name == "torch"]
    copies = max(len(locations), len(dist_locs))
    conda, pip_torch = py.conda("pytorch"), py.dist("torch")
    if copies < 2 and conda is not None and pip_torch is not None:
        if pip_torch.installer == "pip" or conda.version != pip_torch.public_version:
            yield r.finding(
                detail=(
                    f"conda's pytorch {conda.version} ({conda.build or '?'}) and pip's torch "
                    f"{pip_torch.version} are both installed in {py.prefix or 'this environment'}: "
                    "they overwrite each other's files."
                ),
                fix=(
                    f"conda remove --force pytorch && {ctx.pip('uninstall', '-y', 'torch')}, "
                    "then " + install_command(ctx)
                ),
            )
        return
    if copies < 2:
        return
    where = locations if len(locations) >= len(dist_locs) else dist_locs
    yield r.finding(
        detail=f"{copies} copies of torch are on the target's sys.path: "
        + "; ".join(where)
        + (f" (import torch takes the first: {where[0]})" if where else "")
        + ".",
        fix=(
            f"{ctx.pip('uninstall', '-y', 'torch')}   (repeat until `import torch` fails; "
            "remove conda's `pytorch` with `conda remove pytorch`), then " + install_command(ctx)
        ),
    )


@rule("TS101", title="torch is not installed", category="torch", severity=INFO)
def torch_missing(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """The target interpreter has no torch. Not a problem in itself: torchsetup install picks
    the build for this machine and installs it."""
    py = ctx.py
    if py is None or py.torch is not None or not py.torch_checked:
        return
    yield r.finding(
        detail=f"No torch in {py.executable} (Python {py.version}).", fix=install_command(ctx)
    )


@rule("TS128", title="torch is half installed", category="torch", severity=ERROR)
def torch_half_installed(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """torch's files and its metadata disagree: a ``torch/`` package with no ``torch-*.dist-info``
    (an install interrupted while pip extracted the wheel, or files copied by hand), or a
    dist-info whose ``torch/`` package is gone. Python may still import a version number from
    ``torch/version.py``, but the package is incomplete, and pip does not know about it: it will
    neither uninstall nor replace the leftover files.

    Fix: delete the leftover ``torch`` folder (or the dist-info) from site-packages, then install
    torch again.
    """
    py = ctx.py
    if (
        py is None
        or not py.torch_checked
        or py.torch is None
        or ctx.env.source.startswith(("report", "capture"))  # pip lists only: no file facts
    ):
        return
    dist = py.dist("torch")
    where = py.torch.location or (py.torch_locations[0] if py.torch_locations else None)
    if dist is None and where:
        yield r.finding(
            detail=f"{where} holds torch {py.torch.version} but no torch dist-info is installed "
            f"in {py.executable}: an interrupted install left the files without the metadata.",
            fix=f"remove {where}, then: {install_command(ctx)}",
        )
    elif dist is not None and not py.torch_locations and ctx.env.source == "live":
        # only the live probe says where torch's files are; a saved environment may omit it
        yield r.finding(
            detail=f"torch {dist.version} is recorded (dist-info) in {py.executable}, but there "
            "is no torch package to import: its files are gone.",
            fix=f"{py.executable} -m pip uninstall -y torch, then: {install_command(ctx)}",
        )


@rule(
    "TS134", title="import torch compiles its modules every time", category="torch", severity=INFO
)
def torch_bytecode_not_written(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """torch's modules have no ``.pyc`` for the target Python, and Python will not write them:
    ``PYTHONDONTWRITEBYTECODE`` is set (or ``-B``: common in container images, to keep them
    small), or this user cannot write to torch's folder (a torch installed by root). Every
    ``import torch`` then compiles the ~700 modules it loads in memory again, which makes it
    about twice as slow (3.0 s instead of 1.4 s for torch 2.13 on a 2-vCPU machine; see
    docs/benchmarks.md). Not an error: imports work.

    An install with pip compiles every module, and ``torchsetup install`` writes the bytecode of
    what ``import torch`` loads (its ``bytecode`` step), whatever ``PYTHONDONTWRITEBYTECODE``
    says; this happens after an install with ``--no-compile``, ``uv pip install`` without
    ``--compile-bytecode``, or ``torchsetup install --bytecode none``.

    Fix: import torch once with bytecode writing on (as the owner of torch's folder).
    """
    py, torch = ctx.py, ctx.torch
    if py is None or torch is None or torch.bytecode != "absent-not-written":
        return
    import shlex

    from torchsetup.resolve.plan import warm_import_argv

    where = torch.location or "torch"
    yield r.finding(
        detail=f"{where} has no bytecode (.pyc) for Python {py.minor or py.version}, and Python "
        "does not write it here (PYTHONDONTWRITEBYTECODE or -B, or a folder this user cannot "
        "write): every import torch compiles its modules again, about twice as slow.",
        fix=" ".join(shlex.quote(a) for a in warm_import_argv(py.executable))
        + f"   (as the owner of {where} if this user cannot write there)",
    )


@rule("TS133", title="torch/version.py is missing or unreadable", category="torch", severity=ERROR)
def torch_version_py_damaged(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """Every torch wheel installs ``torch/version.py`` (``__version__``, ``cuda``, ``hip``);
    torch imports it at start-up and torchsetup reads its build (CPU, CUDA, ROCm) from it.
    Here it is missing, or holds no ``__version__``: the files are damaged (an interrupted
    install, a file edited or truncated). The build torchsetup reports is then a guess from
    the dist-info, and ``import torch`` is likely to fail.

    Fix: reinstall the same torch over it with ``pip install --force-reinstall --no-deps``.
    """
    py, torch = ctx.py, ctx.torch
    if (
        py is None
        or torch is None
        or not torch.version_py_problem
        or ctx.env.source.startswith(("report", "capture"))
    ):
        return
    where = torch.location or "torch"
    dist = py.dist("torch")
    pin = f"torch=={dist.version}" if dist else "torch"
    index = kb.index_for_local_label(dist.local if dist else None)
    yield r.finding(
        detail=f"{where}/version.py {torch.version_py_problem}: the installed torch "
        f"{dist.version if dist else '(no dist-info)'} is damaged and its build cannot be read.",
        fix=f"{py.executable} -m pip install --force-reinstall --no-deps '{pin}'"
        + (f" --index-url {index}" if index else ""),
    )


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
            detail=(
                f"{label} has compute capability {cc} ({_sm(cc)}), but the installed torch has "
                f"kernels only for {' '.join(archs)} (from {where}).{hint}"
            ),
            fix=install_command(ctx),
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
    For a torch the matrix has no arch list for (1.x), the era facts of the GPU table decide: a
    GPU below what the build's CUDA can compile for (Tesla sm_1x after CUDA 7, Fermi sm_2x after
    CUDA 9) or below the torch 1.x binaries' floor (sm_35, sm_37 for CUDA 11) has no kernels.
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
            fix = install_command(ctx, "--cuda", _cuda_of(variant))
        else:
            hint = " No published torch 2.x wheel has kernels for it any more."
            fix = install_command(ctx, "--cpu") + "   (or build torch from source for this GPU)"
        yield r.finding(
            detail=(
                f"{label} has compute capability {cc} ({_sm(cc)}), older than every "
                f"architecture the installed torch has kernels for: {' '.join(archs)} "
                f"(from {where}).{hint}"
            ),
            fix=fix,
        )
    placed = {label for label, *_ in _arch_mismatches(ctx)}
    torch = ctx.torch
    too_old = [t for t in _too_old_for_any(ctx) if t[0] not in placed]
    warned = said(ctx, "gpu-too-old")
    if warned is not None and not placed and not too_old:
        named = warned.group("name")
        cc = warned.group("cc")
        which = named or ", ".join(f"{label} ({_sm(c)})" for label, c in _gpu_capabilities(ctx))
        yield r.finding(
            detail=(
                f"torch said the GPU{' ' + which if which else ''} is too old for it"
                + (f" (compute capability {cc})" if cc else "")
                + ": the installed build has no kernels for it."
            ),
            fix=install_command(ctx, "--cpu")
            + "   (or a build that still carries the GPU's architecture: torchsetup install "
            "on that machine finds it)",
            data={"signal": "gpu-too-old"},
        )
        return
    for label, cc, why in too_old:
        if torch is None:
            continue
        yield r.finding(
            detail=(
                f"{label} has compute capability {cc} ({_sm(cc)}): torch {torch.version} "
                f"(CUDA {torch.cuda}) has no kernels for it: {why}."
            ),
            fix=install_command(ctx, "--cpu")
            + "   (no current CUDA build of torch runs on this GPU)",
            data={"signal": "gpu-too-old"} if said(ctx, "gpu-too-old") else None,
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
    o, torch, deep = ctx.env.os, ctx.torch, deep_facts(ctx)
    if o.system != "Darwin" or torch is None or o.machine != "arm64":
        return
    need = kb.mps_min_macos(torch.public_version)
    if need and o.version and kb.version_tuple(o.version) < kb.version_tuple(need):
        yield r.finding(
            detail=f"macOS {o.version}: the MPS backend of torch {torch.version} needs macOS {need}; torch runs on the CPU only.",
            fix=f"upgrade macOS to {need} or newer (or run on the CPU)",
        )
        return
    if deep is not None and deep.mps_built and deep.mps_available is False:
        yield r.finding(
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
    deep, torch = deep_facts(ctx), ctx.torch
    if deep is None or not deep.arch_list or torch is None or not torch.hip:
        return
    for dev in deep.devices:
        gfx = (dev.arch or "").split(":")[0]
        if not gfx or gfx in deep.arch_list:
            continue
        override = (
            "10.3.0" if gfx.startswith("gfx103") else "11.0.0" if gfx.startswith("gfx11") else None
        )
        fix = install_command(ctx)
        if override:
            fix += f"   (unsupported workaround: export HSA_OVERRIDE_GFX_VERSION={override})"
        yield r.finding(
            detail=f"{dev.name or 'GPU'} is {gfx}, but torch {torch.version} was built for {' '.join(deep.arch_list)}.",
            fix=fix,
        )


@rule("TS105", title="import torch fails", category="torch", severity=ERROR)
def import_fails(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """With --deep, torchsetup imports torch in the target interpreter (in a subprocess, with
    a timeout). It failed, crashed or hung: the message is what Python said. Specific causes
    (missing NVIDIA libraries, the Visual C++ runtime, MKL) have their own rules next to this.

    Fix: reinstall torch for this machine; the specific rules name a narrower fix.
    """
    deep = deep_facts(ctx)
    if deep is None or deep.imported is not False:
        return
    yield r.finding(
        detail=f"import torch failed in {ctx.py.executable if ctx.py else 'the target'}: {first_line(deep.error or '?')}",
        fix=install_command(ctx),
    )


@rule("TS106", title="A GPU failed the tensor check", category="torch", severity=ERROR)
def tensor_check(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """With --deep, torchsetup multiplies two small matrices on every visible GPU and compares
    the result with the CPU's. A device that raises or computes a wrong result cannot be used,
    whatever torch.cuda.is_available() says. "no kernel image" and "invalid device function"
    errors are explained by TS005/TS006/TS026 (the architecture) and are not repeated here.
    """
    deep = deep_facts(ctx)
    if deep is None:
        return
    for dev in deep.devices:
        if dev.tensor_ok is not False or _arch_error(dev.error):
            continue
        yield r.finding(
            detail=f"GPU {dev.index} ({dev.name or '?'}): "
            + (dev.error or "a 64x64 matmul returned a wrong result"),
            fix="run nvidia-smi -q for errors (ECC, Xid), update the driver; if it persists the GPU may be faulty",
        )


@rule("TS107", title="torch cannot use the NVIDIA GPU", category="torch", severity=ERROR)
def cuda_unavailable(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """A CUDA build of torch, an NVIDIA GPU with a working driver, and yet
    torch.cuda.is_available() is False (with --deep, or as a report says), for a reason no
    narrower rule names (driver too old TS003, hidden GPUs TS020, unknown error TS021, ...).
    The message quotes torch's own warning.
    """
    deep, torch, nv = deep_facts(ctx), ctx.torch, ctx.env.nvidia
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
    said = f" torch said: {first_line(warning)}" if warning else ""
    yield r.finding(
        detail=(
            f"torch {torch.version} (CUDA {torch.cuda}) reports torch.cuda.is_available() = False "
            f"with {gpu_list(ctx)} and driver {nv.driver_version or '?'}.{said}"
        ),
        fix="torchsetup doctor --deep -v   (then: " + install_command(ctx) + ")",
    )


def _extension_of(path: Optional[str]) -> str:
    """The package a compiled module belongs to: .../site-packages/flash_attn_2_cuda... ->
    flash_attn_2_cuda; .../torchvision/_C.so -> torchvision."""
    if not path:
        return "a compiled extension"
    parts = [p for p in path.replace("\\", "/").split("/") if p]
    if "site-packages" in parts and parts.index("site-packages") + 1 < len(parts):
        return parts[parts.index("site-packages") + 1].split(".")[0]
    return parts[-1].split(".")[0] if parts else "a compiled extension"


@rule(
    "TS110",
    title="A compiled extension was built for another torch (undefined symbol)",
    category="torch",
    severity=ERROR,
    sources=("Dao-AILab/flash-attention#940", "pytorch/vision#4995"),
)
def undefined_symbol(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """Loading a compiled module failed with "undefined symbol: _ZN3c10...": the module (a
    torchvision/torchaudio `_C`, flash-attn, vLLM, xformers, torch-scatter, a JIT-built
    DeepSpeed op) was compiled against another torch minor, CUDA major or C++ ABI than the
    torch now installed, usually because torch was upgraded after it. Read from error text.

    Fix: reinstall the extension built for the installed torch (or rebuild it against it with
    `--no-build-isolation`), installing torch first and the extension last.
    """
    m = said(ctx, "undefined-symbol")
    if m is None:
        return
    owner = _extension_of(m.group("so"))
    torch = ctx.torch
    on = f" next to torch {torch.version}" if torch else ""
    yield r.finding(
        detail=f"{owner} does not fit the installed torch{on}: undefined symbol {m.group('symbol')}.",
        fix=f"reinstall {owner} for this torch: {ctx.pip('install', '--force-reinstall', '--no-deps', '--no-build-isolation', owner)}"
        if owner != "a compiled extension"
        else "reinstall the extension named in the error after torch, built for the installed torch",
        data={"signal": "undefined-symbol", "package": owner},
    )


@rule(
    "TS111",
    title="No kernel image for this GPU",
    category="torch",
    severity=ERROR,
    sources=("pytorch/pytorch#31285",),
)
def no_kernel_image(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """CUDA said "no kernel image is available for execution on the device": the torch (or an
    extension) in use has no code for this GPU's architecture. When the GPU and the arch list
    are known TS005 (GPU too new) or TS006 (too old) says which; this rule quotes the error
    when the paste names neither.

    Fix: `torchsetup doctor` on that machine names the GPU and the build that has kernels for it.
    """
    if said(ctx, "no-kernel-image") is None or _arch_mismatches(ctx) or _too_old_for_any(ctx):
        return
    gpus = _gpu_capabilities(ctx)
    which = ", ".join(f"{label} ({_sm(cc)})" for label, cc in gpus) or "the GPU (not in the paste)"
    yield r.finding(
        detail=f"The torch in use has no kernels for {which}: CUDA said no kernel image is available.",
        fix="torchsetup doctor   (on that machine: it names the GPU and a build with its kernels), then "
        + install_command(ctx),
        data={"signal": "no-kernel-image"},
    )


def _too_old_for_any(ctx: RuleContext) -> list[tuple[str, str, str]]:
    """GPUs that no build like the installed one can have kernels for, from the era facts
    (CUDA's own floor, the torch 1.x binaries' floor): (GPU, capability, why)."""
    torch = ctx.torch
    if torch is None or not torch.cuda:
        return []
    out = []
    for label, cc in _gpu_capabilities(ctx):
        why = kb.no_kernels_ever(cc, torch.cuda, torch.public_version)
        if why:
            out.append((label, cc, why))
    return out


@rule(
    "TS116",
    title='torch is a CPU build ("Torch not compiled with CUDA enabled")',
    category="torch",
    severity=ERROR,
    sources=("pytorch/pytorch#30664",),
)
def not_compiled_with_cuda(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """The code asked for CUDA and torch raised "AssertionError: Torch not compiled with CUDA
    enabled": the torch in use is a CPU build (the default wheel on Windows and macOS, a "+cpu"
    build picked by a resolver, or a later install that replaced the CUDA build). TS001 says
    the same with the GPU named; this rule quotes the error when the paste has no GPU facts.

    Fix: install a CUDA build from the PyTorch index that fits the driver.
    """
    torch, nv = ctx.torch, ctx.env.nvidia
    if said(ctx, "cuda-not-compiled") is None:
        return
    if torch is not None and torch.variant == "cpu" and nv.gpus:
        return  # TS001
    what = f"torch {torch.version}" if torch else "The torch in use"
    yield r.finding(
        detail=f'{what} is a CPU build: it raised "Torch not compiled with CUDA enabled".',
        fix=install_command(ctx),
        data={"signal": "cuda-not-compiled"},
    )


_CUDA_RUNTIME_PACKAGES = ("pytorch-cuda", "cudatoolkit", "cuda-runtime", "cuda-cudart")


@rule(
    "TS120",
    title="CPU torch next to a CUDA runtime",
    category="torch",
    severity=WARNING,
    sources=("pytorch/pytorch#100974",),
)
def cpu_torch_with_cuda_runtime(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """torch is a CPU build, yet the environment holds a CUDA runtime meant for it (conda's
    `pytorch-cuda`/`cudatoolkit`/`cuda-runtime`, or pip's `nvidia-cuda-runtime-cu1x`): the
    install asked for CUDA and got the CPU build, typically when a conda nightly or a mixed
    channel list resolved `pytorch` to its cpu variant, or pip replaced the CUDA wheel. torch
    ignores the runtime and runs on the CPU. (With a GPU in the facts TS001 says it as an
    error.)

    Fix: reinstall torch as a CUDA build, from one channel or index.
    """
    torch, py, nv = ctx.torch, ctx.py, ctx.env.nvidia
    if torch is None or py is None or torch.variant != "cpu" or torch.hip or nv.gpus:
        return
    runtime = next(
        (f"conda's {c.name} {c.version}" for n in _CUDA_RUNTIME_PACKAGES if (c := py.conda(n))),
        None,
    ) or next(
        (
            f"{d.name} {d.version}"
            for d in py.distributions
            if d.name.startswith("nvidia-cuda-runtime")
        ),
        None,
    )
    if runtime is None:
        return
    yield r.finding(
        detail=f"torch {torch.version} is a CPU build, but {runtime} is installed next to it.",
        fix=install_command(ctx),
    )


@rule(
    "TS127",
    title="The drift guard (torchsetup guard)",
    category="torch",
    severity=INFO,
    sources=("astral-sh/uv#18478", "vllm-project/vllm#34224"),
)
def drift_guard(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """Whether the torch build in this environment is pinned against later installs. Without
    it, the next `pip install xformers` (or any package that pins one exact torch) replaces the
    CUDA build torchsetup installed with whatever that package asks for, often a CPU or
    other-CUDA torch from PyPI.

    `torchsetup install` sets the guard after installing into a venv or conda environment: a
    constraints file with the installed build (`torch==2.13.0+cpu`, its companions), named by
    the environment's own `pip.conf` (pip reads it for every install there, activated or not)
    and exported as `UV_CONSTRAINT` by its activation script (`uv pip install` in the activated
    environment). An install that wants another torch then fails with the installer's resolver
    error instead of swapping the build.

    Information when the guard is on or off; a warning when it is on but the installed torch
    is not the pinned one (it was replaced past the guard: `PIP_CONSTRAINT` set, `--isolated`,
    or `uv pip install --python` without activating).

    Fix: `torchsetup guard on` pins what is installed now; `torchsetup guard off` lifts it.
    """
    from torchsetup.guardfile import status_of

    py = ctx.py
    if py is None or not py.prefix or py.env_kind not in ("venv", "conda"):
        return
    dist = py.dist("torch")
    if dist is None or not any(p.name == "guard" and p.ok for p in ctx.env.probes):
        return  # no torch, or a report / snapshot without the guard's files
    status = status_of(py.prefix, dict(ctx.env.pip_config))
    where = f"--python {py.executable}"
    data = {"on": "yes" if status.on else "no", "pins": " ".join(status.pins)}
    if not status.on:
        yield r.finding(
            title="The torch build is not guarded",
            detail=f"torch {dist.version} is not pinned in {py.prefix}: a later pip/uv install "
            "of a package that pins another torch replaces this build.",
            fix=f"torchsetup guard on {where}",
            data=data,
        )
        return
    pinned = next((p for p in status.pins if p.startswith("torch==")), None)
    if pinned is not None and pinned != f"torch=={dist.version}":
        yield r.finding(
            severity=WARNING,
            title="torch was replaced past the guard",
            detail=f"the guard pins {pinned}, but torch {dist.version} is installed: something "
            "installed it without the guard (PIP_CONSTRAINT, --isolated, or uv without activating).",
            fix=f"torchsetup install {where} --torch {pinned.partition('==')[2].partition('+')[0]}"
            f"   (or, to keep this build: torchsetup guard on {where})",
            data=data,
        )
        return
    held = ["pip" if status.pip else "", "uv (activated)" if status.uv else ""]
    yield r.finding(
        title="The torch build is guarded",
        detail=f"{', '.join(status.pins)} pinned for later installs in {py.prefix} by "
        f"{' and '.join(h for h in held if h)}.",
        fix=f"torchsetup guard off {where}   (to lift it)",
        data=data,
    )
