"""Environments for doctor tests, one set of builders for every rule test.

Two families: the real H200 capture (:func:`h200`) and the real build machine changed one fact
at a time, and synthetic healthy machines (:func:`linux_gpu`, :func:`cpu_linux`,
:func:`macos_arm`, :func:`windows_gpu`, :func:`healthy_deep`) changed with the ``with_*``
helpers. :data:`HEALTHY` lists the healthy ones every rule must stay silent on.
"""

from __future__ import annotations

import dataclasses
from functools import cache
from typing import Any, Callable, Optional

from tests.conftest import DATA
from torchsetup.detect.model import (
    CudaToolkit,
    DeepDevice,
    DeepFacts,
    DiskSpace,
    Distribution,
    Environment,
    Gpu,
    LoadedLibrary,
    Nvidia,
    OSInfo,
    Resources,
    TargetPython,
    Tools,
    TorchBuild,
)
from torchsetup.detect.snapshot import load_environment

H200_DIR = DATA / "real" / "h200-ubuntu24.04-driver580-torch2.11cu130"
BUILD_MACHINE_DIR = DATA / "real" / "debian12-cpu-nvcc13-no-driver"
ENVS_DIR = DATA / "envs"  # broken environments, one per rule they were made for
GIB = 1024**3
SITE = "/home/alice/venv/lib/python3.12/site-packages"
LINUX = 'platform_system == "Linux" and platform_machine == "x86_64"'


@cache
def h200() -> Environment:
    return load_environment(str(H200_DIR))


@cache
def build_machine() -> Environment:
    return load_environment(str(BUILD_MACHINE_DIR))


def with_nvidia(env: Environment, **changes: Any) -> Environment:
    return dataclasses.replace(env, nvidia=dataclasses.replace(env.nvidia, **changes))


def with_python(env: Environment, **changes: Any) -> Environment:
    assert env.python is not None
    return dataclasses.replace(env, python=dataclasses.replace(env.python, **changes))


def with_installed_torch(env: Environment, version: str, cuda: str | None) -> Environment:
    """Another torch installed in place of the one there (its TorchBuild and distribution)."""
    assert env.python is not None
    torch = TorchBuild(
        version=version, cuda=cuda, location="/venv/lib/python3.12/site-packages/torch"
    )
    dists = tuple(d for d in env.python.distributions if d.name != "torch") + (
        Distribution(
            name="torch",
            version=version.partition("+")[0],
            location="/venv/lib/python3.12/site-packages",
        ),
    )
    return with_python(env, torch=torch, distributions=dists)


def with_dist(
    env: Environment, name: str, version: str, requires: tuple[str, ...] = ()
) -> Environment:
    assert env.python is not None
    dists = tuple(d for d in env.python.distributions if d.name != name) + (
        Distribution(
            name=name,
            version=version,
            location="/venv/lib/python3.12/site-packages",
            requires=requires,
        ),
    )
    return with_python(env, distributions=dists)


def with_env_var(env: Environment, key: str, value: str) -> Environment:
    items = dict(env.env_vars)
    items[key] = value
    return dataclasses.replace(env, env_vars=tuple(sorted(items.items())))


def gpu(name: str = "NVIDIA GeForce RTX 3090", cc: str = "8.6", index: int = 0) -> Gpu:
    return Gpu(
        index=index,
        name=name,
        compute_capability=cc,
        memory_total_bytes=24 << 30,
        uuid=f"GPU-0000000{index}-aaaa-bbbb-cccc-dddddddddddd",
    )


def minimal(**changes: Any) -> Environment:
    base = Environment(
        os=OSInfo(
            system="Linux",
            name="Ubuntu 22.04.4 LTS",
            distro_id="ubuntu",
            version="22.04",
            machine="x86_64",
            libc="glibc",
            libc_version="2.35",
        ),
        nvidia=Nvidia(status="no-driver", pci_nvidia_devices=0),
        python=TargetPython(
            executable="/venv/bin/python",
            chosen_by="--python",
            ok=True,
            version="3.11.9",
            torch_checked=True,
        ),
    )
    return dataclasses.replace(base, **changes)


# --- synthetic machines -------------------------------------------------------------------


