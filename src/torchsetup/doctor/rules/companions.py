"""Rules of the Companion packages category: torchvision/torchaudio, Triton, NumPy and the
torchtriton package (TS011 TS014 TS017 TS027)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Optional

from torchsetup.detect.model import Distribution
from torchsetup.doctor.context import RuleContext
from torchsetup.doctor.fix_commands import install_command
from torchsetup.doctor.model import ERROR, INFO, WARNING, Finding, Rule
from torchsetup.doctor.rules._facts import (
    deep_facts,
    error_text,
    is_reported,
    said,
    unmet_requirements,
)
from torchsetup.doctor.rules.registry import rule
from torchsetup.matrix import lookups as kb


def _source_build(version: str) -> bool:
    """A source build of a release branch ("1.9.0a0+gitd69c22d", torchvision "0.10.0a0+300a8a4"):
    it pairs by its minor like the release, unlike a dated nightly ("2.5.0.dev20240801")."""
    return bool(re.search(r"a0\+(?:git)?[0-9a-f]{7,}$", version))


def _release_pairing(name: str, version: str, torch_version: str) -> Optional[str]:
    """Without Requires-Dist (a pasted report): the release pairing of torchvision/torchaudio."""
    if (kb.is_prerelease(version) and not _source_build(version)) or (
        kb.is_prerelease(torch_version) and not _source_build(torch_version)
    ):
        return None  # nightlies pin exact dates, not release pairs
    span = kb.torch_minors_for(name, version)
    have = kb.version_tuple(torch_version)[:2]
    if span is None or len(have) < 2:
        return None
    first, last = span
    if have < first or (last is not None and have > last):
        wanted = f"{first[0]}.{first[1]}" + ("" if last == first else "+")
        return f"{name} {version} belongs to torch {wanted}"
    return None


def _outside(version: str, pin: str) -> bool:
    """Whether ``version`` falls outside ``pin`` ("==2.9.0", ">=2.14"). The usual exact pin that
    holds is settled as text: packaging.specifiers costs ~30 ms to import on a small machine."""
    if pin.replace(" ", "") == f"=={version}":
        return False
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    try:
        return Version(version) not in SpecifierSet(pin)
    except (InvalidSpecifier, InvalidVersion):
        return False


def _pinned_torch(dist: Distribution) -> Optional[str]:
    """The torch requirement in a companion's Requires-Dist (without environment markers)."""
    for req in dist.requires:
        m = re.match(r"torch\s*(\(?\s*[=<>!~][^;]*)?(;.*)?$", req.strip())
        if m and m.group(1):
            return m.group(1).strip().strip("()").strip()
    return None


def _pip_index_settings(ctx: RuleContext) -> list[tuple[str, str]]:
    """(where, text) of every pip/uv index setting: config files and environment variables."""
    out = list(ctx.env.pip_config)
    for key in ("PIP_EXTRA_INDEX_URL", "UV_EXTRA_INDEX_URL"):
        value = ctx.env.env(key)
        if value:
            out.append((f"${key}", f"{key}={value}"))
    return out


