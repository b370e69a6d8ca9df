"""Rules of the LLM stack category: flash-attn, xformers, vLLM, bitsandbytes, DeepSpeed and the
Hugging Face packages judged against the installed torch build (TS201-TS212; failures.md of the
LLM-stack research, issue 13).

Each rule reads the installed distributions and the torch build, compares them with
``resources/stack.json`` (torchsetup.matrix.stack) and computes its fix with the stack resolver
(torchsetup.resolve.stack): the release that fits this torch, as a ``torchsetup install --with``
command that keeps the torch build pinned. The messages pasted reports carry for the same
failures are recognised by ``--from-report`` (issue 14); these rules judge the facts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Optional

from torchsetup.detect.model import Distribution
from torchsetup.doctor.context import RuleContext
from torchsetup.doctor.model import ERROR, WARNING, Finding, Rule
from torchsetup.doctor.rules.registry import rule

LLM_FAILURES = "LLM-stack failures.md"

# The error texts each rule's failure prints (failures.md of the LLM-stack research, read at the
# code that prints them): for the report parser (doctor --from-report, issue 14) to map a pasted
# message to the rule that explains it. Substrings, matched case-sensitively.
ERROR_TEXTS: dict[str, tuple[str, ...]] = {
    "TS201": ("flash_attn_2_cuda", "undefined symbol: _ZN3c10"),
    "TS202": ("FlashAttention only supports Ampere GPUs or newer",),
    "TS203": ("xformers", "requires torch=="),
    "TS204": ("xFormers can't load C++/CUDA extensions", "xFormers was built for:"),
    "TS205": ("vllm", "requires torch=="),
    "TS206": (
        "libcudart.so.12: cannot open shared object file",
        "libcudart.so.13: cannot open shared object file",
    ),
    "TS207": ("CUDA Setup failed despite GPU being available", "compiled without GPU support"),
    "TS208": (
        "CUDA VERSION MISMATCH",
        "NOT distributed with this package",
        "Could not find the bitsandbytes CUDA binary",
    ),
    "TS209": ("CUDA_HOME does not exist, unable to compile CUDA op(s)",),
    "TS210": ("does not match the version torch was compiled with",),
    "TS211": ("Disabling PyTorch because PyTorch >=",),
    "TS212": (
        "The version of PEFT you are using is not compatible",
        "cannot import name 'EncoderDecoderCache' from 'transformers'",
    ),
}
_FA_TAG = re.compile(r"\+cu(\d+)torch(\d+\.\d+)cxx11abi(TRUE|FALSE)-(cp\d+)")


def _vt(text: Optional[str]) -> tuple[int, ...]:
    from torchsetup.versions import version_tuple

    return version_tuple(text)


def _stack_dist(ctx: RuleContext, name: str) -> Optional[Distribution]:
    py = ctx.py
    return py.dist(name) if py is not None else None


def _release(name: str, version: str):  # type: ignore[no-untyped-def]
    from torchsetup.matrix.stack import load_stack

    comp = load_stack().components.get(name)
    public = version.partition("+")[0]
    return next((r for r in comp.releases if r.version == public), None) if comp else None


def _torch_cuda_major(ctx: RuleContext) -> Optional[int]:
    torch = ctx.torch
    return int(torch.cuda.split(".")[0]) if torch is not None and torch.cuda else None


def _other_cuda_majors(ctx: RuleContext, dist: Optional[Distribution]) -> Optional[str]:
    """The CUDA majors ``dist``'s release is built for ("12" or "12/13", from stack.json) when
    they do not include the installed torch's; None when they do, or nothing is known."""
    major = _torch_cuda_major(ctx)
    if dist is None or major is None:
        return None
    rel = _release(dist.name, dist.version)
    if rel is None or not rel.cuda_majors or major in rel.cuda_majors:
        return None
    return "/".join(map(str, rel.cuda_majors))


