"""Each doctor rule fires on an environment with its problem and stays silent on healthy ones."""

from __future__ import annotations

import dataclasses

import pytest

from tests.helpers import envs
from torchsetup.detect.model import CudaToolkit, DiskSpace, Nvidia, Resources, TargetPython, Tools
from torchsetup.doctor import diagnose, run_rules
from torchsetup.doctor.context import RuleContext
from torchsetup.doctor.model import ERROR, INFO, WARNING
from torchsetup.doctor.rules import RULES


def ids(env, severity: str | None = None) -> set[str]:
    findings, crashed = run_rules(env)
    assert not crashed
    return {f.id for f in findings if severity is None or f.severity == severity}


def finding(env, rule_id: str):
    findings, _ = run_rules(env)
    matches = [f for f in findings if f.id == rule_id]
    assert matches, f"{rule_id} did not fire; got {[f.id for f in findings]}"
    return matches[0]


def test_real_h200_capture_raises_no_error() -> None:
    assert ids(envs.h200(), ERROR) == set()
    assert ids(envs.h200(), WARNING) == set()


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_every_rule_silent_on_the_healthy_h200(rule_id: str) -> None:
    findings = list(RULES[rule_id].func(RuleContext(envs.h200())))
    assert [f for f in findings if f.severity != INFO] == []


def test_cpu_torch_on_gpu_machine() -> None:
    env = envs.with_torch(envs.h200(), "2.13.0+cpu", None)
    f = finding(env, "TS001")
    assert f.severity == ERROR
    assert "2.13.0+cpu" in f.detail and "NVIDIA H200" in f.detail and "580.159.04" in f.detail
    assert f.fix and "torchsetup install" in f.fix


def test_cpu_torch_without_gpu_is_fine() -> None:
    env = envs.minimal()
    assert env.python is not None
    env = envs.with_torch(
        dataclasses.replace(env, python=dataclasses.replace(env.python, distributions=())),
        "2.13.0+cpu",
        None,
    )
    assert "TS001" not in ids(env)


def test_gpu_without_driver() -> None:
    env = envs.minimal(
        nvidia=Nvidia(status="no-driver", pci_nvidia_devices=1, nvml_error="NVML library not found")
    )
    f = finding(env, "TS002")
    assert f.severity == ERROR
    assert "1 NVIDIA device(s)" in f.detail
    assert f.fix == "sudo ubuntu-drivers install && sudo reboot"


def test_no_gpu_no_driver_is_not_an_error() -> None:
    assert ids(envs.minimal(), ERROR) == set()


def test_driver_too_old_across_major() -> None:
    env = envs.with_nvidia(envs.h200(), driver_version="535.104.05", cuda_driver_version="12.2")
    f = finding(envs.with_torch(env, "2.11.0+cu130", "13.0"), "TS003")
    assert f.severity == ERROR
    assert "CUDA 13.0" in f.detail and "535.104.05" in f.detail and "12.2" in f.detail


def test_driver_older_same_major_is_minor_version_compat_warning() -> None:
    env = envs.with_nvidia(envs.h200(), driver_version="550.54.14", cuda_driver_version="12.4")
    f = finding(envs.with_torch(env, "2.7.1+cu128", "12.8"), "TS003")
    assert f.severity == WARNING
    assert "minor-version compatibility" in f.detail


def test_driver_new_enough_is_silent() -> None:
    env = envs.with_torch(envs.h200(), "2.7.1+cu128", "12.8")
    assert "TS003" not in ids(env)


def test_nvml_mismatch() -> None:
    env = envs.with_nvidia(
        envs.h200(),
        status="mismatch",
        kernel_module_version="580.95.05",
        driver_version="580.159.04",
    )
    f = finding(env, "TS004")
    assert "580.95.05" in f.detail and "580.159.04" in f.detail
    assert "reboot" in (f.fix or "")
    assert "apt-mark hold" in (f.fix or "")  # Ubuntu capture


def test_two_torch_installs() -> None:
    env = envs.with_python(
        envs.h200(),
        torch_locations=(
            "/root/.local/lib/python3.12/site-packages/torch",
            "/opt/torch/.venv/lib/python3.12/site-packages/torch",
        ),
    )
    f = finding(env, "TS010")
    assert "2 copies" in f.detail and "/root/.local" in f.detail


@pytest.mark.parametrize(
    ("name", "version", "requires", "local"),
    [
        ("torchvision", "0.24.0", ("torch==2.9.0",), None),
        ("torchaudio", "2.9.0", ("torch==2.9.0",), None),
        ("torchvision", "0.26.0+cu128", ("torch==2.11.0",), "cu128"),
    ],
)
def test_companion_built_for_another_torch(
    name: str, version: str, requires: tuple[str, ...], local: str | None
) -> None:
    env = envs.with_dist(
        envs.with_torch(envs.h200(), "2.11.0+cu130", "13.0"), name, version, requires
    )
    f = finding(env, "TS011")
    assert name in f.title and version in f.detail and "2.11.0+cu130" in f.detail
    if local:
        assert "+cu128" in f.detail
    assert "--torch 2.11.0" in (f.fix or "")


def test_companion_matching_range_is_silent() -> None:
    env = envs.with_dist(
        envs.with_torch(envs.h200(), "2.14.1+cu130", "13.0"),
        "torchvision",
        "0.29.1",
        ("torch>=2.14",),
    )
    assert "TS011" not in ids(env)


