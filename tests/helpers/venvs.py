"""Real virtual environments with real torch, built once and cached between test runs.

The tests need the torch 2.13.0 CPU wheel for CPython 3.11. :func:`torch_wheel` finds it, in
this order, and never needs a setting on a machine that can reach the network:

1. the folders in ``TORCHSETUP_TEST_WHEELS`` (``os.pathsep``-separated);
2. the local folders pip is configured with (``find-links`` in ``pip config list``: a build
   machine that keeps wheels in ``/opt/wheels`` says so there);
3. the test cache (``<cache>/wheels``), where step 4 left it;
4. PyTorch's CPU index (``TORCHSETUP_TEST_TORCH_INDEX``, default
   https://download.pytorch.org/whl/cpu), downloaded once by ``pip download`` into the test
   cache.

Python 3.11 comes from PATH (``python3.11``), else this interpreter when it is 3.11, else uv
(a test dependency) finds or installs a managed 3.11. pip always runs isolated from the global
pip configuration (which may cap torch and add a find-links folder that real users don't
have); only the wheel search above reads it.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import venv
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Callable
from urllib.parse import unquote, urlparse

TORCH_VERSION = "2.13.0"
TORCH_PYTHON = "python3.11"  # the CPU wheel is cp311
TORCH_PYTHON_VERSION = (3, 11)
DEFAULT_TORCH_INDEX = "https://download.pytorch.org/whl/cpu"


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


# --- where the torch wheel comes from (pure: the config and the folders are injected) --------


def find_links_folders(pip_config_list: str) -> list[Path]:
    """The local folders among the ``find-links`` values of ``pip config list`` output.

    Lines look like ``global.find-links='/opt/wheels'`` or ``:env:.find-links='a b'``; a value
    may name several locations; ``file://`` URLs count, remote URLs do not.
    """
    found: list[Path] = []
    for line in pip_config_list.splitlines():
        key, sep, raw = line.partition("=")
        if not sep or key.strip().rpartition(".")[2] != "find-links":
            continue
        try:
            values = shlex.split(raw)
        except ValueError:
            continue
        for value in (v for text in values for v in text.split()):
            url = urlparse(value)
            if url.scheme == "file":
                path = Path(unquote(url.path))
            elif not url.scheme or len(url.scheme) == 1:  # a path (C:\\wheels on Windows)
                path = Path(value)
            else:
                continue
            if path not in found:
                found.append(path)
    return found


def wheel_folders(
    environ: Mapping[str, str], pip_find_links: Sequence[Path], cache: Path
) -> list[tuple[str, Path]]:
    """Where to look for the wheel, in order, each with where it came from."""
    folders = [
        ("TORCHSETUP_TEST_WHEELS", Path(p))
        for p in environ.get("TORCHSETUP_TEST_WHEELS", "").split(os.pathsep)
        if p
    ]
    folders += [("pip config find-links", p) for p in pip_find_links]
    folders.append(("test cache", cache / "wheels"))
    return folders


def is_test_wheel(name: str, *, platform_tags: Sequence[str], linux: bool) -> bool:
    """A torch 2.13.0 CPU wheel for CPython 3.11 that installs on this platform.

    On Linux only the ``+cpu`` build (a plain Linux wheel is the CUDA one); elsewhere the plain
    version is the CPU build too.
    """
    if not name.endswith(".whl"):
        return False
    parts = name[: -len(".whl")].split("-")
    if len(parts) not in (5, 6) or parts[0] != "torch":
        return False
    version, python, abi, platforms = parts[1], parts[-3], parts[-2], parts[-1]
    versions = {f"{TORCH_VERSION}+cpu"} if linux else {f"{TORCH_VERSION}+cpu", TORCH_VERSION}
    return (
        version in versions
        and "cp311" in python.split(".")
        and bool({"cp311", "abi3", "none"} & set(abi.split(".")))
        and bool(set(platforms.split(".")) & set(platform_tags))
    )


def pick_wheel(
    folders: Iterable[tuple[str, Path]],
    files_in: Callable[[Path], Iterable[str]],
    accept: Callable[[str], bool],
) -> tuple[str, Path] | None:
    """The first acceptable wheel (by name, sorted) in the first folder that has one."""
    for origin, folder in folders:
        for name in sorted(files_in(folder)):
            if accept(name):
                return origin, folder / name
    return None


# --- the same, on this machine ---------------------------------------------------------------


def _files_in(folder: Path) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:
        return []


def pip_find_links() -> list[Path]:
    """The local find-links folders of the pip that runs the tests (its real configuration)."""
    try:
        out = subprocess.run(
            [sys.executable, "-m", "pip", "config", "list"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return find_links_folders(out.stdout)


def _platform_tags() -> list[str]:
    from packaging.tags import platform_tags

    return list(platform_tags())


def _accept(name: str) -> bool:
    return is_test_wheel(name, platform_tags=_platform_tags(), linux=sys.platform == "linux")


def find_torch_wheel() -> Path | None:
    """The torch test wheel on disk (steps 1-3 of the module doc), or None."""
    folders = wheel_folders(os.environ, pip_find_links(), cache_root())
    found = pick_wheel(folders, _files_in, _accept)
    return found[1] if found else None


def download_torch_wheel(dest: Path, index: str) -> Path:
    """``pip download`` the wheel from ``index`` into ``dest`` (once; atomically)."""
    partial = dest.with_name(dest.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    version = f"{TORCH_VERSION}+cpu" if sys.platform == "linux" else TORCH_VERSION
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--only-binary=:all:",
            "--python-version",
            "3.11",
            "--implementation",
            "cp",
            "--index-url",
            index,
            "--dest",
            str(partial),
            f"torch=={version}",
        ],
        check=True,
        env=isolated_pip_env(),
        timeout=3600,
    )
    dest.mkdir(parents=True, exist_ok=True)
    wheel: Path | None = None
    for name in _files_in(partial):
        os.replace(partial / name, dest / name)
        if _accept(name):
            wheel = dest / name
    shutil.rmtree(partial, ignore_errors=True)
    if wheel is None:
        raise RuntimeError(f"{index} gave no torch {version} wheel for CPython 3.11 here")
    return wheel


def torch_wheel() -> Path:
    """The torch test wheel: found on disk, else downloaded once into the test cache."""
    found = find_torch_wheel()
    if found is not None:
        return found
    index = os.environ.get("TORCHSETUP_TEST_TORCH_INDEX") or DEFAULT_TORCH_INDEX
    return download_torch_wheel(cache_root() / "wheels", index)


def _uv() -> str | None:
    scripts = Path(sysconfig.get_path("scripts")) / ("uv.exe" if os.name == "nt" else "uv")
    return str(scripts) if scripts.exists() else shutil.which("uv")


def python_for_torch() -> str:
    """A CPython 3.11 (PATH, this interpreter, or one uv finds or installs)."""
    found = shutil.which(TORCH_PYTHON)
    if found:
        return found
    if sys.version_info[:2] == TORCH_PYTHON_VERSION:
        return sys.executable
    uv = _uv()
    if uv is None:
        raise RuntimeError(f"the torch tests need {TORCH_PYTHON}: none on PATH and no uv")

    def find() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [uv, "python", "find", "3.11"], capture_output=True, text=True, timeout=60, check=False
        )

    found_by_uv = find()
    if found_by_uv.returncode != 0 or not found_by_uv.stdout.strip():
        subprocess.run([uv, "python", "install", "3.11"], check=True, timeout=900)
        found_by_uv = find()
    if found_by_uv.returncode != 0 or not found_by_uv.stdout.strip():
        raise RuntimeError(f"uv installed no Python 3.11: {found_by_uv.stderr.strip()}")
    return found_by_uv.stdout.strip().splitlines()[-1]


def venv_python(path: Path) -> Path:
    return path / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def create_venv(path: Path, python: str | None = None, *, with_pip: bool = True) -> Path:
    """Create a venv with ``python`` (default: the running one) and return its interpreter."""
    if python == TORCH_PYTHON:
        python = python_for_torch()
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
    """A venv holding torch 2.13.0+cpu and its dependencies; built once and cached.

    The wheel comes from :func:`torch_wheel` (see the module doc), its dependencies from PyPI.
    """
    wheel = torch_wheel()
    py = python_for_torch()
    source = wheel.name
    key = hashlib.sha256(f"{source}|{Path(py).resolve()}|v1".encode()).hexdigest()[:12]
    path = cache_root() / f"venv-torch-{TORCH_VERSION}-{key}"
    python = venv_python(path)
    if _ready_marker(path).exists() and python.exists():
        return python
    if path.exists():
        shutil.rmtree(path)
    create_venv(path, py)
    for args in ([str(wheel)], ["numpy"]):
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *args],
            check=True,
            env=isolated_pip_env(),
            timeout=1800,
        )
    _ready_marker(path).write_text(source)
    return python


def site_packages(python: Path | str) -> Path:
    out = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return Path(out.stdout.strip())


def overlay_venv(path: Path, base_python: Path | str, *, python: str | None = TORCH_PYTHON) -> Path:
    """A cheap venv that sees ``base_python``'s site-packages through a .pth file.

    Lets tests break an environment (add a mismatched torchvision, shadow torch with a broken
    copy) without reinstalling torch each time.
    """
    py = create_venv(path, python if python == TORCH_PYTHON else shutil.which(python or "") or None)
    base_site = site_packages(base_python)
    own_site = site_packages(py)
    (own_site / "zz_torchsetup_test_base.pth").write_text(str(base_site) + "\n")
    return py


def cached_overlay(name: str, packages: list[str]) -> Path:
    """A cached overlay venv over the torch venv with ``packages`` installed --no-deps from PyPI.

    E.g. ``cached_overlay("tv-0.24.0", ["torchvision==0.24.0"])``: torchvision of another release
    (it pins torch==2.9.0) next to torch 2.13.0.
    """
    base = cached_torch_venv()
    key = hashlib.sha256(f"{base}|{name}|{','.join(packages)}|v1".encode()).hexdigest()[:10]
    path = cache_root() / f"overlay-{name}-{key}"
    python = venv_python(path)
    if _ready_marker(path).exists() and python.exists():
        return python
    if path.exists():
        shutil.rmtree(path)
    overlay_venv(path, base)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", *packages],
        check=True,
        env=isolated_pip_env(),
        timeout=900,
    )
    _ready_marker(path).write_text(",".join(packages))
    return python
