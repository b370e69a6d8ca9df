"""The unit-test guard cannot be fooled: a unit test that probes the live machine fails loudly.

Each case runs a one-test pytest session in this process (pytester, inline: no subprocess)
under the real guard from tests/unit/conftest.py.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.unit.conftest import Guard, UnitTestTouchedTheMachine

CONFTEST = "from tests.unit.conftest import mock_protection, unit_guard  # noqa: F401\n"


def run_inner(pytester: pytest.Pytester, body: str) -> pytest.RunResult:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_inner=textwrap.dedent(body))
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", "-W", "ignore")


def test_collect_fails_loudly(pytester: pytest.Pytester) -> None:
    # Every probe turns Exception into a record, and collect() runs them in threads: before
    # this guard, this test passed with records saying "AssertionError: unit tests must not ...".
    result = run_inner(
        pytester,
        """
        from torchsetup.detect.probes.collect import collect

        def test_probes_the_machine():
            collect(timeout=2)
        """,
    )
    # The probe threads die of the guard's exception (so the call itself returns), and the
    # guard fails the test at teardown: the session is red.
    assert result.ret != 0, result.stdout.str()
    assert result.parseoutcomes().get("errors") == 1
    result.stdout.fnmatch_lines(["*unit-test guard tripped*read /proc/*"])


DOORS = [
    ("open('/proc/meminfo').read()", "read /proc/meminfo"),
    ("import pathlib; pathlib.Path('/sys/bus/pci/devices').is_dir()", "/sys/bus/pci/devices"),
    ("import glob; glob.glob('/proc/driver/nvidia/gpus/*')", "/proc/driver/nvidia"),
    ("import ctypes; ctypes.CDLL('libnvidia-ml.so.1')", "libnvidia-ml.so.1"),
    ("import pynvml; pynvml.nvmlInit()", "initialise NVML"),
    ("import subprocess; subprocess.run(['true'])", "start processes"),
    ("import os; os.system('true')", "start processes"),
    ("import socket; socket.create_connection(('127.0.0.1', 9))", "open sockets"),
]


def test_each_door_is_guarded_even_when_caught(pytester: pytest.Pytester) -> None:
    # One inner session (they cost about a second each), one test per door; each test
    # swallows everything, and still fails.
    tests = "".join(
        f"def test_door_{i}():\n    try:\n        {body}\n    except BaseException:\n"
        "        pass\n\n"
        for i, (body, _) in enumerate(DOORS)
    )
    result = run_inner(pytester, tests)
    assert result.ret != 0, result.stdout.str()
    assert result.parseoutcomes().get("errors") == len(DOORS), result.stdout.str()
    for i, (_, what) in enumerate(DOORS):
        result.stdout.fnmatch_lines(
            [f"*ERROR at teardown of test_door_{i} *", f"*guard tripped 1 time*{what}*"]
        )


def test_the_guard_escapes_except_exception() -> None:
    assert not issubclass(UnitTestTouchedTheMachine, Exception)
    guard = Guard()
    with pytest.raises(UnitTestTouchedTheMachine):
        try:
            raise guard.trip("read /proc/x")
        except Exception:
            pytest.fail("caught by except Exception")
    assert guard.trips == ["read /proc/x"]


def test_ordinary_files_are_not_guarded(tmp_path: Path) -> None:
    path = tmp_path / "procfile"  # a name that starts like /proc, elsewhere
    path.write_text("x")
    assert path.read_text() == "x"
