"""Completing a plan for its target (pure): every step the install will run, decided here.

:func:`resolve` picks the build; :func:`plan_install` (what the install command calls) then
makes the plan *complete* from the target facts in the :class:`Environment`, so that
``--dry-run``, ``--json``, ``--export`` and the executor see one list of steps:

- the user's ``--find-links DIR`` replaces the index of the install steps (:func:`apply_source`);
- a default companion the chosen index or folder does not carry is dropped, with a note
  (:func:`drop_companions`; ``--with`` makes it required instead);
- a target that already holds exactly the planned builds gets no steps (``already_satisfied``);
- installed packages the installer would keep but the plan must replace become explicit
  uninstall steps (:func:`conflict_steps`: the same-version CPU -> CUDA switch, torchtriton, a
  torchvision built for another torch);
- a ``--venv DIR`` that does not exist is created first (:func:`torchsetup.resolve.plan.create_venv_step`);
- ``--force`` on an externally managed Python adds ``--break-system-packages``;
- a pip/uv install into a venv or conda environment ends with the guard step (``torchsetup guard
  on``: the build is pinned for later installs there; ``--no-guard`` leaves it out), and one into
  a guarded environment starts by lifting the guard (:func:`guard_steps`);
- bare ``uv``/``conda``/``mamba``/``micromamba`` become the programs found on the target machine;
- the facts the plan assumed are recorded (:class:`TargetFacts`): the executor re-reads the
  target and refuses when they no longer hold (:func:`target_changes`).
"""

from __future__ import annotations

import dataclasses
import os
import posixpath
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Callable, Optional

from torchsetup.errors import UsageError
from torchsetup.resolve.plan import (
    BYTECODE,
    COMPANIONS,
    CREATE_VENV,
    GUARD,
    Plan,
    Step,
    TargetFacts,
    bytecode_step,
    create_venv_step,
    guard_off_step,
    guard_step,
    uv_lock_install_step,
)

if TYPE_CHECKING:
    from packaging.version import Version

    from torchsetup.detect.model import Environment, TargetPython, Tools
    from torchsetup.matrix.model import Matrix
    from torchsetup.resolve.request import Request

# name -> does the index/folder the plan installs from carry it (None: could not tell)
Carries = Callable[[str], Optional[bool]]

# installed distributions the plan depends on: recorded in TargetFacts, compared before running
WATCHED = ("torch", "torchvision", "torchaudio", "torchtriton", "pip")

# --- reading argv ----------------------------------------------------------------------------


def pip_subcommand(argv: Sequence[str]) -> Optional[int]:
    """Index of the pip subcommand in ``argv`` (``python -m pip X``, ``uv pip X``, ``pip X``)."""
    for i in range(1, min(len(argv) - 1, 3)):
        if argv[i] == "-m" and argv[i + 1] == "pip" and i + 2 < len(argv):
            return i + 2
    if len(argv) > 2 and _stem(argv[0]) == "uv" and argv[1] == "pip":
        return 2
    if len(argv) > 1 and _stem(argv[0]) in ("pip", "pip3"):
        return 1
    return None


def _stem(program: str) -> str:
    """'/usr/bin/pip3' -> 'pip3', 'C:\\x\\uv.exe' -> 'uv' (os.path, not pathlib: start-up)."""
    name = posixpath.basename(program.replace("\\", "/"))
    return name.rsplit(".", 1)[0] if "." in name[1:] else name


def is_install(step: Step) -> bool:
    i = pip_subcommand(step.argv)
    return i is not None and step.argv[i] == "install"


def option_value(argv: Sequence[str], *names: str) -> Optional[str]:
    for i, arg in enumerate(argv):
        for name in names:
            if arg == name and i + 1 < len(argv):
                return argv[i + 1]
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def step_python(step: Step) -> Optional[str]:
    """The interpreter a pip/uv step changes (None for other steps)."""
    if pip_subcommand(step.argv) is None:
        return None
    program = _stem(step.argv[0])
    if program == "uv":
        return option_value(step.argv, "--python", "-p")
    return None if program in ("pip", "pip3") else step.argv[0]


