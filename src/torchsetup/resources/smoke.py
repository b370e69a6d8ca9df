"""torchsetup's smoke test. It runs INSIDE the target interpreter, never in torchsetup.

Stdlib + torch only; Python 3.8+ and any torch 2.x. torchsetup starts it as a file:

    python -I smoke.py --mode quick|full [--compile inductor|aot_eager|off]
                       [--train-steps N] [--compile-train] [--cache-dir DIR] --json-lines
    python -I smoke.py --worker [--dist-timeout S] [--dist-backend auto|gloo|nccl] [--bandwidth]

Every event is one line on stdout, ``SENTINEL`` + JSON, written with a single os.write as
soon as it is known, so stray prints from torch or C libraries never corrupt it and
torchsetup can time out each check on its own. Events, in order:

    hello                       the script runs (before torch is imported)
    result import|build|gpu     always these three first
    plan  {"checks": [...]}     the names of the checks that follow, in order
    result <name>               one per planned check
    done

A worker (one rank of a distributed check) prints a ``rank`` event with its record; rank 0
adds ``gathered`` (every rank's record and the verdict), the others ``verdict``.
This file knows nothing of torchsetup: judging the facts (GPU required? arch list?
expected versions?) happens on torchsetup's side.
"""

import argparse
import importlib.util
import json
import math
import os
import platform
import shutil
import sys
import threading
import time
import traceback
import warnings

SENTINEL = "@@torchsetup@@ "
PROTOCOL = 1
MAX_TEXT = 1500  # characters kept of one error message: result lines stay short


class NotRun(Exception):
    """Raised by a check that cannot apply here; the message says why."""


class Failed(Exception):
    """Raised by a check that failed but still has facts to report."""

    def __init__(self, detail, data):
        Exception.__init__(self, detail)
        self.data = data


# ---------------------------------------------------------------------------- protocol


def emit(event, **fields):
    fields["event"] = event
    data = (SENTINEL + json.dumps(fields, default=str) + "\n").encode("ascii")
    while data:
        written = os.write(1, data)
        data = data[written:]


def clip(text, limit=MAX_TEXT):
    text = str(text)
    if len(text) <= limit:
        return text
    half = limit // 2
    return text[:half] + " [...] " + text[-half:]


def error_text(exc):
    return clip("%s: %s" % (type(exc).__name__, exc))


def first_line(text):
    lines = [ln for ln in str(text).splitlines() if ln.strip()]
    return lines[0][:300] if lines else ""


def check_result(name, fn, *args):
    """Run one check; its result as a dict (name, status, seconds, detail, data). Never raises."""
    started = time.perf_counter()
    try:
        status = "pass"
        detail, data = fn(*args)
    except NotRun as exc:
        status, detail, data = "not run", str(exc), {}
    except Failed as exc:
        status, detail, data = "fail", str(exc), exc.data
    except BaseException as exc:  # a check must never take the script down
        if isinstance(exc, KeyboardInterrupt):
            raise
        status, detail = "fail", first_line(error_text(exc))
        data = {"error": error_text(exc), "traceback": clip(traceback.format_exc(), 800)}
    return {
        "name": name,
        "status": status,
        "seconds": round(time.perf_counter() - started, 4),
        "detail": detail,
        "data": data,
    }


def run_check(name, fn, *args):
    """Run one check and emit its result; never raises."""
    result = check_result(name, fn, *args)
    emit("result", **result)
    return result["status"]


# ---------------------------------------------------------------------------- helpers


def version_tuple(text):
    parts = []
    for piece in text.split("+")[0].split(".")[:2]:
        digits = ""
        for ch in piece:
            if not ch.isdigit():
                break
            digits += ch
        parts.append(int(digits or 0))
    return tuple(parts)


def static_torch_version():
    """torch's version read from torch/version.py without importing torch (or None)."""
    try:
        spec = importlib.util.find_spec("torch")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        try:
            with open(os.path.join(folder, "version.py"), encoding="utf-8") as fh:
                for line in fh:
                    if line.startswith("__version__"):
                        return line.split("=", 1)[1].strip().strip("'\"")
        except OSError:
            continue
    return None


def setup_caches(cache_dir):
    """Keep inductor's and Triton's caches under torchsetup's cache, one folder per torch."""
    if not cache_dir:
        return
    version = static_torch_version() or "unknown"
    tag = "torch-%s-py%d%d" % (version.replace("+", "_"), sys.version_info[0], sys.version_info[1])
    base = os.path.join(cache_dir, tag)
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", base)
    os.environ.setdefault("TRITON_CACHE_DIR", os.path.join(base, "triton"))
    # Small machines: one compile thread, no worker pool to start (on 2 vCPUs the pool made a
    # cold compile 17 s instead of 7.6 s). Larger ones keep Inductor's pool (on 16 vCPUs it
    # halved the cold compile: 6.6 s against 12.8 s). See docs/benchmarks.md, "verify".
    if (os.cpu_count() or 1) <= 4:
        os.environ.setdefault("TORCHINDUCTOR_COMPILE_THREADS", "1")


def rel_err(torch, got, ref):
    """Relative Frobenius-norm error of ``got`` against ``ref`` (both moved to CPU float64)."""
    got = got.detach().to("cpu", torch.float64)
    ref = ref.detach().to("cpu", torch.float64)
    denom = ref.norm().item() or 1.0
    return (got - ref).norm().item() / denom


def within(name, err, tol):
    if not (err <= tol):  # also catches NaN
        raise AssertionError(
            "%s: relative error %.3g exceeds the tolerance %.3g" % (name, err, tol)
        )


def sync(torch, device):
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)
    elif device.startswith("xpu"):
        torch.xpu.synchronize(device)
    elif device == "mps":
        torch.mps.synchronize()


def xpu_bf16(torch):
    """Whether the Intel GPU does bf16 (torch.xpu.is_bf16_supported, torch >= 2.5)."""
    check = getattr(torch.xpu, "is_bf16_supported", None)
    return bool(check()) if check else True


def generator(torch, seed=1234):
    return torch.Generator().manual_seed(seed)


def leaf(tensor, device, dtype=None):
    """A fresh leaf that requires grad (.to() may return ``tensor`` itself: never mark that)."""
    return tensor.to(device, dtype).detach().requires_grad_()


