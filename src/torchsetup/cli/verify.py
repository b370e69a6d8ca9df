"""``torchsetup verify``: parse options, run the checks in the target, render, exit 0 or 1."""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, Callable, Optional, cast

import click

from torchsetup.cli.options import FiniteRange
from torchsetup.detect.target import choose_target
from torchsetup.errors import UsageError
from torchsetup.verify.judge import parse_expectations
from torchsetup.verify.model import (
    DEFAULT_TRAIN_STEPS,
    CompileBackend,
    VerifyOptions,
    VerifyResult,
)
from torchsetup.verify.runner import run_verify


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
    compile_backend: str,
    compile_train: bool,
    train_steps: int,
    expect_torch: Optional[str],
    expect_cuda: Optional[str],
    expect_variant: Optional[str],
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
    fall; torchvision ops when torchvision is installed; --distributed adds an all_reduce.

    Exit codes: 0 all passed, 1 a check failed, 2 bad usage.
    """
    target = choose_target(python)
    options = VerifyOptions(
        mode="quick" if quick else "full",
        require_gpu=require_gpu,
        compile=cast(CompileBackend, compile_backend),
        compile_train=compile_train,
        train_steps=train_steps,
        distributed=distributed,
        expect=parse_expectations(expect_torch, expect_cuda, expect_variant),
        timeout_scale=timeout_scale,
    )
    progress, on_start = _progress(enabled=not as_json)
    with progress:
        result = run_verify(target.python, options, on_start=on_start)
    _show(result, as_json, chosen_by=target.how)
    if junit_xml is not None:
        _write_junit(result, junit_xml)
    # ctx.exit, not a return value: the code must survive click's standalone mode too.
    click.get_current_context().exit(result.exit_code)


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
