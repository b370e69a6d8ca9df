"""Every doctor rule fires on an environment with its problem and stays silent on healthy ones.

The firing cases are listed per rule id; the silent-on-healthy tests and the "every rule has a
case" test are generated from the registry, so a new rule cannot skip either.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

from torchsetup.detect.model import (
    CondaPackage,
    CudaToolkit,
    DeepDevice,
    DeepFacts,
    DiskSpace,
    Distribution,
    Environment,
    Gpu,
    LibraryDir,
    LoadedLibrary,
    Nvidia,
    OSInfo,
    Resources,
    TargetPython,
    Tools,
    TorchBuild,
)
from torchsetup.detect.snapshot import load_environment
from torchsetup.doctor import diagnose
from torchsetup.doctor.context import RuleContext
from torchsetup.doctor.model import ERROR, INFO, WARNING, Finding
from torchsetup.doctor.rules import RULES, all_rules

DATA = Path(__file__).resolve().parent.parent / "data"
H200 = DATA / "real" / "h200-ubuntu24.04-driver580-torch2.11cu130"
GIB = 1024**3
SITE = "/home/alice/venv/lib/python3.12/site-packages"
LINUX = 'platform_system == "Linux" and platform_machine == "x86_64"'

# --- builders ----------------------------------------------------------------------------------


def _torch(version: str = "2.11.0+cu130", cuda: Optional[str] = "13.0", **kw: Any) -> TorchBuild:
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


def _dists(*extra: Distribution, drop: tuple[str, ...] = ()) -> tuple[Distribution, ...]:
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
        distributions=_dists(),
        torch=_torch(),
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
        torch=_torch("2.13.0+cpu", None),
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
        torch=_torch("2.9.0", None),
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


def with_python(env: Environment, **kw: Any) -> Environment:
    assert env.python is not None
    return dataclasses.replace(env, python=dataclasses.replace(env.python, **kw))


def with_torch(env: Environment, **kw: Any) -> Environment:
    assert env.python is not None and env.python.torch is not None
    return with_python(env, torch=dataclasses.replace(env.python.torch, **kw))


def with_nvidia(env: Environment, **kw: Any) -> Environment:
    return dataclasses.replace(env, nvidia=dataclasses.replace(env.nvidia, **kw))


def with_os(env: Environment, **kw: Any) -> Environment:
    return dataclasses.replace(env, os=dataclasses.replace(env.os, **kw))


def with_deep(env: Environment, **kw: Any) -> Environment:
    return dataclasses.replace(env, deep=dataclasses.replace(healthy_deep(), **kw))


def with_dists(env: Environment, *extra: Distribution, drop: tuple[str, ...] = ()) -> Environment:
    return with_python(env, distributions=_dists(*extra, drop=drop))


def fixture(name: str) -> Callable[[], Environment]:
    return lambda: load_environment(str(DATA / "envs" / name))


def h200_report() -> Environment:
    from torchsetup.detect.from_report import environment_from_parsed
    from torchsetup.detect.parse.collect_env import parse_collect_env

    text = (H200 / "collect_env.txt").read_text()
    return environment_from_parsed(parse_collect_env(text), "collect_env.txt")


HEALTHY: dict[str, Callable[[], Environment]] = {
    "linux-gpu": linux_gpu,
    "linux-gpu-deep": lambda: dataclasses.replace(linux_gpu(), deep=healthy_deep()),
    "cpu-linux": cpu_linux,
    "macos-arm64": macos_arm,
    "windows-gpu": windows_gpu,
    "h200-capture": lambda: load_environment(str(H200)),
    "h200-collect-env": h200_report,
}

# --- firing cases ------------------------------------------------------------------------------


@dataclasses.dataclass
class Case:
    rule: str
    build: Callable[[], Environment]
    severity: str
    detail: str  # a fact the message must quote
    fix: Optional[str] = None  # a piece of the computed fix


def _gpu(name: str, cc: str) -> tuple[Gpu, ...]:
    return (Gpu(0, name, cc),)


CASES: dict[str, Case] = {
    "TS001-cpu-wheel": Case(
        "TS001",
        lambda: with_torch(linux_gpu(), version="2.11.0+cpu", cuda=None),
        ERROR,
        "2.11.0+cpu is a CPU build",
        "torchsetup install",
    ),
    "TS002-not-loaded": Case(
        "TS002",
        lambda: with_nvidia(linux_gpu(), status="not-loaded", gpus=(), driver_version=None),
        ERROR,
        "1 NVIDIA device(s) on the PCI bus",
        "ubuntu-drivers",
    ),
    "TS003-too-old": Case(
        "TS003",
        lambda: with_nvidia(linux_gpu(), driver_version="550.54.14", cuda_driver_version="12.4"),
        ERROR,
        "supports CUDA up to 12.4",
        "torchsetup install",
    ),
    "TS003-minor-compat": Case(
        "TS003",
        lambda: with_torch(
            with_nvidia(linux_gpu(), driver_version="550.54.14", cuda_driver_version="12.4"),
            version="2.11.0+cu128",
            cuda="12.8",
        ),
        WARNING,
        "minor-version compatibility",
        "12.8",
    ),
    "TS004-mismatch": Case(
        "TS004",
        lambda: with_nvidia(
            linux_gpu(),
            status="mismatch",
            driver_version="580.95.05",
            kernel_module_version="580.82.07",
        ),
        ERROR,
        "kernel module 580.82.07",
        "reboot",
    ),
    "TS005-blackwell-cu126": Case(
        "TS005",
        lambda: with_nvidia(
            with_torch(linux_gpu(), version="2.6.0+cu126", cuda="12.6"),
            gpus=_gpu("NVIDIA GeForce RTX 5090", "12.0"),
        ),
        ERROR,
        "sm_120",
        "torchsetup install",
    ),
    "TS005-deep-arch-list": Case(
        "TS005",
        lambda: with_deep(
            with_nvidia(linux_gpu(), gpus=_gpu("NVIDIA GeForce RTX 5090", "12.0")),
            arch_list=("sm_50", "sm_90"),
            devices=(
                DeepDevice(
                    0,
                    "NVIDIA GeForce RTX 5090",
                    "12.0",
                    tensor_ok=False,
                    error="CUDA error: no kernel image is available for execution on the device",
                ),
            ),
        ),
        ERROR,
        "torch.cuda.get_arch_list()",
        None,
    ),
    "TS006-pascal-cu130": Case(
        "TS006",
        lambda: with_nvidia(linux_gpu(), gpus=_gpu("Tesla P100-PCIE-16GB", "6.0")),
        ERROR,
        "sm_60",
        "--cuda 12.6",
    ),
    "TS007-ld-library-path": Case(
        "TS007",
        lambda: dataclasses.replace(
            linux_gpu(),
            toolkit=CudaToolkit(
                ld_library_path=("/usr/local/cuda-12.3/lib64", "/usr/local/nvidia/lib64"),
                ld_library_path_cuda_libs=(
                    LibraryDir(
                        "/usr/local/cuda-12.3/lib64", ("libcudnn.so.8", "libcudnn_cnn_train.so.8")
                    ),
                ),
            ),
        ),
        WARNING,
        "/usr/local/cuda-12.3/lib64",
        "export LD_LIBRARY_PATH=/usr/local/nvidia/lib64",
    ),
    "TS007-loaded-from-system": Case(
        "TS007",
        lambda: with_deep(
            linux_gpu(),
            libraries=(LoadedLibrary("libcudnn.so.9", "/usr/lib/x86_64-linux-gnu/libcudnn.so.9"),),
        ),
        ERROR,
        "libcudnn.so.9 from /usr/lib/x86_64-linux-gnu",
        "LD_LIBRARY_PATH",
    ),
    "TS007-version-incompatibility": Case(
        "TS007",
        lambda: with_deep(
            linux_gpu(),
            cudnn_error="RuntimeError: cuDNN version incompatibility: PyTorch was compiled against (8, 3, 2) but linked against (8, 0, 3)",
        ),
        ERROR,
        "(8, 0, 3)",
        None,
    ),
    "TS008-ld-library-path": Case(
        "TS008",
        lambda: dataclasses.replace(
            linux_gpu(),
            toolkit=CudaToolkit(
                ld_library_path=("/usr/local/cuda/lib64",),
                ld_library_path_cuda_libs=(
                    LibraryDir("/usr/local/cuda/lib64", ("libcublas.so.13", "libcublasLt.so.13")),
                ),
            ),
        ),
        WARNING,
        "nvidia-cublas 13.1.0.3",
        "unset LD_LIBRARY_PATH",
    ),
    "TS008-mixed-folders": Case(
        "TS008",
        lambda: with_deep(
            linux_gpu(),
            libraries=(
                LoadedLibrary("libcublas.so.13", f"{SITE}/nvidia/cu13/lib/libcublas.so.13"),
                LoadedLibrary("libcublasLt.so.13", "/usr/local/cuda-13.0/lib64/libcublasLt.so.13"),
            ),
        ),
        ERROR,
        "/usr/local/cuda-13.0/lib64/libcublasLt.so.13",
        "LD_LIBRARY_PATH",
    ),
    "TS008-two-wheels": Case(
        "TS008",
        lambda: with_deep(
            linux_gpu(),
            libraries=(
                LoadedLibrary("libcublas.so.12", f"{SITE}/nvidia/cublas/lib/libcublas.so.12"),
                LoadedLibrary("libcublasLt.so.13", f"{SITE}/nvidia/cu13/lib/libcublasLt.so.13"),
            ),
        ),
        ERROR,
        "nvidia/cublas/lib/libcublas.so.12",
        "uninstall -y torch nvidia-cublas",
    ),
    "TS012-torch-installed": Case(
        "TS012",
        lambda: with_python(linux_gpu(), version="3.9.18"),
        INFO,
        "torch 2.8.0 is the last release",
        "uv python install",
    ),
    "TS009-pin-mismatch": Case(
        "TS009",
        lambda: with_dists(linux_gpu(), Distribution("nvidia-cudnn-cu13", "9.13.0.50")),
        ERROR,
        "nvidia-cudnn-cu13 9.13.0.50 is installed",
        "uninstall -y torch",
    ),
    "TS009-missing-and-import-error": Case(
        "TS009",
        lambda: with_deep(
            with_dists(linux_gpu(), drop=("nvidia-cublas",)),
            imported=False,
            error="ImportError: libcublas.so.13: cannot open shared object file: No such file or directory",
        ),
        ERROR,
        "nvidia-cublas is missing",
        "torchsetup install",
    ),
    "TS010-two-copies": Case(
        "TS010",
        lambda: with_python(
            linux_gpu(),
            torch_locations=(
                f"{SITE}/torch",
                "/home/alice/.local/lib/python3.12/site-packages/torch",
            ),
        ),
        ERROR,
        ".local",
        "uninstall -y torch",
    ),
    "TS010-conda-and-pip": Case(
        "TS010",
        lambda: with_python(
            linux_gpu(),
            env_kind="conda",
            conda_packages=(
                CondaPackage("pytorch", "2.5.1", "py3.12_cuda12.4_cudnn9.1.0_0", "pytorch"),
            ),
        ),
        ERROR,
        "conda's pytorch 2.5.1",
        "conda remove --force pytorch",
    ),
    "TS011-torchvision-pin": Case(
        "TS011",
        lambda: with_dists(
            linux_gpu(), Distribution("torchvision", "0.24.0", requires=("torch==2.9.0",))
        ),
        ERROR,
        "requires torch ==2.9.0",
        "--torch 2.11.0",
    ),
    "TS011-release-pairing": Case(
        "TS011",
        lambda: with_dists(linux_gpu(), Distribution("torchaudio", "2.5.1")),
        ERROR,
        "belongs to torch 2.5",
        None,
    ),
    "TS012-no-wheel": Case(
        "TS012",
        lambda: with_python(linux_gpu(), version="3.15.0", torch=None, distributions=()),
        ERROR,
        "Python 3.15.0",
        "uv python install",
    ),
    "TS012-only-old": Case(
        "TS012",
        lambda: with_python(linux_gpu(), version="3.9.18", torch=None, distributions=()),
        WARNING,
        "2.8.0",
        "torch==2.8.0",
    ),
    "TS013-32-bit": Case(
        "TS013",
        lambda: with_python(windows_gpu(), bits=32),
        ERROR,
        "32-bit Python 3.12.3",
        "winget install",
    ),
    "TS014-torchtriton": Case(
        "TS014",
        lambda: with_dists(
            linux_gpu(), Distribution("torchtriton", "2.0.0+0d7e753227", location=SITE)
        ),
        ERROR,
        "torchtriton 2.0.0+0d7e753227",
        "uninstall -y torch torchvision torchaudio torchtriton",
    ),
    "TS015-no-compiler": Case(
        "TS015",
        lambda: dataclasses.replace(linux_gpu(), tools=Tools(paths=(("git", "/usr/bin/git"),))),
        WARNING,
        "No C++ compiler",
        "build-essential",
    ),
    "TS016-dynamo-312": Case(
        "TS016",
        lambda: with_torch(
            with_dists(linux_gpu(), drop=("torchvision",)),
            version="2.2.2+cu121",
            cuda="12.1",
            requires=(),
        ),
        WARNING,
        "Dynamo supports Python 3.12 from torch 2.4",
        "--torch 2.4.0",
    ),
    "TS017-triton-missing": Case(
        "TS017",
        lambda: with_dists(linux_gpu(), drop=("triton",)),
        WARNING,
        "triton is missing",
        "pip install triton==3.6.0",
    ),
    "TS017-windows": Case(
        "TS017",
        lambda: with_python(windows_gpu(), distributions=(Distribution("torch", "2.9.0+cu128"),)),
        INFO,
        "GPU build on Windows",
        "triton-windows",
    ),
    "TS018-no-python-h": Case(
        "TS018",
        lambda: with_python(linux_gpu(), has_python_h=False),
        WARNING,
        "/usr/include/python3.12/Python.h",
        "apt-get install -y python3.12-dev",
    ),
    "TS019-linux-driver-in-wsl": Case(
        "TS019",
        fixture("wsl-linux-driver-inside.json"),
        ERROR,
        "libcuda.so.550.54.14",
        "apt-get remove --purge",
    ),
    "TS019-no-wsl-libcuda": Case(
        "TS019",
        lambda: with_os(
            linux_gpu(), wsl=True, wsl_libcuda=None, kernel="5.15.153.1-microsoft-standard-WSL2"
        ),
        ERROR,
        "/usr/lib/wsl/lib/libcuda.so.1",
        "wsl --update",
    ),
    "TS020-hidden": Case(
        "TS020",
        lambda: with_nvidia(linux_gpu(), cuda_visible_devices="-1"),
        ERROR,
        "CUDA_VISIBLE_DEVICES='-1'",
        "unset CUDA_VISIBLE_DEVICES",
    ),
    "TS021-unknown-error": Case(
        "TS021",
        lambda: with_deep(
            linux_gpu(),
            cuda_available=False,
            device_count=0,
            devices=(),
            cuda_init_warning="CUDA initialization: CUDA unknown error - this may be due to an incorrectly set up environment, e.g. changing env variable CUDA_VISIBLE_DEVICES after program start. Setting the available devices to be zero.",
        ),
        ERROR,
        "CUDA unknown error",
        "modprobe nvidia_uvm",
    ),
    "TS022-disk": Case(
        "TS022",
        lambda: dataclasses.replace(
            linux_gpu(),
            resources=Resources(
                disks=(DiskSpace("TMPDIR", "/tmp", free_bytes=1 * GIB, total_bytes=8 * GIB),)
            ),
        ),
        ERROR,
        "1.0 GiB free",
        "TMPDIR",
    ),
    "TS023-glibc-2.27": Case(
        "TS023",
        lambda: with_python(
            with_os(linux_gpu(), name="Ubuntu 18.04.6 LTS", libc_version="2.27"),
            torch=None,
            distributions=(),
        ),
        WARNING,
        "glibc 2.27",
        "torch==2.6.0",
    ),
    "TS023-musl": Case(
        "TS023",
        lambda: with_os(
            linux_gpu(),
            name="Alpine Linux v3.20",
            distro_id="alpine",
            libc="musl",
            libc_version="1.2.5",
        ),
        ERROR,
        "musl 1.2.5",
        "glibc-based image",
    ),
    "TS024-rosetta": Case(
        "TS024", fixture("macos-rosetta.json"), ERROR, "Rosetta", "uv python install"
    ),
    "TS024-intel-mac": Case(
        "TS024",
        lambda: with_python(with_os(macos_arm(), machine="x86_64"), torch=None, distributions=()),
        WARNING,
        "2.2.2",
        "--torch 2.2.2",
    ),
    "TS025-old-macos": Case(
        "TS025",
        lambda: with_torch(
            with_os(macos_arm(), version="13.6", name="macOS 13.6"), version="2.10.0"
        ),
        WARNING,
        "needs macOS 14.0",
        "upgrade macOS",
    ),
    "TS025-deep-unavailable": Case(
        "TS025",
        lambda: dataclasses.replace(
            macos_arm(),
            deep=dataclasses.replace(healthy_deep(), mps_built=True, mps_available=False),
        ),
        WARNING,
        "is_available() is False",
        None,
    ),
    "TS026-rocm-gfx1031": Case(
        "TS026", fixture("rocm-gfx1031.json"), ERROR, "gfx1031", "HSA_OVERRIDE_GFX_VERSION=10.3.0"
    ),
    "TS027-numpy-2": Case(
        "TS027",
        lambda: with_torch(
            with_dists(linux_gpu(), Distribution("numpy", "2.0.1"), drop=("torchvision",)),
            version="2.2.2+cu121",
            cuda="12.1",
            requires=(),
        ),
        ERROR,
        "numpy 2.0.1",
        "numpy<2",
    ),
    "TS027-numpy-missing": Case(
        "TS027",
        lambda: with_dists(cpu_linux(), drop=("numpy",)),
        INFO,
        "Tensor.numpy()",
        "pip install numpy",
    ),
    "TS028-vc-runtime": Case(
        "TS028",
        fixture("windows-vc-runtime-missing.json"),
        ERROR,
        "vcruntime140_1.dll, libomp140.x86_64.dll",
        "Microsoft.VCRedist",
    ),
    "TS028-winerror-126": Case(
        "TS028",
        lambda: with_deep(
            windows_gpu(),
            imported=False,
            error='OSError: [WinError 126] The specified module could not be found. Error loading "C:\\venv\\Lib\\site-packages\\torch\\lib\\fbgemm.dll" or one of its dependencies.',
        ),
        ERROR,
        "WinError 126",
        "vc_redist",
    ),
    "TS029-conda-mkl": Case(
        "TS029", fixture("conda-pytorch-mkl-2024-1.json"), ERROR, "mkl 2024.1.0", "mkl==2024.0"
    ),
    "TS101-no-torch": Case(
        "TS101",
        lambda: with_python(linux_gpu(), torch=None, distributions=()),
        INFO,
        "No torch in /home/alice/venv/bin/python",
        "torchsetup install",
    ),
    "TS102-probe-failed": Case(
        "TS102",
        lambda: dataclasses.replace(
            linux_gpu(),
            python=TargetPython(
                executable="/opt/py/bin/python",
                ok=False,
                error="target Python did not answer within 10 s",
            ),
        ),
        ERROR,
        "did not answer",
        "--python",
    ),
    "TS104-toolkit-no-driver": Case(
        "TS104",
        lambda: dataclasses.replace(
            cpu_linux(),
            toolkit=CudaToolkit(
                nvcc_path="/usr/local/cuda/bin/nvcc",
                nvcc_version="13.0",
                nvcc_full_version="13.0.88",
            ),
        ),
        INFO,
        "nvcc 13.0.88",
        None,
    ),
    "TS105-import-fails": Case(
        "TS105",
        lambda: with_deep(
            cpu_linux(),
            imported=False,
            error="ImportError: /venv/lib/python3.11/site-packages/torch/lib/libtorch_cpu.so: undefined symbol: iJIT_NotifyEvent",
        ),
        ERROR,
        "iJIT_NotifyEvent",
        "torchsetup install",
    ),
    "TS106-bad-matmul": Case(
        "TS106",
        lambda: with_deep(
            linux_gpu(),
            devices=(
                DeepDevice(
                    0,
                    "NVIDIA H100 80GB HBM3",
                    "9.0",
                    tensor_ok=False,
                    error="AcceleratorError: CUDA error: an illegal memory access was encountered",
                ),
            ),
        ),
        ERROR,
        "illegal memory access",
        "nvidia-smi -q",
    ),
    "TS107-unexplained": Case(
        "TS107",
        lambda: with_deep(
            linux_gpu(),
            cuda_available=False,
            device_count=0,
            devices=(),
            cuda_init_warning="CUDA initialization: Unexpected error from cudaGetDeviceCount(). Did you run some cuda functions before calling NumCudaDevices() that might have already set an error? Error 802: system not yet initialized",
        ),
        ERROR,
        "Error 802",
        "--deep",
    ),
}


def _findings(env: Environment, rule_id: str) -> list[Finding]:
    return list(RULES[rule_id].func(RuleContext(env)))


def test_every_rule_has_a_firing_case() -> None:
    assert {c.rule for c in CASES.values()} >= {r.id for r in all_rules()}


def test_catalogue_coverage() -> None:
    """At least 25 of the 29 catalogue problems have a rule, each with its own id."""
    numbers = {r.catalogue for r in all_rules() if r.catalogue}
    assert len(numbers) >= 25
    for r in all_rules():
        if r.catalogue:
            assert r.id == f"TS{r.catalogue:03d}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_rule_fires(name: str) -> None:
    case = CASES[name]
    found = _findings(case.build(), case.rule)
    assert found, f"{case.rule} did not fire"
    f = next((x for x in found if x.severity == case.severity), None)
    assert f is not None, [x.severity for x in found]
    assert case.detail in f.detail
    if case.fix is not None:
        assert f.fix and case.fix in f.fix


@pytest.mark.parametrize("healthy", sorted(HEALTHY))
@pytest.mark.parametrize("rule_id", sorted({r.id for r in all_rules()}))
def test_rule_silent_on_healthy(rule_id: str, healthy: str) -> None:
    assert _findings(HEALTHY[healthy](), rule_id) == []


@pytest.mark.parametrize("healthy", sorted(HEALTHY))
def test_healthy_environment_has_no_findings_and_no_crash(healthy: str) -> None:
    report = diagnose(HEALTHY[healthy]())
    assert report.crashed_rules == ()
    assert report.errors == 0 and report.warnings == 0, [f.id for f in report.findings]


def test_real_h200_capture_raises_no_error() -> None:
    report = diagnose(load_environment(str(H200)))
    assert not [f for f in report.findings if f.severity == ERROR]


@pytest.mark.parametrize("name", sorted(p.name for p in (DATA / "envs").glob("*.json")))
def test_env_fixtures_load_and_fire_one_error(name: str) -> None:
    """tests/data/envs holds only broken environments: each one fires an error."""
    report = diagnose(load_environment(str(DATA / "envs" / name)))
    assert report.crashed_rules == ()
    assert report.errors >= 1


def test_each_rule_message_differs_with_facts() -> None:
    """Messages quote the detected facts: two GPUs give two different TS005 messages."""
    env = with_torch(linux_gpu(), version="2.6.0+cu126", cuda="12.6")
    a = _findings(with_nvidia(env, gpus=_gpu("NVIDIA GeForce RTX 5090", "12.0")), "TS005")
    b = _findings(with_nvidia(env, gpus=_gpu("NVIDIA B200", "10.0")), "TS005")
    assert a[0].detail != b[0].detail and "sm_100" in b[0].detail


def test_sass_compatibility_within_a_major_is_not_a_mismatch() -> None:
    """sm_89 runs sm_86 SASS and sm_121 runs sm_120: no TS005/TS006 for them."""
    env = with_torch(linux_gpu(), version="2.6.0+cu126", cuda="12.6")
    assert _findings(with_nvidia(env, gpus=_gpu("NVIDIA L4", "8.9")), "TS005") == []
    spark = with_nvidia(linux_gpu(), gpus=_gpu("NVIDIA GB10", "12.1"))
    assert _findings(spark, "TS005") == [] and _findings(spark, "TS006") == []


def test_ptx_covers_newer_gpus() -> None:
    """cu130 wheels of 2.10 carry 12.0+PTX: a future sm_130 GPU JIT-compiles, no finding."""
    env = with_torch(linux_gpu(), version="2.10.0+cu130")
    assert _findings(with_nvidia(env, gpus=_gpu("Future GPU", "13.0")), "TS005") == []


def test_deep_arch_list_is_preferred_over_the_table() -> None:
    """The table says 2.11 cu130 covers sm_90; a torch built without it (from --deep) fires."""
    env = with_deep(linux_gpu(), arch_list=("sm_100", "sm_120"))
    found = _findings(env, "TS006")
    assert found and "torch.cuda.get_arch_list()" in found[0].detail


def test_driver_table_covers_cuda_10() -> None:
    from torchsetup.detect.parse.nvidia import max_cuda_for_driver

    assert max_cuda_for_driver("418.67") == "10.1"
    assert max_cuda_for_driver("440.33.01") == "10.2"