def autocast(torch, device, dtype):
    return torch.autocast(device_type=device.split(":")[0], dtype=dtype)


def gib(n):
    return "%.1f GiB" % (n / 2.0**30)


# ---------------------------------------------------------------------------- import / facts


def check_import(state):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        import torch
    caught = [first_line(w.message) for w in seen]
    state["torch"] = torch
    data = {"version": str(torch.__version__), "file": torch.__file__, "warnings": caught[:5]}
    detail = "torch %s" % torch.__version__
    if caught:
        detail += "; warning: %s" % caught[0]
    return detail, data


def arch_flags(torch):
    """The build's GPU arch list, read without initialising CUDA where torch allows it."""
    getter = getattr(torch._C, "_cuda_getArchFlags", None)
    flags = getter() if getter is not None else None
    return flags.split() if flags else list(torch.cuda.get_arch_list())


def nccl_version(torch):
    """NCCL's version, or None where the build has none (Windows, macOS)."""
    try:
        found = torch.cuda.nccl.version()
    except Exception:
        return None
    return ".".join(str(p) for p in found) if isinstance(found, (tuple, list)) else str(found)


def check_build(state):
    torch = state["torch"]
    version = torch.version
    facts = {
        "version": str(torch.__version__),
        "cuda": getattr(version, "cuda", None),
        "hip": getattr(version, "hip", None),
        "xpu": getattr(version, "xpu", None),
        "git": getattr(version, "git_version", None),
        "debug": bool(getattr(version, "debug", False)),
        "file": torch.__file__,
        "python": platform.python_version(),
        "platform": sys.platform,
        "machine": platform.machine(),
    }
    numpy = sys.modules.get("numpy")
    facts["numpy"] = getattr(numpy, "__version__", None)  # torch imported it, if installed
    facts["arch_list"] = arch_flags(torch)
    facts["nccl"] = nccl_version(torch) if facts["cuda"] or facts["hip"] else None
    facts["cudnn"] = None
    state["facts"] = facts
    if facts["cuda"] or facts["hip"]:
        try:
            facts["cudnn"] = torch.backends.cudnn.version()
        except Exception as exc:  # e.g. a system cuDNN shadowing the wheel's (failure #7)
            raise Failed(
                "cuDNN: " + first_line(error_text(exc)), {"torch": facts, "error": error_text(exc)}
            )
    accel = (
        "CUDA %s" % facts["cuda"]
        if facts["cuda"]
        else ("ROCm %s" % facts["hip"] if facts["hip"] else "CPU build")
    )
    extras = []
    if facts["cudnn"]:
        extras.append("cuDNN %s" % facts["cudnn"])
    if facts["nccl"]:
        extras.append("NCCL %s" % facts["nccl"])
    detail = ", ".join([accel] + extras)
    return detail, {"torch": facts}


def cuda_devices(torch):
    devices = []
    hip = getattr(torch.version, "hip", None)
    for index in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(index)
        devices.append(
            {
                "name": "cuda:%d" % index,
                "kind": "rocm" if hip else "cuda",
                "model": props.name,
                "capability": [props.major, props.minor],
                "gcn_arch": getattr(props, "gcnArchName", None) if hip else None,
                "total_memory": int(props.total_memory),
            }
        )
    return devices


def xpu_devices(torch):
    """Intel GPUs through torch.xpu (the XPU build)."""
    xpu = getattr(torch, "xpu", None)
    if xpu is None or not xpu.is_available():
        return []
    devices = []
    for index in range(xpu.device_count()):
        props = xpu.get_device_properties(index)
        devices.append(
            {
                "name": "xpu:%d" % index,
                "kind": "xpu",
                "model": getattr(props, "name", "Intel GPU"),
                "capability": None,
                "gcn_arch": None,
                "total_memory": int(getattr(props, "total_memory", 0)) or None,
            }
        )
    return devices


def mps_devices(torch):
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return [
            {
                "name": "mps",
                "kind": "mps",
                "model": "Apple MPS",
                "capability": None,
                "gcn_arch": None,
                "total_memory": None,
            }
        ]
    return []


def check_gpu(state):
    torch = state["torch"]
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        available = torch.cuda.is_available()
        devices = cuda_devices(torch) if available else []
    devices += xpu_devices(torch)
    devices += mps_devices(torch)
    state["devices"] = [d["name"] for d in devices]
    mps = getattr(torch.backends, "mps", None)
    data = {
        "cuda_available": bool(available),
        "devices": devices,
        "warnings": [first_line(w.message) for w in seen][:5],
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "hip_visible_devices": os.environ.get("HIP_VISIBLE_DEVICES"),
        "xpu_available": any(d["kind"] == "xpu" for d in devices),
        "mps_built": bool(mps is not None and mps.is_built()),
    }
    if devices:
        detail = ", ".join("%s %s" % (d["name"], d["model"]) for d in devices)
    else:
        detail = "no GPU visible to torch"
    return detail, data


# ---------------------------------------------------------------------------- CPU checks


def check_tensor(state, device):
    """Quick mode: one op on the device and the result back on the CPU."""
    torch = state["torch"]
    x = torch.arange(6, dtype=torch.float32, device=device).reshape(2, 3)
    got = (x @ torch.ones(3, device=device)).tolist()
    if got != [3.0, 12.0]:
        raise AssertionError("arange(6).reshape(2,3) @ ones(3) gave %r, expected [3, 12]" % got)
    return "matmul round trip on %s" % device, {}


def check_cpu_math(state):
    torch = state["torch"]
    g = generator(torch)
    a = torch.randn(256, 256, generator=g)
    b = torch.randn(256, 256, generator=g)
    err = rel_err(torch, a @ b, a.double() @ b.double())
    within("fp32 matmul", err, 1e-5)
    x = torch.linspace(-3, 3, 1001)
    expected = sum(math.exp(-v * v) for v in x.double().tolist())
    got = torch.exp(-x * x).sum().item()
    if abs(got - expected) > 1e-4 * expected:
        raise AssertionError("sum(exp(-x^2)) = %r, expected %r" % (got, expected))
    return "fp32 matmul rel. err %.1e vs float64; exp/sum ok" % err, {"matmul_rel_err": err}