def version_matches(planned: str, offered: str | Version) -> bool:
    """Does ``offered`` satisfy ``==planned``? 2.13.0 matches 2.13.0+cpu; 2.13.0+cpu only itself."""
    from packaging.version import InvalidVersion, Version

    try:
        want = Version(planned)
        have = offered if isinstance(offered, Version) else Version(offered)
    except InvalidVersion:
        return planned == str(offered)
    return have == want if want.local else Version(have.public) == want


# --- the source ------------------------------------------------------------------------------

_SOURCE_OPTIONS = ("--index-url", "-i", "--find-links", "-f", "--default-index")


def _without_source(argv: Sequence[str]) -> tuple[str, ...]:
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in _SOURCE_OPTIONS:
            skip = True
        elif arg != "--no-index" and not arg.startswith(tuple(o + "=" for o in _SOURCE_OPTIONS)):
            out.append(arg)
    return tuple(out)


def apply_source(plan: Plan, *, index_url: Optional[str], find_links: Optional[str]) -> Plan:
    """Point the plan's install steps at ``--index-url URL`` or ``--find-links DIR --no-index``."""
    if not index_url and not find_links:
        return plan
    if index_url and find_links:
        raise UsageError("use either --index-url or --find-links, not both")
    if plan.method not in ("pip", "uv"):
        raise UsageError(
            f"--index-url and --find-links apply to the pip and uv methods, not {plan.method}"
        )
    extra = (
        ("--no-index", "--find-links", str(find_links))
        if find_links
        else ("--index-url", str(index_url))
    )
    old = plan.index_url
    where = f"the folder {find_links} (--no-index)" if find_links else str(index_url)

    def described(text: str) -> str:  # "Install ... from <old index>" names the new source
        return text.replace(f"from {old}", f"from {where}") if old else text

    steps = tuple(
        dataclasses.replace(
            s, argv=_without_source(s.argv) + extra, description=described(s.description)
        )
        if is_install(s)
        else s
        for s in plan.steps
    )
    reasons = plan.reasons
    if old and find_links:
        folder = f"--find-links {find_links} --no-index: every package comes from this folder"
        reasons = (*(r for r in reasons if old not in r), folder + "; no index is asked")
    elif old:
        reasons = tuple(r.replace(old, str(index_url)) for r in reasons)
    return dataclasses.replace(
        plan, steps=steps, reasons=reasons, index_url=None if find_links else index_url
    )


# --- companions the source lacks -------------------------------------------------------------


def missing_companions(plan: Plan, carries: Optional[Carries]) -> list[str]:
    """Default companions (not asked for with --with) that the index or folder does not carry."""
    if carries is None or plan.detail("companions") != "default":
        return []
    return [name for name, _ in plan.packages() if name in COMPANIONS and carries(name) is False]


def drop_companions(plan: Plan, names: Sequence[str]) -> Plan:
    """The plan without ``names`` (pins like ``torchvision==0.28.0`` removed), with a note."""
    if not names:
        return plan
    pins = tuple(f"{n}==" for n in names)

    def without(st: Step) -> Step:
        if not is_install(st):
            return st
        argv = tuple(a for a in st.argv if not a.startswith(pins))
        words = [w for w in st.description.split(" ") if not w.startswith(pins)]
        description = " ".join(words).replace(", from ", " from ").replace(",,", ",")
        return dataclasses.replace(st, argv=argv, description=description)

    note = (
        f"the index has no {' or '.join(names)}: installing without "
        f"(--with {','.join(names)} makes it required)"
    )
    return dataclasses.replace(
        plan,
        steps=tuple(without(st) for st in plan.steps),
        torchvision=None if "torchvision" in names else plan.torchvision,
        torchaudio=None if "torchaudio" in names else plan.torchaudio,
        warnings=(*plan.warnings, note),
    )


# --- what is installed -----------------------------------------------------------------------


def _public(version: str) -> str:
    return version.partition("+")[0]


def installed_variant(name: str, py: TargetPython) -> Optional[str]:
    """cpu / cu128 / rocm6.2 of an installed torch-family package; None when it does not say."""
    if name == "torch" and py.torch is not None:
        return py.torch.variant
    dist = py.dist(name)
    return dist.local if dist else None


_TORCH_PIN = re.compile(r"^torch\s*==\s*([^\s;,]+)")


