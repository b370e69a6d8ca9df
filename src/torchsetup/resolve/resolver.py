"""The resolver: (Environment, Request, Matrix) -> Plan, or ResolutionError. Pure.

Rules, in the order they are checked for each candidate (release, build):

1. the release ships for the platform (OS + architecture; musl and 32-bit Pythons never do);
2. the target Python has wheels for the release (experimental Pythons pass with a warning);
3. the build exists for that platform (its own index or the PyPI default wheel);
4. the NVIDIA driver is new enough for the build's CUDA: the full toolkit minimum, or the same
   major's minor-version-compatibility floor (allowed, with its caveat as a warning);
5. every GPU's compute capability has kernels in the build's TORCH_CUDA_ARCH_LIST: SASS of the
   same major and a minor <= the GPU's, or PTX of an older architecture (JIT; not allowed under
   minor-version compatibility, which cannot JIT);
6. glibc >= the wheel's manylinux floor;
7. pip understands the wheel's tag (else an upgrade-pip step is planned first).

Automatic choice: the newest release (matching ``--torch``) whose best build passes. Best = the
newest CUDA the driver fully supports and every GPU has kernels in; failing that the newest one
under minor-version compatibility; CPU only when there is no usable GPU; the PyPI wheel (CPU +
MPS) on macOS. Unadvertised builds only when asked for (but "Not chosen" lists the ones that
work). Policy: with a usable GPU present CPU is never automatic: a request no GPU build satisfies
is refused (exit 2) with the nearest request that gives a GPU build; ``--cpu`` opts in.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple, Optional

from torchsetup.detect.model import Environment
from torchsetup.errors import ResolutionError, UsageError
from torchsetup.matrix.model import (
    COVERAGE_PTX,
    ArchList,
    CudaRow,
    Matrix,
    PipFloor,
    Release,
    Variant,
    WheelInfo,
)
from torchsetup.resolve import vendors as vend
from torchsetup.resolve.plan import (
    Fact,
    Plan,
    Rejection,
    Step,
    conda_install_step,
    max_build_jobs,
    pip_install_step,
    pip_upgrade_step,
    source_steps,
    uv_install_step,
)
from torchsetup.resolve.request import AUTO, Request, TorchSelector, variant_flag
from torchsetup.versions import os_family, parse_cc, variant_cuda, version_at_least, version_tuple

FULL = "full"  # driver >= the toolkit's own minimum
MINOR = "minor"  # driver >= the major's minor-version-compatibility floor only
UNCHECKED = "unchecked"  # explicit CUDA request without a driver to check against
_NVIDIA_SOURCES = {
    "nvml": "NVML",
    "libcuda": "libcuda",
    "nvidia-smi": "nvidia-smi",
    "proc": "/proc/driver/nvidia/version",
}


class TargetGpu(NamedTuple):
    label: str  # "NVIDIA H200" or "GPU 0"
    cc: tuple[int, int]
    text: str  # "9.0"
    from_name: bool = False  # the probe gave no capability: looked up from the GPU's name

    @property
    def sm(self) -> str:
        return f"sm_{self.cc[0]}{self.cc[1]}"


class Target(NamedTuple):
    """The facts the resolver uses, after --target-* overrides, each with its source in ``facts``."""

    platform: str
    python_executable: str  # what the install runs (the --venv interpreter when planning one)
    python_version: str  # "3.11"
    facts: tuple[Fact, ...]
    base_python: Optional[str] = None  # the probed interpreter (creates a planned --venv)
    python_bits: Optional[int] = None
    pip_version: Optional[str] = None
    libc: Optional[str] = None
    glibc: Optional[str] = None
    driver: Optional[str] = None
    driver_cuda: Optional[str] = None
    gpus: tuple[TargetGpu, ...] = ()
    nvidia_devices_without_driver: bool = False
    nvidia_unknown: str = ""  # the NVIDIA probes failed without saying "no driver": why
    # other vendors (issue 11): the GPUs, and the driver-stack facts that make them usable
    amd_gpus: tuple[vend.AmdTarget, ...] = ()
    amd_runtime: Optional[str] = None  # the ROCm version here
    amd_kfd: Optional[bool] = None
    hsa_override: Optional[str] = None  # HSA_OVERRIDE_GFX_VERSION as a gfx target
    intel_gpus: tuple[vend.IntelTarget, ...] = ()
    intel_level_zero: Optional[bool] = None
    jetson: Optional[vend.JetsonTarget] = None
    nvcc: Optional[str] = None
    cuda_home: Optional[str] = None
    gcc: Optional[str] = None
    tools: tuple[tuple[str, str], ...] = ()
    cores: Optional[int] = None
    memory_bytes: Optional[int] = None
    conda_prefix: Optional[str] = None

    @property
    def family(self) -> str:
        return os_family(self.platform)

    def tool(self, name: str) -> Optional[str]:
        return dict(self.tools).get(name)


class Verdict(NamedTuple):
    """One candidate (release, build) checked against the target."""

    release: Release
    variant: Variant
    reason: str = ""  # why it was rejected; empty when it passes
    support: str = ""  # FULL / MINOR / UNCHECKED for CUDA builds
    why: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    pip_floor: Optional[PipFloor] = None  # pip too old: upgrade first
    arch: Optional[ArchList] = None
    wheel: Optional[WheelInfo] = None

    @property
    def ok(self) -> bool:
        return not self.reason


class Search(NamedTuple):
    chosen: Optional[Verdict]
    rejected: tuple[Rejection, ...]
    warnings: tuple[str, ...]


# --- the facts ---------------------------------------------------------------------------------


def _origin(env: Environment) -> str:
    if env.source.startswith("snapshot:"):
        path = env.source.partition(":")[2]
        return f"snapshot {path.replace(chr(92), '/').rsplit('/', 1)[-1]}"
    return "this machine" if env.source == "live" else env.source


def effective_target(env: Environment, request: Request) -> Target:
    """Apply --target-* overrides to the environment; record where each fact came from."""
    origin = _origin(env)
    py = env.python if env.python is not None and env.python.ok else None
    facts: list[Fact] = []

    if request.target_platform:
        platform, psrc = request.target_platform, "--target-platform"
    else:
        machine = py.machine if py is not None and py.machine else env.os.machine
        platform_key = dataclasses.replace(env.os, machine=machine).platform_key
        if platform_key is None:
            raise UsageError(
                "the target platform is unknown", hint="pass --target-platform, e.g. linux-x86_64"
            )
        platform, psrc = platform_key, f"OS probe, {origin}"
    facts.append(Fact("platform", platform, psrc))

    version = request.target_python or (py.minor if py is not None else None)
    if version is None:
        raise UsageError(
            "the target Python version is unknown",
            hint="pass --python PATH, or --target-python X.Y to plan for another machine",
        )
    base = py.executable if py is not None else None
    executable = _target_executable(request, platform, base, py.minor if py is not None else None)
    if request.target_python:
        facts.append(Fact("python", version, "--target-python"))
    else:
        assert py is not None
        facts.append(
            Fact("python", f"{py.version} ({py.executable})", f"target interpreter, {origin}")
        )
    pip = py.pip_version if py is not None and not request.target_python else None
    if pip:
        facts.append(Fact("pip", pip, f"target interpreter, {origin}"))

    libc, glibc = env.os.libc, env.os.libc_version if env.os.libc == "glibc" else None
    if request.target_glibc:
        libc, glibc = "glibc", request.target_glibc
        facts.append(Fact("glibc", glibc, "--target-glibc"))
    elif platform.startswith("linux") and libc:
        facts.append(Fact(libc, env.os.libc_version or "unknown version", f"libc probe, {origin}"))

    driver, driver_cuda = env.nvidia.driver_version, env.nvidia.cuda_driver_version
    dsrc = f"{_NVIDIA_SOURCES.get(env.nvidia.source or '', env.nvidia.source or 'NVIDIA probe')}, {origin}"
    if request.target_driver:
        driver = None if request.target_driver == "none" else request.target_driver
        driver_cuda, dsrc = None, "--target-driver"
    if driver:
        facts.append(
            Fact(
                "nvidia driver",
                driver + (f" (supports CUDA <= {driver_cuda})" if driver_cuda else ""),
                dsrc,
            )
        )
    elif request.target_driver == "none" or env.nvidia.status in ("no-driver", "not-loaded"):
        facts.append(Fact("nvidia driver", "none", dsrc))

    gpus = _gpus(env, request)
    for i, gpu in enumerate(gpus):
        src = "--target-gpu" if request.target_gpus else dsrc
        if gpu.from_name:
            src += "; capability from the GPU name table"
        facts.append(
            Fact(f"gpu {i}", f"{gpu.label}, compute capability {gpu.text} ({gpu.sm})", src)
        )
    unknown = ""
    # nvidia-smi is there but failed (or an NVIDIA device is on the bus): unknown, not none
    if (
        not driver
        and not request.target_driver
        and env.nvidia.status == "error"
        and (env.nvidia.smi_error or env.nvidia.pci_nvidia_devices)
    ):
        unknown = env.nvidia.smi_error or env.nvidia.nvml_error or "the NVIDIA probes failed"
    amd_gpus, intel_gpus, jetson = _vendor_gpus(env, request)
    src = "--target-gpu" if request.target_gpus else f"GPU probes, {origin}"
    for i, agpu in enumerate(amd_gpus):
        kind = ", integrated" if agpu.integrated else ""
        facts.append(Fact(f"amd gpu {i}", f"{agpu.label} ({agpu.gfx or 'gfx ?'}{kind})", src))
    amd_runtime = env.amd.rocm_version if env.amd is not None and not request.target_gpus else None
    if amd_runtime and env.amd is not None:
        facts.append(Fact("rocm", amd_runtime, f"{env.amd.rocm_source or 'ROCm probe'}, {origin}"))
    for i, igpu in enumerate(intel_gpus):
        facts.append(
            Fact(f"intel gpu {i}", f"{igpu.label} ({igpu.family or 'not an XPU target'})", src)
        )
    if jetson is not None:
        facts.append(
            Fact(
                "jetson",
                f"{jetson.label}, JetPack {jetson.jetpack or '?'}"
                + (f" (L4T {jetson.l4t})" if jetson.l4t else ""),
                src if request.target_gpus else f"/etc/nv_tegra_release, {origin}",
            )
        )
    override = vend.override_gfx(env.env("HSA_OVERRIDE_GFX_VERSION"))
    if override:
        facts.append(Fact("HSA_OVERRIDE_GFX_VERSION", override, f"environment, {origin}"))

    return Target(
        platform=platform,
        python_executable=executable,
        python_version=version,
        facts=tuple(facts),
        base_python=base,
        python_bits=py.bits if py is not None else None,
        pip_version=pip,
        libc=libc,
        glibc=glibc,
        driver=driver,
        driver_cuda=driver_cuda,
        gpus=gpus,
        nvidia_devices_without_driver=not driver and env.nvidia.has_gpu,
        nvidia_unknown=unknown,
        amd_gpus=amd_gpus,
        amd_runtime=amd_runtime,
        amd_kfd=env.amd.kfd if env.amd is not None and not request.target_gpus else None,
        hsa_override=override,
        intel_gpus=intel_gpus,
        intel_level_zero=(
            env.intel.level_zero if env.intel is not None and not request.target_gpus else None
        ),
        jetson=jetson,
        nvcc=env.toolkit.nvcc_version,
        cuda_home=env.toolkit.cuda_home,
        gcc=env.tools.gcc_version,
        tools=env.tools.paths,
        cores=env.resources.logical_cpus,
        memory_bytes=env.resources.memory_total_bytes,
        conda_prefix=py.prefix if py is not None and py.env_kind == "conda" else None,
    )


def _target_executable(
    request: Request, platform: str, probed: Optional[str], probed_minor: Optional[str]
) -> str:
    """--venv's interpreter, else --python, else the probed one (if it is the target Python)."""
    windows = platform.startswith("windows")
    if request.venv:
        return _venv_python(request.venv, platform)
    if request.python:
        return request.python
    if probed and (request.target_python is None or request.target_python == probed_minor):
        return probed
    if request.target_python and not windows:
        return f"python{request.target_python}"
    return "python" if windows else "python3"