def check_cpu_autograd(state):
    torch = state["torch"]
    x = torch.linspace(-2, 2, 101, dtype=torch.float64, requires_grad=True)
    (torch.sin(x) * x**2).sum().backward()
    xd = x.detach()
    analytic = torch.cos(xd) * xd**2 + 2 * xd * torch.sin(xd)
    err = (x.grad - analytic).abs().max().item()
    if not err <= 1e-10:
        raise AssertionError(
            "d/dx sum(sin(x) x^2) differs from the analytic gradient by %.3g" % err
        )
    return "gradient of sin(x)*x^2 matches the analytic one (max err %.1e)" % err, {"max_err": err}


# ---------------------------------------------------------------------------- accelerator checks

MATMUL_TOL = {"fp32": 1e-5, "tf32": 1e-2, "bf16": 3e-2, "fp16": 5e-3}


def matmul_variants(torch, device):
    """(label, matmul precision, autocast dtype) per precision worth checking on ``device``."""
    if device == "mps":
        return [("fp32", None, None), ("fp16", None, torch.float16)]
    if device.startswith("xpu"):
        variants = [("fp32", "highest", None)]
        if xpu_bf16(torch):
            variants.append(("bf16", "highest", torch.bfloat16))
        return variants + [("fp16", "highest", torch.float16)]
    variants = [("fp32", "highest", None), ("tf32", "high", None)]
    if torch.cuda.is_bf16_supported():
        variants.append(("bf16", "highest", torch.bfloat16))
    variants.append(("fp16", "highest", torch.float16))
    return variants


def check_matmul(state, device):
    torch = state["torch"]
    g = generator(torch)
    a = torch.randn(512, 512, generator=g)
    b = torch.randn(512, 512, generator=g)
    ref = a.double() @ b.double()
    ad, bd = a.to(device), b.to(device)
    before = torch.get_float32_matmul_precision()
    results, parts = {}, []
    try:
        for label, precision, dtype in matmul_variants(torch, device):
            if precision:
                torch.set_float32_matmul_precision(precision)
            if dtype is None:
                out = ad @ bd
            elif device == "mps":
                out = ad.to(dtype) @ bd.to(dtype)
            else:
                with autocast(torch, device, dtype):
                    out = ad @ bd
            sync(torch, device)
            err = rel_err(torch, out, ref)
            results[label] = {"rel_err": err, "tol": MATMUL_TOL[label]}
            parts.append("%s %.1e" % (label, err))
            within("%s matmul on %s" % (label, device), err, MATMUL_TOL[label])
    finally:
        torch.set_float32_matmul_precision(before)
    return "rel. err vs float64: " + ", ".join(parts), {"matmul": results}


def loaded_libraries(names):
    """Which file each of these shared libraries was loaded from (Linux only)."""
    found = {}
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                path = line.split()[-1] if "/" in line else ""
                base = os.path.basename(path)
                for name in names:
                    if base.startswith(name + ".") and name not in found:
                        found[name] = path
    except OSError:
        pass
    return found


def cudnn_tf32(torch, device):
    """Whether cuDNN may use TF32 for this convolution (then the tolerance is TF32's)."""
    if device == "mps" or device.startswith("xpu"):
        return False
    try:
        return bool(torch.backends.cudnn.allow_tf32)
    except Exception:  # newer torch refuses the legacy flag once the new API was used
        return True


def check_conv(state, device):
    torch = state["torch"]
    F = torch.nn.functional
    g = generator(torch)
    x = torch.randn(4, 8, 32, 32, generator=g, dtype=torch.float64)
    w = torch.randn(16, 8, 3, 3, generator=g, dtype=torch.float64) * 0.1
    grad_out = torch.randn(4, 16, 32, 32, generator=g, dtype=torch.float64)

    def forward_backward(dev, dtype):
        xi, wi = leaf(x, dev, dtype), leaf(w, dev, dtype)
        y = F.conv2d(xi, wi, padding=1)
        y.backward(grad_out.to(dev, dtype))
        return y, xi.grad, wi.grad

    ref = forward_backward("cpu", torch.float64)
    got = forward_backward(device, torch.float32)
    sync(torch, device)
    tf32 = cudnn_tf32(torch, device)
    tol = 1e-2 if tf32 else 1e-4
    errs = {}
    for label, g_, r in zip(("forward", "grad_input", "grad_weight"), got, ref):
        errs[label] = rel_err(torch, g_, r)
        within("conv2d %s on %s" % (label, device), errs[label], tol)
    library = (
        "MPS"
        if device == "mps"
        else "oneDNN"
        if device.startswith("xpu")
        else ("MIOpen" if torch.version.hip else "cuDNN %s" % torch.backends.cudnn.version())
    )
    data = {
        "rel_err": errs,
        "tol": tol,
        "tf32": tf32,
        "libraries": loaded_libraries(
            ("libcudnn", "libcublas", "libcublasLt", "libcudart", "libMIOpen")
        ),
    }
    return "%s conv2d forward+backward match float64 CPU (max rel. err %.1e)" % (
        library,
        max(errs.values()),
    ), data


ALLOC_BYTES = 256 * 2**20


def memory_info(torch, device):
    if device == "mps":
        total = getattr(torch.mps, "recommended_max_memory", None)
        return None, (total() if total else None)
    if device.startswith("xpu"):
        info = getattr(torch.xpu, "mem_get_info", None)  # torch >= 2.6
        if info is not None:
            return info(device)
        props = torch.xpu.get_device_properties(device)
        return None, int(getattr(props, "total_memory", 0)) or None
    free, total = torch.cuda.mem_get_info(device)
    return free, total


def check_memory(state, device):
    torch = state["torch"]
    free, total = memory_info(torch, device)
    if free is not None and free < ALLOC_BYTES:
        raise AssertionError(
            "only %s free of %s on %s (another process holds the memory?)"
            % (gib(free), gib(total), device)
        )
    block = torch.ones(ALLOC_BYTES, dtype=torch.uint8, device=device)
    count = int(block.sum(dtype=torch.int64).item())
    del block
    if count != ALLOC_BYTES:
        raise AssertionError("256 MiB of ones summed to %d" % count)
    detail = "allocated and summed 256 MiB"
    if total:
        detail += (
            "; %s free of %s" % (gib(free), gib(total))
            if free is not None
            else ("; %s usable" % gib(total))
        )
    return detail, {"free": free, "total": total, "allocated": ALLOC_BYTES}


