"""Parsers for OS facts: /etc/os-release, glibc strings, /proc/version, container hints."""

from __future__ import annotations

import re
import shlex
from typing import Optional


def parse_os_release(text: str) -> dict[str, str]:
    """KEY=value lines of /etc/os-release (values may be quoted)."""
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        try:
            parts = shlex.split(value)
            out[key.strip()] = parts[0] if parts else ""
        except ValueError:
            out[key.strip()] = value.strip().strip("\"'")
    return out


def parse_glibc(text: Optional[str]) -> tuple[Optional[str], Optional[str]]:
    """("glibc", "2.36") from "glibc 2.36", "ldd (Debian GLIBC 2.36-9+deb12u14) 2.36",
    "Libc version: glibc-2.39" or "...-with-glibc2.39"; ("musl", "1.2.4") for musl."""
    if not text:
        return None, None
    if re.search(r"\bmusl\b", text, re.IGNORECASE):
        m = re.search(r"Version\s+(\d+\.\d+(?:\.\d+)?)", text) or re.search(
            r"musl[ -](\d+\.\d+(?:\.\d+)?)", text
        )
        return "musl", m.group(1) if m else None
    m = re.search(r"glibc[ -]?(\d+\.\d+)", text, re.IGNORECASE)
    if m:
        return "glibc", m.group(1)
    m = re.search(r"^ldd \(.*\) (\d+\.\d+)", text, re.MULTILINE)
    if m:
        return "glibc", m.group(1)
    return None, None


def is_wsl(proc_version: Optional[str], kernel_release: Optional[str] = None) -> bool:
    for text in (proc_version, kernel_release):
        if text and re.search(r"microsoft|WSL", text, re.IGNORECASE):
            return True
    return False


def detect_container(
    *, dockerenv: bool, containerenv: bool, cgroup: Optional[str], env: dict[str, str]
) -> Optional[str]:
    if env.get("KUBERNETES_SERVICE_HOST"):
        return "kubernetes"
    if containerenv or env.get("container") == "podman":
        return "podman"
    if dockerenv:
        return "docker"
    if env.get("container"):
        return env["container"]
    if cgroup:
        for marker in ("docker", "kubepods", "containerd", "lxc", "libpod"):
            if marker in cgroup:
                return {"kubepods": "kubernetes", "libpod": "podman"}.get(marker, marker)
    return None


def normalise_machine(machine: Optional[str], system: Optional[str]) -> Optional[str]:
    if not machine:
        return None
    m = machine.lower()
    if m in ("amd64", "x86_64", "x64"):
        return "x86_64"
    if m in ("arm64", "aarch64", "armv8", "armv8l"):
        return "arm64" if system == "Darwin" else "aarch64"
    return m
