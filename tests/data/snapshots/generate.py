"""Write the scenario snapshots in this folder: ``python tests/data/snapshots/generate.py``.

Each file is ``{"environment": environment_to_dict(Environment)}``, the shape
``torchsetup.detect.snapshot.load_environment`` reads. ``h200-real.json`` restates the real capture in
tests/data/real/h200-ubuntu24.04-driver580-torch2.11cu130 (driver, GPU, OS, glibc, Python, pip,
toolkit, compilers, tools); the others are typical machines of the failure catalogue.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2] / "src"))

from torchsetup.detect.model import (
    CudaToolkit,
    Environment,
    Gpu,
    Nvidia,
    OSInfo,
    Resources,
    TargetPython,
    Tools,
    environment_to_dict,
)

GiB = 1024**3


def linux(
    name: str,
    version: str,
    glibc: str,
    machine: str = "x86_64",
    libc: str = "glibc",
    distro: str = "ubuntu",
) -> OSInfo:
    return OSInfo(
        system="Linux",
        name=name,
        distro_id=distro,
        version=version,
        machine=machine,
        libc=libc,
        libc_version=glibc,
        kernel="6.8.0",
    )


def python(
    executable: str,
    version: str,
    pip: str | None,
    *,
    kind: str = "venv",
    prefix: str | None = None,
    machine: str = "x86_64",
    platform: str = "linux",
) -> TargetPython:
    return TargetPython(
        executable=executable,
        chosen_by="VIRTUAL_ENV" if kind == "venv" else "PATH",
        ok=True,
        version=version,
        implementation="cpython",
        bits=64,
        platform=platform,
        machine=machine,
        env_kind=kind,
        prefix=prefix,
        pip_version=pip,
        torch_checked=True,
    )


def nvidia(driver: str, cuda: str, *gpus: tuple[str, str]) -> Nvidia:
    return Nvidia(
        status="ok",
        driver_version=driver,
        cuda_driver_version=cuda,
        source="nvml",
        gpus=tuple(Gpu(index=i, name=n, compute_capability=cc) for i, (n, cc) in enumerate(gpus)),
    )


NO_DRIVER = Nvidia(status="no-driver", source="nvml")

SCENARIOS: dict[str, Environment] = {
    "linux-py311-nodriver": Environment(
        os=linux("Ubuntu 22.04.4 LTS", "22.04", "2.35"),
        python=python("/home/dev/venv/bin/python", "3.11.9", "23.3.1", prefix="/home/dev/venv"),
        nvidia=NO_DRIVER,
        resources=Resources(logical_cpus=8, memory_total_bytes=32 * GiB),
    ),
    "pascal-gtx1080ti-driver580": Environment(
        os=linux("Ubuntu 22.04.4 LTS", "22.04", "2.35"),
        python=python("/usr/bin/python3", "3.10.12", "22.0.2", kind="system", prefix="/usr"),
        nvidia=nvidia("580.95.05", "13.0", ("NVIDIA GeForce GTX 1080 Ti", "6.1")),
    ),
    "rtx5090-driver570": Environment(
        os=linux("Ubuntu 24.04.1 LTS", "24.04", "2.39"),
        python=python("/home/dev/.venv/bin/python", "3.12.3", "24.0", prefix="/home/dev/.venv"),
        nvidia=nvidia("570.133.07", "12.8", ("NVIDIA GeForce RTX 5090", "12.0")),
    ),
    "t4-driver470": Environment(
        os=linux("Ubuntu 20.04.6 LTS", "20.04", "2.31"),
        python=python("/usr/bin/python3", "3.8.10", "20.0.2", kind="system", prefix="/usr"),
        nvidia=nvidia("470.256.02", "11.4", ("Tesla T4", "7.5")),
    ),
    "intel-mac": Environment(
        os=OSInfo(system="Darwin", name="macOS 13.6", version="13.6", machine="x86_64"),
        python=python(
            "/usr/local/bin/python3", "3.11.5", "23.2.1", kind="system", platform="darwin"
        ),
        nvidia=NO_DRIVER,
    ),
    "apple-m2": Environment(
        os=OSInfo(system="Darwin", name="macOS 14.5", version="14.5", machine="arm64"),
        python=python(
            "/Users/dev/.venv/bin/python", "3.12.4", "24.0", machine="arm64", platform="darwin"
        ),
        nvidia=NO_DRIVER,
    ),
    "centos7-v100-glibc217": Environment(
        os=linux("CentOS Linux 7 (Core)", "7", "2.17", distro="centos"),
        python=python("/opt/venv/bin/python", "3.9.18", "21.3.1", prefix="/opt/venv"),
        nvidia=nvidia("535.183.01", "12.2", ("Tesla V100-SXM2-32GB", "7.0")),
    ),
    "windows-rtx3060": Environment(
        os=OSInfo(system="Windows", name="Windows 11", version="10.0.22631", machine="AMD64"),
        python=python(
            "C:\\Users\\dev\\AppData\\Local\\Programs\\Python\\Python312\\python.exe",
            "3.12.5",
            "24.2",
            kind="system",
            machine="AMD64",
            platform="win32",
        ),
        nvidia=nvidia("560.94", "12.6", ("NVIDIA GeForce RTX 3060", "8.6")),
    ),
    "gh200-aarch64": Environment(
        os=linux("Ubuntu 24.04.2 LTS", "24.04", "2.39", machine="aarch64"),
        python=python(
            "/home/dev/.venv/bin/python",
            "3.12.3",
            "24.0",
            machine="aarch64",
            prefix="/home/dev/.venv",
        ),
        nvidia=nvidia("580.65.06", "13.0", ("NVIDIA GH200 480GB", "9.0")),
    ),
    "alpine-musl": Environment(
        os=linux("Alpine Linux v3.20", "3.20", "1.2.5", libc="musl", distro="alpine"),
        python=python("/usr/bin/python3", "3.12.6", "24.0", kind="system"),
        nvidia=NO_DRIVER,
    ),
    "conda-a100-driver535": Environment(
        os=linux("Rocky Linux 9.4", "9.4", "2.34", distro="rocky"),
        python=python(
            "/opt/conda/envs/ml/bin/python",
            "3.10.14",
            "24.0",
            kind="conda",
            prefix="/opt/conda/envs/ml",
        ),
        nvidia=nvidia("535.104.05", "12.2", ("NVIDIA A100-SXM4-80GB", "8.0")),
    ),
    "h200-real": Environment(
        os=OSInfo(
            system="Linux",
            name="Ubuntu 24.04.3 LTS",
            distro_id="ubuntu",
            version="24.04",
            kernel="6.18.44-fc-v657-gpu",
            machine="x86_64",
            libc="glibc",
            libc_version="2.39",
            container="docker",
            hostname="vm",
        ),
        resources=Resources(logical_cpus=16, memory_total_bytes=128 * GiB),
        nvidia=Nvidia(
            status="ok",
            driver_version="580.159.04",
            cuda_driver_version="13.0",
            source="nvml",
            nvml_version="13.580.159.04",
            kernel_module_version="580.159.04",
            gpus=(
                Gpu(
                    index=0,
                    name="NVIDIA H200",
                    compute_capability="9.0",
                    memory_total_bytes=150754820096,
                    pci_bus_id="00000000:00:06.0",
                    mig_enabled=False,
                ),
            ),
        ),
        toolkit=CudaToolkit(
            nvcc_path="/usr/local/cuda/bin/nvcc",
            nvcc_version="13.0",
            nvcc_full_version="13.0.88",
            cuda_home="/usr/local/cuda",
            cuda_home_var="CUDA_HOME",
        ),
        python=python("/opt/torch/.venv/bin/python3", "3.12.3", "24.0", prefix="/opt/torch/.venv"),
        tools=Tools(
            paths=(
                ("gcc", "/usr/bin/gcc"),
                ("g++", "/usr/bin/g++"),
                ("git", "/usr/bin/git"),
                ("cmake", "/opt/torch/.venv/bin/cmake"),
                ("ninja", "/opt/torch/.venv/bin/ninja"),
                ("uv", "/usr/local/bin/uv"),
                ("nvcc", "/usr/local/cuda/bin/nvcc"),
            ),
            gcc_version="13.3.0",
        ),
    ),
}


def main() -> None:
    for name, env in SCENARIOS.items():
        path = HERE / f"{name}.json"
        path.write_text(
            json.dumps({"environment": environment_to_dict(env)}, indent=1) + "\n", encoding="utf-8"
        )
        print(f"wrote {path.name}")


if __name__ == "__main__":
    main()
