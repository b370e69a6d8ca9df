"""The LLM stack's compatibility data (``resources/stack.json``): a closed schema, checked at load.

stack.json is curated by ``tools/curate_stack.py`` from ``tools/reference/llm-stack.json`` (never
edit it by hand). Per component (vllm, xformers, flash-attn, bitsandbytes, deepspeed, triton and
the Hugging Face set) it holds how its binaries couple to torch (``exact`` pin, torch ``minor``,
a ``range``, ``stable-abi``, ``pinned-by-torch`` or ``none``), the platforms, the GPU floor and per
release the torch specifier, CUDA majors, CPython range, declared requirements and the runtime
gates, every entry with a source id (the top-level ``sources`` table) and a confidence.

An unknown key, a wrong type, a bad confidence or an unknown source id raises
:class:`~torchsetup.matrix.model.MatrixError` naming the path of the entry, like matrix/load.py.
``TORCHSETUP_STACK`` (a path) replaces the packaged file.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from torchsetup.matrix.model import PLATFORMS, MatrixError

STACK_ENV = "TORCHSETUP_STACK"
SCHEMA = 1
COUPLINGS = ("exact", "minor", "range", "stable-abi", "pinned-by-torch", "none")
DISTRIBUTIONS = ("pypi-wheel", "pypi-sdist", "github-release-wheel")
CONFIDENCES = ("high", "medium", "low")
GPU_KINDS = ("cuda", "optional")

_STR = (str,)
_OPT_STR = (str, type(None))
_LIST = (list,)
_OPT_LIST = (list, type(None))
_DICT = (dict,)
_BOOL = (bool,)

# closed schemas: key -> allowed types ("required" keys are all of them: curate writes every key)
_TOP = {
    "schema": (int,),
    "generated_from": _STR,
    "registry_snapshot": _STR,
    "peft_newest_on_index": _DICT,
    "sets": _DICT,
    "torch": _LIST,
    "components": _DICT,
    "sources": _DICT,
}
_NEWEST = {"version": _STR, "source": _STR, "confidence": _STR, "note": _STR}
_TORCH = {
    "version": _STR,
    "pypi_default_cuda": _STR,
    "cxx11_abi": _BOOL,
    "triton": _OPT_STR,
    "source": _STR,
    "confidence": _STR,
}
_COMPONENT = {
    "coupling": _STR,
    "coupling_from": _DICT,
    "distribution": _STR,
    "platforms": _LIST,
    "gpu": _STR,
    "min_cc": _OPT_STR,
    "int8_min_cc": _STR,
    "wheel_url": _STR,
    "notes": _LIST,
    "source": _STR,
    "confidence": _STR,
    "releases": _LIST,
}
_COMPONENT_OPTIONAL = frozenset({"coupling_from", "int8_min_cc", "wheel_url"})
_RELEASE = {
    "version": _STR,
    "torch": _OPT_STR,
    "torch_gate": _OPT_STR,
    "torch_minors": _LIST,
    "cuda_majors": _OPT_LIST,
    "index_variants": _OPT_LIST,
    "cpu": _BOOL,
    "published": _BOOL,
    "pythons": _LIST,
    "cxx11_abi": _LIST,
    "platforms": _LIST,
    "excludes": _LIST,
    "min_nvcc": _OPT_STR,
    "nvcc_minor_ok": _DICT,
    "python": _OPT_STR,
    "requires": _DICT,
    "runtime_min": _DICT,
    "gates_checked": _BOOL,
    "source": _STR,
    "confidence": _STR,
}
_RELEASE_REQUIRED = frozenset({"version", "source", "confidence"})
_EXCLUDE = {
    "torch": _STR,
    "cuda_major": (int,),
    "python": _STR,
    "cxx11_abi": _BOOL,
    "platform": _STR,
}


@dataclass(frozen=True)
class StackRelease:
    """One release of a component and what its artifacts need."""

    version: str
    source: str  # resolved text
    confidence: str
    torch: Optional[str] = None  # a PEP 440 specifier on torch ("==2.13.0", ">=2.4,<3")
    torch_gate: Optional[str] = None  # transformers: torch below this is silently disabled
    torch_minors: tuple[str, ...] = ()  # flash-attn: wheels for these torch MAJOR.MINOR
    cuda_majors: Optional[tuple[int, ...]] = None  # None: not known
    index_variants: Optional[tuple[str, ...]] = None  # builds on download.pytorch.org
    cpu: bool = False  # bitsandbytes: a CPU library is bundled
    published: bool = True  # flash-attn: the wheels were released (False: a CI matrix at HEAD)
    pythons: tuple[str, ...] = ()  # flash-attn: CPython minors with wheels
    cxx11_abi: tuple[bool, ...] = ()
    platforms: tuple[str, ...] = ()
    excludes: tuple[Mapping[str, Any], ...] = ()
    min_nvcc: Optional[str] = None
    nvcc_minor_ok: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    python: Optional[str] = None  # Requires-Python
    requires: Mapping[str, Optional[str]] = field(default_factory=dict)
    runtime_min: Mapping[str, Optional[str]] = field(default_factory=dict)
    gates_checked: bool = True  # transformers: were the runtime gates read from this wheel?


@dataclass(frozen=True)
class Component:
    name: str
    coupling: str
    distribution: str
    platforms: tuple[str, ...]
    gpu: str  # "cuda": needs a CUDA torch; "optional": works on the CPU too
    min_cc: Optional[str]
    notes: tuple[str, ...]
    source: str
    confidence: str
    releases: tuple[StackRelease, ...]  # oldest first
    coupling_from: Mapping[str, str] = field(default_factory=dict)
    int8_min_cc: Optional[str] = None
    wheel_url: Optional[str] = None

    def coupling_of(self, version: str) -> str:
        """The coupling kind of one release (xformers 0.0.35 is stable-ABI, older ones exact)."""
        from torchsetup.versions import version_tuple

        kind = self.coupling
        for start, other in sorted(self.coupling_from.items(), key=lambda kv: version_tuple(kv[0])):
            if version_tuple(version) >= version_tuple(start):
                kind = other
        return kind


@dataclass(frozen=True)
class TorchFacts:
    version: str
    pypi_default_cuda: str
    cxx11_abi: bool
    triton: Optional[str]
    source: str
    confidence: str


@dataclass(frozen=True)
class Stack:
    registry_snapshot: str
    sets: Mapping[str, tuple[str, ...]]
    torch: tuple[TorchFacts, ...]
    components: Mapping[str, Component]
    peft_newest: str  # the newest peft on the index when the data was curated
    peft_newest_source: str
    sources: Mapping[str, str]

    def torch_facts(self, version: str) -> Optional[TorchFacts]:
        public = version.partition("+")[0]
        exact = next((t for t in self.torch if t.version == public), None)
        if exact is not None:
            return exact
        minor = ".".join(public.split(".")[:2])
        same = [t for t in self.torch if ".".join(t.version.split(".")[:2]) == minor]
        return same[-1] if same else None


def _fail(path: str, what: str) -> MatrixError:
    return MatrixError(f"stack.json: {path}: {what}")


def _check(obj: Any, schema: Mapping[str, tuple[type, ...]], path: str, optional: Any) -> None:
    if not isinstance(obj, dict):
        raise _fail(path, "not an object")
    for key in obj:
        if key not in schema:
            raise _fail(f"{path}.{key}", "unknown key")
    for key, types in schema.items():
        if key not in obj:
            if optional is None or key in optional:
                continue
            raise _fail(f"{path}.{key}", "missing")
        value = obj[key]
        if isinstance(value, bool) and bool not in types:
            raise _fail(f"{path}.{key}", f"wrong type {type(value).__name__}")
        if not isinstance(value, types):
            raise _fail(f"{path}.{key}", f"wrong type {type(value).__name__}")


def _one_of(value: Any, allowed: tuple[str, ...], path: str) -> str:
    if value not in allowed:
        raise _fail(path, f"{value!r} is not one of {', '.join(allowed)}")
    return str(value)


class _Sources:
    def __init__(self, table: Mapping[str, Any]) -> None:
        for key, text in table.items():
            if not isinstance(text, str):
                raise _fail(f"sources.{key}", "not a string")
        self.table = dict(table)
        self.used: set[str] = set()

    def text(self, key: Any, path: str) -> str:
        if key not in self.table:
            raise _fail(path, f"unknown source id {key!r}")
        self.used.add(key)
        return str(self.table[key])


def _release(raw: Any, path: str, sources: _Sources) -> StackRelease:
    _check(raw, _RELEASE, path, None)
    missing = sorted(_RELEASE_REQUIRED - set(raw))
    if missing:
        raise _fail(f"{path}.{missing[0]}", "missing")
    for ex_i, ex in enumerate(raw.get("excludes", [])):
        _check(ex, _EXCLUDE, f"{path}.excludes[{ex_i}]", None)
    for plat in raw.get("platforms", []):
        _one_of(plat, PLATFORMS, f"{path}.platforms")
    majors = raw.get("cuda_majors")
    if majors is not None and not all(isinstance(m, int) for m in majors):
        raise _fail(f"{path}.cuda_majors", "not a list of integers")
    return StackRelease(
        version=raw["version"],
        source=sources.text(raw["source"], f"{path}.source"),
        confidence=_one_of(raw["confidence"], CONFIDENCES, f"{path}.confidence"),
        torch=raw.get("torch"),
        torch_gate=raw.get("torch_gate"),
        torch_minors=tuple(raw.get("torch_minors", ())),
        cuda_majors=tuple(majors) if majors is not None else None,
        index_variants=tuple(raw["index_variants"]) if raw.get("index_variants") else None,
        cpu=bool(raw.get("cpu", False)),
        published=bool(raw.get("published", True)),
        pythons=tuple(raw.get("pythons", ())),
        cxx11_abi=tuple(raw.get("cxx11_abi", ())),
        platforms=tuple(raw.get("platforms", ())),
        excludes=tuple(raw.get("excludes", ())),
        min_nvcc=raw.get("min_nvcc"),
        nvcc_minor_ok={k: tuple(v) for k, v in raw.get("nvcc_minor_ok", {}).items()},
        python=raw.get("python"),
        requires=dict(raw.get("requires", {})),
        runtime_min=dict(raw.get("runtime_min", {})),
        gates_checked=bool(raw.get("gates_checked", True)),
    )


def _component(name: str, raw: Any, sources: _Sources) -> Component:
    path = f"components.{name}"
    _check(raw, _COMPONENT, path, _COMPONENT_OPTIONAL)
    for plat in raw["platforms"]:
        _one_of(plat, PLATFORMS, f"{path}.platforms")
    releases = tuple(
        _release(
            r, f"{path}.releases[{r.get('version', i) if isinstance(r, dict) else i}]", sources
        )
        for i, r in enumerate(raw["releases"])
    )
    return Component(
        name=name,
        coupling=_one_of(raw["coupling"], COUPLINGS, f"{path}.coupling"),
        distribution=_one_of(raw["distribution"], DISTRIBUTIONS, f"{path}.distribution"),
        platforms=tuple(raw["platforms"]),
        gpu=_one_of(raw["gpu"], GPU_KINDS, f"{path}.gpu"),
        min_cc=raw["min_cc"],
        notes=tuple(str(n) for n in raw["notes"]),
        source=sources.text(raw["source"], f"{path}.source"),
        confidence=_one_of(raw["confidence"], CONFIDENCES, f"{path}.confidence"),
        releases=releases,
        coupling_from={
            k: _one_of(v, COUPLINGS, f"{path}.coupling_from.{k}")
            for k, v in raw.get("coupling_from", {}).items()
        },
        int8_min_cc=raw.get("int8_min_cc"),
        wheel_url=raw.get("wheel_url"),
    )


def stack_from_dict(data: Any) -> Stack:
    """Validate a parsed stack.json and build the :class:`Stack` (MatrixError on any problem)."""
    _check(data, _TOP, "(top)", frozenset())
    if data["schema"] != SCHEMA:
        raise _fail("schema", f"{data['schema']} is not {SCHEMA}")
    sources = _Sources(data["sources"])
    newest = data["peft_newest_on_index"]
    _check(newest, _NEWEST, "peft_newest_on_index", frozenset())
    torch = []
    for i, raw in enumerate(data["torch"]):
        path = f"torch[{raw.get('version', i) if isinstance(raw, dict) else i}]"
        _check(raw, _TORCH, path, frozenset())
        torch.append(
            TorchFacts(
                version=raw["version"],
                pypi_default_cuda=raw["pypi_default_cuda"],
                cxx11_abi=raw["cxx11_abi"],
                triton=raw["triton"],
                source=sources.text(raw["source"], f"{path}.source"),
                confidence=_one_of(raw["confidence"], CONFIDENCES, f"{path}.confidence"),
            )
        )
    components = {n: _component(n, raw, sources) for n, raw in data["components"].items()}
    sets = {}
    for set_name, members in data["sets"].items():
        unknown = [m for m in members if m not in components]
        if unknown:
            raise _fail(f"sets.{set_name}", f"unknown component {unknown[0]}")
        sets[set_name] = tuple(members)
    stack = Stack(
        registry_snapshot=data["registry_snapshot"],
        sets=sets,
        torch=tuple(torch),
        components=components,
        peft_newest=newest["version"],
        peft_newest_source=sources.text(newest["source"], "peft_newest_on_index.source"),
        sources=dict(sources.table),
    )
    unused = sorted(set(sources.table) - sources.used)
    if unused:
        raise _fail(f"sources.{unused[0]}", "not referenced by any entry")
    return stack


@functools.cache
def load_stack() -> Stack:
    """The stack data (``$TORCHSETUP_STACK``, else the packaged file), validated once."""
    from torchsetup.matrix.load import read_data_json

    return stack_from_dict(read_data_json(STACK_ENV, "stack.json"))


__all__ = ["STACK_ENV", "Component", "Stack", "StackRelease", "TorchFacts", "load_stack"]
