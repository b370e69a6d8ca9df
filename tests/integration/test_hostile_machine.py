"""A hostile machine (issue 15, items 9 and 14): an ASCII-only stdout, stdout on /dev/full, a
closed pipe, a cache folder that cannot be written. Each is a named failure or just works:
never exit 70, never a traceback."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    os.name != "posix", reason="NOT RUN: POSIX only (signals, /dev/full, sh stand-ins)"
)

SNAPSHOT = Path(__file__).resolve().parents[1] / "data" / "snapshots" / "h200-real.json"


def run(
    exe: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [exe, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
        check=False,
    )


def test_an_ascii_only_stdout(torchsetup_exe: str) -> None:
    r = run(
        torchsetup_exe, "doctor", "--snapshot", str(SNAPSHOT), env={"PYTHONIOENCODING": "ascii"}
    )
    assert r.returncode in (0, 1), r.stderr
    assert "internal error" not in r.stderr and "Doctor summary" in r.stdout
    assert "\\u2713" in r.stdout or "\\u2014" in r.stdout  # escaped, not an exception


@pytest.mark.parametrize(
    "args",
    [
        ("doctor", "--snapshot", str(SNAPSHOT)),
        ("matrix",),
        ("install", "--dry-run", "--json", "--snapshot", str(SNAPSHOT)),
    ],
    ids=["doctor", "matrix", "install-json"],
)
def test_stdout_on_dev_full(torchsetup_exe: str, args: tuple[str, ...]) -> None:
    with open("/dev/full", "w") as full:
        r = subprocess.run(
            [torchsetup_exe, *args], stdout=full, stderr=subprocess.PIPE, text=True, timeout=300
        )
    assert r.returncode == 1, r.stderr
    assert r.stderr.strip().splitlines() == ["torchsetup: error: No space left on device"] or (
        len(r.stderr.strip().splitlines()) == 1 and "No space left on device" in r.stderr
    ), r.stderr


def test_verify_into_head_keeps_its_exit_code(torchsetup_exe: str, torch_python: Path) -> None:
    """Item 14: rich's broken-pipe handling exited 1 whatever the checks said."""
    r = subprocess.run(
        f"'{torchsetup_exe}' verify --quick --python '{torch_python}' | head -1; exit ${{PIPESTATUS[0]}}",
        shell=True,
        executable="/bin/bash",
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(r.stdout.splitlines()) == 1


def test_a_cache_folder_that_cannot_be_written(
    torchsetup_exe: str, torch_python: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    r = run(
        torchsetup_exe,
        "install",
        "--cpu",
        "--torch",
        "2.13.0",
        "--python",
        str(torch_python),
        "--yes",
        "--index-url",
        "http://127.0.0.1:9/simple",
        env={"TORCHSETUP_CACHE_DIR": str(blocker / "cache")},
    )
    assert r.returncode == 1, r.stdout[-2000:] + r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("torchsetup: error: Not a directory")
    assert "internal error" not in r.stderr


def test_captured_output_is_capped(tmp_path: Path) -> None:
    """Item 15: 2 million nvidia-smi rows were all held (and took 45 s)."""
    import sys
    import time

    from torchsetup import proc

    started = time.monotonic()
    r = proc.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.stdout.write('0, NVIDIA H200, 580.1\\n' * 2_000_000)",
        ],
        timeout=60,
    )
    assert r.ok, r.describe_failure()
    assert len(r.stdout) <= proc.MAX_CAPTURE + len(proc.TRUNCATED)
    assert r.stdout.endswith(proc.TRUNCATED)
    assert time.monotonic() - started < 30


def test_a_huge_ld_library_path(torchsetup_exe: str) -> None:
    """Item 6: a 120 KB LD_LIBRARY_PATH made doctor take 20 s (quadratic redaction)."""
    import time

    value = ":".join(f"/opt/lib{i}/cuda-12.{i % 9}/lib64" for i in range(3900))  # ~110 KB
    started = time.monotonic()
    r = run(torchsetup_exe, "doctor", "--json", env={"LD_LIBRARY_PATH": value})
    assert r.returncode in (0, 1), r.stderr
    assert time.monotonic() - started < 20


# --- a wedged driver, a broken nvidia-smi, a lying GPU table, a failing nvcc (items 7, 13) ---

