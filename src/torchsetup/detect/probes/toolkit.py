"""Probe the CUDA toolkit: nvcc, CUDA_HOME/CUDA_PATH, /usr/local/cuda*, LD_LIBRARY_PATH libraries."""

from __future__ import annotations

import glob
import os
import shutil
from typing import Any

from torchsetup import proc
from torchsetup.detect.probes.record import ProbeRecord, timed

CUDA_LIB_PREFIXES = ("libcudnn", "libcublas", "libcudart", "libnccl", "libcusparse", "libnvrtc")


def probe_all(*, timeout: float) -> list[ProbeRecord]:
    return [timed("cuda-toolkit", lambda: _toolkit(timeout))]


def _find_nvcc() -> tuple[str | None, str | None]:
    found = shutil.which("nvcc")
    if found:
        return found, "PATH"
    for var in ("CUDA_HOME", "CUDA_PATH"):
        home = os.environ.get(var)
        if home:
            cand = os.path.join(home, "bin", "nvcc.exe" if os.name == "nt" else "nvcc")
            if os.path.isfile(cand):
                return cand, var
    return None, None


def _toolkit(timeout: float) -> dict[str, Any]:
    data: dict[str, Any] = {}
    nvcc, where = _find_nvcc()
    data["nvcc_path"] = nvcc
    data["nvcc_found_via"] = where
    if nvcc:
        res = proc.run([nvcc, "--version"], timeout=timeout)
        data["nvcc_stdout"] = res.stdout
        data["nvcc_error"] = None if res.ok else res.describe_failure()
    for var in ("CUDA_HOME", "CUDA_PATH"):
        if os.environ.get(var):
            data["cuda_home"] = os.environ[var]
            data["cuda_home_var"] = var
            break
    if os.name == "nt":
        base = os.environ.get("ProgramFiles", r"C:\Program Files")
        dirs = glob.glob(os.path.join(base, "NVIDIA GPU Computing Toolkit", "CUDA", "v*"))
    else:
        dirs = glob.glob("/usr/local/cuda*") + glob.glob("/opt/cuda*")
    data["install_dirs"] = sorted(dirs)
    ld = os.environ.get("LD_LIBRARY_PATH", "")
    entries = [p for p in ld.split(os.pathsep) if p]
    data["ld_library_path"] = entries
    data["ld_library_path_libs"] = [
        {"path": p, "libraries": libs} for p in entries if (libs := _cuda_libs(p))
    ]
    return data


def _cuda_libs(path: str) -> list[str]:
    try:
        names = os.listdir(path)
    except OSError:
        return []
    return sorted(n for n in names if n.startswith(CUDA_LIB_PREFIXES))