def _venv_python(venv: str, platform: str) -> str:
    """The interpreter of a virtual environment on the *target* platform."""
    if platform.startswith("windows"):
        return "\\".join((venv.rstrip("/\\"), "Scripts", "python.exe"))
    return "/".join((venv.rstrip("/"), "bin", "python"))


def _gpus(env: Environment, request: Request) -> tuple[TargetGpu, ...]:
    if request.target_gpus is not None:
        return tuple(
            TargetGpu(f"GPU {i}", parse_cc(cc), cc)
            for i, cc in enumerate(request.target_gpus)
            if vend.gpu_token_kind(cc) == "nvidia"
        )
    from torchsetup.matrix.lookups import capability_from_name

    out = []
    for gpu in env.nvidia.gpus:
        cc = gpu.compute_capability or capability_from_name(gpu.name)
        if cc:
            try:
                out.append(
                    TargetGpu(gpu.name, parse_cc(cc), cc, from_name=not gpu.compute_capability)
                )
            except ValueError:
                continue
    return tuple(out)


def _vendor_gpus(
    env: Environment, request: Request
) -> tuple[tuple[vend.AmdTarget, ...], tuple[vend.IntelTarget, ...], Optional[vend.JetsonTarget]]:
    if request.target_gpus is not None:
        tokens = request.target_gpus
        amd = tuple(
            vend.AmdTarget(f"GPU {i}", t.lower())
            for i, t in enumerate(tokens)
            if vend.gpu_token_kind(t) == "amd"
        )
        intel = tuple(
            vend.IntelTarget(f"GPU {i} ({t})", vend.intel_token_family(t))
            for i, t in enumerate(tokens)
            if vend.gpu_token_kind(t) == "intel"
        )
        jetson = next(
            (vend.jetson_token(t) for t in tokens if vend.gpu_token_kind(t) == "jetson"), None
        )
        return amd, intel, jetson
    return vend.amd_targets(env.amd), vend.intel_targets(env.intel), vend.jetson_target(env.jetson)


class VendorState(NamedTuple):
    """Which non-NVIDIA GPUs are usable here, and why the others are not."""

    amd: bool
    amd_reason: str
    intel: bool
    intel_reason: str


def vendor_state(target: Target, matrix: Matrix) -> VendorState:
    amd = vend.amd_usable(
        target.amd_kfd, target.amd_runtime, target.amd_gpus, matrix.vendors, target.hsa_override
    )
    intel = vend.intel_usable(target.intel_level_zero, target.intel_gpus, matrix.vendors)
    return VendorState(amd[0], amd[1], intel[0], intel[1])


# --- the rules ---------------------------------------------------------------------------------


def driver_support(
    row: CudaRow, family: str, driver: str, driver_cuda: Optional[str]
) -> Optional[str]:
    """FULL, MINOR (same-major minor-version compatibility) or None (driver too old)."""
    if driver_cuda and version_at_least(driver_cuda, row.version):
        return FULL
    full = row.min_driver(family)
    if full and version_at_least(driver, full):
        return FULL
    floor = row.minor_floor(family)
    if floor and version_at_least(driver, floor):
        return MINOR
    return None


def full_driver_needs(row: CudaRow, family: str) -> str:
    """'NVIDIA driver >= 570.26': what full support of this CUDA needs."""
    full, floor = row.min_driver(family), row.minor_floor(family)
    return (
        f"NVIDIA driver >= {full}" if full else f"an NVIDIA driver of the R{floor} branch or newer"
    )


