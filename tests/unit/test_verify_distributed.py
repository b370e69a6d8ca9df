"""--distributed: launching torchrun, or joining a torchrun/Slurm job as one rank."""

from __future__ import annotations

import json
from typing import Any

import pytest

from torchsetup.proc import ProcResult
from torchsetup.verify.distributed import (
    LOCAL_RANKS,
    DistOutput,
    Launch,
    aggregate,
    first_host,
    parse_endpoint,
    plan_launch,
    slurm_port,
    slurm_rank_env,
)
from torchsetup.verify.model import FAIL, PASS, Nodes

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
        "GROUP_RANK": "0",
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


SENTINEL = "@@torchsetup@@ "


def record(r: int, ok: bool = True, node: int = 0) -> dict[str, Any]:
    checks = [
        {"name": n, "status": PASS, "detail": f"{n} ok"}
        for n in ("cpu.tensor", "all_reduce", "barrier")
    ]
    if not ok:
        checks[1] = {"name": "all_reduce", "status": FAIL, "detail": "all_reduce(sum) gave [2.0]"}
    return {
        "rank": r,
        "world_size": 2,
        "node": node,
        "host": f"n{node}",
        "device": "cpu",
        "backend": "gloo",
        "why": "no GPU",
        "checks": checks,
        "ok": ok,
    }


def feed(*events: dict[str, Any], noise: tuple[str, ...] = ()) -> DistOutput:
    out = DistOutput()
    for line in noise:
        out.feed(line)
    for event in events:
        out.feed(SENTINEL + json.dumps(event))
    return out


def verdict(missing: list[int] = [], failed: list[int] = []) -> dict[str, Any]:  # noqa: B006
    return {"ok": not missing and not failed, "world_size": 2, "missing": missing, "failed": failed}


def proc(rc: int | None = 0, **kw: Any) -> ProcResult:
    return ProcResult(argv=(PY,), returncode=rc, duration_s=7.0, **kw)


def test_aggregate_passes_when_every_rank_agrees() -> None:
    out = feed(
        {"event": "rank", "record": record(0)},
        {"event": "rank", "record": record(1)},
        {"event": "gathered", "records": [record(1), record(0)], "verdict": verdict()},
    )
    check = aggregate(out, proc(), launch_for({}))
    assert check.status == PASS
    assert check.detail.startswith(
        "torchrun, 2 local ranks, gloo: all_reduce, all_gather, broadcast, barrier exact on all 2"
    )
    assert [r["rank"] for r in check.data["ranks"]] == [0, 1]
    assert [(r["rank"], r["check"]) for r in check.data["rows"]][:2] == [
        (0, "cpu.tensor"),
        (0, "all_reduce"),
    ]


def test_aggregate_names_the_failing_rank_and_its_check() -> None:
    out = feed(
        {
            "event": "gathered",
            "records": [record(0), record(1, ok=False, node=1)],
            "verdict": verdict(failed=[1]),
        }
    )
    check = aggregate(out, proc(1), launch_for({}))
    assert check.status == FAIL
    assert "rank 1 (node 1, n1): all_reduce: all_reduce(sum) gave [2.0]" in check.detail
    assert check.data["failed"] == [1]


def test_aggregate_names_a_missing_rank_from_the_verdict() -> None:
    out = feed({"event": "gathered", "records": [record(0)], "verdict": verdict(missing=[1])})
    check = aggregate(out, proc(1), launch_for({}))
    assert check.status == FAIL
    assert "rank 1 of 2 did not report within 80 s" in check.detail
    assert check.data["missing"] == [1]


def test_a_rank_without_a_verdict_says_rank_0_is_missing() -> None:
    out = feed(
        {"event": "rank", "record": record(1)},
        {
            "event": "verdict",
            "verdict": None,
            "error": "rank 0 gave no verdict within the deadline",
        },
    )
    check = aggregate(out, proc(1), launch_for({}))
    assert check.status == FAIL
    assert "rank 0 gave no verdict within the deadline (this node ran rank 1; rank 0 missing?)" in (
        check.detail
    )


def test_a_rank_that_got_rank_0s_verdict_passes_without_the_table() -> None:
    out = feed({"event": "rank", "record": record(1)}, {"event": "verdict", "verdict": verdict()})
    check = aggregate(
        out,
        proc(),
        launch_for({"RANK": "1", "WORLD_SIZE": "2", "MASTER_ADDR": "h", "MASTER_PORT": "1"}),
    )
    assert check.status == PASS
    assert "1 local rank(s) of 2, rank 0 confirmed all" in check.detail
    assert check.data["gathered"] is False


