"""Plans: what an install will do, as data. Built by the resolver, run by the executor.

A plan carries its reasons: the facts it used, the choice, every candidate it rejected and
why, and warnings the user must see before anything changes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Container, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from torchsetup.records import Record, to_jsonable
from torchsetup.redact import redact_argv, redact_url_credentials

PYTORCH_GIT = "https://github.com/pytorch/pytorch"
COMPANIONS = (
    "torchvision",
    "torchaudio",
)  # installed with torch unless --only/--with say otherwise
GB = 1024**3
BYTES_PER_BUILD_JOB = 2.5 * GB  # a PyTorch compile job peaks around 2-3 GB of RAM


@dataclass(frozen=True, eq=False, repr=False)
class Step(Record):
    """One command of a plan. ``argv`` is a list, never a shell string; ``env`` are additions."""

    id: str  # stable: "create-venv", "upgrade-pip", "uninstall-conflicts", "install", "clone", ...
    description: str
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    cwd: Optional[str] = None
    timeout_s: Optional[float] = None
    changes_target: bool = True  # False for read-only checks

    @property
    def env_dict(self) -> dict[str, str]:
        return dict(self.env)

    def shell_words(self) -> list[str]:
        """This step as POSIX shell words, each quoted: VAR=value prefixes, a subshell ``cd`` for ``cwd``."""
        import shlex

        # quote each value, not the whole assignment: 'A=x y' would be a command name
        words = [f"{key}={shlex.quote(value)}" for key, value in self.env]
        words += [shlex.quote(arg) for arg in self.argv]
        return ["(", "cd", shlex.quote(self.cwd), "&&", *words, ")"] if self.cwd else words

    def shell_line(self) -> str:
        return " ".join(self.shell_words())


@dataclass(frozen=True, eq=False, repr=False)
class Fact(Record):
    """A fact the resolver used, with where it came from ("NVML", "--target-driver", ...)."""

    name: str
    value: str
    source: str


@dataclass(frozen=True, eq=False, repr=False)
class Rejection(Record):
    """A candidate (torch version + variant) the resolver did not take, and why."""

    torch: str
    variant: str
    reason: str


@dataclass(frozen=True, eq=False, repr=False)
class TargetFacts(Record):
    """What the plan assumed about its target: the executor re-reads the target before it runs
    anything and refuses (exit 2) when one of these no longer holds."""

    python: str  # the interpreter the steps install into
    exists: bool = True  # False: a virtual environment the plan creates (``create-venv``)
    version: Optional[str] = (
        None  # "3.11.7": the target's, or the base interpreter's for a new venv
    )
    base_python: Optional[str] = None  # a new venv: the interpreter that creates it
    prefix: Optional[str] = None
    env_kind: Optional[str] = None  # "venv" | "conda" | "system"
    packages: tuple[tuple[str, str], ...] = ()  # the torch family installed: (name, version)
    torch_variant: Optional[str] = None  # the installed torch's build: cpu, cu130, ...


@dataclass(frozen=True, eq=False, repr=False)
class Plan(Record):
    method: str  # "pip" | "uv" | "conda" | "source"
    torch: str
    variant: str  # "cu118", "cpu", "rocm6.2", ...
    python: str  # target interpreter (executable) or the planned one
    torchvision: Optional[str] = None
    torchaudio: Optional[str] = None
    index_url: Optional[str] = None
    python_version: Optional[str] = None
    steps: tuple[Step, ...] = ()
    facts: tuple[Fact, ...] = ()
    reasons: tuple[str, ...] = ()
    rejected: tuple[Rejection, ...] = ()
    warnings: tuple[str, ...] = ()
    extra: tuple[tuple[str, str], ...] = field(default=())  # method-specific details
    target: Optional[TargetFacts] = None  # what the plan assumed (None: not completed yet)
    already_satisfied: Optional[str] = (
        None  # "torch 2.13.0+cpu": the target holds the plan; no steps
    )
    stack: Optional[Any] = None  # resolve.stack.StackPlan: --stack/--with components (issue 13)

    def packages(self) -> list[tuple[str, str]]:
        """(distribution, exact version) the plan installs."""
        out = [("torch", self.torch)]
        if self.torchvision:
            out.append(("torchvision", self.torchvision))
        if self.torchaudio:
            out.append(("torchaudio", self.torchaudio))
        return out

    def redacted(self) -> Plan:
        """A copy safe to print, log or export: no credentials in URLs (index URLs, argv, env)."""
        return dataclasses.replace(
            self,
            index_url=redact_url_credentials(self.index_url) if self.index_url else None,
            steps=tuple(
                dataclasses.replace(
                    s,
                    description=redact_url_credentials(s.description),
                    argv=tuple(redact_argv(s.argv)),
                    env=tuple((k, redact_url_credentials(v)) for k, v in s.env),
                )
                for s in self.steps
            ),
            reasons=tuple(redact_url_credentials(r) for r in self.reasons),
            warnings=tuple(redact_url_credentials(w) for w in self.warnings),
        )

    def detail(self, key: str) -> Optional[str]:
        """A method-specific detail from ``extra`` (wheel tag, arch list, driver support...)."""
        return dict(self.extra).get(key)

    @property
    def install_requirements(self) -> list[str]:
        """``name==version`` pins of the packages this plan installs."""
        return [f"{name}=={version}" for name, version in self.packages()]

    def to_dict(self) -> dict[str, Any]:
        return {
            "plan": {
                "method": self.method,
                "torch": self.torch,
                "torchvision": self.torchvision,
                "torchaudio": self.torchaudio,
                "variant": self.variant,
                "index_url": self.index_url,
                "python": self.python,
                "python_version": self.python_version,
                "steps": [
                    {
                        "id": s.id,
                        "description": s.description,
                        "argv": list(s.argv),
                        "env": dict(s.env),
                        "cwd": s.cwd,
                    }
                    for s in self.steps
                ],
                "target": to_jsonable(self.target) if self.target is not None else None,
                "already_satisfied": self.already_satisfied,
            },
            "facts": to_jsonable(self.facts),
            "reasons": list(self.reasons),
            "rejected": to_jsonable(self.rejected),
            "warnings": list(self.warnings),
            **({"stack": to_jsonable(self.stack)} if self.stack is not None else {}),
        }


# --- step builders (pure): one per install method ------------------------------------------------


CREATE_VENV = "create-venv"


def create_venv_step(
    base_python: str,
    venv_dir: str,
    *,
    python_version: Optional[str] = None,
    uv: Optional[str] = None,
) -> Step:
    """``python -m venv DIR`` from the base interpreter, or ``uv venv --python BASE DIR`` (``uv``:
    the uv program, for the uv method)."""
    version = f"Python {python_version or 'default'}"
    if uv is not None:
        return Step(
            id=CREATE_VENV,
            description=f"Create the virtual environment {venv_dir} ({version}, uv)",
            argv=(uv, "venv", "--python", base_python, venv_dir),
            timeout_s=300,
        )
    return Step(
        id=CREATE_VENV,
        description=f"Create the virtual environment {venv_dir} ({version})",
        argv=(base_python, "-m", "venv", venv_dir),
        timeout_s=300,
    )


def pip_upgrade_step(python: str, min_pip: str, why: str) -> Step:
    return Step(
        id="upgrade-pip",
        description=f"Upgrade pip to >= {min_pip} ({why})",
        argv=(python, "-m", "pip", "install", "--upgrade", f"pip>={min_pip}"),
    )


def pip_install_step(python: str, requirements: Sequence[str], index_url: str) -> Step:
    """``python -m pip install torch==X ... --index-url URL``: one index, never --extra-index-url."""
    return Step(
        id="install",
        description=f"Install {', '.join(requirements)} from {index_url}",
        argv=(python, "-m", "pip", "install", *requirements, "--index-url", index_url),
    )


def uv_install_step(
    python: str, requirements: Sequence[str], index_url: str, uv: str = "uv"
) -> Step:
    """``uv pip install --python PY torch==X ... --index-url URL``: uv's cache (hard links on one
    file system) is left on, so a second venv copies, not downloads. The bytecode is the plan's
    ``bytecode`` step (:func:`bytecode_step`), or ``--compile-bytecode`` with ``--bytecode all``
    (``torchsetup.resolve.complete.with_bytecode``)."""
    return Step(
        id="install",
        description=f"Install {', '.join(requirements)} from {index_url} with uv",
        argv=(uv, "pip", "install", "--python", python, *requirements, "--index-url", index_url),
    )


def uv_lock_install_step(python: str, lock_path: str, packages: int, uv: str = "uv") -> Step:
    """``uv pip install --python PY -r pylock.toml``: exactly the lock's files (no resolution),
    each checked against its sha256 (a file whose hash differs is refused)."""
    return Step(
        id="install",
        description=(
            f"Install exactly the lock {lock_path} ({packages} packages, every file checked "
            "against its sha256) with uv"
        ),
        argv=(
            uv,
            "pip",
            "install",
            "--python",
            python,
            "--preview-features",
            "pylock",
            "-r",
            lock_path,
        ),
    )


BYTECODE = "bytecode"

# a plan for another machine, where torchsetup's resources/bytecode.py need not be: the same
# import by `python -c`, sys.path[0] (the working directory) dropped so that a torch/ folder
# there is not what gets imported; an import that fails does not fail the step (verify says why)
_WARM_IMPORT = (
    "import sys; sys.path[:1] = []; sys.dont_write_bytecode = False; "
    'exec("try: import torch\\nexcept Exception as e: '
    'print(type(e).__name__, str(e)[:300], file=sys.stderr)")'
)


def warm_import_argv(python: str) -> tuple[str, ...]:
    """``python -c "..."``: one ``import torch`` with bytecode writing on (what the ``bytecode``
    step runs for a plan for another machine; doctor's fix for TS134)."""
    return (python, "-c", _WARM_IMPORT)


def bytecode_step(python: str, script: Optional[str] = None, cache: Optional[str] = None) -> Step:
    """Import torch once in the target with bytecode writing on (also where
    ``PYTHONDONTWRITEBYTECODE`` is set): the ``.pyc`` of every module ``import torch`` loads is
    written, about a sixth of torch's sources, so the first ``import torch`` is as fast as after
    pip, which compiles all of them. ``script``: ``resources/bytecode.py`` (a plan for this
    machine), which with ``cache`` also keeps those ``.pyc`` files for the next venv of the same
    build; without it, the same import by ``python -c``."""
    argv = warm_import_argv(python)
    if script is not None:
        argv = (python, script, *(("--cache", cache) if cache else ()))
    return Step(
        id=BYTECODE,
        description="Write the bytecode of what `import torch` loads (the first import is then as after pip)",
        argv=argv,
        timeout_s=600,
    )


GUARD = "guard"
GUARD_OFF = "guard-off"


def guard_step(program: Sequence[str], python: str, packages: Sequence[str]) -> Step:
    """``torchsetup guard on --python PY``: pin the build just installed (its exact version, local
    tag included, as installed) for every later pip install in the environment, and uv's in the
    activated environment. ``--no-guard`` leaves this step out."""
    return Step(
        id=GUARD,
        description=(
            f"Guard the new build: pin {', '.join(packages)} as installed for later pip/uv "
            "installs here (torchsetup guard off lifts it; --no-guard skips this step)"
        ),
        argv=(*program, "guard", "on", "--python", python),
        timeout_s=120,
    )


def guard_off_step(
    program: Sequence[str], python: str, pins: Sequence[str], *, again: bool = True
) -> Step:
    """``torchsetup guard off --python PY`` before a plan replaces a guarded build (the guard
    step after the install pins the new one: the guard moves with a deliberate upgrade)."""
    return Step(
        id=GUARD_OFF,
        description=(
            f"Lift the guard ({', '.join(pins) or 'torch'} pinned) so this install may replace "
            "the build"
            + ("; it is set again for the new build at the end" if again else " (--no-guard)")
        ),
        argv=(*program, "guard", "off", "--python", python),
        timeout_s=120,
    )


def conda_install_step(command: str, prefix: Optional[str], keep: Container[str]) -> Step:
    """The documented conda command without the companions not in ``keep`` (--only/--with),
    pointed at the target environment when it is a conda one."""
    argv = tuple(
        t
        for t in command.split()
        if t.partition("==")[0] not in COMPANIONS or t.partition("==")[0] in keep
    )
    if prefix:
        argv = (*argv, "--prefix", prefix)
    return Step(id="install", description="Install from the pytorch conda channel", argv=argv)


def max_build_jobs(cores: Optional[int], memory_bytes: Optional[int]) -> Optional[int]:
    """Parallel compile jobs that fit in RAM: about one per 2.5 GB, at least 1, at most ``cores``."""
    if not cores or not memory_bytes:
        return None
    return max(1, min(cores, int(memory_bytes // BYTES_PER_BUILD_JOB)))


def source_steps(
    python: str, git_tag: str, build: str, env: Sequence[tuple[str, str]]
) -> tuple[Step, ...]:
    """Clone the tagged release, install its build requirements, build and install it.

    ``build`` is the release's documented command style: ``setup-py-develop`` (``python
    setup.py develop``, up to 2.8) or ``pip-editable`` (``pip install --no-build-isolation -v -e .``).
    """
    checkout = f"pytorch-{git_tag}"
    if build == "pip-editable":
        build_argv: tuple[str, ...] = (
            python,
            "-m",
            "pip",
            "install",
            "--no-build-isolation",
            "-v",
            "-e",
            ".",
        )
    else:
        build_argv = (python, "setup.py", "develop")
    return (
        Step(
            id="clone",
            description=f"Clone PyTorch {git_tag} with its submodules",
            argv=("git", "clone", "--branch", git_tag, "--recursive", PYTORCH_GIT, checkout),
            timeout_s=3600,
        ),
        Step(
            id="build-requirements",
            description="Install the build requirements of this release",
            argv=(python, "-m", "pip", "install", "-r", "requirements.txt"),
            cwd=checkout,
        ),
        Step(
            id="build",
            description=f"Build and install torch from source (python {' '.join(build_argv[1:])})",
            argv=build_argv,
            env=tuple(env),
            cwd=checkout,
            timeout_s=6 * 3600,
        ),
    )
