"""Version and name helpers every stage uses: one implementation of each.

Pure, stdlib only (this module is on the start-up path of every command).
"""

from __future__ import annotations

import re
from typing import Optional


def version_tuple(text: Optional[str]) -> tuple[int, ...]:
    """The leading dotted numbers of a version, every one of them:

    '535.104.05' -> (535, 104, 5); '1.2.3.4' -> (1, 2, 3, 4); '24.0.dev0' -> (24, 0);
    '2.13.0+cu128' -> (2, 13, 0) (a local label ends the number); '2.10.0.dev20251008' ->
    (2, 10, 0); '2.5.0rc1' -> (2, 5, 0); None or '' -> (). The one implementation for every
    stage (smoke.py, which runs in the target with the stdlib only, keeps its own two-part copy).
    """
    if not text:
        return ()
    parts: list[int] = []
    for piece in text.strip().split("."):
        m = re.match(r"\d+", piece)
        if not m:
            break
        parts.append(int(m.group()))
        if m.end() != len(piece):
            break
    return tuple(parts)


def version_at_least(version: str, floor: str) -> bool:
    """Dotted-number comparison with zero padding: '580' <= '580.0.1'."""
    a, b = version_tuple(version), version_tuple(floor)
    width = max(len(a), len(b))
    return a + (0,) * (width - len(a)) >= b + (0,) * (width - len(b))


def parse_cc(text: str) -> tuple[int, int]:
    """'8.6' -> (8, 6). Raises ValueError for anything else."""
    m = re.fullmatch(r"\s*(\d+)\.(\d+)\s*", text)
    if not m:
        raise ValueError(f"not a compute capability: {text!r}")
    return int(m.group(1)), int(m.group(2))


def variant_kind(name: str) -> str:
    """cu128 -> 'cuda', rocm6.2 -> 'rocm', cpu, xpu."""
    if name.startswith("cu"):
        return "cuda"
    if name.startswith("rocm"):
        return "rocm"
    return name


def variant_cuda(name: str) -> Optional[str]:
    """cu117 -> '11.7', cu130 -> '13.0'; None for non-CUDA variants."""
    m = re.fullmatch(r"cu(\d\d)(\d)", name)
    return f"{int(m.group(1))}.{m.group(2)}" if m else None


def cuda_variant_name(cuda: str) -> str:
    """'12.8' -> 'cu128'."""
    major, _, minor = cuda.partition(".")
    return f"cu{major}{minor}"


def os_family(platform: str) -> str:
    """linux-x86_64 -> 'linux'."""
    return platform.partition("-")[0]