# ---------------------------------------------------------------------------- torch.compile


def cxx_compiler():
    """The C++ compiler inductor will use on the CPU, or None (how it picks: config.cpp.cxx)."""
    if sys.platform == "win32":
        names = [os.environ.get("CXX") or "cl"]
    else:
        names = [os.environ.get("CXX") or ("clang++" if sys.platform == "darwin" else "g++")]
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


CXX_FIX = {
    "linux": "apt install g++ (Debian/Ubuntu) or dnf install gcc-c++ (Fedora/RHEL)",
    "darwin": "xcode-select --install",
    "win32": "install the Visual Studio Build Tools (C++ workload) and run from a developer prompt",
}


def dynamo_floor(table, py):
    """The first torch (major, minor) whose torch.compile supports Python ``py``, from the table
    torchsetup passes with --dynamo-min-torch (matrix.json facts.dynamo: {"floors": {python:
    torch, ...}, "older": torch}); None: not known (torch's own is_dynamo_supported() decides)."""
    floors = (table or {}).get("floors") or {}
    key = "%d.%d" % py
    if key in floors:
        return version_tuple(floors[key])
    known = sorted(version_tuple(k) for k in floors)
    if known and py < known[0] and table.get("older"):
        return version_tuple(table["older"])
    return None


def compile_precheck(torch, device, backend, dynamo=None):
    if backend == "off":
        raise NotRun("disabled (--compile off)")
    py = sys.version_info[:2]
    need = dynamo_floor(dynamo, py)
    if need and version_tuple(torch.__version__) < need:
        raise NotRun(
            "torch %s's torch.compile does not support Python %d.%d (needs torch >= %d.%d)"
            % ((torch.__version__,) + py + need)
        )
    if backend != "inductor":
        return
    if device == "cpu":
        if cxx_compiler() is None:
            wanted = os.environ.get("CXX") or "a C++ compiler"
            raise RuntimeError(
                "InvalidCxxCompiler: no C++ compiler found (%s is not on PATH); "
                "torch.compile on the CPU needs one: %s"
                % (wanted, CXX_FIX.get(sys.platform, CXX_FIX["linux"]))
            )
    elif device == "mps":
        raise NotRun("inductor on MPS is experimental; not checked")
    elif importlib.util.find_spec("triton") is None:
        if sys.platform == "win32":
            raise NotRun(
                "triton is not installed (Windows): pip install triton-windows, "
                "or check with --compile aot_eager"
            )
        raise RuntimeError(
            "TritonMissing: the triton package is not installed; torch.compile "
            "on the GPU needs the triton that torch pins"
        )


def compiled_probe(torch):
    F = torch.nn.functional

    def probe(x, w, b):
        y = x @ w + b
        return (F.gelu(y) * torch.sigmoid(y)).sum()

    return probe


def cache_counters(torch):
    try:
        from torch._dynamo.utils import counters
    except Exception:
        return {}
    keys = ("fxgraph_cache_hit", "fxgraph_cache_miss")
    return {k: int(counters["inductor"].get(k, 0)) for k in keys}


def check_compile(state, device):
    torch = state["torch"]
    backend = state["args"].compile
    compile_precheck(torch, device, backend, state["args"].dynamo_min_torch)
    import torch._dynamo

    if hasattr(torch._dynamo, "is_dynamo_supported") and not torch._dynamo.is_dynamo_supported():
        raise NotRun(
            "torch %s's Dynamo does not support this Python (%s)"
            % (torch.__version__, platform.python_version())
        )
    torch._dynamo.reset()
    g = generator(torch)
    x = torch.randn(64, 32, generator=g).to(device)
    w0 = torch.randn(32, 32, generator=g) * 0.2
    b0 = torch.randn(32, generator=g)
    probe = compiled_probe(torch)

    def run(fn):
        w, b = leaf(w0, device), leaf(b0, device)
        out = fn(x, w, b)
        out.backward()
        sync(torch, device)
        return out, w.grad, b.grad

    eager = run(probe)
    compiled_fn = torch.compile(probe, backend=backend, fullgraph=True)
    started = time.perf_counter()
    got = run(compiled_fn)
    compile_s = time.perf_counter() - started
    errs = {}
    for label, g_, e in zip(("output", "grad_w", "grad_b"), got, eager):
        errs[label] = rel_err(torch, g_, e)
        within("compiled %s vs eager on %s" % (label, device), errs[label], 1e-3)
    data = {
        "backend": backend,
        "compile_seconds": compile_s,
        "rel_err": errs,
        "cache_dir": os.environ.get("TORCHINDUCTOR_CACHE_DIR"),
    }
    data.update(cache_counters(torch))
    cache = ""
    if backend == "inductor" and (data.get("fxgraph_cache_hit") or data.get("fxgraph_cache_miss")):
        cache = ", cache %s" % ("hit" if data.get("fxgraph_cache_hit") else "miss")
    return "%s forward+backward match eager; compiled in %.1f s%s" % (
        backend,
        compile_s,
        cache,
    ), data


# ---------------------------------------------------------------------------- training step

GPT = {"vocab": 256, "dim": 64, "layers": 2, "heads": 4, "context": 32, "batch": 16}


