"""A hostile NVIDIA stack, as facts (issue 15, items 7 and 13): a driver call that never returns,
nvidia-smi broken while the driver is present, a GPU table that contradicts itself, a failing
nvcc, a damaged torch. Pure: snapshot records in, Environment and findings out."""

from __future__ import annotations

import threading
import time

import pytest

from tests.helpers import envs
from tests.helpers.rule_cases import finding
from torchsetup.detect import build
from torchsetup.detect.parse import nvidia as pnv
from torchsetup.detect.probes import nvidia as probe
from torchsetup.detect.probes.record import ProbeRecord, Snapshot, timed
from torchsetup.doctor import diagnose
from torchsetup.doctor.model import CHECK_FAILED
from torchsetup.doctor.summary import category_facts

SMI_FIELDS = list(pnv.SMI_QUERY_FIELDS)
HEADER = ", ".join(SMI_FIELDS) + "\n"


def smi_row(index: int, uuid: str, *, used: int = 0, total: int = 143771) -> str:
    return (
        f"{index}, NVIDIA H200, {uuid}, 580.82.07, 9.0, {total} MiB, {used} MiB, "
        f"00000000:0{index}:00.0, Disabled\n"
    )


def snapshot(*records: ProbeRecord) -> Snapshot:
    base = {
        "nvidia-proc": ProbeRecord("nvidia-proc", ok=True, data={"version": None, "gpus": {}}),
        "pci": ProbeRecord("pci", ok=True, data={"available": True, "devices": []}),
        "nvml": ProbeRecord(
            "nvml",
            ok=False,
            data={"hints": {"proc_driver": False}},
            error="NVML init failed: Library Not Found",
        ),
    }
    base.update({r.name: r for r in records})
    return Snapshot(records=base)


def smi(stdout: str, *, ok: bool = True, error: str | None = None, **data: object) -> ProbeRecord:
    return ProbeRecord(
        "nvidia-smi",
        ok=ok,
        data={"path": "/usr/bin/nvidia-smi", "stdout": stdout, "stderr": "", "fields": SMI_FIELDS}
        | dict(data),
        error=error,
    )


PROC_VERSION = (
    "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.82.07  Release Build  "
    "(dvs-builder@U16)  Thu Jan  1 00:00:00 UTC 2026\n"
)


# --- item 7: a driver call with a deadline -----------------------------------------------------


def test_a_call_that_never_returns_is_a_timed_out_record() -> None:
    release = threading.Event()
    started = time.monotonic()
    rec = timed(
        "nvml",
        lambda: probe._with_deadline("NVML", lambda: {"x": release.wait(30)}, 0.2, {"hints": {}}),
    )
    release.set()
    assert time.monotonic() - started < 5
    assert not rec.ok and rec.data["timed_out"] is True and rec.data["hints"] == {}
    assert rec.error is not None and rec.error.startswith("NVML did not answer within 0.2 s")


def test_a_call_that_answers_in_time_and_one_that_raises() -> None:
    assert probe._with_deadline("NVML", lambda: {"count": 1}, 5, {}) == {"count": 1}

    def boom() -> dict[str, object]:
        raise OSError("libnvidia-ml.so.1: cannot open shared object file")

    rec = timed("nvml", lambda: probe._with_deadline("NVML", boom, 5, {}))
    assert not rec.ok and rec.error is not None and "cannot open shared object" in rec.error


@pytest.mark.parametrize("which", ["nvml", "libcuda"])
def test_a_wedged_driver_is_an_error_state_not_no_driver(which: str) -> None:
    hung = ProbeRecord(
        which,
        ok=False,
        data={
            "timed_out": True,
            **({"hints": {"ld_library_path": True}} if which == "nvml" else {}),
        },
        error=f"{'NVML' if which == 'nvml' else 'libcuda'} did not answer within 2 s: the "
        "NVIDIA driver is wedged (a hung GPU or kernel module)",
    )
    nv = build.build_nvidia(snapshot(hung), None)
    assert nv.status == "error" and nv.hung == (("NVML",) if which == "nvml" else ("libcuda",))
    env = envs.minimal(nvidia=nv)
    f = finding(env, "TS129")
    assert "did not answer within 2 s" in f.detail
    report = diagnose(env)
    nvidia = next(c for c in report.categories if c.key == "nvidia")
    assert nvidia.status == "error" and "no NVIDIA driver" not in nvidia.summary


# --- item 13: nvidia-smi broken while the driver is present ------------------------------------


BROKEN = {
    "segv": smi("", ok=False, error="nvidia-smi failed: killed by signal 11 (SIGSEGV)"),
    "hang": smi(
        "", ok=False, timed_out=True, error="nvidia-smi failed: timed out after 2 s: nvidia-smi"
    ),
    "garbage": smi("zz%%qq\n"),
    "exit-1": smi("", ok=False, error="nvidia-smi failed: exit code 1: Segmentation fault"),
}


@pytest.mark.parametrize("how", sorted(BROKEN))
def test_broken_smi_with_a_loaded_driver(how: str) -> None:
    procf = ProbeRecord("nvidia-proc", ok=True, data={"version": PROC_VERSION, "gpus": {}})
    nvml = ProbeRecord(
        "nvml",
        ok=False,
        data={"hints": {"proc_driver": True, "dev_nvidiactl": True}},
        error="NVML init failed: Library Not Found",
    )
    nv = build.build_nvidia(snapshot(procf, nvml, BROKEN[how]), None)
    assert nv.smi_broken and nv.driver_signs == ("/proc/driver/nvidia/version", "/dev/nvidia*")
    env = envs.minimal(nvidia=nv)
    summary, _ = category_facts(env, "nvidia")
    assert "driver present, nvidia-smi broken" in summary
    f = finding(env, "TS130")
    assert "not a reason to use a CPU build" in f.detail
    report = diagnose(env)
    text = " ".join(x.detail + " " + (x.fix or "") for x in report.findings)
    assert "CPU build of torch here" not in text and "--cpu" not in text