# A FAKE driver library, built by the test: NOT NVIDIA's libnvidia-ml.so.1 / libcuda.so.1.
# Every entry point the probes call sleeps forever, as a wedged driver's do.
FAKE_WEDGED_DRIVER_C = """
/* torchsetup test stand-in: a FAKE libnvidia-ml.so.1 / libcuda.so.1 whose calls never return */
#include <unistd.h>
static int wedged(void) { for (;;) sleep(1000); return 0; }
int nvmlInitWithFlags(unsigned int flags) { (void)flags; return wedged(); }
int nvmlInit_v2(void) { return wedged(); }
int cuInit(unsigned int flags) { (void)flags; return wedged(); }
int cuDriverGetVersion(int *version) { (void)version; return wedged(); }
"""


def build_fake_driver_library(folder: Path, soname: str) -> Path:
    import shutil

    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("NOT RUN: no C compiler (cc) to build the fake driver library")
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "fake_wedged_driver.c"
    source.write_text(FAKE_WEDGED_DRIVER_C)
    lib = folder / soname
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(lib), str(source)], check=True, timeout=120)
    return lib


@pytest.mark.parametrize(
    ("soname", "what"),
    [("libnvidia-ml.so.1", "NVML"), ("libcuda.so.1", "libcuda")],
    ids=["nvml", "libcuda"],
)
def test_a_wedged_driver_library_does_not_hang_doctor(
    torchsetup_exe: str, tmp_path: Path, soname: str, what: str
) -> None:
    """Item 7: NVML and libcuda are called in torchsetup's own process; a driver whose calls
    never return hung doctor for good. Now each call has the probe's deadline."""
    import time

    fake = build_fake_driver_library(tmp_path / "fake-driver", soname)
    started = time.monotonic()
    r = subprocess.run(
        [torchsetup_exe, "doctor", "--timeout", "2"],
        capture_output=True,
        text=True,
        env={**os.environ, "LD_LIBRARY_PATH": str(fake.parent)},
        timeout=120,
        check=False,
    )
    took = time.monotonic() - started
    assert took < 30, f"doctor took {took:.0f} s with --timeout 2"
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"{what} did not answer within 2 s" in r.stdout and "TS129" in r.stdout
    assert f"the driver did not answer ({what} hung)" in r.stdout
    assert "no NVIDIA driver" not in r.stdout and "Traceback" not in r.stderr


def _sim_skip() -> None:
    from tests.helpers.simmachine import unshare_available

    why = unshare_available()
    if why:
        pytest.skip(f"NOT RUN: {why}")


SMI_TAILS = {
    "segv": "kill -SEGV $$",
    "hang": "exec sleep 300",
    "garbage": "echo 'Segmentation fault (core dumped) ??%%'; exit 0",
}


@pytest.mark.parametrize("how", sorted(SMI_TAILS))
def test_a_broken_nvidia_smi_next_to_a_loaded_driver(
    torchsetup_exe: str, tmp_path: Path, how: str
) -> None:
    """Item 13: a crashing, hung or garbage nvidia-smi on a machine whose driver is loaded
    (/proc/driver/nvidia/version) is a broken tool, not "no NVIDIA driver"."""
    _sim_skip()
    from tests.helpers.simmachine import Machine, NvidiaGpu, run_in, write

    h200 = NvidiaGpu("NVIDIA H200", "9.0", 143771, "00000000:04:00.0", "0x2335")
    root = write(
        Machine("broken-smi", driver="580.82.07", nvidia=[h200], proc_nvidia=True), tmp_path
    )
    (root / "bin" / "nvidia-smi").write_text(f"#!/bin/sh\n{SMI_TAILS[how]}\n")
    r = run_in(root, [torchsetup_exe, "doctor", "--timeout", "2"], dict(os.environ))
    assert r.returncode in (0, 1), r.stdout + r.stderr
    nvidia_line = next(ln for ln in r.stdout.splitlines() if "NVIDIA driver & GPUs" in ln)
    assert "driver present, nvidia-smi broken" in nvidia_line, r.stdout
    assert "580.82.07" in nvidia_line
    assert "TS130" in r.stdout and "not a reason to use a CPU build" in r.stdout
    assert "Use a CPU build" not in r.stdout and "--cpu" not in r.stdout


def _stand_in(folder: Path, name: str, script: str) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    exe = folder / name
    exe.write_text("#!/bin/sh\n" + script)
    exe.chmod(0o755)
    return {"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}", "CUDA_HOME": ""}


SMI_HEADER = (
    "index, name, uuid, driver_version, compute_cap, memory.total [MiB], memory.used [MiB], "
    "pci.bus_id, mig.mode.current"
)
UUID = "GPU-2b7e0c6a-0000-4000-8000-000000000000"


