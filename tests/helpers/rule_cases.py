"""The firing cases of every doctor rule: an environment with the rule's problem, the severity
it must report, a fact its message must quote and a piece of its computed fix.

Listed per rule id (``TS005-blackwell-cu126``); the per-category test files
(tests/unit/test_rules_<category>.py) run the cases of their category, and
tests/unit/test_doctor_rules.py checks that every registered rule has one.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Optional

from tests.helpers.envs import (
    GIB,
    SITE,
    cpu_linux,
    env_fixture,
    healthy_deep,
    linux_gpu,
    macos_arm,
    one_gpu,
    torch_build,
    windows_gpu,
    with_deep,
    with_dists,
    with_nvidia,
    with_os,
    with_python,
    with_torch,
)
from torchsetup.detect.model import (
    Amd,
    AmdGpu,
    CondaPackage,
    CudaToolkit,
    DeepDevice,
    DiskSpace,
    Distribution,
    Environment,
    Intel,
    IntelGpu,
    Jetson,
    LibraryDir,
    LoadedLibrary,
    ProbeSummary,
    Resources,
    TargetPython,
    Tools,
    TorchBuild,
)
from torchsetup.doctor.context import RuleContext
from torchsetup.doctor.model import ERROR, INFO, WARNING, Finding
from torchsetup.doctor.rules import RULES
from torchsetup.guardfile import BEGIN, END, pip_conf_text

VENV = "/home/alice/venv"


def _newest_pythons() -> str:
    """What TS012 must say about the newest release, from the data (never hard-coded)."""
    from torchsetup.matrix.load import load_matrix

    newest = load_matrix().releases[0]
    return f"torch {newest.torch} publishes wheels for Python {', '.join(newest.python)}"


def guarded(pins: Optional[str], *, activated: bool = True) -> Environment:
    """cpu_linux() with the guard probe's files: ``pins`` in the constraints file named by the
    venv's pip.conf (None: no guard)."""
    env = cpu_linux()
    files: dict[str, str] = {}
    if pins is not None:
        files[f"{VENV}/torchsetup-constraints.txt"] = f"# torchsetup guard\n{pins}\n"
        files[f"{VENV}/pip.conf"] = pip_conf_text(VENV, [])
        if activated:
            files[f"{VENV}/bin/activate"] = f"{BEGIN}\nexport UV_CONSTRAINT=x\n{END}\n"
    return dataclasses.replace(
        env,
        pip_config=tuple(sorted(files.items())),
        probes=(*env.probes, ProbeSummary("guard", True, 0.0)),
    )


def amd_box(*gpus: AmdGpu, **amd: object) -> Environment:
    """cpu_linux() with AMD GPUs (an RX 7900 XTX by default), ROCm 7.2, /dev/kfd, render group."""
    facts: dict[str, object] = {
        "status": "ok",
        "gpus": gpus or (AmdGpu(0, "Radeon RX 7900 XTX", "gfx1100", device_id="0x744c"),),
        "rocm_version": "7.2.0",
        "rocm_source": "/opt/rocm/.info/version",
        "kfd": True,
        "groups": ("users", "render", "video"),
        "gpu_access": True,
    }
    facts.update(amd)
    return dataclasses.replace(cpu_linux(), amd=Amd(**facts))  # type: ignore[arg-type]


def jetson_box(torch: str, cuda: Optional[str]) -> Environment:
    env = with_python(cpu_linux(), torch=TorchBuild(version=torch, cuda=cuda))
    env = with_os(env, machine="aarch64")
    return dataclasses.replace(
        env,
        jetson=Jetson(
            model="NVIDIA Jetson AGX Orin Developer Kit",
            l4t="36.4.3",
            jetpack="6",
            compute_capability="8.7",
        ),
    )