def driver_needs(row: CudaRow, family: str) -> str:
    """'NVIDIA driver >= 570.26 (or >= 525.60.13 with CUDA minor-version compatibility)'."""
    full, floor = row.min_driver(family), row.minor_floor(family)
    needs = full_driver_needs(row, family)
    return needs + (
        f" (or >= {floor} with CUDA minor-version compatibility)" if full and floor else ""
    )


def release_problem(
    target: Target, release: Release, request: Request, matrix: Matrix
) -> tuple[str, tuple[str, ...]]:
    """(rejection reason or '', warnings) for rules that reject every build of a release."""
    if not release.available_on(target.platform):
        info = release.platform(target.platform)
        return f"no {target.platform} wheels" + (
            f" ({info.note})" if info and info.note else ""
        ), ()
    if target.platform.startswith("linux") and target.libc == "musl":
        return "no musllinux wheels: PyTorch publishes glibc (manylinux) wheels only", ()
    if target.python_bits == 32:
        return "no wheels for 32-bit Python: install a 64-bit Python", ()
    support = release.python_support(target.python_version, target.platform)
    if support is None:
        return f"no Python {target.python_version} wheels (supports {release.python_range})", ()
    warnings: tuple[str, ...] = ()
    if support.experimental:
        warnings = (
            f"Python {target.python_version} is experimental for torch {release.torch} ({support.note}).",
        )
    if request.method == "conda":
        if release.conda is None:
            return f"no conda packages: {conda_end(matrix)}", warnings
        if target.platform not in release.conda.platforms:
            return f"no conda packages for {target.platform}", warnings
    if request.companions_required and request.method != "source":
        for name, version in release.companions(request.method):
            if name in request.companions and version is None:
                last = last_companion(matrix, name, request.method)
                ended = f" ({name} {last} was the last)" if last else ""
                return f"no {name} release pairs with it{ended}", warnings
    return "", warnings


def conda_end(matrix: Matrix) -> str:
    """'the pytorch channel ended with <the newest release with conda>', from the data."""
    last = matrix.last_conda_release()
    if last is None:
        return "the matrix has no conda packages"
    return f"the pytorch channel ended with {last.torch}"


def last_companion(matrix: Matrix, name: str, method: str = "pip") -> Optional[str]:
    """The version of the last ``name`` release, from the data; None while the newest
    release of the matrix still pairs one (a release that lacks it is a gap, not an end)."""
    last = matrix.last_with_companion(name, method)
    newest = matrix.releases[0] if method != "conda" else matrix.last_conda_release()
    if last is None or last is newest:
        return None
    return dict(last.companions(method)).get(name)


def check_build(
    target: Target, release: Release, variant: Variant, request: Request, matrix: Matrix
) -> Verdict:
    """Rules 3-7 for one build of a release that passed :func:`release_problem`."""

    def reject(reason: str) -> Verdict:
        return Verdict(release, variant, reason=reason)

    if request.method == "conda":
        assert release.conda is not None
        if release.conda.command(variant.name, target.platform) is None:
            return reject(
                f"no conda package for {variant.name} "
                f"(conda builds: {', '.join(release.conda.variants)})"
            )
    elif not release.serves(variant, target.platform):
        where = ", ".join(variant.platforms) or "no platform"
        return reject(f"no {variant.name} build for {target.platform} (built for {where})")
    if not variant.advertised and not request.variant_by_name:
        return reject(
            f"{variant.name} is built but not advertised; ask for it with --variant {variant.name}"
        )

    why: list[str] = []
    warnings: list[str] = []
    support = ""
    arch = None
    if variant.kind == "cuda":
        row = matrix.cuda_row(variant.name)
        assert row is not None  # the matrix guarantees a driver row for every CUDA variant
        support, message = _check_driver(target, row, request)
        if not support:
            return reject(message)
        (warnings if support != FULL else why).append(message)
        arch_key = f"conda:{target.platform}" if request.method == "conda" else target.platform
        arch = variant.arch_list(arch_key)
        kernels = _check_gpus(target, arch, support, explicit=request.variant is not None)
        if kernels.problem:
            return reject(kernels.problem)
        why += kernels.why
        warnings += kernels.warnings
    elif variant.kind in ("rocm", "xpu"):
        explicit = request.variant is not None
        check = (
            vend.rocm_check(
                target.amd_gpus,
                variant.name,
                matrix.vendors,
                explicit=explicit,
                override=target.hsa_override,
                runtime=target.amd_runtime,
            )
            if variant.kind == "rocm"
            else vend.xpu_check(target.intel_gpus, matrix.vendors, explicit=explicit)
        )
        if check.problem:
            return reject(check.problem)
        why += check.why
        warnings += check.warnings

    wheel = release.wheel(variant, target.platform)
    if target.platform.startswith("linux") and wheel is not None and wheel.min_glibc:
        if target.glibc is None:
            warnings.append(f"glibc version unknown: these wheels need glibc >= {wheel.min_glibc}.")
        elif not version_at_least(target.glibc, wheel.min_glibc):
            return reject(
                f"needs glibc >= {wheel.min_glibc} ({wheel.tag} wheels); this system has glibc {target.glibc}"
            )
        else:
            why.append(f"glibc {target.glibc} >= {wheel.min_glibc} needed by {wheel.tag} wheels.")

    pip_floor = None
    if request.method == "pip" and wheel is not None:
        floor = matrix.pip_floor(wheel.tag)
        if target.pip_version is None:
            warnings.append(
                "pip version of the target unknown"
                + (f": {wheel.tag} wheels need pip >= {floor.min_pip}." if floor else ".")
            )
        elif floor and not version_at_least(target.pip_version, floor.min_pip):
            pip_floor = floor

    if not variant.advertised:
        warnings.append(
            f"{variant.name} is not advertised for torch {release.torch}: "
            "it exists on the index but is not on pytorch.org's install pages."
        )
    inferred = [
        what
        for what, flag in (
            ("the build", variant.inferred or release.inferred),
            ("its kernel list", bool(arch and arch.inferred)),
            ("its wheel tag / glibc floor", bool(wheel and wheel.inferred)),
        )
        if flag
    ]
    if inferred:
        warnings.append(
            f"Inferred data (not confirmed by a primary source) behind torch {release.torch} "
            f"{variant.name}: {', '.join(inferred)}; see docs/matrix.md."
        )
    return Verdict(
        release,
        variant,
        support=support,
        why=tuple(why),
        warnings=tuple(warnings),
        pip_floor=pip_floor,
        arch=arch,
        wheel=wheel,
    )


def _check_driver(target: Target, row: CudaRow, request: Request) -> tuple[str, str]:
    """(support level or '', explanation)."""
    needs = driver_needs(row, target.family)
    if target.driver is None:
        if request.variant is None:
            return "", "no NVIDIA driver"
        return UNCHECKED, (
            f"No NVIDIA driver found: CUDA {row.version} builds need {needs} to use a GPU "
            "(until then torch runs on the CPU only)."
        )
    level = driver_support(row, target.family, target.driver, target.driver_cuda)
    if level is None:
        return (
            "",
            f"CUDA {row.version} builds need {needs}; this machine has driver {target.driver}",
        )
    if level == MINOR:
        return MINOR, (
            f"Driver {target.driver} runs CUDA {row.version} builds only under CUDA minor-version "
            f"compatibility (full support needs {full_driver_needs(row, target.family)}): PTX JIT is "
            "unavailable and "
            "a few CUDA APIs may fail with cudaErrorCallRequiresNewerDriver."
        )
    basis = (
        f"reports CUDA <= {target.driver_cuda}"
        if target.driver_cuda
        else f">= {row.min_driver(target.family)}"
    )
    return FULL, f"Driver {target.driver} fully supports CUDA {row.version} ({basis})."