def test_cuda_visible_devices_hides_all() -> None:
    for value in ("", "-1", "1", "GPU-deadbeef"):
        env = envs.with_nvidia(envs.h200(), cuda_visible_devices=value)
        f = finding(env, "TS020")
        assert repr(value) in f.detail
    for value in ("0", "GPU-71992ad7", "0,1"):
        env = envs.with_nvidia(envs.h200(), cuda_visible_devices=value)
        assert "TS020" not in ids(env)


def test_no_cxx_compiler() -> None:
    env = dataclasses.replace(envs.h200(), tools=Tools(paths=(("git", "/usr/bin/git"),)))
    f = finding(env, "TS015")
    assert f.fix == "sudo apt-get install -y build-essential"
    mac = dataclasses.replace(
        env, os=dataclasses.replace(env.os, system="Darwin", distro_id="macos")
    )
    assert finding(mac, "TS015").fix == "xcode-select --install"


def test_little_disk() -> None:
    env = dataclasses.replace(
        envs.h200(),
        resources=Resources(
            disks=(
                DiskSpace(label="TMPDIR", path="/tmp", free_bytes=1 << 30, total_bytes=100 << 30),
            )
        ),
    )
    f = finding(env, "TS022")
    assert f.severity == ERROR and "1.0 GiB" in f.detail and "/tmp" in f.detail


def test_torchtriton_installed() -> None:
    env = envs.with_dist(envs.h200(), "torchtriton", "2.0.0+0d7e753227")
    f = finding(env, "TS014")
    assert f.severity == ERROR and "torchtriton" in (f.fix or "") and "cache purge" in (f.fix or "")


def test_extra_index_url_for_pytorch_warns() -> None:
    env = dataclasses.replace(
        envs.h200(),
        pip_config=(
            (
                "/etc/pip.conf",
                "[global]\nextra-index-url = https://download.pytorch.org/whl/cu121\n",
            ),
        ),
    )
    findings, _ = run_rules(env)
    warn = [f for f in findings if f.id == "TS014"]
    assert warn and warn[0].severity == WARNING and "/etc/pip.conf" in warn[0].detail


def test_toolkit_without_driver_info_on_build_machine() -> None:
    env = envs.build_machine()
    f = finding(env, "TS104")
    assert f.severity == INFO and "13.0.88" in f.detail


def test_target_python_not_found() -> None:
    env = envs.minimal(
        python=TargetPython(
            executable="/nope/python", ok=False, error="target Python not found: /nope/python"
        )
    )
    f = finding(env, "TS102")
    assert f.severity == ERROR and "/nope/python" in f.detail


def test_categories_and_exit_codes() -> None:
    healthy = diagnose(envs.h200())
    assert healthy.exit_code() == 0
    assert [c.key for c in healthy.categories][:4] == ["system", "python", "nvidia", "torch"]
    nv = next(c for c in healthy.categories if c.key == "nvidia")
    assert nv.status == "ok"
    assert nv.summary == "driver 580.159.04, supports CUDA <= 13.0; NVIDIA H200 (sm_90)"
    libs = next(c for c in healthy.categories if c.key == "libraries")
    assert libs.summary == "driver supports CUDA <= 13.0 · torch built with CUDA 13.0 · nvcc 13.0"

    broken = diagnose(envs.with_torch(envs.h200(), "2.13.0+cpu", None))
    assert broken.exit_code() == 1
    assert next(c for c in broken.categories if c.key == "torch").status == "error"

    warn_only = diagnose(
        dataclasses.replace(envs.h200(), tools=Tools(paths=(("git", "/usr/bin/git"),)))
    )
    assert warn_only.exit_code() == 0
    assert warn_only.exit_code(strict=True) == 1


def test_failed_probe_marks_check_failed() -> None:
    from torchsetup.detect.model import ProbeSummary

    env = dataclasses.replace(
        envs.build_machine(),
        probes=(
            ProbeSummary(
                name="nvidia-smi",
                ok=False,
                duration_s=2.0,
                error="nvidia-smi failed: timed out after 2 s: nvidia-smi",
            ),
        ),
    )
    report = diagnose(env)
    nv = next(c for c in report.categories if c.key == "nvidia")
    assert nv.status == "check failed"
    assert "timed out" in nv.failed_checks[0]
    assert report.exit_code() == 0 and report.exit_code(strict=True) == 1


def test_a_crashing_rule_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    from torchsetup.doctor.model import Rule

    def boom(ctx):
        raise RuntimeError("kaboom")

    monkeypatch.setitem(
        RULES,
        "TS999",
        Rule(id="TS999", title="t", category="system", severity=ERROR, func=boom, explain="x"),
    )
    report = diagnose(envs.h200())
    assert report.crashed_rules == ("TS999: RuntimeError: kaboom",)
    assert report.exit_code() == 1


def test_toolkit_fields_unknown_are_not_false() -> None:
    env = envs.minimal(toolkit=CudaToolkit())
    assert "TS104" not in ids(env)


def test_install_fixes_carry_the_resolvers_command() -> None:
    """ "Install the right build" fixes show the exact command the resolver plans for the machine."""
    env = envs.with_torch(envs.h200(), "2.13.0+cpu", None)
    fix = finding(env, "TS001").fix or ""
    assert fix.startswith("torchsetup install")
    assert "-m pip install torch==" in fix
    assert "--index-url https://download.pytorch.org/whl/cu130" in fix  # driver 580 -> CUDA 13.0
    assert "--extra-index-url" not in fix