def torch_build(
    version: str = "2.11.0+cu130", cuda: Optional[str] = "13.0", **kw: Any
) -> TorchBuild:
    requires = (
        f"nvidia-cudnn-cu13==9.19.0.56; {LINUX}",
        f"nvidia-cublas==13.1.0.3; {LINUX}",
        f"triton==3.6.0; {LINUX}",
        "filelock",
    )
    return TorchBuild(
        version=version,
        cuda=cuda,
        location=f"{SITE}/torch",
        requires=requires if cuda else (),
        **kw,
    )


def dists(*extra: Distribution, drop: tuple[str, ...] = ()) -> tuple[Distribution, ...]:
    base = (
        Distribution("torch", "2.11.0+cu130", location=SITE, installer="pip"),
        Distribution("torchvision", "0.26.0+cu130", location=SITE, requires=("torch==2.11.0",)),
        Distribution("triton", "3.6.0", location=SITE),
        Distribution("nvidia-cudnn-cu13", "9.19.0.56", location=SITE),
        Distribution("nvidia-cublas", "13.1.0.3", location=SITE),
        Distribution("numpy", "2.3.4", location=SITE),
        Distribution("pip", "24.0", location=SITE),
    )
    names = {d.name for d in extra} | set(drop)
    return tuple(d for d in base if d.name not in names) + extra


def linux_gpu() -> Environment:
    """A healthy Ubuntu box: H100, driver 580, torch 2.11.0+cu130 in a venv, everything matching."""
    py = TargetPython(
        executable="/home/alice/venv/bin/python",
        chosen_by="VIRTUAL_ENV",
        ok=True,
        version="3.12.3",
        implementation="cpython",
        bits=64,
        platform="linux",
        machine="x86_64",
        prefix="/home/alice/venv",
        base_prefix="/usr",
        env_kind="venv",
        include_dir="/usr/include/python3.12",
        has_python_h=True,
        purelib=SITE,
        distributions=dists(),
        torch=torch_build(),
        torch_checked=True,
        torch_locations=(f"{SITE}/torch",),
    )
    return Environment(
        os=OSInfo(
            system="Linux",
            name="Ubuntu 24.04.3 LTS",
            distro_id="ubuntu",
            version="24.04",
            kernel="6.8.0-45-generic",
            machine="x86_64",
            libc="glibc",
            libc_version="2.39",
            wsl=False,
            hostname="gpu-node-7",
        ),
        resources=Resources(
            logical_cpus=32,
            memory_total_bytes=256 * GIB,
            disks=(DiskSpace("site-packages", SITE, free_bytes=400 * GIB, total_bytes=900 * GIB),),
        ),
        nvidia=Nvidia(
            status="ok",
            driver_version="580.95.05",
            cuda_driver_version="13.0",
            gpus=(
                Gpu(
                    0,
                    "NVIDIA H100 80GB HBM3",
                    "9.0",
                    80 * GIB,
                    uuid="GPU-71992ad7-f259-b6ed-fd4d-f97a26e05328",
                ),
            ),
            source="nvml",
            kernel_module_version="580.95.05",
            pci_nvidia_devices=1,
        ),
        toolkit=CudaToolkit(ld_library_path=("/usr/local/nvidia/lib64",)),
        python=py,
        tools=Tools(paths=(("g++", "/usr/bin/g++"), ("gcc", "/usr/bin/gcc")), gcc_version="13.3.0"),
    )


def healthy_deep() -> DeepFacts:
    return DeepFacts(
        imported=True,
        import_s=2.1,
        torch_version="2.11.0+cu130",
        cuda_available=True,
        device_count=1,
        arch_list=("sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"),
        cudnn_version=91900,
        libraries=(
            LoadedLibrary("libcudnn.so.9", f"{SITE}/nvidia/cudnn/lib/libcudnn.so.9"),
            LoadedLibrary("libcublas.so.13", f"{SITE}/nvidia/cu13/lib/libcublas.so.13"),
            LoadedLibrary("libcublasLt.so.13", f"{SITE}/nvidia/cu13/lib/libcublasLt.so.13"),
        ),
        devices=(DeepDevice(0, "NVIDIA H100 80GB HBM3", "9.0", tensor_ok=True),),
        mps_built=False,
        mps_available=False,
        numpy_version="2.3.4",
    )


