"""What a verify run asks for and what it found: frozen dataclasses, JSON out.

``VerifyResult.to_json()`` is a tested contract (``torchsetup verify --json``)::

    {"ok": bool, "schema": 1, "python": str, "mode": "quick" | "full", "seconds": float,
     "torch": {"version", "variant", "cuda", "hip", "cudnn", "nccl", "arch_list", ...} | null,
     "checks": [{"name", "status", "seconds", "detail", "hint", "data"}],
     "summary": {"passed", "failed", "not_run"}}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Optional

JSON_SCHEMA = 1

Status = Literal["pass", "fail", "not run"]
PASS: Status = "pass"
FAIL: Status = "fail"
NOT_RUN: Status = "not run"
STATUSES: tuple[Status, ...] = (PASS, FAIL, NOT_RUN)

Mode = Literal["quick", "full"]
CompileBackend = Literal["inductor", "aot_eager", "off"]
DEFAULT_TRAIN_STEPS = 20


@dataclass(frozen=True)
class CheckResult:
    """One check: ``status`` with the reason in ``detail``; ``hint`` says how to fix a failure."""

    name: str
    status: Status
    seconds: float = 0.0
    detail: str = ""
    hint: Optional[str] = None
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.status == FAIL

    def with_hint(self, hint: Optional[str]) -> CheckResult:
        return self if hint is None or self.hint else replace(self, hint=hint)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "seconds": round(self.seconds, 4),
            "detail": self.detail,
            "hint": self.hint,
            "data": dict(self.data),
        }


@dataclass(frozen=True)
class Device:
    name: str  # torch's device string: "cuda:0", "mps"
    kind: str  # "cuda" | "rocm" | "xpu" | "mps"
    model: str
    capability: Optional[tuple[int, int]] = None
    gcn_arch: Optional[str] = None  # ROCm: "gfx90a:sramecc+:xnack-"
    total_memory: Optional[int] = None


@dataclass(frozen=True)
class TorchInfo:
    """Facts about the target's torch, as the smoke script reported them."""

    version: str
    variant: str  # "cpu", "cu130", "rocm6.2", "xpu"
    cuda: Optional[str] = None
    hip: Optional[str] = None
    cudnn: Optional[int] = None
    nccl: Optional[str] = None
    arch_list: tuple[str, ...] = ()
    debug: bool = False
    file: Optional[str] = None
    python: Optional[str] = None
    numpy: Optional[str] = None
    import_seconds: Optional[float] = None
    devices: tuple[Device, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "variant": self.variant,
            "cuda": self.cuda,
            "hip": self.hip,
            "cudnn": self.cudnn,
            "nccl": self.nccl,
            "arch_list": list(self.arch_list),
            "debug": self.debug,
            "file": self.file,
            "python": self.python,
            "numpy": self.numpy,
            "import_seconds": self.import_seconds,
            "devices": [
                {
                    "name": d.name,
                    "kind": d.kind,
                    "model": d.model,
                    "capability": list(d.capability) if d.capability else None,
                    "gcn_arch": d.gcn_arch,
                    "total_memory": d.total_memory,
                }
                for d in self.devices
            ],
        }


@dataclass(frozen=True)
class Expectations:
    """Drift that must fail verify: a torch version specifier, a CUDA version, a variant.

    Build with :func:`torchsetup.verify.judge.parse_expectations`, which validates them.
    """

    torch: Optional[str] = None  # PEP 440 specifier: ">=2.4,<3", "==2.11.0"
    cuda: Optional[str] = None  # "12.8", "13"
    variant: Optional[str] = None  # "cpu", "cu128", "rocm6.2"


DEFAULT_RDZV_ID = "torchsetup-verify"


@dataclass(frozen=True)
class Nodes:
    """How many nodes take part and how they meet (the ``--nnodes`` family of options)."""

    nnodes: int = 1
    nproc_per_node: Optional[int] = None  # None: GPUs on this node (at least 1); 2 standalone
    node_rank: Optional[int] = None  # a label for torchrun: c10d assigns ranks at rendezvous
    rdzv_endpoint: Optional[str] = None  # HOST:PORT, the same on every node
    rdzv_id: str = DEFAULT_RDZV_ID

    @property
    def multi(self) -> bool:
        return self.nnodes > 1 or self.rdzv_endpoint is not None


@dataclass(frozen=True)
class VerifyOptions:
    """What to check. The defaults are the quick check ``install`` runs afterwards."""

    mode: Mode = "quick"
    require_gpu: bool = False
    compile: CompileBackend = "inductor"
    compile_train: bool = False
    train_steps: int = DEFAULT_TRAIN_STEPS
    distributed: bool = False
    dist_backend: Literal["auto", "gloo", "nccl"] = "auto"
    nodes: Nodes = field(default_factory=Nodes)  # --nnodes & co.: several nodes via torchrun
    dist_timeout: Optional[float] = None  # seconds a rank waits for the others
    bandwidth: bool = False  # time all_reduce (implies distributed)
    bandwidth_max_bytes: int = 0  # largest message; 0: 1 GiB with NCCL, 16 MiB with gloo
    expect: Expectations = field(default_factory=Expectations)
    timeout_scale: float = 1.0


@dataclass(frozen=True)
class VerifyResult:
    python: str
    mode: Mode
    checks: tuple[CheckResult, ...]
    torch: Optional[TorchInfo] = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when nothing failed and torch imported: a "not run" check fails nothing."""
        imported = any(c.name == "import" and c.status == PASS for c in self.checks)
        return imported and not any(c.failed for c in self.checks)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def count(self, status: Status) -> int:
        return sum(1 for c in self.checks if c.status == status)

    def check(self, name: str) -> Optional[CheckResult]:
        return next((c for c in self.checks if c.name == name), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "schema": JSON_SCHEMA,
            "python": self.python,
            "mode": self.mode,
            "seconds": round(self.seconds, 3),
            "torch": self.torch.to_json() if self.torch else None,
            "checks": [c.to_json() for c in self.checks],
            "summary": {
                "passed": self.count(PASS),
                "failed": self.count(FAIL),
                "not_run": self.count(NOT_RUN),
            },
        }
