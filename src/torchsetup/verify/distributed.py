"""The ``--distributed`` check: where its ranks come from and what their answers add up to (pure).

Outside a job, torchsetup launches ``torch.distributed.run`` (torchrun) with two local ranks
of the smoke script's worker mode. Inside a job (torchrun's ``RANK``/``WORLD_SIZE``, or a
Slurm step with ``SLURM_PROCID``/``SLURM_NTASKS`` > 1), it runs as that one rank instead,
so ``srun torchsetup verify --distributed`` checks the whole allocation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Optional

from torchsetup.proc import ProcResult, python_argv
from torchsetup.verify.model import FAIL, PASS, CheckResult

NAME = "distributed"
LOCAL_RANKS = 2
DEFAULT_MASTER_PORT = "29500"
_TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class Launch:
    argv: tuple[str, ...]
    ranks: int  # results expected on this process's output
    how: str  # said in the result: "torchrun, 2 local ranks", "rank 3 of 8 (Slurm)"
    timeout: float
    extra_env: Mapping[str, str] = field(default_factory=dict)
    problem: Optional[str] = None  # the job's environment is incomplete: fail, don't run


def plan_launch(
    python: str, smoke: str, environ: Mapping[str, str], *, timeout: float, backend: str = "auto"
) -> Launch:
    """How to run the distributed check from here (see module doc)."""
    worker = (
        smoke,
        "--worker",
        f"--dist-timeout={max(timeout * 0.8, 5.0):g}",
        f"--dist-backend={backend}",
    )
    direct = tuple(python_argv(python, *worker))
    if "RANK" in environ or "WORLD_SIZE" in environ:
        missing = [v for v in _TORCHRUN_VARS if not environ.get(v)]
        how = f"rank {environ.get('RANK', '?')} of {environ.get('WORLD_SIZE', '?')} (torchrun job)"
        problem = (
            (f"{how}: {', '.join(missing)} not set; a rank needs {', '.join(_TORCHRUN_VARS)}")
            if missing
            else None
        )
        return Launch(direct, 1, how, timeout, problem=problem)
    slurm = slurm_rank_env(environ)
    if slurm is not None:
        how = f"rank {slurm['RANK']} of {slurm['WORLD_SIZE']} (Slurm)"
        problem = (
            None
            if slurm.get("MASTER_ADDR")
            else (f"{how}: MASTER_ADDR not set and SLURM_JOB_NODELIST gives no first host")
        )
        return Launch(direct, 1, how, timeout, extra_env=slurm, problem=problem)
    argv = python_argv(
        python,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={LOCAL_RANKS}",
        "--monitor_interval=0.2",
        "--no_python",
        *direct,
    )
    extra = {} if "OMP_NUM_THREADS" in environ else {"OMP_NUM_THREADS": "1"}
    return Launch(
        tuple(argv), LOCAL_RANKS, f"torchrun, {LOCAL_RANKS} local ranks", timeout, extra_env=extra
    )


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
        "MASTER_ADDR": environ.get("MASTER_ADDR") or first_host(nodelist) or "",
        "MASTER_PORT": environ.get("MASTER_PORT", DEFAULT_MASTER_PORT),
    }


def first_host(nodelist: str) -> Optional[str]:
    """The first host of a Slurm node list: "gpu[03-05,09],cpu1" -> "gpu03"."""
    m = re.match(r"([^,\[]+)(?:\[([^\]\-,]+))?", nodelist.strip())
    if m is None:
        return None
    return m.group(1) + (m.group(2) or "")


def _rank_of(data: Mapping[str, object]) -> int:
    rank = data.get("rank")
    return rank if isinstance(rank, int) else -1


def aggregate(
    results: Sequence[CheckResult], proc: ProcResult, launch: Launch, tail: Sequence[str] = ()
) -> CheckResult:
    """One check from every rank's result and how the launcher ended."""
    ranks = sorted((dict(r.data) for r in results), key=_rank_of)
    data: dict[str, object] = {"how": launch.how, "ranks": ranks}
    if tail:
        data["output_tail"] = list(tail)
    failed = [r for r in results if r.status != PASS]
    if failed:
        more = f" (and {len(failed) - 1} more rank(s))" if len(failed) > 1 else ""
        data["error"] = failed[0].data.get("error", "")
        return CheckResult(NAME, FAIL, proc.duration_s, failed[0].detail + more, data=data)
    reported = f"{len(results)} of {launch.ranks} rank(s) reported"
    if proc.timed_out:
        return CheckResult(
            NAME,
            FAIL,
            proc.duration_s,
            f"{launch.how}: timed out after {launch.timeout:g} s; {reported}",
            data=data,
        )
    if len(results) < launch.ranks or not proc.ok:
        why = proc.describe_failure() or "exited"
        return CheckResult(
            NAME, FAIL, proc.duration_s, f"{launch.how}: {reported}; {why}", data=data
        )
    first = ranks[0]
    detail = (
        f"{launch.how}, {first.get('backend')}: all_reduce sum = {first.get('expected')} "
        f"on every rank ({first.get('why')})"
    )
    return CheckResult(NAME, PASS, proc.duration_s, detail, data=data)
