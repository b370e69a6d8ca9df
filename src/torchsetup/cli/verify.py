"""``torchsetup verify``: parse options, run the checks in the target, render, exit 0 or 1."""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional, cast

import click

from torchsetup.cli.options import FiniteRange
from torchsetup.detect.target import choose_target
from torchsetup.errors import UsageError
from torchsetup.verify.judge import parse_expectations
from torchsetup.verify.model import (
    DEFAULT_RDZV_ID,
    DEFAULT_TRAIN_STEPS,
    CompileBackend,
    Nodes,
    VerifyOptions,
    VerifyResult,
)
from torchsetup.verify.runner import run_verify

if TYPE_CHECKING:
    from torchsetup.resolve.lockfile import Lock


@click.command()
@click.option(
    "--python",
    "python",
    metavar="PATH",
    help="Interpreter to verify (default: VIRTUAL_ENV, CONDA_PREFIX, then PATH).",
)
@click.option(
    "--quick",
    is_flag=True,
    help="Only import, build facts and one tensor op per device (what install runs).",
)
@click.option("--require-gpu", is_flag=True, help="Fail when no usable GPU is found.")
@click.option(
    "--distributed",
    is_flag=True,
    help="Also all_reduce across 2 ranks with torchrun (gloo, or NCCL with a GPU "
    "per rank); inside a torchrun/Slurm job, run as this rank.",
)
@click.option(
    "--nnodes",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="With --distributed: N nodes meet through torchrun's c10d rendezvous (run the same "
    "command on every node).",
)
@click.option(
    "--node-rank",
    type=click.IntRange(min=0),
    default=None,
    metavar="R",
    help="This node's rank, passed to torchrun (c10d assigns the ranks at the rendezvous).",
)
@click.option(
    "--rdzv-endpoint",
    metavar="HOST:PORT",
    help="Where the nodes meet (one node's address and a free port, the same everywhere).",
)
@click.option(
    "--rdzv-id",
    metavar="ID",
    default=None,
    help="Rendezvous id, the same on every node [default: torchsetup-verify].",
)
@click.option(
    "--nproc-per-node",
    type=click.IntRange(min=1),
    default=None,
    metavar="K",
    help="Ranks per node [default: 2 on one node; one per GPU (at least 1) with --nnodes].",
)
@click.option(
    "--dist-timeout",
    type=click.FloatRange(min=5),
    default=None,
    metavar="SECONDS",
    help="How long every rank (and the rendezvous) waits for the others before naming "
    "the missing ones [default: 240 s x --timeout-scale].",
)
@click.option(
    "--bandwidth",
    is_flag=True,
    help="Also time all_reduce (bus bandwidth, nccl-tests' definition) within and across "
    "nodes and compare it with what NVLink/PCIe/InfiniBand promise (implies --distributed).",
)
@click.option(
    "--bandwidth-max-mib",
    type=click.IntRange(min=1, max=4096),
    default=None,
    metavar="MIB",
    help="Largest all_reduce message [default: 1024 with NCCL, 16 with gloo].",
)
@click.option(
    "--print-sbatch",
    is_flag=True,
    help="Print a Slurm batch script that runs this verify on --nnodes nodes "
    "(--nproc-per-node tasks each) and exit.",
)
@click.option(
    "--compile",
    "compile_backend",
    type=click.Choice(["inductor", "aot_eager", "off"]),
    default="inductor",
    show_default=True,
    help="torch.compile backend to check.",
)
@click.option("--compile-train", is_flag=True, help="Also torch.compile the training step.")
@click.option(
    "--train-steps",
    type=click.IntRange(min=5),
    default=DEFAULT_TRAIN_STEPS,
    show_default=True,
    help="AdamW steps of the tiny GPT; its loss must fall.",
)
@click.option(
    "--expect-torch", metavar="SPEC", help="Fail unless torch matches (PEP 440: '>=2.4')."
)
@click.option("--expect-cuda", metavar="X.Y", help="Fail unless torch is built with this CUDA.")
@click.option(
    "--expect-variant",
    metavar="VARIANT",
    help="Fail unless torch is this variant: cpu, cu118, cu130, rocm6.2, ...",
)
@click.option(
    "--stack",
    is_flag=True,
    help="Also check the installed LLM stack, one real check per component: the GPT-2 "
    "practice (tokenizers, datasets, transformers.Trainer; loss must fall), accelerate, peft "
    "(LoRA), safetensors, triton; flash-attn, xformers, bitsandbytes, deepspeed and vLLM on a "
    "CUDA GPU (else not run).",
)
@click.option(
    "--stack-steps",
    type=click.IntRange(min=10),
    default=30,
    show_default=True,
    help="Training steps of the --stack checks.",
)
@click.option(
    "--expect-lock",
    metavar="FILE",
    help="Fail unless every package of this pylock.toml is installed at exactly its version "
    "(local tag included): a CI gate.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option(
    "--junit-xml",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Also write a JUnit XML report (one testcase per check).",
)
@click.option(
    "--timeout-scale",
    type=FiniteRange(0.01, 100.0),
    default=1.0,
    show_default=True,
    help="Multiply every check's timeout (slow machines: 3).",
)
def verify(
    *,
    python: Optional[str],
    quick: bool,
    require_gpu: bool,
    distributed: bool,
    nnodes: Optional[int],
    node_rank: Optional[int],
    rdzv_endpoint: Optional[str],
    rdzv_id: Optional[str],
    nproc_per_node: Optional[int],
    dist_timeout: Optional[float],
    bandwidth: bool,
    bandwidth_max_mib: Optional[int],
    print_sbatch: bool,
    compile_backend: str,
    compile_train: bool,
    train_steps: int,
    expect_torch: Optional[str],
    expect_cuda: Optional[str],
    expect_variant: Optional[str],
    stack: bool,
    stack_steps: int,
    expect_lock: Optional[str],
    as_json: bool,
    junit_xml: Optional[Path],
    timeout_scale: float,
) -> None:
    """Prove that torch really works here: exit 0 only if every check passed.

    \b
    Checks (in the target interpreter, one process): import and build facts; CPU math and
    autograd against float64; per GPU a matmul per precision, a cuDNN convolution forward and
    backward, the compute capability in the build's arch list and a 256 MiB allocation;
    torch.compile on the CPU and each GPU; a few training steps of a tiny GPT whose loss must
    fall; torchvision ops when torchvision is installed; --distributed adds collectives
    (all_reduce, all_gather, broadcast, barrier) on every rank, across nodes with --nnodes
    or inside a torchrun/Slurm job; --bandwidth times all_reduce.

    Exit codes: 0 all passed, 1 a check failed, 2 bad usage.
    """
    nodes = _nodes(
        distributed=distributed or bandwidth,
        nnodes=nnodes,
        node_rank=node_rank,
        rdzv_endpoint=rdzv_endpoint,
        rdzv_id=rdzv_id,
        nproc_per_node=nproc_per_node,
        dist_timeout=dist_timeout,
        bandwidth_max_mib=bandwidth_max_mib,
        print_sbatch=print_sbatch,
    )
    target = choose_target(python)
    if print_sbatch:
        _print_sbatch(
            target.python,
            nodes,
            quick=quick,
            require_gpu=require_gpu,
            bandwidth=bandwidth,
            dist_timeout=dist_timeout,
            as_json=as_json,
        )
        return
    lock = _read_lock(expect_lock) if expect_lock is not None else None
    options = VerifyOptions(
        mode="quick" if quick else "full",
        require_gpu=require_gpu,
        compile=cast(CompileBackend, compile_backend),
        compile_train=compile_train,
        train_steps=train_steps,
        distributed=distributed or bandwidth,
        nodes=nodes,
        dist_timeout=dist_timeout,
        bandwidth=bandwidth,
        bandwidth_max_bytes=(bandwidth_max_mib or 0) * 2**20,
        expect=parse_expectations(expect_torch, expect_cuda, expect_variant),
        timeout_scale=timeout_scale,
    )
    progress, on_start = _progress(enabled=not as_json)
    with progress:
        result = run_verify(target.python, options, on_start=on_start)
        if stack:
            result = _with_stack(result, stack_steps, timeout_scale, on_start)
    if lock is not None and expect_lock is not None:
        result = _with_lock_check(result, target.python, lock, expect_lock)
    _show(result, as_json, chosen_by=target.how)
    if junit_xml is not None:
        _write_junit(result, junit_xml)
    # ctx.exit, not a return value: the code must survive click's standalone mode too.
    click.get_current_context().exit(result.exit_code)


