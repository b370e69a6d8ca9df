"""``doctor --fleet``: many nodes' facts side by side, every value that drifts from the majority.

Input: ``doctor --json`` outputs (raw, or wrapped in the versioned envelope
``{"schema", "torchsetup_version", "command", "result"}``), snapshots (``--save-snapshot``)
and capture folders, as files or folders of ``*.json``. Each becomes an Environment; the
facts that matter across a fleet are read from it (:data:`FACTS`, plus the LLM stack's
packages present on any node); for each fact the majority value is found and every node
whose value differs is a drift. An unknown value (an older probe, no GPU driver answering) is
shown but is not a drift; a package or torch that is absent is a value ("not installed").

Pure except :func:`load_nodes` (reads the files).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, TextIO

from torchsetup.detect.model import Environment
from torchsetup.errors import SnapshotError

FLEET_SCHEMA = "torchsetup.fleet/1"
NOT_INSTALLED = "not installed"
UNKNOWN = "?"

# The LLM stack: shown when any node has one of them.
LLM_STACK = (
    "transformers",
    "accelerate",
    "peft",
    "trl",
    "deepspeed",
    "vllm",
    "sglang",
    "flash-attn",
    "xformers",
    "bitsandbytes",
    "triton",
    "tensorrt-llm",
    "megatron-core",
)


@dataclass(frozen=True)
class Node:
    name: str
    source: str
    env: Environment


@dataclass(frozen=True)
class Fact:
    key: str
    title: str
    values: dict[str, Optional[str]]  # node -> value; None: unknown
    majority: Optional[str]
    drift: tuple[str, ...]  # nodes whose known value differs from the majority

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "majority": self.majority,
            "values": dict(self.values),
            "drift": list(self.drift),
        }


@dataclass(frozen=True)
class FleetReport:
    nodes: tuple[Node, ...]
    facts: tuple[Fact, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def drifted(self) -> tuple[Fact, ...]:
        return tuple(f for f in self.facts if f.drift)

    def exit_code(self, *, strict: bool) -> int:
        return 1 if strict and self.drifted else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": FLEET_SCHEMA,
            "nodes": [{"name": n.name, "source": n.source} for n in self.nodes],
            "facts": [f.to_json() for f in self.facts],
            "drift": bool(self.drifted),
            "drifted": [f.key for f in self.drifted],
            "notes": list(self.notes),
        }


# ---------------------------------------------------------------------------- facts (pure)


def _gpus(env: Environment) -> Optional[str]:
    if env.nvidia.status not in ("ok",) and not env.nvidia.gpus:
        return None if env.nvidia.status == "unknown" else "none"
    names = Counter(g.name for g in env.nvidia.gpus)
    if not names:
        return "none"
    return ", ".join(f"{name} x{n}" if len(names) > 1 else name for name, n in names.items())


def _gpu_count(env: Environment) -> Optional[str]:
    if env.nvidia.status == "unknown" and not env.nvidia.gpus:
        return None
    return str(len(env.nvidia.gpus))


def _flag(values: Sequence[Optional[bool]]) -> Optional[str]:
    known = [v for v in values if v is not None]
    if not known:
        return None
    if all(known) and len(known) == len(values):
        return "on"
    if not any(known):
        return "off"
    return f"on {sum(known)} of {len(values)}"


def _ecc(env: Environment) -> Optional[str]:
    return _flag([g.ecc_enabled for g in env.nvidia.gpus]) if env.nvidia.gpus else None


def _mig(env: Environment) -> Optional[str]:
    return _flag([g.mig_enabled for g in env.nvidia.gpus]) if env.nvidia.gpus else None


def _torch(env: Environment) -> Optional[str]:
    py = env.python
    if py is None or not py.ok:
        return None
    if py.torch is not None:
        return py.torch.version
    return NOT_INSTALLED if py.torch_checked or py.distributions else None


def _torch_variant(env: Environment) -> Optional[str]:
    py = env.python
    if py is None or not py.ok:
        return None
    if py.torch is not None:
        return py.torch.variant
    return NOT_INSTALLED if py.torch_checked or py.distributions else None


def _dist_version(env: Environment, prefixes: Sequence[str]) -> Optional[str]:
    py = env.python
    if py is None:
        return None
    for d in py.distributions:
        if any(d.name == p or d.name.startswith(p + "-") for p in prefixes):
            return ".".join(d.public_version.split(".")[:3])
    return None


def cudnn_text(version: int) -> str:
    """torch.backends.cudnn.version() as text: 91900 -> 9.19.0, 8902 -> 8.9.2."""
    if version >= 90000:
        return f"{version // 10000}.{version % 10000 // 100}.{version % 100}"
    return f"{version // 1000}.{version % 1000 // 100}.{version % 100}"


def _cudnn(env: Environment) -> Optional[str]:
    if env.deep is not None and env.deep.cudnn_version:
        return cudnn_text(env.deep.cudnn_version)
    return _dist_version(env, ("nvidia-cudnn-cu11", "nvidia-cudnn-cu12", "nvidia-cudnn-cu13"))


def _nccl(env: Environment) -> Optional[str]:
    return _dist_version(env, ("nvidia-nccl-cu11", "nvidia-nccl-cu12", "nvidia-nccl-cu13"))


def _python(env: Environment) -> Optional[str]:
    return env.python.version if env.python is not None and env.python.ok else None


def _os(env: Environment) -> Optional[str]:
    return env.os.name or (f"{env.os.system} {env.os.version}" if env.os.system else None)


FactFn = Callable[[Environment], Optional[str]]

FACTS: tuple[tuple[str, str, FactFn], ...] = (
    ("os", "OS", _os),
    ("driver", "NVIDIA driver", lambda e: e.nvidia.driver_version),
    ("cuda_max", "CUDA max (driver)", lambda e: e.nvidia.cuda_driver_version),
    ("gpu_model", "GPU model", _gpus),
    ("gpu_count", "GPUs", _gpu_count),
    ("ecc", "ECC", _ecc),
    ("mig", "MIG", _mig),
    ("python", "Python", _python),
    ("torch", "torch", _torch),
    ("torch_build", "torch build", _torch_variant),
    ("cudnn", "cuDNN", _cudnn),
    ("nccl", "NCCL", _nccl),
)


def _package(name: str) -> FactFn:
    def read(env: Environment) -> Optional[str]:
        py = env.python
        if py is None or not py.ok or not py.distributions_checked:
            return None
        dist = py.dist(name)
        return dist.version if dist is not None else NOT_INSTALLED

    return read


def majority(values: Sequence[Optional[str]]) -> Optional[str]:
    """The most common known value; None when nothing is known or the top is a tie."""
    counts = Counter(v for v in values if v is not None).most_common()
    if not counts or (len(counts) > 1 and counts[0][1] == counts[1][1]):
        return None
    return counts[0][0]


def compare(nodes: Sequence[Node]) -> FleetReport:
    """Every fact of every node, its majority and the nodes that drift from it."""
    table: list[tuple[str, str, FactFn]] = list(FACTS)
    for name in LLM_STACK:
        fn = _package(name)
        if any(fn(n.env) not in (None, NOT_INSTALLED) for n in nodes):
            table.append((f"pkg:{name}", name, fn))
    facts = []
    notes = []
    for key, title, fn in table:
        values = {n.name: fn(n.env) for n in nodes}
        top = majority(list(values.values()))
        known = {v for v in values.values() if v is not None}
        if top is None and len(known) > 1:
            drift = tuple(n for n, v in values.items() if v is not None)
            notes.append(f"{title}: no majority ({', '.join(sorted(known))})")
        else:
            drift = tuple(n for n, v in values.items() if v is not None and v != top)
        facts.append(Fact(key, title, values, top, drift))
    return FleetReport(tuple(nodes), tuple(facts), tuple(notes))


# ---------------------------------------------------------------------------- reading (files)


def _environment_from(data: dict[str, Any], path: str) -> Environment:
    from torchsetup.detect.model import environment_from_dict
    from torchsetup.detect.probes.record import SNAPSHOT_SCHEMA

    if "result" in data and "command" in data:  # the versioned --json envelope
        command = data.get("command")
        if command not in ("doctor", None) and not str(command).startswith("doctor"):
            raise SnapshotError(f"{path} holds the JSON of `torchsetup {command}`, not doctor's")
        if not isinstance(data["result"], dict):
            raise SnapshotError(f"{path}: the envelope's result is not a JSON object")
        data = data["result"]
    if data.get("schema") == SNAPSHOT_SCHEMA:
        from torchsetup.detect.build import build_environment
        from torchsetup.detect.probes.record import Snapshot

        return build_environment(Snapshot.from_dict(data, source=f"snapshot:{path}"))
    if isinstance(data.get("environment"), dict):
        try:
            return environment_from_dict(data["environment"])
        except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
            raise SnapshotError(f"{path}: malformed environment: {exc}") from exc
    raise SnapshotError(f"{path} is neither a doctor --json output nor a torchsetup snapshot")


def _read(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise SnapshotError(f"--fleet {path}: no such file or folder") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SnapshotError(f"--fleet {path}: cannot read it ({exc})") from None
    except ValueError as exc:
        raise SnapshotError(f"--fleet {path} is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise SnapshotError(f"--fleet {path} does not hold a JSON object")
    return data


def _files(path: str) -> list[str]:
    if not os.path.isdir(path):
        return [path]
    found = sorted(
        os.path.join(path, n)
        for n in os.listdir(path)
        if n.endswith(".json") and not n.startswith(".")
    )
    return found or [path]  # a folder without JSON: a capture folder


def _stem(path: str) -> str:
    base = os.path.basename(path.rstrip(os.sep))
    return base if os.path.isdir(path) else os.path.splitext(base)[0]


def load_nodes(paths: Sequence[str]) -> list[Node]:
    """One node per file (a folder: each of its *.json, or itself as a capture folder)."""
    loaded: list[tuple[str, str, Environment]] = []
    for given in paths:
        for path in _files(given):
            if os.path.isdir(path):
                from torchsetup.detect.snapshot import load_environment

                env = load_environment(path)
            else:
                env = _environment_from(_read(path), path)
            loaded.append((env.os.hostname or _stem(path), path, env))
    if len(loaded) < 2:
        raise SnapshotError(f"--fleet needs at least two nodes' outputs, got {len(loaded)}")
    seen = Counter(name for name, _, _ in loaded)
    nodes = []
    for name, path, env in loaded:
        nodes.append(Node(f"{name}:{_stem(path)}" if seen[name] > 1 else name, path, env))
    return nodes


# ---------------------------------------------------------------------------- rendering


MAX_COLUMNS = 8  # more nodes than this: the majority and the drift only (all in --json)


def render_text(report: FleetReport, out: TextIO) -> None:
    """Facts down, nodes across; a drifting value is marked ``*`` (and red on a terminal).
    A fleet wider than ``MAX_COLUMNS`` shows each fact's majority and how many nodes differ."""
    from torchsetup.term import Style

    st = Style(out)
    names = [n.name for n in report.nodes]
    if len(names) > MAX_COLUMNS:
        _render_wide(report, out, st)
        return
    header = ["fact", "majority", *names]
    rows = []
    for fact in report.facts:
        cells = [fact.title, fact.majority or "-"]
        for name in names:
            value = fact.values.get(name)
            text = UNKNOWN if value is None else value
            cells.append(text + (" *" if name in fact.drift else ""))
        rows.append((fact, cells))
    widths = [max(len(r[i]) for r in [header, *[c for _, c in rows]]) for i in range(len(header))]

    def line(cells: list[str], fact: Optional[Fact]) -> str:
        parts = []
        for i, cell in enumerate(cells):
            padded = cell.ljust(widths[i])
            if fact is not None and i >= 2 and names[i - 2] in fact.drift:
                padded = st(padded, "bold red")
            parts.append(padded)
        return "  ".join(parts).rstrip()

    out.write(f"torchsetup doctor --fleet: {len(names)} nodes\n")
    out.write(st(line(header, None), "bold") + "\n")
    for fact, cells in rows:
        out.write(line(cells, fact) + "\n")
    _render_drift(report, out, st)


