"""doctor --report: a redacted markdown block that --from-report reads back."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import pytest

from tests.helpers.envs import healthy_deep, linux_gpu, macos_arm, windows_gpu, with_nvidia
from tests.helpers.rule_cases import CASES
from torchsetup.detect.from_report import environment_from_parsed
from torchsetup.detect.model import Environment
from torchsetup.detect.parse.collect_env import parse_collect_env
from torchsetup.detect.snapshot import load_environment
from torchsetup.doctor import diagnose
from torchsetup.doctor.bugreport import render_bug_report
from torchsetup.doctor.model import DoctorReport, Finding
from torchsetup.redact import redact_report, redact_user_dirs

H200 = (
    Path(__file__).resolve().parent.parent
    / "data"
    / "real"
    / "h200-ubuntu24.04-driver580-torch2.11cu130"
)
UUID = "GPU-71992ad7-f259-b6ed-fd4d-f97a26e05328"


def _from_report(text: str, source: str) -> Environment:
    return environment_from_parsed(parse_collect_env(text), source)


def _errors(report: DoctorReport) -> set[str]:
    return {f.id for f in report.findings if f.severity == "error"}


def _report(env: Environment) -> str:
    return render_bug_report(env, diagnose(env))


def test_block_is_paste_ready_markdown() -> None:
    text = _report(linux_gpu())
    lines = text.splitlines()
    assert lines[0] == "<details>" and lines[1].startswith("<summary>")
    assert lines[2] == "" and lines[3] == "```text"  # GitHub needs the blank line after summary
    assert lines[-2:] == ["", "</details>"] and lines[-3] == "```"
    assert text.count("```") == 2


def test_collect_env_fields_are_all_there() -> None:
    text = _report(linux_gpu())
    for label in (
        "PyTorch version: 2.11.0+cu130",
        "CUDA used to build PyTorch: 13.0",
        "OS: Ubuntu 24.04.3 LTS (x86_64)",
        "Libc version: glibc-2.39",
        "Python version: 3.12.3",
        "Python platform: Linux-6.8.0-45-generic-x86_64-with-glibc2.39",
        "GPU models and configuration: GPU 0: NVIDIA H100 80GB HBM3 (sm_90, 80 GiB)",
        "Nvidia driver version: 580.95.05",
        "NVIDIA driver supports CUDA up to: 13.0",
        "cuDNN version: 9.19.0.56 (nvidia-cudnn-cu13)",
        "Versions of relevant libraries:",
        "[pip3] torchvision==0.26.0+cu130",
        "[conda] Could not collect",
    ):
        assert label in text, label


def test_findings_are_in_the_block() -> None:
    env = CASES["TS005-blackwell-cu126"].build()
    text = _report(env)
    assert "- [error] TS005 GPU newer than the installed torch's CUDA arch list:" in text
    assert "  fix: torchsetup install" in text


def test_redaction() -> None:
    env = with_nvidia(
        linux_gpu(), cuda_visible_devices=UUID + "-x"
    )  # hides the GPU: TS020 quotes it
    report = diagnose(env)
    extra = Finding(
        id="TS014",
        severity="warning",
        title="index",
        detail="https://alice:s3cret@pypi.corp.example/simple and ?token=abc123 on gpu-node-7",
        fix=None,
        category="companions",
    )
    report = dataclasses.replace(report, findings=(*report.findings, extra))
    text = render_bug_report(env, report, home="/home/alice", user="alice")
    assert "TS020" in text
    for secret in ("alice", "s3cret", "abc123", "71992ad7", "gpu-node-7"):
        assert secret not in text, secret
    assert "GPU-<redacted>" in text and "<host>" in text


def test_user_dirs_of_any_user_are_redacted() -> None:
    text = r"/home/bob/x /Users/carol/y C:\Users\Dana Smith\venv /Users/Shared/z /root/w"
    assert (
        redact_user_dirs(text)
        == r"/home/<user>/x /Users/<user>/y C:\Users\<user>\venv /Users/Shared/z /root/w"
    )
    assert redact_report("https://u:p@h/x") == "https://***@h/x"


def _facts(env: Environment) -> dict[str, object]:
    """What a collect_env-shaped report can carry, for the round trip."""
    py = env.python
    assert py is not None
    torch = py.torch
    return {
        "torch": (torch.version, torch.cuda, torch.hip) if torch else None,
        "python": (py.version, py.bits),
        "dists": sorted((d.name, d.version) for d in py.distributions),
        "os": (env.os.system, env.os.name, env.os.machine, env.os.libc_version),
        "driver": (env.nvidia.driver_version, env.nvidia.cuda_driver_version),
        "gpus": [(g.name, g.compute_capability) for g in env.nvidia.gpus],
        "nvcc": env.toolkit.nvcc_version,
        "cuda_available": env.deep.cuda_available if env.deep else None,
        "arch_list": env.deep.arch_list if env.deep else None,
    }


ROUND_TRIP: dict[str, Callable[[], Environment]] = {
    "linux-gpu-deep": lambda: dataclasses.replace(linux_gpu(), deep=healthy_deep()),
    "windows-gpu": windows_gpu,
    "macos-arm64": lambda: dataclasses.replace(macos_arm(), deep=None),
    "h200-capture": lambda: load_environment(str(H200)),
}


@pytest.mark.parametrize("name", sorted(ROUND_TRIP))
def test_report_reads_back(name: str) -> None:
    env = ROUND_TRIP[name]()
    back = _from_report(_report(env), "report.md")
    expected = _facts(env)
    if env.deep is None:
        expected["cuda_available"] = back.deep.cuda_available if back.deep else None
    assert _facts(back) == expected


@pytest.mark.parametrize(
    "case", ["TS001-cpu-wheel", "TS003-too-old", "TS005-blackwell-cu126", "TS011-release-pairing"]
)
def test_round_trip_keeps_the_diagnosis(case: str) -> None:
    env = CASES[case].build()
    before = _errors(diagnose(env))
    after = _errors(diagnose(_from_report(_report(env), "report.md")))
    assert after == before and CASES[case].rule in after


def test_report_of_a_report_is_stable() -> None:
    text = (H200 / "collect_env.txt").read_text()
    env = _from_report(text, "collect_env.txt")
    once = render_bug_report(env, diagnose(env))
    twice_env = _from_report(once, "again")
    assert _facts(twice_env) == _facts(env)


def test_cli_report(capsys: pytest.CaptureFixture[str]) -> None:
    from torchsetup.cli import run

    assert run(["doctor", "--snapshot", str(H200), "--report"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("<details>") and "PyTorch version: 2.11.0+cu130" in out
    assert "GPU 0: NVIDIA H200 (sm_90, 140 GiB)" in out
    assert "torchsetup doctor: no issues found." in out


def test_report_and_json_do_not_mix(capsys: pytest.CaptureFixture[str]) -> None:
    from torchsetup.cli import run

    assert run(["doctor", "--snapshot", str(H200), "--report", "--json"]) == 2
    assert "choose one" in capsys.readouterr().err
