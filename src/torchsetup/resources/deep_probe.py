"""Run by `torchsetup doctor --deep` inside the target interpreter: import torch, read what
files cannot tell (Python 3.8+, standard library and torch only).

It prints one JSON object per section as soon as the section is done, so a crash or a hang
later (a CUDA init that never returns, a segfault in a kernel) still leaves the earlier facts.
Every section is guarded; the last line is {"section": "done"}.
"""

import json
import os
import sys
import time
import warnings

LIBRARY_PREFIXES = (
    "libcudnn",
    "libcublas",
    "libcudart",
    "libnccl",
    "libnvrtc",
    "libnvJitLink",
    "libcusparse",
    "libcufft",
    "libamdhip64",
    "libMIOpen",
    "librocblas",
    "libmkl",
)


def emit(section, **facts):
    facts["section"] = section
    sys.stdout.write(json.dumps(facts) + "\n")
    sys.stdout.flush()


def first_line(exc):
    text = "%s: %s" % (type(exc).__name__, exc)
    return " ".join(text.split())[:600]


def messages(caught):
    out = []
    for w in caught:
        text = " ".join(str(w.message).split())
        if text not in out:
            out.append(text[:600])
    return out


def import_torch():
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            import torch
        except BaseException as exc:  # ImportError, OSError (WinError 126), SystemExit, ...
            emit("import", imported=False, error=first_line(exc), warnings=messages(caught))
            return None
    emit(
        "import",
        imported=True,
        import_s=round(time.perf_counter() - started, 3),
        torch_version=getattr(torch, "__version__", None),
        warnings=messages(caught),
    )
    return torch


def cuda_facts(torch):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        available = torch.cuda.is_available()
        count = torch.cuda.device_count() if available else 0
    said = messages(caught)
    init = [m for m in said if "CUDA initialization" in m or "CUDA unknown error" in m]
    arch_list = None
    try:
        arch_list = list(torch.cuda.get_arch_list())
    except Exception:
        pass
    emit(
        "cuda",
        cuda_available=available,
        device_count=count,
        cuda_init_warning=init[0] if init else None,
        arch_list=arch_list or None,
        warnings=[m for m in said if m not in init],
    )
    return count


def device_check(torch, index):
    """A small matmul on the device, compared with the CPU's result."""
    props = torch.cuda.get_device_properties(index)
    info = {
        "index": index,
        "name": props.name,
        "capability": "%d.%d" % (props.major, props.minor),
        "arch": getattr(props, "gcnArchName", None),
    }
    gen = torch.Generator().manual_seed(index)
    a = torch.randn(64, 64, generator=gen)
    b = torch.randn(64, 64, generator=gen)
    expected = a @ b
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            device = torch.device("cuda", index)
            got = (a.to(device) @ b.to(device)).cpu()
            info["tensor_ok"] = bool(torch.allclose(got, expected, rtol=1e-2, atol=1e-2))
        except Exception as exc:
            info["tensor_ok"] = False
            info["error"] = first_line(exc)
    info["warnings"] = messages(caught)
    return info


def devices_facts(torch, count):
    devices = []
    for index in range(count):
        try:
            devices.append(device_check(torch, index))
        except Exception as exc:
            devices.append({"index": index, "tensor_ok": False, "error": first_line(exc)})
    emit("devices", devices=devices)


def cudnn_facts(torch, count):
    facts = {"cudnn_version": None, "cudnn_error": None}
    try:
        facts["cudnn_version"] = torch.backends.cudnn.version()
        if count and facts["cudnn_version"]:
            # a tiny convolution makes cuDNN load its sub-libraries (libcudnn_cnn*, ...)
            x = torch.randn(1, 1, 8, 8, device="cuda")
            w = torch.randn(1, 1, 3, 3, device="cuda")
            torch.nn.functional.conv2d(x, w).cpu()
    except Exception as exc:
        facts["cudnn_error"] = first_line(exc)
    emit("cudnn", **facts)


def loaded_libraries():
    """CUDA/ROCm/MKL libraries mapped into this process (Linux /proc/self/maps; None elsewhere)."""
    try:
        with open("/proc/self/maps") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    found = []
    for line in lines:
        parts = line.split(None, 5)
        if len(parts) < 6 or not parts[5].startswith("/"):
            continue
        path = parts[5]
        name = os.path.basename(path)
        if name.startswith(LIBRARY_PREFIXES) and [name, path] not in found:
            found.append([name, path])
    return found


def mps_facts(torch):
    backend = getattr(torch.backends, "mps", None)
    if backend is None:
        return
    facts = {"mps_built": backend.is_built(), "mps_available": backend.is_available()}
    if facts["mps_available"]:
        try:
            facts["mps_ok"] = bool((torch.ones(4, device="mps") * 2).sum().item() == 8)
        except Exception as exc:
            facts["mps_error"] = first_line(exc)
    emit("mps", **facts)


def numpy_facts(torch):
    try:
        import numpy
    except Exception as exc:
        emit("numpy", numpy_version=None, numpy_error=first_line(exc))
        return
    try:
        ok = torch.from_numpy(numpy.arange(3.0)).numpy().tolist() == [0.0, 1.0, 2.0]
        error = None if ok else "tensor <-> numpy round trip changed the values"
    except Exception as exc:
        error = first_line(exc)
    emit("numpy", numpy_version=numpy.__version__, numpy_error=error)


def guarded(name, fn, *args):
    try:
        return fn(*args)
    except Exception as exc:  # a broken section is a fact, never fatal
        emit(name, section_errors=["%s: %s" % (name, first_line(exc))])
        return None


def forget_own_folder():
    """Python put this script's folder (torchsetup/probes, with nvidia.py, system.py ...) first
    on sys.path; torch, numpy and their plugins must not import those by accident."""
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if p and os.path.abspath(p) != here]


def main():
    forget_own_folder()
    torch = import_torch()
    if torch is not None:
        count = guarded("cuda", cuda_facts, torch) or 0
        if count:
            guarded("devices", devices_facts, torch, count)
        build = getattr(torch, "version", None)
        if getattr(build, "cuda", None) or getattr(build, "hip", None):
            guarded("cudnn", cudnn_facts, torch, count)
        guarded("mps", mps_facts, torch)
        guarded("numpy", numpy_facts, torch)
        emit("libraries", libraries=loaded_libraries())
    emit("done")


if __name__ == "__main__":
    main()
