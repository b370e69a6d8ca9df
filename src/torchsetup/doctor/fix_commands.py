"""The fix lines of findings: commands computed from the detected facts.

Rules call these with their :class:`RuleContext` (the edge is one-way: this module needs the
context, the context knows nothing of fixes). Cheap to import: the resolver is imported only
when a fix line is computed. ``doctor --fix`` plans its steps in :mod:`.fix_plan`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torchsetup.detect.model import Environment
    from torchsetup.doctor.context import RuleContext
    from torchsetup.resolve.plan import Plan


def install_command(ctx: RuleContext, *args: str) -> str:
    """``torchsetup install ...`` for the same target, with the command the resolver plans for
    this machine: ``torchsetup install --torch 2.11.0   (= python -m pip install torch==2.11.0
    ... --index-url https://download.pytorch.org/whl/cu130)``. When nothing can be planned
    (unknown facts, an impossible request), the torchsetup command alone: it explains why."""
    command = ctx.torchsetup("install", *args)
    planned = planned_install(ctx.env, args)
    return f"{command}   (= {planned})" if planned else command


def planned_install(env: Environment, args: Sequence[str]) -> str | None:
    """The resolver's install command line for ``torchsetup install <args>`` on ``env``."""
    plan = install_plan(env, args)
    steps = [s for s in plan.redacted().steps if s.id == "install"] if plan else []
    return steps[-1].shell_line() if steps else None


def install_plan(env: Environment, args: Sequence[str]) -> Plan | None:
    """The resolver's plan for ``torchsetup install <args>`` on ``env`` (None: none can be made)."""
    from torchsetup.errors import TorchSetupError
    from torchsetup.matrix.load import MatrixError, load_matrix
    from torchsetup.resolve.request import parse_request
    from torchsetup.resolve.resolver import resolve

    options = _install_options(args)
    if options is None or env.python is None or not env.python.ok:
        return None
    try:
        return resolve(env, parse_request(python=env.python.executable, **options), load_matrix())
    except (TorchSetupError, MatrixError):
        return None


def _install_options(args: Sequence[str]) -> dict[str, Any] | None:
    """``--torch 2.11.0 --cuda 12.6 --cpu`` -> parse_request keywords (None: not understood)."""
    options: dict[str, Any] = {}
    items = list(args)
    while items:
        flag = items.pop(0)
        if flag == "--cpu":
            options["cpu"] = True
        elif flag in ("--torch", "--cuda", "--rocm", "--variant", "--method") and items:
            options[flag[2:]] = items.pop(0)
        else:
            return None
    return options


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
