"""Resolving the LLM stack against a fixed torch build (pure).

The torch build is fixed first: by the hardware (the ordinary resolver), or dictated by an exact
pin such as vLLM's (:func:`torch_for_vllm` turns the vLLM release into the torch version the
ordinary resolver must pick). Then every wanted component is the newest release in
``resources/stack.json`` whose binary coupling (exact / minor / range / stable-ABI), CUDA major,
C++ ABI, CPython, platform, GPU floor and runtime gates fit that build; a prebuilt artifact is
preferred to a source build. A component no release fits is refused (ResolutionError, exit 2)
with every reason and the nearest request that works.

Install order (design-note.md section 3.6): vLLM / xformers, bitsandbytes, flash-attn, DeepSpeed,
then the Hugging Face packages; every step runs under a constraints file that pins the torch
build (:func:`stack_steps`), so no component can replace it.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Optional, Union

from torchsetup.errors import ResolutionError, UsageError
from torchsetup.matrix.stack import Component, Stack, StackRelease
from torchsetup.records import Record
from torchsetup.resolve.plan import Plan, Step
from torchsetup.versions import variant_cuda, version_tuple

if TYPE_CHECKING:
    from torchsetup.detect.model import Environment
    from torchsetup.resolve.request import Request

COMPONENTS = (
    "vllm",
    "xformers",
    "bitsandbytes",
    "flash-attn",
    "deepspeed",
    "triton",
    "transformers",
    "tokenizers",
    "safetensors",
    "accelerate",
    "peft",
    "datasets",
)  # also the install order
STACKS = ("llm",)
TORCH_INDEX = "https://download.pytorch.org/whl/"
CONSTRAINTS_NAME = "torchsetup-stack-constraints.txt"  # the guard owns torchsetup-constraints.txt
FLASH_ATTN_GB_PER_JOB = 9  # flash-attn setup.py: each nvcc job takes about 8-9 GB of RAM
_NAME = re.compile(r"^([A-Za-z][A-Za-z0-9_.\-]*)\s*(.*)$")


@dataclass(frozen=True)
class Want:
    """One component asked for: its name and an optional PEP 440 specifier (``==0.20.2``)."""

    name: str
    spec: Optional[str] = None

    def text(self) -> str:
        return f"{self.name}{self.spec or ''}"


@dataclass(frozen=True)
class StackTarget:
    """The torch build the stack must fit, and the machine."""

    torch: str  # "2.13.0" or "2.13.0+cpu"
    variant: str  # "cpu", "cu130", "rocm6.2"
    python: str  # "3.11"
    platform: str  # "linux-x86_64"
    gpus: tuple[str, ...] = ()  # compute capabilities: ("8.0",)
    nvcc: Optional[str] = None  # "12.8": the CUDA toolkit a source build would use
    cores: Optional[int] = None
    memory_gb: Optional[float] = None

    @property
    def cuda(self) -> Optional[str]:
        return variant_cuda(self.variant)

    @property
    def cuda_major(self) -> Optional[int]:
        return int(self.cuda.split(".")[0]) if self.cuda else None

    @property
    def torch_public(self) -> str:
        return self.torch.partition("+")[0]

    @property
    def torch_minor(self) -> str:
        return ".".join(self.torch_public.split(".")[:2])


@dataclass(frozen=True, eq=False, repr=False)
class StackChoice(Record):
    """What the plan installs for one component, from where, and why."""

    name: str
    version: Optional[str]  # None: pip chooses (no coupling to torch, no facts)
    artifact: str  # "pypi-wheel" | "torch-index-wheel" | "github-release-wheel" | "source-build"
    reason: str
    source: str
    confidence: str
    url: Optional[str] = None  # a direct wheel URL, or the index of a torch-index build
    warnings: tuple[str, ...] = ()

    @property
    def requirement(self) -> str:
        if self.url and self.artifact == "github-release-wheel":
            return f"{self.name} @ {self.url}"
        return f"{self.name}=={self.version}" if self.version else self.name


@dataclass(frozen=True, eq=False, repr=False)
class StackRejection(Record):
    name: str
    version: str
    reason: str


@dataclass(frozen=True, eq=False, repr=False)
class StackPlan(Record):
    torch: str
    variant: str
    choices: tuple[StackChoice, ...]
    rejected: tuple[StackRejection, ...] = ()
    constraints: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def choice(self, name: str) -> Optional[StackChoice]:
        return next((c for c in self.choices if c.name == name), None)


# --- parsing the request ------------------------------------------------------------------


def parse_wants(stack: Optional[str], names: Sequence[str], data: Stack) -> tuple[Want, ...]:
    """``--stack llm`` and the stack components named in ``--with`` (``vllm==0.20.2``)."""
    wants: dict[str, Want] = {}
    if stack is not None:
        key = stack.strip().lower()
        if key not in data.sets:
            raise UsageError(
                f"--stack {stack}: unknown stack", hint=f"one of {', '.join(data.sets)}"
            )
        wants.update({n: Want(n) for n in data.sets[key]})
    for raw in names:
        want = parse_want(raw)
        wants[want.name] = want
    return tuple(wants[n] for n in COMPONENTS if n in wants)


def parse_want(raw: str) -> Want:
    match = _NAME.match(raw.strip())
    name = match.group(1).lower().replace("_", "-") if match else raw
    if not match or name not in COMPONENTS:
        raise UsageError(
            f"--with {raw}: unknown package",
            hint=f"torchvision, torchaudio or a stack component: {', '.join(COMPONENTS)}",
        )
    spec = match.group(2).strip() or None
    if spec is not None:
        from packaging.specifiers import InvalidSpecifier, SpecifierSet

        try:
            SpecifierSet(spec)
        except InvalidSpecifier:
            raise UsageError(
                f"--with {raw}: not a version specifier", hint=f"e.g. {name}==1.2.3"
            ) from None
    return Want(name, spec)


# --- small predicates -----------------------------------------------------------------------


def _contains(spec: Optional[str], version: str) -> bool:
    """Does ``version`` satisfy ``spec`` (None: anything)? Pre-releases count."""
    if not spec:
        return True
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    try:
        return SpecifierSet(spec).contains(Version(version.partition("+")[0]), prereleases=True)
    except (InvalidSpecifier, InvalidVersion):
        return False


def _python_ok(spec: Optional[str], python: str) -> bool:
    return _contains(spec, python + ".0") or _contains(spec, python + ".99")


def _at_least(version: str, floor: Optional[str]) -> bool:
    return not floor or version_tuple(version) >= version_tuple(floor)


def _intersects(a: Optional[str], b: Optional[str]) -> bool:
    """Do two specifiers on the same package admit a common version? (boundary probes)"""
    if not a or not b:
        return True
    found = re.findall(r"\d+(?:\.\d+)*", f"{a},{b}")
    probes = {"0.0.1", "999"}
    for v in found:
        parts = [int(x) for x in v.split(".")]
        probes.add(v)
        probes.add(".".join(map(str, [*parts[:-1], parts[-1] + 1])))
        probes.add(v + ".1")
    return any(_contains(a, p) and _contains(b, p) for p in probes)


def _cc_tuple(cc: str) -> tuple[int, ...]:
    return version_tuple(cc)


def _cite(rel: StackRelease) -> str:
    return f"[{rel.source}; {rel.confidence}]"


def _newest_first(component: Component) -> list[StackRelease]:
    from packaging.version import Version

    return sorted(component.releases, key=lambda r: Version(r.version), reverse=True)


# --- vLLM dictates torch --------------------------------------------------------------------


def vllm_pins(data: Stack) -> list[tuple[str, str]]:
    """(vLLM version, exact torch version) for every release that pins torch exactly."""
    out = []
    for rel in data.components["vllm"].releases:
        if rel.torch and rel.torch.startswith("==") and "," not in rel.torch:
            out.append((rel.version, rel.torch[2:]))
    return out


def torch_for_vllm(
    want: Want, data: Stack, *, python: str, torch_selector: Optional[str] = None
) -> tuple[str, str]:
    """(vLLM version, the torch version it dictates): the newest vLLM release matching ``want``
    and Python whose exact torch pin matches ``torch_selector`` (a --torch prefix or spec).
    ResolutionError when none does, with the nearest working request."""
    from torchsetup.resolve.request import parse_torch

    selector = parse_torch(torch_selector) if torch_selector else None
    pins = sorted(vllm_pins(data), key=lambda p: version_tuple(p[0]), reverse=True)
    rels = {r.version: r for r in data.components["vllm"].releases}
    reasons = []
    for version, torch in pins:
        rel = rels[version]
        if not _contains(want.spec, version):
            continue
        if not _python_ok(rel.python, python):
            reasons.append(f"vllm {version} needs Python {rel.python} (target: {python})")
            continue
        if selector is not None and not selector.matches(torch):
            reasons.append(f"vllm {version} pins torch=={torch}")
            continue
        return version, torch
    nearest = None
    if selector is not None:
        fits = [
            (v, t)
            for v, t in pins
            if _contains(want.spec, v) and _python_ok(rels[v].python, python)
        ]
        minor = version_tuple(selector.text)[:2] if re.match(r"^\d", selector.text) else ()
        fits.sort(
            key=lambda p: (
                abs((version_tuple(p[1])[:2] or (0, 0))[1] - (minor[1] if len(minor) > 1 else 99)),
                [-x for x in version_tuple(p[0])],
            )
        )
        if fits:
            v, t = fits[0]
            nearest = f"--torch {t} --with vllm=={v}"
    raise ResolutionError(
        f"no vLLM release{' ' + want.spec if want.spec else ''} pins a torch matching "
        f"{'--torch ' + torch_selector if torch_selector else 'this request'} for Python {python}"
        " (vLLM pins one exact torch per release; none in the data pins torch 2.12 or 2.15)",
        reasons=tuple(reasons[:6]),
        nearest=nearest,
    )


# --- per component --------------------------------------------------------------------------


@dataclass
class _Ctx:
    target: StackTarget
    data: Stack
    wants: Mapping[str, Want]
    chosen: dict[str, StackChoice]
    rejected: list[StackRejection]
    warnings: list[str]


def _common(component: Component, rel: StackRelease, t: StackTarget) -> Optional[str]:
    platforms = rel.platforms or component.platforms
    if t.platform not in platforms:
        return f"no {t.platform} build (builds for {', '.join(platforms)})"
    if not _python_ok(rel.python, t.python):
        return f"needs Python {rel.python} (target: {t.python})"
    if rel.torch and not _contains(rel.torch, t.torch_public):
        return f"needs torch{rel.torch} (the plan's torch: {t.torch_public})"
    return None


def _component_gate(c: _Ctx, comp: Component) -> Optional[str]:
    """Reasons that rule out every release of ``comp`` on this target."""
    t = c.target
    if t.platform not in comp.platforms:
        return f"{comp.name} has no {t.platform} builds (only {', '.join(comp.platforms)})"
    if comp.gpu == "cuda" and t.cuda is None:
        return f"{comp.name} is built for CUDA GPUs only; the plan's torch is a {t.variant} build"
    if comp.min_cc and t.gpus:
        low = [g for g in t.gpus if _cc_tuple(g) < _cc_tuple(comp.min_cc)]
        if low:
            return (
                f"{comp.name} needs compute capability {comp.min_cc}+ and this GPU is sm_"
                f"{low[0].replace('.', '')} (compute capability {low[0]}) [{comp.source}]"
            )
    return None


def _cuda_fits(rel: StackRelease, t: StackTarget, *, cpu_ok: bool = False) -> Optional[str]:
    if t.cuda_major is None:
        if cpu_ok:
            return None
        return f"built for CUDA; the plan's torch is {t.variant}"
    if rel.cuda_majors is None:
        return None  # unknown: accepted, marked by confidence
    if t.cuda_major not in rel.cuda_majors:
        majors = "/".join(str(m) for m in rel.cuda_majors)
        return f"its binaries are CUDA {majors} builds; torch is CUDA {t.cuda}"
    return None


Check = Callable[[StackRelease], Union[str, list[str], None]]


def _pick(
    c: _Ctx,
    name: str,
    check: Check,
) -> Optional[tuple[StackRelease, list[str]]]:
    comp = c.data.components[name]
    want = c.wants.get(name)
    for rel in _newest_first(comp):
        if want is not None and not _contains(want.spec, rel.version):
            continue
        why = _common(comp, rel, c.target) or check(rel)
        if isinstance(why, list):
            return rel, why
        if why is None:
            return rel, []
        c.rejected.append(StackRejection(name, rel.version, why))
    return None


def _refuse(c: _Ctx, name: str, message: str, nearest: Optional[str]) -> ResolutionError:
    reasons = tuple(f"{r.name} {r.version}: {r.reason}" for r in c.rejected if r.name == name)
    return ResolutionError(message, reasons=reasons[:5], nearest=nearest)


def _without(c: _Ctx, name: str) -> str:
    others = [w.text() for n, w in c.wants.items() if n != name]
    return f"--with {','.join(others)}" if others else f"the same request without {name}"


def _choose_vllm(c: _Ctx) -> None:
    comp = c.data.components["vllm"]
    t = c.target
    gate = _component_gate(c, comp)
    if gate:
        raise _refuse(c, "vllm", gate, _nearest_cuda(c, "vllm"))

    def check(rel: StackRelease) -> Optional[str]:
        if not (rel.torch or "").startswith("=="):
            return f"its binary was built against one torch, but its metadata says only torch{rel.torch}"
        return _cuda_fits(rel, t)

    found = _pick(c, "vllm", check)
    if found is None:
        pins = [f"{v} pins torch {p}" for v, p in vllm_pins(c.data)][-3:]
        raise _refuse(
            c,
            "vllm",
            f"no vLLM release fits torch {t.torch_public} ({t.variant}): vLLM pins one exact torch "
            f"per release ({'; '.join(pins)})",
            _vllm_nearest(c),
        )
    rel, _ = found
    c.chosen["vllm"] = StackChoice(
        "vllm",
        rel.version,
        "pypi-wheel",
        f"newest vLLM whose exact torch pin ({rel.torch}) and CUDA major are the plan's "
        f"{_cite(rel)}",
        rel.source,
        rel.confidence,
    )


def _vllm_nearest(c: _Ctx) -> Optional[str]:
    t = c.target
    fits = [(v, p) for v, p in vllm_pins(c.data) if _python_ok(_rel(c, "vllm", v).python, t.python)]
    if not fits:
        return None
    mine = version_tuple(t.torch_public)[:2]
    fits.sort(
        key=lambda vp: (abs(version_tuple(vp[1])[1] - mine[1]), [-x for x in version_tuple(vp[0])])
    )
    v, p = fits[0]
    return f"--torch {p} --with vllm=={v}"


def _rel(c: _Ctx, name: str, version: str) -> StackRelease:
    return next(r for r in c.data.components[name].releases if r.version == version)


def _nearest_cuda(c: _Ctx, name: str) -> Optional[str]:
    t = c.target
    comp = c.data.components[name]
    if t.platform not in comp.platforms:
        return f"plan for {comp.platforms[0]} (--target-platform {comp.platforms[0]})"
    if comp.gpu == "cuda" and t.cuda is None:
        facts = c.data.torch_facts(t.torch)
        cuda = facts.pypi_default_cuda if facts else "12.8"
        return (
            f"--cuda {cuda} --with {name} (on a machine with an NVIDIA GPU), or {_without(c, name)}"
        )
    return _without(c, name)


def _choose_xformers(c: _Ctx) -> None:
    comp = c.data.components["xformers"]
    t = c.target
    gate = _component_gate(c, comp)
    if gate:
        raise _refuse(c, "xformers", gate, _nearest_cuda(c, "xformers"))
    artifact: dict[str, tuple[str, Optional[str]]] = {}

    def check(rel: StackRelease) -> Optional[str]:
        if rel.index_variants and t.variant in rel.index_variants:
            artifact[rel.version] = ("torch-index-wheel", TORCH_INDEX + t.variant)
            return None
        why = _cuda_fits(rel, t)
        if why is None:
            artifact[rel.version] = ("pypi-wheel", None)
            return None
        return f"{why}, and the PyTorch index has no {t.variant} build of it"

    found = _pick(c, "xformers", check)
    if found is None:
        raise _refuse(
            c,
            "xformers",
            f"no xformers build fits torch {t.torch_public} ({t.variant}): up to 0.0.34 each "
            "release pins one exact torch; 0.0.35 needs torch>=2.10",
            _without(c, "xformers"),
        )
    rel, _ = found
    kind, url = artifact[rel.version]
    coupling = comp.coupling_of(rel.version)
    warn: tuple[str, ...] = ()
    if coupling == "stable-abi":
        warn = (
            (
                f"xformers {rel.version} is a stable-ABI build (torch{rel.torch}): declared, not yet "
                "verified on every torch it admits"
            ),
        )
    where = f"the PyTorch {t.variant} index" if url else "PyPI"
    c.chosen["xformers"] = StackChoice(
        "xformers",
        rel.version,
        kind,
        f"newest xformers whose torch coupling ({coupling}: torch{rel.torch}) fits, from {where} "
        f"{_cite(rel)}",
        rel.source,
        rel.confidence,
        url=url,
        warnings=warn,
    )


def _choose_bnb(c: _Ctx) -> None:
    comp = c.data.components["bitsandbytes"]
    t = c.target
    gate = _component_gate(c, comp)
    if gate:
        raise _refuse(c, "bitsandbytes", gate, _without(c, "bitsandbytes"))
    tf_min = _runtime_min(c, "bitsandbytes")

    def check(rel: StackRelease) -> Optional[str]:
        if not _at_least(rel.version, tf_min):
            return f"transformers needs bitsandbytes>={tf_min} at runtime"
        if t.cuda_major is None:
            return None if rel.cpu else "no CPU library is known to be bundled"
        return _cuda_fits(rel, t)

    found = _pick(c, "bitsandbytes", check)
    if found is None:
        raise _refuse(
            c,
            "bitsandbytes",
            f"no bitsandbytes release bundles a library for torch {t.torch_public} ({t.variant})",
            _without(c, "bitsandbytes"),
        )
    rel, _ = found
    warn: tuple[str, ...] = ()
    low = [g for g in t.gpus if comp.int8_min_cc and _cc_tuple(g) < _cc_tuple(comp.int8_min_cc)]
    if low:
        warn = (
            (
                f"LLM.int8() needs compute capability {comp.int8_min_cc}+ (this GPU: {low[0]}); "
                "4-bit (NF4/FP4) and 8-bit optimizers work from 6.0"
            ),
        )
    c.chosen["bitsandbytes"] = StackChoice(
        "bitsandbytes",
        rel.version,
        "pypi-wheel",
        f"newest bitsandbytes whose torch range ({rel.torch or 'any'}) fits and that bundles a "
        f"{'CPU' if t.cuda_major is None else 'CUDA ' + str(t.cuda_major)} library {_cite(rel)}",
        rel.source,
        rel.confidence,
        warnings=warn,
    )


def _fa_excluded(rel: StackRelease, t: StackTarget, abi: bool) -> bool:
    for ex in rel.excludes:
        if (
            ex.get("torch", t.torch_minor) == t.torch_minor
            and ex.get("cuda_major", t.cuda_major) == t.cuda_major
            and ex.get("python", t.python) == t.python
            and ex.get("cxx11_abi", abi) == abi
            and ex.get("platform", t.platform) == t.platform
        ):
            return True
    return False


def _choose_flash_attn(c: _Ctx) -> None:
    comp = c.data.components["flash-attn"]
    t = c.target
    gate = _component_gate(c, comp)
    if gate:
        raise _refuse(
            c,
            "flash-attn",
            gate,
            f"{_without(c, 'flash-attn')} (transformers then uses attn_implementation='sdpa')",
        )
    facts = c.data.torch_facts(t.torch)
    abi = facts.cxx11_abi if facts else version_tuple(t.torch_public) >= (2, 7)

    def check(rel: StackRelease) -> Optional[str]:
        if not rel.published:
            return "its wheel matrix is from the main branch, not a release"
        if t.torch_minor not in rel.torch_minors:
            return f"no wheel for torch {t.torch_minor} (wheels for {', '.join(rel.torch_minors)})"
        majors = rel.cuda_majors or ()
        if t.cuda_major not in majors:
            return f"no CUDA {t.cuda_major} wheel (CUDA {'/'.join(map(str, majors))})"
        if rel.pythons and t.python not in rel.pythons:
            return f"no cp{t.python.replace('.', '')} wheel"
        if abi not in rel.cxx11_abi or _fa_excluded(rel, t, abi):
            return "this (torch, CUDA, CPython, C++ ABI) combination is excluded from its matrix"
        return None

    found = _pick(c, "flash-attn", check)
    if found is not None:
        rel, _ = found
        url = _fa_url(comp, rel, t, abi)
        c.chosen["flash-attn"] = StackChoice(
            "flash-attn",
            rel.version,
            "github-release-wheel",
            f"newest flash-attn with a release wheel for torch {t.torch_minor}, CUDA "
            f"{t.cuda_major}, cp{t.python.replace('.', '')}, cxx11abi {str(abi).upper()} {_cite(rel)}",
            rel.source,
            rel.confidence,
            url=url,
        )
        return
    # no wheel: a source build, when the toolkit matches
    newest = _newest_first(comp)[0]
    want = c.wants.get("flash-attn")
    version = next(
        (
            r.version
            for r in _newest_first(comp)
            if r.published and _contains(want.spec if want else None, r.version)
        ),
        newest.version,
    )
    if t.nvcc is None or t.nvcc.split(".")[0] != str(t.cuda_major):
        nvcc = f"nvcc {t.nvcc}" if t.nvcc else "no nvcc"
        raise _refuse(
            c,
            "flash-attn",
            f"flash-attn has no release wheel for torch {t.torch_minor} + CUDA {t.cuda_major} + "
            f"cp{t.python.replace('.', '')}, and a source build needs an nvcc {t.cuda_major}.x "
            f"matching torch's CUDA {t.cuda} ({nvcc} here)",
            _fa_nearest(c, abi),
        )
    jobs = _fa_jobs(t)
    arch = ";".join(sorted({g.replace(".", "") for g in t.gpus})) or "80;90"
    c.chosen["flash-attn"] = StackChoice(
        "flash-attn",
        version,
        "source-build",
        f"no release wheel fits torch {t.torch_minor} + CUDA {t.cuda_major}; built from source "
        f"with nvcc {t.nvcc} (MAX_JOBS={jobs}, FLASH_ATTN_CUDA_ARCHS={arch}) {_cite(newest)}",
        newest.source,
        "medium",
        url=f"MAX_JOBS={jobs};FLASH_ATTN_CUDA_ARCHS={arch}",
        warnings=(
            (
                f"flash-attn source build: about 30-90 minutes and about {FLASH_ATTN_GB_PER_JOB} GB "
                f"of RAM per job ({jobs} jobs), needs ninja and --no-build-isolation"
            ),
        ),
    )


def _fa_jobs(t: StackTarget) -> int:
    jobs = int((t.memory_gb or FLASH_ATTN_GB_PER_JOB * 2) // FLASH_ATTN_GB_PER_JOB)
    return max(1, min(jobs, t.cores or jobs))


def _fa_url(comp: Component, rel: StackRelease, t: StackTarget, abi: bool) -> Optional[str]:
    pattern = comp.wheel_url
    if not pattern:
        return None
    cu = (
        str(t.cuda_major)
        if version_tuple(rel.version) >= (2, 7)
        else (t.cuda or "").replace(".", "")
    )
    major, minor = t.torch_minor.split(".")
    py = t.python.replace(".", "")
    arch = "aarch64" if t.platform.endswith("aarch64") else "x86_64"
    return (
        pattern.replace("{V}", rel.version)
        .replace("{CUDA}", cu)
        .replace("{TMAJ}", major)
        .replace("{TMIN}", minor)
        .replace("{TRUE|FALSE}", "TRUE" if abi else "FALSE")
        .replace("{PY}", py)
        .replace("{x86_64|aarch64}", arch)
    )


def _fa_nearest(c: _Ctx, abi: bool) -> Optional[str]:
    """The newest torch minor with a published wheel for this CUDA major and Python."""
    t = c.target
    best: Optional[tuple[tuple[int, ...], str, str]] = None
    for rel in c.data.components["flash-attn"].releases:
        if not rel.published or (rel.pythons and t.python not in rel.pythons):
            continue
        for minor in rel.torch_minors:
            for major in rel.cuda_majors or ():
                key = (version_tuple(minor), major)
                if best is None or key > (best[0][:2], int(best[2])):
                    best = (version_tuple(minor), minor, str(major))
    if best is None:
        return _without(c, "flash-attn")
    cuda = {"11": "11.8", "12": "12.8", "13": "13.0"}.get(best[2], best[2] + ".0")
    return f"--torch {best[1]} --cuda {cuda} --with flash-attn (or {_without(c, 'flash-attn')})"


def _choose_deepspeed(c: _Ctx) -> None:
    comp = c.data.components["deepspeed"]
    t = c.target
    gate = _component_gate(c, comp)
    if gate:
        raise _refuse(c, "deepspeed", gate, _without(c, "deepspeed"))
    found = _pick(c, "deepspeed", lambda rel: None)
    if found is None:
        raise _refuse(
            c,
            "deepspeed",
            f"no DeepSpeed release fits torch {t.torch_public}",
            _without(c, "deepspeed"),
        )
    rel, _ = found
    warn = []
    if t.cuda is not None:
        major, _minor = t.cuda.split(".")
        ok = rel.nvcc_minor_ok.get(major, ())
        rule = (
            f"an nvcc {major}.x ({', '.join(ok)} are interchangeable)"
            if t.cuda in ok
            else f"nvcc {t.cuda} exactly (its minor-compat list has no CUDA {major} entry)"
            if not ok
            else f"nvcc {t.cuda} exactly"
        )
        if t.nvcc is None:
            warn.append(
                f"DeepSpeed JIT-builds its ops at first use: needs {rule}; none found, so "
                "FusedAdam/CPUAdam/ZeRO-offload ops will fail (CUDA_HOME does not exist)"
            )
        elif t.nvcc.split(".")[0] != major or (t.cuda not in ok and t.nvcc != t.cuda):
            warn.append(f"DeepSpeed ops need {rule}; nvcc here is {t.nvcc}: op builds will fail")
    c.chosen["deepspeed"] = StackChoice(
        "deepspeed",
        rel.version,
        "source-build",
        f"newest DeepSpeed whose torch range ({rel.torch or 'any'}) fits; an sdist (no wheel), "
        f"installed with --no-build-isolation, ops JIT-built at first use {_cite(rel)}",
        rel.source,
        rel.confidence,
        warnings=tuple(warn),
    )


def _choose_triton(c: _Ctx) -> None:
    comp = c.data.components["triton"]
    t = c.target
    gate = _component_gate(c, comp)
    if gate:
        raise _refuse(c, "triton", gate, _without(c, "triton"))
    facts = c.data.torch_facts(t.torch)
    if facts is None or not facts.triton:
        raise _refuse(
            c,
            "triton",
            f"the data has no triton pin for torch {t.torch_public}",
            _without(c, "triton"),
        )
    pin = facts.triton
    want = c.wants.get("triton")
    version = pin[2:] if pin.startswith("==") else None
    if want is not None and want.spec and version and not _contains(want.spec, version):
        raise ResolutionError(
            f"triton{want.spec} is not the triton torch {t.torch_public} pins (triton{pin}): "
            "inductor imports private triton APIs that move between minors",
            nearest="--with triton",
        )
    c.chosen["triton"] = StackChoice(
        "triton",
        version,
        "pypi-wheel",
        f"exactly what torch {t.torch_public} pins (triton{pin}) [{facts.source}; {facts.confidence}]",
        facts.source,
        facts.confidence,
    )


def _runtime_min(c: _Ctx, name: str) -> Optional[str]:
    tf = c.chosen.get("transformers")
    if tf is None or tf.version is None:
        return None
    return _rel(c, "transformers", tf.version).runtime_min.get(name)


def _choose_transformers(c: _Ctx) -> None:
    t = c.target
    vllm = c.chosen.get("vllm")
    cap = (
        _rel(c, "vllm", vllm.version).requires.get("transformers")
        if vllm and vllm.version
        else None
    )
    peft_want = c.wants.get("peft")
    peft_ceiling = c.data.peft_newest

    pinned = c.wants.get("transformers")

    def check(rel: StackRelease) -> Union[str, list[str], None]:
        if not rel.gates_checked and not (pinned and pinned.spec):
            return (
                "its runtime gates (torch, peft) were not read from this wheel: not chosen unasked"
            )
        gate = rel.torch_gate
        if gate and not _contains(gate, t.torch_public):
            return f"disables torch below {gate.lstrip('>=')} at import (the plan's torch: {t.torch_public})"
        if cap and not _contains(cap, rel.version):
            return f"outside vLLM {vllm.version if vllm else ''}'s transformers{cap}"
        floor = rel.runtime_min.get("peft")
        if peft_want is not None and floor and not _at_least(peft_ceiling, floor):
            return (
                f"needs peft>={floor} at runtime (MIN_PEFT_VERSION) and the newest peft on the index "
                f"is {peft_ceiling} [{c.data.peft_newest_source}]"
            )
        for dep in ("peft", "accelerate"):
            dep_floor = rel.runtime_min.get(dep)
            if dep in c.wants and dep_floor and not _feasible(c, dep, dep_floor):
                return f"needs {dep}>={dep_floor} at runtime, and no such {dep} supports Python {t.python}"
        if peft_want is not None and peft_want.spec and floor:
            fits = [
                r.version
                for r in c.data.components["peft"].releases
                if _contains(peft_want.spec, r.version) and _at_least(r.version, floor)
            ]
            if not fits:
                return f"needs peft>={floor} at runtime; peft{peft_want.spec} was asked for"
        return None

    found = _pick(c, "transformers", check)
    if found is None:
        want = c.wants.get("transformers")
        ok = None
        if want is not None and want.spec:
            probe = dataclasses.replace(
                _ctx_copy(c), wants={**c.wants, "transformers": Want("transformers")}
            )
            try:
                _choose_transformers(probe)
                ok = probe.chosen["transformers"].version
            except ResolutionError:
                ok = None
        raise _refuse(
            c,
            "transformers",
            f"no transformers release{' ' + want.spec if want and want.spec else ''} works with "
            f"torch {t.torch_public}{' and peft' if peft_want else ''}",
            f"--with transformers=={ok} (the rest of the request unchanged)" if ok else None,
        )
    rel, _ = found
    gate = rel.torch_gate or "none"
    c.chosen["transformers"] = StackChoice(
        "transformers",
        rel.version,
        "pypi-wheel",
        f"newest transformers whose runtime torch gate ({gate}) passes"
        + (f", inside vLLM's transformers{cap}" if cap else "")
        + (f", whose peft floor ({rel.runtime_min.get('peft')}) exists" if peft_want else "")
        + f" {_cite(rel)}",
        rel.source,
        rel.confidence,
    )


def _beyond_data(c: _Ctx, name: str, floor: Optional[str]) -> bool:
    """peft's ``floor`` is above every curated release but the index has one (read at planning)."""
    if name != "peft" or not floor or not _at_least(c.data.peft_newest, floor):
        return False
    return not any(_at_least(r.version, floor) for r in c.data.components[name].releases)


