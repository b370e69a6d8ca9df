"""Judging the smoke script's facts (pure): expectations, GPUs, arch lists, fixes.

The smoke script reports what it saw; whether that is good enough here (a GPU required,
an expected torch, CUDA or variant, the GPU's compute capability in the build's arch list)
is decided on torchsetup's side, where it is tested without torch.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Optional

from torchsetup.errors import UsageError
from torchsetup.verify.model import (
    FAIL,
    NOT_RUN,
    PASS,
    CheckResult,
    Device,
    Expectations,
    TorchInfo,
    VerifyOptions,
)

if TYPE_CHECKING:
    from packaging.specifiers import SpecifierSet

_VARIANT = re.compile(r"cpu|cu\d{2,3}|rocm\d+\.\d+(?:\.\d+)?|xpu")
_CUDA_VERSION = re.compile(r"\d+(?:\.\d+)?")

# ---------------------------------------------------------------------------- expectations


def parse_expectations(
    torch: Optional[str] = None, cuda: Optional[str] = None, variant: Optional[str] = None
) -> Expectations:
    """Validated expectations; a malformed one is a UsageError (exit 2, one line)."""
    if torch is not None:
        _specifier(torch)
    if cuda is not None and not _CUDA_VERSION.fullmatch(cuda):
        raise UsageError(f"--expect-cuda {cuda!r}: expected a CUDA version like 12.8 or 13")
    if variant is not None and not _VARIANT.fullmatch(variant):
        raise UsageError(
            f"--expect-variant {variant!r}: expected cpu, cuXYZ (cu118, cu130), rocmX.Y or xpu"
        )
    return Expectations(torch=torch, cuda=cuda, variant=variant)


def _specifier(spec: str) -> SpecifierSet:
    """A packaging SpecifierSet; a bare version "2.11.0" means "==2.11.0"."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    text = spec.strip()
    try:
        Version(text)
        text = f"=={text}"
    except InvalidVersion:
        pass
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        raise UsageError(
            f"--expect-torch {spec!r} is not a version specifier "
            "(PEP 440, e.g. '>=2.4,<3' or '==2.11.0')"
        ) from None


def variant_of(cuda: Optional[str], hip: Optional[str], xpu: Optional[str] = None) -> str:
    """The wheel variant a build's facts mean: cu130, rocm6.2, xpu or cpu."""
    if cuda:
        return "cu" + "".join(cuda.split(".")[:2])
    if hip:
        return "rocm" + ".".join(hip.split(".")[:2])
    if xpu:
        return "xpu"
    return "cpu"


def expectation_checks(info: Optional[TorchInfo], expect: Expectations) -> list[CheckResult]:
    wanted = (
        ("expect.torch", expect.torch),
        ("expect.cuda", expect.cuda),
        ("expect.variant", expect.variant),
    )
    checks = []
    for name, value in wanted:
        if value is None:
            continue
        if info is None:
            checks.append(CheckResult(name, NOT_RUN, detail="torch did not report its build"))
            continue
        ok, detail = _EXPECT[name](info, value)
        checks.append(
            CheckResult(
                name,
                PASS if ok else FAIL,
                detail=detail,
                hint=None if ok else _expect_fix(name, value),
                data={"expected": value},
            )
        )
    return checks


def _expect_fix(name: str, value: str) -> str:
    if name == "expect.torch":
        return f"pip install 'torch{_specifier(value)}' from the index of the variant you want"
    if name == "expect.cuda" and "." not in value:
        return f"install a torch built with CUDA {value}.x (torchsetup install)"
    variant = value if name == "expect.variant" else variant_of(value, None)
    return (
        "reinstall torch from that variant's index: pip install --force-reinstall torch "
        f"--index-url https://download.pytorch.org/whl/{variant}"
    )


def _expect_torch(info: TorchInfo, spec: str) -> tuple[bool, str]:
    from packaging.version import InvalidVersion, Version

    try:
        ok = _specifier(spec).contains(Version(info.version), prereleases=True)
    except InvalidVersion:
        return False, f"torch {info.version} is not a PEP 440 version; cannot check {spec!r}"
    verb = "satisfies" if ok else "does not satisfy"
    return ok, f"torch {info.version} {verb} {spec!r}"


def _expect_cuda(info: TorchInfo, expected: str) -> tuple[bool, str]:
    if not info.cuda:
        kind = f"a ROCm {info.hip} build" if info.hip else "a CPU build"
        return False, f"expected CUDA {expected}, but torch {info.version} is {kind} (no CUDA)"
    have = info.cuda.split(".")
    ok = have[: len(expected.split("."))] == expected.split(".")
    return ok, f"torch {info.version} is built with CUDA {info.cuda} (expected {expected})"


