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
    windows_gpu,
    with_deep,
    with_dists,
    with_nvidia,
    with_os,
    with_python,
    with_torch,
)
from torchsetup.detect.model import (
    CondaPackage,
    CudaToolkit,
    DeepDevice,
    DiskSpace,
    Distribution,
    Environment,
    LibraryDir,
    LoadedLibrary,
    Resources,
    TargetPython,
    Tools,
)
from torchsetup.doctor.context import RuleContext
from torchsetup.doctor.model import ERROR, INFO, WARNING, Finding
from torchsetup.doctor.rules import RULES


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
    "TS108-no-dist-info": Case(
        "TS108",
        lambda: with_python(
            linux_gpu(),
            distributions=tuple(d for d in linux_gpu().python.distributions if d.name != "torch"),  # type: ignore[union-attr]
        ),
        ERROR,
        "no torch dist-info",
        "remove",
    ),
    "TS108-no-package": Case(
        "TS108",
        lambda: dataclasses.replace(with_python(linux_gpu(), torch_locations=()), source="live"),
        ERROR,
        "no torch package to import",
        "pip uninstall -y torch",
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