def _feasible(c: _Ctx, name: str, floor: str) -> bool:
    """Does some release of ``name`` at or above ``floor`` fit this Python and torch?"""
    comp = c.data.components[name]
    if _beyond_data(c, name, floor):
        return True  # on the index now (read while planning), not in the data yet
    return any(
        _at_least(r.version, floor) and _common(comp, r, c.target) is None for r in comp.releases
    )


def _ctx_copy(c: _Ctx) -> _Ctx:
    return _Ctx(c.target, c.data, dict(c.wants), dict(c.chosen), [], [])


def _tf_requires(c: _Ctx, name: str) -> Optional[str]:
    tf = c.chosen.get("transformers")
    if tf is None or tf.version is None:
        return None
    return _rel(c, "transformers", tf.version).requires.get(name)


def _choose_pure(c: _Ctx, name: str) -> None:
    t = c.target
    comp = c.data.components[name]
    floor = _runtime_min(c, name)
    exact = _tf_requires(c, name)
    hub = _tf_requires(c, "huggingface-hub")
    if not comp.releases:
        want = c.wants.get(name)
        c.chosen[name] = StackChoice(
            name,
            want.spec[2:] if want and want.spec and want.spec.startswith("==") else None,
            "pypi-wheel",
            f"no coupling to torch: pip chooses the version [{comp.source}; {comp.confidence}]",
            comp.source,
            comp.confidence,
        )
        return

    def check(rel: StackRelease) -> Optional[str]:
        if floor and not _at_least(rel.version, floor):
            return f"transformers needs {name}>={floor} at runtime"
        if exact and not _contains(exact, rel.version):
            return f"outside transformers' {name}{exact}"
        if name == "peft" and version_tuple(rel.version) > version_tuple(c.data.peft_newest):
            return f"not on the index (newest: {c.data.peft_newest})"
        other = rel.requires.get("huggingface-hub")
        if hub and other and not _intersects(hub, other):
            return f"its huggingface-hub{other} excludes transformers' huggingface-hub{hub}"
        return None

    found = _pick(c, name, check)
    if found is None and _beyond_data(c, name, floor):
        # a peft newer than the curated data, seen on the index while planning
        c.chosen[name] = StackChoice(
            name,
            c.data.peft_newest,
            "pypi-wheel",
            f"the newest peft on the index ({c.data.peft_newest}) meets transformers' runtime "
            f"floor {floor}; not yet in stack.json [{c.data.peft_newest_source}; low]",
            c.data.peft_newest_source,
            "low",
        )
        return
    if found is None:
        raise _refuse(
            c,
            name,
            f"no {name} release fits torch {t.torch_public}, Python {t.python} and the chosen transformers",
            _without(c, name),
        )
    rel, _ = found
    why = [f"torch{rel.torch}" if rel.torch else "no torch coupling"]
    if floor:
        why.append(f"transformers' runtime floor {floor}")
    if exact:
        why.append(f"transformers' {name}{exact}")
    c.chosen[name] = StackChoice(
        name,
        rel.version,
        "pypi-wheel",
        f"newest {name} that fits ({', '.join(why)}) {_cite(rel)}",
        rel.source,
        rel.confidence,
    )


