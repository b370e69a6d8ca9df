"""The ``--distributed`` check: where its ranks come from and what their answers add up to (pure).

Three ways to get ranks, decided by :func:`plan_launch`:

- **inside a job**: torchrun's ``RANK``/``WORLD_SIZE``/``MASTER_ADDR``/``MASTER_PORT`` (any
  launcher that sets them), or a Slurm step of several tasks (``SLURM_PROCID``,
  ``SLURM_NTASKS`` > 1, mapped here to the torchrun variables): this process runs as that
  one rank, so ``srun torchsetup verify --distributed`` checks the whole allocation;
- **several nodes**: ``--nnodes N --rdzv-endpoint HOST:PORT`` launches torchrun's agent for
  this node (``torch.distributed.run`` from the target interpreter, c10d rendezvous), one
  per node, all with the same arguments;
- **one node**: torchrun ``--standalone`` with two local ranks.

Every rank (resources/smoke.py ``--worker``) checks its device and four collectives and
reports a record; rank 0 gathers all records and a verdict, which the other ranks print too.
:class:`DistOutput` reads those events from one node's output; :func:`aggregate` turns
them and how the launcher ended into the ``distributed`` check, whose data holds one row
per (node, rank, check) for the gathered table.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from torchsetup.proc import ProcResult, python_argv
from torchsetup.verify.model import FAIL, PASS, CheckResult, Nodes
from torchsetup.verify.protocol import OUTPUT_TAIL, parse_event

NAME = "distributed"
LOCAL_RANKS = 2
DEFAULT_MASTER_PORT = "29500"
COLLECTIVES = ("all_reduce", "all_gather", "broadcast", "barrier")
_TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
_ENDPOINT = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})")


@dataclass(frozen=True)
class Launch:
    argv: tuple[str, ...]
    ranks: int  # results expected on this process's output
    how: str  # said in the result: "torchrun, 2 local ranks", "rank 3 of 8 (Slurm)"
    timeout: float  # the launcher as a whole may run this long
    extra_env: Mapping[str, str] = field(default_factory=dict)
    problem: Optional[str] = None  # the job's environment is incomplete: fail, don't run
    deadline: float = 0.0  # seconds each rank waits for the others (--dist-timeout)
    nodes: int = 1
    endpoint: Optional[str] = None


def parse_endpoint(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` too) -> (host, port); ValueError with the reason."""
    m = _ENDPOINT.fullmatch(text.strip())
    if m is None or not 0 < int(m.group(2)) < 65536:
        raise ValueError(f"{text!r} is not HOST:PORT (a port from 1 to 65535)")
    return m.group(1), int(m.group(2))


