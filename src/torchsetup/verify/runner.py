"""Running the smoke script in the target interpreter (the side-effect shell of verify).

Everything goes through :mod:`torchsetup.proc`: one target process for all checks (torch is
imported once), a deadline per check that moves on as results arrive, and, for
``--distributed``, one torchrun launch (or this rank of a running job).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Callable, Optional

from torchsetup import paths, proc
from torchsetup.errors import InterruptedError_
from torchsetup.resources import SMOKE
from torchsetup.verify import distributed
from torchsetup.verify.judge import judge, parse_expectations
from torchsetup.verify.model import FAIL, NOT_RUN, CheckResult, VerifyOptions, VerifyResult
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


def smoke_argv(
    python: str, options: VerifyOptions, cache_dir: Path, extra: tuple[str, ...] = ()
) -> list[str]:
    # As the user's `python` sees it (user site included), like doctor's and install's probe.
    argv = proc.target_argv(
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
    return argv + list(extra)


CPU_COMPILE = "cpu.compile"


def node_options(options: VerifyOptions, environ: Mapping[str, str]) -> VerifyOptions:
    """Inside a job every task runs verify: the node's full checks once (local rank 0), a quick
    check on the other local ranks, whose own device is checked by their distributed rank."""
    if not (options.distributed or options.bandwidth) or options.mode == "quick":
        return options
    local = distributed.local_rank_in_job(environ)
    if local is None or local == 0:
        return options
    from dataclasses import replace

    return replace(options, mode="quick")


def split_cpu_compile(options: VerifyOptions, gpus: int) -> bool:
    """Whether ``cpu.compile`` runs in a second target process, beside the other checks.

    On a GPU box it is independent of every GPU check and the slowest of all (Inductor's C++
    path: its per-process vector-ISA probe, then a C++ compile), so it starts at the same time
    in its own process instead of after them; on a CPU-only box it would compete for the
    same cores and is not split. See docs/verify.md, "Where the CPU compile check runs".
    """
    return options.mode == "full" and options.compile != "off" and gpus > 0


def merge_split(main: list[CheckResult], side: list[CheckResult]) -> list[CheckResult]:
    """The main run's results with the side run's ``cpu.compile`` where the plan has it: before
    the first GPU compile (or the training step). The side run's own import/build/gpu are
    dropped: they repeat the main run's."""
    mine = [r for r in side if r.name == CPU_COMPILE]
    if not mine:  # the side run died before planning: say so under the check's own name
        failed = next((r for r in side if r.failed), None)
        mine = [
            CheckResult(
                CPU_COMPILE,
                FAIL if failed else NOT_RUN,
                detail=(
                    f"its own process failed at {failed.name}: {failed.detail}"
                    if failed
                    else "its own process did not plan it"
                ),
            )
        ]
    if any(r.name == CPU_COMPILE for r in main):
        return main
    at = next((i for i, r in enumerate(main) if r.name.endswith((".compile", ".train"))), len(main))
    return [*main[:at], *mine, *main[at:]]


def run_verify(
    python: str,
    options: Optional[VerifyOptions] = None,
    *,
    on_start: Optional[ProgressCallback] = None,
    environ: Optional[Mapping[str, str]] = None,
    split: Optional[bool] = None,
) -> VerifyResult:
    """Verify torch in the interpreter ``python``; the default options are the quick check.

    ``on_start`` is told the name of each check as it starts (from a reader thread);
    ``environ`` is the target's environment (default: this process's), which also decides
    whether ``--distributed`` launches torchrun or runs as one rank of a job; ``split``
    runs ``cpu.compile`` in its own process beside the rest (default: on a GPU box, see
    :func:`split_cpu_compile`). Raises UsageError for malformed expectations and InterruptedError_ on Ctrl-C; anything
    the target does (crash, hang, garbage) is a failed check in the result, never an error.
    """
    options = node_options(options or VerifyOptions(), os.environ if environ is None else environ)
    expect = options.expect
    parse_expectations(expect.torch, expect.cuda, expect.variant)
    started = time.perf_counter()
    if split is None:
        split = split_cpu_compile(
            options, local_gpu_count(os.environ if environ is None else environ)
        )
    if split:
        raw = _run_split(python, options, on_start, environ)
    else:
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


def _run_split(
    python: str,
    options: VerifyOptions,
    on_start: Optional[ProgressCallback],
    environ: Optional[Mapping[str, str]],
) -> list[CheckResult]:
    """The checks in two target processes at once: ``cpu.compile`` alone, and the rest."""
    side: list[CheckResult] = []
    failure: list[BaseException] = []
    cancel = threading.Event()  # the main run was interrupted: stop the side one too

    def run_side() -> None:
        try:
            side.extend(_run_smoke(python, options, None, environ, ("--only", CPU_COMPILE), cancel))
        except BaseException as exc:  # noqa: BLE001 - re-raised on the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=run_side, name="verify-cpu-compile", daemon=True)
    thread.start()
    try:
        main = _run_smoke(python, options, on_start, environ, ("--skip", CPU_COMPILE))
    except BaseException:
        cancel.set()
        thread.join(15)
        raise
    if on_start is not None and thread.is_alive():
        on_start(CPU_COMPILE)
    thread.join()
    if failure:
        raise failure[0]
    return merge_split(main, side)


def _run_smoke(
    python: str,
    options: VerifyOptions,
    on_start: Optional[ProgressCallback],
    environ: Optional[Mapping[str, str]],
    extra: tuple[str, ...] = (),
    cancel: Optional[threading.Event] = None,
) -> list[CheckResult]:
    session = SmokeSession(scale=options.timeout_scale, on_start=on_start)

    def deadline() -> Optional[float]:
        return 0.0 if cancel is not None and cancel.is_set() else session.deadline()

    result = proc.stream(
        smoke_argv(python, options, paths.inductor_cache_dir(), extra),
        timeout=None,
        on_line=session.feed,
        deadline=deadline,
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