def test_an_inconsistent_gpu_table_is_flagged(torchsetup_exe: str, tmp_path: Path) -> None:
    """Item 13: two rows with index 0 and one UUID, memory used above the total: accepted as
    two healthy GPUs before."""
    rows = [
        f"0, NVIDIA H200, {UUID}, 580.82.07, 9.0, 143771 MiB, 0 MiB, 00000000:04:00.0, Disabled",
        f"0, NVIDIA H200, {UUID}, 580.82.07, 9.0, 100 MiB, 900 MiB, 00000000:05:00.0, Disabled",
    ]
    text = "\\n".join([SMI_HEADER, *rows])
    env = _stand_in(tmp_path / "tools", "nvidia-smi", f"printf '{text}\\n'\n")
    r = run(torchsetup_exe, "doctor", "--timeout", "5", env=env)
    assert r.returncode == 0, r.stdout + r.stderr  # a warning: exit 1 only with --strict
    assert "TS131" in r.stdout and "contradicts itself" in r.stdout
    assert "index 0 listed 2 times" in r.stdout and f"UUID {UUID} listed 2 times" in r.stdout
    assert "memory used 900 MiB is more than its total 100 MiB" in r.stdout


@pytest.mark.parametrize(
    "script",
    ["kill -SEGV $$\n", "echo 'zz qq'\nexit 0\n", "echo 'nvcc fatal: bad install' >&2\nexit 1\n"],
    ids=["segv", "garbage", "exit-1"],
)
def test_a_failing_nvcc_is_reported(torchsetup_exe: str, tmp_path: Path, script: str) -> None:
    """Item 13: a failing nvcc was shown as "nvcc unknown" with no finding."""
    env = _stand_in(tmp_path / "tools", "nvcc", script)
    r = run(torchsetup_exe, "doctor", "--timeout", "5", env=env)
    assert r.returncode == 0, r.stdout + r.stderr  # a warning: exit 1 only with --strict
    assert "nvcc is installed but fails (TS132)" in r.stdout
    assert "nvcc broken" in r.stdout


PYENV = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"


@pytest.mark.parametrize("version", ["2.7", "3.6"])
def test_a_python_too_old_for_any_torch(torchsetup_exe: str, version: str) -> None:
    """Item 13: a Python 2.7 target got "No issues found" (its probe half failed)."""
    found = sorted(PYENV.glob(f"{version}.*/bin/python{version}"))
    if not found:
        pytest.skip(f"NOT RUN: no Python {version} under {PYENV}")
    from torchsetup.matrix.load import load_matrix

    newest = load_matrix().releases[0]
    r = run(torchsetup_exe, "doctor", "--timeout", "10", "--python", str(found[-1]))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "No issues found" not in r.stdout
    assert f"No torch 2.x release publishes wheels for Python {version}." in r.stdout
    assert f"Python {', '.join(newest.python)}" in r.stdout  # the data's Pythons


def _fake_torch(site: Path, *, package: bool, dist_info: bool, version_py: str | None) -> None:
    """A stand-in torch (never the real one): the files an interrupted install leaves."""
    if package:
        (site / "torch").mkdir(parents=True)
        (site / "torch" / "__init__.py").write_text("# torchsetup test stand-in\n")
        if version_py is not None:
            (site / "torch" / "version.py").write_text(version_py)
    if dist_info:
        info = site / "torch-2.13.0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: torch\nVersion: 2.13.0\n")


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        ({"package": False, "dist_info": True, "version_py": None}, "no torch package to import"),
        (
            {"package": True, "dist_info": True, "version_py": "\x00\xff garbage = = =\n"},
            "version.py holds no __version__",
        ),
        ({"package": True, "dist_info": True, "version_py": None}, "version.py is missing"),
    ],
    ids=["dist-info-without-package", "garbage-version-py", "no-version-py"],
)
def test_a_damaged_torch_is_a_finding(
    torchsetup_exe: str, tmp_path: Path, layout: dict[str, object], expected: str
) -> None:
    """Item 13: a dist-info without its torch/ package, or a garbage version.py, showed ✓."""
    import sys

    site = tmp_path / "site"
    site.mkdir()
    _fake_torch(site, **layout)  # type: ignore[arg-type]
    r = run(
        torchsetup_exe,
        "doctor",
        "--timeout",
        "10",
        "--python",
        sys.executable,
        env={"PYTHONPATH": str(site)},
    )
    assert r.returncode == 1, r.stdout + r.stderr
    torch_line = next(ln for ln in r.stdout.splitlines() if ln.endswith(")") and "PyTorch" in ln)
    assert torch_line.startswith("[✗]"), r.stdout
    assert expected in r.stdout