@dataclasses.dataclass
class Case:
    rule: str
    build: Callable[[], Environment]
    severity: str
    detail: str  # a fact the message must quote
    fix: Optional[str] = None  # a piece of the computed fix


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
            gpus=one_gpu("NVIDIA GeForce RTX 5090", "12.0"),
        ),
        ERROR,
        "sm_120",
        "torchsetup install",
    ),
    "TS005-deep-arch-list": Case(
        "TS005",
        lambda: with_deep(
            with_nvidia(linux_gpu(), gpus=one_gpu("NVIDIA GeForce RTX 5090", "12.0")),
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
        lambda: with_nvidia(linux_gpu(), gpus=one_gpu("Tesla P100-PCIE-16GB", "6.0")),
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
    "TS011-1x-source-build": Case(
        "TS011",
        lambda: with_dists(
            with_torch(linux_gpu(), version="1.9.0a0+gitd69c22d", cuda="10.2", requires=()),
            Distribution("torchvision", "0.7.0"),
        ),
        ERROR,
        "belongs to torch 1.6",
        None,
    ),
    "TS012-no-wheel": Case(
        "TS012",
        lambda: with_python(linux_gpu(), version="3.16.0", torch=None, distributions=()),
        ERROR,
        "Python 3.16.0",
        "uv python install",
    ),
    "TS012-python-2": Case(
        "TS012",
        lambda: with_python(linux_gpu(), version="2.7.18", torch=None, distributions=()),
        ERROR,
        _newest_pythons(),
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
        env_fixture("wsl-linux-driver-inside.json"),
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
        "TS024", env_fixture("macos-rosetta.json"), ERROR, "Rosetta", "uv python install"
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
        "TS026",
        env_fixture("rocm-gfx1031.json"),
        ERROR,
        "gfx1031",
        "HSA_OVERRIDE_GFX_VERSION=10.3.0",
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
        env_fixture("windows-vc-runtime-missing.json"),
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
        "TS029", env_fixture("conda-pytorch-mkl-2024-1.json"), ERROR, "mkl 2024.1.0", "mkl==2024.0"
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
    "TS121-no-kfd": Case(
        "TS121",
        lambda: amd_box(kfd=False, rocm_version=None, status="no-runtime"),
        ERROR,
        "/dev/kfd is missing",
        "amdgpu-install",
    ),
    "TS121-old-runtime": Case(
        "TS121",
        lambda: with_python(
            amd_box(rocm_version="6.4.1"),
            torch=TorchBuild(version="2.14.1+rocm7.14", hip="7.14.25001"),
        ),
        WARNING,
        "the ROCm runtime here is 6.4.1",
        "update ROCm to 7.14",
    ),
    "TS122-780m": Case(
        "TS122",
        lambda: amd_box(AmdGpu(0, "AMD Radeon 780M", "gfx1103", device_id="0x15bf")),
        WARNING,
        "AMD Radeon 780M is gfx1103",
        "HSA_OVERRIDE_GFX_VERSION=11.0.0",
    ),
    "TS123-not-in-render": Case(
        "TS123",
        lambda: amd_box(groups=("users",), gpu_access=False),
        ERROR,
        "neither render nor video",
        "usermod -a -G render,video",
    ),
    "TS124-cuda-on-amd": Case(
        "TS124",
        lambda: with_python(amd_box(), torch=torch_build("2.11.0+cu130", "13.0")),
        ERROR,
        "is a CUDA 13.0 build, but the GPUs here are AMD",
        "torchsetup install",
    ),
    "TS125-jetson-cpu-wheel": Case(
        "TS125",
        lambda: jetson_box("2.8.0+cpu", None),
        ERROR,
        "is not a JetPack build",
        "torchsetup install",
    ),
    "TS126-no-level-zero": Case(
        "TS126",
        lambda: dataclasses.replace(
            cpu_linux(),
            intel=Intel(
                status="no-runtime",
                gpus=(IntelGpu(0, "Intel(R) Arc(TM) A770 Graphics", "0x56a0"),),
                level_zero=False,
            ),
        ),
        WARNING,
        "no Level Zero runtime",
        "libze1",
    ),
    "TS128-no-dist-info": Case(
        "TS128",
        lambda: with_python(
            linux_gpu(),
            distributions=tuple(d for d in linux_gpu().python.distributions if d.name != "torch"),  # type: ignore[union-attr]
        ),
        ERROR,
        "no torch dist-info",
        "remove",
    ),
    "TS128-no-package": Case(
        "TS128",
        lambda: dataclasses.replace(with_python(linux_gpu(), torch_locations=()), source="live"),
        ERROR,
        "no torch package to import",
        "pip uninstall -y torch",
    ),
    "TS129-nvml-hung": Case(
        "TS129",
        lambda: with_nvidia(
            linux_gpu(),
            status="error",
            gpus=(),
            driver_version=None,
            source=None,
            hung=("NVML",),
            nvml_error="NVML did not answer within 10 s: the NVIDIA driver is wedged (a hung GPU or kernel module)",
        ),
        ERROR,
        "NVML did not answer within 10 s",
        "nvidia-bug-report.sh",
    ),
    "TS130-smi-broken": Case(
        "TS130",
        lambda: with_nvidia(
            linux_gpu(),
            source="proc",
            driver_signs=("/proc/driver/nvidia/version", "/dev/nvidia*"),
            smi_broken="nvidia-smi failed: killed by signal 11 (SIGSEGV)",
        ),
        WARNING,
        "killed by signal 11",
        "type -a nvidia-smi",
    ),
    "TS131-gpu-table": Case(
        "TS131",
        lambda: with_nvidia(
            linux_gpu(),
            source="nvidia-smi",
            table_problems=(
                "index 0 listed 2 times",
                "GPU 1: memory used 900 MiB is more than its total 100 MiB",
            ),
        ),
        WARNING,
        "index 0 listed 2 times",
        "type -a nvidia-smi",
    ),
    "TS132-nvcc-fails": Case(
        "TS132",
        lambda: dataclasses.replace(
            linux_gpu(),
            toolkit=CudaToolkit(
                nvcc_path="/usr/local/cuda/bin/nvcc", nvcc_error="killed by signal 11 (SIGSEGV)"
            ),
        ),
        WARNING,
        "killed by signal 11",
        "/usr/local/cuda/bin/nvcc --version",
    ),
    "TS132-nvcc-garbage": Case(
        "TS132",
        lambda: dataclasses.replace(
            linux_gpu(), toolkit=CudaToolkit(nvcc_path="/usr/bin/nvcc", nvcc_output_head="zz qq")
        ),
        WARNING,
        "no CUDA version",
        "/usr/bin/nvcc --version",
    ),
    "TS133-garbage-version-py": Case(
        "TS133",
        lambda: dataclasses.replace(
            with_torch(
                linux_gpu(), version="2.11.0", cuda=None, version_py_problem="holds no __version__"
            ),
            source="live",
        ),
        ERROR,
        "holds no __version__",
        "--force-reinstall",
    ),
    "TS134-pythondontwritebytecode": Case(
        "TS134",
        lambda: with_torch(linux_gpu(), bytecode="absent-not-written"),
        INFO,
        "compiles its modules again",
        "sys.dont_write_bytecode = False",
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
    # Rules read from error text (a paste, or what torch said with --deep).
    "TS108-no-driver": Case(
        "TS108",
        lambda: with_nvidia(
            with_deep(
                cpu_linux(),
                warnings=(
                    "RuntimeError: Found no NVIDIA driver on your system. Please check that you have an NVIDIA GPU and installed a driver",
                ),
            ),
            status="no-driver",
        ),
        ERROR,
        "Found no NVIDIA driver",
        "nvidia-smi",
    ),
    "TS109-libcudnn": Case(
        "TS109",
        lambda: with_python(
            with_deep(
                cpu_linux(),
                imported=False,
                warnings=(
                    "OSError: libcudnn.so.8: cannot open shared object file: No such file or directory",
                ),
            ),
            torch=None,
        ),
        ERROR,
        "libcudnn.so.8 cannot be loaded",
        "torchsetup install",
    ),
    "TS110-flash-attn": Case(
        "TS110",
        lambda: with_deep(
            linux_gpu(),
            warnings=(
                "ImportError: /venv/lib/python3.11/site-packages/flash_attn_2_cuda.cpython-311-x86_64-linux-gnu.so: undefined symbol: _ZN3c104cuda9SetDeviceEi",
            ),
        ),
        ERROR,
        "flash_attn_2_cuda does not fit",
        "--force-reinstall",
    ),
    "TS111-no-kernel-image": Case(
        "TS111",
        lambda: with_nvidia(
            with_deep(
                linux_gpu(),
                devices=(),
                warnings=(
                    "RuntimeError: CUDA error: no kernel image is available for execution on the device",
                ),
            ),
            gpus=(),
        ),
        ERROR,
        "no kernel image",
        "torchsetup doctor",
    ),
    "TS112-numpy-c-api": Case(
        "TS112",
        lambda: with_deep(
            cpu_linux(),
            warnings=(
                "RuntimeError: module compiled against API version 0xe but this version of numpy is 0xd",
            ),
        ),
        ERROR,
        "C API 0xe",
        "install --upgrade numpy",
    ),
    "TS113-from-versions-none": Case(
        "TS113",
        lambda: with_deep(
            cpu_linux(),
            warnings=(
                "ERROR: Could not find a version that satisfies the requirement torch (from versions: none)",
            ),
        ),
        ERROR,
        "no installable torch",
        "torchsetup install",
    ),
    "TS114-conflict": Case(
        "TS114",
        lambda: with_deep(
            linux_gpu(),
            warnings=(
                "xformers 0.0.19 requires torch==2.0.0, but you have torch 2.0.1+cu118 which is incompatible.",
            ),
        ),
        WARNING,
        "xformers 0.0.19 requires torch==2.0.0",
        "constraints",
    ),
    "TS115-nccl": Case(
        "TS115",
        lambda: with_deep(
            linux_gpu(),
            warnings=(
                "RuntimeError: NCCL error in: ../torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:1269, unhandled cuda error, NCCL version 2.14.3",
            ),
        ),
        ERROR,
        "unhandled cuda error",
        "NCCL_DEBUG=INFO",
    ),
    "TS116-not-compiled": Case(
        "TS116",
        lambda: with_deep(
            cpu_linux(),
            warnings=("AssertionError: Torch not compiled with CUDA enabled",),
        ),
        ERROR,
        "is a CPU build",
        "torchsetup install",
    ),
    "TS118-xformers": Case(
        "TS118",
        lambda: with_deep(
            linux_gpu(),
            warnings=(
                "WARNING[XFORMERS]: xFormers can't load C++/CUDA extensions. xFormers was built for: PyTorch 2.2.0+cu121 with CUDA 1201 (you have 2.2.0+cpu)",
            ),
        ),
        ERROR,
        "built for torch 2.2.0+cu121",
        "xformers release",
    ),
    "TS119-cuda-home": Case(
        "TS119",
        lambda: with_deep(
            linux_gpu(),
            warnings=(
                "OSError: CUDA_HOME environment variable is not set. Please set it to your CUDA install root.",
            ),
        ),
        ERROR,
        "CUDA_HOME",
        "export CUDA_HOME",
    ),
    "TS120-conda-cpu-with-runtime": Case(
        "TS120",
        lambda: with_nvidia(
            with_python(
                with_torch(cpu_linux(), version="2.1.0.dev20230530", cuda=None),
                env_kind="conda",
                conda_packages=(
                    CondaPackage("pytorch-cuda", "11.8", "h7e8668a_5", "pytorch-nightly"),
                ),
            ),
            gpus=(),
        ),
        WARNING,
        "pytorch-cuda 11.8",
        "torchsetup install",
    ),
    "TS006-geforce-210-torch-1x": Case(
        "TS006",
        lambda: with_nvidia(
            with_torch(linux_gpu(), version="1.8.1+cu102", cuda="10.2", requires=()),
            gpus=one_gpu("GeForce 210", None),  # type: ignore[arg-type]
        ),
        ERROR,
        "cannot compile for compute capability below 3.0",
        "--cpu",
    ),
    "TS127-off": Case(
        "TS127",
        lambda: guarded(None),
        INFO,
        "torch 2.13.0+cpu is not pinned in /home/alice/venv",
        "torchsetup guard on --python /home/alice/venv/bin/python",
    ),
    "TS127-on": Case(
        "TS127",
        lambda: guarded("torch==2.13.0+cpu"),
        INFO,
        "torch==2.13.0+cpu pinned for later installs in /home/alice/venv by pip and uv (activated)",
        "torchsetup guard off",
    ),
    "TS127-replaced": Case(
        "TS127",
        lambda: guarded("torch==2.12.0+cpu"),
        WARNING,
        "the guard pins torch==2.12.0+cpu, but torch 2.13.0+cpu is installed",
        "torchsetup install --python /home/alice/venv/bin/python --torch 2.12.0",
    ),
}


def findings(env: Environment, rule_id: str) -> list[Finding]:
    """What rule ``rule_id`` alone finds in ``env``."""
    return list(RULES[rule_id].func(RuleContext(env)))


def cases_for(category: str) -> list[str]:
    """The names of the cases whose rule belongs to ``category``, sorted."""
    return sorted(n for n, c in CASES.items() if RULES[c.rule].category == category)


def check_case(name: str) -> None:
    """Case ``name`` fires its rule with its severity, quoting its fact and its fix."""
    case = CASES[name]
    found = findings(case.build(), case.rule)
    assert found, f"{case.rule} did not fire"
    f = next((x for x in found if x.severity == case.severity), None)
    assert f is not None, [x.severity for x in found]
    assert case.detail in f.detail
    if case.fix is not None:
        assert f.fix and case.fix in f.fix


def ids(env: Environment, severity: Optional[str] = None) -> set[str]:
    """The ids of what every rule finds in ``env`` (of one severity); no rule may crash."""
    from torchsetup.doctor import run_rules

    found, crashed = run_rules(env)
    assert not crashed
    return {f.id for f in found if severity is None or f.severity == severity}


def finding(env: Environment, rule_id: str) -> Finding:
    """The first finding of ``rule_id`` when every rule runs on ``env`` (it must fire)."""
    from torchsetup.doctor import run_rules

    found, _ = run_rules(env)
    matches = [f for f in found if f.id == rule_id]
    assert matches, f"{rule_id} did not fire; got {[f.id for f in found]}"
    return matches[0]


# The LLM-stack rules (TS2xx, doctor/rules/stack.py) keep their cases in their own module.
from tests.helpers.stack_rule_cases import stack_cases

CASES.update(stack_cases(Case, ERROR, WARNING))