class Kernels(NamedTuple):
    problem: str = ""  # why the build cannot serve the GPUs; empty when it can
    why: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def _check_gpus(target: Target, arch: Optional[ArchList], support: str, explicit: bool) -> Kernels:
    """Rule 5: kernels for every GPU (SASS of the same major, or PTX when the driver can JIT)."""
    if not target.gpus:
        unknown = (
            "GPU compute capability unknown: could not check that the build has kernels for it."
        )
        return Kernels(warnings=(unknown,) if target.driver else ())
    if arch is None:
        if explicit:
            return Kernels(
                warnings=(
                    (
                        "The kernel list (TORCH_CUDA_ARCH_LIST) of this build is unknown: torchsetup could "
                        "not check it has kernels for your GPU."
                    ),
                )
            )
        return Kernels(
            "its kernel list (TORCH_CUDA_ARCH_LIST) is unknown, so torchsetup cannot show it runs here"
        )
    jit = []
    for gpu in target.gpus:
        coverage = arch.coverage(gpu.cc)
        if coverage is None:
            return Kernels(f"no kernels for {gpu.label} ({gpu.sm}): the build has {arch.sm_names}")
        if coverage == COVERAGE_PTX:
            if support == MINOR:
                return Kernels(
                    f"{gpu.label} ({gpu.sm}) would run only via PTX JIT, which minor-version "
                    "compatibility does not allow"
                )
            jit.append(
                f"{gpu.label} ({gpu.sm}) runs via PTX JIT: the first start compiles kernels (slow)."
            )
    labels = ", ".join(f"{g.label} {g.sm}" for g in target.gpus)
    return Kernels(
        why=(f"kernels for every GPU ({labels}) in TORCH_CUDA_ARCH_LIST {arch.text}.",),
        warnings=tuple(jit),
    )


# --- the search --------------------------------------------------------------------------------


def _pass_variants(release: Release, target: Target, request: Request, kind: str) -> list[Variant]:
    """The builds to try in one pass: the requested one, or every one of ``kind`` (unadvertised
    ones are checked too, so "Not chosen" can say a newer one works; they are never chosen
    automatically)."""
    if request.variant is not None:
        variant = release.variant(request.variant)
        return [variant] if variant is not None else []
    if request.method == "conda" and release.conda is not None:
        candidates = [v for v in release.variants if v.name in release.conda.variants]
    else:
        candidates = list(release.variants_for(target.platform))
    return [v for v in candidates if v.kind == kind]


def _rank(verdict: Verdict, target: Target) -> tuple[int, tuple[int, ...]]:
    """Full driver support first, then the newest CUDA (ROCm: the build that matches the ROCm
    runtime here first, then the newest)."""
    if verdict.variant.kind == "rocm":
        return vend.rocm_rank(verdict.variant.name, target.amd_runtime)
    cuda = variant_cuda(verdict.variant.name) or "0"
    return (0 if verdict.support != MINOR else 1, tuple(-x for x in version_tuple(cuda)))


def gpu_kinds(target: Target, matrix: Matrix) -> list[str]:
    """The GPU build kinds a usable GPU of the target can run, best first; [] = no usable GPU.
    NVIDIA (CUDA) first, then AMD (ROCm), then Intel (XPU): a box with two vendors gets the
    first that works, and "Not chosen" names the other.

    Policy: with a usable GPU present the CPU build is never chosen automatically (``--cpu``
    opts in); a request no GPU build satisfies is refused with the nearest one that gives one.
    """
    if target.platform.startswith("macos"):
        return []
    state = vendor_state(target, matrix)
    kinds = ["cuda"] if target.driver else []
    if state.amd:
        kinds.append("rocm")
    if state.intel:
        kinds.append("xpu")
    return kinds


def _passes(target: Target, request: Request, matrix: Matrix) -> list[str]:
    if request.variant is not None:
        return [request.variant_kind or ""]
    return gpu_kinds(target, matrix) or ["cpu"]


_VENDOR_OF = {"cuda": "NVIDIA", "rocm": "AMD", "xpu": "Intel"}


def _other_vendor_notes(
    target: Target,
    release: Release,
    request: Request,
    matrix: Matrix,
    kind: str,
    best: Verdict,
) -> list[Rejection]:
    """On a box with GPUs of two vendors: the other vendor's working build of the chosen release."""
    out = []
    kinds = gpu_kinds(target, matrix)
    unnamed = dataclasses.replace(request, variant_by_name=True)
    for other in kinds[kinds.index(kind) + 1 :] if kind in kinds else []:
        verdicts = [
            check_build(target, release, v, unnamed if other == "xpu" else request, matrix)
            for v in _pass_variants(release, target, request, other)
            if v.advertised or other == "xpu"
        ]
        passing = sorted((v for v in verdicts if v.ok), key=lambda v: _rank(v, target))
        if passing:
            name = passing[0].variant.name
            out.append(
                Rejection(
                    release.torch,
                    name,
                    f"works, but {best.variant.name} is preferred (the {_VENDOR_OF[kind]} GPU "
                    f"comes first): {variant_flag(name)} plans it for the {_VENDOR_OF[other]} GPU",
                )
            )
    return out


def _newer_cpu_note(release: Release, target: Target, request: Request, matrix: Matrix) -> str:
    """Why a working CPU build of a release lost on a GPU machine ('' when it does not work)."""
    cpu = release.variant("cpu")
    if cpu is None or not check_build(target, release, cpu, request, matrix).ok:
        return ""
    return "works, but only on the CPU: with a usable GPU here, CPU is never automatic (--cpu)"


def search(target: Target, request: Request, matrix: Matrix, releases: Sequence[Release]) -> Search:
    """Newest release first; the first whose best build passes every rule wins."""
    rejected: list[Rejection] = []
    seen: set[tuple[str, str, str]] = set()

    def note(rej: Rejection) -> None:
        key = (rej.torch, rej.variant, rej.reason)
        if key not in seen:
            seen.add(key)
            rejected.append(rej)

    warnings: list[str] = []
    automatic = request.variant is None
    gpu_machine = automatic and bool(gpu_kinds(target, matrix))
    unnamed = dataclasses.replace(request, variant_by_name=True)
    for kind in _passes(target, request, matrix):
        for release in releases:
            problem, release_warnings = release_problem(target, release, request, matrix)
            if problem:
                note(Rejection(release.torch, "*", problem))
                continue
            verdicts: list[Verdict] = []
            for build in _pass_variants(release, target, request, kind):
                if (
                    automatic
                    and not build.advertised
                    and not request.variant_by_name
                    and build.kind != "xpu"  # the only Intel build: on its own install page
                ):
                    hidden = check_build(target, release, build, unnamed, matrix)
                    reason = (
                        "works, but it is not advertised (not on pytorch.org's install "
                        f"pages): ask for it with --variant {build.name}"
                        if hidden.ok
                        else hidden.reason
                    )
                    note(Rejection(release.torch, build.name, reason))
                    continue
                verdicts.append(
                    check_build(
                        target, release, build, unnamed if build.kind == "xpu" else request, matrix
                    )
                )
            if request.variant is not None and not verdicts:
                note(
                    Rejection(
                        release.torch, request.variant, _missing_variant(request.variant, matrix)
                    )
                )
            passing = sorted((v for v in verdicts if v.ok), key=lambda v: _rank(v, target))
            for v in verdicts:
                if not v.ok:
                    note(Rejection(release.torch, v.variant.name, v.reason))
            if passing:
                best = passing[0]
                for other in passing[1:]:
                    note(
                        Rejection(
                            release.torch,
                            other.variant.name,
                            f"works, but {best.variant.name} is preferred"
                            + (
                                " (full driver support)"
                                if other.support == MINOR
                                else " (matches the ROCm runtime here, or is newer)"
                                if other.variant.kind == "rocm"
                                else " (newer CUDA)"
                            ),
                        )
                    )
                if gpu_machine:
                    for rej in _other_vendor_notes(target, release, request, matrix, kind, best):
                        note(rej)
                return Search(
                    best._replace(warnings=release_warnings + best.warnings),
                    tuple(rejected),
                    tuple(warnings),
                )
            if gpu_machine and (cpu_note := _newer_cpu_note(release, target, request, matrix)):
                note(Rejection(release.torch, "cpu", cpu_note))
    return Search(None, tuple(rejected), tuple(warnings))