def resolve_stack(target: StackTarget, wants: Sequence[Want], data: Stack) -> StackPlan:
    """Choose every wanted component for ``target`` (ResolutionError when one cannot fit)."""
    c = _Ctx(target, data, {w.name: w for w in wants}, {}, [], [])
    order = [n for n in COMPONENTS if n in c.wants]
    # transformers decides the floors of accelerate/peft/bitsandbytes; vLLM caps transformers
    if "vllm" in c.wants:
        _choose_vllm(c)
    if "transformers" in c.wants:
        _choose_transformers(c)
    for name in order:
        if name in c.chosen:
            continue
        chooser = {
            "xformers": _choose_xformers,
            "bitsandbytes": _choose_bnb,
            "flash-attn": _choose_flash_attn,
            "deepspeed": _choose_deepspeed,
            "triton": _choose_triton,
        }.get(name)
        if chooser is not None:
            chooser(c)
        else:
            _choose_pure(c, name)
    facts = data.torch_facts(target.torch)
    constraints = [f"torch=={target.torch}"]
    if facts and facts.triton and target.platform.startswith("linux"):
        constraints.append(f"triton{facts.triton}")
    choices = tuple(c.chosen[n] for n in COMPONENTS if n in c.chosen)
    warnings = [w for ch in choices for w in ch.warnings]
    return StackPlan(
        torch=target.torch,
        variant=target.variant,
        choices=choices,
        rejected=tuple(c.rejected),
        constraints=tuple(constraints),
        warnings=tuple(warnings),
    )


