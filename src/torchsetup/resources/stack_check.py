"""torchsetup's LLM-stack check. It runs INSIDE the target interpreter, never in torchsetup.

Stdlib + torch + the installed stack; Python 3.9+. torchsetup starts it as a file:

    python stack_check.py --corpus FILE --work-dir DIR [--steps N] [--require NAME,...] --json-lines

One small real check per installed component, each against a reference, the events on stdout as
in smoke.py (``SENTINEL`` + JSON: hello, plan, one result per check, done):

    stack.versions     installed versions, and each stack package's Requires-Dist satisfied
    stack.tokenizers   a byte-level BPE trained in-process on the shipped corpus; round trip
    stack.datasets     Dataset.from_dict -> tokenize map -> group into blocks (the tutorial's)
    stack.gpt2         the practice: GPT2LMHeadModel(GPT2Config(tiny)) trained with
                       transformers.Trainer (cosine schedule, warmup, fp32 on the CPU, bf16/fp16
                       on a GPU); eval loss must fall; perplexity reported
    stack.accelerate   the same loop through accelerate.Accelerator; loss must fall
    stack.peft         a LoRA adapter trains, the base stays frozen (weights unchanged)
    stack.safetensors  save_file / load_file round trip
    stack.triton       the installed triton is the one torch's metadata pins
    stack.flash-attn, stack.xformers, stack.bitsandbytes, stack.deepspeed, stack.vllm
                       GPU checks against a float32 reference; "not run" without a CUDA GPU

Everything is offline: no hub downloads (HF_HUB_OFFLINE=1), caches under --work-dir.
"""

import argparse
import json
import math
import os
import sys
import tempfile
import time
import traceback

# this file's folder (torchsetup/resources) must not shadow the target's packages
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

SENTINEL = "@@torchsetup@@ "
MAX_TEXT = 1500
STACK = (
    "transformers",
    "tokenizers",
    "datasets",
    "accelerate",
    "peft",
    "safetensors",
    "triton",
    "flash-attn",
    "xformers",
    "bitsandbytes",
    "deepspeed",
    "vllm",
)
BLOCK = 32
VOCAB = 400


class NotRun(Exception):
    """The check cannot apply here; the message says why."""


def emit(event, **fields):
    fields["event"] = event
    data = (SENTINEL + json.dumps(fields, default=str) + "\n").encode("ascii")
    while data:
        data = data[os.write(1, data) :]


