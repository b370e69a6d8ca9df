"""Fix commands computed from the detected facts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torchsetup.doctor.context import RuleContext


def install_command(ctx: RuleContext, args: Sequence[str]) -> str:
    """``torchsetup install ...`` for the same target (resolves and verifies the right build)."""
    return ctx.torchsetup("install", *args)


def compiler_install_command(system: str | None, distro: str | None) -> str:
    if system == "Darwin":
        return "xcode-select --install"
    if system == "Windows":
        return (
            "install the Visual Studio Build Tools with the 'Desktop development with C++' "
            "workload (winget install Microsoft.VisualStudio.2022.BuildTools)"
        )
    if distro in ("fedora", "rhel", "centos", "rocky", "almalinux", "amzn"):
        return "sudo dnf install -y gcc gcc-c++"
    if distro in ("arch", "manjaro"):
        return "sudo pacman -S --needed base-devel"
    if distro in ("opensuse-leap", "opensuse-tumbleweed", "sles"):
        return "sudo zypper install -y gcc gcc-c++"
    if distro == "alpine":
        return "sudo apk add build-base"
    return "sudo apt-get install -y build-essential"