def conflicts(plan: Plan, py: TargetPython) -> list[tuple[str, str]]:
    """(distribution, why it must go) for installed packages the plan must replace."""
    out = []
    torch = py.dist("torch")
    variant = installed_variant("torch", py)
    if (
        torch
        and variant
        and variant != plan.variant
        and _public(torch.version) == _public(plan.torch)
    ):
        out.append(
            (
                "torch",
                f"torch {torch.version} is a {variant} build, the plan installs {plan.variant}",
            )
        )
    if py.dist("torchtriton"):
        out.append(
            (
                "torchtriton",
                "torchtriton is the Dec-2022 dependency-confusion package; torch never needs it",
            )
        )
    for name in COMPANIONS:
        dist = py.dist(name)
        if dist is None:
            continue
        planned: Optional[str] = getattr(plan, name)
        pin = next((m.group(1) for m in map(_TORCH_PIN.match, dist.requires) if m), None)
        if planned is None and pin and _public(pin) != _public(plan.torch):
            out.append(
                (
                    name,
                    f"{name} {dist.version} requires torch=={pin}, the plan installs torch {plan.torch}",
                )
            )
        elif (
            dist.local
            and dist.local != plan.variant
            and (planned is None or _public(planned) == dist.public_version)
        ):
            out.append(
                (
                    name,
                    f"{name} {dist.version} is a {dist.local} build, the plan installs {plan.variant}",
                )
            )
    return out


def conflict_steps(plan: Plan, installed: TargetPython) -> list[Step]:
    """Explicit uninstall steps for what the plan must replace but the installer would keep.

    pip and uv keep ``torch 2.13.0+cpu`` when asked for ``torch==2.13.0`` from a CUDA index
    (the version is satisfied), never remove ``torchtriton`` and keep a torchvision built for
    another torch. Packages conda installed are removed with conda.
    """
    found = conflicts(plan, installed)
    if not found:
        return []
    why = "; ".join(reason for _, reason in found)
    by_conda = [
        n for n, _ in found if (d := installed.dist(n)) is not None and d.installer == "conda"
    ]
    by_pip = [n for n, _ in found if n not in by_conda]
    steps = []
    if by_pip:
        argv = (
            ("uv", "pip", "uninstall", "--python", plan.python, *by_pip)
            if plan.method == "uv"
            else (plan.python, "-m", "pip", "uninstall", "-y", *by_pip)
        )
        steps.append(Step("uninstall-conflicts", f"Uninstall {', '.join(by_pip)} ({why})", argv))
    if by_conda:
        names = ["pytorch" if n == "torch" else n for n in by_conda]
        steps.append(
            Step(
                "uninstall-conflicts-conda",
                f"Remove {', '.join(names)} with conda ({why})",
                ("conda", "remove", "-y", "--prefix", installed.prefix or "", *names),
            )
        )
    return steps


def already_satisfied(plan: Plan, installed: TargetPython) -> bool:
    """True when the target holds exactly the planned builds (versions and variant) and nothing
    the plan would have to replace."""
    for name, version in plan.packages():
        dist = installed.dist(name)
        if dist is None or not version_matches(version, dist.version):
            return False
        variant = installed_variant(name, installed)
        if variant is not None and variant != plan.variant:
            return False
    return not conflicts(plan, installed)


# --- argv for this target --------------------------------------------------------------------


def break_system_packages(step: Step) -> Step:
    i = pip_subcommand(step.argv)
    if (
        i is None
        or step.argv[i] not in ("install", "uninstall")
        or "--break-system-packages" in step.argv
    ):
        return step
    return dataclasses.replace(
        step, argv=(*step.argv[: i + 1], "--break-system-packages", *step.argv[i + 1 :])
    )


_CONDA_FAMILY = ("conda", "mamba", "micromamba")


def resolve_program(argv: tuple[str, ...], tools: Tools) -> tuple[str, ...]:
    """Replace a bare ``uv``/``conda``/``mamba``/``micromamba`` with the program the target
    machine has (its tools probe); left bare when none was found."""
    prog = argv[0]
    found: Optional[str] = None
    if prog == "uv":
        found = tools.path("uv")
    elif prog in _CONDA_FAMILY:
        found = tools.path(prog) or next(
            (p for p in (tools.path(n) for n in _CONDA_FAMILY) if p), None
        )
    return (found, *argv[1:]) if found else argv


# --- the facts the plan assumed --------------------------------------------------------------


