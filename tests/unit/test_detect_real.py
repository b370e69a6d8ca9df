"""The whole detect path on the real machine captures in tests/data/real."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from tests.conftest import DATA
from torchsetup.detect.model import environment_from_dict, environment_to_dict
from torchsetup.detect.snapshot import load_environment

H200 = str(DATA / "real" / "h200-ubuntu24.04-driver580-torch2.11cu130")
DEB = str(DATA / "real" / "debian12-cpu-nvcc13-no-driver")


def test_h200_capture_yields_its_facts() -> None:
    env = load_environment(H200)
    nv = env.nvidia
    assert nv.status == "ok"
    assert nv.source == "nvml"
    assert nv.driver_version == "580.159.04"
    assert nv.cuda_driver_version == "13.0"
    assert nv.kernel_module_version == "580.159.04"
    assert [(g.name, g.compute_capability, g.sm) for g in nv.gpus] == [
        ("NVIDIA H200", "9.0", "sm_90")
    ]
    assert nv.gpus[0].memory_total_bytes == 150754820096
    assert env.python is not None and env.python.torch is not None
    assert env.python.torch.version == "2.11.0+cu130"
    assert env.python.torch.cuda == "13.0"
    assert env.python.torch.variant == "cu130"
    assert env.python.version == "3.12.3"
    assert env.os.platform_key == "linux-x86_64"
    assert env.os.libc_version == "2.39"
    assert env.toolkit.nvcc_version == "13.0"
    assert env.toolkit.cuda_home == "/usr/local/cuda"
    assert env.env("TORCH_CUDA_ARCH_LIST") == "9.0a"
    assert env.tools.gcc_version == "13.3.0"
    assert env.python.dist("torchvision") is not None
    assert env.python.dist("torchvision").version == "0.26.0"  # type: ignore[union-attr]


def test_build_machine_capture_no_driver_but_toolkit() -> None:
    env = load_environment(DEB)
    assert env.nvidia.status == "no-driver"
    assert env.nvidia.driver_version is None
    assert env.nvidia.gpus == ()
    assert env.toolkit.nvcc_version == "13.0"
    assert env.toolkit.nvcc_full_version == "13.0.88"
    assert "/usr/local/cuda-13.0" in env.toolkit.install_dirs
    assert env.os.name == "Debian GNU/Linux 12 (bookworm)"
    assert env.os.libc_version == "2.36"
    assert env.python is None  # nothing captured about a target interpreter: unknown


def test_environment_json_round_trip() -> None:
    env = load_environment(H200)
    data = json.loads(json.dumps(environment_to_dict(env)))
    assert data["nvidia"]["gpus"][0]["sm"] == "sm_90"  # derived properties are exported too
    back = environment_from_dict(data)
    assert back == env


def test_environment_json_snapshot_file(tmp_path: Path) -> None:
    env = load_environment(H200)
    f = tmp_path / "env.json"
    f.write_text(json.dumps({"environment": environment_to_dict(env)}))
    loaded = load_environment(str(f))
    assert loaded.source == f"snapshot:{f}"
    assert dataclasses.replace(loaded, source=env.source) == env
