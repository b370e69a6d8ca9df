"""Doctor rules: one small pure function per known failure, each with a stable id.

Ids TS001-TS029 follow the numbering of the failure catalogue (docs/rules/), TS1xx are
torchsetup's own checks. A rule receives the :class:`RuleContext` and yields findings whose
message quotes the detected facts and whose fix is a command computed from them. The rule's
docstring is its page (``torchsetup doctor --explain ID``).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable, Iterator
from typing import Callable, Optional

from torchsetup.detect.model import Distribution
from torchsetup.doctor.context import RuleContext
from torchsetup.doctor.fixes import compiler_install_command
from torchsetup.doctor.model import ERROR, INFO, WARNING, Finding, Rule
from torchsetup.matrix.lookups import is_prerelease, torch_minors_for
from torchsetup.matrix.lookups import version_tuple as _vtuple

RULES: dict[str, Rule] = {}

Body = Callable[[RuleContext, Rule], Iterable[Finding]]

GIB = 1024**3


def rule(
    rule_id: str,
    *,
    title: str,
    category: str,
    severity: str,
    catalogue: Optional[int] = None,
    sources: tuple[str, ...] = (),
) -> Callable[[Body], Body]:
    def register(fn: Body) -> Body:
        if rule_id in RULES:
            raise ValueError(f"duplicate rule id {rule_id}")
        explain = inspect.cleandoc(fn.__doc__ or title)
        RULES[rule_id] = Rule(
            id=rule_id,
            title=title,
            category=category,
            severity=severity,
            func=lambda ctx: fn(ctx, RULES[rule_id]),
            explain=explain,
            catalogue=catalogue,
            sources=sources,
        )
        return fn

    return register


def _gpu_list(ctx: RuleContext) -> str:
    gpus = ctx.env.nvidia.gpus
    if not gpus:
        n = ctx.env.nvidia.pci_nvidia_devices
        return f"{n} NVIDIA device(s) on the PCI bus" if n else "an NVIDIA GPU"
    names: dict[str, int] = {}
    for g in gpus:
        label = g.name + (
            f" (sm_{g.compute_capability.replace('.', '')})" if g.compute_capability else ""
        )
        names[label] = names.get(label, 0) + 1
    return ", ".join(f"{n}x {label}" if n > 1 else label for label, n in names.items())


# --- NVIDIA driver ---------------------------------------------------------------------------


@rule(
    "TS002",
    title="NVIDIA GPU present but no driver is loaded",
    category="nvidia",
    severity=ERROR,
    catalogue=2,
    sources=("pytorch/pytorch#74733",),
)
def gpu_without_driver(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """An NVIDIA GPU sits on the PCI bus, but no NVIDIA kernel driver answers.

    Signals: NVIDIA (0x10de) display controllers in /sys/bus/pci/devices, while
    /proc/driver/nvidia is absent and neither NVML nor libcuda can be loaded. torch then says
    "Found no NVIDIA driver on your system" and runs on the CPU.

    Fix: install the driver from the distribution (ubuntu-drivers, dnf/akmod-nvidia, ...) and
    reboot; in a container, run it with the NVIDIA container toolkit (--gpus all).
    """
    nv = ctx.env.nvidia
    if nv.status == "not-loaded" or (nv.status == "no-driver" and nv.pci_nvidia_devices):
        where = "in this container" if ctx.env.os.container else "on this machine"
        if ctx.env.os.container:
            fix = (
                "start the container with GPU access: docker run --gpus all ... "
                "(needs the NVIDIA Container Toolkit on the host)"
            )
        elif ctx.env.os.distro_id == "ubuntu":
            fix = "sudo ubuntu-drivers install && sudo reboot"
        else:
            fix = "install the NVIDIA driver package of your distribution, then reboot"
        detail = (
            f"{_gpu_list(ctx)} found but no NVIDIA driver is loaded {where}"
            + (f" (NVML: {nv.nvml_error})" if nv.nvml_error else "")
            + "."
        )
        yield r.finding(ctx, detail=detail, fix=fix)


@rule(
    "TS004",
    title="Driver/library version mismatch (NVML)",
    category="nvidia",
    severity=ERROR,
    catalogue=4,
    sources=("oddmario/NVIDIA-Ubuntu-Driver-Guide#4",),
)
def nvml_mismatch(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """The loaded kernel module and the user-space driver libraries have different versions.

    Happens after a driver upgrade without a reboot (often an unattended upgrade). nvidia-smi
    prints "Failed to initialize NVML: Driver/library version mismatch" and torch reports CUDA
    unavailable.

    Fix: reboot (or unload and reload the nvidia kernel modules); hold the driver packages so
    unattended upgrades stop doing it again.
    """
    nv = ctx.env.nvidia
    if nv.status != "mismatch":
        return
    parts = []
    if nv.kernel_module_version:
        parts.append(f"kernel module {nv.kernel_module_version}")
    if nv.driver_version and nv.driver_version != nv.kernel_module_version:
        parts.append(f"user-space driver {nv.driver_version}")
    said = next((e for e in nv.errors if "mismatch" in e.lower()), None)
    detail = (
        "NVIDIA driver components disagree"
        + (f": {', '.join(parts)}" if parts else "")
        + (f" ({said})" if said else "")
        + "."
    )
    fix = "sudo reboot   (or: sudo rmmod nvidia_uvm nvidia_drm nvidia_modeset nvidia && sudo modprobe nvidia)"
    if ctx.env.os.distro_id in ("ubuntu", "debian"):
        fix += "; then stop unattended upgrades of it: sudo apt-mark hold 'nvidia-*'"
    yield r.finding(ctx, detail=detail, fix=fix)


@rule(
    "TS003",
    title="NVIDIA driver too old for the installed torch's CUDA",
    category="nvidia",
    severity=ERROR,
    catalogue=3,
    sources=("pytorch/pytorch#99138", "nagadomi/nunif#702"),
)
def driver_too_old(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """The driver supports an older CUDA than the one the installed torch wheel was built with.

    The driver's maximum CUDA (NVML / cuDriverGetVersion, nvidia-smi's "CUDA Version") must be
    at least the wheel's CUDA (torch/version.py). Within one major version (11 and later) CUDA's
    minor-version compatibility lets a newer runtime run on an older driver of the same branch,
    with limits (no PTX JIT): that is a warning. Across majors (and before CUDA 11) torch fails
    with "The NVIDIA driver on your system is too old".

    Fix: update the driver, or install the build that matches the driver (torchsetup picks it).
    """
    shortfall = driver_shortfall(ctx)
    torch = ctx.torch
    nv = ctx.env.nvidia
    if shortfall is None or torch is None:
        return
    detail = (
        f"torch {torch.version} was built with CUDA {torch.cuda}, but "
        + (f"driver {nv.driver_version}" if nv.driver_version else "the driver")
        + f" supports CUDA up to {nv.cuda_driver_version}."
    )
    fix = (
        ctx.install_fix()
        + f"   (or update the NVIDIA driver to one that supports CUDA {torch.cuda})"
    )
    if shortfall == WARNING:
        detail += (
            " It runs under CUDA minor-version compatibility: PTX JIT is unavailable and "
            "some APIs may fail with cudaErrorCallRequiresNewerDriver."
        )
        yield r.finding(
            ctx,
            title="NVIDIA driver older than the wheel's CUDA (minor-version compatibility)",
            detail=detail,
            fix=fix,
            severity=WARNING,
        )
    else:
        yield r.finding(ctx, detail=detail, fix=fix)


def driver_shortfall(ctx: RuleContext) -> Optional[str]:
    """ERROR when the driver cannot run the wheel's CUDA, WARNING when only CUDA minor-version
    compatibility lets it (same major, 11 or later), None when the driver is new enough."""
    torch, nv = ctx.torch, ctx.env.nvidia
    if torch is None or not torch.cuda or not nv.cuda_driver_version:
        return None
    wheel, driver = _vtuple(torch.cuda), _vtuple(nv.cuda_driver_version)
    if not wheel or not driver or driver >= wheel[:2]:
        return None
    return WARNING if driver[0] == wheel[0] and wheel[0] >= 11 else ERROR


@rule(
    "TS020",
    title="CUDA_VISIBLE_DEVICES hides every GPU",
    category="nvidia",
    severity=ERROR,
    catalogue=20,
    sources=("pytorch/pytorch#40618",),
)
def visible_devices_hide_all(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """CUDA_VISIBLE_DEVICES is set to a value that leaves no GPU visible.

    "" and "-1" hide every GPU; an index at or above the GPU count, or a UUID that matches no
    GPU, stops the list there. torch then says "No CUDA GPUs are available" while nvidia-smi
    shows the GPUs. Changing it after CUDA initialised in a process has no effect.

    Fix: unset it, or set it to existing indexes/UUIDs before the process starts.
    """
    value = ctx.env.nvidia.cuda_visible_devices
    gpus = ctx.env.nvidia.gpus
    if value is None or not gpus:
        return
    visible = _visible_gpus(value, gpus)
    if visible:
        return
    shown = repr(value)
    yield r.finding(
        ctx,
        detail=(
            f"CUDA_VISIBLE_DEVICES={shown} leaves none of the {len(gpus)} GPU(s) "
            f"visible ({_gpu_list(ctx)})."
        ),
        fix="unset CUDA_VISIBLE_DEVICES   (or e.g. export CUDA_VISIBLE_DEVICES=0)",
    )


def _visible_gpus(value: str, gpus: tuple[object, ...]) -> int:
    """How many GPUs CUDA sees for a CUDA_VISIBLE_DEVICES value (CUDA stops at the first bad entry)."""
    from torchsetup.detect.model import Gpu

    count = 0
    uuids = [g.uuid for g in gpus if isinstance(g, Gpu) and g.uuid]
    for token in [t.strip() for t in value.split(",")]:
        if not token:
            break
        if re.fullmatch(r"\d+", token):
            if int(token) >= len(gpus):
                break
            count += 1
        elif token.startswith(("GPU-", "MIG-")):
            if not any(u.startswith(token) for u in uuids):
                break
            count += 1
        else:
            break
    return count


@rule(
    "TS104",
    title="CUDA toolkit installed, but no NVIDIA driver",
    category="nvidia",
    severity=INFO,
    sources=("tests/data/real/debian12-cpu-nvcc13-no-driver",),
)
def toolkit_without_driver(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """nvcc (the CUDA toolkit) is installed but there is no NVIDIA driver and no NVIDIA GPU.

    "CUDA is installed" and "CUDA can run" differ: the toolkit compiles CUDA code, only a
    driver and a GPU run it. PyTorch wheels bring their own CUDA runtime and need the driver,
    not the toolkit. Informational: fine for a build machine or a CPU-only setup.
    """
    nv = ctx.env.nvidia
    tk = ctx.env.toolkit
    if tk.nvcc_version and nv.status == "no-driver" and not nv.pci_nvidia_devices:
        yield r.finding(
            ctx,
            detail=(
                f"nvcc {tk.nvcc_full_version or tk.nvcc_version} is installed "
                f"({tk.nvcc_path}) but there is no NVIDIA driver and no NVIDIA "
                "GPU: CUDA code can be compiled here, not run. Use a CPU build "
                "of torch here."
            ),
            fix=None,
        )


# --- PyTorch ---------------------------------------------------------------------------------


@rule(
    "TS001",
    title="CPU-only torch on a machine with an NVIDIA GPU",
    category="torch",
    severity=ERROR,
    catalogue=1,
    sources=("pytorch/pytorch#131731", "astral-sh/uv#17236"),
)
def cpu_torch_on_gpu_machine(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """The installed torch is a CPU build while an NVIDIA GPU and driver are present.

    The classic: the PyPI wheel on Windows and macOS is CPU-only, a resolver picked "+cpu", or a
    later `pip install` replaced the CUDA build. torch then says "Torch not compiled with CUDA
    enabled" and training silently runs on the CPU.

    Fix: reinstall from the PyTorch index that matches the driver (torchsetup chooses it).
    """
    torch = ctx.torch
    nv = ctx.env.nvidia
    if torch is None or torch.variant != "cpu" or not nv.gpus:
        return
    yield r.finding(
        ctx,
        detail=(
            f"torch {torch.version} is a CPU build, but this machine has "
            f"{_gpu_list(ctx)} with driver {nv.driver_version or '?'}."
        ),
        fix=ctx.install_fix(),
    )


@rule(
    "TS010",
    title="More than one torch installed",
    category="torch",
    severity=ERROR,
    catalogue=10,
    sources=("huggingface/transformers#29022", "pytorch/pytorch#12470"),
)
def two_torch_installs(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """Two copies of torch are importable from the target (user site + venv, conda + pip, a
    PYTHONPATH entry...). Which one `import torch` gets depends on sys.path order, so
    `torch.__version__` differs from what `pip show torch` says, and odd AttributeErrors or
    segfaults follow. A conda environment holding conda's `pytorch` package and a pip-installed
    `torch` (another version, or installed by pip over it) counts too: both write torch/.

    Fix: uninstall until `import torch` fails, then install once.
    """
    py = ctx.py
    if py is None:
        return
    locations = list(py.torch_locations)
    dist_locs = [d.location or "?" for d in py.distributions if d.name == "torch"]
    copies = max(len(locations), len(dist_locs))
    conda, pip_torch = py.conda("pytorch"), py.dist("torch")
    if copies < 2 and conda is not None and pip_torch is not None:
        if pip_torch.installer == "pip" or conda.version != pip_torch.public_version:
            yield r.finding(
                ctx,
                detail=(
                    f"conda's pytorch {conda.version} ({conda.build or '?'}) and pip's torch "
                    f"{pip_torch.version} are both installed in {py.prefix or 'this environment'}: "
                    "they overwrite each other's files."
                ),
                fix=(
                    f"conda remove --force pytorch && {ctx.pip('uninstall', '-y', 'torch')}, "
                    "then " + ctx.install_fix()
                ),
            )
        return
    if copies < 2:
        return
    where = locations if len(locations) >= len(dist_locs) else dist_locs
    yield r.finding(
        ctx,
        detail=f"{copies} copies of torch are on the target's sys.path: "
        + "; ".join(where)
        + (f" (import torch takes the first: {where[0]})" if where else "")
        + ".",
        fix=(
            f"{ctx.pip('uninstall', '-y', 'torch')}   (repeat until `import torch` fails; "
            "remove conda's `pytorch` with `conda remove pytorch`), then " + ctx.install_fix()
        ),
    )


@rule("TS101", title="torch is not installed", category="torch", severity=INFO)
def torch_missing(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """The target interpreter has no torch. Not a problem in itself: torchsetup install picks
    the build for this machine and installs it."""
    py = ctx.py
    if py is None or py.torch is not None or not py.torch_checked:
        return
    yield r.finding(
        ctx, detail=f"No torch in {py.executable} (Python {py.version}).", fix=ctx.install_fix()
    )


@rule("TS102", title="The target Python could not be probed", category="python", severity=ERROR)
def target_probe_failed(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """torchsetup runs a small standard-library script in the target interpreter to read its
    packages. It failed: the interpreter does not exist, crashed or hung. Everything about the
    installed torch is then unknown.

    Fix: point torchsetup at a working interpreter with --python, or activate the environment.
    """
    p = ctx.env.python
    if p is None or p.ok:
        return
    yield r.finding(
        ctx,
        detail=p.error or f"{p.executable} could not be probed",
        fix="torchsetup doctor --python /path/to/python   (or activate the environment first)",
    )


# --- companion packages ----------------------------------------------------------------------


def _release_pairing(name: str, version: str, torch_version: str) -> Optional[str]:
    """Without Requires-Dist (a pasted report): the release pairing of torchvision/torchaudio."""
    if is_prerelease(version) or is_prerelease(torch_version):
        return None  # nightlies pin exact dates, not release pairs
    span = torch_minors_for(name, version)
    have = _vtuple(torch_version)[:2]
    if span is None or len(have) < 2:
        return None
    first, last = span
    if have < first or (last is not None and have > last):
        wanted = f"{first[0]}.{first[1]}" + ("" if last == first else "+")
        return f"{name} {version} belongs to torch {wanted}"
    return None


def _outside(version: str, pin: str) -> bool:
    """Whether ``version`` falls outside ``pin`` ("==2.9.0", ">=2.14"). The usual exact pin that
    holds is settled as text: packaging.specifiers costs ~30 ms to import on a small machine."""
    if pin.replace(" ", "") == f"=={version}":
        return False
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    try:
        return Version(version) not in SpecifierSet(pin)
    except (InvalidSpecifier, InvalidVersion):
        return False


def _pinned_torch(dist: Distribution) -> Optional[str]:
    """The torch requirement in a companion's Requires-Dist (without environment markers)."""
    for req in dist.requires:
        m = re.match(r"torch\s*(\(?\s*[=<>!~][^;]*)?(;.*)?$", req.strip())
        if m and m.group(1):
            return m.group(1).strip().strip("()").strip()
    return None