def test_broken_smi_without_any_driver_sign_is_a_failed_check() -> None:
    nv = build.build_nvidia(snapshot(BROKEN["segv"]), None)
    assert nv.status == "error" and nv.smi_broken and not nv.driver_signs
    env = envs.minimal(nvidia=nv)
    assert not [f for f in diagnose(env).findings if f.id == "TS130"]
    nvidia = next(c for c in diagnose(env).categories if c.key == "nvidia")
    assert nvidia.status == CHECK_FAILED and "SIGSEGV" in " ".join(nvidia.failed_checks)


def test_smi_naming_a_driver_state_is_not_broken() -> None:
    said = smi(
        "Failed to initialize NVML: Driver/library version mismatch\n",
        ok=False,
        error="nvidia-smi failed: exit code 18",
    )
    nv = build.build_nvidia(snapshot(said), None)
    assert nv.status == "mismatch" and nv.smi_broken is None


# --- item 13: a GPU table that contradicts itself ----------------------------------------------


UUID0 = "GPU-00000000-0000-0000-0000-000000000000"
UUID1 = "GPU-11111111-0000-0000-0000-000000000000"


@pytest.mark.parametrize(
    ("rows", "problem"),
    [
        (smi_row(0, UUID0) + smi_row(0, UUID1), "index 0 listed 2 times"),
        (smi_row(0, UUID0) + smi_row(1, UUID0), f"UUID {UUID0} listed 2 times"),
        (smi_row(0, UUID0) + smi_row(2, UUID1), "2 GPU rows but indices 0, 2"),
        (smi_row(0, UUID0, used=900, total=100), "memory used 900 MiB is more than its total"),
    ],
    ids=["duplicate-index", "duplicate-uuid", "index-gap", "used-above-total"],
)
def test_an_inconsistent_gpu_table_is_flagged(rows: str, problem: str) -> None:
    nv = build.build_nvidia(snapshot(smi(HEADER + rows)), None)
    assert any(problem in p for p in nv.table_problems), nv.table_problems
    f = finding(envs.minimal(nvidia=nv), "TS131")
    assert problem in f.detail


def test_a_consistent_table_has_no_problems() -> None:
    nv = build.build_nvidia(snapshot(smi(HEADER + smi_row(0, UUID0) + smi_row(1, UUID1))), None)
    assert nv.table_problems == () and len(nv.gpus) == 2 and nv.smi_broken is None


def test_nvml_devices_are_checked_too() -> None:
    gpu = {"name": "NVIDIA H200", "uuid": UUID0, "mem_total": 100, "mem_used": 50, "pci": "x"}
    nvml = ProbeRecord(
        "nvml", ok=True, data={"driver": "580.82.07", "count": 2, "gpus": [gpu, dict(gpu)]}
    )
    nv = build.build_nvidia(snapshot(nvml), None)
    assert any("listed 2 times" in p for p in nv.table_problems)


# --- item 13: a failing nvcc, a damaged torch ---------------------------------------------------


@pytest.mark.parametrize(
    ("data", "said"),
    [
        ({"nvcc_stdout": "", "nvcc_error": "killed by signal 11 (SIGSEGV)"}, "SIGSEGV"),
        ({"nvcc_stdout": "\x1b[2Jzz qq\n", "nvcc_error": None}, "zz qq"),
    ],
    ids=["crash", "garbage"],
)
def test_a_failing_nvcc_is_reported(data: dict[str, object], said: str) -> None:
    rec = ProbeRecord("cuda-toolkit", ok=True, data={"nvcc_path": "/opt/cuda/bin/nvcc", **data})
    tk = build.build_toolkit(rec)
    assert tk.nvcc_version is None
    f = finding(envs.minimal(toolkit=tk), "TS132")
    assert said in f.detail and "\x1b" not in f.detail
    summary, _ = category_facts(envs.minimal(toolkit=tk), "libraries")
    assert "nvcc broken" in summary


def test_a_working_nvcc_is_not_reported() -> None:
    out = "nvcc: NVIDIA (R) Cuda compiler driver\nCuda compilation tools, release 13.0, V13.0.88\n"
    rec = ProbeRecord("cuda-toolkit", ok=True, data={"nvcc_path": "/x/nvcc", "nvcc_stdout": out})
    env = envs.minimal(toolkit=build.build_toolkit(rec))
    assert not [f for f in diagnose(env).findings if f.id == "TS132"]


@pytest.mark.parametrize(
    ("version_py", "problem"),
    [
        (None, "is missing"),
        ({}, "holds no __version__"),
        ({"__version__": 12345}, "holds no __version__"),
    ],
    ids=["missing", "garbage", "not-a-string"],
)
def test_an_unreadable_version_py_is_a_problem(version_py: object, problem: str) -> None:
    from torchsetup.detect.parse.target_probe import build_python

    site = "/venv/lib/python3.12/site-packages"
    rec = ProbeRecord(
        "python",
        ok=True,
        data={
            "executable": "/venv/bin/python",
            "python": {"version": "3.12.3"},
            "distributions": [{"name": "torch", "version": "2.11.0+cu130", "location": site}],
            "torch_locations": [f"{site}/torch"],
            "torch_version_py": version_py,
        },
    )
    py = build_python(rec)
    assert py is not None and py.torch is not None
    assert py.torch.version_py_problem is not None and problem in py.torch.version_py_problem