# --- the plan's steps -----------------------------------------------------------------------

_WRITE = (
    "import os,sys;p=sys.argv[1];d=os.path.dirname(p);d and os.makedirs(d,exist_ok=True);"
    "open(p,'w').write(''.join(a+'\\n' for a in sys.argv[2:]))"
)


def constraints_path(plan: Plan, venv: Optional[str], cache_dir: str) -> str:
    """Where the constraints file goes: in the venv, else under torchsetup's cache."""
    if venv:
        return os.path.join(venv, CONSTRAINTS_NAME)
    import hashlib

    key = hashlib.sha256(plan.python.encode()).hexdigest()[:12]
    return os.path.join(cache_dir, "constraints", f"{key}-{CONSTRAINTS_NAME}")


def stack_steps(
    plan: Plan, stack: StackPlan, constraints_file: str, *, uv: Optional[str] = None
) -> tuple[Step, ...]:
    """Write the constraints (torch and its companions pinned), then install the components by
    source: PyPI wheels in one step, a PyTorch-index build, a release wheel URL, source builds."""
    python = plan.python
    pins = [*stack.constraints]
    for name, version in plan.packages():
        if name != "torch":
            pins.append(f"{name}=={version}")
    steps = [
        Step(
            id="stack-constraints",
            description=f"Write {constraints_file}: pin {', '.join(pins)} for every stack install",
            argv=(python, "-c", _WRITE, constraints_file, *pins),
            timeout_s=60,
        )
    ]

    def install(reqs: Sequence[str], *extra: str) -> tuple[str, ...]:
        if uv is not None:
            return (uv, "pip", "install", "--python", python, "-c", constraints_file, *reqs, *extra)
        return (python, "-m", "pip", "install", "-c", constraints_file, *reqs, *extra)

    pypi = [c for c in stack.choices if c.artifact == "pypi-wheel"]
    if pypi:
        reqs = [c.requirement for c in pypi]
        steps.append(
            Step(
                id="install-stack",
                description=f"Install {', '.join(reqs)} from the default index (PyPI), torch held by the constraints",
                argv=install(reqs),
                timeout_s=3600,
            )
        )
    for c in stack.choices:
        if c.artifact == "torch-index-wheel" and c.url:
            steps.append(
                Step(
                    id=f"install-stack-{c.name}",
                    description=f"Install {c.requirement} from {c.url}",
                    argv=install([c.requirement], "--index-url", c.url),
                    timeout_s=1800,
                )
            )
        elif c.artifact == "github-release-wheel":
            steps.append(
                Step(
                    id=f"install-stack-{c.name}",
                    description=f"Install the {c.name} {c.version} release wheel",
                    argv=install([c.requirement]),
                    timeout_s=1800,
                )
            )
        elif c.artifact == "source-build":
            env: tuple[tuple[str, str], ...] = ()
            if c.url and "=" in c.url:
                env = tuple((k, v) for k, _, v in (p.partition("=") for p in c.url.split(";")))
            steps.append(
                Step(
                    id=f"build-stack-{c.name}",
                    description=f"Build and install {c.requirement} from source (--no-build-isolation)",
                    argv=install([c.requirement], "--no-build-isolation"),
                    env=env,
                    timeout_s=6 * 3600,
                )
            )
    return tuple(steps)