def _missing_variant(name: str, matrix: Matrix) -> str:
    have = [r.torch for r in matrix.releases_with(name)]
    if not have:
        return f"no release has a {name} build"
    return f"no {name} build ({name} exists for torch {', '.join(sorted(have, key=version_tuple))})"


# --- the public entry --------------------------------------------------------------------------


def resolve(env: Environment, request: Request, matrix: Matrix) -> Plan:
    """Plan the install ``request`` describes on ``env``; raises ResolutionError when impossible."""
    target = effective_target(env, request)
    request, engine_note = choose_engine(target, request)
    releases = candidate_releases(request, matrix)
    if request.method == "source":
        return _source_plan(target, request, matrix, releases)
    if request.variant is None and target.jetson is not None and request.method != "source":
        if request.method not in ("pip", "uv"):
            raise ResolutionError(
                f"NVIDIA's JetPack builds of torch for {target.jetson.label} install with pip "
                f"or uv, not --method {request.method}",
                hint="--method pip, or --cpu",
            )
        return jetson_plan(target, request, matrix)
    if (
        request.variant is None
        and target.nvidia_unknown
        and not target.platform.startswith("macos")
    ):
        raise ResolutionError(
            "cannot tell whether this machine has a usable NVIDIA GPU "
            f"({target.nvidia_unknown}), so torchsetup will not choose the CPU build silently",
            hint="pass --target-driver VERSION (nvidia-smi's 'Driver Version'), or --cpu",
        )
    found = search(target, request, matrix, releases)
    if found.chosen is None:
        if request.variant is None and gpu_kinds(target, matrix):
            raise gpu_refusal(request, matrix, target, found.rejected, releases)
        raise refusal(request, matrix, target, found.rejected)
    plan = build_plan(target, request, matrix, found)
    if engine_note is None:
        return plan
    if request.method == "uv":
        return dataclasses.replace(plan, reasons=(*plan.reasons, engine_note))
    return dataclasses.replace(plan, warnings=(*plan.warnings, engine_note))


def choose_engine(target: Target, request: Request) -> tuple[Request, Optional[str]]:
    """``--method auto`` (the install command's default): uv where the target machine has it
    (on PATH or next to torchsetup's own Python, where torchsetup's dependency on uv puts it),
    else pip, with the note that says why. Any other method is kept as asked."""
    if request.method != AUTO:
        return request, None
    uv = target.tool("uv")
    if uv is not None:
        return dataclasses.replace(request, method="uv"), (
            f"uv: the default engine ({uv}); --method pip installs with pip instead."
        )
    return dataclasses.replace(request, method="pip"), (
        "pip: the default engine uv was not found on this machine (not on PATH, not next to "
        "torchsetup's Python): installing with pip, which is slower (pip install uv, or "
        "reinstall torchsetup with its dependencies, makes uv the engine)."
    )


def jetson_plan(target: Target, request: Request, matrix: Matrix) -> Plan:
    """A Jetson (Tegra) board: NVIDIA's torch wheel for its JetPack, never PyPI's aarch64 wheels
    (built for SBSA servers) and never a silent CPU plan; refused with the reason otherwise."""
    import re

    jetson = target.jetson
    assert jetson is not None
    board = f"{jetson.label} (JetPack {jetson.jetpack or '?'})"
    index = matrix.vendors.jetson_index(jetson.jetpack)
    known = ", ".join(f"JetPack {j.jetpack}" for j in matrix.vendors.jetson)
    if index is None:
        raise ResolutionError(
            f"no torch wheel index is known for {board}: PyPI's aarch64 wheels are built for "
            f"SBSA servers, not Tegra (the matrix knows {known or 'no JetPack'})",
            hint="install NVIDIA's wheel for your JetPack by hand, or pass --cpu",
        )
    if target.platform != "linux-aarch64":
        raise ResolutionError(
            f"{board} needs linux-aarch64 wheels; the target platform is {target.platform}",
            hint="--target-platform linux-aarch64",
        )
    found = re.match(r"\d+\.\d+(\.\d+)?", index.torch)
    public = found.group(0) if found else index.torch
    if request.torch is not None and not request.torch.matches(public):
        raise ResolutionError(
            f"NVIDIA's JetPack {index.jetpack} wheels are torch {index.torch}, not --torch "
            f"{request.torch.text}",
            nearest=f"torchsetup install --torch {public} (torch {index.torch})",
            hint=f"try: torchsetup install --torch {public}",
        )
    if target.python_version != index.python:
        raise ResolutionError(
            f"NVIDIA's JetPack {index.jetpack} torch wheels are for Python {index.python} (the "
            f"JetPack system Python); the target is Python {target.python_version}",
            hint=f"--python /usr/bin/python{index.python}",
        )
    python = target.python_executable
    packages = [("torch", index.torch)]
    if index.torchvision and "torchvision" in request.companions:
        packages.append(("torchvision", index.torchvision))
    missing = [n for n in request.companions if n not in dict(packages)]
    if missing and request.companions_required:
        raise ResolutionError(
            f"NVIDIA's JetPack {index.jetpack} index has no {', '.join(missing)} for torch "
            f"{index.torch}",
            hint="build it from source against this torch, or drop --with",
        )
    if index.wheel_url:
        step = Step(
            id="install",
            description=f"Install torch {index.torch} from NVIDIA's JetPack {index.jetpack} wheel",
            argv=(python, "-m", "pip", "install", index.wheel_url),
        )
    else:
        assert index.index_url is not None
        requirements = [f"{n}=={v}" for n, v in packages]
        step = (
            uv_install_step(python, requirements, index.index_url, target.tool("uv") or "uv")
            if request.method == "uv"
            else pip_install_step(python, requirements, index.index_url)
        )
    warnings = []
    if index.inferred:
        warnings.append(
            f"Inferred data (not confirmed by a primary source) behind the JetPack "
            f"{index.jetpack} index: the torch version on it; see docs/matrix.md."
        )
    if missing:
        warnings.append(f"No {', '.join(missing)} on that index for torch {index.torch}.")
    return Plan(
        method=request.method,
        torch=index.torch,
        variant=f"cu{index.cuda.replace('.', '')}",
        python=python,
        torchvision=dict(packages).get("torchvision"),
        index_url=index.index_url,
        python_version=target.python_version,
        steps=(step,),
        facts=target.facts,
        reasons=(
            (
                f"{board}: a Jetson runs NVIDIA's JetPack builds of torch (CUDA {index.cuda}, "
                f"compute capability {jetson.cc or '?'}), not PyPI's aarch64 wheels."
            ),
            f"torch {index.torch}: from {index.index_url or index.wheel_url} ({index.source}).",
            f"Python {index.python}: the JetPack {index.jetpack} system Python the wheels are for.",
        ),
        warnings=tuple(warnings),
        extra=(
            ("platform", target.platform),
            ("companions", "required" if request.companions_required else "default"),
            ("jetpack", index.jetpack),
        ),
    )


