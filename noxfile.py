"""nox sessions: tests on every supported Python found here, lint, typecheck, build.

nox                 # lint, typecheck, tests on each Python found
nox -s tests-3.12   # one interpreter
nox -s build
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True

# The supported Pythons are pyproject's classifiers ("Programming Language :: Python :: 3.X").
PYTHONS = nox.project.python_versions(nox.project.load_toml("pyproject.toml"))
FOUND = [v for v in PYTHONS if shutil.which(f"python{v}")]


@nox.session(python=FOUND or None)
def tests(session: nox.Session) -> None:
    """The whole suite (slow tests included; gpu tests run only where a GPU is)."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def fuzz(session: nox.Session) -> None:
    """The fuzz suite alone (tests/fuzz: a fixed, derandomized budget of a few hundred examples,
    about two minutes on two cores); TORCHSETUP_FUZZ_EXAMPLES=2000 hunts longer."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", "tests/fuzz", "-p", "no:cacheprovider", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.17")
    session.run("ruff", "check", "src", "tests", "benchmarks", "tools", "noxfile.py")
    session.run("ruff", "format", "--check", "src", "tests", "benchmarks", "tools", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy over [tool.mypy] files: src, tests, tools, benchmarks, noxfile.py.

    The test extra and nox are installed so that tests/ and this file are checked against their
    real types."""
    session.install("-e", ".[test]", "nox", "mypy>=1.10", "types-requests", "types-psutil")
    session.run("mypy", *session.posargs)


@nox.session
def build(session: nox.Session) -> None:
    session.install("build", "twine")
    shutil.rmtree("dist", ignore_errors=True)
    session.run("python", "-m", "build")
    session.run("twine", "check", "dist/*")


@nox.session(default=False)
def update_matrix(session: nox.Session) -> None:
    """Refresh the compatibility matrix from the live PyTorch indexes (prints a diff)."""
    session.install("-e", ".")
    session.run("python", "tools/update_matrix.py", *session.posargs)


@nox.session(default=False)
def matrix_refresh(session: nox.Session) -> None:
    """What the weekly workflow does, locally: record what the indexes show, re-curate, ask
    `torchsetup matrix --refresh` what they have beyond the data, print the readable diff."""
    session.install("-e", ".")
    session.run("python", "tools/update_matrix.py", "--write", success_codes=[0, 1])
    observed = Path(session.create_tmp()) / "observed.json"
    with observed.open("w", encoding="utf-8") as out:
        session.run("torchsetup", "matrix", "--refresh", "--json", stdout=out, success_codes=[0, 2])
    session.run("python", "tools/matrix_diff.py", "--observed", str(observed))


@nox.session(default=False)
def benchmarks(session: nox.Session) -> None:
    session.install("-e", ".[test]")
    for script in (
        "bench_doctor.py",
        "bench_resolve.py",
        "bench_install.py",
        "bench_verify.py",
        "bench_refresh.py",
    ):
        session.run("python", f"benchmarks/{script}")