def plan_launch(
    python: str,
    smoke: str,
    environ: Mapping[str, str],
    *,
    timeout: float,
    backend: str = "auto",
    nodes: Optional[Nodes] = None,
    deadline: Optional[float] = None,
    gpus: int = 0,
    bandwidth: bool = False,
    bandwidth_max_bytes: int = 0,
) -> Launch:
    """How to run the distributed check from here (see module doc).

    ``timeout`` bounds the whole launch; ``deadline`` (default: 80 % of it) is how long each
    rank waits for the others before it reports the missing ones; ``gpus`` is this node's GPU
    count (the default number of ranks per node in a multi-node launch).
    """
    nodes = nodes or Nodes()
    deadline = max(deadline if deadline is not None else timeout * 0.8, 5.0)
    worker = [
        smoke,
        "--worker",
        f"--dist-timeout={deadline:g}",
        f"--dist-backend={backend}",
    ]
    if bandwidth:
        worker.append("--bandwidth")
        if bandwidth_max_bytes:
            worker.append(f"--bandwidth-max-bytes={bandwidth_max_bytes}")
    direct = tuple(python_argv(python, *worker))
    run_for = deadline + 30.0
    in_job = "RANK" in environ or "WORLD_SIZE" in environ or slurm_rank_env(environ) is not None
    if in_job and nodes.multi:
        return Launch(
            direct,
            1,
            "inside a job",
            run_for,
            problem=(
                "--nnodes/--rdzv-endpoint start torchrun's agent, but this process already is "
                "one rank of a torchrun or Slurm job: drop them (the job's variables say it all)"
            ),
            deadline=deadline,
        )
    if "RANK" in environ or "WORLD_SIZE" in environ:
        missing = [v for v in _TORCHRUN_VARS if not environ.get(v)]
        how = f"rank {environ.get('RANK', '?')} of {environ.get('WORLD_SIZE', '?')} (torchrun job)"
        problem = (
            (f"{how}: {', '.join(missing)} not set; a rank needs {', '.join(_TORCHRUN_VARS)}")
            if missing
            else None
        )
        return Launch(direct, 1, how, run_for, problem=problem, deadline=deadline)
    slurm = slurm_rank_env(environ)
    if slurm is not None:
        how = f"rank {slurm['RANK']} of {slurm['WORLD_SIZE']} (Slurm)"
        problem = (
            None
            if slurm.get("MASTER_ADDR")
            else (f"{how}: MASTER_ADDR not set and SLURM_JOB_NODELIST gives no first host")
        )
        return Launch(direct, 1, how, run_for, extra_env=slurm, problem=problem, deadline=deadline)
    extra = {} if "OMP_NUM_THREADS" in environ else {"OMP_NUM_THREADS": "1"}
    if not nodes.multi:
        # Bandwidth wants every GPU of the box in the ring; the collectives need only two.
        per_node = nodes.nproc_per_node or (max(gpus, LOCAL_RANKS) if bandwidth else LOCAL_RANKS)
        argv = python_argv(
            python,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={per_node}",
            "--monitor_interval=0.2",
            "--no_python",
            *direct,
        )
        return Launch(
            tuple(argv),
            per_node,
            f"torchrun, {per_node} local ranks",
            run_for,
            extra_env=extra,
            deadline=deadline,
        )
    per_node = nodes.nproc_per_node or max(gpus, 1)
    endpoint = nodes.rdzv_endpoint or ""
    # The rendezvous waits for every node up to the deadline; then the ranks have theirs.
    args = [
        "-m",
        "torch.distributed.run",
        f"--nnodes={nodes.nnodes}",
        f"--nproc_per_node={per_node}",
        "--rdzv_backend=c10d",
        f"--rdzv_endpoint={endpoint}",
        f"--rdzv_id={nodes.rdzv_id}",
        f"--rdzv_conf=join_timeout={deadline:g}",
        "--max_restarts=0",
        "--monitor_interval=0.2",
    ]
    if nodes.node_rank is not None:
        args.append(f"--node_rank={nodes.node_rank}")
    label = f" (node_rank {nodes.node_rank})" if nodes.node_rank is not None else ""
    return Launch(
        tuple(python_argv(python, *args, "--no_python", *direct)),
        per_node,
        f"torchrun, {nodes.nnodes} node(s) x {per_node} rank(s) via {endpoint}{label}",
        deadline + run_for,
        extra_env=extra,
        deadline=deadline,
        nodes=nodes.nnodes,
        endpoint=endpoint,
    )


def local_rank_in_job(environ: Mapping[str, str]) -> Optional[int]:
    """This process's local rank when it is one rank of a torchrun or Slurm job, else None."""
    if "RANK" in environ or "WORLD_SIZE" in environ:
        value = environ.get("LOCAL_RANK", "0")
    elif slurm_rank_env(environ) is not None:
        value = environ.get("SLURM_LOCALID", "0")
    else:
        return None
    return int(value) if value.isdigit() else 0


def slurm_port(environ: Mapping[str, str]) -> str:
    """A MASTER_PORT every task of this step agrees on, different for other jobs and steps."""
    job, step = environ.get("SLURM_JOB_ID", ""), environ.get("SLURM_STEP_ID", "0")
    if not job.isdigit():
        return DEFAULT_MASTER_PORT
    return str(20000 + (int(job) * 16 + (int(step) if step.isdigit() else 0)) % 20000)