def build_gpt(torch):
    """A tiny GPT-style causal language model over bytes, in plain torch."""
    nn = torch.nn
    F = torch.nn.functional
    dim, heads = GPT["dim"], GPT["heads"]

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1 = nn.LayerNorm(dim)
            self.qkv = nn.Linear(dim, 3 * dim)
            self.proj = nn.Linear(dim, dim)
            self.ln2 = nn.LayerNorm(dim)
            self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

        def forward(self, x):
            n, t, c = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
            q, k, v = (z.view(n, t, heads, c // heads).transpose(1, 2) for z in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(y.transpose(1, 2).reshape(n, t, c))
            return x + self.mlp(self.ln2(x))

    class TinyGPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(GPT["vocab"], dim)
            self.pos = nn.Embedding(GPT["context"], dim)
            self.blocks = nn.ModuleList([Block() for _ in range(GPT["layers"])])
            self.ln = nn.LayerNorm(dim)
            self.head = nn.Linear(dim, GPT["vocab"], bias=False)

        def forward(self, idx):
            t = idx.shape[1]
            x = self.tok(idx) + self.pos(torch.arange(t, device=idx.device))
            for block in self.blocks:
                x = block(x)
            return self.head(self.ln(x))

    return TinyGPT()


def token_batch(torch, g, batch):
    """Byte sequences with learnable structure: each next byte is (5 * byte + 7) mod 256."""
    context = GPT["context"] + 1
    seq = torch.randint(0, GPT["vocab"], (batch, 1), generator=g).expand(batch, context).clone()
    for i in range(1, context):
        seq[:, i] = (seq[:, i - 1] * 5 + 7) % GPT["vocab"]
    return seq[:, :-1], seq[:, 1:]


def precision_for(torch, device):
    """(autocast dtype or None, use a GradScaler, label) for training on ``device``."""
    if device.startswith("cuda"):
        if torch.cuda.is_bf16_supported():
            return torch.bfloat16, False, "bf16 autocast"
        return torch.float16, True, "fp16 autocast + GradScaler"
    if device.startswith("xpu") and xpu_bf16(torch):
        return torch.bfloat16, False, "bf16 autocast"
    return None, False, "fp32"


def grad_scaler(torch):
    amp = getattr(torch, "amp", None)
    if amp is not None and hasattr(amp, "GradScaler"):
        return amp.GradScaler("cuda")
    return torch.cuda.amp.GradScaler()


def peak_memory(torch, device):
    if device.startswith("cuda"):
        return int(torch.cuda.max_memory_allocated(device)), "peak allocated"
    if device.startswith("xpu") and hasattr(torch.xpu, "max_memory_allocated"):
        return int(torch.xpu.max_memory_allocated(device)), "peak allocated"
    if device == "mps":
        allocated = getattr(torch.mps, "driver_allocated_memory", None)  # torch >= 2.1
        return (int(allocated()) if allocated else None), "driver allocated"
    try:
        import resource
    except ImportError:
        return None, "peak RSS"
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024), "peak RSS"


def check_train(state, device):
    torch = state["torch"]
    args = state["args"]
    torch.manual_seed(0)
    g = generator(torch, 7)
    model = build_gpt(torch).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.0)
    dtype, use_scaler, label = precision_for(torch, device)
    scaler = grad_scaler(torch) if use_scaler else None
    step_model = model
    if args.compile_train and args.compile != "off":
        step_model = torch.compile(model, backend=args.compile)
        label += ", compiled (%s)" % args.compile
    eval_x, eval_y = (t.to(device) for t in token_batch(torch, g, 64))
    batches = [
        tuple(t.to(device) for t in token_batch(torch, g, GPT["batch"]))
        for _ in range(args.train_steps)
    ]

    def loss_of(m, x, y):
        if dtype is None:
            logits = m(x)
        else:
            with autocast(torch, device, dtype):
                logits = m(x)
        return torch.nn.functional.cross_entropy(
            logits.float().reshape(-1, GPT["vocab"]), y.reshape(-1)
        )

    def evaluate():
        model.eval()
        with torch.no_grad():
            value = loss_of(model, eval_x, eval_y).item()
        model.train()
        return value

    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats(device)
    elif device.startswith("xpu") and hasattr(torch.xpu, "reset_peak_memory_stats"):
        torch.xpu.reset_peak_memory_stats(device)
    initial = evaluate()
    timed_from = None
    for step, (x, y) in enumerate(batches):
        if step == 1:  # step 0 warms up (and compiles): time the rest
            sync(torch, device)
            timed_from = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = loss_of(step_model, x, y)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()
    sync(torch, device)
    elapsed = time.perf_counter() - timed_from
    final = evaluate()
    tokens_per_s = (len(batches) - 1) * GPT["batch"] * GPT["context"] / elapsed
    peak, peak_label = peak_memory(torch, device)
    data = {
        "initial_loss": initial,
        "final_loss": final,
        "steps": len(batches),
        "tokens_per_s": tokens_per_s,
        "peak_memory": peak,
        "peak_memory_kind": peak_label,
        "precision": label,
        "model": dict(GPT),
    }
    if not (final < 0.8 * initial):
        raise AssertionError(
            "loss did not fall: %.3f -> %.3f after %d AdamW steps (%s)"
            % (initial, final, len(batches), label)
        )
    mem = "" if peak is None else ", %s %d MiB" % (peak_label, peak // 2**20)
    return "loss %.2f -> %.2f in %d steps (%s), %.0f tokens/s%s" % (
        initial,
        final,
        len(batches),
        label,
        tokens_per_s,
        mem,
    ), data


# ---------------------------------------------------------------------------- torchvision


def check_torchvision(state):
    torch = state["torch"]
    import torchvision
    from torchvision.ops import nms

    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=torch.float32)
    scores = torch.tensor([0.9, 0.8, 0.7])
    devices = ["cpu"] + [d for d in state["devices"] if d.startswith("cuda")][:1]
    for device in devices:
        keep = nms(boxes.to(device), scores.to(device), 0.5).cpu().tolist()
        if keep != [0, 2]:
            raise AssertionError(
                "torchvision.ops.nms on %s kept %r, expected [0, 2]" % (device, keep)
            )
    return "torchvision %s: ops.nms ok on %s" % (torchvision.__version__, ", ".join(devices)), {
        "version": torchvision.__version__
    }


# ---------------------------------------------------------------------------- the plan


def make_plan(args, devices):
    """[(name, function, extra args)] in the order they run."""
    if args.mode == "quick":
        return [(d + ".tensor", check_tensor, (d,)) for d in ["cpu"] + devices]
    plan = [("cpu.math", check_cpu_math, ()), ("cpu.autograd", check_cpu_autograd, ())]
    for d in devices:
        plan += [
            (d + ".matmul", check_matmul, (d,)),
            (d + ".conv", check_conv, (d,)),
            (d + ".memory", check_memory, (d,)),
        ]
    if importlib.util.find_spec("torchvision") is not None:
        plan.append(("torchvision", check_torchvision, ()))
    plan += [(d + ".compile", check_compile, (d,)) for d in ["cpu"] + devices]
    train_on = devices[0] if devices else "cpu"
    plan.append((train_on + ".train", check_train, (train_on,)))
    return plan


