"""Start-up discipline, checked by what is imported (not by a clock, which a busy CI box moves).

The console script's entry point (``torchsetup.cli:main``, what the installed ``torchsetup``
runs) is called in a real process, with the console script's own interpreter, under a few lines
that write ``sorted(sys.modules)`` to a file at exit: every module loaded at any time during the
run. (``python -X importtime`` is not enough: it does not see ``importlib.import_module``,
which is how the CLI loads its commands.) ``--help`` must stay click plus the command table;
``doctor --snapshot FILE`` replays a snapshot, so it loads no probe, no heavy library and no
install/verify code. Heavy imports stay lazy (function-local) to meet this; these tests keep it
met.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SNAPSHOT = Path(__file__).resolve().parents[1] / "data" / "snapshots" / "h200-cpu-torch.json"

# Third-party libraries that cost start-up time and that these commands do not need.
HEAVY = ("rich", "requests", "urllib3", "psutil", "pynvml", "packaging")

WRAPPER = """
import atexit, sys
def _dump(path=sys.argv.pop(1)):
    with open(path, "w") as fh:
        fh.write("\\n".join(sorted(sys.modules)))
atexit.register(_dump)
from torchsetup.cli import main
sys.argv[0] = "torchsetup"
main(sys.argv[1:])
"""


def script_python(exe: str) -> str:
    """The interpreter the console script runs with (its shebang), else this one."""
    with open(exe, "rb") as fh:
        first = fh.readline().decode(errors="replace").strip()
    if first.startswith("#!") and os.path.isfile(first[2:].split()[0]):
        return first[2:].split()[0]
    return sys.executable


def imported_by(
    exe: str, tmp_path: Path, *args: str
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    out = tmp_path / "modules.txt"
    proc = subprocess.run(
        [script_python(exe), "-c", WRAPPER, str(out), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=120,
        check=False,
    )
    modules = set(out.read_text().split("\n")) if out.exists() else set()
    return proc, modules


def heavy(modules: set[str]) -> set[str]:
    return {m for m in modules if m.split(".")[0] in HEAVY}


def ours(modules: set[str]) -> set[str]:
    return {m for m in modules if m == "torchsetup" or m.startswith("torchsetup.")}


def test_the_import_report_is_read(torchsetup_exe: str, tmp_path: Path) -> None:
    # Guards the checks below against passing on an empty report.
    proc, modules = imported_by(torchsetup_exe, tmp_path, "--version")
    assert proc.returncode == 0, proc.stderr
    assert {"click", "torchsetup", "torchsetup.cli"} <= modules


def test_help_imports_only_the_command_table(torchsetup_exe: str, tmp_path: Path) -> None:
    proc, modules = imported_by(torchsetup_exe, tmp_path, "--help")
    assert proc.returncode == 0, proc.stderr
    assert "doctor" in proc.stdout and "install" in proc.stdout
    assert heavy(modules) == set()
    # proc: the entry point installs the SIGTERM/SIGHUP handlers (issue 15) before parsing
    assert ours(modules) == {"torchsetup", "torchsetup.cli", "torchsetup.errors", "torchsetup.proc"}


@pytest.mark.parametrize("command", ["install", "verify", "matrix", "doctor", "restore"])
def test_command_help_loads_only_its_cli_module(
    torchsetup_exe: str, tmp_path: Path, command: str
) -> None:
    proc, modules = imported_by(torchsetup_exe, tmp_path, command, "--help")
    assert proc.returncode == 0, proc.stderr
    assert heavy(modules) == set()
    stray = {m for m in ours(modules) if m.startswith("torchsetup.cli.")} - {
        f"torchsetup.cli.{command}",
        "torchsetup.cli.options",  # the shared option types (FiniteRange), stdlib + click only
    }
    assert stray == set()


# What replaying a snapshot must never load: the live probes (nothing is probed), the other
# commands' code, and plan/matrix rendering.
NOT_FOR_DOCTOR = (
    "torchsetup.detect.probes.collect",
    "torchsetup.detect.probes.nvidia",
    "torchsetup.detect.probes.system",
    "torchsetup.detect.probes.toolkit",
    "torchsetup.detect.probes.python_target",
    "torchsetup.detect.probes.deep",
    "torchsetup.install",
    "torchsetup.verify",
    "torchsetup.cli.install",
    "torchsetup.cli.verify",
    "torchsetup.cli.matrix",
    "torchsetup.cli.restore",
    "torchsetup.matrix.render",
    "torchsetup.resolve.render",
    "torchsetup.resolve.exporters",
)


@pytest.mark.parametrize("extra", [[], ["--json"]], ids=["text", "json"])
def test_doctor_on_a_snapshot_stays_light(
    torchsetup_exe: str, tmp_path: Path, extra: list[str]
) -> None:
    proc, modules = imported_by(
        torchsetup_exe, tmp_path, "doctor", "--snapshot", str(SNAPSHOT), *extra
    )
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    assert "torch" in proc.stdout
    assert {"torchsetup.cli.doctor", "torchsetup.doctor.rules"} <= modules  # it really ran
    assert heavy(modules) == set()
    loaded = ours(modules)
    unwanted = {m for m in loaded for bad in NOT_FOR_DOCTOR if m == bad or m.startswith(bad + ".")}
    assert unwanted == set()
