"""verify past one machine: the --nnodes family, --print-sbatch, --bandwidth, the rank table.

No processes: the runner is replaced (the real multi-node runs are in
tests/integration/test_verify_multinode.py and test_verify_slurm.py).
"""

from __future__ import annotations

import shlex
import sys
from typing import Any

import pytest
from click.testing import CliRunner
from rich.console import Console

from tests.unit.test_verify_cli import FakeRunner
from torchsetup.cli import cli, run
from torchsetup.cli import verify as verify_cli
from torchsetup.verify.model import PASS, CheckResult, Nodes, VerifyResult
from torchsetup.verify.render import bandwidth_rows, rank_table_title, render_table
from torchsetup.verify.slurm import sbatch_script


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeRunner:
    runner = FakeRunner()
    monkeypatch.setattr(verify_cli, "run_verify", runner)
    return runner


def invoke(*args: str) -> Any:
    return CliRunner().invoke(
        cli, ["verify", "--python", sys.executable, *args], catch_exceptions=False
    )


def test_multi_node_options_reach_the_runner(fake: FakeRunner) -> None:
    result = invoke(
        "--distributed",
        "--nnodes",
        "4",
        "--node-rank",
        "3",
        "--rdzv-endpoint",
        "head:29400",
        "--rdzv-id",
        "job7",
        "--nproc-per-node",
        "8",
        "--dist-timeout",
        "90",
    )
    assert result.exit_code == 0, result.output
    [(_, options)] = fake.calls
    assert options.distributed is True
    assert options.nodes == Nodes(
        nnodes=4, nproc_per_node=8, node_rank=3, rdzv_endpoint="head:29400", rdzv_id="job7"
    )
    assert options.dist_timeout == 90.0