def _expect_variant(info: TorchInfo, expected: str) -> tuple[bool, str]:
    # ROCm: torch.version.hip encodes only major.minor reliably (6.2.4 is HIP 6.2.41134)
    wanted = (
        "rocm" + ".".join(expected[4:].split(".")[:2]) if expected.startswith("rocm") else expected
    )
    ok = info.variant == wanted
    return ok, f"torch {info.version} is a {info.variant} build (expected {expected})"


_EXPECT = {
    "expect.torch": _expect_torch,
    "expect.cuda": _expect_cuda,
    "expect.variant": _expect_variant,
}

# ---------------------------------------------------------------------------- facts


def torch_info(checks: Sequence[CheckResult]) -> Optional[TorchInfo]:
    """TorchInfo from the import/build/gpu results; None when torch did not report."""
    by_name = {c.name: c for c in checks}
    build = by_name.get("build")
    facts = build.data.get("torch") if build else None
    if not isinstance(facts, Mapping) or not isinstance(facts.get("version"), str):
        return None
    gpu = by_name.get("gpu")
    raw_devices = gpu.data.get("devices") if gpu else None
    imported = by_name.get("import")
    return TorchInfo(
        version=facts["version"],
        variant=variant_of(_str(facts, "cuda"), _str(facts, "hip"), _str(facts, "xpu")),
        cuda=_str(facts, "cuda"),
        hip=_str(facts, "hip"),
        cudnn=facts.get("cudnn") if isinstance(facts.get("cudnn"), int) else None,
        nccl=_str(facts, "nccl"),
        arch_list=tuple(a for a in facts.get("arch_list") or () if isinstance(a, str)),
        debug=bool(facts.get("debug")),
        file=_str(facts, "file"),
        python=_str(facts, "python"),
        numpy=_str(facts, "numpy"),
        import_seconds=imported.seconds if imported else None,
        devices=tuple(_device(d) for d in raw_devices or () if isinstance(d, Mapping)),
    )


def _str(facts: Mapping[str, Any], key: str) -> Optional[str]:
    value = facts.get(key)
    return value if isinstance(value, str) else None


def _device(raw: Mapping[str, Any]) -> Device:
    cap = raw.get("capability")
    capability = (int(cap[0]), int(cap[1])) if isinstance(cap, list) and len(cap) == 2 else None
    memory = raw.get("total_memory")
    return Device(
        name=str(raw.get("name", "?")),
        kind=str(raw.get("kind", "cuda")),
        model=str(raw.get("model", "?")),
        capability=capability,
        gcn_arch=_str(raw, "gcn_arch"),
        total_memory=memory if isinstance(memory, int) else None,
    )


# ---------------------------------------------------------------------------- GPUs


def gpu_check(result: CheckResult, info: Optional[TorchInfo], require_gpu: bool) -> CheckResult:
    """Whether the GPU situation is acceptable: no GPU is "not run", or a failure if required."""
    if result.status != PASS or info is None:
        return result
    if info.devices:
        return replace(result, detail=", ".join(_describe(d) for d in info.devices))
    reason = "no GPU: " + _no_gpu_reason(info, result.data)
    if not require_gpu:
        return replace(result, status=NOT_RUN, detail=reason)
    return replace(result, status=FAIL, detail=f"{reason} (--require-gpu)", hint=_no_gpu_fix(info))


def _describe(device: Device) -> str:
    arch = (
        device.gcn_arch.split(":")[0]
        if device.gcn_arch
        else (f"sm_{device.capability[0]}{device.capability[1]}" if device.capability else "")
    )
    memory = f", {device.total_memory / 2**30:.0f} GiB" if device.total_memory else ""
    return f"{device.name} {device.model}" + (f" ({arch}{memory})" if arch or memory else "")