def cpu_linux() -> Environment:
    """torch 2.13.0+cpu on a box with no NVIDIA anything, Python 3.11 (like the test venv)."""
    env = linux_gpu()
    env = with_nvidia(
        env,
        status="no-driver",
        driver_version=None,
        cuda_driver_version=None,
        gpus=(),
        pci_nvidia_devices=0,
        kernel_module_version=None,
    )
    return with_python(
        env,
        version="3.11.7",
        distributions=(
            Distribution("torch", "2.13.0+cpu", location=SITE),
            Distribution("numpy", "2.4.6", location=SITE),
            Distribution("pip", "24.0", location=SITE),
        ),
        torch=torch_build("2.13.0+cpu", None),
    )


def macos_arm() -> Environment:
    env = linux_gpu()
    env = dataclasses.replace(
        env,
        os=OSInfo(
            system="Darwin",
            name="macOS 15.5",
            distro_id="macos",
            version="15.5",
            machine="arm64",
            rosetta=False,
        ),
        nvidia=Nvidia(status="no-driver"),
        tools=Tools(paths=(("clang++", "/usr/bin/clang++"),)),
        deep=dataclasses.replace(
            healthy_deep(),
            cuda_available=False,
            device_count=0,
            arch_list=None,
            devices=(),
            libraries=None,
            cudnn_version=None,
            mps_built=True,
            mps_available=True,
        ),
    )
    return with_python(
        env,
        platform="darwin",
        machine="arm64",
        distributions=(
            Distribution("torch", "2.9.0"),
            Distribution("torchvision", "0.24.0", requires=("torch==2.9.0",)),
            Distribution("numpy", "2.3.4"),
        ),
        torch=torch_build("2.9.0", None),
    )


def windows_gpu() -> Environment:
    env = linux_gpu()
    env = dataclasses.replace(
        env,
        os=OSInfo(
            system="Windows",
            name="Windows 11",
            distro_id="windows",
            version="10.0.22631",
            machine="x86_64",
            vc_runtime_missing=(),
        ),
        toolkit=CudaToolkit(),
        tools=Tools(paths=(("cl", "C:\\BuildTools\\cl.exe"),)),
    )
    env = with_nvidia(
        env,
        driver_version="576.02",
        cuda_driver_version="12.9",
        gpus=(Gpu(0, "NVIDIA GeForce RTX 4090", "8.9"),),
    )
    return with_python(
        env,
        executable="C:\\Users\\alice\\venv\\Scripts\\python.exe",
        platform="win32",
        machine="AMD64",
        distributions=(
            Distribution("torch", "2.9.0+cu128"),
            Distribution("torchvision", "0.24.0+cu128", requires=("torch==2.9.0",)),
            Distribution("triton-windows", "3.5.0.post21"),
            Distribution("numpy", "2.3.4"),
        ),
        torch=TorchBuild(version="2.9.0+cu128", cuda="12.8"),
    )


def with_torch(env: Environment, **kw: Any) -> Environment:
    assert env.python is not None and env.python.torch is not None
    return with_python(env, torch=dataclasses.replace(env.python.torch, **kw))


def with_os(env: Environment, **kw: Any) -> Environment:
    return dataclasses.replace(env, os=dataclasses.replace(env.os, **kw))


def with_deep(env: Environment, **kw: Any) -> Environment:
    return dataclasses.replace(env, deep=dataclasses.replace(healthy_deep(), **kw))


def with_dists(env: Environment, *extra: Distribution, drop: tuple[str, ...] = ()) -> Environment:
    """``env`` with the distributions of :func:`linux_gpu` (see :func:`dists`), plus ``extra``
    and without ``drop``."""
    return with_python(env, distributions=dists(*extra, drop=drop))


def one_gpu(name: str, cc: str) -> tuple[Gpu, ...]:
    return (Gpu(0, name, cc),)


def env_fixture(name: str) -> Callable[[], Environment]:
    return lambda: load_environment(str(ENVS_DIR / name))


def h200_report() -> Environment:
    from torchsetup.detect.from_report import environment_from_parsed
    from torchsetup.detect.parse.collect_env import parse_collect_env

    text = (H200_DIR / "collect_env.txt").read_text()
    return environment_from_parsed(parse_collect_env(text), "collect_env.txt")


HEALTHY: dict[str, Callable[[], Environment]] = {
    "linux-gpu": linux_gpu,
    "linux-gpu-deep": lambda: dataclasses.replace(linux_gpu(), deep=healthy_deep()),
    "cpu-linux": cpu_linux,
    "macos-arm64": macos_arm,
    "windows-gpu": windows_gpu,
    "h200-capture": h200,
    "h200-collect-env": h200_report,
}