def main_checks(args):
    setup_caches(args.cache_dir)
    state = {"args": args, "devices": []}
    emit(
        "hello",
        protocol=PROTOCOL,
        python=platform.python_version(),
        executable=sys.executable,
        pid=os.getpid(),
    )
    if run_check("import", check_import, state) != "pass":
        return
    if run_check("build", check_build, state) != "pass" and "facts" not in state:
        return  # nothing known about this torch: the runner marks the rest "not run"
    run_check("gpu", check_gpu, state)
    plan = [
        step
        for step in make_plan(args, state["devices"])
        if step[0] not in args.skip and (not args.only or step[0] in args.only)
    ]
    emit("plan", checks=[name for name, _, _ in plan])
    for name, fn, extra in plan:
        run_check(name, fn, state, *extra)


# ---------------------------------------------------------------------------- distributed worker
#
# One rank of a distributed check, started by torchrun, by srun or by any launcher that sets
# RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT. Every rank checks its own device, joins the
# process group, runs four collectives against exact expected values (with --bandwidth it
# also times all_reduce) and puts its record into the job's key-value store. Rank 0 collects
# every rank's record until the deadline, prints them all in one "gathered" event naming the
# ranks that never reported, and stores the verdict; the other ranks print that verdict. A
# watchdog reports whatever is known at the deadline, so a lost node makes every survivor
# exit naming the missing rank(s) instead of hanging in a collective.

STORE_PREFIX = "torchsetup-verify/"


def exit_when_orphaned(parent):
    """Leave if the launcher dies: torchrun starts workers in their own sessions."""
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(3)


def pick_backend(torch, wanted, local_world):
    """(backend, why) for this node: NCCL needs one GPU per local rank."""
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    nccl_ok = torch.distributed.is_nccl_available() and gpus >= local_world
    if wanted == "nccl" or (wanted == "auto" and nccl_ok):
        return "nccl", "%d GPU(s) for %d local rank(s)" % (gpus, local_world)
    if wanted == "gloo":
        return "gloo", "asked for gloo"
    if gpus:
        return "gloo", "NCCL needs one GPU per rank: %d GPU(s) for %d local ranks, so gloo" % (
            gpus,
            local_world,
        )
    return "gloo", "no GPU: gloo on the CPU"


def rank_identity(environ):
    """Who this rank is, from the launcher's variables (torchrun's, or Slurm's mapped)."""
    return {
        "rank": int(environ["RANK"]),
        "world_size": int(environ["WORLD_SIZE"]),
        "local_rank": int(environ.get("LOCAL_RANK") or 0),
        "local_world_size": int(environ.get("LOCAL_WORLD_SIZE") or 1),
        "node": int(environ.get("GROUP_RANK") or environ.get("SLURM_NODEID") or 0),
        "host": platform.node(),
    }


def store_prefix(environ):
    """Keys of this run only: the launcher's run id and restart count, or the Slurm step."""
    run = environ.get("TORCHELASTIC_RUN_ID") or "%s.%s" % (
        environ.get("SLURM_JOB_ID", "job"),
        environ.get("SLURM_STEP_ID", "0"),
    )
    return "%s%s/%s/" % (STORE_PREFIX, run, environ.get("TORCHELASTIC_RESTART_COUNT", "0"))


def expect_equal(what, got, expected):
    if got != expected:
        raise AssertionError("%s gave %r, expected %r" % (what, got, expected))


