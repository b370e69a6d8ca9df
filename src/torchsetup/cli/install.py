"""``torchsetup install``: pick the right PyTorch build, show the plan, (soon) run it.

Parses options into a Request, gets the Environment (this machine, or a snapshot with
--target-* overrides), asks the resolver for a Plan and renders it. No logic of its own.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Callable, Optional

import click

from torchsetup.errors import EXIT_OK, ResolutionError, UsageError

if TYPE_CHECKING:
    from torchsetup.detect.model import Environment
    from torchsetup.matrix.observed import DataStatus, Merged
    from torchsetup.resolve.lockfile import Lock
    from torchsetup.resolve.plan import Plan
    from torchsetup.resolve.request import Request

# torchsetup.resolve.exporters.EXPORTERS and LOCK_EXPORTERS, without importing them
EXPORT_FORMATS = ("sh", "pyproject", "requirements", "pylock")


@click.command(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    short_help="Pick the right PyTorch build, install it and verify it.",
)
@click.option(
    "--torch",
    "torch_",
    metavar="VERSION|SPEC",
    help="Release (2.4.1), series (2.4) or specifier ('>=2.3,<2.5'). Default: newest that works here.",
)
@click.option("--cuda", metavar="X.Y", help="A CUDA build, e.g. 11.8, 12.8, 13.0.")
@click.option("--cpu", is_flag=True, help="The CPU build.")
@click.option("--rocm", metavar="X.Y", help="A ROCm build (Linux), e.g. 6.2.")
@click.option(
    "--variant",
    metavar="NAME",
    help="A build by name (cu129, rocm6.2.4, xpu); also unadvertised ones. "
    "--cuda/--cpu/--rocm/--variant are mutually exclusive; default: best for this hardware.",
)
@click.option(
    "--method",
    default="auto",
    show_default=True,
    metavar="auto|pip|uv|conda|source",
    help="How to install: auto (uv where it is found, else pip), pip, uv, conda (pytorch "
    "channel, up to 2.5.1) or a source build.",
)
@click.option(
    "--with",
    "with_",
    metavar="PKGS",
    help="Companions to install: torchvision,torchaudio (default: both), and LLM-stack "
    "components resolved against the torch build: flash-attn, xformers, bitsandbytes, deepspeed, "
    "vllm, triton, transformers, accelerate, datasets, tokenizers, safetensors, peft; "
    "pinnable: vllm==0.20.2.",
)
@click.option(
    "--stack",
    metavar="NAME",
    help="A set of components resolved against the torch build: llm (transformers, accelerate, "
    "datasets, tokenizers, safetensors, peft).",
)
@click.option("--only", metavar="PKGS", help="Install only these, e.g. --only torch.")
@click.option(
    "--python",
    metavar="PATH",
    help="Target interpreter (default: active venv/conda env, else python3).",
)
@click.option(
    "--venv", metavar="DIR", help="Target virtual environment (created by the plan if missing)."
)
@click.option("--index-url", metavar="URL", help="A mirror or wheelhouse serving the chosen build.")
@click.option(
    "--find-links",
    metavar="DIR",
    help="Install from wheels in this folder, with no index and no network (--no-index).",
)
@click.option("--no-verify", is_flag=True, help="Skip the quick verify after installing.")
@click.option(
    "--no-guard",
    is_flag=True,
    help="Do not pin the installed build for later pip/uv installs in the environment.",
)
@click.option(
    "--bytecode",
    type=click.Choice(["import", "all", "none"]),
    default=None,
    help="Compile the .pyc of what `import torch` loads, after the install (uv's default), of "
    "every module (pip's default), or of none.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Install into a system or externally managed (PEP 668) Python anyway.",
)
@click.option("-v", "--verbose", is_flag=True, help="Stream every line the install steps print.")
@click.option("--dry-run", is_flag=True, help="Show the plan and stop.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.option(
    "--export",
    metavar="sh|requirements|pylock|pyproject",
    help="Print the plan as a shell script, a requirements file with hashes, a pylock.toml "
    "(PEP 751; both read every file's sha256 from the index) or the uv project settings.",
)
@click.option(
    "--lock",
    "lock_file",
    metavar="FILE",
    help="Install exactly this pylock.toml (from --export pylock), with uv: every file checked "
    "against its sha256.",
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask before installing.")
@click.option(
    "--snapshot",
    metavar="FILE",
    help="Plan for the machine in this snapshot (doctor --save-snapshot).",
)
@click.option(
    "--target-platform",
    metavar="PLATFORM",
    help="Plan for linux-x86_64, linux-aarch64, windows-x86_64, macos-arm64 or macos-x86_64.",
)
@click.option("--target-python", metavar="X.Y", help="Plan for this Python version.")
@click.option(
    "--target-driver", metavar="VERSION|none", help="Plan for this NVIDIA driver (or none)."
)
@click.option(
    "--target-gpu",
    metavar="GPU[,GPU...]",
    help="Plan for these GPUs: NVIDIA compute capabilities or models (6.1,8.6 or "
    '"GeForce GTX 1080 Ti"), AMD gfx targets (gfx1100), Intel GPUs (arc-a770, b580, '
    "max-1550) or a Jetson board (orin).",
)
@click.option("--target-glibc", metavar="X.Y", help="Plan for this glibc version.")
@click.option(
    "--offline",
    is_flag=True,
    help="Plan from the bundled data and cached index observations only (also "
    "TORCHSETUP_OFFLINE=1). Default: refresh them when older than a day.",
)
def install(
    torch_: Optional[str],
    cuda: Optional[str],
    cpu: bool,
    rocm: Optional[str],
    variant: Optional[str],
    method: str,
    with_: Optional[str],
    stack: Optional[str],
    only: Optional[str],
    python: Optional[str],
    venv: Optional[str],
    index_url: Optional[str],
    find_links: Optional[str],
    no_verify: bool,
    no_guard: bool,
    bytecode: Optional[str],
    force: bool,
    verbose: bool,
    dry_run: bool,
    as_json: bool,
    export: Optional[str],
    lock_file: Optional[str],
    yes: bool,
    snapshot: Optional[str],
    target_platform: Optional[str],
    target_python: Optional[str],
    target_driver: Optional[str],
    target_gpu: Optional[str],
    target_glibc: Optional[str],
    offline: bool,
) -> int:
    """Pick the right PyTorch build for this machine (or --snapshot / --target-*), explain why,
    install it into the target (after showing the plan and asking) and verify it.

    \b
      torchsetup install --dry-run                       best build for this machine
      torchsetup install --cuda 11.7 --dry-run           torch 2.0.1 + cu117
      torchsetup install --snapshot node.json --json     plan for another machine
      torchsetup install --dry-run --export sh > install.sh
      torchsetup install --cpu --venv .venv --yes        create a venv, install, verify
      torchsetup install --cpu --stack llm --venv .venv --yes   torch + the Hugging Face set
      torchsetup install --with vllm==0.20.2 --dry-run   vLLM chooses torch (2.11.0)

    Exit codes: 0 installed and verified; 1 verification failed; 2 refused (bad or
    impossible request); 3 an install step failed (the log and a restore command are
    printed); 130 interrupted.
    """
    from torchsetup.matrix.load import load_matrix
    from torchsetup.resolve.complete import plan_install
    from torchsetup.resolve.request import parse_request

    if as_json and export:
        raise UsageError("--json and --export are mutually exclusive")
    if export is not None and export not in EXPORT_FORMATS:
        raise UsageError(
            f"--export {export}: unknown format", hint=f"one of {', '.join(EXPORT_FORMATS)}"
        )
    lock = None
    if lock_file is not None:
        if export or find_links or torch_ or cuda or cpu or rocm or variant or index_url:
            raise UsageError(
                "--lock installs exactly its file: no --export, --find-links, --index-url, "
                "--torch or build options with it"
            )
        from torchsetup.install.lock import read_lock

        lock = read_lock(lock_file)
        torch_, variant, index_url, method = _from_lock(lock, method)
    venv_exe, venv_exists = _venv_interpreter(venv) if venv is not None else (None, False)
    create_venv = venv_exe is not None and not snapshot and not venv_exists
    request = parse_request(
        torch=torch_,
        cuda=cuda,
        cpu=cpu,
        rocm=rocm,
        variant=variant,
        method=method,
        with_=with_,
        only=only,
        python=python,
        venv=venv,
        create_venv=create_venv,
        index_url=index_url,
        target_platform=target_platform,
        target_python=target_python,
        target_driver=target_driver,
        target_gpu=target_gpu,
        target_glibc=target_glibc,
        stack=stack,
    )
    probe_python = python or (venv_exe if venv_exe and not create_venv else None)
    env = _environment(snapshot, probe_python)
    carries = None
    # Does the custom index (asked only for a plan for this machine) or folder carry the default
    # companions? One it lacks is dropped from the plan, with a note.
    if find_links or (index_url and not snapshot and not request.overrides_target):
        from torchsetup.install.preflight import source_carries

        carries = source_carries(index_url=index_url, find_links=find_links)
    # The bundled data, merged with the index observations (refreshed when older than a day,
    # with a short deadline; a --find-links install has no network): one line says which.
    from torchsetup.matrix.observed import current

    merged, data = current(load_matrix(), env=os.environ, offline_flag=offline or bool(find_links))
    if data.source != "bundled" or data.error:
        click.echo(f"torchsetup: {data.line()}", err=True)
    stack_data = None  # a plan for this machine asks the index for the newest peft
    live = not (find_links or snapshot or request.overrides_target or offline)
    if (request.stack or request.stack_set) and live:
        stack_data = _stack_with_index()
    try:
        # The plan that runs keeps its credentials; only what is shown is redacted.
        full = plan_install(
            env,
            request,
            merged.matrix,
            find_links=find_links,
            force=force,
            carries=carries,
            stack_data=stack_data,
            guard=not no_guard,
            guarded=_guard_pins(env),
            bytecode=bytecode,
        )
    except ResolutionError as exc:
        return _refused(exc, as_json)
    full = _with_data_facts(full, merged, data)
    if lock is not None:
        from torchsetup.install.lock import lock_install_plan

        full = lock_install_plan(full, lock_file or "", lock)
    plan = full  # run as planned, credentials included; every display below is redacted
    if export is not None:
        click.echo(_export(export, full, env, request), nl=False)
        return EXIT_OK
    if dry_run:
        if as_json:
            from torchsetup.result import dumps

            click.echo(dumps("install", plan.redacted().to_dict(), exit_code=EXIT_OK))
        else:
            from torchsetup.resolve.render import render_plan

            render_plan(plan.redacted(), dry_run=True)
        return EXIT_OK
    if snapshot or request.overrides_target:
        raise UsageError(
            "a plan for another machine (--snapshot/--target-*) can be shown or exported, not run here",
            hint="add --dry-run, or --export sh to get a script for that machine",
        )
    return _run(plan, force=force, yes=yes, verbose=verbose, no_verify=no_verify, as_json=as_json)


def _with_data_facts(plan: Plan, merged: Merged, data: DataStatus) -> Plan:
    """The plan's "Facts used" gain the data it was made from and, for a release the curated
    data lacks, every inferred fact behind it (source "inferred: <rule>")."""
    import dataclasses

    from torchsetup.matrix.model import PLATFORMS
    from torchsetup.resolve.plan import Fact

    facts = [Fact("matrix data", data.line().removeprefix("data: "), "torchsetup matrix --refresh")]
    platform = dict(plan.extra).get("platform")
    for item in merged.inferred.get(plan.torch, ()):
        if any(f"({p})" in item.what for p in PLATFORMS if p != platform):
            continue  # a fact about another platform
        facts.append(Fact(f"torch {plan.torch} {item.what}", item.value, f"inferred: {item.rule}"))
    return dataclasses.replace(plan, facts=plan.facts + tuple(facts))


def _run(
    plan: Plan, *, force: bool, yes: bool, verbose: bool, no_verify: bool, as_json: bool
) -> int:
    """Show why, then hand the complete plan to the executor, which runs exactly its steps;
    its result decides the exit code."""
    from torchsetup.install.session import run_install
    from torchsetup.term import rich_console

    console = rich_console(stderr=as_json, highlight=False)
    if not as_json:
        from torchsetup.resolve.render import render_plan

        render_plan(plan.redacted(), dry_run=False)
    result = run_install(
        plan,
        force=force,
        yes=yes,
        verbose=verbose,
        no_verify=no_verify,
        console=console,
        verify=_quick_verify(plan),
    )
    if result.status == "refused" and not as_json:
        from torchsetup.cli.restore import _stderr_refusal

        _stderr_refusal(result.message, result.hint)
    if as_json:
        from torchsetup.result import dumps

        payload = {**plan.redacted().to_dict(), "result": result.to_dict()}
        click.echo(dumps("install", payload, exit_code=result.exit_code))
    return result.exit_code


def _stack_with_index() -> object:
    """stack.json with the newest peft the index lists now (a release after the curation counts
    the same day); the curated data when the index cannot be read."""
    import dataclasses

    from torchsetup.install.stack_index import PYPI, newest_release
    from torchsetup.matrix.stack import load_stack
    from torchsetup.versions import version_tuple

    stack = load_stack()
    newest = newest_release("peft")
    if newest is None or version_tuple(newest) <= version_tuple(stack.peft_newest):
        return stack
    return dataclasses.replace(
        stack, peft_newest=newest, peft_newest_source=f"{PYPI}/peft/ (read while planning)"
    )


def _refused(exc: ResolutionError, as_json: bool) -> int:
    """A refusal: one paragraph on stderr (or a JSON error object on stdout), exit 2."""
    from torchsetup.redact import redact_url_credentials
    from torchsetup.sanitize import clean

    message = redact_url_credentials(exc.message)
    if as_json:
        from torchsetup.result import dumps

        error = {
            "message": message,
            "hint": exc.hint or None,
            "reasons": list(exc.reasons),
            "nearest": exc.nearest,
        }
        click.echo(dumps("install", None, exit_code=exc.exit_code, error=error))
        return exc.exit_code
    text = f"torchsetup: cannot plan this install: {message}."
    if exc.nearest:
        text += f" Nearest request that works: {exc.nearest}."
    elif exc.hint:
        text += f" Hint: {exc.hint}."
    # the contract (docs/cli.md): a refusal is one stderr line, never wrapped
    click.echo(" ".join(clean(text).split()), err=True)
    return exc.exit_code


def _quick_verify(plan: Plan) -> Callable[[str], tuple[bool, str]]:
    """``torchsetup verify --quick`` in the target, expecting exactly the planned build."""

    def verify(python: str) -> tuple[bool, str]:
        from torchsetup.verify.judge import parse_expectations
        from torchsetup.verify.model import VerifyOptions
        from torchsetup.verify.runner import run_verify

        expect = parse_expectations(torch="==" + plan.torch.partition("+")[0], variant=plan.variant)
        result = run_verify(python, VerifyOptions(mode="quick", expect=expect))
        failed = [c for c in result.checks if c.status == "fail"]
        if failed:
            return False, "; ".join(f"{c.name}: {c.detail}" for c in failed[:3])
        version = result.torch.version if result.torch else plan.torch
        passed = sum(1 for c in result.checks if c.status == "pass")
        return True, f"torchsetup verify --quick: {passed} checks passed (torch {version})"

    return verify


def _environment(snapshot: Optional[str], python: Optional[str]) -> Environment:
    """The facts to plan for: a snapshot (then --target-* overrides apply) or this machine."""
    if snapshot:
        from torchsetup.detect.snapshot import load_environment

        return load_environment(snapshot)
    from torchsetup.detect.build import detect_environment

    return detect_environment(python)


def _from_lock(lock: Lock, method: str) -> tuple[str, str, str, str]:
    """(--torch, --variant, --index-url, --method) of the plan that installs ``lock``."""
    torch = next((p for p in lock.packages if p.name == "torch"), None)
    if torch is None:
        raise UsageError("the lock has no torch: torchsetup installs locks of a torch build")
    public, _, local = torch.version.partition("+")
    if method not in ("auto", "uv"):
        raise UsageError(
            f"--lock installs with uv (pip cannot install a pylock.toml), not --method {method}",
            hint="with pip: torchsetup install --export requirements > r.txt; pip install --no-deps -r r.txt",
        )
    return public, local or "cpu", torch.index, "uv"


def _export(export: str, plan: Plan, env: Environment, request: Request) -> str:
    """The plan as ``--export`` prints it; requirements and pylock lock it from the index."""
    from torchsetup.resolve import exporters

    if export in exporters.EXPORTERS:
        return exporters.EXPORTERS[export](plan)
    exporters.check_requirements(plan)
    if env.python is None or not env.python.ok or request.overrides_target:
        raise UsageError(
            f"--export {export} locks the plan for a probed interpreter (this machine's, or a "
            "--snapshot's): not with --target-* overrides"
        )
    from torchsetup.install.lock import lock_plan

    return exporters.LOCK_EXPORTERS[export](plan, lock_plan(plan, env.python))


def _guard_pins(env: Environment) -> tuple[str, ...]:
    """The pins of the guard the probed target has now (this machine only)."""
    py = env.python
    if env.source != "live" or py is None or not py.ok or not py.prefix:
        return ()
    from torchsetup.guardfile import read_status

    status = read_status(py.prefix)
    return status.pins if status.on else ()


def _venv_interpreter(venv: str) -> tuple[str, bool]:
    """(interpreter of the venv, does it exist)."""
    import os

    from torchsetup.detect.target import venv_python

    if os.path.lexists(venv) and not os.path.isdir(venv):
        raise UsageError(f"--venv {venv} is not a folder", hint="name a virtual environment folder")
    exe = venv_python(venv)
    return exe, os.path.exists(exe)
