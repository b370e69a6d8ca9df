"""A folder of real wheels for install tests: torch 2.13.0+cpu (cp311) and its dependencies.

Built once and cached under :func:`tests.helpers.venvs.cache_root`: the torch wheel comes from
:func:`tests.helpers.venvs.torch_wheel` (a local folder, else downloaded once), its dependencies
from PyPI through ``pip download`` (isolated from the global pip configuration). Two extra real wheels make
"the environment had packages before" scenarios: ``six`` and an old ``typing-extensions``
(torch needs a newer one, so an install upgrades it and a restore must downgrade it). A tiny
``torchtriton`` wheel is generated here (the name of the Dec-2022 dependency-confusion package,
failures.md #14) so that conflict uninstalls can be exercised for real. The pip and setuptools
wheels a Python 3.11 venv starts with (ensurepip's) are added too, so that a restore can put a
fresh venv back exactly.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Optional

from tests.helpers.venvs import (
    TORCH_VERSION,
    cache_root,
    isolated_pip_env,
    python_for_torch,
    torch_wheel,
)

PYPI = "https://pypi.org/simple"
EXTRA_REQUIREMENTS = ("six==1.17.0", "typing-extensions==4.9.0")
OLD_TYPING_EXTENSIONS = "4.9.0"
TORCH_DEPENDENCIES = (
    "filelock",
    "typing-extensions",
    "setuptools",
    "sympy",
    "networkx",
    "jinja2",
    "fsspec",
    "mpmath",
    "markupsafe",
)
_VERSION = "v2"


def make_wheel(
    folder: Path,
    name: str,
    version: str,
    *,
    module_text: str = "",
    tag: str = "py3-none-any",
    requires_dist: tuple[str, ...] = (),
    requires: tuple[str, ...] = (),
    requires_python: Optional[str] = None,
    files: Optional[dict[str, str]] = None,
) -> Path:
    """Write a minimal, valid wheel ``name-version-<tag>.whl`` (pure Python for the default tag;
    ``tag`` 'cp312-cp312-manylinux_2_28_x86_64' makes a platform wheel, as torch's are), with
    real METADATA: Requires-Dist and Requires-Python as given. ``files`` replaces the package's
    one ``__init__.py``; ``requires``: more Requires-Dist lines."""
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    if requires_python:
        metadata += f"Requires-Python: {requires_python}\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in (*requires_dist, *requires))
    purelib = "true" if tag.endswith("-none-any") else "false"
    content = files or {f"{dist}/__init__.py": module_text or f"__version__ = {version!r}\n"}
    files = {
        **content,
        f"{info}/METADATA": metadata,
        f"{info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: torchsetup-tests\nRoot-Is-Purelib: {purelib}\nTag: {tag}\n",
    }
    record = []
    for path, text in files.items():
        digest = (
            base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        )
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = "\n".join(record) + "\n"
    out = folder / f"{dist}-{version}-{tag}.whl"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return out


def _link_or_copy(src: Path, dest: Path) -> None:
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)


def _pip_download(dest: Path, *requirements: str) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--dest",
            str(dest),
            "--index-url",
            PYPI,
            "--only-binary=:all:",
            "--python-version",
            "3.11",
            *requirements,
        ],
        check=True,
        env=isolated_pip_env(),
        timeout=1200,
    )


def _ensurepip_wheels() -> list[Path]:
    out = subprocess.run(
        [
            python_for_torch(),
            "-c",
            "import ensurepip, os; print(os.path.dirname(ensurepip.__file__))",
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return sorted((Path(out.stdout.strip()) / "_bundled").glob("*.whl"))


def cached_wheelhouse() -> Path:
    """The folder of wheels (built once)."""
    path = cache_root() / f"wheelhouse-torch-{TORCH_VERSION}-cp311-{_VERSION}"
    ready = path / ".ready"
    if ready.exists():
        return path
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    torch = torch_wheel()
    _link_or_copy(torch, path / torch.name)
    _pip_download(path, str(path / torch.name))
    _pip_download(path, *EXTRA_REQUIREMENTS)
    make_wheel(path, "torchtriton", "0.0.1")
    for wheel in _ensurepip_wheels():
        _link_or_copy(wheel, path / wheel.name)
    ready.write_text("ok\n")
    return path


def same_size_wheel(folder: Path, name: str, version: str, size: int) -> Path:
    """A valid wheel ``name-version`` of exactly ``size`` bytes (a stored padding member makes
    up the rest): another file an index could serve in place of the real one."""
    wheel = make_wheel(folder, name, version)
    base = wheel.read_bytes()
    pad = max(0, size - len(base) - 200)
    for _ in range(3):
        with zipfile.ZipFile(wheel, "w", zipfile.ZIP_STORED) as zf:
            with zipfile.ZipFile(io.BytesIO(base)) as src:
                for info in src.infolist():
                    zf.writestr(info.filename, src.read(info.filename))
            zf.writestr(f"{name}/_padding.bin", b"\0" * pad)
        pad += size - wheel.stat().st_size
    assert wheel.stat().st_size == size, (wheel.stat().st_size, size)
    return wheel


def drift_wheelhouse(folder: Path) -> Path:
    """The real wheelhouse plus what swaps a build: ``standin 1.0`` (requires ``torch==2.12.0``,
    as xformers pins one exact torch) and a tiny stand-in ``torch 2.12.0``. Links, not copies."""
    folder.mkdir(parents=True, exist_ok=True)
    for wheel in cached_wheelhouse().glob("*.whl"):
        _link_or_copy(wheel, folder / wheel.name)
    make_wheel(folder, "standin", "1.0", requires=("torch==2.12.0",))
    make_wheel(folder, "torch", "2.12.0")
    return folder


def torch_wheel_in(wheelhouse: Path) -> Path:
    return next(wheelhouse.glob(f"torch-{TORCH_VERSION}+cpu-*.whl"))


if __name__ == "__main__":
    print(cached_wheelhouse())