def target_facts(py: TargetPython) -> TargetFacts:
    """The facts of an existing target that the plan depends on."""
    return TargetFacts(
        python=py.executable,
        exists=True,
        version=py.version,
        prefix=py.prefix,
        env_kind=py.env_kind,
        packages=tuple((d.name, d.version) for n in WATCHED if (d := py.dist(n)) is not None),
        torch_variant=py.torch.variant if py.torch is not None else None,
    )


def _minor(version: Optional[str]) -> Optional[str]:
    m = re.match(r"(\d+)\.(\d+)", version or "")
    return f"{m.group(1)}.{m.group(2)}" if m else None


def target_changes(planned: TargetFacts, now: TargetFacts) -> list[str]:
    """What differs between the facts a plan was made from and the target as it is now."""
    out = []
    if _minor(planned.version) and _minor(now.version) != _minor(planned.version):
        out.append(f"Python was {planned.version}, is now {now.version}")
    if not planned.exists:
        return out
    if (
        planned.prefix
        and now.prefix
        and os.path.normpath(planned.prefix) != os.path.normpath(now.prefix)
    ):
        out.append(f"its prefix was {planned.prefix}, is now {now.prefix}")
    if planned.env_kind and now.env_kind != planned.env_kind:
        out.append(f"it was a {planned.env_kind} environment, is now {now.env_kind}")
    before, after = dict(planned.packages), dict(now.packages)
    for name in WATCHED:
        if before.get(name) != after.get(name):
            was = before.get(name) or "not installed"
            out.append(f"{name} was {was}, is now {after.get(name) or 'not installed'}")
    if (
        planned.torch_variant != now.torch_variant
        and before.get("torch") == after.get("torch")
        and "torch" in before
    ):
        out.append(f"torch was a {planned.torch_variant} build, is now {now.torch_variant}")
    return out


# --- the whole completion --------------------------------------------------------------------


def complete_plan(
    plan: Plan,
    target: Optional[TargetPython],
    *,
    tools: Tools,
    venv: Optional[str] = None,
    find_links: Optional[str] = None,
    force: bool = False,
    carries: Optional[Carries] = None,
    uv_venv: bool = False,
    guard: bool = False,
    guarded: Sequence[str] = (),
    program: Sequence[str] = ("torchsetup",),
) -> Plan:
    """``plan`` with every step it will run for ``target`` (the interpreter the plan installs
    into, as probed; for a ``venv`` to create, the base interpreter that creates it; None when
    the plan is for an interpreter that was not probed). ``guard``: end with the guard step;
    ``guarded``: the pins of the guard the target has now; ``program``: how the steps run
    torchsetup itself. See the module doc."""
    plan = apply_source(plan, index_url=None, find_links=find_links)
    plan = drop_companions(plan, missing_companions(plan, carries))
    steps = list(plan.steps)
    facts: Optional[TargetFacts] = None
    satisfied: Optional[str] = None
    if venv is not None:
        base = target.executable if target is not None else "python3"
        version = target.version if target is not None else plan.python_version
        uv = (tools.path("uv") or "uv") if uv_venv else None
        steps.insert(
            0,
            create_venv_step(base, venv, python_version=plan.python_version, uv=uv),
        )
        facts = TargetFacts(python=plan.python, exists=False, version=version, base_python=base)
    elif target is not None and target.ok:
        facts = dataclasses.replace(target_facts(target), python=plan.python)
        if already_satisfied(plan, target):
            torch = target.dist("torch")
            satisfied = f"torch {torch.version if torch else plan.torch}"
            steps = []
        elif not any(st.id.startswith("uninstall-conflicts") for st in steps):
            first = next((i for i, st in enumerate(steps) if st.changes_target), len(steps))
            steps[first:first] = conflict_steps(plan, target)
        if force and target.externally_managed:
            steps = [break_system_packages(st) for st in steps]
    else:
        facts = TargetFacts(python=plan.python, version=plan.python_version)
    guardable = venv is not None or (
        target is not None and target.ok and target.env_kind in ("venv", "conda")
    )
    if guardable and plan.method in ("pip", "uv"):
        steps = guard_steps(plan, steps, guard=guard, guarded=guarded, program=program)
    steps = [dataclasses.replace(st, argv=resolve_program(st.argv, tools)) for st in steps]
    return dataclasses.replace(plan, steps=tuple(steps), target=facts, already_satisfied=satisfied)