def _render_wide(report: FleetReport, out: TextIO, st: Callable[[str, str], str]) -> None:
    nodes = len(report.nodes)
    out.write(f"torchsetup doctor --fleet: {nodes} nodes (every value per node: --json)\n")
    width = max(len(f.title) for f in report.facts)
    out.write(st(f"{'fact'.ljust(width)}  majority", "bold") + "\n")
    for fact in report.facts:
        known = sum(1 for v in fact.values.values() if v is not None)
        line = f"{fact.title.ljust(width)}  {fact.majority or '-'}"
        if fact.drift:
            line += st(f"  ({len(fact.drift)} of {known} differ)", "bold red")
        out.write(line + "\n")
    _render_drift(report, out, st, marked=False)


def _render_drift(
    report: FleetReport, out: TextIO, st: Callable[[str, str], str], *, marked: bool = True
) -> None:
    if not report.drifted:
        out.write(st("no drift: every node agrees with the majority", "green") + "\n")
        return
    legend = " (* = differs from the majority)" if marked else ""
    out.write(f"\n{st('drift', 'bold red')}{legend}:\n")
    for fact in report.drifted:
        who = ", ".join(f"{n} ({fact.values[n]})" for n in fact.drift)
        out.write(f"  {fact.title}: majority {fact.majority or 'none'}; {who}\n")
    out.writelines(f"  note: {note}\n" for note in report.notes)


def render_json(report: FleetReport, out: TextIO) -> None:
    out.write(json.dumps(report.to_json(), indent=2) + "\n")
