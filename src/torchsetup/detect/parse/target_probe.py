"""The one parser of the target probe (``resources/target_probe.py``): its JSON record to a
:class:`TargetPython`. doctor (through :func:`torchsetup.detect.build.build_environment`),
install (its re-read of the target before running a plan, :func:`probe_python`) and the
install's restore file all read the interpreter through here.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Optional

from torchsetup.detect.model import (
    CondaPackage,
    Distribution,
    TargetPython,
    TorchBuild,
    canonical_name,
)

if TYPE_CHECKING:
    from torchsetup.detect.probes.record import ProbeRecord


def build_python(rec: Optional[ProbeRecord]) -> Optional[TargetPython]:
    if rec is None:
        return None
    d = rec.data
    exe = d.get("executable") or "?"
    if not rec.ok:
        return TargetPython(executable=exe, chosen_by=d.get("chosen_by"), ok=False, error=rec.error)
    py = d.get("python") or {}
    plat = d.get("platform") or {}
    unread = bool(d.get("packages_unread"))  # a Python 2 target: its packages were not read
    dists = tuple(
        Distribution(
            name=canonical_name(x["name"]),
            version=x["version"],
            location=x.get("location"),
            requires=tuple(x.get("requires") or ()),
            installer=x.get("installer"),
            wheel_tags=tuple(x.get("wheel_tags") or ()),
            direct_url=x.get("direct_url"),
        )
        for x in d.get("distributions") or []
    )
    locations = tuple(d.get("torch_locations") or ())
    torch = _torch_build(d.get("torch_version_py"), dists, locations, d.get("torch_bytecode"))
    pip = next((x.version for x in dists if x.name == "pip"), None)
    conda = tuple(
        CondaPackage(
            name=x["name"],
            version=x["version"],
            build=x.get("build"),
            channel=conda_channel_name(x.get("channel")),
        )
        for x in d.get("conda_packages") or []
    )
    return TargetPython(
        executable=py.get("executable") or exe,
        chosen_by=d.get("chosen_by"),
        ok=True,
        version=py.get("version"),
        implementation=py.get("implementation"),
        bits=py.get("bits"),
        platform=py.get("platform"),
        machine=py.get("machine"),
        prefix=py.get("prefix"),
        base_prefix=py.get("base_prefix"),
        env_kind=py.get("env_kind"),
        externally_managed=externally_managed(py.get("externally_managed"), py.get("env_kind")),
        include_dir=py.get("include_dir"),
        has_python_h=py.get("has_python_h"),
        user_site=py.get("user_site"),
        user_site_enabled=py.get("user_site_enabled"),
        pip_version=pip,
        purelib=py.get("purelib"),
        sys_path=tuple(py.get("sys_path") or ()),
        distributions=dists,
        torch=torch,
        torch_checked=not unread,
        distributions_checked=not unread,
        torch_locations=locations,
        conda_packages=conda,
        sysconfig_platform=plat.get("sysconfig_platform"),
        abiflags=plat.get("abiflags"),
        libc=plat.get("libc"),
        libc_version=plat.get("libc_version"),
        mac_version=plat.get("mac_version"),
        all_distributions=bool(d.get("all_distributions")),
    )


def conda_channel_name(channel: Optional[str]) -> Optional[str]:
    """A conda channel's name: pytorch for https://conda.anaconda.org/pytorch/linux-64."""
    if not channel:
        return None
    text = channel.rstrip("/")
    parts = text.split("://", 1)[1].split("/")[1:] if "://" in text else text.split("/")
    if parts and re.fullmatch(r"noarch|(linux|osx|win)-\w+", parts[-1]):
        parts = parts[:-1]
    return "/".join(parts) or None


def externally_managed(marker: Optional[bool], env_kind: Optional[str]) -> Optional[bool]:
    """PEP 668: the EXTERNALLY-MANAGED marker of the base interpreter's stdlib applies to that
    interpreter only; a virtual environment made from it is not externally managed."""
    if marker is None:
        return None
    return marker and env_kind != "venv"


BYTECODE_STATES = ("present", "absent", "absent-not-written")  # resources/target_probe.py


def _torch_build(
    version_py: Optional[dict[str, Any]],
    dists: tuple[Distribution, ...],
    locations: tuple[str, ...],
    bytecode: Any = None,
) -> Optional[TorchBuild]:
    torch_dists = [x for x in dists if x.name == "torch"]
    if not version_py and not torch_dists and not locations:
        return None
    dist = torch_dists[0] if torch_dists else None
    vp = version_py if isinstance(version_py, dict) else {}
    problem = None
    if locations and not isinstance(version_py, dict):
        problem = "is missing or unreadable"
    elif locations and not isinstance(vp.get("__version__"), str):
        problem = "holds no __version__ (it is not the file a torch wheel installs)"
    raw = vp.get("__version__")
    version = raw if isinstance(raw, str) and raw else (dist.version if dist else "?")
    return TorchBuild(
        version=str(version),
        cuda=_str_or_none(vp.get("cuda")),
        hip=_str_or_none(vp.get("hip")),
        xpu=_str_or_none(vp.get("xpu")),
        git_version=_str_or_none(vp.get("git_version")),
        debug=vp.get("debug") if isinstance(vp.get("debug"), bool) else None,
        location=locations[0] if locations else (dist.location if dist else None),
        requires=dist.requires if dist else (),
        wheel_tags=dist.wheel_tags if dist else (),
        version_py_problem=problem,
        bytecode=bytecode if bytecode in BYTECODE_STATES else None,
    )


def _str_or_none(value: Any) -> Optional[str]:
    return None if value is None else str(value)
