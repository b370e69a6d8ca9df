"""Real virtual environments with real torch, built once and cached between test runs.

The torch 2.13.0 CPU wheel for CPython 3.11 lies on this kind of machine (/opt/wheels, see
README "Testing"); its dependencies come from PyPI. pip always runs isolated from the global
pip configuration (which caps torch and adds a find-links folder that real users don't have).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

TORCH_VERSION = "2.13.0"
TORCH_PYTHON = "python3.11"  # the CPU wheel on disk is cp311
WHEEL_DIRS = [p for p in os.environ.get("TORCHSETUP_TEST_WHEELS", "/opt/wheels").split(os.pathsep) if p]


def cache_root() -> Path:
    root = os.environ.get("TORCHSETUP_TEST_CACHE")
    base = Path(root) if root else Path.home() / ".cache" / "torchsetup-tests"
    base.mkdir(parents=True, exist_ok=True)
    return base


def isolated_pip_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    env.pop("VIRTUAL_ENV", None)
    env.update(extra)
    return env


def find_torch_wheel(version: str = TORCH_VERSION) -> Path | None:
    for d in WHEEL_DIRS:
        for p in sorted(Path(d).glob(f"torch-{version}+cpu-cp311-cp311-*.whl")):
            return p
    return None


def python_for_torch() -> str | None:
    return shutil.which(TORCH_PYTHON)


def venv_python(path: Path) -> Path:
    return path / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def create_venv(path: Path, python: str | None = None, *, with_pip: bool = True) -> Path:
    """Create a venv with ``python`` (default: the running one) and return its interpreter."""
    if python is None or Path(python).resolve() == Path(sys.executable).resolve():
        venv.EnvBuilder(with_pip=with_pip, clear=True).create(path)
    else:
        args = [python, "-m", "venv", "--clear", str(path)]
        if not with_pip:
            args.insert(3, "--without-pip")
        subprocess.run(args, check=True, env=isolated_pip_env(), timeout=300)
    return venv_python(path)


def _ready_marker(path: Path) -> Path:
    return path / ".torchsetup-test-ready"


def cached_torch_venv() -> Path:
    """A venv (Python 3.11) holding torch 2.13.0+cpu and its dependencies; built once."""
    wheel = find_torch_wheel()
    py = python_for_torch()
    if wheel is None or py is None:
        raise RuntimeError(
            f"cannot build the torch test venv: needs {TORCH_PYTHON} and the torch {TORCH_VERSION} "
            f"CPU wheel in {WHEEL_DIRS} (set TORCHSETUP_TEST_WHEELS)"
        )
    key = hashlib.sha256(f"{wheel.name}|{Path(py).resolve()}|v1".encode()).hexdigest()[:12]
    path = cache_root() / f"venv-torch-{TORCH_VERSION}-{key}"
    python = venv_python(path)
    if _ready_marker(path).exists() and python.exists():
        return python
    if path.exists():
        shutil.rmtree(path)
    create_venv(path, py)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(wheel), "numpy"],
        check=True, env=isolated_pip_env(), timeout=1200,
    )
    _ready_marker(path).write_text(wheel.name)
    return python


def site_packages(python: Path | str) -> Path:
    out = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True, timeout=60,
    )
    return Path(out.stdout.strip())


def overlay_venv(path: Path, base_python: Path | str, *, python: str | None = TORCH_PYTHON) -> Path:
    """A cheap venv that sees ``base_python``'s site-packages through a .pth file.

    Lets tests break an environment (add a mismatched torchvision, shadow torch with a broken
    copy) without reinstalling torch each time.
    """
    py = create_venv(path, shutil.which(python) if python else None)
    base_site = site_packages(base_python)
    own_site = site_packages(py)
    (own_site / "zz_torchsetup_test_base.pth").write_text(str(base_site) + "\n")
    return py
