"""Curate src/torchsetup/resources/stack.json from the research record tools/reference/llm-stack.json.

llm-stack.json (research of 2026-12-01: wheel METADATA, files at release commits, issue threads)
holds the LLM stack's facts as free text next to structured fields. stack.json is the closed,
validated table torchsetup ships (loaded by torchsetup.matrix.stack): per component its torch
coupling kind and per release the torch specifier, CUDA majors, CPython range, platforms and the
runtime gates, each with a source id and a confidence (high / medium / low).

Rules this script applies (nothing is extrapolated; an unknown stays null):
  * a confidence is the first word of the research's confidence text;
  * xformers releases with no readable torch requirement take the exact pin of the torch their
    PyPI wheel was built from (``pypi_wheel_built_from``), confidence medium;
  * a vLLM release whose CUDA major was not read with readelf takes the PyPI default CUDA major of
    the torch it pins (both wheels are built with the same toolkit), confidence medium;
  * flash-attn's CI wheel matrices become (torch minor, CUDA major, CPython, C++ ABI) lists with
    the matrix's excludes; unpublished rows (HEAD) are kept and marked ``published: false``;
  * bitsandbytes before 0.43 is dropped (before 0.43 the CUDA library was chosen by the CUDA
    runtime found on the machine, not by torch: design-note.md section 3).

    python tools/curate_stack.py            # say whether stack.json is current
    python tools/curate_stack.py --write    # write src/torchsetup/resources/stack.json

Deterministic: a re-run on the same input is byte-identical (tests/unit/test_stack_data.py).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parent.parent
RESEARCH = ROOT / "tools" / "reference" / "llm-stack.json"
OUTPUT = ROOT / "src" / "torchsetup" / "resources" / "stack.json"

LLM_SET = ["transformers", "accelerate", "datasets", "tokenizers", "safetensors", "peft"]
LINUX = ["linux-x86_64", "linux-aarch64"]
ALL = [*LINUX, "windows-x86_64", "macos-arm64", "macos-x86_64"]
PEFT_FLOOR_CHECK = (
    "`pip index versions peft` on 2026-12-01: newest 0.21.2 (checked again by the curator)"
)


class _Sources:
    def __init__(self) -> None:
        self.table: dict[str, str] = {}

    def add(self, text: Optional[str]) -> Optional[str]:
        if not text:
            return None
        for key, value in self.table.items():
            if value == text:
                return key
        key = f"s{len(self.table) + 1:03d}"
        self.table[key] = text
        return key


def _conf(text: Any) -> str:
    word = str(text or "low").split()[0].strip("(;,").lower()
    return word if word in ("high", "medium", "low") else "low"


def _spec(values: Any) -> Optional[str]:
    """'torch (==2.0.1)' / ['torch ==2.1.2'] / 'torch>=2.0.0' -> '==2.0.1' etc; None if none."""
    if isinstance(values, list):
        values = values[0] if values else None
    if not isinstance(values, str):
        return None
    text = re.sub(r"^[A-Za-z0-9_.\-\[\]]+", "", values.strip()).strip()
    text = text.split(";")[0].strip().strip("()").replace(" ", "")
    return text or None


def _major(cuda: str) -> int:
    return int(cuda.split(".", maxsplit=1)[0])


def _vt(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", v)[:4])


def _torch(research: dict[str, Any], src: _Sources) -> list[dict[str, Any]]:
    pins = {p["torch"]: p for p in research["packages"]["triton"]["torch_pins"]}
    out = []
    for rel in research["torch"]["releases"]:
        pin = pins.get(rel["version"])
        out.append(
            {
                "version": rel["version"],
                "pypi_default_cuda": rel["pypi_default_cuda"],
                "cxx11_abi": rel["cxx11_abi_pypi_wheels"] == "TRUE",
                "triton": _spec(pin["triton"]) if pin else None,
                "source": src.add(rel["sources"]["pypi_metadata"]),
                "confidence": "high",
            }
        )
    return out


def _vllm(research: dict[str, Any], src: _Sources, torch: list[dict[str, Any]]) -> dict[str, Any]:
    default = {t["version"]: _major(t["pypi_default_cuda"]) for t in torch}
    pkg = research["packages"]["vllm"]
    releases = []
    for rel in pkg["releases"]:
        spec = _spec(rel["torch"])
        checked = (rel.get("pypi_wheel_cuda_checked") or {}).get("libcudart_needed")
        cuda: Optional[int] = int(checked.rsplit(".", 1)[-1]) if checked else None
        conf = "high"
        if cuda is None and spec and spec.startswith("==") and spec[2:] in default:
            cuda, conf = default[spec[2:]], "medium"
        releases.append(
            {
                "version": rel["version"],
                "torch": spec,
                "cuda_majors": [cuda] if cuda is not None else None,
                "python": rel["requires_python"],
                "requires": {"transformers": _spec(rel["transformers"])},
                "source": src.add(rel["sources"]["pypi_metadata"]),
                "confidence": conf,
            }
        )
    return {
        "coupling": "exact",
        "distribution": "pypi-wheel",
        "platforms": ["linux-x86_64"],
        "gpu": "cuda",
        "min_cc": "7.0",
        "notes": pkg["rules"][:2],
        "source": src.add(pkg["distribution_source"]),
        "confidence": "high",
        "releases": releases,
    }


def _xformers(research: dict[str, Any], src: _Sources) -> dict[str, Any]:
    pkg = research["packages"]["xformers"]
    releases = []
    for rel in pkg["releases"]:
        spec = _spec(rel["torch_requirement_pypi_wheel"])
        built = rel.get("pypi_wheel_built_from")
        conf = "high"
        if spec is None and built:
            spec, conf = "==" + built[5:].split("+")[0], "medium"
        if spec is None:
            continue
        cuda = re.search(r"\+cu(\d+)(\d)$", built or "")
        releases.append(
            {
                "version": rel["version"],
                "torch": spec,
                "cuda_majors": [int(cuda.group(1))] if cuda else None,
                "index_variants": rel["cuda_variants_download_pytorch_org"],
                "python": rel["requires_python"],
                "source": src.add(next(v for v in rel["sources"].values() if v)),
                "confidence": conf,
            }
        )
    return {
        "coupling": "exact",
        "coupling_from": {"0.0.35": "stable-abi"},
        "distribution": "pypi-wheel",
        "platforms": ["linux-x86_64", "windows-x86_64"],
        "gpu": "cuda",
        "min_cc": None,
        "notes": [pkg["pin_mechanism"][:300], pkg["wheel_content_checked"][:300]],
        "source": src.add(
            "https://github.com/facebookresearch/xformers (wheels_build.yml, README), see llm-stack.json packages.xformers"
        ),
        "confidence": "high",
        "releases": releases,
    }


def _flash_attn(research: dict[str, Any], src: _Sources) -> dict[str, Any]:
    pkg = research["packages"]["flash-attn"]
    releases = []
    for rel in pkg["releases"]:
        m = rel["wheel_build_matrix"] or {}
        minors = sorted(
            {".".join(t.split(".")[:2]) for t in m.get("torch", []) if t.startswith("2.")},
            key=_vt,
        )
        excludes = []
        for ex in m.get("exclude", []):
            item: dict[str, Any] = {}
            if "torch-version" in ex:
                item["torch"] = ".".join(ex["torch-version"].split(".")[:2])
            if "cuda-version" in ex:
                item["cuda_major"] = _major(ex["cuda-version"])
            if "python-version" in ex:
                item["python"] = ex["python-version"]
            if "cxx11_abi" in ex:
                item["cxx11_abi"] = ex["cxx11_abi"] == "TRUE"
            if "os" in ex:
                item["platform"] = "linux-aarch64" if "arm" in ex["os"] else "linux-x86_64"
            if item:
                excludes.append(item)
        platforms = ["linux-x86_64"] + (
            ["linux-aarch64"] if any("arm" in r for r in m.get("runner", [])) else []
        )
        releases.append(
            {
                "version": rel["version"],
                "published": bool(rel["published"]),
                "torch_minors": minors,
                "cuda_majors": sorted({_major(c) for c in m.get("cuda_toolkit", [])}),
                "pythons": [p for p in m.get("python", []) if _vt(p) >= (3, 8)],
                "cxx11_abi": sorted({a == "TRUE" for a in m.get("cxx11_abi", [])}),
                "platforms": platforms,
                "excludes": excludes,
                "min_nvcc": rel.get("min_nvcc_for_source_build"),
                "python": rel.get("python_requires"),
                "source": src.add(next(iter(rel["sources"].values()))),
                "confidence": "medium" if not rel["published"] else "high",
            }
        )
    dist = pkg["distribution"]
    return {
        "coupling": "minor",
        "distribution": "github-release-wheel",
        "platforms": LINUX,
        "gpu": "cuda",
        "min_cc": "8.0",
        "wheel_url": dist["wheel_url_pattern"],
        "notes": [pkg["hardware"]["fa2"], dist["cuda_tag_rule"][:300]],
        "source": src.add(pkg["hardware"]["fa2_source"]),
        "confidence": "high",
        "releases": releases,
    }


def _bnb(research: dict[str, Any], src: _Sources) -> dict[str, Any]:
    pkg = research["packages"]["bitsandbytes"]
    releases = []
    for rel in pkg["releases"]:
        if _vt(rel["version"]) < (0, 43):
            continue
        bundled = rel.get("bundled_cuda_builds_ci")
        checked = rel.get("bundled_libs_checked") or ""
        if bundled:
            majors = sorted({_major(c) for c in bundled})
        else:
            listed = re.search(r"cuda([\d,]+)", checked)
            codes = listed.group(1).split(",") if listed else []
            majors = sorted({int(c[:2]) for c in codes if len(c) == 3})
        req = rel["torch_requirement"]
        spec = _spec(req) if isinstance(req, list) else None
        sources = rel["sources"]
        releases.append(
            {
                "version": rel["version"],
                "torch": spec,
                "cuda_majors": majors or None,
                "cpu": "cpu" in checked,
                "python": rel["requires_python"],
                "source": src.add(
                    sources.get("pypi_metadata") or next(v for v in sources.values() if v)
                ),
                "confidence": _conf(rel["confidence"]),
            }
        )
    return {
        "coupling": "range",
        "distribution": "pypi-wheel",
        "platforms": ["linux-x86_64", "linux-aarch64", "windows-x86_64"],
        "gpu": "optional",
        "min_cc": "6.0",
        "int8_min_cc": "7.5",
        "notes": [pkg["hardware"]["docs_head"]],
        "source": src.add(pkg["selection_source"]),
        "confidence": "high",
        "releases": releases,
    }


def _whitelist(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for major, body in re.findall(r"(\d+):\s*\[([^\]]*)\]", text):
        out[major] = re.findall(r'"(\d+\.\d+)"', body)
    return out


def _deepspeed(research: dict[str, Any], src: _Sources) -> dict[str, Any]:
    pkg = research["packages"]["deepspeed"]
    releases = []
    for rel in pkg["releases"]:
        spec = _spec(rel["torch_requirement"])
        releases.append(
            {
                "version": rel["version"],
                "torch": spec if spec and spec != "torch" else None,
                "nvcc_minor_ok": _whitelist(rel["cuda_minor_mismatch_ok"]),
                "python": None,
                "source": src.add(rel["sources"]["op_builder"]),
                "confidence": _conf(rel["confidence"]),
            }
        )
    return {
        "coupling": "range",
        "distribution": "pypi-sdist",
        "platforms": LINUX,
        "gpu": "optional",
        "min_cc": None,
        "notes": [pkg["distribution"][:300], *pkg["jit_requirements"][:2]],
        "source": src.add(pkg["jit_source"]),
        "confidence": "high",
        "releases": releases,
    }


def _triton(research: dict[str, Any], src: _Sources) -> dict[str, Any]:
    pkg = research["packages"]["triton"]
    return {
        "coupling": "pinned-by-torch",
        "distribution": "pypi-wheel",
        "platforms": LINUX,
        "gpu": "optional",
        "min_cc": None,
        "notes": [pkg["rule"]],
        "source": src.add(pkg["release_matrix_source"]),
        "confidence": "high",
        "releases": [
            {
                "version": rel["version"],
                "python": rel["requires_python"],
                "source": src.add(rel["source"]),
                "confidence": _conf(rel["confidence"]),
            }
            for rel in pkg["releases"]
        ],
    }


def _transformers(research: dict[str, Any], src: _Sources) -> dict[str, Any]:
    pkg = research["packages"]["transformers"]
    releases = []
    for rel in pkg["releases"]:
        gate = rel["runtime_torch_gate"]
        sources = rel["sources"]
        releases.append(
            {
                "version": rel["version"],
                "torch_gate": gate,
                "python": rel["requires_python"],
                "requires": {
                    "tokenizers": _spec(rel["tokenizers"]),
                    "huggingface-hub": _spec(rel["huggingface_hub"]),
                },
                "gates_checked": any(
                    rel[k] is not None
                    for k in ("peft_min_runtime (MIN_PEFT_VERSION)", "accelerate_min_runtime")
                ),
                "runtime_min": {
                    "peft": rel["peft_min_runtime (MIN_PEFT_VERSION)"],
                    "accelerate": rel["accelerate_min_runtime"],
                    "bitsandbytes": rel["bitsandbytes_min_runtime"],
                    "flash-attn": rel["flash_attn_min_runtime_cuda"],
                },
                "source": src.add(sources.get("runtime_gates") or sources["pypi_metadata"]),
                "confidence": _conf(rel["confidence"]),
            }
        )
    return {
        "coupling": "none",
        "distribution": "pypi-wheel",
        "platforms": ALL,
        "gpu": "optional",
        "min_cc": None,
        "notes": [pkg["runtime_gate"][:400]],
        "source": src.add(
            "transformers/utils/import_utils.py and integrations/peft.py in each wheel"
        ),
        "confidence": "high",
        "releases": releases,
    }


def _pure(research: dict[str, Any], src: _Sources, name: str) -> dict[str, Any]:
    pkg = research["packages"][name]
    releases = []
    for rel in pkg["releases"]:
        requires = {}
        hub = rel.get("huggingface_hub") or [
            p for p in rel.get("pins", []) if p.startswith("huggingface-hub")
        ]
        if hub:
            requires["huggingface-hub"] = _spec(hub)
        torch = rel.get("torch")
        releases.append(
            {
                "version": rel["version"],
                "torch": _spec(torch) if torch else None,
                "python": rel.get("python_requires") or rel.get("requires_python"),
                "requires": requires,
                "source": src.add(rel["source"]),
                "confidence": _conf(rel["confidence"]),
            }
        )
    return {
        "coupling": "range" if any(r["torch"] for r in releases) else "none",
        "distribution": "pypi-wheel",
        "platforms": ALL,
        "gpu": "optional",
        "min_cc": None,
        "notes": [pkg["distribution"][:300]],
        "source": src.add(f"PyPI wheel METADATA of {name} (llm-stack.json packages.{name})"),
        "confidence": "high",
        "releases": releases,
    }


def curate(research: dict[str, Any]) -> dict[str, Any]:
    src = _Sources()
    torch = _torch(research, src)
    peft_table = next(
        c for c in research["cross_constraints"] if c["id"] == "transformers-peft-min"
    )
    components = {
        "vllm": _vllm(research, src, torch),
        "xformers": _xformers(research, src),
        "flash-attn": _flash_attn(research, src),
        "bitsandbytes": _bnb(research, src),
        "deepspeed": _deepspeed(research, src),
        "triton": _triton(research, src),
        "transformers": _transformers(research, src),
        "accelerate": _pure(research, src, "accelerate"),
        "peft": _pure(research, src, "peft"),
        "datasets": _pure(research, src, "datasets"),
        "tokenizers": _pure(research, src, "tokenizers"),
        "safetensors": {
            "coupling": "none",
            "distribution": "pypi-wheel",
            "platforms": ALL,
            "gpu": "optional",
            "min_cc": None,
            "notes": ["no torch coupling (abi3 Rust wheel); the research records no releases"],
            "source": src.add("safetensors: not in llm-stack.json; pip chooses the version"),
            "confidence": "medium",
            "releases": [],
        },
    }
    return {
        "schema": 1,
        "generated_from": "tools/reference/llm-stack.json",
        "registry_snapshot": research["meta"]["registry_snapshot"],
        "peft_newest_on_index": {
            "version": "0.21.2",
            "source": src.add(PEFT_FLOOR_CHECK),
            "confidence": "high",
            "note": peft_table["finding"],
        },
        "sets": {"llm": LLM_SET},
        "torch": torch,
        "components": components,
        "sources": src.table,
    }


def render(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    text = render(curate(json.loads(RESEARCH.read_text(encoding="utf-8"))))
    if args.write:
        OUTPUT.write_text(text, encoding="utf-8")
        print(f"wrote {OUTPUT.relative_to(ROOT)} ({len(text)} bytes)")
        return 0
    current = OUTPUT.exists() and OUTPUT.read_text(encoding="utf-8") == text
    print(f"{OUTPUT.relative_to(ROOT)} is {'current' if current else 'out of date'}")
    return 0 if current else 1


if __name__ == "__main__":
    sys.exit(main())
