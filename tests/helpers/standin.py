"""Stand-in wheels of a PyTorch release no data has heard of (torch 2.99.0+cpu, torchvision
0.99.0+cpu): tiny, installable, with real METADATA (Name, Version, Requires-Python,
Requires-Dist) and real platform tags, so an index serving them looks like a release day.

The stand-in torch is a package whose ``__init__`` sets ``__version__``: enough for pip, the
target probe and ``importlib.metadata``; not enough for ``verify --quick`` (which multiplies
tensors), so tests assert the installed version through the target interpreter instead.
"""

from __future__ import annotations

from pathlib import Path

from tests.helpers.wheelhouse import make_wheel

TORCH = "2.99.0"
TORCHVISION = "0.99.0"
VARIANT = "cpu"
PYTHONS = ("3.10", "3.11", "3.12", "3.13")
PLATFORM_TAG = "manylinux_2_28_x86_64"


def build(folder: Path) -> Path:
    """Write the stand-in wheels into ``folder`` (created) and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    for py in PYTHONS:
        cp = "cp" + py.replace(".", "")
        make_wheel(
            folder,
            "torch",
            f"{TORCH}+{VARIANT}",
            tag=f"{cp}-{cp}-{PLATFORM_TAG}",
            requires_python=">=3.10",
            requires_dist=('optree>=0.13.0; extra == "optree"',),
            files={
                "torch/__init__.py": f"__version__ = {TORCH + '+' + VARIANT!r}\n",
                "torch/version.py": "cuda = None\nhip = None\n",
            },
        )
    make_wheel(
        folder,
        "torchvision",
        f"{TORCHVISION}+{VARIANT}",
        tag=f"py3-none-{PLATFORM_TAG}",
        requires_python=">=3.10",
        requires_dist=(f"torch=={TORCH}",),
        files={"torchvision/__init__.py": f"__version__ = {TORCHVISION + '+' + VARIANT!r}\n"},
    )
    return folder
