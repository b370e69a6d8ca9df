"""Running the smoke script in the target interpreter (the side-effect shell of verify).

Everything goes through :mod:`torchsetup.proc`: one target process for all checks (torch is
imported once), a deadline per check that moves on as results arrive, and, for
``--distributed``, one torchrun launch (or this rank of a running job).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Callable, Optional

from torchsetup import paths, proc
from torchsetup.errors import InterruptedError_
from torchsetup.resources import SMOKE
from torchsetup.verify import distributed
from torchsetup.verify.judge import judge, parse_expectations
from torchsetup.verify.model import FAIL, CheckResult, VerifyOptions, VerifyResult
from torchsetup.verify.protocol import SmokeSession, timeout_for

ProgressCallback = Callable[[str], None]


def smoke_path() -> Path:
    """smoke.py as shipped in the package (a plain file next to this module)."""
    return Path(SMOKE)


def dynamo_table() -> str:
    """What smoke.py needs to know of Dynamo's Python support (it runs in the target and has no
    tables of its own): matrix.json ``facts.dynamo`` as compact JSON."""
    import json

    from torchsetup.matrix.load import load_matrix

    dynamo = load_matrix().dynamo
    return json.dumps({"floors": dict(dynamo.floors), "older": dynamo.older}, separators=(",", ":"))


def smoke_argv(python: str, options: VerifyOptions, cache_dir: Path) -> list[str]:
    argv = proc.python_argv(
        python,
        str(smoke_path()),
        f"--mode={options.mode}",
        f"--compile={options.compile}",
        f"--train-steps={options.train_steps}",
        f"--cache-dir={cache_dir}",
        "--json-lines",
        f"--dynamo-min-torch={dynamo_table()}",
    )
    if options.compile_train:
        argv.append("--compile-train")
    return argv


def run_verify(
    python: str,
    options: Optional[VerifyOptions] = None,
    *,
    on_start: Optional[ProgressCallback] = None,
    environ: Optional[Mapping[str, str]] = None,
) -> VerifyResult:
    """Verify torch in the interpreter ``python``; the default options are the quick check.

    ``on_start`` is told the name of each check as it starts (from a reader thread);
    ``environ`` is the target's environment (default: this process's), which also decides
    whether ``--distributed`` launches torchrun or runs as one rank of a job. Raises UsageError for malformed expectations and InterruptedError_ on Ctrl-C; anything
    the target does (crash, hang, garbage) is a failed check in the result, never an error.
    """
    options = options or VerifyOptions()
    expect = options.expect
    parse_expectations(expect.torch, expect.cuda, expect.variant)
    started = time.perf_counter()
    raw = _run_smoke(python, options, on_start, environ)
    if options.distributed or options.bandwidth:
        if on_start is not None:
            on_start(distributed.NAME)
        raw += _run_distributed(python, options, environ)
    checks, info = judge(raw, options)
    return VerifyResult(
        python=python,
        mode=options.mode,
        checks=checks,
        torch=info,
        seconds=time.perf_counter() - started,
    )


def _run_smoke(
    python: str,
    options: VerifyOptions,
    on_start: Optional[ProgressCallback],
    environ: Optional[Mapping[str, str]],
) -> list[CheckResult]:
    session = SmokeSession(scale=options.timeout_scale, on_start=on_start)
    result = proc.stream(
        smoke_argv(python, options, paths.inductor_cache_dir()),
        timeout=None,
        on_line=session.feed,
        deadline=session.deadline,
        env=environ,
    )
    if result.interrupted:
        raise InterruptedError_("verify interrupted")
    return session.finish(result, python=python)


def _run_distributed(
    python: str, options: VerifyOptions, environ: Optional[Mapping[str, str]]
) -> list[CheckResult]:
    """The distributed check (and, with --bandwidth, the bandwidth check) of this node."""
    env = os.environ if environ is None else environ
    launch = distributed.plan_launch(
        python,
        str(smoke_path()),
        env,
        timeout=timeout_for(distributed.NAME, options.timeout_scale),
        backend=options.dist_backend,
        nodes=options.nodes,
        deadline=options.dist_timeout,
        gpus=local_gpu_count(env),
        bandwidth=options.bandwidth,
        bandwidth_max_bytes=options.bandwidth_max_bytes,
    )
    if launch.problem:
        return [CheckResult(distributed.NAME, FAIL, detail=launch.problem)]
    out = distributed.DistOutput()
    result = proc.stream(
        launch.argv,
        timeout=launch.timeout,
        on_line=out.feed,
        env=environ,
        extra_env=launch.extra_env,
    )
    if result.interrupted:
        raise InterruptedError_("verify interrupted")
    checks = [distributed.aggregate(out, result, launch)]
    if options.bandwidth:
        from torchsetup.verify.bandwidth import bandwidth_check
        from torchsetup.verify.topology import read_topology

        checks.append(bandwidth_check(distributed.bandwidth_rows(out), read_topology()))
    return checks


def local_gpu_count(environ: Mapping[str, str]) -> int:
    """NVIDIA GPUs this node's ranks may use: CUDA_VISIBLE_DEVICES, else the driver's list."""
    visible = environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    try:
        return len(os.listdir("/proc/driver/nvidia/gpus"))
    except OSError:
        return 0
