"""Curate src/torchsetup/resources/matrix.json from the research record tools/reference/compat.json.

compat.json is a research record: free-text fields, platform notes repeated per release, a few
gaps and disagreements. matrix.json is the clean, validated table torchsetup ships. Every
decision this script makes on top of compat.json is written below as data with its source and,
where it is not read directly from a primary source, ``"inferred": true``.

    python tools/curate_matrix.py            # print a summary of what would change
    python tools/curate_matrix.py --write    # write src/torchsetup/resources/matrix.json

The output is deterministic (sorted keys where order carries no meaning), so a re-run on the
same compat.json gives a byte-identical file; tests check that (tests/unit/test_matrix_data.py).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any, Optional

from torchsetup.versions import version_tuple

ROOT = Path(__file__).resolve().parent.parent
COMPAT = ROOT / "tools" / "reference" / "compat.json"
CURATION = ROOT / "tools" / "reference" / "curation.json"
OUTPUT = ROOT / "src" / "torchsetup" / "resources" / "matrix.json"
OBSERVATIONS = (
    ROOT / "tools" / "reference" / "index_observations.json"
)  # written by update_matrix.py

PLATFORMS = ["linux-x86_64", "linux-aarch64", "windows-x86_64", "macos-arm64", "macos-x86_64"]
PYPI_INDEX = "https://pypi.org/simple"
WHL = "https://download.pytorch.org/whl/"
MANYLINUX_GLIBC = {"manylinux1": "2.5", "manylinux2014": "2.17", "manylinux_2_28": "2.28"}

# --- decisions and additions (each with its source) ---------------------------------------------

PIP_FLOORS = [
    {
        "tag": "manylinux2014",
        "min_pip": "19.3",
        "source": "PEP 599 (manylinux2014) support landed in pip 19.3 (pip changelog 19.3, 2019-10-14)",
    },
    {
        "tag": "manylinux_2_28",
        "min_pip": "20.3",
        "source": "PEP 600 (manylinux_x_y) tags are recognised from pip 20.3 (pip changelog 20.3, 2020-11-30)",
    },
    {
        "tag": "macosx_11_0",
        "min_pip": "20.3",
        "source": "macOS 11 (Big Sur) / arm64 compatibility tags are recognised from pip 20.3 (pip changelog 20.3)",
    },
    {
        "tag": "editable-pep660",
        "min_pip": "21.3",
        "source": "PEP 660 editable installs (`pip install -e .` for pyproject builds) need pip 21.3 (pip changelog 21.3)",
    },
]

_GCC_SOURCE = (
    "NVIDIA CUDA Installation Guide for Linux, 'Host Compiler Support Policy' "
    "(https://docs.nvidia.com/cuda/cuda-installation-guide-linux/#host-compiler-support-policy and "
    "https://docs.nvidia.com/cuda/archive/<version>/cuda-installation-guide-linux/), enforced by "
    "include/crt/host_config.h ('#error -- unsupported GNU version! gcc versions later than N are not "
    "supported!'); as transcribed in spack/spack-packages repos/spack_repo/builtin/build_systems/cuda.py "
    "@1d335f8 (conflicts('%gcc@12:', when='%cuda@:11.8'), '%gcc@13:' @:12.3, '%gcc@14:' @:12.6, "
    "'%gcc@15:' @:12.9, '%gcc@16:' @:13.2) and NVIDIA-maintained conda-forge/cuda-nvcc-impl-feedstock "
    "gcc_constraint (<15.0a0 for 12.8/12.9 'CUDA 12.8 now supports GCC 14', <16.0a0 from 13.0.48)"
)
# CUDA version -> (newest GCC major nvcc accepts, inferred?, note)
MAX_GCC: dict[str, tuple[int, bool, Optional[str]]] = {
    "11.7": (11, False, None),
    "11.8": (11, False, None),
    "12.1": (12, False, None),
    "12.4": (
        13,
        False,
        (
            "conda-forge cuda-nvcc-impl 12.4.x pinned gcc <13 (packaging lag; GCC 13 allowed from its 12.5 "
            "recipe); NVIDIA's policy and spack allow GCC 13 for 12.4. We follow NVIDIA."
        ),
    ),
    "12.6": (13, False, None),
    "12.8": (14, False, None),
    "12.9": (14, False, None),
    "13.0": (15, False, None),
    "13.1": (
        15,
        False,
        (
            "The 13.1 installation guide briefly listed GCC 14 as the maximum (spack/spack-packages PR #3028 "
            "review: 'a step back ... from gcc@:15 to gcc@:14'); host_config.h and conda-forge accept 15."
        ),
    ),
    "13.2": (15, False, None),
    "13.4": (
        15,
        True,
        (
            "No 13.4 host-compiler table found; CUDA 13.3's host_config.h rejects gcc > 15 "
            "(cms-patatrack/pixeltrack-standalone PR #432), so 13.4 is assumed to accept up to GCC 15."
        ),
    ),
}

# Windows minimum drivers NVIDIA lists as N/A for 13.x (driver no longer bundled on Windows).
WINDOWS_DRIVER_FILL: dict[str, dict[str, Any]] = {
    "13.0": {
        "windows_min_driver": "580.88",
        "minor_compat_windows": "580",
        "note": "NVIDIA's table shows N/A for Windows on 13.x; 580.88 pairs with Linux 580.65.06 in a "
        "third-party driver mapping, and the R580 branch is the 13.x minor-version floor.",
    },
    "13.1": {
        "minor_compat_windows": "580",
        "note": "Windows: R580 branch floor assumed as for Linux.",
    },
    "13.2": {
        "minor_compat_windows": "580",
        "note": "Windows: R580 branch floor assumed as for Linux.",
    },
    "13.4": {"minor_compat_windows": "580", "note": "Windows: no cu134 Windows build exists."},
}
MINOR_COMPAT_13_4 = {
    "minor_compat_linux": "580",
    "source": "No NVIDIA driver table row for CUDA 13.4 (compat.json); the 13.x minor-version "
    "compatibility floor (>= 580, NVIDIA CUDA Toolkit Release Notes Table 2) is applied. The full "
    "toolkit minimum is unknown, so cu134 is only ever planned under minor-version compatibility.",
}

XPU_SOURCE = {
    "2.5": "pytorch/pytorch PR #137478/#137479 ('this is the first wheel release for Intel GPU', "
    "get_start_xpu: pip3 install torch --index-url https://download.pytorch.org/whl/xpu; Linux and "
    "Windows); pytorch/pytorch#138416",
    "2.6": "pytorch/pytorch#145290 (torch-2.6.0+xpu win_amd64 wheels on whl/test/xpu); 2.6.0 release "
    "notes (Linux XPU binaries on Manylinux 2.28)",
    "2.7": "pytorch/pytorch PR #150397 'update get start xpu document for v2.7'",
    "2.10": "dev-discuss 'Wheel variants for PyTorch release 2.10 published' (XPU for Windows/Linux x86)",
}

SOURCE_BUILD_SOURCE = (
    "pytorch/pytorch README 'Install PyTorch': `pip install -r requirements.txt` then "
    "`python setup.py develop`; replaced by `python -m pip install --no-build-isolation -v -e .` "
    "(PR #156027 'modernize build-frontend', June-July 2025, and #162329 'Eliminate setup.py "
    "install/develop', Sept 2025). The switch is placed at 2.9 (first branch cut after #156027)."
)

# Where the PyPI promotion dropped '+PTX' from a RELEASE.md arch list.
PTX_DROP_NOTE = (
    "RELEASE.md lists 12.0+PTX, but this build is the one promoted to PyPI and malfet on PR #175253: "
    "'If we are to promote 13 to pypi, +PTX have to be dropped'. The real capture of torch "
    "2.11.0+cu130 on linux-x86_64 (tests/data/real/h200-ubuntu24.04-driver580-torch2.11cu130/"
    "torch_info.txt) shows sm_75,sm_80,sm_86,sm_90,sm_100,sm_120 and no compute_120 PTX. We follow the "
    "capture and drop +PTX for every build promoted to PyPI."
)
CAPTURE_SOURCE = (
    "real capture tests/data/real/h200-ubuntu24.04-driver580-torch2.11cu130/torch_info.txt "
    "(torch.cuda.get_arch_list() and NVCC architecture flags of torch 2.11.0+cu130)"
)

DECISIONS = [
    {
        "topic": "2.11.0 cu130 +PTX (real capture)",
        "detail": "compat.json (RELEASE.md) gives 7.5;8.0;8.6;9.0;10.0;12.0+PTX for 2.11.0 cu130 linux-x86_64; "
        "the real H200 capture of torch 2.11.0+cu130 shows sm_75..sm_120 and no PTX.",
        "decision": "Follow the capture: no +PTX for 2.11.0 cu130, and (inferred) for every other build "
        "promoted to PyPI (2.12.x/2.13.0 cu130, 2.14.x cu132, aarch64 cu130 2.11-2.13). Without PTX a "
        "GPU newer than the list is refused instead of JIT-compiled: the safe side.",
    },
    {
        "topic": "cu117 index",
        "detail": "compat.json records cu117 as the PyPI default (index_url null) with an explicit "
        "https://download.pytorch.org/whl/cu117 index.",
        "decision": "Plan cu117 from https://download.pytorch.org/whl/cu117 (always --index-url), on "
        "linux-x86_64 and windows-x86_64.",
    },
    {
        "topic": "Python 3.12 for 2.2/2.3",
        "detail": "RELEASE.md: experimental; test-infra validates cp312 wheels.",
        "decision": "cp312 wheels exist, so 3.12 is installable but marked experimental (plans warn).",
    },
    {
        "topic": "Python 3.13 for 2.5",
        "detail": "RELEASE.md: '(3.13 experimental)'; Linux wheels only.",
        "decision": "3.13 experimental for 2.5.x on linux-x86_64 only.",
    },
    {
        "topic": "Python 3.15 for 2.13/2.14",
        "detail": "RELEASE.md lists experimental 3.15; test-infra keeps it out of the release channel.",
        "decision": "Not offered (no release wheels on PyPI).",
    },
    {
        "topic": "2.8 aarch64 CUDA variant",
        "detail": "test-infra: 12.9-aarch64 only; pytorch/pytorch#160162: cu128 index has aarch64 wheels.",
        "decision": "Follow test-infra: cu129 on linux-aarch64 for 2.8.0; its arch list is unknown, so it "
        "is only planned on explicit request.",
    },
    {
        "topic": "2.8 cu128/cu129 sm_70",
        "detail": "Release notes say sm_70 dropped; the build list includes 7.0.",
        "decision": "Follow the build list (7.0 covered), as compat.json does.",
    },
    {
        "topic": "manylinux/glibc",
        "detail": "RELEASE.md says glibc 2.17 for all releases; >=2.7 wheels are manylinux_2_28.",
        "decision": "glibc 2.17 for 2.0-2.5 (and 2.6 PyPI/cpu/cu118/cu124), 2.28 for 2.6 cu126/ROCm/XPU and "
        "every 2.7+ Linux wheel; aarch64 2.17 up to 2.3, 2.28 from 2.4.",
    },
    {
        "topic": "Windows arch lists",
        "detail": "No Windows TORCH_CUDA_ARCH_LIST was found for several 2.6-2.14 builds.",
        "decision": "Use the Linux list of the same build without +PTX, marked inferred. Windows lists "
        "were always a superset of the Linux ones (6.1, 3.7+PTX), so this can only under-claim.",
    },
    {
        "topic": "unadvertised builds",
        "detail": "cu129 after 2.8 and cu134 exist but are not on the get-started pages.",
        "decision": "Kept with advertised=false: planned only for an explicit --variant, never chosen "
        "automatically.",
    },
    {
        "topic": "CPU wheels on linux-aarch64 from 2.11",
        "detail": "From 2.11 the PyPI aarch64 wheel is the cu130 build; compat.json lists no CPU aarch64 wheel.",
        "decision": "Assume https://download.pytorch.org/whl/cpu carries aarch64 wheels (inferred; "
        "tools/update_matrix.py checks it against the live index).",
    },
    {
        "topic": "conda arch lists on Windows",
        "detail": "compat.json gives conda arch lists for Linux only.",
        "decision": "Windows conda packages were built by the same builder windows/cuda*.bat scripts as the "
        "wheels: use the Windows wheel list, marked inferred.",
    },
    {
        "topic": "2.14.x",
        "detail": "Release date, variant set and commands are not confirmed (compat.json: inferred).",
        "decision": "Kept as advertised (published_versions.json latest_stable 2.14.1) with every 2.14 "
        "entry marked inferred; plans based on it carry a warning.",
    },
]

# The declared curation input: the facts copied into matrix.json and the version thresholds.
CURATION_INPUT: dict[str, Any] = json.loads(CURATION.read_text(encoding="utf-8"))
THRESHOLDS: dict[str, dict[str, Any]] = CURATION_INPUT["thresholds"]
COMPAT_DECISIONS: dict[str, str] = CURATION_INPUT["compat_decisions"]


class CurationError(SystemExit):
    """The curation input does not cover something compat.json holds."""


def applies(threshold: str, torch: str) -> bool:
    """Whether the declared threshold ``threshold`` (tools/reference/curation.json) holds for
    ``torch``: from (>=), before (<), through (<=) or in (one of the listed minor series)."""
    rule = THRESHOLDS.get(threshold)
    if rule is None:
        raise CurationError(
            f"curation.json: no threshold {threshold!r} (declared: {sorted(THRESHOLDS)})"
        )
    t = version_tuple(torch)
    if "from" in rule:
        return t >= version_tuple(rule["from"])
    if "before" in rule:
        return t < version_tuple(rule["before"])
    if "through" in rule:
        return t <= version_tuple(rule["through"])
    return t[:2] in {version_tuple(v)[:2] for v in rule["in"]}


# --- helpers -----------------------------------------------------------------------------------


def floor_of(spec: Optional[str]) -> Optional[str]:
    """'>=450.80.02' -> '450.80.02'."""
    if spec is None:
        return None
    return spec.lstrip(">= ").strip()


def variant_cuda(name: str) -> Optional[str]:
    m = re.fullmatch(r"cu(\d\d)(\d)", name)
    return f"{int(m.group(1))}.{m.group(2)}" if m else None


def glibc_of_tag(tag: str) -> Optional[str]:
    for prefix, glibc in sorted(MANYLINUX_GLIBC.items(), key=lambda kv: -len(kv[0])):
        if tag.startswith(prefix + "_") or tag == prefix:
            return glibc
    return None


def expand_torch_pattern(pattern: str, versions: list[str]) -> list[str]:
    """'2.9.x, 2.10.0', '2.9.x–2.14.x', '2.12.x, 2.13.0 (unadvertised builds)' -> release list."""
    pattern = re.sub(r"\(.*?\)", "", pattern).strip()
    out: list[str] = []
    for token in (t.strip() for t in pattern.split(",")):
        if "–" in token:
            lo, hi = (p.strip() for p in token.split("–"))
            lo_t = version_tuple(lo.replace("x", "0"))
            hi_t = version_tuple(hi.replace("x", "999"))
            out += [v for v in versions if lo_t <= version_tuple(v) <= hi_t]
        elif token.endswith(".x"):
            out += [v for v in versions if v.startswith(token[:-1])]
        else:
            out += [v for v in versions if v == token]
    if not out:
        raise SystemExit(f"arch-list torch pattern {pattern!r} matches no release")
    return out


def arch_platforms(platform: str) -> Optional[dict[str, bool]]:
    """Platform text of a cuda_arch_lists entry -> {key: strip_ptx} (None = skip the entry)."""
    if platform.startswith("linux-aarch64 (nightly"):
        return None
    if platform.startswith("conda"):
        return {"conda:linux-x86_64": False}
    if platform == "linux-x86_64 and windows-x86_64":
        return {"linux-x86_64": False, "windows-x86_64": False}
    if platform == "linux-x86_64 (Windows: same without +PTX)":
        return {"linux-x86_64": False, "windows-x86_64": True}
    if platform in PLATFORMS:
        return {platform: False}
    raise SystemExit(f"unknown arch-list platform {platform!r}")


def strip_ptx(arch_list: str) -> str:
    return arch_list.replace("+PTX", "")


def command_tokens(command: str) -> list[str]:
    return command.split()


# --- the curation --------------------------------------------------------------------------------


def curate_cuda(compat: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for row in compat["cuda_driver_minimums"]:
        cuda = row["cuda"]
        variant = row["pytorch_variant"] or ("cu" + cuda.replace(".", ""))
        inferred: list[str] = []
        out: dict[str, Any] = {
            "version": cuda,
            "variant": variant,
            "linux_min_driver": row.get("linux_min_driver"),
            "windows_min_driver": row.get("windows_min_driver"),
            "minor_compat_linux": floor_of(row.get("minor_compat_linux")),
            "minor_compat_windows": floor_of(row.get("minor_compat_windows")),
            "source": row["source"],
            "minor_compat_source": row.get("minor_compat_source"),
            "minor_compat_caveat": row.get("minor_compat_caveat"),
            "used_by_torch": row.get("used_by_torch", []),
        }
        notes = [n for n in (row.get("note"), row.get("windows_note")) if n]
        if cuda == "13.4":
            out["minor_compat_linux"] = MINOR_COMPAT_13_4["minor_compat_linux"]
            out["minor_compat_source"] = MINOR_COMPAT_13_4["source"]
            out["minor_compat_caveat"] = compat["cuda_driver_minimums"][0]["minor_compat_caveat"]
            inferred.append("minor_compat_linux")
        fill = WINDOWS_DRIVER_FILL.get(cuda)
        if fill:
            for key in ("windows_min_driver", "minor_compat_windows"):
                if key in fill and out[key] is None:
                    out[key] = fill[key]
                    inferred.append(key)
            notes.append(fill["note"])
        gcc, gcc_inferred, gcc_note = MAX_GCC[cuda]
        out["max_gcc"] = gcc
        out["max_gcc_source"] = _GCC_SOURCE
        if gcc_inferred:
            inferred.append("max_gcc")
        if gcc_note:
            notes.append(gcc_note)
        out["inferred"] = sorted(inferred)
        out["notes"] = notes
        rows.append(out)
    rows.sort(key=lambda r: version_tuple(r["version"]))
    return rows


def curate_platforms(rel: dict[str, Any]) -> dict[str, dict[str, Any]]:
    torch = rel["torch"]
    modern = applies("linux-x86_64 manylinux_2_28", torch)
    src = rel["platforms"]
    out: dict[str, dict[str, Any]] = {}

    lx = src["linux-x86_64"]
    # 2.6: PyPI/cpu/cu118/cu124 stay on manylinux2014; its cu126/ROCm/XPU builds override below.
    tag, glibc = ("manylinux_2_28_x86_64", "2.28") if modern else ("manylinux1_x86_64", "2.17")
    out["linux-x86_64"] = {
        "available": True,
        "wheel_tag": tag,
        "min_glibc": glibc,
        "pypi_default": lx["pypi_wheel"].split()[0],
        "source": lx["min_glibc_source"],
        "inferred": bool(lx.get("min_glibc_inferred") or lx.get("variants_inferred")),
        "note": "PyPI wheels are tagged manylinux1_x86_64 but built on manylinux2014 (glibc 2.17)."
        if not modern
        else None,
    }

    la = src["linux-aarch64"]
    a_tag = la["wheel_platform_tag"]
    pypi = la.get("pypi_wheel")
    out["linux-aarch64"] = {
        "available": True,
        "wheel_tag": a_tag,
        "min_glibc": glibc_of_tag(a_tag),
        "pypi_default": pypi.split()[0] if pypi else None,
        "source": la["wheel_platform_tag_source"],
        "inferred": bool(la.get("wheel_platform_tag_inferred") or la.get("inferred")),
        "note": la.get("note"),
    }

    win = src["windows-x86_64"]
    out["windows-x86_64"] = {
        "available": True,
        "wheel_tag": "win_amd64",
        "min_glibc": None,
        "pypi_default": "cpu",
        "source": win["note"],
        "inferred": bool(win.get("variants_inferred")),
        "note": "CUDA builds only from download.pytorch.org/whl/cuXXX; no official Triton on Windows, "
        "so torch.compile on CUDA GPUs fails without the community triton-windows package.",
    }

    mac = src["macos-arm64"]
    out["macos-arm64"] = {
        "available": True,
        "wheel_tag": mac["wheel_platform_tag"],
        "min_glibc": None,
        "pypi_default": "cpu",
        "source": mac["tag_source"],
        "inferred": bool(mac.get("wheel_platform_tag_inferred")),
        "note": "PyPI CPU build with MPS (Apple GPU) support; macOS 11+, MPS on macOS 14+.",
    }

    intel = src["macos-x86_64"]
    out["macos-x86_64"] = {
        "available": bool(intel["available"]),
        "wheel_tag": "macosx_10_9_x86_64" if intel["available"] else None,
        "min_glibc": None,
        "pypi_default": "cpu" if intel["available"] else None,
        "source": intel["note"],
        "inferred": bool(intel["available"]),  # the exact tag is not in compat.json
        "note": "Intel macOS wheels end with 2.2.2: pin torch<=2.2.2, build from source, or use a "
        "native arm64 Python on Apple silicon.",
    }
    return out


def curate_variant(
    rel: dict[str, Any], name: str, v: dict[str, Any], platforms: dict[str, Any]
) -> dict[str, Any]:
    torch = rel["torch"]
    index_url = v["index_url"] or WHL + name
    plats = [p.split()[0] for p in (v.get("platforms") or [])]
    inferred = bool(v.get("inferred"))
    notes = [v["note"]] if v.get("note") else []
    command = v.get("command_index") or v.get("command")
    command_source = "previous-versions page (compat.json command)"
    command_inferred = bool(v.get("command_index_inferred")) or bool(v.get("inferred"))
    if v.get("command_index"):
        command_source = v.get("command_index_note", "")
        notes.append("Documented '+cuXXX' form: " + v.get("alt_command_index", ""))
    if not plats:  # unadvertised entries without a platform list
        plats = ["linux-x86_64"]
        inferred = True
        notes.append("Platforms not recorded; linux-x86_64 assumed.")
    advertised = v.get("advertised")
    if advertised is None:  # 2.14.x: not confirmed
        advertised = True
        inferred = True
    if command is None and advertised:
        companions = f" torchvision=={rel['torchvision']}" + (
            f" torchaudio=={rel['torchaudio']}" if rel["torchaudio"] else ""
        )
        command = f"pip install torch=={torch}{companions} --index-url {index_url}"
        command_source = "composed by analogy with the previous-versions page format"
        command_inferred = True
    # aarch64 CUDA wheels are recorded per release under platforms.linux-aarch64.cuda_wheels
    if (
        name in (rel["platforms"]["linux-aarch64"].get("cuda_wheels") or [])
        and "linux-aarch64" not in plats
    ):
        plats.append("linux-aarch64")
    if name == "cpu" and applies("cpu wheels on linux-aarch64 index", torch):
        plats.append("linux-aarch64")
        notes.append(
            "linux-aarch64 CPU wheels on whl/cpu are assumed (inferred); from 2.11 the PyPI aarch64 "
            "wheel is the cu130 build."
        )
    wheels: dict[str, Any] = {}
    if applies("2.6 manylinux_2_28 builds", torch) and (name == "cu126" or name.startswith("rocm")):
        wheels["linux-x86_64"] = {
            "wheel_tag": "manylinux_2_28_x86_64",
            "min_glibc": "2.28",
            "source": platforms["linux-x86_64"]["source"],
        }
    return {
        "index_url": index_url,
        "platforms": sorted(set(plats), key=PLATFORMS.index),
        "advertised": bool(advertised),
        "command": command if advertised else None,
        "command_source": command_source if advertised else None,
        "command_inferred": command_inferred if advertised else False,
        "source": "; ".join(rel["sources"][:1] + ([v["note"]] if v.get("note") else [])),
        "inferred": inferred,
        "notes": notes,
        "wheels": wheels,
        "arch": {},
    }


def xpu_variant(rel: dict[str, Any]) -> Optional[dict[str, Any]]:
    torch = rel["torch"]
    if not applies("xpu wheels", torch):
        return None
    t = version_tuple(torch)
    key = next((k for k in XPU_SOURCE if t[:2] == version_tuple(k)), None)
    source = (
        XPU_SOURCE[key]
        if key
        else "; ".join(XPU_SOURCE.values()) + " (between documented releases)"
    )
    wheels = {}
    if applies("xpu manylinux_2_28", torch):
        wheels["linux-x86_64"] = {
            "wheel_tag": "manylinux_2_28_x86_64",
            "min_glibc": "2.28",
            "source": "2.6.0 release notes (XPU binaries on Manylinux 2.28)",
        }
    return {
        "index_url": WHL + "xpu",
        "platforms": ["linux-x86_64", "windows-x86_64"],
        "advertised": False,
        "command": None,
        "command_source": None,
        "command_inferred": False,
        "source": source,
        "inferred": key is None or applies("xpu inferred", torch),
        "notes": [
            (
                "Intel GPU (XPU) wheels; torchsetup cannot detect Intel GPUs yet, so they are planned only "
                "for an explicit --variant xpu."
            )
        ],
        "wheels": wheels,
        "arch": {},
    }


def apply_arch_lists(compat: dict[str, Any], releases: dict[str, dict[str, Any]]) -> None:
    versions = list(releases)
    for entry in compat["cuda_arch_lists"]:
        targets = arch_platforms(entry["platform"])
        if targets is None:
            continue
        for torch in expand_torch_pattern(entry["torch"], versions):
            variant = releases[torch]["variants"].get(entry["cuda_variant"])
            if variant is None:
                continue
            for key, strip in targets.items():
                notes = [n for n in (entry.get("note"), entry.get("disagreement")) if n]
                if strip:
                    notes.append(
                        "Windows: same list without +PTX ('+PTX available on linux builds only')."
                    )
                variant["arch"][key] = {
                    "list": strip_ptx(entry["arch_list"]) if strip else entry["arch_list"],
                    "source": entry["source"],
                    "inferred": bool(entry.get("inferred")),
                    "notes": notes,
                }


def drop_ptx_for_pypi_builds(releases: dict[str, dict[str, Any]]) -> None:
    for torch, rel in releases.items():
        for platform in ("linux-x86_64", "linux-aarch64"):
            default = rel["platforms"][platform]["pypi_default"]
            variant = rel["variants"].get(default or "")
            arch = variant["arch"].get(platform) if variant else None
            if not arch or "+PTX" not in arch["list"]:
                continue
            arch["list"] = strip_ptx(arch["list"])
            arch["notes"].append(PTX_DROP_NOTE)
            if torch == "2.11.0" and platform == "linux-x86_64":
                arch["source"] = CAPTURE_SOURCE + "; was: " + arch["source"]
                arch["inferred"] = False
            else:
                arch["inferred"] = True


def fill_windows_and_conda_arch(releases: dict[str, dict[str, Any]]) -> None:
    for rel in releases.values():
        for name, variant in rel["variants"].items():
            if not name.startswith("cu"):
                continue
            linux = variant["arch"].get("linux-x86_64")
            if (
                "windows-x86_64" in variant["platforms"]
                and "windows-x86_64" not in variant["arch"]
                and linux
            ):
                variant["arch"]["windows-x86_64"] = {
                    "list": strip_ptx(linux["list"]),
                    "source": "inferred from the linux-x86_64 list of the same build: "
                    + linux["source"],
                    "inferred": True,
                    "notes": [
                        "No Windows list found; Linux list without +PTX (can only under-claim)."
                    ],
                }
            windows = variant["arch"].get("windows-x86_64")
            if rel["conda"] and name in rel["conda"]["commands"] and windows:
                variant["arch"]["conda:windows-x86_64"] = {
                    "list": windows["list"],
                    "source": "inferred: builder windows/cuda*.bat served wheels and conda alike; "
                    + windows["source"],
                    "inferred": True,
                    "notes": [],
                }


def curate_python(rel: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    torch = rel["torch"]
    python = list(rel["python"])
    experimental: list[dict[str, Any]] = []
    if applies("python 3.12 experimental", torch):
        python.remove("3.12")
        experimental.append(
            {"version": "3.12", "platforms": None, "note": "RELEASE.md: '(3.12 experimental)'"}
        )
    if applies("python 3.13 experimental on Linux", torch):
        experimental.append(
            {
                "version": "3.13",
                "platforms": ["linux-x86_64"],
                "note": "RELEASE.md: '(3.13 experimental)'; test-infra built Linux 3.13 wheels (940ffc739)",
            }
        )
    if applies("python 3.13t", torch) and not applies("python 3.13t ended", torch):
        experimental.append(
            {"version": "3.13t", "platforms": None, "note": "free-threaded, experimental"}
        )
    if applies("python 3.14t", torch):
        experimental.append(
            {"version": "3.14t", "platforms": None, "note": "free-threaded, experimental"}
        )
    if applies("python 3.15t", torch):
        experimental.append(
            {"version": "3.15t", "platforms": None, "note": "free-threaded, experimental"}
        )
    return python, experimental


def curate_conda(rel: dict[str, Any]) -> Optional[dict[str, Any]]:
    c = rel["conda"]
    if not c["available"]:
        return None
    domain = rel.get("conda_domain_versions") or {}
    platforms = ["linux-x86_64", "windows-x86_64", "macos-arm64"] + (
        ["macos-x86_64"] if applies("conda macos-x86_64", rel["torch"]) else []
    )
    return {
        "torchvision": domain.get("torchvision", rel["torchvision"]),
        "torchaudio": domain.get("torchaudio", rel["torchaudio"]),
        "commands": c["commands"],
        "command_macos": c["command_osx"],
        "platforms": platforms,
        "source": c["source"],
        "note": domain.get("note"),
    }


def curate_release(rel: dict[str, Any]) -> dict[str, Any]:
    torch = rel["torch"]
    platforms = curate_platforms(rel)
    variants = {
        name: curate_variant(rel, name, v, platforms) for name, v in rel["pip_variants"].items()
    }
    xpu = xpu_variant(rel)
    if xpu:
        variants["xpu"] = xpu
    python, experimental = curate_python(rel)
    notes = [rel[k] for k in ("python_note", "released_note", "torchaudio_note") if rel.get(k)]
    inferred = bool(rel.get("default_pypi_variant_inferred") or rel.get("torchvision_inferred"))
    return {
        "torch": rel["torch"],
        "released": rel["released"],
        "torchvision": rel["torchvision"],
        "torchaudio": rel["torchaudio"],
        "python": python,
        "python_experimental": experimental,
        "python_source": rel["python_source"],
        "platforms": platforms,
        "variants": dict(sorted(variants.items(), key=lambda kv: variant_order(kv[0]))),
        "conda": curate_conda(rel),
        "source_build": {
            "git_tag": "v" + rel["torch"],
            "build": "pip-editable"
            if applies("source build pip-editable", torch)
            else "setup-py-develop",
            "source": SOURCE_BUILD_SOURCE,
            "inferred": applies("source build switch inferred", torch),
        },
        "sources": rel["sources"],
        "notes": notes,
        "inferred": inferred,
    }


def variant_order(name: str) -> tuple[int, tuple[int, ...]]:
    kind = (
        0 if name.startswith("cu") else 1 if name.startswith("rocm") else 2 if name == "xpu" else 3
    )
    return kind, version_tuple(re.sub(r"^[a-z]+", "", name))


def apply_observations(
    releases: dict[str, dict[str, Any]], observations: Optional[dict[str, Any]]
) -> None:
    """Platform lists seen on the live indexes (tools/update_matrix.py --write) win over compat.json."""
    if not observations:
        return
    for variant, per_version in observations["platforms"].items():
        for torch, platforms in per_version.items():
            entry = releases.get(torch, {}).get("variants", {}).get(variant)
            if entry is None or not platforms:
                continue
            entry["platforms"] = sorted(platforms, key=PLATFORMS.index)
            entry["notes"].append(
                f"Platforms observed on {observations['index']}/{variant}/torch/ on {observations['checked']}."
            )


def curate(compat: dict[str, Any], observations: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    releases = {r["torch"]: curate_release(r) for r in compat["torch_releases"]}
    apply_observations(releases, observations)
    apply_arch_lists(compat, releases)
    drop_ptx_for_pypi_builds(releases)
    fill_windows_and_conda_arch(releases)
    ordered = sorted(releases.values(), key=lambda r: version_tuple(r["torch"]), reverse=True)
    digest = hashlib.sha256(
        json.dumps([compat, CURATION_INPUT], sort_keys=True).encode()
    ).hexdigest()[:16]
    origin = "tools/reference/compat.json" + (" + index_observations.json" if observations else "")
    document = {
        "schema_version": 2,
        "generated_by": f"tools/curate_matrix.py from {origin} + tools/reference/curation.json "
        f"(content sha256 {digest})",
        "newest_torch": compat["newest_torch_found"],
        "platforms": PLATFORMS,
        "pypi_index_url": PYPI_INDEX,
        "facts": CURATION_INPUT["facts"],
        "pip_floors": PIP_FLOORS,
        "cuda": curate_cuda(compat),
        "releases": ordered,
        "disagreements": [
            dict(d, decision=_decision_for(d["topic"])) for d in compat["disagreements"]
        ]
        + [
            d
            for d in DECISIONS
            if not any(d["topic"] == c["topic"] for c in compat["disagreements"])
        ],
        "notes": compat["notes"],
    }
    if "gpu_vendors" in CURATION_INPUT:  # AMD gfx targets, XPU families, JetPack indexes
        document["gpu_vendors"] = {
            k: v for k, v in CURATION_INPUT["gpu_vendors"].items() if k != "about"
        }
    return normalise_sources(document)


def source_id(text: str) -> str:
    """A stable id for a provenance text: the same text always gets the same id, so a refresh
    that adds a source changes one line of the table and the entries that cite it."""
    return "s-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


def normalise_sources(document: dict[str, Any]) -> dict[str, Any]:
    """Replace every ``source``/``*_source`` text and ``sources`` list by ids into one table."""
    table: dict[str, str] = {}

    def ref(text: str) -> str:
        key = source_id(text)
        if table.setdefault(key, text) != text:
            raise CurationError(f"source id collision {key}: {text!r} / {table[key]!r}")
        return key

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out: dict[str, Any] = {}
            for key, value in node.items():
                if key == "sources" and isinstance(value, list):
                    out[key] = [ref(v) for v in value]
                elif (key == "source" or key.endswith("_source")) and isinstance(value, str):
                    out[key] = ref(value)
                else:
                    out[key] = walk(value)
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    result: dict[str, Any] = walk(document)
    result["sources"] = dict(sorted(table.items()))
    return result


def _decision_for(topic: str) -> str:
    for d in DECISIONS:
        if d["topic"] == topic:
            return str(d["decision"])
    if topic in COMPAT_DECISIONS:
        return COMPAT_DECISIONS[topic]
    raise CurationError(
        f"compat.json has a disagreement without a decision: {topic!r}. Decide it: add it to "
        "DECISIONS in tools/curate_matrix.py or to 'compat_decisions' in tools/reference/curation.json."
    )


def render(matrix: dict[str, Any]) -> str:
    return json.dumps(matrix, indent=1, ensure_ascii=False) + "\n"


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="write the matrix")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="matrix.json to write")
    parser.add_argument(
        "--observations", type=Path, default=OBSERVATIONS, help="index observations to apply"
    )
    args = parser.parse_args(argv)
    observations = (
        json.loads(args.observations.read_text(encoding="utf-8"))
        if args.observations.exists()
        else None
    )
    text = render(curate(json.loads(COMPAT.read_text(encoding="utf-8")), observations))
    current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
    if text == current:
        print(f"{args.output} is up to date")
        return 0
    if not args.write:
        print(
            f"{args.output} differs from the curation ({len(current)} -> {len(text)} bytes); rerun with --write"
        )
        return 1
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