def guard_steps(
    plan: Plan,
    steps: Sequence[Step],
    *,
    guard: bool,
    guarded: Sequence[str],
    program: Sequence[str],
) -> list[Step]:
    """``steps`` with the guard: lifted first when the target has one (the install would
    otherwise be held by it), set after the last install step unless ``guard`` is False."""
    out = list(steps)
    installs = [i for i, st in enumerate(out) if is_install(st)]
    if not installs:
        return out
    if guard:
        packages = [f"{name} {version}" for name, version in plan.packages()]
        out.insert(installs[-1] + 1, guard_step(program, plan.python, packages))
    if guarded:
        first = next((i for i, st in enumerate(out) if st.id != CREATE_VENV), len(out))
        out.insert(first, guard_off_step(program, plan.python, guarded, again=guard))
    return out


def with_lock(plan: Plan, lock_path: str, packages: int) -> Plan:
    """``plan`` (a uv plan for the lock's torch build) installing exactly the lock instead:
    its install step becomes ``uv pip install -r LOCK`` (the other steps stay)."""
    if plan.method != "uv":
        raise UsageError("--lock installs with uv: uv was not found on this machine")
    steps = tuple(
        _locked(st, uv_lock_install_step(plan.python, lock_path, packages, st.argv[0]))
        if is_install(st)
        else st
        for st in plan.steps
    )
    return dataclasses.replace(
        plan,
        steps=steps,
        reasons=(*plan.reasons, f"--lock {lock_path}: exactly its {packages} files are installed."),
    )


def _locked(step: Step, lock_step: Step) -> Step:
    """``lock_step`` compiling all the bytecode when ``step`` did (``--bytecode all``)."""
    return (
        _with_flag(lock_step, "--compile-bytecode")
        if "--compile-bytecode" in step.argv
        else lock_step
    )


# --- the bytecode ------------------------------------------------------------------------------

BYTECODE_MODES = ("import", "all", "none")


def default_bytecode(method: str) -> str:
    """uv: what ``import torch`` loads (the ``bytecode`` step); pip: all, as pip does by default."""
    return "import" if method == "uv" else "all"


def with_bytecode(
    steps: Sequence[Step],
    python: str,
    method: str,
    mode: Optional[str],
    *,
    script: Optional[str] = None,
    cache: Optional[str] = None,
) -> list[Step]:
    """``steps`` (of a pip or uv plan) writing the bytecode ``mode`` asks for:

    - ``import`` (uv's default): the install steps compile nothing (``pip --no-compile``; uv does
      not compile by default) and a ``bytecode`` step after the last one imports torch once with
      bytecode writing on, so exactly the modules the first ``import torch`` loads get their
      ``.pyc`` (about a sixth of torch's sources: on 2 cores 3 s instead of 9-15 s);
    - ``all`` (pip's default): every module compiled at install (``uv --compile-bytecode``);
    - ``none``: nothing compiled (``pip --no-compile``); the first imports compile in memory,
      and write ``.pyc`` files unless ``PYTHONDONTWRITEBYTECODE`` is set.

    ``script``/``cache``: the bytecode step runs ``resources/bytecode.py`` with this cache
    (:func:`torchsetup.resolve.plan.bytecode_step`).
    """
    mode = mode or default_bytecode(method)
    if mode not in BYTECODE_MODES:
        raise UsageError(f"--bytecode {mode}: not one of {', '.join(BYTECODE_MODES)}")
    out = [st for st in steps if st.id != BYTECODE]
    for i, st in enumerate(out):
        if not is_install(st):
            continue
        if _stem(st.argv[0]) == "uv" and mode == "all":
            out[i] = _with_flag(st, "--compile-bytecode")
        elif _stem(st.argv[0]) != "uv" and mode != "all":
            out[i] = _with_flag(st, "--no-compile")
    installs = [i for i, st in enumerate(out) if is_install(st)]
    if mode == "import" and installs:
        out.insert(installs[-1] + 1, bytecode_step(python, script, cache))
    return out