def with_stack(
    plan: Plan, stack: StackPlan, constraints_file: str, *, uv: Optional[str] = None
) -> Plan:
    """``plan`` with the stack's steps appended, its choices and rejections attached; a plan whose
    torch is already installed keeps only the stack steps."""
    steps = stack_steps(plan, stack, constraints_file, uv=uv)
    reasons = [f"{c.name} {c.version or '(pip chooses)'}: {c.reason}" for c in stack.choices]
    return dataclasses.replace(
        plan,
        steps=(*plan.steps, *steps),
        already_satisfied=None,
        reasons=(*plan.reasons, *reasons),
        warnings=(*plan.warnings, *stack.warnings),
        stack=stack,
    )


# --- glue for plan_install -----------------------------------------------------------------


def wants_of(request: Request, data: Stack) -> tuple[Want, ...]:
    return parse_wants(request.stack_set, request.stack, data)


def dictated_request(env: Environment, request: Request, data: Stack) -> Request:
    """``request`` with the torch version vLLM dictates, when vLLM is wanted (else unchanged)."""
    wants = {w.name: w for w in wants_of(request, data)}
    if "vllm" not in wants:
        return request
    from torchsetup.resolve.request import parse_torch
    from torchsetup.resolve.resolver import effective_target

    target = effective_target(env, request)
    _, torch = torch_for_vllm(
        wants["vllm"],
        data,
        python=target.python_version,
        torch_selector=request.torch.text if request.torch else None,
    )
    return dataclasses.replace(request, torch=parse_torch(torch))