@rule(
    "TS011",
    title="torchvision/torchaudio built for another torch",
    category="companions",
    severity=ERROR,
    catalogue=11,
    sources=("pytorch/pytorch#122494",),
)
def companion_mismatch(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """torchvision and torchaudio releases are built for one torch release (they pin it, e.g.
    torchvision 0.24.0 requires torch==2.9.0) and one CUDA variant. Next to another torch their
    C++ ops fail: "operator torchvision::nms does not exist", or "PyTorch and torchvision were
    compiled with different CUDA major versions".

    Checked without importing anything: the companion's Requires-Dist pin against the installed
    torch version (in a pasted report, which has no Requires-Dist, the release pairing: torchvision
    0.N belongs to torch 2.(N-15) and 1.(N-1), torchaudio 2.x to torch 2.x), and the +cuXXX
    local tags against each other.

    Fix: install the matching companion from the same index as torch, in one command.
    """
    py, torch = ctx.py, ctx.torch
    if py is None or torch is None or not (py.dist("torchvision") or py.dist("torchaudio")):
        return
    torch_local = torch.version.partition("+")[2]
    for name in ("torchvision", "torchaudio"):
        dist = py.dist(name)
        if dist is None:
            continue
        problems = []
        pin = _pinned_torch(dist)
        if pin:
            if _outside(torch.public_version, pin):
                problems.append(f"it requires torch {pin}")
        elif not dist.requires and (known := _release_pairing(name, dist.version, torch.version)):
            problems.append(known)
        if (
            dist.local
            and torch_local
            and dist.local != torch_local
            and dist.local.startswith(("cu", "rocm"))
        ):
            problems.append(f"it is a +{dist.local} build while torch is +{torch_local}")
        if problems:
            yield r.finding(
                title=f"{name} {dist.version} was built for another torch",
                detail=f"{name} {dist.version} is installed next to torch {torch.version}, but "
                + " and ".join(problems)
                + ".",
                fix=install_command(ctx, "--torch", torch.public_version),
                data=_companion_data(name, dist.version, torch.version),
            )


def _companion_data(name: str, installed: str, torch_version: str) -> dict[str, str]:
    """TS011's facts for programs: the companion, its version, the torch it must match and,
    when the data knows it, the release of the companion built for that torch."""
    data = {"package": name, "installed": installed, "torch": torch_version}
    pair = kb.companion_versions(torch_version)
    wanted = (pair[0] if name == "torchvision" else pair[1]) if pair else None
    if wanted:
        data["wanted"] = wanted
    return data


@rule(
    "TS014",
    title="torchtriton (the malicious Dec-2022 package) or an unsafe torch index",
    category="companions",
    severity=ERROR,
    catalogue=14,
    sources=("https://pytorch.org/blog/compromised-nightly-dependency/",),
)
def torchtriton(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """In December 2022 a malicious `torchtriton` package on PyPI shadowed the nightly index's
    dependency of the same name (dependency confusion) and exfiltrated SSH keys and
    environment variables on `import triton`. Any installed `torchtriton` must go, and the
    secrets of that machine should be rotated.

    The same attack works whenever pip combines PyPI with the PyTorch index through
    `--extra-index-url`: for torch packages always use `--index-url` (one index).
    """
    py = ctx.py
    if py is not None and py.dist("torchtriton") is not None:
        d = py.dist("torchtriton")
        assert d is not None
        yield r.finding(
            detail=(
                f"torchtriton {d.version} is installed in {d.location}: the "
                "package name used by the December 2022 supply-chain attack."
            ),
            fix=(
                f"{ctx.pip('uninstall', '-y', 'torch', 'torchvision', 'torchaudio', 'torchtriton')}"
                f" && {ctx.pip('cache', 'purge')}; rotate SSH keys and tokens of this "
                "machine; then " + install_command(ctx)
            ),
            data={"package": "torchtriton", "installed": d.version},
        )
    for source, text in _pip_index_settings(ctx):
        if "download.pytorch.org" in text and re.search(
            r"extra[-_]index[-_]url", text, re.IGNORECASE
        ):
            yield r.finding(
                severity=WARNING,
                title="The PyTorch index is configured as an extra index",
                detail=(
                    f"{source} adds download.pytorch.org with extra-index-url: pip "
                    "then mixes it with PyPI, the setting the torchtriton attack used."
                ),
                fix=(
                    "use the PyTorch index with --index-url only for torch packages "
                    "(torchsetup install does), and remove it from extra-index-url"
                ),
            )


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
            detail=f"torch {torch.version} requires {pin} for torch.compile on the GPU: {why}.",
            fix=ctx.pip("install", pin),
        )
    if ctx.system == "Windows" and not (py.dist("triton-windows") or py.dist("triton")):
        yield r.finding(
            severity=INFO,
            title="No Triton on Windows: torch.compile cannot use the GPU",
            detail=f"torch {torch.version} is a GPU build on Windows, where PyTorch ships no Triton.",
            fix=ctx.pip("install", "triton-windows")
            + '   (community build), or torch.compile(model, backend="aot_eager")',
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
    torch, py, deep = ctx.torch, ctx.py, deep_facts(ctx)
    text = error_text(deep)
    numpy = py.dist("numpy") if py is not None else None
    old_torch = torch is not None and kb.version_tuple(torch.public_version)[:2] < (2, 3)
    abi_said = "compiled using NumPy 1.x" in text or "_ARRAY_API not found" in text
    if abi_said or (
        old_torch and numpy is not None and kb.version_tuple(numpy.version)[:1] >= (2,)
    ):
        torch_text = f"torch {torch.version}" if torch else "torch"
        yield r.finding(
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
        and not is_reported(ctx)
    ):
        yield r.finding(
            severity=INFO,
            title="NumPy is not installed (tensor <-> numpy conversion is off)",
            detail="torch runs without NumPy, but Tensor.numpy() and torch.from_numpy() fail.",
            fix=ctx.pip("install", "numpy"),
        )
        return
    if deep is not None and deep.numpy_error:
        yield r.finding(
            severity=WARNING,
            title="tensor <-> numpy conversion failed",
            detail=f"torch {torch.version if torch else ''} with numpy {deep.numpy_version or '?'}: {deep.numpy_error}",
            fix=ctx.pip("install", "--force-reinstall", "numpy"),
        )


@rule(
    "TS112",
    title="A package was compiled against a newer NumPy than the one installed",
    category="companions",
    severity=ERROR,
    sources=("numpy/numpy#655", "pytorch/pytorch#35397"),
)
def numpy_c_api(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """ "RuntimeError: module compiled against API version 0xe but this version of numpy is 0xd"
    (or "numpy.core.multiarray failed to import"): a compiled module (torch, OpenCV, pandas,
    ...) was built against a newer NumPy C API than the NumPy installed, usually after pip
    installed an old numpy pinned by another package, or conda and pip each brought one.
    (The NumPy 1.x/2.x ABI break in the other direction is TS027.) Read from error text.

    Fix: upgrade numpy to the version the module was built with (or reinstall the module).
    """
    m = said(ctx, "numpy-c-api")
    multiarray = said(ctx, "numpy-multiarray")
    if m is None and multiarray is None:
        return
    py = ctx.py
    numpy = py.dist("numpy") if py is not None else None
    have = f"numpy {numpy.version}" if numpy else "the installed numpy"
    if m is not None:
        detail = (
            f"A module was compiled against NumPy C API {m.group('built')}, but {have} "
            f"provides {m.group('have')}."
        )
    else:
        detail = f"numpy.core.multiarray failed to import: {have} does not fit a compiled module."
    yield r.finding(
        detail=detail,
        fix=ctx.pip("install", "--upgrade", "numpy")
        + "   (if something pins an old numpy, reinstall that package instead)",
        data={"signal": "numpy-c-api" if m is not None else "numpy-multiarray"},
    )


# kind -> (what it means, the fix), from the LLM-stack failure list (docs/doctor.md).
_LLM_STACK: dict[str, tuple[str, str]] = {
    "flash-attn-arch": (
        "FlashAttention 2 needs an Ampere (sm_80) or newer GPU",
        'use attn_implementation="sdpa" (or "eager") instead of flash-attn on this GPU',
    ),
    "xformers-built-for": (
        "xFormers' C++/CUDA extensions were built for another torch",
        "install the xformers release built for the installed torch, from the same index as torch",
    ),
    "triton-api": (
        "triton is not the version the installed torch's inductor was built with",
        'pip install --force-reinstall --no-deps "triton==<the pin in torch\'s metadata>"',
    ),
    "transformers-torch-gate": (
        "transformers requires a newer torch and silently disabled PyTorch",
        "upgrade torch (torchsetup install) or install a transformers release that accepts this torch",
    ),
    "peft-transformers": (
        "peft and transformers are versions that do not fit each other",
        "install peft and transformers together (peft >= 0.18 for transformers 5)",
    ),
    "bitsandbytes-cuda": (
        "bitsandbytes has no CUDA library for this torch's CUDA",
        "upgrade bitsandbytes (>= 0.43; >= 0.48 for CUDA 13) and unset BNB_CUDA_VERSION",
    ),
}


@rule(
    "TS118",
    title="A package of the LLM stack does not fit torch",
    category="companions",
    severity=ERROR,
    sources=(
        "Dao-AILab/flash-attention#762",
        "facebookresearch/xformers#982",
        "pytorch/pytorch#123042",
        "huggingface/transformers#27214",
        "huggingface/peft#2754",
        "bitsandbytes-foundation/bitsandbytes#1559",
    ),
)
def llm_stack(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """The error text of a package that sits on torch: flash-attn ("FlashAttention only
    supports Ampere GPUs or newer"), xFormers ("xFormers was built for: PyTorch X with CUDA Y
    (you have Z)"), triton ("cannot import name 'triton_key'"), transformers ("Disabling
    PyTorch because PyTorch >= X is required"), peft ("cannot import name 'HybridCache'"),
    bitsandbytes ("CUDA Setup failed despite GPU being available"). Each names a version pairing
    the installer did not check. Read from error text.

    Fix: the package's release built for the installed torch (each finding says which way).
    """
    for kind, (what, fix) in _LLM_STACK.items():
        m = said(ctx, kind)
        if m is None:
            continue
        extra = ""
        if kind == "xformers-built-for":
            extra = f": built for torch {m.group('built')} with CUDA {m.group('cuda')}, you have {m.group('have')}"
        elif kind == "transformers-torch-gate":
            extra = f": it needs torch >= {m.group('need')}, found {m.group('have')}"
        yield r.finding(
            title=what[0].upper() + what[1:],
            detail=f"{what}{extra}.",
            fix=fix,
            data={"signal": kind},
        )
