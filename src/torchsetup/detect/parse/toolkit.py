"""Parsers for the CUDA toolkit and compilers: nvcc --version, gcc --version."""

from __future__ import annotations

import re
from typing import Optional


def parse_nvcc_version(text: str) -> tuple[Optional[str], Optional[str]]:
    """("13.0", "13.0.88") from ``nvcc --version``."""
    m = re.search(r"release (\d+\.\d+), V(\d+\.\d+\.\d+)", text)
    if m:
        return m.group(1), m.group(2)
    m = re.search(r"release (\d+\.\d+)", text)
    return (m.group(1), None) if m else (None, None)


def parse_compiler_version(text: str) -> Optional[str]:
    """First dotted version on the first line: gcc/g++/clang/cmake --version."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    m = re.search(r"(\d+\.\d+(?:\.\d+)?)\s*$", first) or re.search(r"(\d+\.\d+(?:\.\d+)?)", first)
    return m.group(1) if m else None
