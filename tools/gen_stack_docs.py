"""Generate docs/stack.md from resources/stack.json, the stack resolver and the doctor registry.

    python tools/gen_stack_docs.py          # write docs/stack.md
    python tools/gen_stack_docs.py --check  # exit 1 when docs/stack.md is out of date

The tables are the data torchsetup resolves with (each row with its source id and confidence;
the sources table is at the end); the policy and the checks are the text below.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from torchsetup.matrix.stack import Stack, load_stack
from torchsetup.versions import version_tuple

OUTPUT = Path(__file__).resolve().parent.parent / "docs" / "stack.md"

POLICY = """\
## Policy

1. **The torch build is fixed first**: by the hardware (the ordinary resolver, as for
   `install` without a stack), or dictated by an exact pin: a vLLM release pins one torch
   (`--with vllm==0.20.2` plans torch 2.11.0). `--torch` together with vLLM must name a torch
   some vLLM release pins, else the request is refused with the nearest one that works.
2. **Each component is the newest release whose coupling fits** that build: its torch
   specifier (exact / minor / range / stable-ABI), CUDA major, C++ ABI, CPython, platform, GPU
   floor and the runtime gates transformers applies (torch minimum, `MIN_PEFT_VERSION`,
   accelerate and bitsandbytes minima), inside vLLM's transformers range when vLLM is wanted.
   Releases whose runtime gates were not read from the wheel are not chosen unasked.