def _no_gpu_reason(info: TorchInfo, data: Mapping[str, Any]) -> str:
    if info.variant == "xpu":
        return (
            f"torch {info.version} is the XPU build, but torch.xpu.is_available() is False "
            "(no Intel GPU it supports, or no Level Zero runtime: torchsetup doctor)"
        )
    if not info.cuda and not info.hip:
        if data.get("mps_built"):
            return "MPS is built but not available (needs macOS 14+ on Apple silicon, arm64 Python)"
        return f"torch {info.version} is a CPU build"
    visible = data.get("cuda_visible_devices")
    if visible is not None:
        return (
            f"torch.cuda.is_available() is False with CUDA_VISIBLE_DEVICES={visible!r} "
            "(it may hide every GPU)"
        )
    warnings = [w for w in data.get("warnings") or () if isinstance(w, str)]
    if warnings:
        return f"torch.cuda.is_available() is False: {warnings[0]}"
    return "torch.cuda.is_available() is False (no GPU or no working driver found)"


def _no_gpu_fix(info: TorchInfo) -> str:
    if not info.cuda and not info.hip:
        return (
            "install a GPU build of torch: torchsetup install (it picks the CUDA variant "
            "for this driver), or pip install torch --index-url "
            "https://download.pytorch.org/whl/cu130"
        )
    return "run torchsetup doctor to see why the GPU is not usable"


def arch_supported(capability: tuple[int, int], arch_list: Sequence[str]) -> Optional[str]:
    """The arch-list entry that runs on this compute capability, or None.

    The matrix's coverage rule (:class:`torchsetup.matrix.model.ArchEntry`, the one the resolver
    and doctor use): SASS ``sm_XY`` runs on the same major with minor >= Y (family ``sm_100f``
    too; ``sm_90a``: exactly 9.0 only); PTX ``compute_XY`` is JIT-compiled for any capability
    >= X.Y.
    """
    from torchsetup.matrix.model import arch_entry_from_name

    runs = []
    for entry in arch_list:
        e = arch_entry_from_name(entry)
        if e is None:
            continue
        sass_ok = e.sass_covers(capability)
        if sass_ok or e.ptx_covers(capability):
            runs.append((sass_ok, e.major, e.minor, entry))
    return max(runs)[3] if runs else None  # the nearest SASS, else the newest PTX


def arch_checks(info: Optional[TorchInfo]) -> list[CheckResult]:
    """One check per GPU: does the build carry kernels for it? (failures #5, #6, #26)"""
    if info is None:
        return []
    return [c for c in (_arch_check(d, info) for d in info.devices) if c is not None]


def _arch_check(device: Device, info: TorchInfo) -> Optional[CheckResult]:
    name = f"{device.name}.arch"
    listed = " ".join(info.arch_list)
    if device.kind == "rocm" and device.gcn_arch:
        target = device.gcn_arch.split(":")[0]
        match = target if target in {a.split(":")[0] for a in info.arch_list} else None
    elif device.kind == "cuda" and device.capability:
        target = f"sm_{device.capability[0]}{device.capability[1]}"
        match = arch_supported(device.capability, info.arch_list)
    else:
        return None
    data = {"device": target, "arch_list": list(info.arch_list), "match": match}
    if not info.arch_list:
        return CheckResult(name, NOT_RUN, detail="torch did not report its arch list", data=data)
    if match:
        return CheckResult(
            name, PASS, detail=f"{target} runs {match} kernels (arch list: {listed})", data=data
        )
    return CheckResult(
        name,
        FAIL,
        data=data,
        detail=f"{device.model} is {target}, which torch {info.version} has no kernels for "
        f"(arch list: {listed})",
        hint="install a torch build whose arch list covers this GPU (newer GPUs need newer "
        "CUDA variants, e.g. cu128+ for sm_120; older ones older variants): torchsetup install",
    )


# ---------------------------------------------------------------------------- fixes for failures