def _nodes(
    *,
    distributed: bool,
    nnodes: Optional[int],
    node_rank: Optional[int],
    rdzv_endpoint: Optional[str],
    rdzv_id: Optional[str],
    nproc_per_node: Optional[int],
    dist_timeout: Optional[float],
    bandwidth_max_mib: Optional[int],
    print_sbatch: bool,
) -> Nodes:
    """The --nnodes family checked together (a usage error, exit 2, names the problem)."""
    given = {
        "--nnodes": nnodes,
        "--node-rank": node_rank,
        "--rdzv-endpoint": rdzv_endpoint,
        "--rdzv-id": rdzv_id,
        "--nproc-per-node": nproc_per_node,
        "--dist-timeout": dist_timeout,
        "--bandwidth-max-mib": bandwidth_max_mib,
    }
    named = [k for k, v in given.items() if v is not None]
    if not distributed and (named or print_sbatch):
        first = named[0] if named else "--print-sbatch"
        raise UsageError(f"{first} goes with --distributed (or --bandwidth)")
    if print_sbatch:
        if nnodes is None:
            raise UsageError("--print-sbatch needs --nnodes N (the nodes the job asks for)")
        for flag in ("--node-rank", "--rdzv-endpoint", "--rdzv-id"):
            if given[flag] is not None:
                raise UsageError(f"--print-sbatch: Slurm places the ranks, drop {flag}")
        return Nodes(nnodes=nnodes, nproc_per_node=nproc_per_node)
    if rdzv_endpoint is not None:
        from torchsetup.verify.distributed import parse_endpoint

        try:
            parse_endpoint(rdzv_endpoint)
        except ValueError as exc:
            raise UsageError(f"--rdzv-endpoint {exc}") from None
    if (nnodes or 1) > 1 and rdzv_endpoint is None:
        raise UsageError("--nnodes > 1 needs --rdzv-endpoint HOST:PORT (where the nodes meet)")
    if node_rank is not None and node_rank >= (nnodes or 1):
        raise UsageError(f"--node-rank {node_rank} is not below --nnodes {nnodes or 1}")
    if rdzv_id is not None and not rdzv_id.strip():
        raise UsageError("--rdzv-id must not be empty")
    return Nodes(
        nnodes=nnodes or 1,
        nproc_per_node=nproc_per_node,
        node_rank=node_rank,
        rdzv_endpoint=rdzv_endpoint,
        rdzv_id=rdzv_id or DEFAULT_RDZV_ID,
    )