def test_no_rank_at_all_is_a_rendezvous_that_did_not_complete() -> None:
    nodes = Nodes(nnodes=2, rdzv_endpoint="head:29400")
    launch = plan_launch(PY, SMOKE, {}, timeout=100.0, nodes=nodes, deadline=30)
    out = feed(noise=("torch.distributed.elastic.rendezvous.api.RendezvousTimeoutError",))
    check = aggregate(out, proc(1), launch)
    assert check.status == FAIL
    assert "the rendezvous at head:29400 did not bring 2 nodes together within 30 s" in check.detail
    assert check.data["output_tail"] == [
        "torch.distributed.elastic.rendezvous.api.RendezvousTimeoutError"
    ]


def test_aggregate_counts_missing_local_ranks_and_timeouts() -> None:
    missing = aggregate(
        feed({"event": "gathered", "records": [record(0)], "verdict": verdict()}),
        proc(1),
        launch_for({}),
    )
    assert missing.status == FAIL
    assert "0 of 2 local rank(s) reported; exit code 1" in missing.detail
    hung = aggregate(feed(), proc(None, timed_out=True, error="timed out"), launch_for({}))
    assert "no rank reported; timed out after 110 s" in hung.detail


def test_a_multi_node_launch_runs_torchrun_with_c10d() -> None:
    nodes = Nodes(nnodes=3, nproc_per_node=4, node_rank=2, rdzv_endpoint="10.0.0.1:29400")
    launch = plan_launch(PY, SMOKE, {}, timeout=300.0, nodes=nodes, deadline=60, bandwidth=True)
    argv = launch.argv
    assert argv[:4] == (PY, "-I", "-m", "torch.distributed.run")
    for arg in (
        "--nnodes=3",
        "--nproc_per_node=4",
        "--rdzv_backend=c10d",
        "--rdzv_endpoint=10.0.0.1:29400",
        "--rdzv_id=torchsetup-verify",
        "--rdzv_conf=join_timeout=60",
        "--node_rank=2",
        "--max_restarts=0",
    ):
        assert arg in argv
    worker = argv[argv.index("--no_python") + 1 :]
    assert worker == (
        PY,
        "-I",
        SMOKE,
        "--worker",
        "--dist-timeout=60",
        "--dist-backend=auto",
        "--bandwidth",
    )
    assert (launch.ranks, launch.nodes, launch.deadline, launch.timeout) == (4, 3, 60, 150)


def test_a_multi_node_launch_defaults_to_one_rank_per_gpu() -> None:
    nodes = Nodes(nnodes=2, rdzv_endpoint="h:1")
    assert plan_launch(PY, SMOKE, {}, timeout=100.0, nodes=nodes, gpus=8).ranks == 8
    assert plan_launch(PY, SMOKE, {}, timeout=100.0, nodes=nodes, gpus=0).ranks == 1


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("node1:29400", ("node1", 29400)),
        ("127.0.0.1:1", ("127.0.0.1", 1)),
        ("[::1]:80", ("[::1]", 80)),
    ],
)
def test_parse_endpoint(text: str, parsed: tuple[str, int]) -> None:
    assert parse_endpoint(text) == parsed


@pytest.mark.parametrize("text", ["node1", "node1:0", "node1:70000", ":80", "a b:1"])
def test_parse_endpoint_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not HOST:PORT"):
        parse_endpoint(text)


def test_slurm_port_is_the_same_for_every_task_and_differs_per_step() -> None:
    a = slurm_port({"SLURM_JOB_ID": "1234", "SLURM_STEP_ID": "0"})
    b = slurm_port({"SLURM_JOB_ID": "1234", "SLURM_STEP_ID": "1"})
    assert a != b and 20000 <= int(a) < 40000
    assert slurm_port({}) == "29500"


def test_other_nodes_hear_why_a_remote_rank_failed() -> None:
    told = dict(verdict(failed=[5]), failures={"5": "all_gather: all_gather gave [[1.0]]"})
    out = feed({"event": "rank", "record": record(1)}, {"event": "verdict", "verdict": told})
    check = aggregate(out, proc(1), launch_for({}))
    assert check.status == FAIL
    assert "rank 5: all_gather: all_gather gave [[1.0]]" in check.detail


def test_nodes_options_inside_a_job_are_a_problem_not_a_second_launch() -> None:
    env = {"SLURM_PROCID": "0", "SLURM_NTASKS": "2", "SLURM_JOB_NODELIST": "n1"}
    nodes = Nodes(nnodes=2, rdzv_endpoint="n1:29400")
    launch = plan_launch(PY, SMOKE, env, timeout=100.0, nodes=nodes)
    assert launch.problem is not None
    assert "already is one rank of a torchrun or Slurm job: drop them" in launch.problem


def test_bandwidth_on_one_node_uses_every_gpu() -> None:
    assert plan_launch(PY, SMOKE, {}, timeout=100.0, gpus=8, bandwidth=True).ranks == 8
    assert plan_launch(PY, SMOKE, {}, timeout=100.0, gpus=1, bandwidth=True).ranks == 2
    assert plan_launch(PY, SMOKE, {}, timeout=100.0, gpus=8).ranks == 2
