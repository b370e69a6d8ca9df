"""--distributed: launching torchrun, or joining a torchrun/Slurm job as one rank."""

from __future__ import annotations

from typing import Any

import pytest

from torchsetup.proc import ProcResult
from torchsetup.verify.distributed import (
    LOCAL_RANKS,
    Launch,
    aggregate,
    first_host,
    plan_launch,
    slurm_rank_env,
)
from torchsetup.verify.model import FAIL, PASS, CheckResult, Status

PY = "/venv/bin/python"
SMOKE = "/site/torchsetup/verify/smoke.py"


def launch_for(environ: dict[str, str]) -> Launch:
    return plan_launch(PY, SMOKE, environ, timeout=100.0)


def test_outside_a_job_torchrun_is_launched_with_two_local_ranks() -> None:
    launch = launch_for({"PATH": "/bin"})
    assert launch.argv[:4] == (PY, "-I", "-m", "torch.distributed.run")
    assert "--standalone" in launch.argv
    assert f"--nproc_per_node={LOCAL_RANKS}" in launch.argv
    worker = launch.argv[launch.argv.index("--no_python") + 1 :]
    assert worker == (PY, "-I", SMOKE, "--worker", "--dist-timeout=80", "--dist-backend=auto")
    assert launch.ranks == 2
    assert launch.extra_env == {"OMP_NUM_THREADS": "1"}
    assert launch.problem is None


def test_inside_a_torchrun_job_this_process_is_one_rank() -> None:
    env = {"RANK": "3", "WORLD_SIZE": "8", "MASTER_ADDR": "node1", "MASTER_PORT": "29400"}
    launch = launch_for(env)
    assert launch.argv == (PY, "-I", SMOKE, "--worker", "--dist-timeout=80", "--dist-backend=auto")
    assert (launch.ranks, launch.how, launch.problem) == (1, "rank 3 of 8 (torchrun job)", None)
    assert launch.extra_env == {}


def test_an_incomplete_torchrun_environment_is_a_problem_not_a_hang() -> None:
    launch = launch_for({"RANK": "0", "WORLD_SIZE": "2"})
    assert launch.problem == (
        "rank 0 of 2 (torchrun job): MASTER_ADDR, MASTER_PORT not set; a rank needs RANK, "
        "WORLD_SIZE, MASTER_ADDR, MASTER_PORT"
    )


def test_a_slurm_task_maps_to_torchrun_variables() -> None:
    env = {
        "SLURM_PROCID": "5",
        "SLURM_NTASKS": "8",
        "SLURM_LOCALID": "1",
        "SLURM_NTASKS_PER_NODE": "4",
        "SLURM_JOB_NODELIST": "gpu[03-04]",
    }
    launch = launch_for(env)
    assert launch.how == "rank 5 of 8 (Slurm)"
    assert launch.ranks == 1
    assert dict(launch.extra_env) == {
        "RANK": "5",
        "WORLD_SIZE": "8",
        "LOCAL_RANK": "1",
        "LOCAL_WORLD_SIZE": "4",
        "MASTER_ADDR": "gpu03",
        "MASTER_PORT": "29500",
    }


def test_slurm_keeps_an_explicit_master_and_reads_tasks_per_node() -> None:
    env = {
        "SLURM_PROCID": "0",
        "SLURM_NTASKS": "4",
        "SLURM_TASKS_PER_NODE": "2(x2)",
        "MASTER_ADDR": "head",
        "MASTER_PORT": "1234",
    }
    mapped = slurm_rank_env(env)
    assert mapped is not None
    assert (mapped["MASTER_ADDR"], mapped["MASTER_PORT"], mapped["LOCAL_WORLD_SIZE"]) == (
        "head",
        "1234",
        "2",
    )


def test_a_single_task_slurm_step_launches_torchrun_itself() -> None:
    assert slurm_rank_env({"SLURM_PROCID": "0", "SLURM_NTASKS": "1"}) is None
    assert launch_for({"SLURM_PROCID": "0", "SLURM_NTASKS": "1"}).ranks == LOCAL_RANKS


def test_slurm_without_any_host_is_a_problem() -> None:
    launch = launch_for({"SLURM_PROCID": "1", "SLURM_NTASKS": "2"})
    assert launch.problem is not None
    assert "MASTER_ADDR not set" in launch.problem


@pytest.mark.parametrize(
    ("nodelist", "host"),
    [
        ("gpu[03-05,09],cpu1", "gpu03"),
        ("node7", "node7"),
        ("a1,b2", "a1"),
        ("n[1,2]", "n1"),
        ("", None),
    ],
)
def test_first_host(nodelist: str, host: str | None) -> None:
    assert first_host(nodelist) == host


def rank(r: int, status: Status = PASS, detail: str = "") -> CheckResult:
    return CheckResult(
        "distributed",
        status,
        detail=detail or f"rank {r}",
        data={"rank": r, "backend": "gloo", "expected": 3, "why": "no GPU"},
    )


def proc(rc: int | None = 0, **kw: Any) -> ProcResult:
    return ProcResult(argv=(PY,), returncode=rc, duration_s=7.0, **kw)


def test_aggregate_passes_when_every_rank_agrees() -> None:
    check = aggregate([rank(1), rank(0)], proc(), launch_for({}))
    assert check.status == PASS
    assert check.detail == (
        "torchrun, 2 local ranks, gloo: all_reduce sum = 3 on every rank (no GPU)"
    )
    assert [r["rank"] for r in check.data["ranks"]] == [0, 1]


def test_aggregate_reports_the_failing_rank() -> None:
    check = aggregate(
        [rank(0), rank(1, FAIL, "rank 1: all_reduce(sum) gave [2.0]")], proc(1), launch_for({})
    )
    assert check.status == FAIL
    assert check.detail == "rank 1: all_reduce(sum) gave [2.0]"


def test_aggregate_counts_missing_ranks_and_timeouts() -> None:
    missing = aggregate([rank(0)], proc(1), launch_for({}), ["worker died"])
    assert missing.status == FAIL
    assert missing.detail.startswith(
        "torchrun, 2 local ranks: 1 of 2 rank(s) reported; exit code 1"
    )
    assert missing.data["output_tail"] == ["worker died"]
    hung = aggregate([], proc(None, timed_out=True, error="timed out"), launch_for({}))
    assert hung.detail == "torchrun, 2 local ranks: timed out after 100 s; 0 of 2 rank(s) reported"