def test_bandwidth_implies_distributed_and_sets_the_largest_message(fake: FakeRunner) -> None:
    assert invoke("--bandwidth", "--bandwidth-max-mib", "64").exit_code == 0
    [(_, options)] = fake.calls
    assert (options.distributed, options.bandwidth, options.bandwidth_max_bytes) == (
        True,
        True,
        64 * 2**20,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--nnodes", "2"], "--nnodes goes with --distributed (or --bandwidth)"),
        (["--distributed", "--nnodes", "2"], "--nnodes > 1 needs --rdzv-endpoint HOST:PORT"),
        (["--distributed", "--rdzv-endpoint", "head"], "--rdzv-endpoint 'head' is not HOST:PORT"),
        (
            ["--distributed", "--nnodes", "2", "--rdzv-endpoint", "h:1", "--node-rank", "2"],
            "--node-rank 2 is not below --nnodes 2",
        ),
        (["--distributed", "--print-sbatch"], "--print-sbatch needs --nnodes N"),
        (
            ["--distributed", "--print-sbatch", "--nnodes", "2", "--rdzv-endpoint", "h:1"],
            "--print-sbatch: Slurm places the ranks, drop --rdzv-endpoint",
        ),
        (["--print-sbatch"], "--print-sbatch goes with --distributed"),
        (["--distributed", "--dist-timeout", "1"], "Invalid value for '--dist-timeout'"),
        (["--distributed", "--nproc-per-node", "0"], "Invalid value for '--nproc-per-node'"),
    ],
)
def test_bad_multi_node_usage_is_one_line_and_exit_2(
    fake: FakeRunner, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code = run(["verify", "--python", sys.executable, *args])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert fake.calls == []


def test_print_sbatch_prints_a_script_and_runs_nothing(fake: FakeRunner) -> None:
    result = invoke(
        "--distributed",
        "--print-sbatch",
        "--nnodes",
        "3",
        "--nproc-per-node",
        "8",
        "--require-gpu",
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert fake.calls == []
    lines = result.output.splitlines()
    assert lines[0] == "#!/bin/bash"
    assert "#SBATCH --nodes=3" in lines
    assert "#SBATCH --ntasks-per-node=8" in lines
    assert "#SBATCH --gpus-per-node=8" in lines
    srun = shlex.split(next(ln for ln in lines if ln.startswith("srun ")))
    assert srun == [
        "srun",
        sys.executable,
        "-m",
        "torchsetup",
        "verify",
        "--python",
        sys.executable,
        "--distributed",
        "--require-gpu",
        "--json",
    ]


def test_sbatch_quotes_every_value() -> None:
    script = sbatch_script(
        nodes=2,
        tasks_per_node=1,
        gpus=False,
        torchsetup=["/opt/my env/bin/python", "-m", "torchsetup"],
        verify_args=["--python", "/opt/a b/$(rm -rf)/python", "--distributed"],
    )
    srun = next(ln for ln in script.splitlines() if ln.startswith("srun "))
    assert "'/opt/my env/bin/python'" in srun
    assert "'/opt/a b/$(rm -rf)/python'" in srun
    assert shlex.split(srun)[6] == "/opt/a b/$(rm -rf)/python"
    assert "--gpus-per-node" not in script
    assert "#SBATCH --time=00:15:00" in script


def test_sbatch_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="positive"):
        sbatch_script(nodes=0, tasks_per_node=1, gpus=False, torchsetup=["t"], verify_args=[])


def dist_result(gathered: bool, missing: list[int]) -> VerifyResult:
    rows = [
        {"node": n, "host": f"gpu{n}", "rank": n, "device": "cuda:0", "check": c, "status": PASS}
        for n in (0, 1)
        for c in ("all_reduce", "barrier")
    ]
    data = {
        "gathered": gathered,
        "rows": rows,
        "ranks": [{"rank": 0, "world_size": 3}],
        "missing": missing,
    }
    return VerifyResult(
        python="/py",
        mode="quick",
        checks=(
            CheckResult("import", PASS, detail="torch"),
            CheckResult("distributed", PASS, detail="ok", data=data),
        ),
    )


def test_the_rank_table_shows_node_rank_device_check_status() -> None:
    console = Console(width=120, record=True, highlight=False)
    render_table(dist_result(True, [2]), console)
    text = console.export_text()
    assert "distributed: every rank (gathered by rank 0), world size 3; missing: rank 2" in text
    header = next(ln for ln in text.splitlines() if "node" in ln and "rank" in ln and "check" in ln)
    assert header.replace("┃", " ").split() == [
        "node",
        "rank",
        "device",
        "check",
        "status",
    ]
    assert "1 (gpu1)" in text and "cuda:0" in text and "barrier" in text


def test_a_node_without_rank_0_titles_its_table_as_its_own() -> None:
    assert rank_table_title({"gathered": False, "ranks": [{"world_size": 8}]}) == (
        "distributed: this node's ranks, world size 8"
    )


def test_the_bandwidth_table_lists_every_size() -> None:
    data = {
        "rows": [
            {
                "scope": "intra-node",
                "node": 0,
                "ranks": 8,
                "bytes": 2**18,
                "algbw_gbps": 1.5,
                "busbw_gbps": 2.625,
            },
            {
                "scope": "inter-node",
                "node": None,
                "ranks": 16,
                "bytes": 2**30,
                "algbw_gbps": 100.0,
                "busbw_gbps": 187.5,
            },
        ]
    }
    assert bandwidth_rows(data) == [
        ("intra-node (node 0)", "8", "256 KiB", "1.50", "2.62"),
        ("inter-node", "16", "1024 MiB", "100.00", "187.50"),
    ]
    result = VerifyResult(
        python="/py",
        mode="quick",
        checks=(CheckResult("import", PASS), CheckResult("bandwidth", PASS, data=data)),
    )
    console = Console(width=120, record=True, highlight=False)
    render_table(result, console)
    text = console.export_text()
    assert "bandwidth: all_reduce, GB/s" in text and "187.50" in text