def candidate_releases(request: Request, matrix: Matrix) -> tuple[Release, ...]:
    if request.variant is not None and not matrix.releases_with(request.variant):
        known = ", ".join(n for n in matrix.variant_names)
        raise ResolutionError(
            f"no PyTorch 2.x release has a {request.variant} build "
            f"(asked for with {request.variant_flag})",
            hint=f"known builds: {known}",
        )
    releases = tuple(
        r for r in matrix.releases if request.torch is None or request.torch.matches(r.torch)
    )
    if not releases:
        assert request.torch is not None
        raise ResolutionError(
            f"no PyTorch release matches --torch {request.torch.text}",
            hint=f"known releases: {matrix.releases[-1].torch} to {matrix.releases[0].torch} "
            "(torchsetup matrix lists them)",
        )
    return releases


def build_plan(target: Target, request: Request, matrix: Matrix, found: Search) -> Plan:
    chosen = found.chosen
    assert chosen is not None
    release, variant = chosen.release, chosen.variant
    packages = _packages(release, request)
    steps: list[Step] = []
    python = target.python_executable
    index_url: Optional[str] = None
    warnings = list(found.warnings) + list(chosen.warnings)
    if request.method == "conda":
        assert release.conda is not None
        command = release.conda.command(variant.name, target.platform)
        assert command is not None
        if target.conda_prefix is None:
            warnings.append(
                "The target interpreter is not in a conda environment: conda installs into "
                "the active environment (activate the one to use first)."
            )
        steps.append(conda_install_step(command, target.conda_prefix, keep=dict(packages)))
    else:
        index_url = request.index_url or release.index_url(
            variant, target.platform, matrix.pypi_index_url
        )
        if request.index_url:
            warnings.append(
                f"--index-url {request.index_url}: assumed to serve the {variant.name} build "
                f"(a mirror of {release.index_url(variant, target.platform, matrix.pypi_index_url)})."
            )
        requirements = [f"{name}=={version}" for name, version in packages]
        if request.method == "uv":
            uv = target.tool("uv")
            if uv is None:
                warnings.append(
                    "uv not found on PATH: install it (pip install uv) or use --method pip."
                )
            steps.append(uv_install_step(python, requirements, index_url, uv or "uv"))
        else:
            if chosen.pip_floor is not None and chosen.wheel is not None:
                steps.append(
                    pip_upgrade_step(
                        python,
                        chosen.pip_floor.min_pip,
                        f"pip {target.pip_version} cannot install {chosen.wheel.tag} wheels",
                    )
                )
            steps.append(pip_install_step(python, requirements, index_url))
    return Plan(
        method=request.method,
        torch=release.torch,
        variant=variant.name,
        python=python,
        torchvision=dict(packages).get("torchvision"),
        torchaudio=dict(packages).get("torchaudio"),
        index_url=index_url,
        python_version=target.python_version,
        steps=tuple(steps),
        facts=target.facts,
        reasons=tuple(_reasons(target, request, chosen, packages, index_url, matrix))
        + _stay_on(release, found.rejected),
        rejected=found.rejected,
        warnings=tuple(dict.fromkeys(warnings)),
        extra=_extra(target, chosen, request),
    )


_NO_KERNELS = re.compile(r"no kernels for (.+?\(sm_\w+\))")


def _stay_on(chosen: Release, rejected: Sequence[Rejection]) -> tuple[str, ...]:
    """When every build of the newer releases lacks kernels for a GPU (2.15 dropped Maxwell,
    Pascal and Volta with cu126), say so: the user stays on the chosen release's series."""
    newer = [
        r
        for r in rejected
        if version_tuple(r.torch) > chosen.version
        and r.variant != "cpu"  # "works, but only on the CPU": never a GPU build
        and not r.reason.startswith("works, but")
    ]
    gpus = [m.group(1) for r in newer if (m := _NO_KERNELS.search(r.reason))]
    if not newer or len(gpus) != len(newer):
        return ()
    newest = max((r.torch for r in newer), key=version_tuple)
    series = ".".join(chosen.torch.split(".")[:2])
    reason = (
        f"torch {newest} has no kernels for {gpus[0]}: newer releases dropped this GPU, "
        f"so stay on torch {series}.x (the last series with kernels for it)."
    )
    return (reason,)


def _packages(release: Release, request: Request) -> list[tuple[str, str]]:
    out = [("torch", release.torch)]
    for name, version in release.companions(request.method):
        if name in request.companions and version is not None:
            out.append((name, version))
    return out


def _extra(target: Target, chosen: Verdict, request: Request) -> tuple[tuple[str, str], ...]:
    extra = [("platform", target.platform)]
    # "required": --with named the companions; "default": the executor may drop one that a
    # custom index (--index-url/--find-links) does not carry, with a warning.
    extra.append(("companions", "required" if request.companions_required else "default"))
    if chosen.wheel is not None and chosen.wheel.tag:
        extra.append(("wheel_tag", chosen.wheel.tag))
    if chosen.support:
        extra.append(("driver_support", chosen.support))
    if chosen.arch is not None:
        extra.append(("arch_list", chosen.arch.text))
    return tuple(extra)


def _reasons(
    target: Target,
    request: Request,
    chosen: Verdict,
    packages: Sequence[tuple[str, str]],
    index_url: Optional[str],
    matrix: Matrix,
) -> list[str]:
    release, variant = chosen.release, chosen.variant
    scope = f"matching --torch {request.torch.text}" if request.torch else "of PyTorch"
    what = f"with {variant.name}" if request.variant else "whose best build works here"
    reasons = [f"torch {release.torch} is the newest release {scope} {what}."]
    if request.variant is None:
        if variant.kind == "cuda":
            reasons.append(
                f"{variant.name}: the newest CUDA build the driver "
                f"{'fully ' if chosen.support == FULL else ''}supports with kernels for every GPU."
            )
        elif variant.kind == "rocm":
            reasons.append(
                f"{variant.name}: the ROCm build with kernels for every AMD GPU"
                + (
                    f", matching the ROCm {target.amd_runtime} runtime here."
                    if target.amd_runtime
                    else "."
                )
            )
        elif variant.kind == "xpu":
            reasons.append(f"{variant.name}: the PyTorch build for Intel GPUs (XPU).")
        elif target.platform.startswith("macos"):
            reasons.append("cpu: the macOS wheel (CPU, with MPS for the Apple GPU).")
        elif not target.driver:
            reasons.append(
                "cpu: no NVIDIA driver here"
                + (
                    " (an NVIDIA GPU is present: install its driver to use it)."
                    if target.nvidia_devices_without_driver
                    else "."
                )
            )
            state = vendor_state(target, matrix)
            for why_not in (state.amd_reason, state.intel_reason):
                if why_not:
                    reasons.append(f"cpu: {why_not}.")
    else:
        reasons.append(f"{variant.name}: asked for with {request.variant_flag}.")
    reasons += chosen.why
    reasons.append(
        f"Python {target.python_version}: torch {release.torch} has wheels for {release.python_range}."
    )
    companions = ", ".join(f"{n} {v}" for n, v in packages[1:])
    if companions:
        reasons.append(f"{companions}: the releases paired with torch {release.torch}.")
    missing = [n for n in request.companions if n not in dict(packages)]
    if missing:
        ends = [
            f"{n} ended with {last}"
            for n in missing
            if (last := last_companion(matrix, n, request.method))
        ]
        reasons.append(
            f"no {', '.join(missing)} release pairs with torch {release.torch}"
            + (f" ({'; '.join(ends)})." if ends else ".")
        )
    if index_url:
        reasons.append(
            f"--index-url {index_url} (never --extra-index-url): every package comes from one "
            "index, so no other index can shadow a PyTorch package."
        )
    return reasons


# --- source builds -----------------------------------------------------------------------------