def _replace_finding(
    ctx: RuleContext, r: Rule, dist: Distribution, detail: str, **data: str
) -> Finding:
    """A finding whose fix is the release of ``dist``'s component the stack resolver picks for
    the installed torch (its version in ``data["wanted"]``)."""
    version, fix = resolved_fix(ctx, dist.name)
    return r.finding(
        detail=detail,
        fix=fix,
        data={"package": dist.name, "installed": dist.version, **data, "wanted": version or ""},
    )


def resolved_fix(
    ctx: RuleContext, name: str, also: tuple[str, ...] = ()
) -> tuple[Optional[str], str]:
    """(the version the stack resolver picks for this torch, with the components in ``also``
    wanted too, and the fix command; or None and why no release fits)."""
    from torchsetup.errors import ResolutionError
    from torchsetup.matrix.stack import load_stack
    from torchsetup.resolve.request import variant_flag
    from torchsetup.resolve.stack import StackTarget, Want, resolve_stack

    torch, py = ctx.torch, ctx.py
    if torch is None or py is None or not py.minor:
        return None, f"reinstall {name} for the installed torch"
    gpus = tuple(g.compute_capability for g in ctx.env.nvidia.gpus if g.compute_capability)
    target = StackTarget(
        torch=torch.version,
        variant=torch.variant,
        python=py.minor,
        platform=ctx.env.os.platform_key or "linux-x86_64",
        gpus=gpus,
        nvcc=ctx.env.toolkit.nvcc_version,
    )
    try:
        wants = (Want(name), *(Want(n) for n in also))
        choice = resolve_stack(target, wants, load_stack()).choice(name)
    except ResolutionError as exc:
        nearest = f"; nearest: torchsetup install {exc.nearest}" if exc.nearest else ""
        return None, f"no {name} fits torch {torch.version}: {exc.message}{nearest}"
    version = choice.version if choice is not None else None
    flag = variant_flag(torch.variant).split()
    want = f"{name}=={version}" if version else name
    return version, ctx.torchsetup(
        "install", "--torch", torch.public_version, *flag, "--with", want
    )


def _exact_torch_pin(dist: Distribution) -> Optional[str]:
    for raw in dist.requires:
        m = re.match(r"^\s*torch\s*\(?\s*==\s*([0-9][^\s;,()]*)", raw)
        if m and ";" not in raw.split("==", 1)[0]:
            return m.group(1)
    return None


# --- flash-attn ----------------------------------------------------------------------------


