"""Rules of the System category: the OS and C library the wheels need (TS023 TS024 TS028)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from torchsetup.doctor.context import RuleContext
from torchsetup.doctor.fix_commands import install_command
from torchsetup.doctor.model import ERROR, INFO, WARNING, Finding, Rule
from torchsetup.doctor.rules._facts import (
    deep_facts,
    error_text,
)
from torchsetup.doctor.rules.registry import rule
from torchsetup.matrix import lookups as kb


@rule(
    "TS023",
    title="glibc too old for current torch wheels",
    category="system",
    severity=WARNING,
    catalogue=23,
    sources=("pytorch/pytorch#156215", "pytorch/pytorch#126551"),
)
def glibc_too_old(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """Linux wheels are manylinux_2_28 from torch 2.7 (some 2.6 variants already): they need
    glibc 2.28 (Ubuntu 18.04 has 2.27, CentOS 7 2.17). pip then offers only older releases
    ("from versions: ... 2.6.0+cu118"), uv says "has no wheels with a matching platform tag".
    musl (Alpine) has no torch wheels at all.

    Before an install a warning, with an older torch installed information only.
    Fix: a newer OS or a container; or pin the newest torch the OS can run.
    """
    o, torch, py = ctx.env.os, ctx.torch, ctx.py
    platform = o.platform_key
    if o.system != "Linux" or platform is None or py is None:
        return
    if o.libc == "musl":
        yield r.finding(
            severity=ERROR,
            title="musl libc: no torch wheels",
            detail=f"{o.name or 'This Linux'} uses musl {o.libc_version or ''}; torch publishes glibc (manylinux) wheels only.",
            fix="use a glibc-based image (e.g. python:3.12-slim instead of python:3.12-alpine)",
        )
        return
    if o.libc != "glibc" or not o.libc_version:
        return
    need = kb.min_glibc(kb.newest_release(), platform)
    if need is None or kb.version_tuple(o.libc_version) >= kb.version_tuple(need):
        return
    best = kb.newest_torch_for_glibc(o.libc_version, platform)
    detail = (
        f"glibc {o.libc_version}: torch {kb.newest_release()} wheels need glibc {need}; "
        f"the newest torch that installs here is {best or 'none'}."
    )
    fix = "upgrade the OS or use a container with glibc >= 2.28" + (
        f"; or pin torch=={best}" if best else ""
    )
    yield r.finding(detail=detail, fix=fix, severity=INFO if torch is not None else WARNING)


@rule(
    "TS024",
    title="Intel Mac or x86_64 Python under Rosetta",
    category="system",
    severity=WARNING,
    catalogue=24,
    sources=("pytorch/pytorch#114602", "pytorch/pytorch#131766"),
)
def intel_mac(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """PyTorch stopped building macOS x86_64 wheels after 2.2: on an Intel Mac `pip install
    torch==2.4` fails with "(from versions: ... 2.2.2)". On Apple silicon the same happens to an
    x86_64 Python running under Rosetta, which also has no MPS.

    Fix: on Apple silicon a native arm64 Python; on an Intel Mac torch<=2.2.2 (or a source build).
    """
    o, torch = ctx.env.os, ctx.torch
    if o.system != "Darwin" or o.machine != "x86_64":
        return
    last = kb.last_release_for("macos-x86_64") or "2.2.2"
    if o.rosetta:
        yield r.finding(
            severity=ERROR,
            title="x86_64 Python under Rosetta on Apple silicon",
            detail=f"The target Python runs translated by Rosetta: it only gets torch <= {last} and no MPS.",
            fix="uv python install 3.12   (a native arm64 Python; check with: python -c 'import platform; print(platform.machine())'), then recreate the environment",
        )
        return
    if torch is not None and kb.version_tuple(torch.public_version) <= kb.version_tuple(last):
        return
    yield r.finding(
        detail=f"Intel Mac (macOS x86_64): the last torch with wheels for it is {last}.",
        fix=install_command(ctx, "--torch", last),
    )


@rule(
    "TS028",
    title="Windows: Visual C++ runtime missing",
    category="system",
    severity=ERROR,
    catalogue=28,
    sources=("pytorch/pytorch#131662", "pytorch/pytorch#129568"),
)
def vc_runtime(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """torch's DLLs need the Microsoft Visual C++ 2015-2022 runtime (vcruntime140.dll,
    vcruntime140_1.dll, msvcp140.dll; torch 2.4.0 also libomp140.x86_64.dll). Without it
    `import torch` fails with "OSError: [WinError 126] The specified module could not be found.
    Error loading ...\\torch\\lib\\fbgemm.dll or one of its dependencies".

    Fix: install the latest Microsoft Visual C++ Redistributable (x64) - never DLLs from
    third-party DLL sites.
    """
    o, torch, deep = ctx.env.os, ctx.torch, deep_facts(ctx)
    if o.system != "Windows":
        return
    missing = [
        dll
        for dll in o.vc_runtime_missing or ()
        if dll != "libomp140.x86_64.dll" or (torch is not None and torch.public_version == "2.4.0")
    ]
    said = re.search(r"WinError 126\]?.*?([\w.]+\.dll)?", error_text(deep))
    if not missing and not said:
        return
    detail = (
        f"System32 lacks {', '.join(missing)}"
        if missing
        else "import torch failed with WinError 126"
    )
    if said and said.group(1):
        detail += f" (import torch: Error loading {said.group(1)})"
    yield r.finding(
        detail=detail + ".",
        fix="winget install Microsoft.VCRedist.2015+.x64   (or https://aka.ms/vs/17/release/vc_redist.x64.exe)",
    )
