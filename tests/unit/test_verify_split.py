"""Where the CPU compile check runs: beside the GPU checks, in its own process, on a GPU box."""

from __future__ import annotations

from pathlib import Path

from torchsetup.verify.model import FAIL, NOT_RUN, PASS, CheckResult, VerifyOptions
from torchsetup.verify.runner import (
    CPU_COMPILE,
    merge_split,
    node_options,
    smoke_argv,
    split_cpu_compile,
)


def names(results: list[CheckResult]) -> list[str]:
    return [r.name for r in results]


def test_split_only_in_a_full_run_with_a_gpu_and_a_compile_backend() -> None:
    full = VerifyOptions(mode="full")
    assert split_cpu_compile(full, gpus=1) is True
    assert split_cpu_compile(full, gpus=0) is False  # a CPU box: the same cores, no gain
    assert split_cpu_compile(VerifyOptions(mode="quick"), gpus=8) is False
    assert split_cpu_compile(VerifyOptions(mode="full", compile="off"), gpus=8) is False


def test_the_two_processes_get_skip_and_only() -> None:
    argv = smoke_argv("/py", VerifyOptions(mode="full"), Path("/c"), ("--skip", CPU_COMPILE))
    assert argv[-2:] == ["--skip", "cpu.compile"]


MAIN = [
    CheckResult("import", PASS),
    CheckResult("build", PASS),
    CheckResult("gpu", PASS),
    CheckResult("cpu.math", PASS),
    CheckResult("cuda:0.matmul", PASS),
    CheckResult("cuda:0.compile", PASS),
    CheckResult("cuda:0.train", PASS),
]


def test_the_side_result_goes_where_the_plan_has_it() -> None:
    side = [CheckResult("import", PASS), CheckResult(CPU_COMPILE, PASS, 29.0, "inductor ok")]
    merged = merge_split(MAIN, side)
    assert names(merged) == [
        "import",
        "build",
        "gpu",
        "cpu.math",
        "cuda:0.matmul",
        "cpu.compile",
        "cuda:0.compile",
        "cuda:0.train",
    ]
    assert merged[5].seconds == 29.0


def test_a_side_process_that_died_fails_the_check_under_its_name() -> None:
    side = [CheckResult("import", FAIL, detail="killed by SIGKILL")]
    merged = merge_split(MAIN, side)
    compile_ = next(r for r in merged if r.name == CPU_COMPILE)
    assert compile_.status == FAIL
    assert compile_.detail == "its own process failed at import: killed by SIGKILL"
    assert merge_split(MAIN, [])[5].status == NOT_RUN


def test_inside_a_job_only_local_rank_0_runs_the_full_checks() -> None:
    full = VerifyOptions(mode="full", distributed=True)
    slurm = {"SLURM_PROCID": "3", "SLURM_NTASKS": "8", "SLURM_LOCALID": "3"}
    assert node_options(full, slurm).mode == "quick"
    assert node_options(full, dict(slurm, SLURM_LOCALID="0")).mode == "full"
    torchrun = {"RANK": "9", "WORLD_SIZE": "16", "LOCAL_RANK": "1"}
    assert node_options(full, torchrun).mode == "quick"
    assert node_options(full, {}).mode == "full"  # not in a job: this process launches torchrun
    assert node_options(VerifyOptions(mode="full"), torchrun).mode == "full"  # no --distributed
