"""--from-report on real collect_env reports from public bug trackers (tests/data/reports)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.helpers.result import unwrap
from torchsetup.cli import run
from torchsetup.cli.doctor import doctor
from torchsetup.detect.from_report import environment_from_parsed, read_paste
from torchsetup.detect.model import Environment
from torchsetup.detect.parse.collect_env import parse_collect_env
from torchsetup.doctor import diagnose
from torchsetup.doctor.model import ERROR
from torchsetup.sanitize import decode_paste

DATA = Path(__file__).resolve().parent.parent / "data"
REPORTS = DATA / "reports"
H200_REPORT = DATA / "real" / "h200-ubuntu24.04-driver580-torch2.11cu130" / "collect_env.txt"


def _expected(name: str) -> set[str]:
    """The rule ids the report's .source file says must fire ("Expect: TS001 (...)"); empty
    for a healthy report ("Expect: no error") or one nothing can be said about ("Expect: note")."""
    expect = next(
        line
        for line in (REPORTS / f"{name}.source").read_text(encoding="utf-8").splitlines()
        if line.startswith("Expect: ")
    )
    head = expect.removeprefix("Expect: ").split(" (")[0]
    return set(re.findall(r"TS\d{3}", head))


EXPECTED: dict[str, set[str]] = {p.stem: _expected(p.stem) for p in REPORTS.glob("*.source")}


def _invoke(args: list[str], stdin: str | None = None) -> tuple[int, str]:
    """(exit code, stdout) of `torchsetup doctor ARGS`, in process."""
    result = CliRunner().invoke(doctor, args, input=stdin, standalone_mode=False)
    assert result.exception is None, result.exception
    return result.return_value, result.output


def _env(name: str) -> Environment:
    return read_paste(decode_paste((REPORTS / f"{name}.txt").read_bytes()), name).env


def test_every_report_is_expected_and_sourced() -> None:
    names = {p.stem for p in REPORTS.glob("*.txt")}
    assert names == set(EXPECTED)
    for name in names:
        source = (REPORTS / f"{name}.source").read_text(encoding="utf-8")
        assert source.startswith("https://github.com/"), name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_report_diagnosis(name: str) -> None:
    """Each report on its own (the corpus test measures the whole; this names the failing one)."""
    report = diagnose(_env(name))
    fired = {f.id for f in report.findings}
    assert report.crashed_rules == ()
    assert EXPECTED[name] <= fired, fired
    errors = {f.id for f in report.findings if f.severity == ERROR}
    if not EXPECTED[name]:
        assert errors == set(), errors  # healthy (or nothing to say): no error may fire


def test_real_h200_collect_env_has_no_finding() -> None:
    report = diagnose(
        environment_from_parsed(parse_collect_env(H200_REPORT.read_text()), "collect_env.txt")
    )
    assert report.findings == ()


def test_nvcc_is_the_toolkit_not_the_wheel() -> None:
    """collect_env's "CUDA runtime version" is nvcc: it must not become torch's CUDA."""
    env = _env("cpu-wheel-windows-pytorch-122924")
    assert env.toolkit.nvcc_full_version == "12.4.99"
    assert env.python is not None and env.python.torch is not None
    assert env.python.torch.cuda is None and env.python.torch.variant == "cpu"


def test_ldconfig_cudnn_guess_is_not_a_fact() -> None:
    env = environment_from_parsed(parse_collect_env(H200_REPORT.read_text()), "x")
    assert env.deep is not None and env.deep.cudnn_version is None and env.deep.libraries is None


def test_absent_is_not_unknown() -> None:
    cut = _env("driver-too-old-warning-lhotse-793")
    assert cut.os.system is None and cut.os.libc_version is None  # the report stops early
    assert cut.python is not None and not cut.python.distributions_checked
    assert cut.toolkit.nvcc_error  # unknown, not "no nvcc"
    assert cut.nvidia.cuda_driver_version == "9.1"  # from torch's own warning
    mac = _env("mps-macos13-pytorch-164943")
    assert mac.nvidia.status == "no-driver"  # "No CUDA": collect_env looked and found none
    assert mac.toolkit.nvcc_error is None and mac.toolkit.nvcc_version is None


def test_platform_libc_quirks_are_not_trusted() -> None:
    """SUSE 12's report says glibc-2.9 (platform.libc_ver reading symbol versions)."""
    assert _env("torchvision-mismatch-detectron2-3351").os.libc_version is None
    assert _env("sm120-cu126-pytorch-150733").os.libc_version == "2.40"


