"""Saving and loading snapshots, so doctor and the resolver can run on another machine's facts.

``load_environment(path)`` accepts:

* a snapshot written by ``torchsetup doctor --save-snapshot FILE`` (raw probe records);
* any JSON with an ``"environment"`` object (a hand-written scenario), or the output of
  ``torchsetup doctor --json``, whose ``result`` holds one (docs/json.md);
* a directory of raw command outputs captured on a machine without torchsetup (the layout of
  ``tests/data/real/*``: ``nvidia_smi_query.txt``, ``pynvml_probe.txt``, ``nvcc_version.txt``,
  ``pip_list.txt``, ``torch_info.txt``, ...), see docs/snapshots.md.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, Optional

from torchsetup.detect.model import Environment, environment_from_dict
from torchsetup.detect.probes.record import SNAPSHOT_SCHEMA, ProbeRecord, Snapshot
from torchsetup.errors import SnapshotError
from torchsetup.result import RESULT_SCHEMA


def save_snapshot(snap: Snapshot, path: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(snap.to_dict(), indent=1, sort_keys=True) + "\n")
    except OSError as exc:
        raise SnapshotError(f"cannot write snapshot {path}: {exc.strerror or exc}") from exc


def load_environment(path: str) -> Environment:
    """An Environment from any accepted form (see module doc). The fact builder (and its
    parsers) is imported only for the forms that need it: a saved Environment does not."""
    try:
        if os.path.isdir(path):
            from torchsetup.detect.build import build_environment

            return build_environment(snapshot_from_capture_dir(path))
        data = _read_json(path)
        if data.get("schema") == SNAPSHOT_SCHEMA:
            from torchsetup.detect.build import build_environment

            return build_environment(Snapshot.from_dict(data, source=f"snapshot:{path}"))
    except (TypeError, ValueError, KeyError, AttributeError, IndexError, RecursionError) as exc:
        # raw probe records of the wrong shape: bad input (exit 2), not a bug of torchsetup
        raise SnapshotError(
            f"{path}: malformed snapshot: {type(exc).__name__}: {exc}"[:300]
        ) from None
    if data.get("schema") == RESULT_SCHEMA and isinstance(data.get("result"), dict):
        data = data["result"]  # the output of `torchsetup doctor --json`
    if isinstance(data.get("environment"), dict):
        try:
            env = environment_from_dict(data["environment"])
        except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
            raise SnapshotError(f"{path}: malformed environment: {exc}") from exc
        return _with_source(env, f"snapshot:{path}")
    raise SnapshotError(f'{path} is neither a torchsetup snapshot nor a JSON with an "environment"')


def _with_source(env: Environment, source: str) -> Environment:
    import dataclasses

    return dataclasses.replace(env, source=source)


def _read_json(p: str) -> dict[str, Any]:
    from torchsetup.files import FileRefused, read_text

    if not os.path.lexists(p):
        raise SnapshotError(f"snapshot not found: {p}")
    try:
        text = read_text(p)
    except FileRefused as exc:
        raise SnapshotError(f"cannot read snapshot {p}: it {exc}") from None
    try:
        data = json.loads(text)
    except RecursionError:
        raise SnapshotError(f"{p} is not valid JSON (nested too deeply)") from None
    except ValueError as exc:
        raise SnapshotError(f"{p} is not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise SnapshotError(f"{p} does not hold a JSON object")
    return data


# --- capture directories -----------------------------------------------------------------------


def _txt(d: str, name: str) -> Optional[str]:
    from torchsetup.files import FileRefused, read_text

    f = os.path.join(d, name)
    if not os.path.lexists(f):
        return None
    try:
        return read_text(f, errors="replace")
    except FileRefused as exc:
        raise SnapshotError(f"cannot read {f}: it {exc}") from None


def snapshot_from_capture_dir(d: str) -> Snapshot:
    """Raw outputs of the usual commands (see module doc) -> probe records."""
    if not any(name.endswith(".txt") for name in os.listdir(d)):
        raise SnapshotError(f"{d} holds no captured outputs (*.txt)")
    records = [
        _cap_platform(d),
        _cap_nvml(d),
        _cap_libcuda(d),
        _cap_smi(d),
        _cap_proc(d),
        _cap_toolkit(d),
        _cap_tools(d),
        _cap_env(d),
        _cap_python(d),
        *_cap_vendors(d),
        ProbeRecord("pci", ok=True, data={"available": False}),
        ProbeRecord("resources", ok=True, data={}),
        ProbeRecord("disk", ok=True, data={"disks": []}),
        ProbeRecord("pip-config", ok=True, data={"files": {}}),
    ]
    return Snapshot(records={r.name: r for r in records if r is not None}, source=f"capture:{d}")


# AMD / Intel / Jetson captures: file -> (record, tool name or data key)
_VENDOR_TOOLS = {
    "rocminfo.txt": ("amd", "rocminfo"),
    "rocm_agent_enumerator.txt": ("amd", "rocm_agent_enumerator"),
    "rocm_smi.json": ("amd", "rocm-smi"),
    "amd_smi_list.json": ("amd", "amd-smi"),
    "xpu_smi_discovery.txt": ("intel", "xpu-smi"),
    "sycl_ls.txt": ("intel", "sycl-ls"),
}


def _cap_vendors(d: str) -> list[ProbeRecord]:
    """rocminfo.txt, rocm_agent_enumerator.txt, rocm_smi.json (--showproductname --json),
    amd_smi_list.json, rocm_version.txt (/opt/rocm/.info/version), xpu_smi_discovery.txt,
    sycl_ls.txt, nv_tegra_release.txt, device_tree_model.txt: only the records they feed."""
    data: dict[str, dict[str, Any]] = {"amd": {"tools": {}}, "intel": {"tools": {}}}
    for name, (record, tool) in _VENDOR_TOOLS.items():
        text = _txt(d, name)
        if text is not None:
            data[record]["tools"][tool] = {"path": name, "returncode": 0, "stdout": text}
    version = _txt(d, "rocm_version.txt")
    if version is not None:
        data["amd"]["rocm_version_file"] = {"path": "rocm_version.txt", "text": version}
    out = [
        ProbeRecord(name, ok=True, data=value)
        for name, value in data.items()
        if value["tools"] or len(value) > 1
    ]
    tegra, model = _txt(d, "nv_tegra_release.txt"), _txt(d, "device_tree_model.txt")
    if tegra is not None or model is not None:
        out.append(ProbeRecord("jetson", ok=True, data={"nv_tegra_release": tegra, "model": model}))
    return out


def _cap_platform(d: str) -> ProbeRecord:
    data: dict[str, Any] = {}
    uname = (_txt(d, "uname.txt") or "").split()
    if uname:
        data["system"] = uname[0]
        data["hostname"] = uname[1] if len(uname) > 1 else None
        data["release"] = uname[2] if len(uname) > 2 else None
        machines = [t for t in uname if t in ("x86_64", "aarch64", "arm64", "ppc64le", "s390x")]
        data["machine"] = machines[0] if machines else None
    data["os_release"] = _txt(d, "os_release.txt")
    data["libc"] = _txt(d, "ldd_version.txt")
    data["dockerenv"] = "dockerenv" in (_txt(d, "container_hints.txt") or "")
    return ProbeRecord("platform", ok=bool(uname), data=data)


def _cap_nvml(d: str) -> ProbeRecord:
    text = _txt(d, "pynvml_probe.txt")
    if text is None:
        return ProbeRecord("nvml", ok=False, error="not captured")
    try:
        data = json.loads(text)
    except ValueError:
        return ProbeRecord("nvml", ok=False, error=text.strip().splitlines()[0])
    return ProbeRecord("nvml", ok=True, data=data)


def _cap_libcuda(d: str) -> Optional[ProbeRecord]:
    text = _txt(d, "libcuda_driver_version.txt")
    if text is None:
        return None
    m = re.search(r"rc (\d+) cuDriverGetVersion (\d+)", text)
    if m and m.group(1) == "0":
        return ProbeRecord("libcuda", ok=True, data={"rc": 0, "version": int(m.group(2))})
    return ProbeRecord("libcuda", ok=False, error=text.strip().splitlines()[0])


def _cap_smi(d: str) -> Optional[ProbeRecord]:
    query = _txt(d, "nvidia_smi_query.txt")
    if query is not None:
        return ProbeRecord(
            "nvidia-smi", ok=True, data={"path": "nvidia-smi", "stdout": query, "returncode": 0}
        )
    err = _txt(d, "nvidia_smi.stderr.txt")
    if err is not None:
        not_found = "not found" in err
        return ProbeRecord(
            "nvidia-smi",
            ok=False,
            data={"path": None if not_found else "nvidia-smi", "stdout": "", "stderr": err},
            error="nvidia-smi not found" if not_found else err.strip(),
        )
    return None


def _cap_proc(d: str) -> ProbeRecord:
    gpus: dict[str, str] = {}
    info = _txt(d, "proc_gpus_info.txt") or ""
    for block in re.split(r"^== ", info, flags=re.MULTILINE):
        m = re.match(r"/proc/driver/nvidia/gpus/([^/]+)/information\n", block)
        if m:
            gpus[m.group(1)] = block[m.end() :]
    return ProbeRecord(
        "nvidia-proc", ok=True, data={"version": _txt(d, "proc_driver_version.txt"), "gpus": gpus}
    )


def _env_lines(d: str) -> dict[str, str]:
    out = {}
    for line in (_txt(d, "env_cuda.txt") or "").splitlines():
        key, sep, value = line.partition("=")
        if sep and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            out[key] = value
    return out


def _which(d: str) -> dict[str, str]:
    out = {}
    for line in (_txt(d, "which_tools.txt") or "").splitlines():
        key, sep, value = line.partition(":")
        value = value.strip()
        if sep and value and value != "none":
            out[key.strip()] = value
    return out


def _cap_toolkit(d: str) -> ProbeRecord:
    env = _env_lines(d)
    nvcc = _txt(d, "nvcc_version.txt")
    dirs = sorted(
        {
            m.group(1)
            for m in re.finditer(r"(/\S*cuda[\w.-]*)", _txt(d, "cuda_dirs.txt") or "")
            if "nvidia" not in m.group(1)
        }
    )
    data: dict[str, Any] = {
        "nvcc_path": _which(d).get("nvcc") or ("nvcc" if nvcc else None),
        "nvcc_stdout": nvcc,
        "install_dirs": dirs,
        "ld_library_path": [p for p in env.get("LD_LIBRARY_PATH", "").split(":") if p],
        "ld_library_path_libs": [],
    }
    for var in ("CUDA_HOME", "CUDA_PATH"):
        if env.get(var):
            data["cuda_home"], data["cuda_home_var"] = env[var], var
            break
    return ProbeRecord("cuda-toolkit", ok=True, data=data)


def _cap_tools(d: str) -> ProbeRecord:
    return ProbeRecord(
        "tools",
        ok=True,
        data={"paths": _which(d), "gcc_version_stdout": _txt(d, "gcc_version.txt")},
    )


def _cap_env(d: str) -> ProbeRecord:
    from torchsetup.detect.probes.system import ENV_ALLOWLIST

    env = _env_lines(d)
    return ProbeRecord(
        "env", ok=True, data={"vars": {k: v for k, v in env.items() if k in ENV_ALLOWLIST}}
    )


def _cap_python(d: str) -> Optional[ProbeRecord]:
    version_text = _txt(d, "python_version.txt")
    if version_text is None:
        return None
    m = re.search(r"Python (\d+\.\d+\.\d+)", version_text)
    exe = _which(d).get("python3") or "python3"
    python = {
        "executable": exe,
        "version": m.group(1) if m else None,
        "implementation": "cpython",
        "bits": 64,
        "platform": "linux",
    }
    dists = []
    pip_list = _txt(d, "pip_list.txt")
    if pip_list:
        try:
            for item in json.loads(pip_list):
                dists.append({"name": item["name"], "version": item["version"]})
        except (ValueError, KeyError, TypeError):
            pass
    data: dict[str, Any] = {
        "executable": exe,
        "chosen_by": "capture",
        "python": python,
        "distributions": dists,
        "torch_locations": [],
    }
    info_text = _txt(d, "torch_info.txt")
    if info_text:
        try:
            info = json.loads(info_text)
            data["torch_version_py"] = {
                "__version__": info.get("version"),
                "cuda": info.get("cuda"),
                "hip": info.get("hip"),
                "git_version": info.get("git"),
                "debug": info.get("debug"),
            }
        except ValueError:
            pass
    return ProbeRecord("python", ok=True, data=data)