3. **A prebuilt artifact before a source build**: a PyTorch-index xformers build for the
   torch variant, a flash-attn GitHub release wheel (URL from its release workflow's pattern),
   PyPI wheels; flash-attn is built from source (`--no-build-isolation`, `MAX_JOBS` from RAM,
   `FLASH_ATTN_CUDA_ARCHS` from the GPUs) only when no wheel fits and an nvcc of torch's CUDA
   major is there; the plan says the time and memory up front.
4. **Impossible combinations are refused** (exit 2) with every reason and the nearest request
   that works: flash-attn on a GPU below sm_80, vLLM with a torch no vLLM pins, transformers
   5.24 with peft (it needs peft 0.22.0, the index's newest is 0.21.2), a CUDA-only component
   on a CPU build, a component on a platform it has no builds for.
5. **Nothing replaces torch**: the plan writes a constraints file (`torch==`, its companions,
   the triton torch pins) and every component install runs with `-c` that file. The plan lists
   every choice with its reason, source and confidence, and every release it rejected.
"""

CHECKS = """\
## The checks: `torchsetup verify --stack`

One small real check per installed component, in the target interpreter
(`resources/stack_check.py`, stdlib + the stack), each with its own deadline:

| check | what it proves | reference |
|---|---|---|
| stack.versions | the installed versions; every stack package's Requires-Dist is met | metadata |
| stack.tokenizers | a byte-level BPE trained in-process on the corpus shipped with torchsetup; exact round trip | the input text |
| stack.datasets | `Dataset.from_dict` → tokenize map → group into blocks (the tutorial's `group_texts`) | block lengths |
| stack.gpt2 | **the practice**: `GPT2LMHeadModel(GPT2Config(...))` (2 layers, 64 wide) trained with `transformers.Trainer`, cosine schedule, warmup, fp32 on the CPU (bf16/fp16 on a GPU); eval loss must fall by 10%+, perplexity reported | eval loss before training |
| stack.accelerate | the same model and data through `Accelerator.prepare` / `backward` | first steps' loss |
| stack.peft | a LoRA adapter (r=8) on the practice's model: only `lora_` weights train, the base weights stay bit-identical, the loss falls, the adapter saves | frozen base copy |
| stack.safetensors | `save_file` / `load_file` round trip | the tensors |
| stack.triton | the installed triton is the one torch's metadata pins | torch's Requires-Dist |
| stack.flash-attn | `flash_attn_func` forward + backward (GPU, sm_80+) | float32 attention |
| stack.xformers | `memory_efficient_attention` with a causal mask (GPU) | float32 attention |
| stack.bitsandbytes | `Linear8bitLt` (cc 7.5+), `Linear4bit` nf4, one `Adam8bit` step (GPU) | finite outputs, moved weights |
| stack.deepspeed | FusedAdam op compatibility (what `ds_report` checks) and one ZeRO stage-1 step (GPU) | the step runs |
| stack.vllm | import, then 4 tokens from a tiny random Llama saved locally (GPU) | token count |

GPU checks report "not run" without a CUDA GPU. Nothing downloads: `HF_HUB_OFFLINE=1`, caches
in a temporary folder. Not yet: the same practice on the real `gpt2` tokenizer and
`wikitext-2-raw-v1` from the Hugging Face cache (`--hub`).

Tried on this branch: `torchsetup install --cpu --stack llm --venv V --yes` then
`torchsetup verify --stack --python V/bin/python` (torch 2.13.0+cpu, Python 3.11;
tests/integration/test_stack_e2e.py): transformers 5.23.0, tokenizers 0.23.3, accelerate
1.15.0, peft 0.21.2, datasets 5.2.0, safetensors 0.8.0; the practice's eval loss fell from
5.81 to 4.08 (perplexity 59) in 30 steps. On a GPU: not run yet (no GPU machine was lent to
this work; `tools/gpu_check.sh` runs it when one is).
"""


def _cite(stack: Stack, text: str) -> str:
    return next((k for k, v in stack.sources.items() if v == text), "?")


def _rows(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def render(stack: Stack) -> str:
    c = stack.components
    lines = [
        "# The LLM stack",
        "",
        (
            "Generated by `tools/gen_stack_docs.py` from `src/torchsetup/resources/stack.json` (curated "
            "by `tools/curate_stack.py` from `tools/reference/llm-stack.json`); do not edit by hand."
        ),
        f"Registry snapshot: {stack.registry_snapshot}",
        "",
        "    torchsetup install --cpu --stack llm --venv .venv --yes",
        "    torchsetup install --with vllm==0.20.2,bitsandbytes --dry-run",
        "    torchsetup install --with flash-attn,xformers --dry-run",
        "    torchsetup verify --stack",
        "",
        "`--stack llm` is "
        + ", ".join(stack.sets["llm"])
        + "; `--with` also takes "
        + ", ".join(n for n in c if n not in stack.sets["llm"])
        + " (and pins: `--with vllm==0.20.2`).",
        "",
        POLICY,
        "## Components",
        "",
    ]
    lines += _rows(
        [
            "component",
            "coupling to torch",
            "artifact",
            "platforms",
            "GPU",
            "min cc",
            "source",
            "confidence",
        ],
        [
            [
                name,
                comp.coupling
                + (
                    " (" + ", ".join(f"{v} from {k}" for k, v in comp.coupling_from.items()) + ")"
                    if comp.coupling_from
                    else ""
                ),
                comp.distribution,
                ", ".join(comp.platforms),
                comp.gpu,
                comp.min_cc or "",
                _cite(stack, comp.source),
                comp.confidence,
            ]
            for name, comp in c.items()
        ],
    )
    lines += ["", "## torch: default CUDA, C++ ABI, triton pin", ""]
    lines += _rows(
        ["torch", "PyPI default CUDA", "cxx11 ABI", "triton", "source"],
        [
            [
                t.version,
                t.pypi_default_cuda,
                str(t.cxx11_abi),
                t.triton or "",
                _cite(stack, t.source),
            ]
            for t in stack.torch
        ],
    )
    lines += ["", "## vLLM: the torch each release pins", ""]
    lines += _rows(
        ["vllm", "torch", "CUDA major", "Python", "transformers", "source", "confidence"],
        [
            [
                r.version,
                r.torch or "",
                "/".join(map(str, r.cuda_majors or ())),
                r.python or "",
                r.requires.get("transformers") or "",
                _cite(stack, r.source),
                r.confidence,
            ]
            for r in reversed(c["vllm"].releases)
        ],
    )
    lines += ["", "## xformers", ""]
    lines += _rows(
        ["xformers", "torch", "PyPI wheel CUDA", "PyTorch-index builds", "source", "confidence"],
        [
            [
                r.version,
                r.torch or "",
                "/".join(map(str, r.cuda_majors or ())),
                ", ".join(r.index_variants or ()),
                _cite(stack, r.source),
                r.confidence,
            ]
            for r in reversed(c["xformers"].releases)
        ],
    )
    lines += ["", "## flash-attn: release wheel matrices", ""]
    lines += _rows(
        [
            "flash-attn",
            "released",
            "torch minors",
            "CUDA majors",
            "CPython",
            "source",
            "confidence",
        ],
        [
            [
                r.version,
                "yes" if r.published else "no (main branch)",
                ", ".join(r.torch_minors),
                "/".join(map(str, r.cuda_majors or ())),
                ", ".join(r.pythons),
                _cite(stack, r.source),
                r.confidence,
            ]
            for r in reversed(c["flash-attn"].releases)
        ],
    )
    lines += ["", "## bitsandbytes", ""]
    lines += _rows(
        ["bitsandbytes", "torch", "bundled CUDA majors", "CPU", "Python", "source", "confidence"],
        [
            [
                r.version,
                r.torch or "",
                "/".join(map(str, r.cuda_majors or ())),
                "yes" if r.cpu else "",
                r.python or "",
                _cite(stack, r.source),
                r.confidence,
            ]
            for r in reversed(c["bitsandbytes"].releases)
        ],
    )
    lines += ["", "## DeepSpeed: nvcc minor versions it accepts", ""]
    lines += _rows(
        ["deepspeed", "torch", "nvcc minor-compat (per major)", "source"],
        [
            [
                r.version,
                r.torch or "any",
                "; ".join(f"{k}: {', '.join(v)}" for k, v in r.nvcc_minor_ok.items()),
                _cite(stack, r.source),
            ]
            for r in reversed(c["deepspeed"].releases)
        ],
    )
    lines += ["", "## transformers: runtime gates", ""]
    lines += _rows(
        [
            "transformers",
            "torch gate",
            "peft min",
            "accelerate min",
            "bitsandbytes min",
            "tokenizers",
            "huggingface-hub",
            "Python",
            "source",
        ],
        [
            [
                r.version,
                r.torch_gate or ("none" if r.gates_checked else "not read"),
                r.runtime_min.get("peft") or "",
                r.runtime_min.get("accelerate") or "",
                r.runtime_min.get("bitsandbytes") or "",
                r.requires.get("tokenizers") or "",
                r.requires.get("huggingface-hub") or "",
                r.python or "",
                _cite(stack, r.source),
            ]
            for r in sorted(
                c["transformers"].releases, key=lambda r: version_tuple(r.version), reverse=True
            )
        ],
    )
    lines += [
        "",
        (
            f"The newest peft on the index when the data was curated: {stack.peft_newest} "
            f"({_cite(stack, stack.peft_newest_source)})."
        ),
        "",
    ]
    for name in ("accelerate", "peft", "datasets", "tokenizers"):
        lines += [f"## {name}", ""]
        lines += _rows(
            [name, "torch", "Python", "huggingface-hub", "source", "confidence"],
            [
                [
                    r.version,
                    r.torch or "",
                    r.python or "",
                    r.requires.get("huggingface-hub") or "",
                    _cite(stack, r.source),
                    r.confidence,
                ]
                for r in reversed(c[name].releases)
            ],
        )
        lines.append("")
    lines.append(CHECKS)
    lines += ["## doctor", ""]
    from torchsetup.doctor.rules import all_rules

    lines += _rows(
        ["rule", "severity", "title"],
        [
            [f"[{r.id}](rules/{r.id}.md)", r.severity, r.title]
            for r in all_rules()
            if r.category == "stack"
        ],
    )
    lines += [
        "",
        (
            "Each rule's fix is computed by the stack resolver for the installed torch. The pasted "
            "reports' error texts (`doctor --from-report`) are recognised by the report parser."
        ),
        "",
        "## Sources",
        "",
    ]
    lines += [f"- `{k}`: {v}" for k, v in stack.sources.items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    text = render(load_stack())
    if args.check:
        current = OUTPUT.exists() and OUTPUT.read_text(encoding="utf-8") == text
        print(f"docs/stack.md is {'current' if current else 'out of date'}")
        return 0 if current else 1
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
