"""The resolver on the scenario snapshots (tests/data/snapshots) and on single rules."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from torchsetup.detect.model import Environment, Gpu, Nvidia, environment_from_dict
from torchsetup.errors import ResolutionError, UsageError
from torchsetup.matrix.load import load_matrix
from torchsetup.matrix.model import Matrix
from torchsetup.resolve.plan import Plan
from torchsetup.resolve.request import parse_request
from torchsetup.resolve.resolver import resolve
from torchsetup.versions import version_tuple

SNAPSHOTS = Path(__file__).resolve().parents[1] / "data" / "snapshots"


def snapshot(name: str) -> Environment:
    data = json.loads((SNAPSHOTS / f"{name}.json").read_text(encoding="utf-8"))
    return dataclasses.replace(
        environment_from_dict(data["environment"]), source=f"snapshot:{name}.json"
    )


def plan_for(name: str, **options: Any) -> Plan:
    return resolve(snapshot(name), parse_request(**options), load_matrix())


def refusal_for(name: str, **options: Any) -> ResolutionError:
    with pytest.raises(ResolutionError) as info:
        plan_for(name, **options)
    return info.value


def install_args(plan: Plan) -> list[str]:
    """argv of the install step after the interpreter ("-m pip install ...")."""
    step = next(s for s in plan.steps if s.id == "install")
    return list(step.argv[1:])


@pytest.fixture(scope="module")
def matrix() -> Matrix:
    return load_matrix()


# --- the acceptance examples ----------------------------------------------------------------------


@pytest.mark.parametrize("python", ["3.8", "3.9", "3.10", "3.11"])
def test_cuda_11_7_is_torch_2_0_1_from_the_cu117_index(python: str) -> None:
    plan = plan_for("linux-py311-nodriver", cuda="11.7", target_python=python)
    assert install_args(plan) == [
        "-m",
        "pip",
        "install",
        "torch==2.0.1",
        "torchvision==0.15.2",
        "torchaudio==2.0.2",
        "--index-url",
        "https://download.pytorch.org/whl/cu117",
    ]
    # the snapshot's interpreter is 3.11; planning for another Python names that Python
    assert plan.steps[-1].argv[0] == (
        "/home/dev/venv/bin/python" if python == "3.11" else f"python{python}"
    )
    assert any("No NVIDIA driver found" in w for w in plan.warnings)  # planned, with a warning


def test_cuda_11_7_with_conda_is_the_documented_command() -> None:
    plan = plan_for("linux-py311-nodriver", cuda="11.7", method="conda")
    assert " ".join(plan.steps[-1].argv) == (
        "conda install pytorch==2.0.1 torchvision==0.15.2 torchaudio==2.0.2 pytorch-cuda=11.7 -c pytorch -c nvidia"
    )
    assert any("not in a conda environment" in w for w in plan.warnings)


def test_conda_env_target_gets_its_prefix() -> None:
    plan = plan_for("conda-a100-driver535", method="conda")
    assert (plan.torch, plan.variant) == (
        "2.5.1",
        "cu121",
    )  # cu121: full support on 535; cu124 minor only
    assert plan.steps[-1].argv[-2:] == ("--prefix", "/opt/conda/envs/ml")


def test_pascal_with_a_new_driver_keeps_sm61_kernels() -> None:
    plan = plan_for("pascal-gtx1080ti-driver580")
    assert (plan.torch, plan.variant) == ("2.14.1", "cu126")
    assert "6.0" in (plan.detail("arch_list") or "").split(";")
    rejected = {r.variant: r.reason for r in plan.rejected if r.torch == "2.14.1"}
    assert "no kernels for NVIDIA GeForce GTX 1080 Ti (sm_61)" in rejected["cu130"]
    # 2.15 dropped cu126 and with it Pascal: the user is told to stay on 2.14.x (with a Python
    # 2.15 has wheels for: this snapshot's 3.10 is refused by 2.15 on its own)
    plan = plan_for("pascal-gtx1080ti-driver580", target_python="3.12")
    assert (plan.torch, plan.variant) == ("2.14.1", "cu126")
    newest = {r.variant: r.reason for r in plan.rejected if r.torch == "2.15.0"}
    assert set(newest) - {"cpu"} == {"cu130", "cu132"} and "cu126" not in newest
    assert "works, but" in newest["cpu"]  # the CPU build is listed, never chosen on a GPU box
    assert any(
        "torch 2.15.0 has no kernels for NVIDIA GeForce GTX 1080 Ti (sm_61)" in r
        and "stay on torch 2.14.x" in r
        for r in plan.reasons
    )


def test_a_turing_gpu_is_not_told_to_stay_behind() -> None:
    plan = plan_for("h200-real")
    assert plan.torch == "2.15.0" and not any("stay on torch" in r for r in plan.reasons)


@pytest.mark.parametrize(
    "driver", ["570.26", "570.133.07", "575.51.03", "580.95.05", "595.58.03", "610.10"]
)
@pytest.mark.parametrize("python", ["3.10", "3.12", "3.13"])
def test_rtx50_never_gets_a_build_older_than_2_7_cu128(
    driver: str, python: str, matrix: Matrix
) -> None:
    plan = plan_for("rtx5090-driver570", target_driver=driver, target_python=python)
    assert version_tuple(plan.torch) >= (2, 7)
    assert plan.variant in ("cu128", "cu129", "cu130", "cu132")
    release = matrix.release(plan.torch)
    assert release is not None
    assert "12.0" in (plan.detail("arch_list") or "")


def test_rtx50_with_driver_570_gets_2_11_cu128() -> None:
    plan = plan_for("rtx5090-driver570")
    assert (plan.torch, plan.variant) == ("2.11.0", "cu128")


def test_driver_470_gets_cu118_under_minor_version_compatibility() -> None:
    plan = plan_for("t4-driver470")  # Python 3.8: newest release is 2.4.1
    assert (plan.torch, plan.variant) == ("2.4.1", "cu118")
    assert plan.detail("driver_support") == "minor"
    assert any("minor-version compatibility" in w for w in plan.warnings)
    newer = plan_for("t4-driver470", target_python="3.10")
    assert (newer.torch, newer.variant) == ("2.7.1", "cu118")


def test_intel_mac_gets_2_2_2_at_most() -> None:
    plan = plan_for("intel-mac")
    assert (plan.torch, plan.variant) == ("2.2.2", "cpu")
    assert plan.index_url == "https://pypi.org/simple"
    with pytest.raises(ResolutionError, match="no macos-x86_64 wheels"):
        plan_for("intel-mac", torch="2.4")


def test_glibc_2_17_gets_a_manylinux2014_release() -> None:
    plan = plan_for("centos7-v100-glibc217")
    assert (plan.torch, plan.variant) == ("2.6.0", "cu118")
    assert plan.detail("wheel_tag") == "manylinux1_x86_64"  # built on manylinux2014, glibc 2.17
    reasons = {(r.torch, r.variant): r.reason for r in plan.rejected}
    assert "needs glibc >= 2.28" in reasons[("2.6.0", "cu126")]


def test_real_h200_gets_newest_cu130_not_cu132() -> None:
    plan = plan_for("h200-real")
    assert (plan.torch, plan.variant) == ("2.15.0", "cu130")
    assert plan.detail("driver_support") == "full"
    assert install_args(plan)[-2:] == ["--index-url", "https://download.pytorch.org/whl/cu130"]
    why_not_cu132 = next(r.reason for r in plan.rejected if r.variant == "cu132")
    assert "cu130 is preferred (full driver support)" in why_not_cu132
    facts = {f.name: f for f in plan.facts}
    assert (
        facts["nvidia driver"].value.startswith("580.159.04")
        and "NVML" in facts["nvidia driver"].source
    )
    assert "9.0" in facts["gpu 0"].value


def test_real_h200_gets_cu132_with_a_595_driver() -> None:
    plan = plan_for("h200-real", target_driver="595.58.03")
    assert plan.variant == "cu132"


def test_apple_silicon_gets_the_pypi_mps_wheel() -> None:
    plan = plan_for("apple-m2")
    assert (plan.torch, plan.variant, plan.index_url) == (
        "2.15.0",
        "cpu",
        "https://pypi.org/simple",
    )
    assert any("MPS" in r for r in plan.reasons)


def test_windows_cuda_comes_from_the_pytorch_index() -> None:
    plan = plan_for("windows-rtx3060")
    assert (plan.torch, plan.variant) == ("2.14.1", "cu126")  # 560.94 < 580.88 needed by cu130
    assert plan.index_url == "https://download.pytorch.org/whl/cu126"
    cpu = plan_for("windows-rtx3060", cpu=True)
    assert cpu.index_url == "https://download.pytorch.org/whl/cpu"


def test_gh200_aarch64_gets_cuda() -> None:
    plan = plan_for("gh200-aarch64")
    assert (plan.torch, plan.variant) == ("2.15.0", "cu130")
    assert plan.detail("platform") == "linux-aarch64"


# --- refusals and the nearest request ---------------------------------------------------------------


def test_cuda_11_7_with_torch_2_1_suggests_both_neighbours() -> None:
    err = refusal_for("linux-py311-nodriver", cuda="11.7", torch="2.1")
    assert "cu117 exists for torch 2.0.0, 2.0.1" in err.message
    assert err.nearest is not None
    assert "--cuda 11.7 --torch 2.0.1" in err.nearest
    assert "--cuda 11.8 --torch 2.1.2" in err.nearest
    assert err.exit_code == 2


def test_cuda_on_macos_is_refused() -> None:
    err = refusal_for("apple-m2", cuda="11.7")
    assert "no release has a cu117 build for macos-arm64" in err.message
    assert err.nearest is not None and "--cpu" in err.nearest


def test_cuda_12_8_with_driver_470_names_the_driver_and_what_runs_now() -> None:
    err = refusal_for("t4-driver470", cuda="12.8", target_python="3.10")
    assert "570.26" in err.message and "470.256.02" in err.message
    assert err.nearest is not None and err.nearest.startswith("torchsetup install --cuda 11.8")


def test_torch_2_0_on_python_3_12_is_refused() -> None:
    err = refusal_for("linux-py311-nodriver", torch="2.0", target_python="3.12")
    assert "no Python 3.12 wheels (supports 3.8–3.11)" in err.message
    assert (
        err.nearest is not None and "--torch 2.2.0" in err.nearest
    )  # the nearest release with cp312


def test_conda_for_2_6_names_the_last_conda_release() -> None:
    err = refusal_for("conda-a100-driver535", method="conda", torch="2.6")
    assert "2.5.1" in err.message
    assert err.nearest is not None and "--torch 2.5.1 --method conda" in err.nearest


def test_musl_and_32_bit_are_refused() -> None:
    assert "musllinux" in refusal_for("alpine-musl").message
    env = snapshot("linux-py311-nodriver")
    assert env.python is not None
    env32 = dataclasses.replace(env, python=dataclasses.replace(env.python, bits=32))
    with pytest.raises(ResolutionError, match="32-bit"):
        resolve(env32, parse_request(), load_matrix())


def test_unknown_cuda_version_is_a_resolution_error() -> None:
    with pytest.raises(ResolutionError, match=r"no PyTorch 2\.x release has a cu123 build"):
        plan_for("linux-py311-nodriver", cuda="12.3")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"torch": "2.x.q"}, "--torch 2.x.q: not a version"),
        ({"cuda": "abc"}, "--cuda abc: not a CUDA version"),
        ({"cuda": "12.8", "cpu": True}, "mutually exclusive"),
        ({"method": "brew"}, "--method brew"),
        ({"target_gpu": "sm_86"}, "--target-gpu"),
        ({"target_platform": "linux-riscv64"}, "unknown platform"),
        ({"with_": "torchtext"}, "unknown package"),
        ({"only": "torchvision"}, "torch is always installed"),
        ({"method": "conda", "index_url": "https://mirror.example/simple"}, "--index-url applies"),
    ],
)
def test_malformed_requests_are_usage_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_request(**options)


def test_no_release_matches() -> None:
    with pytest.raises(ResolutionError, match=r"no PyTorch release matches --torch 3\.0"):
        plan_for("linux-py311-nodriver", torch="3.0")


# --- single rules ---------------------------------------------------------------------------------


def test_unadvertised_builds_only_by_name() -> None:
    err = refusal_for("h200-real", cuda="13.4")
    assert "not advertised" in err.message
    assert err.nearest is not None and "--variant cu134" in err.nearest
    plan = plan_for("h200-real", variant="cu134")
    assert plan.variant == "cu134" and plan.detail("driver_support") == "minor"
    assert any("not advertised" in w for w in plan.warnings)
    auto = plan_for("h200-real", torch="2.13.0")
    assert auto.variant != "cu129"
    explicit = plan_for("h200-real", variant="cu129", torch="2.13.0")
    assert explicit.variant == "cu129"


def test_ptx_only_coverage_needs_the_full_driver() -> None:
    # a hypothetical compute capability 13.0 GPU: only the 12.0+PTX entry of 2.10.0 cu130 covers it
    base = {"variant": "cu130", "torch": "2.10.0", "target_gpu": "13.0"}
    with pytest.raises(
        ResolutionError, match="PTX JIT, which minor-version compatibility does not allow"
    ):
        plan_for("h200-real", target_driver="580.10", **base)
    plan = plan_for("h200-real", target_driver="580.95.05", **base)
    assert any("PTX JIT" in w for w in plan.warnings)


def test_gpu_without_driver_plans_cpu() -> None:
    env = snapshot("linux-py311-nodriver")
    env = dataclasses.replace(
        env,
        nvidia=Nvidia(
            status="not-loaded",
            pci_nvidia_devices=1,
            gpus=(Gpu(index=0, name="NVIDIA A10", compute_capability="8.6"),),
        ),
    )
    plan = resolve(env, parse_request(), load_matrix())
    assert plan.variant == "cpu"
    assert any("install its driver" in r for r in plan.reasons)


def test_old_pip_gets_an_upgrade_step_first() -> None:
    env = snapshot("linux-py311-nodriver")
    assert env.python is not None
    env = dataclasses.replace(
        env, python=dataclasses.replace(env.python, version="3.9.0", pip_version="20.2.3")
    )
    plan = resolve(env, parse_request(), load_matrix())
    assert plan.torch == "2.8.0"  # the last release with Python 3.9 wheels, manylinux_2_28
    assert [s.id for s in plan.steps] == ["upgrade-pip", "install"]
    assert plan.steps[0].argv[1:] == ("-m", "pip", "install", "--upgrade", "pip>=20.3")


def test_glibc_override_and_unknown_glibc() -> None:
    plan = plan_for("linux-py311-nodriver", target_glibc="2.27")
    assert plan.torch == "2.6.0"  # the newest release with glibc 2.17 CPU wheels
    env = snapshot("linux-py311-nodriver")
    env = dataclasses.replace(env, os=dataclasses.replace(env.os, libc_version=None, libc=None))
    unknown = resolve(env, parse_request(), load_matrix())
    assert any("glibc version unknown" in w for w in unknown.warnings)


def test_with_torchaudio_required_picks_a_release_that_has_it() -> None:
    plan = plan_for("h200-real", with_="torchaudio")
    assert (plan.torch, plan.torchaudio, plan.torchvision) == ("2.11.0", "2.11.0", None)
    assert plan_for("h200-real", only="torch").packages() == [("torch", "2.15.0")]


def test_uv_method() -> None:
    plan = plan_for("h200-real", method="uv")
    assert plan.steps[-1].argv == (
        "/usr/local/bin/uv",
        "pip",
        "install",
        "--python",
        "/opt/torch/.venv/bin/python3",
        "torch==2.15.0",
        "torchvision==0.29.2",
        "--index-url",
        "https://download.pytorch.org/whl/cu130",
    )


def test_mirror_index_url_is_used_and_redacted() -> None:
    plan = plan_for("h200-real", index_url="https://bob:s3cret@mirror.example.com/cu130/simple")
    assert (
        plan.index_url == "https://bob:s3cret@mirror.example.com/cu130/simple"
    )  # the executor needs it
    shown = plan.redacted()
    assert "s3cret" not in json.dumps(shown.to_dict())
    assert shown.steps[-1].argv[-1] == "https://***@mirror.example.com/cu130/simple"


def test_venv_is_created_when_missing() -> None:
    from torchsetup.resolve.complete import plan_install

    request = parse_request(venv="/srv/envs/t", create_venv=True)
    plan = plan_install(snapshot("linux-py311-nodriver"), request, load_matrix())
    assert plan.steps[0].argv == ("/home/dev/venv/bin/python", "-m", "venv", "/srv/envs/t")
    assert plan.target is not None and plan.target.exists is False
    assert plan.target.base_python == "/home/dev/venv/bin/python"
    assert plan.steps[1].argv[0] == "/srv/envs/t/bin/python"
    win = plan_for("windows-rtx3060", venv="C:\\envs\\t")
    assert win.python == "C:\\envs\\t\\Scripts\\python.exe"


def test_every_fact_has_a_source_and_overrides_say_so() -> None:
    plan = plan_for(
        "linux-py311-nodriver",
        target_platform="linux-aarch64",
        target_python="3.12",
        target_driver="none",
        target_glibc="2.39",
        target_gpu="8.6",
    )
    sources = {f.name: f.source for f in plan.facts}
    assert sources["platform"] == "--target-platform"
    assert sources["python"] == "--target-python"
    assert sources["glibc"] == "--target-glibc"
    assert sources["gpu 0"] == "--target-gpu"
    assert all(f.source for f in plan.facts)


# --- source builds --------------------------------------------------------------------------------


def test_source_build_on_the_h200() -> None:
    plan = plan_for("h200-real", method="source")
    clone, requirements, build = plan.steps
    assert clone.argv == (
        "git",
        "clone",
        "--branch",
        "v2.15.0",
        "--recursive",
        "https://github.com/pytorch/pytorch",
        "pytorch-v2.15.0",
    )
    assert requirements.argv[1:] == ("-m", "pip", "install", "-r", "requirements.txt")
    assert build.argv[1:] == ("-m", "pip", "install", "--no-build-isolation", "-v", "-e", ".")
    env = build.env_dict
    assert env["TORCH_CUDA_ARCH_LIST"] == "9.0" and env["USE_CUDA"] == "1"
    assert env["MAX_JOBS"] == "16"  # 16 cores, 128 GiB: the cores are the limit
    assert not any("not found" in w for w in plan.warnings)  # gcc 13.3 <= 15, cmake, ninja, git


def test_source_build_of_an_older_release_and_its_toolchain_warnings() -> None:
    plan = plan_for(
        "pascal-gtx1080ti-driver580",
        method="source",
        torch="2.4.1",
        cuda="12.4",
        target_gpu="6.1,8.6",
    )
    assert plan.steps[-1].argv[1:] == ("setup.py", "develop")
    assert plan.steps[-1].env_dict["TORCH_CUDA_ARCH_LIST"] == "6.1;8.6"
    assert any("nvcc not found: install the CUDA 12.4 toolkit" in w for w in plan.warnings)
    assert any("gcc not found: install gcc/g++ <= 13" in w for w in plan.warnings)
    assert any("cmake not found" in w for w in plan.warnings)


def test_source_build_warns_about_a_too_new_gcc() -> None:
    env = snapshot("h200-real")
    env = dataclasses.replace(env, tools=dataclasses.replace(env.tools, gcc_version="16.1.0"))
    plan = resolve(env, parse_request(method="source"), load_matrix())
    assert any(
        "gcc 16.1.0 is newer than CUDA 13.0's nvcc accepts (gcc <= 15)" in w for w in plan.warnings
    )


def test_max_jobs_follows_memory() -> None:
    env = snapshot("h200-real")
    env = dataclasses.replace(
        env, resources=dataclasses.replace(env.resources, memory_total_bytes=8 * 1024**3)
    )
    plan = resolve(env, parse_request(method="source"), load_matrix())
    assert plan.steps[-1].env_dict["MAX_JOBS"] == "3"  # 8 GiB / 2.5 GB


def test_conda_only_torch_drops_the_companions() -> None:
    plan = plan_for("conda-a100-driver535", method="conda", only="torch")
    assert plan.steps[-1].argv[:4] == ("conda", "install", "pytorch==2.5.1", "pytorch-cuda=12.1")
    assert plan.packages() == [("torch", "2.5.1")]


def test_python_executable_follows_the_target() -> None:
    assert plan_for("linux-py311-nodriver", target_python="3.12").python == "python3.12"
    assert (
        plan_for("linux-py311-nodriver", target_python="3.11").python == "/home/dev/venv/bin/python"
    )
    assert (
        plan_for("linux-py311-nodriver", python="/opt/py/bin/python3").python
        == "/opt/py/bin/python3"
    )


# --- policy: with a usable GPU present, CPU is never automatic --------------------------------


def test_pinned_torch_no_gpu_build_satisfies_is_refused_with_gpu_alternatives() -> None:
    err = refusal_for("rtx5090-driver570", torch="2.14.1", target_python="3.11")
    assert err.exit_code == 2
    assert "no GPU build of torch 2.14.1" in err.message
    # which driver 2.14.1 needs for sm_120, and the CPU opt-in
    assert "torch 2.14.1 needs NVIDIA driver >= 580.65.06 (cu130" in err.message
    assert "--cpu installs it" in err.message
    assert err.nearest is not None
    assert "--cuda 12.8 --torch 2.11.0 (torch 2.11.0+cu128)" in err.nearest
    assert "--variant cu129 --torch 2.13.0 (torch 2.13.0+cu129)" in err.nearest
    assert "cpu" not in err.nearest.replace("--cpu", "")  # never a CPU build as the nearest


def test_pinned_torch_with_cpu_opt_in_plans_the_cpu_build() -> None:
    plan = plan_for("rtx5090-driver570", torch="2.14.1", target_python="3.11", cpu=True)
    assert (plan.torch, plan.variant) == ("2.14.1", "cpu")


def test_nearest_suggestions_plan_gpu_builds() -> None:
    for flags in (
        {"cuda": "12.8", "torch": "2.11.0"},
        {"variant": "cu129", "torch": "2.13.0"},
    ):
        plan = plan_for("rtx5090-driver570", target_python="3.11", **flags)
        assert plan.variant.startswith("cu")


def test_not_chosen_lists_every_working_newer_build_with_why_it_lost() -> None:
    plan = plan_for("rtx5090-driver570", target_python="3.11")
    assert (plan.torch, plan.variant) == ("2.11.0", "cu128")
    why = {(r.torch, r.variant): r.reason for r in plan.rejected}
    assert why[("2.13.0", "cu129")].startswith("works, but it is not advertised")
    assert "--variant cu129" in why[("2.13.0", "cu129")]
    assert why[("2.14.1", "cpu")].startswith("works, but only on the CPU")
    assert "(sm_120): the build has" in why[("2.14.1", "cu126")]
    assert ("2.11.0", "cpu") not in why  # the chosen release's CPU build is not "newer"


def test_driver_too_old_for_every_cuda_build_is_refused_not_cpu() -> None:
    err = refusal_for(
        "linux-py311-nodriver", target_driver="418.67", target_gpu="7.0", target_python="3.11"
    )
    assert "no GPU build of any PyTorch release" in err.message
    assert "needs NVIDIA driver >=" in err.message
    assert err.hint is not None and "--cpu" in err.hint
    plan = plan_for(
        "linux-py311-nodriver",
        target_driver="418.67",
        target_gpu="7.0",
        target_python="3.11",
        cpu=True,
    )
    assert plan.variant == "cpu"
