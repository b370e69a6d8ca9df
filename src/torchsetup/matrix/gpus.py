"""NVIDIA GPU models and their compute capability, and the era facts about which capabilities
a CUDA toolkit and the torch 1.x binaries could target: ``resources/gpus.json``.

One table for everything that meets a GPU by name (doctor on a report, ``--target-gpu "GeForce
GTX 1080 Ti"``). A closed schema like the matrix's: an unknown key, a malformed capability, a
pattern that does not compile or an example its own entry (or an earlier one) does not place
raises :class:`~torchsetup.matrix.model.MatrixError` at load.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any, Optional

from torchsetup.matrix.model import MatrixError

_CC = re.compile(r"^\d{1,2}\.\d$")


@dataclass(frozen=True)
class GpuModel:
    capability: str
    architecture: str
    pattern: re.Pattern[str]
    examples: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class Floor:
    cuda_major: int
    min_capability: str
    source: str


@dataclass(frozen=True)
class GpuTable:
    models: tuple[GpuModel, ...]
    toolkit_floors: tuple[Floor, ...]  # newest CUDA major first
    torch_1x_floors: tuple[Floor, ...]
    sources: dict[str, str]

    def model(self, name: str) -> Optional[GpuModel]:
        """The entry that places ``name`` ("NVIDIA GeForce GTX 1080 Ti"), None if none does."""
        bare = re.sub(r"^\s*NVIDIA\s+", "", name.strip(), flags=re.IGNORECASE)
        return next((m for m in self.models if m.pattern.search(bare)), None)

    def toolkit_floor(self, cuda_major: int) -> Optional[Floor]:
        """The lowest capability CUDA ``cuda_major`` can compile for."""
        return next((f for f in self.toolkit_floors if cuda_major >= f.cuda_major), None)

    def torch_1x_floor(self, cuda_major: int) -> Optional[Floor]:
        """The lowest capability the official torch 1.x binaries of that CUDA major carried."""
        return next((f for f in self.torch_1x_floors if cuda_major >= f.cuda_major), None)


def _keys(obj: Any, where: str, allowed: frozenset[str]) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise MatrixError(f"gpus.json {where}: expected an object")
    unknown = set(obj) - allowed
    if unknown:
        raise MatrixError(f"gpus.json {where}.{min(unknown)}: unknown key")
    missing = allowed - set(obj)
    if missing:
        raise MatrixError(f"gpus.json {where}.{min(missing)}: missing")
    return obj


def _str(obj: dict[str, Any], key: str, where: str) -> str:
    value = obj[key]
    if not isinstance(value, str) or not value:
        raise MatrixError(f"gpus.json {where}.{key}: expected a non-empty string")
    return value


def _cc(obj: dict[str, Any], key: str, where: str) -> str:
    value = _str(obj, key, where)
    if not _CC.match(value):
        raise MatrixError(f"gpus.json {where}.{key}: {value!r} is not a compute capability")
    return value


def _source(obj: dict[str, Any], where: str, sources: dict[str, str]) -> str:
    ref = _str(obj, "source", where)
    if ref not in sources:
        raise MatrixError(f"gpus.json {where}.source: {ref!r} is not in the sources table")
    return sources[ref]


def _floors(data: Any, where: str, sources: dict[str, str]) -> tuple[Floor, ...]:
    if not isinstance(data, list):
        raise MatrixError(f"gpus.json {where}: expected a list")
    out = []
    for i, raw in enumerate(data):
        at = f"{where}[{i}]"
        obj = _keys(raw, at, frozenset({"cuda_major", "min_capability", "source"}))
        if not isinstance(obj["cuda_major"], int):
            raise MatrixError(f"gpus.json {at}.cuda_major: expected an integer")
        out.append(
            Floor(obj["cuda_major"], _cc(obj, "min_capability", at), _source(obj, at, sources))
        )
    if [f.cuda_major for f in out] != sorted((f.cuda_major for f in out), reverse=True):
        raise MatrixError(f"gpus.json {where}: newest CUDA major first")
    return tuple(out)


def table_from_dict(document: Any) -> GpuTable:
    """Validate ``document`` (the parsed gpus.json) and build the table."""
    top = _keys(
        document,
        "(top)",
        frozenset(
            {
                "schema_version",
                "about",
                "sources",
                "gpus",
                "toolkit_floors",
                "torch_1x_binary_floors",
            }
        ),
    )
    if top["schema_version"] != 1:
        raise MatrixError(f"gpus.json schema_version {top['schema_version']!r}: expected 1")
    sources = top["sources"]
    if not isinstance(sources, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in sources.items()
    ):
        raise MatrixError("gpus.json sources: expected an object of id -> text")
    if not isinstance(top["gpus"], list):
        raise MatrixError("gpus.json gpus: expected a list")
    models: list[GpuModel] = []
    for i, raw in enumerate(top["gpus"]):
        at = f"gpus[{i}]"
        obj = _keys(
            raw, at, frozenset({"capability", "architecture", "pattern", "examples", "source"})
        )
        try:
            pattern = re.compile(_str(obj, "pattern", at), re.IGNORECASE)
        except re.error as exc:
            raise MatrixError(f"gpus.json {at}.pattern: {exc}") from None
        examples = obj["examples"]
        if (
            not isinstance(examples, list)
            or not examples
            or not all(isinstance(e, str) and e for e in examples)
        ):
            raise MatrixError(f"gpus.json {at}.examples: expected a non-empty list of names")
        model = GpuModel(
            capability=_cc(obj, "capability", at),
            architecture=_str(obj, "architecture", at),
            pattern=pattern,
            examples=tuple(examples),
            source=_source(obj, at, sources),
        )
        models.append(model)
    table = GpuTable(
        models=tuple(models),
        toolkit_floors=_floors(top["toolkit_floors"], "toolkit_floors", sources),
        torch_1x_floors=_floors(top["torch_1x_binary_floors"], "torch_1x_binary_floors", sources),
        sources=dict(sources),
    )
    for i, model in enumerate(models):
        for example in model.examples:
            placed = table.model(example)
            if placed is not model:
                got = placed.capability if placed else "nothing"
                raise MatrixError(
                    f"gpus.json gpus[{i}].examples: {example!r} is placed at {got}, "
                    f"not {model.capability} (an earlier pattern matches it)"
                )
    return table


@functools.cache
def gpu_table() -> GpuTable:
    """The packaged table, validated once per process."""
    from torchsetup.resources import read_bytes

    try:
        document = json.loads(read_bytes("gpus.json"))
    except ValueError as exc:
        raise MatrixError(f"gpus.json: not JSON ({exc})") from None
    return table_from_dict(document)


def capability_from_name(name: Optional[str]) -> Optional[str]:
    """The compute capability of an NVIDIA GPU model name; None for names the table lacks."""
    if not name:
        return None
    model = gpu_table().model(name)
    return model.capability if model else None