# A failure's text -> how to fix it; the first pattern that matches wins (docs/verify.md).
_HINT_TEXT: dict[str, str] = {
    "No module named 'torch'": (
        "torch is not installed for this Python: torchsetup install, or point --python at the"
        " interpreter that has it"
    ),
    r"torchvision::\w+ does not exist|different CUDA major versions": (
        "torchvision was built for another torch: install matching releases from one index in"
        " one command ({torchvision})"
    ),
    r"lib\w+\.so[.\d]*: cannot open shared object file": (
        "a library torch needs is missing (a --no-deps install, or nvidia-* packages "
        "removed): pip uninstall torch and the nvidia-* packages, then reinstall torch from "
        "one index"
    ),
    "undefined symbol|cuDNN version incompatibility": (
        "a system CUDA library shadows the one torch ships with: remove CUDA library folders "
        "(e.g. /usr/local/cuda/lib64) from LD_LIBRARY_PATH"
    ),
    "no kernel image is available|invalid device function": (
        "this torch build has no kernels for this GPU: torchsetup install picks one that does"
    ),
    r"InvalidCxxCompiler|No working C\+\+ compiler": (
        "install a C++ compiler (apt install g++; dnf install gcc-c++; macOS: xcode-select "
        "--install), or verify with --compile aot_eager / --compile off"
    ),
    r"Python\.h: No such file": (
        "Triton needs this Python's headers: apt install python3.{minor}-dev"
    ),
    "Failed to find C compiler": "Triton needs a C compiler: apt install gcc (or set CC)",
    "TritonMissing|Cannot find a working triton|triton package is not installed": (
        "reinstall torch so that it pulls the triton it pins (pip install --force-reinstall "
        "torch from its index)"
    ),
    "Dynamo is not supported on Python": (
        "upgrade torch (Python 3.12 needs torch >= 2.4, 3.13 needs >= 2.6) or use an older Python"
    ),
    "CUDA unknown error|cudaErrorUnknown": (
        "CUDA could not initialise (often after suspend/resume): sudo rmmod nvidia_uvm && "
        "sudo modprobe nvidia_uvm, or reboot"
    ),
    "No CUDA GPUs are available|no CUDA-capable device": (
        "check CUDA_VISIBLE_DEVICES: unset it, or give it a GPU that exists, before Python starts"
    ),
    "driver on your system is too old|driver version is insufficient": (
        "update the NVIDIA driver, or install a torch built for an older CUDA (torchsetup install)"
    ),
    "out of memory": (
        "another process holds the GPU memory (see nvidia-smi), or the GPU is too small"
    ),
    r"_ARRAY_API not found|compiled using NumPy 1\.x": (
        "NumPy 2 with a torch built for NumPy 1: pip install 'numpy<2', or upgrade torch"
    ),
    "SIGSEGV|SIGBUS|SIGILL|SIGABRT": (
        "torch crashed the interpreter: usually a broken or mixed install (two copies of "
        "torch, mismatched libraries): pip install --force-reinstall torch; torchsetup doctor"
        " shows what is installed"
    ),
    "did not run the smoke script": "point --python at a Python 3.8+ interpreter",
    "timed out after": (
        "something hung: the table shows which check; on a slow machine rerun with --timeout-"
        "scale 3"
    ),
}
_HINTS = tuple((re.compile(p, re.IGNORECASE), h) for p, h in _HINT_TEXT.items())


def hint_for(check: CheckResult, info: Optional[TorchInfo]) -> Optional[str]:
    """How to fix a failed check, from its text (see docs/verify.md for the list)."""
    if check.status != FAIL:
        return None
    text = "\n".join(
        [
            check.detail,
            str(check.data.get("error", "")),
            *(str(line) for line in check.data.get("output_tail") or ()),
        ]
    )
    for pattern, hint in _HINTS:
        if pattern.search(text):
            return hint.format(torchvision=_torchvision_pair(info), minor=_python_minor(info))
    return None


def _torchvision_pair(info: Optional[TorchInfo]) -> str:
    """The torchvision the matrix pairs with this torch (2.11.0 <-> 0.26.0), from the data."""
    from torchsetup.matrix.load import MatrixError, load_matrix

    release = info.version.split("+", maxsplit=1)[0] if info else ""
    try:
        found = load_matrix().release(release) if release else None
    except MatrixError:
        found = None
    torchvision = found.torchvision if found is not None else None
    if torchvision is None:
        return "pip install torch torchvision from the same index"
    return (
        f"torch {release} pairs with torchvision {torchvision}: pip install "
        f"torch=={release} torchvision=={torchvision} from the index torch came from"
    )


def _python_minor(info: Optional[TorchInfo]) -> str:
    if info and info.python and info.python.count(".") >= 1:
        return info.python.split(".")[1]
    return "X"


# ---------------------------------------------------------------------------- all together


def judge(
    raw: Sequence[CheckResult], options: VerifyOptions
) -> tuple[tuple[CheckResult, ...], Optional[TorchInfo]]:
    """The final list: GPU judged, expectations after ``build``, arch checks after ``gpu``,
    and a fix on every failure that has a known one."""
    info = torch_info(raw)
    checks: list[CheckResult] = []
    for check in raw:
        if check.name == "gpu":
            checks.append(gpu_check(check, info, options.require_gpu))
            checks += arch_checks(info)
            continue
        checks.append(check)
        if check.name == "build":
            checks += expectation_checks(info, options.expect)
    return tuple(c.with_hint(hint_for(c, info)) for c in checks), info
