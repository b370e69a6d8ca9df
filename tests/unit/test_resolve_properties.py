"""Property tests: over generated machines and requests the resolver never crashes (a Plan or a
ResolutionError, nothing else) and never returns a plan that breaks a rule.

Every rule is re-checked here independently of the resolver's own code: from the raw
matrix.json document, with a separate coverage and version comparison.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from torchsetup.detect.model import Amd, AmdGpu, Environment, Gpu, Nvidia, OSInfo, TargetPython
from torchsetup.errors import ResolutionError
from torchsetup.matrix.load import load_matrix
from torchsetup.resolve.plan import Plan
from torchsetup.resolve.request import Request, parse_request
from torchsetup.resolve.resolver import resolve

RAW = json.loads(
    (Path(__file__).resolve().parents[2] / "src/torchsetup/resources/matrix.json").read_text()
)
RELEASES = {r["torch"]: r for r in RAW["releases"]}
CUDA_ROWS = {c["variant"]: c for c in RAW["cuda"]}
PIP_FLOORS = {"manylinux2014": "19.3", "manylinux_2_28": "20.3", "macosx_11_0": "20.3"}
ROCM_TARGETS = {
    variant: set(row["targets"].split(";"))
    for row in RAW["gpu_vendors"]["rocm_targets"]
    for variant in row["variants"]
}
GFX = ["gfx1100", "gfx942", "gfx90a", "gfx1103", "gfx1201", "gfx908", "gfx1030"]

PLATFORM_OS = {
    "linux-x86_64": ("Linux", "x86_64"),
    "linux-aarch64": ("Linux", "aarch64"),
    "windows-x86_64": ("Windows", "AMD64"),
    "macos-arm64": ("Darwin", "arm64"),
    "macos-x86_64": ("Darwin", "x86_64"),
}
DRIVERS = [
    "418.67",
    "450.80.02",
    "470.82.01",
    "515.43.04",
    "520.61.05",
    "525.60.13",
    "530.30.02",
    "535.104.05",
    "550.54.14",
    "560.28.03",
    "560.94",
    "570.26",
    "575.51.03",
    "580",
    "580.65.06",
    "580.95.05",
    "595.45.04",
    "610.0",
]
CCS = [
    "3.7",
    "5.0",
    "5.2",
    "6.0",
    "6.1",
    "7.0",
    "7.2",
    "7.5",
    "8.0",
    "8.6",
    "8.7",
    "8.9",
    "9.0",
    "10.0",
    "10.3",
    "11.0",
    "12.0",
    "12.1",
]


def vt(text: str) -> tuple[int, ...]:
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (4 - len(parts)))


def driver_cuda_of(driver: str) -> Optional[str]:
    """What a real driver reports: the newest CUDA whose toolkit minimum it meets."""
    best = None
    for row in RAW["cuda"]:
        if row["linux_min_driver"] and vt(driver) >= vt(row["linux_min_driver"]):
            best = row["version"]
    return best


@st.composite
def environments(draw: st.DrawFn) -> Environment:
    platform = draw(st.sampled_from(sorted(PLATFORM_OS)))
    system, machine = PLATFORM_OS[platform]
    libc = draw(st.sampled_from(["glibc"] * 8 + ["musl", None])) if system == "Linux" else None
    glibc = (
        draw(st.sampled_from(["2.12", "2.17", "2.27", "2.28", "2.31", "2.39", None]))
        if libc == "glibc"
        else None
    )
    python = TargetPython(
        executable="/x/bin/python",
        ok=True,
        machine=machine,
        version=draw(st.sampled_from(["3.7.9", "3.15.0"] + [f"3.{m}.1" for m in range(8, 15)] * 3)),
        pip_version=draw(
            st.sampled_from(["9.0.1", "19.3", "20.2.3", "20.3", "21.3.1", "24.0", None])
        ),
        bits=draw(st.sampled_from([64] * 15 + [32])),
    )
    nvidia = Nvidia(status="no-driver")
    if system != "Darwin" and draw(st.sampled_from([True, True, False])):
        driver = draw(st.sampled_from(DRIVERS))
        ccs = draw(st.lists(st.sampled_from(CCS), max_size=3))
        nvidia = Nvidia(
            status="ok",
            driver_version=driver,
            cuda_driver_version=driver_cuda_of(driver) if draw(st.booleans()) else None,
            gpus=tuple(
                Gpu(index=i, name=f"GPU{i}", compute_capability=cc) for i, cc in enumerate(ccs)
            ),
        )
    os_info = OSInfo(system=system, machine=machine, libc=libc, libc_version=glibc)
    amd = None
    if system == "Linux" and draw(st.sampled_from([False, False, True])):
        amd = Amd(
            status="ok",
            gpus=tuple(
                AmdGpu(index=i, name=f"AMD{i}", gfx=gfx)
                for i, gfx in enumerate(
                    draw(st.lists(st.sampled_from(GFX), min_size=1, max_size=2))
                )
            ),
            rocm_version=draw(st.sampled_from(["6.4.1", "7.2.0", None])),
            kfd=draw(st.sampled_from([True, True, False])),
        )
    return Environment(os=os_info, python=python, nvidia=nvidia, amd=amd)


@st.composite
def requests(draw: st.DrawFn) -> Request:
    options: dict[str, Any] = {
        "torch": draw(
            st.sampled_from(
                [None, None, "2", "2.0", "2.4", "2.0.1", "2.11.0", ">=2.5,<2.9", "~=2.6.0"]
            )
        ),
        "method": draw(st.sampled_from(["pip"] * 4 + ["uv", "conda"])),
    }
    build = draw(st.sampled_from(["auto"] * 4 + ["cuda", "cuda", "cpu", "rocm", "variant"]))
    if build == "cuda":
        options["cuda"] = draw(
            st.sampled_from(
                [
                    "11.7",
                    "11.8",
                    "12.1",
                    "12.4",
                    "12.6",
                    "12.8",
                    "12.9",
                    "13.0",
                    "13.2",
                    "13.4",
                    "12.3",
                ]
            )
        )
    elif build == "cpu":
        options["cpu"] = True
    elif build == "rocm":
        options["rocm"] = draw(st.sampled_from(["5.4.2", "6.2", "6.2.4", "7.2"]))
    elif build == "variant":
        options["variant"] = draw(st.sampled_from(["cu129", "cu134", "xpu", "rocm6.2.4", "cu118"]))
    companions: dict[str, Any] = draw(
        st.sampled_from([{}, {"only": "torch"}, {"with_": "torchaudio"}, {"with_": "torchvision"}])
    )
    return parse_request(**options, **companions)


def coverage(arch: str, cc: tuple[int, int]) -> Optional[str]:
    sass = ptx = False
    for entry in arch.split(";"):
        has_ptx = entry.endswith("+PTX")
        item = entry.removesuffix("+PTX")
        exact = item.endswith("a")
        major, minor = (int(x) for x in item.rstrip("af").split("."))
        if major == cc[0] and (minor == cc[1] if exact else minor <= cc[1]):
            sass = True
        if has_ptx and (major, minor) <= cc:
            ptx = True
    return "sass" if sass else "ptx" if ptx else None


def check_rules(env: Environment, request: Request, plan: Plan) -> None:
    assert env.python is not None and env.python.version is not None
    platform = plan.detail("platform")
    release = RELEASES[plan.torch]
    variant = release["variants"][plan.variant]
    minor = ".".join(env.python.version.split(".")[:2])
    family = platform.split("-")[0] if platform else ""

    # the release matches --torch, has wheels for this Python, ships for the platform
    assert request.torch is None or request.torch.matches(plan.torch)
    assert minor in release["python"] or any(
        e["version"] == minor and (e["platforms"] is None or platform in e["platforms"])
        for e in release["python_experimental"]
    )
    assert release["platforms"][platform]["available"]
    assert env.python.bits != 32 and env.os.libc != "musl"

    # the build: what was asked for, offered here, advertised unless named
    if request.variant is not None:
        assert plan.variant == request.variant
    elif family == "macos":
        assert plan.variant == "cpu"
    elif env.nvidia.driver_version or amd_usable(env):  # CPU is never automatic (--cpu opts in)
        kinds = ("cu",) * bool(env.nvidia.driver_version) + ("rocm",) * amd_usable(env)
        assert plan.variant.startswith(kinds), ("automatic CPU plan on a GPU machine", plan.variant)
    else:
        assert plan.variant == "cpu"
    if plan.variant.startswith("rocm") and request.variant is None:
        assert env.amd is not None  # ROCm only for an AMD GPU, with kernels for every one
        assert all(g.gfx in ROCM_TARGETS[plan.variant] for g in env.amd.gpus), plan.variant
    if not variant["advertised"]:
        assert request.variant_by_name
    if request.method == "conda":
        assert (
            release["conda"] is not None and plan.variant in release["conda"]["commands"]
        ) or family == "macos"
    else:
        assert (
            platform in variant["platforms"]
            or release["platforms"][platform]["pypi_default"] == plan.variant
        )

    # driver and kernels
    driver = env.nvidia.driver_version
    if plan.variant.startswith("cu") and driver:
        row = CUDA_ROWS[plan.variant]
        full_min = row[f"{family}_min_driver"]
        floor = row[f"minor_compat_{family}"]
        reported = env.nvidia.cuda_driver_version
        full = bool(reported and vt(reported) >= vt(row["version"])) or bool(
            full_min and vt(driver) >= vt(full_min)
        )
        assert full or (floor and vt(driver) >= vt(floor)), (driver, plan.variant)
        arch_key = f"conda:{platform}" if request.method == "conda" else platform
        arch = variant["arch"].get(arch_key)
        gpus = [
            tuple(int(x) for x in g.compute_capability.split("."))
            for g in env.nvidia.gpus
            if g.compute_capability
        ]
        if gpus and arch is None:
            assert (
                request.variant is not None
            )  # an automatic choice never rests on an unknown kernel list
        for cc in gpus if arch else []:
            got = coverage(arch["list"], cc)  # type: ignore[arg-type]
            assert got is not None, (plan.torch, plan.variant, cc)
            assert got == "sass" or full, "PTX-only coverage under minor-version compatibility"
        if request.variant is None:
            better = [
                v
                for v in release["variants"]
                if v.startswith("cu") and vt(CUDA_ROWS[v]["version"]) > vt(row["version"])
            ]
            assert plan.detail("driver_support") in ("full", "minor")
            assert all(
                r.torch != plan.torch or r.variant not in better or r.reason for r in plan.rejected
            )
            if request.method != "conda":  # "Not chosen" accounts for every newer build
                listed = {(r.torch, r.variant) for r in plan.rejected}
                order = list(RELEASES)
                for newer in order[: order.index(plan.torch)]:
                    if request.torch is not None and not request.torch.matches(newer):
                        continue
                    if (newer, "*") in listed:
                        continue
                    for name, build in RELEASES[newer]["variants"].items():
                        if name.startswith("cu") and platform in build["platforms"]:
                            assert (newer, name) in listed, ("Not chosen hides", newer, name)

    # glibc floor of the wheel, pip that understands its tag, one index
    wheel = variant["wheels"].get(platform) or release["platforms"][platform]
    if family == "linux" and env.os.libc_version and wheel["min_glibc"]:
        assert vt(env.os.libc_version) >= vt(wheel["min_glibc"])
    if request.method in ("pip", "uv"):
        install = plan.steps[-1].argv
        assert install.count("--index-url") == 1 and "--extra-index-url" not in install
        assert install[install.index("--index-url") + 1] in (
            variant["index_url"],
            RAW["pypi_index_url"],
        )
    if request.method == "pip":
        floor = next(
            (v for k, v in PIP_FLOORS.items() if (wheel["wheel_tag"] or "").startswith(k)), None
        )
        needs_upgrade = bool(
            floor and env.python.pip_version and vt(env.python.pip_version) < vt(floor)
        )
        assert (plan.steps[0].id == "upgrade-pip") == needs_upgrade


def amd_usable(env: Environment) -> bool:
    """An AMD GPU with its kernel driver whose gfx target some ROCm build ships kernels for."""
    known = set().union(*ROCM_TARGETS.values())
    amd = env.amd
    return bool(
        amd is not None and (amd.kfd or amd.rocm_version) and any(g.gfx in known for g in amd.gpus)
    )


def machine(platform: str, driver: str, *ccs: str, python: str = "3.10.4") -> Environment:
    system, arch = PLATFORM_OS[platform]
    return Environment(
        os=OSInfo(
            system=system,
            machine=arch,
            libc="glibc" if system == "Linux" else None,
            libc_version="2.39" if system == "Linux" else None,
        ),
        python=TargetPython(
            executable="/x/bin/python", ok=True, machine=arch, version=python, pip_version="24.0"
        ),
        nvidia=Nvidia(
            status="ok",
            driver_version=driver,
            gpus=tuple(
                Gpu(index=i, name=f"GPU{i}", compute_capability=cc) for i, cc in enumerate(ccs)
            ),
        ),
    )


def amd_machine(*gfx: str, kfd: bool = True) -> Environment:
    env = machine("linux-x86_64", "418.67")
    return Environment(
        os=env.os,
        python=env.python,
        nvidia=Nvidia(status="no-driver"),
        amd=Amd(
            status="ok",
            gpus=tuple(AmdGpu(index=i, name=f"AMD{i}", gfx=g) for i, g in enumerate(gfx)),
            kfd=kfd,
        ),
    )


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(env=environments(), request=requests())
# PTX-only coverage (3.7+PTX on Windows cu118, 12.0+PTX on 2.10 cu130) under minor-version compatibility
@example(
    env=machine("windows-x86_64", "470.82.01", "12.0", python="3.9.13"), request=parse_request()
)
@example(
    env=machine("linux-x86_64", "580.10", "13.0"),
    request=parse_request(variant="cu130", torch="2.10.0"),
)
# AMD: a supported gfx gets ROCm; gfx1103 (no kernels anywhere) and no /dev/kfd get CPU
@example(env=amd_machine("gfx1100"), request=parse_request())
@example(env=amd_machine("gfx942", "gfx1103"), request=parse_request(torch="2.6"))
@example(env=amd_machine("gfx1103"), request=parse_request())
@example(env=amd_machine("gfx1100", kfd=False), request=parse_request())
def test_resolver_never_crashes_nor_breaks_a_rule(env: Environment, request: Request) -> None:
    try:
        plan = resolve(env, request, load_matrix())
    except ResolutionError as exc:
        assert exc.exit_code == 2 and exc.message
        event("refused")
        return
    event(f"planned {plan.method} {'cuda' if plan.variant.startswith('cu') else plan.variant[:4]}")
    check_rules(env, request, plan)
