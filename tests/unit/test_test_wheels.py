"""Where the integration tests' torch wheel comes from (tests/helpers/venvs.py), pure: the
environment, pip's configuration and the folders' contents are injected.

Order: TORCHSETUP_TEST_WHEELS, then the local find-links folders pip is configured with, then
the test cache (where a download left it); only when none has it is it downloaded.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers.venvs import find_links_folders, is_test_wheel, pick_wheel, wheel_folders

LINUX_WHEEL = "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"
LINUX_TAGS = ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "linux_x86_64"]

# `pip config list` on this kind of build machine.
PIP_CONFIG = """\
:env:.cert='/etc/ssl/certs/ca-certificates.crt'
:env:.find-links='/opt/wheels'
global.constraint='/etc/xdg/pip/constraints.txt'
global.extra-index-url='file:///opt/pypi/simple file:///opt/pypi-more/simple'
global.find-links='/opt/wheels'
install.find-links='file:///srv/wheel%20house https://example.org/wheels /data/more'
"""


def test_find_links_from_pip_config() -> None:
    assert find_links_folders(PIP_CONFIG) == [
        Path("/opt/wheels"),
        Path("/srv/wheel house"),
        Path("/data/more"),
    ]


@pytest.mark.parametrize("text", ["", "global.index-url='https://x/simple'", "garbage", "a='"])
def test_no_find_links(text: str) -> None:
    assert find_links_folders(text) == []


def test_folder_order() -> None:
    cache = Path("/cache")
    environ = {"TORCHSETUP_TEST_WHEELS": os.pathsep.join(["/a", "", "/b"])}
    assert wheel_folders(environ, [Path("/opt/wheels")], cache) == [
        ("TORCHSETUP_TEST_WHEELS", Path("/a")),
        ("TORCHSETUP_TEST_WHEELS", Path("/b")),
        ("pip config find-links", Path("/opt/wheels")),
        ("test cache", Path("/cache/wheels")),
    ]
    assert wheel_folders({}, [], cache) == [("test cache", Path("/cache/wheels"))]


def _pick(contents: dict[str, list[str]], environ: dict[str, str], links: list[Path]) -> object:
    folders = wheel_folders(environ, links, Path("/cache"))

    def files_in(folder: Path) -> list[str]:
        return contents.get(str(folder), [])

    def accept(name: str) -> bool:
        return is_test_wheel(name, platform_tags=LINUX_TAGS, linux=True)

    return pick_wheel(folders, files_in, accept)


def test_the_environment_variable_wins() -> None:
    contents = {"/mine": [LINUX_WHEEL], "/opt/wheels": [LINUX_WHEEL]}
    picked = _pick(contents, {"TORCHSETUP_TEST_WHEELS": "/mine"}, [Path("/opt/wheels")])
    assert picked == ("TORCHSETUP_TEST_WHEELS", Path("/mine") / LINUX_WHEEL)


def test_a_folder_without_the_wheel_falls_through_to_pip_config() -> None:
    # The review's case: TORCHSETUP_TEST_WHEELS names a folder without it; no error.
    contents = {"/opt/wheels": ["numpy-2.0-cp311-cp311-linux_x86_64.whl", LINUX_WHEEL]}
    picked = _pick(contents, {"TORCHSETUP_TEST_WHEELS": "/nonexistent"}, [Path("/opt/wheels")])
    assert picked == ("pip config find-links", Path("/opt/wheels") / LINUX_WHEEL)


def test_then_the_test_cache_then_nothing_so_download() -> None:
    assert _pick({"/cache/wheels": [LINUX_WHEEL]}, {}, []) == (
        "test cache",
        Path("/cache/wheels") / LINUX_WHEEL,
    )
    assert _pick({"/opt/wheels": ["torch-2.12.0+cpu-cp311-cp311-linux_x86_64.whl"]}, {}, []) is None


@pytest.mark.parametrize(
    ("name", "linux", "ok"),
    [
        (LINUX_WHEEL, True, True),
        ("torch-2.13.0-cp311-cp311-manylinux_2_28_x86_64.whl", True, False),  # the CUDA build
        ("torch-2.13.0+cu130-cp311-cp311-manylinux_2_28_x86_64.whl", True, False),
        ("torch-2.13.0+cpu-cp312-cp312-manylinux_2_28_x86_64.whl", True, False),
        ("torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_aarch64.whl", True, False),
        ("torch-2.13.1+cpu-cp311-cp311-manylinux_2_28_x86_64.whl", True, False),
        ("torchvision-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl", True, False),
        ("torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl.metadata", True, False),
        ("torch-2.13.0-cp311-none-macosx_11_0_arm64.whl", False, True),
        ("torch-2.13.0+cpu-cp311-cp311-win_amd64.whl", False, True),
    ],
)
def test_which_wheel_is_the_test_wheel(name: str, linux: bool, ok: bool) -> None:
    tags = LINUX_TAGS if linux else ["macosx_11_0_arm64", "win_amd64"]
    assert is_test_wheel(name, platform_tags=tags, linux=linux) is ok