def _source_plan(
    target: Target, request: Request, matrix: Matrix, releases: Sequence[Release]
) -> Plan:
    rejected: list[Rejection] = []
    for release in releases:
        problem, warnings = release_problem(target, release, request, matrix)
        if not problem:
            break
        rejected.append(Rejection(release.torch, "*", problem))
    else:
        raise refusal(request, matrix, target, tuple(rejected))
    variant_name = request.variant or (
        f"cu{target.nvcc.replace('.', '')}" if target.nvcc else "cpu"
    )
    cuda = variant_cuda(variant_name)
    build = release.source_build
    how = (
        "pip install --no-build-isolation -v -e ."
        if build.build == "pip-editable"
        else "python setup.py develop"
    )
    why = [
        f"torch {release.torch}: built from the {build.git_tag} tag ({how}, as that release documents).",
        f"Python {target.python_version}: torch {release.torch} supports {release.python_range}.",
    ]
    notes = list(warnings)
    env: list[tuple[str, str]] = [("USE_CUDA", "1" if cuda else "0")]
    if cuda:
        origin = (
            f"asked for with {request.variant_flag}"
            if request.variant
            else f"nvcc {target.nvcc} found here"
        )
        why.append(f"CUDA {cuda}: {origin}.")
        arch_env, arch_note = _source_arch_list(target, release, variant_name)
        env += arch_env
        (why if target.gpus else notes).append(arch_note)
        if target.cuda_home:
            env.append(("CUDA_HOME", target.cuda_home))
        notes += _source_cuda_notes(target, release, cuda, matrix)
    jobs = max_build_jobs(target.cores, target.memory_bytes)
    if jobs is None:
        notes.append(
            "CPU cores / memory unknown: set MAX_JOBS yourself (about one job per 2.5 GB of RAM)."
        )
    else:
        env.append(("MAX_JOBS", str(jobs)))
        why.append(
            f"MAX_JOBS={jobs}: {target.cores} cores, {(target.memory_bytes or 0) / 2**30:.0f} GiB RAM "
            "(about one compile job per 2.5 GB, so the build does not run out of memory)."
        )
    notes += _toolchain_warnings(target, matrix, cuda)
    notes.append(
        "Source builds cover torch only: build torchvision/torchaudio against it from their own "
        "repositories if you need them."
    )
    steps: list[Step] = []
    if build.build == "pip-editable":
        floor = matrix.pip_floor_named("editable-pep660")
        if target.pip_version and not version_at_least(target.pip_version, floor.min_pip):
            steps.append(
                pip_upgrade_step(
                    target.python_executable, floor.min_pip, "editable installs (PEP 660)"
                )
            )
    steps += source_steps(target.python_executable, build.git_tag, build.build, env)
    return Plan(
        method="source",
        torch=release.torch,
        variant=variant_name,
        python=target.python_executable,
        python_version=target.python_version,
        steps=tuple(steps),
        facts=target.facts + _build_facts(target),
        reasons=tuple(why),
        rejected=tuple(rejected),
        warnings=tuple(dict.fromkeys(notes)),
        extra=(
            ("platform", target.platform),
            *((k, v) for k, v in env if k == "TORCH_CUDA_ARCH_LIST"),
        ),
    )


def _source_arch_list(
    target: Target, release: Release, variant_name: str
) -> tuple[list[tuple[str, str]], str]:
    """(TORCH_CUDA_ARCH_LIST env, explanation): the GPUs here, else the release's official list."""
    if target.gpus:
        arch = ";".join(sorted({g.text for g in target.gpus}, key=version_tuple))
        return [("TORCH_CUDA_ARCH_LIST", arch)], (
            f"TORCH_CUDA_ARCH_LIST={arch}: the GPUs here, so the build compiles only what they need."
        )
    official = release.variant(variant_name)
    arch_list = official.arch_list(target.platform) if official else None
    if arch_list is not None:
        return [("TORCH_CUDA_ARCH_LIST", arch_list.text)], (
            f"No GPU found: building for the official {variant_name} list {arch_list.text}."
        )
    return [], (
        "No GPU found and no official list for this CUDA: the build targets every architecture "
        "nvcc knows (slow); set TORCH_CUDA_ARCH_LIST to narrow it."
    )


def _source_cuda_notes(target: Target, release: Release, cuda: str, matrix: Matrix) -> list[str]:
    notes = []
    if target.nvcc is None:
        notes.append(
            f"nvcc not found: install the CUDA {cuda} toolkit and set CUDA_HOME before building."
        )
    elif target.nvcc != cuda:
        notes.append(
            f"nvcc here is CUDA {target.nvcc}, not {cuda}: the build uses the toolkit in CUDA_HOME."
        )
    cudas = sorted({c for v in release.variants if (c := variant_cuda(v.name))}, key=version_tuple)
    if cudas and not version_tuple(cudas[0]) <= version_tuple(cuda) <= version_tuple(cudas[-1]):
        notes.append(
            f"torch {release.torch} was released for CUDA {cudas[0]}–{cudas[-1]}: building with CUDA {cuda} may fail."
        )
    row = matrix.cuda_row(cuda)
    floor = (
        row.minor_floor(target.family)
        if row
        else matrix.minor_floor_for_major(version_tuple(cuda)[0], target.family)
    )
    runs = (
        driver_support(row, target.family, target.driver, target.driver_cuda) is not None
        if row and target.driver
        else bool(target.driver and floor and version_at_least(target.driver, floor))
    )
    if target.driver and not runs:
        needs = driver_needs(row, target.family) if row else f"a driver of the R{floor} branch"
        notes.append(
            f"Driver {target.driver} is too old to run CUDA {cuda} code: it needs {needs}."
        )
    return notes


def _toolchain_warnings(target: Target, matrix: Matrix, cuda: Optional[str]) -> list[str]:
    out = [
        f"{tool} not found on PATH: install it before building ({hint})."
        for tool, hint in (
            ("git", "your package manager"),
            ("cmake", "pip install cmake"),
            ("ninja", "pip install ninja"),
        )
        if target.tool(tool) is None
    ]
    if target.family == "windows":
        return out
    row = matrix.cuda_row(cuda) if cuda else None
    limit = row.max_gcc if row else None
    if target.gcc is None and target.tool("gcc") is None:
        out.append(
            f"gcc not found: install gcc/g++{f' <= {limit}' if limit else ''} (e.g. apt install build-essential)."
        )
    elif target.gcc and row and limit and version_tuple(target.gcc)[0] > limit:
        out.append(
            f"gcc {target.gcc} is newer than CUDA {row.version}'s nvcc accepts (gcc <= {limit}): "
            f"install gcc-{limit} and point CC, CXX and CUDAHOSTCXX at it."
        )
    return out


def _build_facts(target: Target) -> tuple[Fact, ...]:
    facts = [
        Fact("nvcc", target.nvcc or "not found", "toolkit probe"),
        Fact("gcc", target.gcc or "not found", "toolchain probe"),
    ]
    if target.cores:
        facts.append(Fact("cpu cores", str(target.cores), "resources probe"))
    if target.memory_bytes:
        facts.append(Fact("memory", f"{target.memory_bytes / 2**30:.1f} GiB", "resources probe"))
    return tuple(facts)


# --- refusals and the nearest request that works -----------------------------------------------


def refusal(
    request: Request, matrix: Matrix, target: Target, rejected: Sequence[Rejection]
) -> ResolutionError:
    reasons = []
    if request.variant is not None:  # the releases that have the build say most about why it fails
        having = matrix.releases_with(request.variant)
        rejected = [r for r in rejected if r.torch in {h.torch for h in having}] or rejected
        if not any(
            h.serves(v, target.platform) for h in having if (v := h.variant(request.variant))
        ):
            reasons.append(f"no release has a {request.variant} build for {target.platform}")
    reasons += _top_reasons(rejected)
    message = (
        f"no build satisfies {request.describe()} on {target.platform} with Python "
        f"{target.python_version}: " + "; ".join(reasons)
    )
    nearest = nearest_requests(target, request, matrix)
    hint = f"try: torchsetup install {nearest[0]}" if nearest else None
    if not nearest and gpu_kinds(target, matrix):
        hint = "no GPU build works here: update the GPU driver, or pass --cpu for the CPU build"
    return ResolutionError(
        message,
        nearest="; or ".join(f"torchsetup install {n}" for n in nearest) if nearest else None,
        reasons=tuple(reasons),
        hint=hint,
    )


