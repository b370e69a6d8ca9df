"""Two torchrun "nodes" on 127.0.0.1 (two agents, one rank each, gloo on the cached CPU torch).

Each node is a real `torchsetup verify --quick --distributed --nnodes 2 ...` process, as it
would run on two machines: they meet through torchrun's c10d rendezvous, rank 0 gathers every
rank's checks, both exit 0. Killing one node's agent mid-run makes the other exit 1 within
the deadline, naming the missing rank; a node that never comes is named too.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.helpers.result import unwrap

pytestmark = pytest.mark.slow

DEADLINE = 20.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def node_argv(exe: str, python: Path, port: int, rank: int, nnodes: int = 2) -> list[str]:
    return [
        exe,
        "verify",
        "--python",
        str(python),
        "--quick",
        "--distributed",
        "--nnodes",
        str(nnodes),
        "--node-rank",
        str(rank),
        "--rdzv-endpoint",
        f"127.0.0.1:{port}",
        "--nproc-per-node",
        "1",
        "--dist-timeout",
        f"{DEADLINE:g}",
        "--json",
    ]


def start(argv: list[str]) -> subprocess.Popen[str]:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )


def wait_listening(port: int, seconds: float = 30.0) -> None:
    """Until the first agent holds the rendezvous store (so it, not the other, hosts it)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {seconds:g} s")


def result_of(proc: subprocess.Popen[str], timeout: float) -> tuple[int, dict[str, Any]]:
    out, err = proc.communicate(timeout=timeout)
    try:
        return proc.returncode, unwrap(out, "verify")
    except ValueError:
        raise AssertionError(
            f"no JSON (rc {proc.returncode}): {out[-2000:]} {err[-2000:]}"
        ) from None


def dist_check(doc: dict[str, Any]) -> dict[str, Any]:
    found = [c for c in doc["checks"] if c["name"] == "distributed"]
    assert len(found) == 1, doc["checks"]
    check: dict[str, Any] = found[0]
    return check


def test_two_nodes_pass_and_rank_0_gathers_every_rank(
    torchsetup_exe: str, torch_python: Path, tmp_path: Path
) -> None:
    port = free_port()
    first = start(node_argv(torchsetup_exe, torch_python, port, 0))
    wait_listening(port)
    second = start(node_argv(torchsetup_exe, torch_python, port, 1))
    results = [result_of(p, 180) for p in (first, second)]
    for rc, doc in results:
        check = dist_check(doc)
        assert rc == 0, check["detail"]
        assert check["status"] == "pass"
        assert check["data"]["verdict"]["ok"] is True
    gathered = [
        dist_check(doc)["data"] for _, doc in results if dist_check(doc)["data"]["gathered"]
    ]
    assert len(gathered) == 1, "exactly one node holds rank 0 and the gathered table"
    table = gathered[0]["rows"]
    assert {r["rank"] for r in table} == {0, 1}
    checks_per_rank = {
        r["rank"]: [x["check"] for x in table if x["rank"] == r["rank"]] for r in table
    }
    for rank in (0, 1):
        assert checks_per_rank[rank] == [
            "cpu.tensor",
            "cpu.matmul",
            "all_reduce",
            "all_gather",
            "broadcast",
            "barrier",
        ]
    assert {r["status"] for r in table} == {"pass"}
    assert {r["node"] for r in table} == {0, 1}


def _cmdline(p: psutil.Process) -> str:
    try:
        return " ".join(p.cmdline())
    except psutil.Error:  # gone, or a zombie
        return ""


def _is_worker(cmdline: str) -> bool:
    """The rank itself (smoke.py --worker), not the torchrun agent whose argv names it too."""
    return "--worker" in cmdline and "torch.distributed.run" not in cmdline