def _with_flag(step: Step, flag: str) -> Step:
    """``step`` (a pip/uv install) with ``flag`` after ``install`` (after ``--python PY`` for uv)."""
    argv = list(step.argv)
    if flag in argv:
        return step
    at = (pip_subcommand(argv) or 0) + 1
    if argv[at : at + 1] == ["--python"]:
        at += 2
    argv.insert(at, flag)
    return dataclasses.replace(step, argv=tuple(argv))


def plan_install(
    env: Environment,
    request: Request,
    matrix: Matrix,
    *,
    find_links: Optional[str] = None,
    force: bool = False,
    carries: Optional[Carries] = None,
    stack_data: Optional[Any] = None,
    guard: bool = True,
    guarded: Sequence[str] = (),
    bytecode: Optional[str] = None,
) -> Plan:
    """The complete plan of ``torchsetup install``: :func:`resolve`, then :func:`complete_plan`
    for the target interpreter the Environment probed. What ``--dry-run``, ``--json`` and
    ``--export`` print is exactly what the executor runs. ``guard``: pin the build afterwards
    (``--no-guard``: False); ``guarded``: the pins of the target's guard now; ``bytecode``:
    ``--bytecode`` (:func:`with_bytecode`; None: the engine's default)."""
    from torchsetup.resolve.resolver import resolve

    stack = None
    if request.stack or request.stack_set:  # issue 13: vLLM may dictate torch; the stack follows
        from torchsetup.matrix.stack import load_stack
        from torchsetup.resolve.stack import dictated_request

        stack = stack_data or load_stack()  # stack_data: with what the index says now
        request = dictated_request(env, request, stack)
    plan = resolve(env, request, matrix)
    py = env.python if env.python is not None and env.python.ok else None
    venv = request.venv if request.create_venv and request.venv else None
    # the probed interpreter is the target only when the plan is for it: not for --target-python
    # X.Y of another interpreter, nor for --python/--venv paths named for a snapshot's machine
    if py is not None and request.target_python and request.target_python != py.minor:
        py = None
    named = request.python or (request.venv and not request.create_venv)
    if py is not None and env.source != "live" and named:
        py = None
    plan = complete_plan(
        plan,
        py,
        tools=env.tools,
        venv=venv,
        find_links=find_links,
        force=force,
        carries=carries,
        uv_venv=plan.method == "uv",
        guard=guard,
        guarded=guarded,
        program=_torchsetup_program(env),
    )
    if stack is not None:
        from torchsetup.resolve.stack import add_stack

        plan = add_stack(plan, env, request, stack)
        # the guard pins what is installed: it comes after the stack's installs too
        guards = [st for st in plan.steps if st.id == GUARD]
        others = [st for st in plan.steps if st.id != GUARD]
        plan = dataclasses.replace(plan, steps=(*others, *guards))
    if plan.method in ("pip", "uv") and plan.steps:
        script, cache = _bytecode_script(env)
        steps = with_bytecode(
            plan.steps, plan.python, plan.method, bytecode, script=script, cache=cache
        )
        plan = dataclasses.replace(plan, steps=tuple(steps))
    elif plan.method not in ("pip", "uv") and bytecode not in (None, "all"):
        raise UsageError(
            f"--bytecode {bytecode} is for pip and uv installs, not --method {plan.method}"
        )
    return plan


def _bytecode_script(env: Environment) -> tuple[Optional[str], Optional[str]]:
    """(resources/bytecode.py, torchsetup's bytecode cache) for a plan for this machine; a plan
    for another one imports by ``python -c`` instead (neither need exist there)."""
    if env.source != "live":
        return None, None
    from torchsetup.paths import cache_dir
    from torchsetup.resources import BYTECODE

    return BYTECODE, str(cache_dir() / "bytecode")


def _torchsetup_program(env: Environment) -> tuple[str, ...]:
    """How a step runs torchsetup: this very installation for a plan for this machine (it
    need not be on PATH), plain ``torchsetup`` in a plan for another machine."""
    import sys

    if env.source == "live" and sys.executable:
        return (sys.executable, "-m", "torchsetup")
    return ("torchsetup",)


__all__ = [
    "BYTECODE_MODES",
    "CREATE_VENV",
    "Carries",
    "already_satisfied",
    "apply_source",
    "complete_plan",
    "conflict_steps",
    "default_bytecode",
    "drop_companions",
    "plan_install",
    "target_changes",
    "target_facts",
    "with_bytecode",
    "with_lock",
]