def add_stack(plan: Plan, env: Environment, request: Request, data: Stack) -> Plan:
    """The complete plan with the stack resolved against its torch build and its steps added."""
    from torchsetup import paths
    from torchsetup.resolve.resolver import effective_target

    target = effective_target(env, request)
    stack_target = StackTarget(
        torch=plan.torch,
        variant=plan.variant,
        python=target.python_version,
        platform=target.platform,
        gpus=tuple(g.text for g in target.gpus),
        nvcc=target.nvcc,
        cores=target.cores,
        memory_gb=target.memory_bytes / 1024**3 if target.memory_bytes else None,
    )
    stack = resolve_stack(stack_target, wants_of(request, data), data)
    venv = request.venv if request.venv else None
    path = constraints_path(plan, venv, str(paths.cache_dir()))
    uv = None
    if plan.method == "uv":
        uv = next((st.argv[0] for st in plan.steps if st.argv[:2][1:] == ("pip",)), "uv")
    return with_stack(plan, stack, path, uv=uv)


__all__ = [
    "COMPONENTS",
    "STACKS",
    "StackChoice",
    "StackPlan",
    "StackRejection",
    "StackTarget",
    "Want",
    "constraints_path",
    "parse_want",
    "parse_wants",
    "resolve_stack",
    "stack_steps",
    "torch_for_vllm",
    "vllm_pins",
    "with_stack",
]