def gpu_refusal(
    request: Request,
    matrix: Matrix,
    target: Target,
    rejected: Sequence[Rejection],
    releases: Sequence[Release],
) -> ResolutionError:
    """An automatic request on a machine with a usable GPU that no GPU build satisfies.

    Never a silent CPU plan: the refusal names why each GPU build failed, the nearest request
    that gives a GPU build, what driver the request would need, and ``--cpu``.
    """
    scope = f"torch {request.torch.text}" if request.torch else "any PyTorch release"
    reasons = _top_reasons(rejected)
    needs = _nvidia_driver_needed(target, request, matrix, releases) if target.driver else ""
    if needs:
        reasons.append(needs)
    reasons.append(
        "with a usable GPU here the CPU build is never chosen automatically: --cpu installs it"
    )
    message = (
        f"no GPU build of {scope} works on {target.platform} with Python "
        f"{target.python_version} and {_describe_gpus(target)}: " + "; ".join(reasons)
    )
    nearest = nearest_requests(target, request, matrix)
    return ResolutionError(
        message,
        nearest="; or ".join(f"torchsetup install {n}" for n in nearest) if nearest else None,
        reasons=tuple(reasons),
        hint=(
            f"try: torchsetup install {nearest[0]}"
            if nearest
            else "update the GPU driver, or pass --cpu for the CPU build"
        ),
    )


def _describe_gpus(target: Target) -> str:
    parts = []
    if target.driver:
        gpus = ", ".join(f"{g.label} {g.sm}" for g in target.gpus) or "compute capability unknown"
        parts.append(f"NVIDIA driver {target.driver} ({gpus})")
    parts += [f"{g.label} ({g.gfx or 'gfx ?'})" for g in target.amd_gpus]
    parts += [g.label for g in target.intel_gpus if g.family]
    return ", ".join(parts) or "a GPU"


def _nvidia_driver_needed(
    target: Target, request: Request, matrix: Matrix, releases: Sequence[Release]
) -> str:
    """'torch 2.14.1 needs NVIDIA driver >= 580.65.06 (cu130 has kernels for sm_120)', or ''."""
    best: Optional[tuple[tuple[int, ...], str, str, str]] = None
    for release in releases:
        if release_problem(target, release, request, matrix)[0]:
            continue
        for variant in release.variants_for(target.platform):
            row = matrix.cuda_row(variant.name) if variant.kind == "cuda" else None
            full = row.min_driver(target.family) if row and variant.advertised else None
            if row is None or not full:
                continue
            arch = variant.arch_list(target.platform)
            if target.gpus and (
                arch is None or any(arch.coverage(g.cc) is None for g in target.gpus)
            ):
                continue
            key = version_tuple(full)
            if best is None or key < best[0]:
                best = (key, full, release.torch, variant.name)
    if best is None or (target.driver and version_at_least(target.driver, best[1])):
        return ""
    sms = ", ".join(sorted({g.sm for g in target.gpus}))
    return (
        f"torch {best[2]} needs NVIDIA driver >= {best[1]} ({best[3]}"
        + (f", with kernels for {sms})" if sms else ")")
        + f"; this machine has {target.driver}"
    )


def _top_reasons(rejected: Sequence[Rejection], limit: int = 3) -> list[str]:
    counts: dict[str, int] = {}
    for rej in rejected:
        if not rej.reason.startswith("works, but"):
            counts[rej.reason] = counts.get(rej.reason, 0) + 1
    return sorted(counts, key=lambda r: -counts[r])[:limit] or ["no release matches"]


def _relaxations(request: Request, matrix: Matrix) -> Iterable[list[Request]]:
    """Groups of nearby requests, most similar group first; each group's first that works counts."""
    replace = dataclasses.replace
    auto = {"variant": None, "variant_flag": None, "variant_by_name": False}
    if request.variant is not None and not request.variant_by_name:
        yield [replace(request, variant_by_name=True)]  # an unadvertised build, named explicitly
    if request.torch is not None and request.variant is not None:
        yield [replace(request, torch=None)]
    if request.variant is not None and request.variant_kind in ("cuda", "rocm"):
        yield [
            replace(request, variant=name, variant_flag=variant_flag(name), variant_by_name=False)
            for name in _nearest_variants(request.variant, matrix)
        ]
    if request.method == "conda":
        yield [replace(request, method="pip")]
    if request.companions_required:
        yield [replace(request, companions_required=False)]
    if request.torch is not None:
        yield [
            replace(request, torch=TorchSelector(text=torch, prefix=version_tuple(torch)))
            for torch in _nearest_releases(request.torch, matrix)
        ]
    if request.torch is not None and request.variant is None:
        # an unadvertised build of the same or a nearby release (2.13.0+cu129 on driver 570)
        yield [
            replace(
                request,
                torch=TorchSelector(text=torch, prefix=version_tuple(torch)),
                variant_by_name=True,
            )
            for torch in [r.torch for r in matrix.releases if request.torch.matches(r.torch)]
            + _nearest_releases(request.torch, matrix)
        ]
    if request.variant is not None:
        yield [replace(request, **auto)]
    yield [replace(request, torch=None, **auto)]
    yield [replace(request, torch=None, **{**auto, "variant_by_name": True})]


def _nearest_releases(selector: TorchSelector, matrix: Matrix) -> list[str]:
    """Releases outside ``selector``, nearest to the ones it matches first (ties: the newer)."""
    torches = [r.torch for r in matrix.releases]
    inside = [i for i, t in enumerate(torches) if selector.matches(t)]
    if not inside:
        return torches
    return sorted(
        (t for i, t in enumerate(torches) if i not in inside),
        key=lambda t: (min(abs(torches.index(t) - i) for i in inside), torches.index(t)),
    )


def _nearest_variants(name: str, matrix: Matrix) -> list[str]:
    kind = name[:2] if name.startswith("cu") else "rocm"
    same = [n for n in matrix.variant_names if n.startswith(kind) and n != name]
    ordered = sorted([*same, name], key=lambda n: version_tuple(n.lstrip("curom")))
    here = ordered.index(name)
    return sorted(same, key=lambda n: (abs(ordered.index(n) - here), -ordered.index(n)))


def nearest_requests(target: Target, request: Request, matrix: Matrix, limit: int = 2) -> list[str]:
    """Up to ``limit`` requests close to ``request`` that resolve on ``target``, as CLI flags."""
    out: list[str] = []
    seen: set[tuple[str, str, str]] = set()
    if request.method == "source":
        return out
    for group in _relaxations(request, matrix):
        for relaxed in group:
            releases = tuple(
                r
                for r in matrix.releases
                if relaxed.torch is None or relaxed.torch.matches(r.torch)
            )
            found = search(target, relaxed, matrix, releases).chosen if releases else None
            if found is None:
                continue
            key = (found.release.torch, found.variant.name, relaxed.method)
            if key not in seen:
                seen.add(key)
                out.append(_as_flags(found, relaxed.method))
            break
        if len(out) >= limit:
            break
    return out


def _as_flags(found: Verdict, method: str) -> str:
    name = found.variant.name
    flags = [
        variant_flag(name) if found.variant.advertised else f"--variant {name}",
        f"--torch {found.release.torch}",
    ]
    if method != "pip":
        flags.append(f"--method {method}")
    return f"{' '.join(flags)} (torch {found.release.torch}+{name})"