@rule(
    "TS201",
    title="flash-attn binary built for another torch / CUDA / C++ ABI / Python",
    category="stack",
    severity=ERROR,
    sources=("Dao-AILab/flash-attention#940", "Dao-AILab/flash-attention#1832", LLM_FAILURES),
)
def flash_attn_abi(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """A flash-attn wheel fits one torch MAJOR.MINOR, one CUDA major, one C++11-ABI flag and one
    CPython; the wheel name says which (``+cu12torch2.8cxx11abiTRUE-cp312``). Next to another
    torch, ``import flash_attn`` fails with "undefined symbol: _ZN3c105ErrorC2ENS_14Source...".
    The same happens when torch is upgraded after flash-attn was installed.

    Signal: the build tag in the installed flash-attn's ``direct_url.json`` against the torch.
    Fix: the release wheel for this torch, as the stack resolver picks it, or a rebuild with
    ``--no-build-isolation`` against the final torch.
    """
    dist, torch, py = _stack_dist(ctx, "flash-attn"), ctx.torch, ctx.py
    if dist is None or torch is None or py is None or not dist.direct_url:
        return
    m = _FA_TAG.search(dist.direct_url)
    if not m:
        return
    cuda, minor, abi, cp = m.groups()
    from torchsetup.matrix.stack import load_stack

    facts = load_stack().torch_facts(torch.version)
    want_minor = ".".join(torch.public_version.split(".")[:2])
    wrong = []
    if minor != want_minor:
        wrong.append(f"torch {minor} (installed: {want_minor})")
    major = _torch_cuda_major(ctx)
    if major is not None and not cuda.startswith(str(major)):
        wrong.append(f"CUDA {cuda} (torch: {torch.cuda})")
    if facts is not None and (abi == "TRUE") != facts.cxx11_abi:
        wrong.append(f"cxx11abi{abi} (torch {torch.public_version} wheels: {facts.cxx11_abi})")
    if py.minor and cp != "cp" + py.minor.replace(".", ""):
        wrong.append(f"{cp} (Python {py.minor})")
    if not wrong:
        return
    yield _replace_finding(
        ctx,
        r,
        dist,
        f"flash-attn {dist.version} was built for {', '.join(wrong)}: importing it fails "
        "with an undefined symbol.",
    )


@rule(
    "TS202",
    title="flash-attn on a GPU older than Ampere",
    category="stack",
    severity=ERROR,
    sources=("Dao-AILab/flash-attention#762", "vllm-project/vllm#8189", LLM_FAILURES),
)
def flash_attn_arch(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """FlashAttention-2's kernels need compute capability 8.0 (Ampere) or newer: on a T4 or a
    V100 every call raises "RuntimeError: FlashAttention only supports Ampere GPUs or newer."
    (``TORCH_CHECK`` in csrc/flash_attn/flash_api.cpp).

    Fix: uninstall flash-attn and let transformers use ``attn_implementation="sdpa"``.
    """
    dist = _stack_dist(ctx, "flash-attn")
    if dist is None:
        return
    old = [
        g
        for g in ctx.env.nvidia.gpus
        if g.compute_capability and _vt(g.compute_capability) < (8, 0)
    ]
    if not old:
        return
    g = old[0]
    yield r.finding(
        detail=f"flash-attn {dist.version} is installed but {g.name} is sm_"
        f"{g.compute_capability.replace('.', '') if g.compute_capability else '?'}: "
        "FlashAttention-2 needs sm_80+.",
        fix=ctx.pip("uninstall", "-y", "flash-attn")
        + "  # then attn_implementation='sdpa' in transformers",
        data={"package": "flash-attn", "installed": dist.version},
    )


# --- xformers and vLLM: exact torch pins, CUDA majors --------------------------------------


def _pin_mismatch(ctx: RuleContext, r: Rule, name: str) -> Iterator[Finding]:
    dist, torch = _stack_dist(ctx, name), ctx.torch
    if dist is None or torch is None:
        return
    pin = _exact_torch_pin(dist)
    if pin is None or pin == torch.public_version:
        return
    yield _replace_finding(
        ctx,
        r,
        dist,
        f"{name} {dist.version} requires torch=={pin} but torch {torch.version} is "
        f"installed: its extensions will not load, and any pip install that touches {name} "
        f"replaces this torch with {pin}.",
        torch=torch.version,
    )


@rule(
    "TS203",
    title="xformers pins another torch",
    category="stack",
    severity=ERROR,
    sources=("facebookresearch/xformers#752", "facebookresearch/xformers#802", LLM_FAILURES),
)
def xformers_pin(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """Up to 0.0.34 every xformers wheel pins one exact torch (``torch==2.8.0``), so installing
    xformers replaces the user's CUDA torch with PyPI's build of that version, and an xformers
    left behind by a torch upgrade prints "xFormers can't load C++/CUDA extensions".

    Fix: the xformers release whose pin is this torch (or the stable-ABI 0.0.35 for torch 2.10+),
    installed under constraints that keep torch.
    """
    yield from _pin_mismatch(ctx, r, "xformers")


@rule(
    "TS204",
    title="xformers built for another CUDA major than torch",
    category="stack",
    severity=ERROR,
    sources=("facebookresearch/xformers#982", "facebookresearch/xformers#1241", LLM_FAILURES),
)
def xformers_cuda(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """xformers' PyPI wheel is one CUDA build (0.0.35: CUDA 12.8, NEEDED libcudart.so.12); next to
    a CUDA 13 torch it prints "WARNING[XFORMERS]: xFormers can't load C++/CUDA extensions.
    xFormers was built for: PyTorch X with CUDA Y (you have Z)". The PyTorch indexes carry the
    other builds (download.pytorch.org/whl/cu130).

    Signal: no ``+cuXYZ`` local version (a PyPI wheel) whose CUDA major (stack.json) differs
    from torch's. Fix: the build from the PyTorch index of torch's variant.
    """
    dist, torch = _stack_dist(ctx, "xformers"), ctx.torch
    if dist is None or torch is None or "+" in dist.version:
        return
    built = _other_cuda_majors(ctx, dist)
    if built is None:
        return
    yield _replace_finding(
        ctx,
        r,
        dist,
        f"xformers {dist.version} from PyPI is a CUDA {built} build; torch {torch.version} "
        f"uses CUDA {torch.cuda}: its kernels will not load.",
    )


@rule(
    "TS205",
    title="vLLM pins another torch",
    category="stack",
    severity=ERROR,
    sources=("vllm-project/vllm#34224", "vllm-project/vllm#35462", LLM_FAILURES),
)
def vllm_pin(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """Every vLLM release pins torch, torchvision and torchaudio exactly (0.20.2: torch==2.11.0):
    ``pip install vllm`` downgrades or replaces the torch build, and a vLLM next to another torch
    fails to import its ``_C`` extension.

    Fix: let vLLM choose torch (``torchsetup install --with vllm==X``), or the vLLM whose pin is
    this torch.
    """
    yield from _pin_mismatch(ctx, r, "vllm")


@rule(
    "TS206",
    title="vLLM built for another CUDA major than torch (mixed libcudart)",
    category="stack",
    severity=ERROR,
    sources=("vllm-project/vllm#36099", LLM_FAILURES),
)
def vllm_cuda(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """vLLM's PyPI wheel links one CUDA runtime (0.11-0.19: libcudart.so.12, 0.20.2+:
    libcudart.so.13). With a torch of the other major, ``import vllm`` fails with "ImportError:
    libcudart.so.12: cannot open shared object file", or two CUDA runtimes end up loaded.

    Fix: the vLLM release built for torch's CUDA major (and its torch).
    """
    dist, torch = _stack_dist(ctx, "vllm"), ctx.torch
    built = _other_cuda_majors(ctx, dist)
    if dist is None or torch is None or built is None:
        return
    yield _replace_finding(
        ctx,
        r,
        dist,
        f"vllm {dist.version} links libcudart.so.{built.split('/')[0]} but torch "
        f"{torch.version} is a CUDA {torch.cuda} build.",
    )


# --- bitsandbytes ----------------------------------------------------------------------------


@rule(
    "TS207",
    title="bitsandbytes older than 0.43 (CUDA library chosen by the system, not by torch)",
    category="stack",
    severity=WARNING,
    sources=(
        "bitsandbytes-foundation/bitsandbytes#572",
        "bitsandbytes-foundation/bitsandbytes#1056",
        LLM_FAILURES,
    ),
)
def bnb_old(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """bitsandbytes up to 0.42 picked its CUDA library from the CUDA runtime it found on the
    machine (LD_LIBRARY_PATH, /usr/local/cuda), not from torch: "CUDA Setup failed despite GPU
    being available" and "compiled without GPU support". From 0.43 it follows
    ``torch.version.cuda``.

    Fix: the bitsandbytes release the resolver picks for this torch.
    """
    dist, torch = _stack_dist(ctx, "bitsandbytes"), ctx.torch
    if dist is None or torch is None or not torch.cuda or _vt(dist.version) >= (0, 43):
        return
    yield _replace_finding(
        ctx,
        r,
        dist,
        f"bitsandbytes {dist.version} selects its CUDA library from the system, not from "
        f"torch {torch.version}: CUDA setup fails on many machines.",
    )


@rule(
    "TS208",
    title="bitsandbytes does not bundle torch's CUDA",
    category="stack",
    severity=ERROR,
    sources=("bitsandbytes-foundation/bitsandbytes#1559", LLM_FAILURES),
)
def bnb_cuda(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """bitsandbytes (0.43+) bundles one ``libbitsandbytes_cudaXYZ.so`` per CUDA toolkit it was
    built with and loads the one of ``torch.version.cuda``. A torch whose CUDA major is not
    bundled (CUDA 13 before 0.48) gets "CUDA VERSION MISMATCH ... The version you're trying to
    use is NOT distributed with this package".

    Fix: a bitsandbytes that bundles torch's CUDA (0.48+ for 13.0, 0.50+ for 13.2).
    """
    dist, torch = _stack_dist(ctx, "bitsandbytes"), ctx.torch
    if dist is None or torch is None or _vt(dist.version) < (0, 43):
        return
    built = _other_cuda_majors(ctx, dist)
    if built is None:
        return
    yield _replace_finding(
        ctx,
        r,
        dist,
        f"bitsandbytes {dist.version} bundles CUDA {built} libraries; torch {torch.version} "
        f"needs CUDA {torch.cuda}.",
    )


# --- DeepSpeed -------------------------------------------------------------------------------


@rule(
    "TS209",
    title="DeepSpeed without a CUDA toolkit (CUDA_HOME) for its ops",
    category="stack",
    severity=WARNING,
    sources=("deepspeedai/DeepSpeed#2772", "deepspeedai/DeepSpeed#2337", LLM_FAILURES),
)
def deepspeed_cuda_home(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """DeepSpeed JIT-compiles its CUDA ops (FusedAdam, CPUAdam, ZeRO-offload) at first use with
    nvcc. Without a CUDA toolkit: "MissingCUDAException: CUDA_HOME does not exist, unable to
    compile CUDA op(s)".

    Fix: install the CUDA toolkit of torch's CUDA version and set CUDA_HOME.
    """
    dist, torch = _stack_dist(ctx, "deepspeed"), ctx.torch
    tk = ctx.env.toolkit
    if dist is None or torch is None or not torch.cuda or tk.nvcc_version or tk.cuda_home:
        return
    if not ctx.env.tools.paths and ctx.env.source != "live":
        return  # a snapshot without tool facts: unknown, not absent
    yield r.finding(
        detail=f"deepspeed {dist.version} is installed next to torch {torch.version} but no nvcc "
        "and no CUDA_HOME were found: its CUDA ops cannot be built.",
        fix=f"install the CUDA {torch.cuda} toolkit (nvcc) and export CUDA_HOME=/usr/local/cuda-{torch.cuda}",
        data={"package": "deepspeed", "installed": dist.version, "cuda": torch.cuda},
    )


@rule(
    "TS210",
    title="DeepSpeed: nvcc does not match torch's CUDA",
    category="stack",
    severity=WARNING,
    sources=("deepspeedai/DeepSpeed#2902", "deepspeedai/DeepSpeed#3223", LLM_FAILURES),
)
def deepspeed_nvcc(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """DeepSpeed builds its ops only with an nvcc whose version equals ``torch.version.cuda``,
    minor differences allowed only inside its ``cuda_minor_mismatch_ok`` table (11.0-11.8,
    12.0-12.9; no CUDA 13 entry): "Installed CUDA version X does not match the version torch was
    compiled with Y, unable to compile cuda/cpp extensions".

    Fix: a CUDA toolkit of torch's CUDA version on PATH / CUDA_HOME.
    """
    dist, torch, nvcc = _stack_dist(ctx, "deepspeed"), ctx.torch, ctx.env.toolkit.nvcc_version
    if dist is None or torch is None or not torch.cuda or not nvcc:
        return
    rel = _release("deepspeed", dist.version)
    if rel is None:
        from torchsetup.matrix.stack import load_stack

        rels = load_stack().components["deepspeed"].releases
        rel = max(rels, key=lambda x: _vt(x.version)) if rels else None
    cuda = ".".join(torch.cuda.split(".")[:2])
    major = cuda.split(".")[0]
    ok = rel.nvcc_minor_ok.get(major, ()) if rel is not None else ()
    if nvcc == cuda or (nvcc in ok and cuda in ok):
        return
    yield r.finding(
        detail=f"nvcc {nvcc} is not torch {torch.version}'s CUDA {cuda} (deepspeed {dist.version} "
        f"allows {', '.join(ok) if ok else 'no other version for CUDA ' + major}): its ops will not build.",
        fix=f"install the CUDA {cuda} toolkit and export CUDA_HOME=/usr/local/cuda-{cuda}",
        data={"package": "deepspeed", "installed": dist.version, "nvcc": nvcc, "cuda": cuda},
    )


# --- the Hugging Face runtime gates ---------------------------------------------------------


@rule(
    "TS211",
    title="transformers disables this torch (below its runtime minimum)",
    category="stack",
    severity=ERROR,
    sources=("jingyaogong/minimind#588", "XiaoxinHe/G-Retriever#48", LLM_FAILURES),
)
def transformers_gate(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """transformers does not declare torch as a dependency; at import it checks a minimum and,
    below it, silently runs without torch: "Disabling PyTorch because PyTorch >= 2.6 is required
    but found 2.5.1" and then "PyTorch was not found. Models won't be available".

    Fix: the newest transformers whose gate this torch passes (the stack resolver's choice).
    """
    dist, torch = _stack_dist(ctx, "transformers"), ctx.torch
    if dist is None or torch is None:
        return
    rel = _release("transformers", dist.version)
    if rel is None or not rel.torch_gate:
        return
    floor = rel.torch_gate.lstrip(">=")
    if _vt(torch.public_version) >= _vt(floor):
        return
    yield _replace_finding(
        ctx,
        r,
        dist,
        f"transformers {dist.version} needs torch >= {floor} and disables torch "
        f"{torch.version} at import (models will not be available).",
    )


@rule(
    "TS212",
    title="peft / accelerate below what transformers requires at runtime",
    category="stack",
    severity=ERROR,
    sources=("huggingface/transformers#45405", "huggingface/peft#3333", LLM_FAILURES),
)
def transformers_floors(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """transformers refuses PEFT adapters when peft is below its ``MIN_PEFT_VERSION`` ("The
    version of PEFT you are using is not compatible, please use a version >= 0.22.0") and needs
    accelerate >= ``ACCELERATE_MIN_VERSION`` (1.1.0 for 5.x) for Trainer and device maps. Today
    transformers 5.24.0 needs peft 0.22.0 and the newest peft on PyPI is 0.21.2.

    Fix: the transformers release whose floors the installed (or existing) releases meet.
    """
    tf = _stack_dist(ctx, "transformers")
    if tf is None:
        return
    rel = _release("transformers", tf.version)
    if rel is None:
        return
    from torchsetup.matrix.stack import load_stack

    newest_peft = load_stack().peft_newest
    for name in ("peft", "accelerate"):
        dist, floor = _stack_dist(ctx, name), rel.runtime_min.get(name)
        if dist is None or not floor or _vt(dist.version) >= _vt(floor):
            continue
        if name == "peft" and _vt(newest_peft) < _vt(floor):
            _, fix = resolved_fix(ctx, "transformers", also=("peft",))
            why = f" (the newest peft is {newest_peft}: install the transformers that peft fits)"
        else:
            fix = ctx.pip("install", f"{name}>={floor}")
            why = ""
        yield r.finding(
            detail=f"transformers {tf.version} needs {name} >= {floor} at runtime; {name} "
            f"{dist.version} is installed{why}.",
            fix=fix,
            data={"package": name, "installed": dist.version, "wanted": f">={floor}"},
        )