def _tree(proc: subprocess.Popen[str]) -> list[psutil.Process]:
    try:
        root = psutil.Process(proc.pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def test_killing_one_agent_mid_run_fails_the_other_naming_the_missing_rank(
    torchsetup_exe: str, torch_python: Path, tmp_path: Path
) -> None:
    port = free_port()
    survivor = start(node_argv(torchsetup_exe, torch_python, port, 0))
    wait_listening(port)
    victim = start(node_argv(torchsetup_exe, torch_python, port, 1))
    # Mid-run: once the rendezvous is done, torchrun has started the victim's worker.
    end = time.monotonic() + 120
    while time.monotonic() < end:
        tree = _tree(victim)
        if any(_is_worker(_cmdline(p)) for p in tree):
            break
        time.sleep(0.05)
    else:
        pytest.fail("the victim's worker never started")
    for p in tree:  # the node goes away: torchsetup, its torchrun agent, the worker
        try:
            p.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    killed_at = time.monotonic()
    victim.communicate(timeout=30)
    rc, doc = result_of(survivor, timeout=DEADLINE + 60)
    took = time.monotonic() - killed_at
    check = dist_check(doc)
    assert rc == 1
    assert check["status"] == "fail"
    assert took < DEADLINE + 20, f"the survivor took {took:.0f} s after the kill"
    mine = {r["rank"] for r in check["data"]["ranks"]}
    assert len(mine) == 1
    (other,) = {0, 1} - mine
    assert f"rank {other}" in check["detail"], check["detail"]
    if other == 0:  # the survivor is rank 1: rank 0, which gathers, is the one missing
        assert "rank 0" in check["detail"] and "verdict" in check["detail"]
    else:
        assert check["data"]["missing"] == [1]


def test_a_node_that_never_arrives_is_named_after_the_deadline(
    torchsetup_exe: str, torch_python: Path, tmp_path: Path
) -> None:
    port = free_port()
    alone = start(node_argv(torchsetup_exe, torch_python, port, 0))
    started = time.monotonic()
    rc, doc = result_of(alone, timeout=DEADLINE + 90)
    check = dist_check(doc)
    assert rc == 1
    assert time.monotonic() - started < DEADLINE + 60
    assert "did not bring 2 nodes together" in check["detail"], check["detail"]
    assert f"127.0.0.1:{port}" in check["detail"]


def test_bandwidth_on_one_node_with_gloo(torchsetup_exe: str, torch_python: Path) -> None:
    proc = subprocess.run(
        [
            torchsetup_exe,
            "verify",
            "--python",
            str(torch_python),
            "--quick",
            "--bandwidth",
            "--bandwidth-max-mib",
            "4",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    doc = unwrap(proc.stdout, "verify")
    checks = {c["name"]: c for c in doc["checks"]}
    assert proc.returncode == 0, checks.get("bandwidth")
    bandwidth = checks["bandwidth"]
    assert bandwidth["status"] == "pass"
    rows = bandwidth["data"]["rows"]
    assert [r["bytes"] for r in rows] == [256 * 1024, 2**20, 4 * 2**20]
    for r in rows:
        assert r["scope"] == "intra-node" and r["ranks"] == 2
        assert r["busbw_gbps"] == pytest.approx(r["algbw_gbps"] * 2 * (2 - 1) / 2)
        assert r["busbw_gbps"] > 0
    assert "gloo on the CPU: no link promise to compare" in bandwidth["detail"]
    assert {r["backend"] for r in rows} == {"gloo"}
    assert bandwidth["data"]["definition"].startswith("busbw = algbw * 2(n-1)/n")
    assert checks["distributed"]["status"] == "pass"


def test_another_launcher_that_sets_torchruns_variables(
    torchsetup_exe: str, torch_python: Path
) -> None:
    """What mpirun, a Kubernetes operator or a hand-written script does: start every rank with
    RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT and LOCAL_RANK set; no flags, no torchrun."""
    port = free_port()
    procs = []
    for rank in (0, 1):
        env = dict(
            os.environ,
            OMP_NUM_THREADS="1",
            RANK=str(rank),
            WORLD_SIZE="2",
            LOCAL_RANK=str(rank),
            LOCAL_WORLD_SIZE="2",
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=str(port),
        )
        argv = [torchsetup_exe, "verify", "--python", str(torch_python), "--quick"]
        procs.append(
            subprocess.Popen(
                [*argv, "--distributed", "--dist-timeout", "60", "--json"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
        )
    results = [result_of(p, 180) for p in procs]
    for rank, (rc, doc) in enumerate(results):
        check = dist_check(doc)
        assert rc == 0, check["detail"]
        assert check["detail"].startswith(f"rank {rank} of 2 (torchrun job), gloo")
    assert [dist_check(doc)["data"]["gathered"] for _, doc in results] == [True, False]