def _print_sbatch(
    python: str,
    nodes: Nodes,
    *,
    quick: bool,
    require_gpu: bool,
    bandwidth: bool,
    dist_timeout: Optional[float],
    as_json: bool,
) -> None:
    from torchsetup.verify.slurm import sbatch_script

    args = ["--python", python, "--distributed"]
    if quick:
        args.append("--quick")
    if require_gpu:
        args.append("--require-gpu")
    if bandwidth:
        args.append("--bandwidth")
    if dist_timeout is not None:
        args.append(f"--dist-timeout={dist_timeout:g}")
    if as_json:
        args.append("--json")
    click.echo(
        sbatch_script(
            nodes=nodes.nnodes,
            tasks_per_node=nodes.nproc_per_node or 1,
            gpus=require_gpu,
            torchsetup=[sys.executable, "-m", "torchsetup"],
            verify_args=args,
        ),
        nl=False,
    )


def _with_stack(
    result: VerifyResult, steps: int, scale: float, on_start: Optional[Callable[[str], None]]
) -> VerifyResult:
    """``result`` with the stack checks appended (run only when torch imported)."""
    import dataclasses
    import time

    from torchsetup.verify.model import NOT_RUN, CheckResult
    from torchsetup.verify.stack import run_stack_checks

    started = time.perf_counter()
    imported = result.check("import")
    if imported is None or imported.status != "pass":
        checks = [CheckResult("stack", NOT_RUN, detail="torch did not import")]
    else:
        checks = run_stack_checks(result.python, steps=steps, scale=scale, on_start=on_start)
    return dataclasses.replace(
        result,
        checks=(*result.checks, *checks),
        seconds=result.seconds + time.perf_counter() - started,
    )


def _read_lock(path: str) -> Lock:
    from torchsetup.resolve.lockfile import parse_pylock

    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--expect-lock {path}: cannot read it: {exc}") from None
    return parse_pylock(text, where=f"--expect-lock {path}")


def _with_lock_check(result: VerifyResult, python: str, lock: Lock, path: str) -> VerifyResult:
    """``result`` with the expect.lock check (the target's distributions against the lock)."""
    import dataclasses
    import os

    from torchsetup.detect.probes.python_target import probe_python
    from torchsetup.proc import ProcRunner
    from torchsetup.verify.lockcheck import NAME, lock_check
    from torchsetup.verify.model import FAIL, CheckResult

    py = probe_python(python, runner=ProcRunner(), env=dict(os.environ))
    if not py.ok:
        check = CheckResult(NAME, FAIL, detail=f"the target could not be probed: {py.error}")
    else:
        check = lock_check(lock, py.distributions, path)
    return dataclasses.replace(result, checks=(*result.checks, check))


def _write_junit(result: VerifyResult, path: Path) -> None:
    from torchsetup.verify.junit import write_junit

    try:
        write_junit(result, path)
    except OSError as exc:
        raise UsageError(f"--junit-xml {path}: {exc.strerror or exc}") from None


def _progress(
    *, enabled: bool
) -> tuple[AbstractContextManager[Any], Optional[Callable[[str], None]]]:
    """A spinner naming the running check, on an interactive stderr only."""
    if not (enabled and sys.stderr.isatty()):
        return nullcontext(), None
    from torchsetup.term import rich_console

    status = rich_console(stderr=True).status("verify: starting")
    return status, lambda name: status.update(f"verify: {name}")


def _show(result: VerifyResult, as_json: bool, *, chosen_by: str) -> None:
    if as_json:
        from torchsetup.verify.render import render_json

        click.echo(render_json(result))
        return
    from torchsetup.term import rich_console
    from torchsetup.verify.render import render_table

    render_table(result, rich_console(highlight=False), chosen_by=chosen_by)