def test_conda_packages_belong_to_conda_pythons_only() -> None:
    conda_python = _env("cpu-wheel-windows-pytorch-122924")  # "packaged by Anaconda"
    assert conda_python.python is not None and conda_python.python.conda("cudatoolkit")
    plain = _env("torchvision-mismatch-detectron2-3351")  # conda list of another env
    assert plain.python is not None and plain.python.conda_packages == ()


def test_warning_facts() -> None:
    env = _env("sm120-cu126-pytorch-150733")
    assert env.deep is not None
    assert env.deep.arch_list == ("sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90")
    assert env.deep.devices[0].capability == "12.0"
    assert env.deep.cuda_available is True
    numpy = _env("numpy-missing-windows-cpu-pytorch-137846")
    assert numpy.deep is not None and "No module named 'numpy'" in (numpy.deep.numpy_error or "")


def test_json_output_says_unknown_where_the_report_did_not_say() -> None:
    code, out = _invoke(
        ["--from-report", str(REPORTS / "sm120-cu126-pytorch-150733.txt"), "--json"]
    )
    assert code == 1
    data = unwrap(out, "doctor")
    cats = {c["key"]: c for c in data["categories"]}
    assert cats["companions"]["summary"].startswith("unknown")
    assert cats["toolchain"]["summary"].startswith("unknown")
    assert cats["resources"]["summary"] == "unknown"
    assert "nvcc unknown" in cats["libraries"]["summary"]
    assert cats["torch"]["status"] == "error" and cats["torch"]["findings"] == ["TS005"]
    assert data["environment"]["source"].startswith("report:")


def test_text_output_from_stdin() -> None:
    text = (REPORTS / "cpu-wheel-windows-pytorch-122924.txt").read_text()
    code, out = _invoke(["--from-report", "-"], stdin=text)
    assert code == 1
    assert "TS001" in out and "facts from report:stdin" in out


def test_healthy_report_exits_0() -> None:
    code, out = _invoke(["--from-report", str(H200_REPORT)])
    assert code == 0 and "No issues found" in out


def test_no_report_in_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "issue.md"
    f.write_text("It crashes, please help.")
    assert run(["doctor", "--from-report", str(f)]) == 2
    err = capsys.readouterr().err
    assert "holds nothing to diagnose" in err and err.count("\n") == 1
    assert "python -m torch.utils.collect_env" in err  # what to paste instead


@pytest.mark.parametrize(
    "extra", [["--deep"], ["--python", "/usr/bin/python3"], ["--fix", "--yes"]]
)
def test_from_report_cannot_combine_with_live_options(
    extra: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["doctor", "--from-report", str(H200_REPORT), *extra]) == 2
    assert "--from-report reads saved facts" in capsys.readouterr().err


def test_a_rocm_report_gives_the_amd_gpu_and_its_runtime() -> None:
    env = _env("healthy-rocm-mi300x-vllm-14062")
    assert env.amd is not None
    assert [(g.name, g.gfx) for g in env.amd.gpus] == [("AMD Instinct MI300X", "gfx942")]
    assert env.amd.rocm_version == "6.3"  # HIP's 6.3.42133: the patch is a build number
    assert env.python is not None and env.python.torch is not None
    assert env.python.torch.variant == "rocm6.3"
    assert _env("healthy-windows-cu117-pytorch-51858").amd is None  # an NVIDIA report