def clip(text):
    text = str(text)
    return (
        text
        if len(text) <= MAX_TEXT
        else text[: MAX_TEXT // 2] + " [...] " + text[-MAX_TEXT // 2 :]
    )


def installed(name):
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


class State:
    """What one check hands the next: the corpus, the tokenizer, the blocks, the device."""

    def __init__(self, corpus, work, steps):
        self.corpus = corpus
        self.work = work
        self.steps = steps
        self.lines = None
        self.tokenizer = None
        self.fast = None
        self.train = None
        self.eval = None
        self.torch = None
        self.trained = None  # the GPT-2 the practice trained: the base the LoRA check adapts

    @property
    def cuda(self):
        return self.torch is not None and self.torch.cuda.is_available()


def cuda_or_not_run(state):
    import torch

    state.torch = torch
    if not torch.cuda.is_available():
        raise NotRun("needs a CUDA GPU (torch.cuda.is_available() is False)")
    return torch


# ---------------------------------------------------------------------------- checks


def check_versions(state):
    from importlib import metadata

    import torch

    state.torch = torch
    versions = {"torch": torch.__version__}
    problems = []
    try:
        from packaging.requirements import Requirement
    except ImportError:  # packaging comes with transformers; without it only versions are listed
        Requirement = None
    for name in STACK:
        version = installed(name)
        if version is None:
            continue
        versions[name] = version
        if Requirement is None:
            continue
        for text in metadata.requires(name) or ():
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            have = installed(req.name)
            if have is None:
                problems.append("%s needs %s (not installed)" % (name, text))
            elif req.specifier and not req.specifier.contains(have, prereleases=True):
                problems.append("%s needs %s, found %s %s" % (name, text, req.name, have))
    if len(versions) == 1:
        raise AssertionError("no LLM-stack package is installed (%s)" % ", ".join(STACK[:6]))
    if problems:
        raise AssertionError("; ".join(problems[:5]))
    detail = ", ".join("%s %s" % kv for kv in versions.items())
    return detail, {"versions": versions}


def check_tokenizers(state):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    with open(state.corpus, encoding="utf-8") as f:
        state.lines = [line.strip() for line in f if line.strip()]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(state.lines, trainer)
    sample = state.lines[1]
    ids = tok.encode(sample).ids
    back = tok.decode(ids)
    if back != sample:
        raise AssertionError("BPE round trip changed the text: %r -> %r" % (sample, back))
    if not len(ids) < len(sample):
        raise AssertionError(
            "BPE did not merge anything (%d ids for %d chars)" % (len(ids), len(sample))
        )
    state.tokenizer = tok
    from transformers import PreTrainedTokenizerFast

    state.fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>")
    return (
        "BPE of %d tokens trained on %d lines; %d chars -> %d ids, round trip exact"
        % (tok.get_vocab_size(), len(state.lines), len(sample), len(ids)),
        {"vocab_size": tok.get_vocab_size()},
    )


def check_datasets(state):
    if state.fast is None:
        raise NotRun("needs the tokenizer of stack.tokenizers")
    from datasets import Dataset

    eos = state.fast.eos_token
    raw = Dataset.from_dict({"text": [line + eos for line in state.lines]})
    split = raw.train_test_split(test_size=0.1, seed=0)

    def tokenize(batch):
        return state.fast(batch["text"])

    def group(batch):
        ids = [i for row in batch["input_ids"] for i in row]
        total = len(ids) // BLOCK * BLOCK
        blocks = [ids[i : i + BLOCK] for i in range(0, total, BLOCK)]
        return {
            "input_ids": blocks,
            "attention_mask": [[1] * BLOCK for _ in blocks],
            "labels": [b[:] for b in blocks],
        }

    out = {}
    for key in ("train", "test"):
        tokenized = split[key].map(tokenize, batched=True, remove_columns=["text"])
        out[key] = tokenized.map(group, batched=True, remove_columns=tokenized.column_names)
    lengths = {len(x) for x in out["train"]["input_ids"]}
    if lengths != {BLOCK} or len(out["train"]) < 20 or len(out["test"]) < 2:
        raise AssertionError(
            "grouping gave %d/%d blocks of lengths %s"
            % (len(out["train"]), len(out["test"]), sorted(lengths))
        )
    state.train, state.eval = out["train"], out["test"]
    return (
        "%d train / %d eval blocks of %d tokens (tokenize -> group_texts map)"
        % (len(state.train), len(state.eval), BLOCK),
        {"train_blocks": len(state.train), "eval_blocks": len(state.eval)},
    )


def tiny_config(state):
    from transformers import GPT2Config

    eos = state.fast.eos_token_id
    return GPT2Config(
        vocab_size=state.tokenizer.get_vocab_size(),
        n_positions=BLOCK,
        n_embd=64,
        n_layer=2,
        n_head=2,
        bos_token_id=eos,
        eos_token_id=eos,
    )


def plain_blocks(state):
    """The blocks without datasets (a machine that lacks it still runs the practice)."""
    eos = state.fast.eos_token
    ids = [i for line in state.lines for i in state.fast(line + eos)["input_ids"]]
    total = len(ids) // BLOCK * BLOCK
    blocks = [
        {
            "input_ids": ids[i : i + BLOCK],
            "attention_mask": [1] * BLOCK,
            "labels": ids[i : i + BLOCK],
        }
        for i in range(0, total, BLOCK)
    ]
    cut = len(blocks) * 9 // 10
    return blocks[:cut], blocks[cut:]


def check_gpt2(state):
    if state.train is None and state.fast is not None and installed("datasets") is None:
        state.train, state.eval = plain_blocks(state)  # datasets missing: plain-Python blocks
    if state.train is None:
        raise NotRun("needs the blocks of stack.datasets")
    import torch
    from transformers import GPT2LMHeadModel, Trainer, TrainingArguments, default_data_collator

    torch.manual_seed(0)
    model = GPT2LMHeadModel(tiny_config(state))
    precision = {}
    if state.cuda:
        precision = {"bf16": True} if torch.cuda.is_bf16_supported() else {"fp16": True}
    args = TrainingArguments(
        output_dir=os.path.join(state.work, "gpt2"),
        max_steps=state.steps,
        per_device_train_batch_size=8,
        per_device_eval_batch_size=16,
        learning_rate=3e-3,
        lr_scheduler_type="cosine",
        warmup_steps=max(1, state.steps // 10),
        weight_decay=0.01,
        logging_steps=max(1, state.steps // 5),
        save_strategy="no",
        report_to=[],
        disable_tqdm=True,
        seed=0,
        use_cpu=not state.cuda,
        **precision,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=state.train,
        eval_dataset=state.eval,
        data_collator=default_data_collator,
    )
    before = trainer.evaluate()["eval_loss"]
    trainer.train()
    after = trainer.evaluate()["eval_loss"]
    state.trained = trainer.model
    schedule = trainer.lr_scheduler.__class__.__name__ if trainer.lr_scheduler is not None else "?"
    data = {
        "eval_loss_before": before,
        "eval_loss_after": after,
        "perplexity": math.exp(after),
        "steps": state.steps,
        "precision": next(iter(precision), "fp32"),
        "scheduler": schedule,
    }
    if not (after < before * 0.9):
        raise AssertionError("eval loss did not fall: %.3f -> %.3f" % (before, after))
    return (
        "tiny GPT-2 trained %d steps with Trainer (cosine, warmup, %s): eval loss %.3f -> %.3f, perplexity %.1f"
        % (state.steps, data["precision"], before, after, data["perplexity"]),
        data,
    )


def _loader(state, batch=8):
    import torch
    from transformers import default_data_collator

    return torch.utils.data.DataLoader(
        state.train,
        batch_size=batch,
        shuffle=True,
        collate_fn=default_data_collator,
        generator=torch.Generator().manual_seed(0),
    )


def _losses(model, optimizer, batches, backward, device, steps):
    losses = []
    while len(losses) < steps:
        for raw in batches:
            batch = {k: v.to(device) for k, v in raw.items()} if device else raw
            loss = model(**batch).loss
            backward(loss)
            optimizer.step()
            optimizer.zero_grad()
            losses.append(float(loss.detach()))
            if len(losses) >= steps:
                break
    return losses


def _fell(losses, factor=0.9):
    k = max(2, len(losses) // 5)
    first, last = sum(losses[:k]) / k, sum(losses[-k:]) / k
    return first, last, last < first * factor


def check_accelerate(state):
    if state.train is None:
        raise NotRun("needs the blocks of stack.datasets")
    import torch
    from accelerate import Accelerator
    from transformers import GPT2LMHeadModel

    torch.manual_seed(0)
    accelerator = Accelerator(cpu=not state.cuda)
    model = GPT2LMHeadModel(tiny_config(state))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model, optimizer, loader = accelerator.prepare(model, optimizer, _loader(state))
    model.train()
    losses = _losses(model, optimizer, loader, accelerator.backward, None, state.steps)
    first, last, ok = _fell(losses)
    if not ok:
        raise AssertionError("loss did not fall through Accelerator: %.3f -> %.3f" % (first, last))
    return (
        "%d steps through Accelerator (%s): loss %.3f -> %.3f"
        % (len(losses), accelerator.device, first, last),
        {"loss_first": first, "loss_last": last, "device": str(accelerator.device)},
    )


def check_peft(state):
    if state.train is None:
        raise NotRun("needs the blocks of stack.datasets")
    import copy

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import GPT2LMHeadModel

    torch.manual_seed(0)
    # the base: the practice's trained GPT-2 (as LoRA adapts a pretrained model), else a fresh one
    base = copy.deepcopy(state.trained).cpu().float() if state.trained is not None else None
    base = base if base is not None else GPT2LMHeadModel(tiny_config(state))
    frozen_before = base.transformer.h[0].attn.c_attn.weight.detach().clone()
    config = LoraConfig(
        r=8,
        lora_alpha=16,
        target_modules=["c_attn", "c_proj", "c_fc"],
        fan_in_fan_out=True,
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(base, config)
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    total = sum(p.numel() for p in model.parameters())
    count = sum(p.numel() for _, p in trainable)
    if not trainable or any("lora_" not in n for n, _ in trainable):
        raise AssertionError(
            "trainable parameters other than the LoRA adapter: %s"
            % [n for n, _ in trainable if "lora_" not in n][:3]
        )
    device = "cuda" if state.cuda else "cpu"
    model.to(device)
    optimizer = torch.optim.AdamW([p for _, p in trainable], lr=1e-2)
    model.train()
    # one fixed batch, fitted: the adapter alone must lower the loss on it
    batch = next(iter(_loader(state)))
    steps = max(state.steps, 30)  # the adapter needs a few dozen steps to move the loss 2%
    losses = _losses(model, optimizer, [batch], lambda loss: loss.backward(), device, steps)
    # a low-rank adapter moves a loss slowly: it must fall (2%+) and the adapter must have moved
    first, last, ok = _fell(losses, factor=0.98)
    moved = sum(float(p.detach().abs().sum()) for n, p in trainable if "lora_B" in n)
    if moved == 0.0:
        raise AssertionError("the LoRA B matrices are still zero after training")
    after = model.base_model.model.transformer.h[0].attn.c_attn.base_layer.weight.detach().cpu()
    if not torch.equal(after, frozen_before):
        raise AssertionError("the frozen base weights changed during LoRA training")
    if not ok:
        raise AssertionError("LoRA training did not lower the loss: %.3f -> %.3f" % (first, last))
    path = os.path.join(state.work, "adapter")
    model.save_pretrained(path)
    saved = sorted(os.listdir(path))
    return (
        "LoRA r=8: %d of %d parameters train (%.1f%%), base frozen; loss %.3f -> %.3f; adapter saved (%s)"
        % (count, total, 100.0 * count / total, first, last, ", ".join(saved)),
        {"trainable": count, "total": total, "loss_first": first, "loss_last": last},
    )


def check_safetensors(state):
    import torch
    from safetensors.torch import load_file, save_file

    tensors = {
        "a": torch.arange(12, dtype=torch.float32).reshape(3, 4),
        "b": torch.ones(5, dtype=torch.int64),
    }
    path = os.path.join(state.work, "t.safetensors")
    save_file(tensors, path)
    back = load_file(path)
    if set(back) != set(tensors) or not all(torch.equal(back[k], tensors[k]) for k in tensors):
        raise AssertionError("tensors changed in a save/load round trip")
    return "save_file/load_file round trip exact (%d bytes)" % os.path.getsize(path), {}


def check_triton(state):
    from importlib import metadata

    from packaging.requirements import Requirement

    have = installed("triton")
    pins = [Requirement(r) for r in metadata.requires("torch") or () if r.startswith("triton")]
    if not pins:
        return "triton %s (this torch declares no triton pin)" % have, {"triton": have}
    spec = pins[0].specifier
    if not spec.contains(have, prereleases=True):
        raise AssertionError("triton %s is installed but torch pins triton%s" % (have, spec))
    return "triton %s is the one torch pins (%s)" % (have, spec), {"triton": have}


def _reference_attention(torch, q, k, v):
    qt, kt, vt = (t.float().transpose(1, 2) for t in (q, k, v))
    scores = qt @ kt.transpose(-1, -2) / math.sqrt(q.shape[-1])
    mask = torch.ones(scores.shape[-2:], dtype=torch.bool, device=q.device).tril()
    scores = scores.masked_fill(~mask, float("-inf"))
    return (scores.softmax(-1) @ vt).transpose(1, 2)


def check_flash_attn(state):
    torch = cuda_or_not_run(state)
    from flash_attn import flash_attn_func

    major, minor = torch.cuda.get_device_capability()
    if major < 8:
        raise NotRun(
            "FlashAttention-2 needs compute capability 8.0+ (this GPU: %d.%d)" % (major, minor)
        )
    q, k, v = (
        torch.randn(2, 128, 4, 64, device="cuda", dtype=torch.float16, requires_grad=True)
        for _ in range(3)
    )
    out = flash_attn_func(q, k, v, causal=True)
    err = float((out.float() - _reference_attention(torch, q, k, v)).abs().max())
    if err > 2e-2:
        raise AssertionError("flash_attn_func differs from float32 attention by %.4f" % err)
    out.sum().backward()
    if q.grad is None or not bool(q.grad.isfinite().all()):
        raise AssertionError("no finite gradient through flash_attn_func")
    return "flash_attn_func forward+backward; max error vs float32 reference %.2e" % err, {
        "max_error": err
    }


def check_xformers(state):
    torch = cuda_or_not_run(state)
    import xformers.ops as xops

    q, k, v = (torch.randn(2, 128, 4, 64, device="cuda", dtype=torch.float16) for _ in range(3))
    out = xops.memory_efficient_attention(q, k, v, attn_bias=xops.LowerTriangularMask())
    err = float((out.float() - _reference_attention(torch, q, k, v)).abs().max())
    if err > 2e-2:
        raise AssertionError(
            "memory_efficient_attention differs from float32 attention by %.4f" % err
        )
    return "memory_efficient_attention; max error vs float32 reference %.2e" % err, {
        "max_error": err
    }


def check_bitsandbytes(state):
    torch = cuda_or_not_run(state)
    import bitsandbytes as bnb

    details = []
    major, minor = torch.cuda.get_device_capability()
    x = torch.randn(8, 64, device="cuda", dtype=torch.float16)
    if (major, minor) >= (7, 5):
        lin = bnb.nn.Linear8bitLt(64, 64, has_fp16_weights=False).cuda()
        if not bool(lin(x).isfinite().all()):
            raise AssertionError("Linear8bitLt gave non-finite output")
        details.append("Linear8bitLt")
    l4 = bnb.nn.Linear4bit(64, 64, compute_dtype=torch.float16, quant_type="nf4").cuda()
    if not bool(l4(x).isfinite().all()):
        raise AssertionError("Linear4bit (nf4) gave non-finite output")
    details.append("Linear4bit nf4")
    p = torch.nn.Parameter(torch.randn(4096, device="cuda"))
    before = p.detach().clone()
    opt = bnb.optim.Adam8bit([p], lr=1e-2)
    (p * p).sum().backward()
    opt.step()
    if torch.equal(before, p.detach()):
        raise AssertionError("Adam8bit step did not change the parameter")
    details.append("Adam8bit step")
    return ", ".join(details) + " on the GPU", {}


def check_deepspeed(state):
    torch = cuda_or_not_run(state)
    import deepspeed
    from deepspeed.ops.op_builder import FusedAdamBuilder

    os.environ.setdefault("TORCH_EXTENSIONS_DIR", os.path.join(state.work, "torch_extensions"))
    builder = FusedAdamBuilder()
    if not builder.is_compatible():
        raise AssertionError("FusedAdam op is not compatible here (ds_report)")
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT="29533", RANK="0", LOCAL_RANK="0", WORLD_SIZE="1"
    )
    model = torch.nn.Linear(64, 64).cuda()
    engine, _, _, _ = deepspeed.initialize(
        model=model,
        model_parameters=model.parameters(),
        config={
            "train_batch_size": 2,
            "zero_optimization": {"stage": 1},
            "optimizer": {"type": "Adam", "params": {"lr": 1e-3, "torch_adam": True}},
        },
    )
    loss = engine(torch.randn(2, 64, device="cuda")).pow(2).mean()
    engine.backward(loss)
    engine.step()
    return "deepspeed %s: FusedAdam compatible, one ZeRO stage-1 step" % deepspeed.__version__, {}


def check_vllm(state):
    torch = cuda_or_not_run(state)
    import vllm

    if state.tokenizer is None:
        raise NotRun("needs the tokenizer of stack.tokenizers")
    from transformers import LlamaConfig, LlamaForCausalLM

    path = os.path.join(state.work, "tiny-llama")
    cfg = LlamaConfig(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        vocab_size=state.tokenizer.get_vocab_size(),
        max_position_embeddings=128,
    )
    LlamaForCausalLM(cfg).save_pretrained(path)
    state.fast.save_pretrained(path)
    llm = vllm.LLM(
        model=path,
        enforce_eager=True,
        gpu_memory_utilization=0.2,
        max_model_len=128,
        dtype="bfloat16",
    )
    out = llm.generate(["the model"], vllm.SamplingParams(max_tokens=4, ignore_eos=True))
    n = len(out[0].outputs[0].token_ids)
    if n != 4:
        raise AssertionError("generated %d tokens, expected 4" % n)
    return "vllm %s generated 4 tokens on torch %s (CUDA %s)" % (
        vllm.__version__,
        torch.__version__,
        torch.version.cuda,
    ), {}


CHECKS = [
    ("stack.versions", None, check_versions),
    ("stack.tokenizers", "tokenizers", check_tokenizers),
    ("stack.datasets", "datasets", check_datasets),
    ("stack.gpt2", "transformers", check_gpt2),
    ("stack.accelerate", "accelerate", check_accelerate),
    ("stack.peft", "peft", check_peft),
    ("stack.safetensors", "safetensors", check_safetensors),
    ("stack.triton", "triton", check_triton),
    ("stack.flash-attn", "flash-attn", check_flash_attn),
    ("stack.xformers", "xformers", check_xformers),
    ("stack.bitsandbytes", "bitsandbytes", check_bitsandbytes),
    ("stack.deepspeed", "deepspeed", check_deepspeed),
    ("stack.vllm", "vllm", check_vllm),
]


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--work-dir", default=None)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--require", default="")
    parser.add_argument("--json-lines", action="store_true")
    args = parser.parse_args(argv)
    work = args.work_dir or tempfile.mkdtemp(prefix="torchsetup-stack-")
    os.makedirs(work, exist_ok=True)
    for key, value in (
        ("HF_HUB_OFFLINE", "1"),
        ("HF_DATASETS_OFFLINE", "1"),
        ("TRANSFORMERS_OFFLINE", "1"),
        ("HF_DATASETS_CACHE", os.path.join(work, "datasets")),
        ("TOKENIZERS_PARALLELISM", "false"),
        ("HF_DATASETS_DISABLE_PROGRESS_BARS", "1"),
        ("WANDB_DISABLED", "true"),
    ):
        os.environ.setdefault(key, value)
    emit("hello", python=sys.version.split()[0])
    required = {n for n in args.require.split(",") if n}
    names = [
        name for name, dist, _ in CHECKS if dist is None or installed(dist) or dist in required
    ]
    emit("plan", checks=names)
    state = State(args.corpus, work, args.steps)
    for name, dist, fn in CHECKS:
        if name not in names:
            continue
        started = time.perf_counter()
        if dist is not None and installed(dist) is None:
            emit(
                "result",
                name=name,
                status="fail",
                seconds=0.0,
                detail="%s is not installed" % dist,
                data={},
            )
            continue
        try:
            detail, data = fn(state)
            status = "pass"
        except NotRun as exc:
            status, detail, data = "not run", str(exc), {}
        except Exception as exc:  # every failure is a result, never a crash
            status, detail = "fail", clip("%s: %s" % (type(exc).__name__, exc))
            data = {"traceback": clip(traceback.format_exc())}
        emit(
            "result",
            name=name,
            status=status,
            seconds=time.perf_counter() - started,
            detail=detail,
            data=data,
        )
    emit("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
