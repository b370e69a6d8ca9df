"""What the user asked ``torchsetup install`` for, parsed and checked (pure).

:func:`parse_request` turns the CLI's option values into a frozen :class:`Request`, raising
:class:`~torchsetup.errors.UsageError` (exit 2, one line) for anything malformed. Whether the
request can be met on a machine is the resolver's question, not this module's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Optional

from torchsetup.errors import UsageError
from torchsetup.matrix.model import PLATFORMS
from torchsetup.resolve.plan import COMPANIONS
from torchsetup.versions import cuda_variant_name, variant_cuda, variant_kind, version_tuple

METHODS = ("pip", "uv", "conda", "source")
AUTO = "auto"  # the default of the install command: uv where it is available, else pip

_PLAIN_VERSION = re.compile(r"^\d+(\.\d+){0,2}$")
_SPEC_OPERATOR = re.compile(r"^\s*(===|==|!=|~=|<=|>=|<|>)")
_CUDA = re.compile(r"^\d{1,2}\.\d$")
_ROCM = re.compile(r"^\d+\.\d+(\.\d+)?$")
_VARIANT = re.compile(r"^(cu\d{3}|rocm\d+\.\d+(\.\d+)?|cpu|xpu)$")
_DRIVER = re.compile(r"^\d+(\.\d+){0,2}$")
_MINOR = re.compile(r"^\d+\.\d+$")


@dataclass(frozen=True)
class TorchSelector:
    """--torch: '2.1' (any 2.1.x), '2.0.1' (exactly), or a PEP 440 specifier ('>=2.3,<2.5')."""

    text: str
    prefix: Optional[tuple[int, ...]] = None
    specifier: Any = field(default=None, compare=False)  # packaging SpecifierSet, loaded lazily

    def matches(self, version: str) -> bool:
        if self.prefix is not None:
            return version_tuple(version)[: len(self.prefix)] == self.prefix
        return bool(self.specifier.contains(version, prereleases=False))


@dataclass(frozen=True)
class Request:
    torch: Optional[TorchSelector] = None
    variant: Optional[str] = None  # cu117, cpu, rocm6.2, xpu; None: the best for the hardware
    variant_flag: Optional[str] = None  # as typed: "--cuda 11.7", for messages
    variant_by_name: bool = False  # --variant: unadvertised builds allowed
    method: str = "pip"
    companions: tuple[str, ...] = COMPANIONS
    companions_required: bool = False  # --with named them: a release without one is rejected
    python: Optional[str] = None  # --python PATH (the target interpreter)
    venv: Optional[str] = None  # --venv DIR
    create_venv: bool = False  # --venv DIR does not exist yet: the plan creates it
    index_url: Optional[str] = None  # --index-url mirror / wheelhouse
    target_platform: Optional[str] = None
    target_python: Optional[str] = None
    target_driver: Optional[str] = None  # a version, or "none"
    target_gpus: Optional[tuple[str, ...]] = None
    target_glibc: Optional[str] = None
    stack: tuple[str, ...] = ()  # --stack llm / stack components in --with ("vllm==0.20.2")
    stack_set: Optional[str] = None  # --stack NAME

    @property
    def variant_kind(self) -> Optional[str]:
        return variant_kind(self.variant) if self.variant else None

    @property
    def overrides_target(self) -> bool:
        """True when a --target-* option plans for another machine than this one."""
        return any(
            value is not None
            for value in (
                self.target_platform,
                self.target_python,
                self.target_driver,
                self.target_gpus,
                self.target_glibc,
            )
        )

    def describe(self) -> str:
        """The request as flags: '--cuda 11.7 --torch 2.1 --method conda'."""
        parts = [self.variant_flag] if self.variant_flag else []
        if self.torch is not None:
            parts.append(f"--torch {self.torch.text}")
        if self.method not in ("pip", AUTO):
            parts.append(f"--method {self.method}")
        return " ".join(parts) or "(automatic choice)"


def variant_flag(variant: str) -> str:
    """The flag that asks for ``variant``: cu118 -> '--cuda 11.8', cpu -> '--cpu'."""
    cuda = variant_cuda(variant)
    if cuda:
        return f"--cuda {cuda}"
    if variant == "cpu":
        return "--cpu"
    if variant.startswith("rocm"):
        return f"--rocm {variant[4:]}"
    return f"--variant {variant}"


def parse_torch(text: str) -> TorchSelector:
    value = text.strip()
    if _PLAIN_VERSION.match(value):
        return TorchSelector(text=value, prefix=version_tuple(value))
    if _SPEC_OPERATOR.match(value):
        from packaging.specifiers import InvalidSpecifier, SpecifierSet

        try:
            return TorchSelector(text=value, specifier=SpecifierSet(value))
        except InvalidSpecifier:
            pass
    raise UsageError(
        f"--torch {text}: not a version or version specifier",
        hint="use a release (2.4.1), a series (2.4) or a specifier ('>=2.3,<2.5')",
    )


def parse_variant(
    *, cuda: Optional[str], cpu: bool, rocm: Optional[str], variant: Optional[str]
) -> tuple[Optional[str], Optional[str]]:
    """(variant name, flag as typed) from the mutually exclusive --cuda/--cpu/--rocm/--variant."""
    given = [
        f
        for f, v in (("--cuda", cuda), ("--cpu", cpu), ("--rocm", rocm), ("--variant", variant))
        if v
    ]
    if len(given) > 1:
        raise UsageError(f"{' and '.join(given)} are mutually exclusive", hint="pick one build")
    if cuda is not None:
        if not _CUDA.match(cuda.strip()):
            raise UsageError(
                f"--cuda {cuda}: not a CUDA version", hint="use major.minor, e.g. --cuda 12.8"
            )
        return cuda_variant_name(cuda.strip()), f"--cuda {cuda.strip()}"
    if cpu:
        return "cpu", "--cpu"
    if rocm is not None:
        if not _ROCM.match(rocm.strip()):
            raise UsageError(
                f"--rocm {rocm}: not a ROCm version", hint="e.g. --rocm 6.2 or --rocm 6.2.4"
            )
        return f"rocm{rocm.strip()}", f"--rocm {rocm.strip()}"
    if variant is not None:
        name = variant.strip().lower()
        if not _VARIANT.match(name):
            raise UsageError(
                f"--variant {variant}: not a build name",
                hint="cuXYZ (cu128), rocmX.Y (rocm6.2), cpu or xpu",
            )
        return name, f"--variant {name}"
    return None, None


def split_with(with_: Optional[str]) -> tuple[Optional[str], tuple[str, ...]]:
    """--with split into the torch companions (as a --with value, None if it names none) and the
    LLM-stack components (``vllm==0.20.2``), which resolve.stack parses."""
    if with_ is None:
        return None, ()
    items = [n.strip() for n in with_.split(",") if n.strip()]
    companions = [n for n in items if n.lower() in COMPANIONS]
    stack = tuple(n for n in items if n.lower() not in COMPANIONS)
    if stack:
        from torchsetup.resolve.stack import parse_want

        for item in stack:
            parse_want(item)  # UsageError for an unknown name or a bad specifier
    return (",".join(companions) if companions else None), stack


def parse_companions(with_: Optional[str], only: Optional[str]) -> tuple[tuple[str, ...], bool]:
    """(companion packages, required?) from --with / --only."""
    if with_ and only:
        raise UsageError("--with and --only are mutually exclusive")
    if only is not None:
        names = _names(only, "--only", ("torch", *COMPANIONS))
        if "torch" not in names:
            raise UsageError(f"--only {only}: torch is always installed", hint="e.g. --only torch")
        return tuple(n for n in COMPANIONS if n in names), True
    if with_ is not None:
        names = _names(with_, "--with", COMPANIONS)
        return tuple(n for n in COMPANIONS if n in names), True
    return COMPANIONS, False


def _names(value: str, flag: str, allowed: tuple[str, ...]) -> set[str]:
    names = {n.strip().lower() for n in value.split(",") if n.strip()}
    unknown = sorted(names - set(allowed))
    if unknown or not names:
        raise UsageError(
            f"{flag} {value}: unknown package {', '.join(unknown) or '(none)'}",
            hint=f"choose from {', '.join(allowed)}",
        )
    return names


def _check(value: Optional[str], pattern: re.Pattern[str], flag: str, hint: str) -> Optional[str]:
    if value is None:
        return None
    if not pattern.match(value.strip()):
        raise UsageError(f"{flag} {value}: malformed", hint=hint)
    return value.strip()


def _gpu_token(text: str) -> str:
    """A ``--target-gpu`` item as the resolver takes it: a compute capability, a gfx target, an
    Intel or Jetson name (lower case), or the capability the GPU table knows for an NVIDIA
    model name ("" when it knows none: refused as malformed)."""
    from torchsetup.resolve.vendors import gpu_token_kind

    if _MINOR.match(text) or gpu_token_kind(text):
        return text.lower()
    from torchsetup.matrix.gpus import capability_from_name

    return capability_from_name(text) or ""


def parse_targets(
    *,
    platform: Optional[str],
    python: Optional[str],
    driver: Optional[str],
    gpus: Optional[str],
    glibc: Optional[str],
) -> dict[str, Any]:
    if platform is not None and platform not in PLATFORMS:
        raise UsageError(
            f"--target-platform {platform}: unknown platform", hint=f"one of {', '.join(PLATFORMS)}"
        )
    if driver is not None and driver.strip().lower() == "none":
        driver = "none"
    else:
        driver = _check(
            driver, _DRIVER, "--target-driver", "an NVIDIA driver version (535.104.05) or none"
        )
    gpu_list = None
    if gpus is not None:
        from torchsetup.resolve.vendors import gpu_token_kind

        gpu_list = tuple(_gpu_token(g.strip()) for g in gpus.split(",") if g.strip())
        if not gpu_list or not all(gpu_token_kind(g) for g in gpu_list):
            raise UsageError(
                f"--target-gpu {gpus}: malformed",
                hint='NVIDIA compute capabilities or models (6.1,8.6 or "GeForce GTX 1080 Ti"), '
                "AMD gfx targets (gfx1100), Intel GPUs (arc-a770, b580, max-1550, core-ultra) or "
                "Jetson boards (orin, xavier, thor)",
            )
    return {
        "target_platform": platform,
        "target_python": _check(python, _MINOR, "--target-python", "major.minor, e.g. 3.11"),
        "target_driver": driver,
        "target_gpus": gpu_list,
        "target_glibc": _check(glibc, _MINOR, "--target-glibc", "major.minor, e.g. 2.28"),
    }


def parse_request(
    *,
    torch: Optional[str] = None,
    cuda: Optional[str] = None,
    cpu: bool = False,
    rocm: Optional[str] = None,
    variant: Optional[str] = None,
    method: str = "pip",
    with_: Optional[str] = None,
    only: Optional[str] = None,
    python: Optional[str] = None,
    venv: Optional[str] = None,
    create_venv: bool = False,
    index_url: Optional[str] = None,
    target_platform: Optional[str] = None,
    target_python: Optional[str] = None,
    target_driver: Optional[str] = None,
    target_gpu: Optional[str] = None,
    target_glibc: Optional[str] = None,
    stack: Optional[str] = None,
) -> Request:
    """Check every option and build the :class:`Request`; UsageError for the first bad one."""
    if method not in (*METHODS, AUTO):
        raise UsageError(f"--method {method}: unknown", hint=f"one of {', '.join(METHODS)}")
    name, flag = parse_variant(cuda=cuda, cpu=cpu, rocm=rocm, variant=variant)
    with_, stack_items = split_with(with_)
    if stack is not None and stack.strip().lower() not in ("llm",):
        raise UsageError(f"--stack {stack}: unknown stack", hint="--stack llm")
    if (stack or stack_items) and only is not None:
        raise UsageError("--only and --stack/--with components are mutually exclusive")
    companions, required = parse_companions(with_, only)
    if python and venv:
        raise UsageError("--python and --venv are mutually exclusive")
    if index_url is not None:
        if method in ("conda", "source"):
            raise UsageError(f"--index-url applies to --method pip or uv, not {method}")
        if not re.match(r"^(https?|file)://", index_url):
            raise UsageError("--index-url must be an http(s):// or file:// URL")
    return Request(
        torch=parse_torch(torch) if torch is not None else None,
        variant=name,
        variant_flag=flag,
        variant_by_name=variant is not None,
        method=method,
        companions=companions,
        companions_required=required,
        python=python,
        venv=venv,
        create_venv=create_venv,
        index_url=index_url,
        **parse_targets(
            platform=target_platform,
            python=target_python,
            driver=target_driver,
            gpus=target_gpu,
            glibc=target_glibc,
        ),
        stack=stack_items,
        stack_set=stack.strip().lower() if stack else None,
    )