def slurm_rank_env(environ: Mapping[str, str]) -> Optional[dict[str, str]]:
    """torchrun-style rank variables for a task of a multi-task Slurm step, else None."""
    rank, tasks = environ.get("SLURM_PROCID"), environ.get("SLURM_NTASKS")
    if not (rank and tasks and tasks.isdigit() and int(tasks) > 1):
        return None
    per_node = re.match(
        r"\d+", environ.get("SLURM_NTASKS_PER_NODE") or environ.get("SLURM_TASKS_PER_NODE") or "1"
    )
    nodelist = environ.get("SLURM_JOB_NODELIST") or environ.get("SLURM_NODELIST") or ""
    return {
        "RANK": rank,
        "WORLD_SIZE": tasks,
        "LOCAL_RANK": environ.get("SLURM_LOCALID", "0"),
        "LOCAL_WORLD_SIZE": per_node.group(0) if per_node else "1",
        "GROUP_RANK": environ.get("SLURM_NODEID", "0"),
        "MASTER_ADDR": environ.get("MASTER_ADDR") or first_host(nodelist) or "",
        "MASTER_PORT": environ.get("MASTER_PORT") or slurm_port(environ),
    }


def first_host(nodelist: str) -> Optional[str]:
    """The first host of a Slurm node list: "gpu[03-05,09],cpu1" -> "gpu03"."""
    m = re.match(r"([^,\[]+)(?:\[([^\]\-,]+))?", nodelist.strip())
    if m is None:
        return None
    return m.group(1) + (m.group(2) or "")


# ---------------------------------------------------------------------------- reading the ranks


class DistOutput:
    """The worker events of one node's output (fed line by line, from a reader thread)."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []  # this node's ranks
        self.gathered: Optional[list[dict[str, Any]]] = None  # every rank's, on rank 0's node
        self.verdict: Optional[dict[str, Any]] = None
        self.verdict_error: Optional[str] = None
        self.lost: list[str] = []
        self.tail: deque[str] = deque(maxlen=OUTPUT_TAIL)

    def feed(self, line: str) -> None:
        event = parse_event(line)
        if event is None:
            if line.strip():
                self.tail.append(line.rstrip())
            return
        kind = event["event"]
        if kind == "rank" and isinstance(event.get("record"), dict):
            self.records.append(event["record"])
        elif kind == "gathered" and isinstance(event.get("records"), list):
            self.gathered = [r for r in event["records"] if isinstance(r, dict)]
            self._verdict(event.get("verdict"))
        elif kind == "verdict":
            self._verdict(event.get("verdict"))
            if self.verdict is None:
                self.verdict_error = str(event.get("error") or "no verdict")
        elif kind == "lost":
            self.lost.append(f"rank {event.get('rank')}: {event.get('error')}")

    def _verdict(self, verdict: object) -> None:
        if isinstance(verdict, dict):
            self.verdict = verdict


def _int(value: object, default: int = -1) -> int:
    return value if isinstance(value, int) else default


def rows(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per (node, rank, check): the gathered table."""
    out = []
    for rec in sorted(records, key=lambda r: (_int(r.get("node")), _int(r.get("rank")))):
        for check in rec.get("checks") or ():
            if not isinstance(check, Mapping):
                continue
            out.append(
                {
                    "node": rec.get("node"),
                    "host": rec.get("host"),
                    "rank": rec.get("rank"),
                    "device": rec.get("device"),
                    "check": check.get("name"),
                    "status": check.get("status"),
                    "detail": check.get("detail"),
                }
            )
    return out


def _first_failure(rec: Mapping[str, Any]) -> str:
    for check in rec.get("checks") or ():
        if isinstance(check, Mapping) and check.get("status") == FAIL:
            return f"{check.get('name')}: {check.get('detail')}"
    return "failed"


def _who(rank: int, records: Sequence[Mapping[str, Any]]) -> str:
    rec = next((r for r in records if r.get("rank") == rank), None)
    if rec is None:
        return f"rank {rank}"
    return f"rank {rank} (node {rec.get('node')}, {rec.get('host')})"


