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
under minor-version compatibility; CPU when there is no NVIDIA driver (or nothing else works);
the PyPI wheel (CPU + MPS) on macOS. ROCm, XPU and unadvertised builds only when asked for.
"""

from __future__ import annotations

import dataclasses
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
        facts.append(
            Fact(f"gpu {i}", f"{gpu.label}, compute capability {gpu.text} ({gpu.sm})", src)
        )

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
            TargetGpu(f"GPU {i}", parse_cc(cc), cc) for i, cc in enumerate(request.target_gpus)
        )
    out = []
    for gpu in env.nvidia.gpus:
        if gpu.compute_capability:
            try:
                out.append(
                    TargetGpu(gpu.name, parse_cc(gpu.compute_capability), gpu.compute_capability)
                )
            except ValueError:
                continue
    return tuple(out)


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
        vendor = "AMD GPU and ROCm driver" if variant.kind == "rocm" else "Intel GPU and its driver"
        warnings.append(
            f"torchsetup cannot check the {vendor} yet: make sure {variant.name} suits them."
        )

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
    """The builds to try in one pass: the requested one, or every advertised one of ``kind``."""
    if request.variant is not None:
        variant = release.variant(request.variant)
        return [variant] if variant is not None else []
    if request.method == "conda" and release.conda is not None:
        candidates = [v for v in release.variants if v.name in release.conda.variants]
    else:
        candidates = list(release.variants_for(target.platform))
    return [v for v in candidates if v.kind == kind and v.advertised]


def _rank(verdict: Verdict) -> tuple[int, tuple[int, ...]]:
    """Full driver support first, then the newest CUDA."""
    cuda = variant_cuda(verdict.variant.name) or "0"
    return (0 if verdict.support != MINOR else 1, tuple(-x for x in version_tuple(cuda)))


def _passes(target: Target, request: Request) -> list[str]:
    if request.variant is not None:
        return [request.variant_kind or ""]
    if target.platform.startswith("macos"):
        return ["cpu"]
    return ["cuda", "cpu"] if target.driver else ["cpu"]


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
    for kind in _passes(target, request):
        if kind == "cpu" and request.variant is None and target.driver:
            warnings.append(
                "No CUDA build of any release works with this driver and GPU: "
                "planning the CPU build (update the driver to use the GPU)."
            )
        for release in releases:
            problem, release_warnings = release_problem(target, release, request, matrix)
            if problem:
                note(Rejection(release.torch, "*", problem))
                continue
            verdicts = [
                check_build(target, release, v, request, matrix)
                for v in _pass_variants(release, target, request, kind)
            ]
            if request.variant is not None and not verdicts:
                note(
                    Rejection(
                        release.torch, request.variant, _missing_variant(request.variant, matrix)
                    )
                )
            passing = sorted((v for v in verdicts if v.ok), key=_rank)
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
                                else " (newer CUDA)"
                            ),
                        )
                    )
                return Search(
                    best._replace(warnings=release_warnings + best.warnings),
                    tuple(rejected),
                    tuple(warnings),
                )
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
    found = search(target, request, matrix, releases)
    if found.chosen is None:
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
        reasons=tuple(_reasons(target, request, chosen, packages, index_url, matrix)),
        rejected=found.rejected,
        warnings=tuple(dict.fromkeys(warnings)),
        extra=_extra(target, chosen, request),
    )


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
    return ResolutionError(
        message,
        nearest="; or ".join(f"torchsetup install {n}" for n in nearest) if nearest else None,
        reasons=tuple(reasons),
        hint=f"try: torchsetup install {nearest[0]}" if nearest else None,
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
    if request.variant is not None:
        yield [replace(request, **auto)]
    yield [replace(request, torch=None, **auto)]


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