@rule(
    "TS011",
    title="torchvision/torchaudio built for another torch",
    category="companions",
    severity=ERROR,
    catalogue=11,
    sources=("pytorch/pytorch#122494",),
)
def companion_mismatch(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """torchvision and torchaudio releases are built for one torch release (they pin it, e.g.
    torchvision 0.24.0 requires torch==2.9.0) and one CUDA variant. Next to another torch their
    C++ ops fail: "operator torchvision::nms does not exist", or "PyTorch and torchvision were
    compiled with different CUDA major versions".

    Checked without importing anything: the companion's Requires-Dist pin against the installed
    torch version (in a pasted report, which has no Requires-Dist, the release pairing: torchvision
    0.N belongs to torch 2.(N-15) and 1.(N-1), torchaudio 2.x to torch 2.x), and the +cuXXX
    local tags against each other.

    Fix: install the matching companion from the same index as torch, in one command.
    """
    py, torch = ctx.py, ctx.torch
    if py is None or torch is None or not (py.dist("torchvision") or py.dist("torchaudio")):
        return
    torch_local = torch.version.partition("+")[2]
    for name in ("torchvision", "torchaudio"):
        dist = py.dist(name)
        if dist is None:
            continue
        problems = []
        pin = _pinned_torch(dist)
        if pin:
            if _outside(torch.public_version, pin):
                problems.append(f"it requires torch {pin}")
        elif not dist.requires and (known := _release_pairing(name, dist.version, torch.version)):
            problems.append(known)
        if (
            dist.local
            and torch_local
            and dist.local != torch_local
            and dist.local.startswith(("cu", "rocm"))
        ):
            problems.append(f"it is a +{dist.local} build while torch is +{torch_local}")
        if problems:
            yield r.finding(
                ctx,
                title=f"{name} {dist.version} was built for another torch",
                detail=f"{name} {dist.version} is installed next to torch {torch.version}, but "
                + " and ".join(problems)
                + ".",
                fix=ctx.install_fix("--torch", torch.public_version),
            )


@rule(
    "TS014",
    title="torchtriton (the malicious Dec-2022 package) or an unsafe torch index",
    category="companions",
    severity=ERROR,
    catalogue=14,
    sources=("https://pytorch.org/blog/compromised-nightly-dependency/",),
)
def torchtriton(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """In December 2022 a malicious `torchtriton` package on PyPI shadowed the nightly index's
    dependency of the same name (dependency confusion) and exfiltrated SSH keys and
    environment variables on `import triton`. Any installed `torchtriton` must go, and the
    secrets of that machine should be rotated.

    The same attack works whenever pip combines PyPI with the PyTorch index through
    `--extra-index-url`: for torch packages always use `--index-url` (one index).
    """
    py = ctx.py
    if py is not None and py.dist("torchtriton") is not None:
        d = py.dist("torchtriton")
        assert d is not None
        yield r.finding(
            ctx,
            detail=(
                f"torchtriton {d.version} is installed in {d.location}: the "
                "package name used by the December 2022 supply-chain attack."
            ),
            fix=(
                f"{ctx.pip('uninstall', '-y', 'torch', 'torchvision', 'torchaudio', 'torchtriton')}"
                f" && {ctx.pip('cache', 'purge')}; rotate SSH keys and tokens of this "
                "machine; then " + ctx.install_fix()
            ),
        )
    for source, text in _pip_index_settings(ctx):
        if "download.pytorch.org" in text and re.search(
            r"extra[-_]index[-_]url", text, re.IGNORECASE
        ):
            yield r.finding(
                ctx,
                severity=WARNING,
                title="The PyTorch index is configured as an extra index",
                detail=(
                    f"{source} adds download.pytorch.org with extra-index-url: pip "
                    "then mixes it with PyPI, the setting the torchtriton attack used."
                ),
                fix=(
                    "use the PyTorch index with --index-url only for torch packages "
                    "(torchsetup install does), and remove it from extra-index-url"
                ),
            )


def _pip_index_settings(ctx: RuleContext) -> list[tuple[str, str]]:
    """(where, text) of every pip/uv index setting: config files and environment variables."""
    out = list(ctx.env.pip_config)
    for key in ("PIP_EXTRA_INDEX_URL", "UV_EXTRA_INDEX_URL"):
        value = ctx.env.env(key)
        if value:
            out.append((f"${key}", f"{key}={value}"))
    return out


# --- compile toolchain -----------------------------------------------------------------------


@rule(
    "TS015",
    title="No C++ compiler for torch.compile",
    category="toolchain",
    severity=WARNING,
    catalogue=15,
    sources=("pytorch/pytorch#92745",),
)
def no_cxx_compiler(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """torch.compile's default backend (inductor) writes C++ for the CPU and compiles it; on GPUs
    Triton compiles a small C helper too. Without a compiler it fails with "InvalidCxxCompiler:
    No working C++ compiler found".

    Fix: install the platform's compiler (build-essential, gcc-c++, Xcode command line tools,
    MSVC Build Tools).
    """
    tools_unknown = not ctx.env.tools.paths and ctx.env.source != "live"
    if ctx.env.tools.cxx_compiler or ctx.env.env("CXX") or tools_unknown or ctx.system is None:
        return
    torch_note = f" (torch {ctx.torch.version} is installed)" if ctx.torch else ""
    yield r.finding(
        ctx,
        detail=(
            "No C++ compiler (g++, c++, clang++, cl) on PATH: torch.compile "
            f"with the default inductor backend will fail{torch_note}."
        ),
        fix=compiler_install_command(ctx.system, ctx.env.os.distro_id),
    )


# --- resources -------------------------------------------------------------------------------


@rule(
    "TS022",
    title="Little free disk space for PyTorch",
    category="resources",
    severity=WARNING,
    catalogue=22,
    sources=("pypa/pip#7745",),
)
def little_disk(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """Installing torch needs space in site-packages, the pip cache and TMPDIR: a CPU build
    about 1 GB (192 MB download, 754 MB installed), a CUDA build with its nvidia-* libraries
    5-8 GB. Too little ends with "[Errno 28] No space left on device" half-way.

    Fix: free space, or point TMPDIR and the pip cache at a larger disk
    (TMPDIR=/big/tmp pip install --no-cache-dir ...).
    """
    need = 8 * GIB if ctx.env.nvidia.gpus else 2 * GIB
    for disk in ctx.env.resources.disks:
        if disk.free_bytes is None or disk.free_bytes >= need:
            continue
        severity = ERROR if disk.free_bytes < need / 4 else WARNING
        kind = "a CUDA build" if ctx.env.nvidia.gpus else "a CPU build"
        fix = (
            "free space there, or use another disk: TMPDIR=/path/with/space "
            "torchsetup install ... (pip: --no-cache-dir)"
        )
        if disk.label == "pip cache":
            fix = f"{ctx.pip('cache', 'purge')}   (or export PIP_CACHE_DIR=/path/with/space)"
        yield r.finding(
            ctx,
            severity=severity,
            detail=(
                f"{disk.label} ({disk.path}) has {disk.free_bytes / GIB:.1f} GiB free; "
                f"{kind} of torch needs about {need / GIB:.0f} GiB."
            ),
            fix=fix,
        )


def all_rules() -> list[Rule]:
    return list(RULES.values())


# The rest of the catalogue registers itself into RULES; imported last (it uses this module).
from torchsetup.doctor import rules_catalogue  # noqa: F401