def all_reduce_check(ctx):
    torch, dist, ident = ctx["torch"], ctx["dist"], ctx["ident"]
    world = ident["world_size"]
    value = torch.full((4,), float(ident["rank"] + 1), device=ctx["device"])
    dist.all_reduce(value)
    expected = float(world * (world + 1) // 2)  # ranks send 1..world
    expect_equal("all_reduce(sum)", value.cpu().tolist(), [expected] * 4)
    return "sum of 1..%d = %g" % (world, expected), {"expected": expected}


def all_gather_check(ctx):
    torch, dist, ident = ctx["torch"], ctx["dist"], ctx["ident"]
    world = ident["world_size"]
    mine = torch.full((2,), float(ident["rank"] * 10 + 1), device=ctx["device"])
    out = [torch.zeros_like(mine) for _ in range(world)]
    dist.all_gather(out, mine)
    got = [t.cpu().tolist() for t in out]
    expect_equal("all_gather", got, [[float(r * 10 + 1)] * 2 for r in range(world)])
    return "every rank's tensor in rank order (%d ranks)" % world, {}


def broadcast_check(ctx):
    torch, dist, ident = ctx["torch"], ctx["dist"], ctx["ident"]
    expected = [float(ident["world_size"] * 100 + i) for i in range(4)]
    if ident["rank"] == 0:
        value = torch.tensor(expected, device=ctx["device"])
    else:
        value = torch.zeros(4, device=ctx["device"])
    dist.broadcast(value, src=0)
    expect_equal("broadcast from rank 0", value.cpu().tolist(), expected)
    return "rank 0's tensor arrived", {}


def barrier_check(ctx):
    dist = ctx["dist"]
    if ctx["backend"] == "gloo" and hasattr(dist, "monitored_barrier"):
        # gloo's monitored barrier names the ranks that did not arrive.
        dist.monitored_barrier(timeout=ctx["timedelta"], wait_all_ranks=True)
        return "monitored_barrier: every rank arrived", {}
    dist.barrier()
    return "barrier: every rank arrived", {}


COLLECTIVES = (
    ("all_reduce", all_reduce_check),
    ("all_gather", all_gather_check),
    ("broadcast", broadcast_check),
    ("barrier", barrier_check),
)


def bandwidth_sizes(max_bytes):
    """Message sizes, x4 apart, from 256 KiB up to max_bytes (nccl-tests style sweep)."""
    sizes, size = [], 256 * 1024
    while size <= max_bytes:
        sizes.append(size)
        size *= 4
    return sizes or [max_bytes]


def time_all_reduce(ctx, group, members, size):
    """Seconds one all_reduce of ``size`` bytes takes in ``group`` (slowest rank's mean)."""
    torch, dist, device = ctx["torch"], ctx["dist"], ctx["device"]
    buf = torch.ones(max(size // 4, 1), dtype=torch.float32, device=device)
    iters = max(3, min(20, (256 * 2**20) // size))
    for _ in range(2):
        dist.all_reduce(buf, group=group)
    sync(torch, device)
    dist.barrier(group=group)
    started = time.perf_counter()
    for _ in range(iters):
        dist.all_reduce(buf, group=group)
    sync(torch, device)
    mean = torch.tensor([(time.perf_counter() - started) / iters], device=device)
    dist.all_reduce(mean, op=dist.ReduceOp.MAX, group=group)
    return float(mean.item()), iters


def bandwidth_check(ctx):
    """all_reduce bus bandwidth (nccl-tests: algbw * 2(n-1)/n) within and across nodes."""
    torch, dist, ident = ctx["torch"], ctx["dist"], ctx["ident"]
    world = ident["world_size"]
    nodes = torch.full((1,), float(ident["node"]), device=ctx["device"])
    gathered = [torch.zeros_like(nodes) for _ in range(world)]
    dist.all_gather(gathered, nodes)
    node_of = [int(t.item()) for t in gathered]
    scopes = []
    if len(set(node_of)) > 1:
        scopes.append(("inter-node", None, list(range(world))))
        for node in sorted(set(node_of)):
            members = [r for r in range(world) if node_of[r] == node]
            group = dist.new_group(members)  # every rank creates every group, in order
            if ident["node"] == node and len(members) > 1:
                scopes.append(("intra-node", group, members))
    else:
        scopes.append(("intra-node", None, list(range(world))))
    rows = []
    for scope, group, members in scopes:
        n = len(members)
        for size in bandwidth_sizes(ctx["bandwidth_max"]):
            seconds, iters = time_all_reduce(ctx, group, members, size)
            algbw = size / seconds / 1e9 if seconds > 0 else 0.0
            rows.append(
                {
                    "scope": scope,
                    "backend": ctx["backend"],
                    "node": ident["node"] if scope == "intra-node" else None,
                    "ranks": n,
                    "bytes": size,
                    "iters": iters,
                    "seconds": seconds,
                    "algbw_gbps": algbw,
                    "busbw_gbps": algbw * 2 * (n - 1) / n if n > 1 else 0.0,
                }
            )
    ctx["rep"].bandwidth = rows
    best = max(rows, key=lambda r: r["busbw_gbps"])
    return "peak busbw %.2f GB/s (%s, %d ranks, %d MiB)" % (
        best["busbw_gbps"],
        best["scope"],
        best["ranks"],
        best["bytes"] // 2**20,
    ), {"sizes": len(rows)}


class RankReport:
    """This rank's record, reported once: by the main thread, or by the watchdog when the
    deadline comes first (a rank lost, a collective stuck)."""

    def __init__(self, ident, timeout):
        self.ident = ident
        self.timeout = timeout
        self.started = time.monotonic()
        self.checks = []
        self.bandwidth = []
        self.device = "cpu"
        self.backend = None
        self.why = None
        self.doing = "importing torch"
        self.store = None
        self.lock = threading.Lock()
        self.reported = False
        self.ok = False
        self.exit_code = 1  # 0 once this rank passed and the verdict says all passed

    def at(self, fraction):
        return self.started + self.timeout * fraction

    def check(self, name, fn, *args):
        self.doing = "running %s" % name
        result = check_result(name, fn, *args)
        self.checks.append(result)
        return result["status"]

    def record(self):
        rec = dict(self.ident)
        rec.update(
            device=self.device,
            backend=self.backend,
            why=self.why,
            checks=list(self.checks),
            bandwidth=list(self.bandwidth),
        )
        rec["ok"] = not any(c["status"] == "fail" for c in self.checks)
        return rec

    def finish(self, stuck=False):
        """Report this rank (and, on rank 0, everyone); False if already reported."""
        with self.lock:
            if self.reported:
                return False
            self.reported = True
        if stuck:
            self.checks.append(
                {
                    "name": "deadline",
                    "status": "fail",
                    "seconds": round(time.monotonic() - self.started, 4),
                    "detail": "rank %d: still %s at the deadline (%g s)"
                    % (self.ident["rank"], self.doing, self.timeout),
                    "data": {},
                }
            )
        rec = self.record()
        emit("rank", record=rec)
        self.ok = rec["ok"]
        if self.store is None:
            return True
        rank = self.ident["rank"]
        try:
            self.store.set("result/%d" % rank, json.dumps(rec, default=str))
        except Exception as exc:
            emit("lost", rank=rank, error=error_text(exc))
            return True
        grace = min(5.0, self.timeout * 0.08)
        if rank == 0:
            self.collect(rec, time.monotonic() + grace if stuck else self.at(0.88))
        else:
            self.await_verdict(time.monotonic() + 2 * grace if stuck else self.at(0.96))
        return True

    def collect(self, mine, until):
        """Rank 0: every rank's record, waiting for them until ``until``; then the verdict."""
        world = self.ident["world_size"]
        records = {0: mine}
        while len(records) < world:
            for r in range(1, world):
                if r not in records and self.store.check(["result/%d" % r]):
                    records[r] = json.loads(self.store.get("result/%d" % r).decode())
            if len(records) == world or time.monotonic() >= until:
                break
            time.sleep(0.05)
        missing = [r for r in range(world) if r not in records]
        joined = [r for r in missing if self.store.check(["arrived/%d" % r])]
        failed = [r for r in sorted(records) if not records[r].get("ok")]
        verdict = {
            "ok": not missing and not failed,
            "world_size": world,
            "failed": failed,
            "missing": missing,
            "joined_but_silent": joined,
            "failures": {str(r): first_failure(records[r]) for r in failed},
        }
        emit("gathered", records=[records[r] for r in sorted(records)], verdict=verdict)
        self.exit_code = 0 if verdict["ok"] else 1
        self.store.set("verdict", json.dumps(verdict))
        # The store may live in this process (a job without torchrun's agent): stay until
        # every rank that reported has read the verdict.
        deadline = time.monotonic() + min(5.0, self.timeout * 0.05)
        pending = [r for r in sorted(records) if r != 0]
        while pending and time.monotonic() < deadline:
            pending = [r for r in pending if not self.store.check(["ack/%d" % r])]
            time.sleep(0.05)

    def await_verdict(self, until):
        while True:
            try:
                if self.store.check(["verdict"]):
                    verdict = json.loads(self.store.get("verdict").decode())
                    emit("verdict", verdict=verdict)
                    self.exit_code = 0 if verdict.get("ok") and self.ok else 1
                    self.store.set("ack/%d" % self.ident["rank"], "1")
                    return
            except Exception as exc:
                emit("verdict", verdict=None, error="the job's store is gone: " + error_text(exc))
                return
            if time.monotonic() >= until:
                emit("verdict", verdict=None, error="rank 0 gave no verdict within the deadline")
                return
            time.sleep(0.05)


def first_failure(record):
    """ "check: detail" of a rank's first failed check (what the other nodes are told)."""
    for check in record.get("checks") or ():
        if check.get("status") == "fail":
            return "%s: %s" % (check.get("name"), check.get("detail"))
    return "failed"


def watchdog(rep):
    while time.monotonic() < rep.at(0.8):
        time.sleep(0.1)
    if rep.finish(stuck=True):
        sys.stdout.flush()
        os._exit(4)


def make_store(ident, timeout):
    """A client of the job's store (torchrun's agent holds it), or the store itself on rank 0
    of a job without an agent (srun): our keys live there under this run's prefix."""
    import datetime

    import torch.distributed as dist

    agent = os.environ.get("TORCHELASTIC_USE_AGENT_STORE", "").lower() == "true"
    store = dist.TCPStore(
        os.environ["MASTER_ADDR"],
        int(os.environ["MASTER_PORT"]),
        None if agent else ident["world_size"],
        ident["rank"] == 0 and not agent,
        datetime.timedelta(seconds=timeout),
        wait_for_workers=False,
    )
    return dist.PrefixStore(store_prefix(os.environ), store)


def worker_checks(args, rep):
    import datetime

    import torch
    import torch.distributed as dist

    ident = rep.ident
    rep.backend, rep.why = pick_backend(torch, args.dist_backend, ident["local_world_size"])
    if rep.backend == "nccl":
        rep.device = "cuda:%d" % ident["local_rank"]
        torch.cuda.set_device(ident["local_rank"])
    state = {"torch": torch, "args": args, "devices": []}
    rep.check(rep.device.split(":")[0] + ".tensor", check_tensor, state, rep.device)
    rep.check(rep.device.split(":")[0] + ".matmul", check_matmul, state, rep.device)
    # gloo raises when a collective times out: before the watchdog (0.8), so the error is
    # reported. NCCL's watchdog would abort the process instead: after ours, so it never does.
    share = 0.6 if rep.backend == "gloo" else 1.2
    pg_timeout = datetime.timedelta(seconds=max(rep.timeout * share, 1.0))
    rep.doing = "connecting to the job's store at %s:%s" % (
        os.environ.get("MASTER_ADDR"),
        os.environ.get("MASTER_PORT"),
    )
    store = make_store(ident, rep.timeout * 0.6)
    store.set("arrived/%d" % ident["rank"], ident["host"])
    rep.store = store
    rep.doing = "waiting for every rank to join the process group"
    dist.init_process_group(
        rep.backend,
        store=dist.PrefixStore("pg/", store),
        rank=ident["rank"],
        world_size=ident["world_size"],
        timeout=pg_timeout,
    )
    ctx = {
        "torch": torch,
        "dist": dist,
        "ident": ident,
        "device": rep.device,
        "backend": rep.backend,
        "timedelta": pg_timeout,
        "rep": rep,
        "bandwidth_max": args.bandwidth_max_bytes
        or (2**30 if rep.backend == "nccl" else 16 * 2**20),
    }
    for name, fn in COLLECTIVES:
        if rep.check(name, fn, ctx) == "fail":
            return
    if args.bandwidth:
        rep.check("bandwidth", bandwidth_check, ctx)


def main_worker(args):
    ident = rank_identity(os.environ)
    rep = RankReport(ident, args.dist_timeout)
    for target, extra in ((exit_when_orphaned, (os.getppid(),)), (watchdog, (rep,))):
        threading.Thread(target=target, args=extra, daemon=True).start()
    try:
        worker_checks(args, rep)
    except BaseException as exc:  # the store or the process group failed: report it
        if isinstance(exc, KeyboardInterrupt):
            raise
        rep.checks.append(
            {
                "name": "join",
                "status": "fail",
                "seconds": round(time.monotonic() - rep.started, 4),
                "detail": "rank %d: %s failed: %s"
                % (ident["rank"], rep.doing, first_line(error_text(exc))),
                "data": {"error": error_text(exc)},
            }
        )
    if not rep.finish():
        while True:  # the watchdog is reporting: it ends the process
            time.sleep(1)
    # A failed rank exits non-zero, so torchrun's agent stops at once instead of waiting at
    # its exit barrier for the other nodes.
    sys.stdout.flush()
    os._exit(rep.exit_code)


# ---------------------------------------------------------------------------- entry point


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mode", choices=("quick", "full"), default="quick")
    p.add_argument("--compile", choices=("inductor", "aot_eager", "off"), default="inductor")
    p.add_argument("--compile-train", action="store_true")
    p.add_argument("--train-steps", type=int, default=20)
    p.add_argument("--cache-dir")
    p.add_argument(
        "--dynamo-min-torch",
        type=json.loads,
        default=None,
        help="JSON: the first torch whose torch.compile supports each Python (from torchsetup)",
    )
    p.add_argument("--json-lines", action="store_true", help="the only output format")
    p.add_argument("--skip", action="append", default=[], help="leave out this check")
    p.add_argument("--only", action="append", default=[], help="run only these checks")
    p.add_argument("--worker", action="store_true", help="one rank of a distributed check")
    p.add_argument("--dist-timeout", type=float, default=120.0)
    p.add_argument("--dist-backend", choices=("auto", "gloo", "nccl"), default="auto")
    p.add_argument("--bandwidth", action="store_true", help="worker: also time all_reduce")
    p.add_argument("--bandwidth-max-bytes", type=int, default=0, help="0: 1 GiB NCCL, 16 MiB gloo")
    return p.parse_args(argv)


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))  # run by path, not -I: never import from here
    sys.path[:] = [p for p in sys.path if p and os.path.abspath(p) != here]
    import faulthandler

    faulthandler.enable()  # a segfault leaves a Python traceback in the output tail
    args = parse_args(argv)
    if args.worker:
        main_worker(args)
    else:
        main_checks(args)
        emit("done")
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown (compile workers, CUDA context destruction): all is said.
    os._exit(0)


if __name__ == "__main__":
    main()