def aggregate(out: DistOutput, proc: ProcResult, launch: Launch) -> CheckResult:
    """One check from every rank's record, the verdict and how the launcher ended."""
    records = out.gathered if out.gathered is not None else out.records
    data: dict[str, Any] = {
        "how": launch.how,
        "nodes": launch.nodes,
        "deadline_s": launch.deadline,
        "gathered": out.gathered is not None,
        "ranks": [_slim(r) for r in sorted(records, key=lambda r: _int(r.get("rank")))],
        "rows": rows(records),
        "verdict": out.verdict,
    }
    if out.tail:
        data["output_tail"] = list(out.tail)
    verdict = out.verdict or {}
    missing = [r for r in verdict.get("missing") or () if isinstance(r, int)]
    failed_ranks = sorted(
        {_int(r.get("rank")) for r in records if not r.get("ok")}
        | {r for r in verdict.get("failed") or () if isinstance(r, int)}
    )
    data["missing"] = missing
    data["failed"] = failed_ranks
    problems: list[str] = []
    if missing:
        world = verdict.get("world_size", "?")
        silent = set(verdict.get("joined_but_silent") or ())
        named = ", ".join(
            f"rank {r}" + (" (joined, then went silent)" if r in silent else "") for r in missing
        )
        problems.append(f"{named} of {world} did not report within {launch.deadline:g} s")
    failures = verdict.get("failures")
    told: Mapping[str, Any] = failures if isinstance(failures, dict) else {}
    for r in failed_ranks:
        rec = next((x for x in records if x.get("rank") == r), None)
        why = _first_failure(rec) if rec else str(told.get(str(r), "failed"))
        problems.append(f"{_who(r, records)}: {why}")
    if out.verdict is None and records and out.gathered is None:
        why = out.verdict_error or "rank 0 gave no verdict"
        mine = ", ".join(f"rank {_int(r.get('rank'))}" for r in records)
        problems.append(f"{why} (this node ran {mine}; rank 0 missing?)")
    problems += out.lost
    if not records:
        if proc.timed_out:
            problems.append(f"no rank reported; timed out after {launch.timeout:g} s")
        elif launch.nodes > 1:
            problems.append(
                f"no rank reported: the rendezvous at {launch.endpoint} did not bring "
                f"{launch.nodes} nodes together within {launch.deadline:g} s "
                f"({proc.describe_failure() or 'exited'})"
            )
        else:
            problems.append(f"no rank reported; {proc.describe_failure() or 'exited'}")
    elif not problems and (len(out.records) < launch.ranks or not proc.ok):
        why = proc.describe_failure() or "exited"
        problems.append(f"{len(out.records)} of {launch.ranks} local rank(s) reported; {why}")
    if problems:
        data["problems"] = problems
        detail = f"{launch.how}: " + "; ".join(problems)
        return CheckResult(NAME, FAIL, proc.duration_s, detail, data=data)
    first = records[0]
    world = first.get("world_size", len(records))
    scope = (
        f"all {world} rank(s) on {launch.nodes} node(s)"
        if out.gathered is not None
        else f"{len(records)} local rank(s) of {world}, rank 0 confirmed all"
    )
    detail = (
        f"{launch.how}, {first.get('backend')}: {', '.join(COLLECTIVES)} exact on {scope} "
        f"({first.get('why')})"
    )
    return CheckResult(NAME, PASS, proc.duration_s, detail, data=data)


def _slim(record: Mapping[str, Any]) -> dict[str, Any]:
    """A rank's record without its bandwidth rows (those go to the bandwidth check)."""
    return {k: v for k, v in record.items() if k != "bandwidth"}


def bandwidth_rows(out: DistOutput) -> list[dict[str, Any]]:
    """Every rank's bandwidth rows, one per (scope, node, size): ranks measure the same."""
    records = out.gathered if out.gathered is not None else out.records
    seen: dict[tuple[object, object, object], dict[str, Any]] = {}
    for rec in records:
        for row in rec.get("bandwidth") or ():
            if isinstance(row, dict):
                seen.setdefault((row.get("scope"), row.get("node"), row.get("bytes")), row)
    return list(seen.values())
