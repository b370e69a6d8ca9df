"""Rules of the Python category: the target interpreter itself and what pip said about it
(TS012 TS013 TS016 TS102 TS113 TS114)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from torchsetup.doctor.context import RuleContext
from torchsetup.doctor.fix_commands import install_command
from torchsetup.doctor.model import ERROR, INFO, WARNING, Finding, Rule
from torchsetup.doctor.rules._facts import said
from torchsetup.doctor.rules.registry import rule
from torchsetup.matrix import lookups as kb


@rule("TS102", title="The target Python could not be probed", category="python", severity=ERROR)
def target_probe_failed(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """torchsetup runs a small standard-library script in the target interpreter to read its
    packages. It failed: the interpreter does not exist, crashed or hung. Everything about the
    installed torch is then unknown.

    Fix: point torchsetup at a working interpreter with --python, or activate the environment.
    """
    p = ctx.env.python
    if p is None or p.ok:
        return
    yield r.finding(
        detail=p.error or f"{p.executable} could not be probed",
        fix="torchsetup doctor --python /path/to/python   (or activate the environment first)",
    )


@rule(
    "TS012",
    title="No torch wheel for this Python",
    category="python",
    severity=ERROR,
    catalogue=12,
    sources=("facebookresearch/ImageBind#139",),
)
def no_wheel_for_python(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """Each torch release publishes wheels for a window of Python versions (2.9-2.14:
    3.10-3.14). Outside it pip says "Could not find a version that satisfies the requirement
    torch (from versions: none)", or quietly picks an old release.

    Before an install: an error when no 2.x release has wheels for this Python, a warning when
    only old ones do. With torch installed: information when newer releases dropped this Python.

    Fix: use a supported Python (`uv python install 3.12`) in a new environment.
    """
    py, torch = ctx.py, ctx.torch
    if py is None or not py.minor or (py.bits or 64) != 64:
        return
    newest = kb.newest_release()
    if kb.python_supported(newest, py.minor):
        return
    best = kb.newest_torch_for_python(py.minor)
    fix = "uv python install 3.12   (then create the environment with it and install torch there)"
    if torch is not None:
        last = f"torch {best} is the last release" if best else "no torch 2.x release has"
        yield r.finding(
            severity=INFO,
            title="Newer torch releases have no wheels for this Python",
            detail=(
                f"Python {py.version}: {last} with wheels for it (the newest release is "
                f"{newest}); torch {torch.version} is installed."
            ),
            fix=fix,
        )
        return
    if best is None:
        oldest = kb.oldest_python()
        too_old = oldest is not None and kb.version_tuple(py.minor) < kb.version_tuple(oldest)
        yield r.finding(
            detail=f"No torch 2.x release publishes wheels for Python {py.version}: pip finds none"
            + (f" (the oldest Python any release supports is {oldest})" if too_old else "")
            + f". torch {newest} publishes wheels for Python {', '.join(kb.pythons_of(newest))}.",
            fix=fix,
        )
    else:
        yield r.finding(
            severity=WARNING,
            title="Only old torch releases have wheels for this Python",
            detail=f"The newest torch with wheels for Python {py.version} is {best} (newest release: {newest}).",
            fix=fix + f"   (or pin torch=={best})",
        )


@rule(
    "TS013",
    title="32-bit Python",
    category="python",
    severity=ERROR,
    catalogue=13,
    sources=("pytorch/pytorch#27815", "pytorch/pytorch#40511"),
)
def python_32bit(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """PyTorch publishes 64-bit wheels only. With a 32-bit Python (common on Windows, the
    "Windows installer (32-bit)" or a Program Files (x86) install) pip finds no torch at all:
    "Could not find a version that satisfies the requirement torch (from versions: none)".

    Fix: install a 64-bit Python and create the environment with it.
    """
    py = ctx.py
    if py is None or py.bits != 32:
        return
    if ctx.system == "Windows":
        fix = "winget install Python.Python.3.12   (64-bit), then recreate the environment with it"
    else:
        fix = "uv python install 3.12   (a 64-bit build), then recreate the environment with it"
    yield r.finding(
        detail=f"{py.executable} is a 32-bit Python {py.version}; torch has 64-bit wheels only.",
        fix=fix,
    )


@rule(
    "TS016",
    title="torch.compile does not support this Python in the installed torch",
    category="python",
    severity=WARNING,
    catalogue=16,
    sources=("pytorch/pytorch#120233", "pytorch/pytorch#144048", "pytorch/pytorch#169875"),
)
def dynamo_python(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """torch.compile (Dynamo) supports each new Python some releases after torch itself runs on
    it: 3.11 from 2.1, 3.12 from 2.4, 3.13 from 2.6, 3.14 from 2.10. Before that
    torch.compile raises "Dynamo is not supported on Python 3.12+"; eager mode works.

    Fix: upgrade torch, or use an older Python for code that compiles.
    """
    py, torch = ctx.py, ctx.torch
    if py is None or torch is None or not py.minor or kb.version_tuple(torch.version)[:1] < (2,):
        return  # torch.compile came with 2.0
    need = kb.dynamo_min_torch(py.minor)
    have = kb.version_tuple(torch.public_version)[:2]
    if need is None:
        detail = f"No torch release supports torch.compile on Python {py.version} yet (torch {torch.version} installed)."
        fix = "use Python 3.13 or older for code that calls torch.compile"
    elif have and have < kb.version_tuple(need):
        detail = (
            f"torch {torch.version} cannot torch.compile on Python {py.version}: "
            f"Dynamo supports Python {py.minor} from torch {need}."
        )
        fix = install_command(ctx, "--torch", f"{need}.0") + "   (or an older Python)"
    else:
        return
    yield r.finding(detail=detail, fix=fix)


@rule(
    "TS113",
    title="pip found no version of the package for this Python and platform",
    category="python",
    severity=ERROR,
    sources=("pytorch/pytorch#47354", "pytorch/pytorch#110436"),
)
def pip_no_version(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """pip said "Could not find a version that satisfies the requirement torch (from versions:
    none)" / "No matching distribution found for torch": the index has no wheel for this
    interpreter. For torch the usual reasons are a Python newer (or older) than any release
    supports, a 32-bit Python, an unsupported platform (Intel macOS after 2.2, Linux on ARM32)
    or a `--index-url` without the requested build. Read from error text.

    Fix: a supported 64-bit Python, or the index that has the build; `torchsetup install`
    picks both.
    """
    m = said(ctx, "pip-no-version") or said(ctx, "pip-no-distribution")
    if m is None:
        return
    req = m.group("req")
    py = ctx.py
    why = []
    if py is not None and py.bits == 32:
        why.append("this Python is 32-bit (torch publishes 64-bit wheels only)")
    if py is not None and py.minor and re.split(r"[=<>!~\[;]", req.lower())[0] == "torch":
        newest = kb.newest_torch_for_python(py.minor)
        if newest is None:
            why.append(f"no torch release has wheels for Python {py.minor}")
    versions = [v.strip() for v in (m.groupdict().get("versions") or "").split(",") if v.strip()]
    wanted = re.split(r"==+", req, maxsplit=1)[1] if "==" in req else None
    is_torch = re.split(r"[=<>!~\[;]", req.lower())[0] == "torch"
    public = wanted.split("+")[0] if wanted else None
    if (
        public
        and is_torch
        and py is not None
        and py.minor
        and kb.python_supported(public, py.minor) is False
    ):
        why.append(f"torch {public} has no wheels for Python {py.minor}")
    if wanted and versions and versions != ["none"]:
        public = wanted.split("+")[0]
        builds = [v for v in versions if v.split("+")[0] == public and v != wanted]
        if builds:
            why.append(f"the index has {', '.join(builds)} but not {wanted}")
        else:
            why.append(f"the index offers {versions[0]} to {versions[-1]} here, not {wanted}")
    kind = "pip-no-version" if said(ctx, "pip-no-version") else "pip-no-distribution"
    yield r.finding(
        detail=f"pip found no installable {req}"
        + (": " + "; ".join(why) if why else "")
        + ". The index has no wheel of it for this Python version, bitness or platform.",
        fix=install_command(ctx) + "   (it says which Python and index have the build)",
        data={"signal": kind, "requirement": req},
    )


@rule(
    "TS114",
    title="pip's dependency resolver reported a conflict",
    category="python",
    severity=WARNING,
    sources=("vllm-project/vllm#34224", "facebookresearch/xformers#752"),
)
def pip_conflict(ctx: RuleContext, r: Rule) -> Iterator[Finding]:
    """pip said "X requires Y, but you have Z which is incompatible" (it installed anyway) or
    "ResolutionImpossible" / "conflicting dependencies" (it installed nothing). With torch, the
    common case is a package that pins torch exactly (vLLM, xformers, torchvision) next to
    another torch. Read from error text.

    Fix: install the packages in one command with torch pinned (a constraints file), choosing
    the releases that pin the same torch.
    """
    m = said(ctx, "pip-conflict")
    if m is not None:
        yield r.finding(
            detail=(
                f"{m.group('pkg')} {m.group('pkgver')} requires {m.group('req')}, but "
                f"{m.group('have')} {m.group('havever')} is installed."
            ),
            fix=f"install the {m.group('pkg')} release built for {m.group('have')} "
            f"{m.group('havever')}, or let pip install both together with the pin in a "
            "constraints file (pip install -c constraints.txt ...)",
            data={"signal": "pip-conflict", "package": m.group("pkg")},
        )
        return
    if said(ctx, "pip-resolution-impossible") is not None:
        yield r.finding(
            severity=ERROR,
            detail="pip could not find versions that satisfy every requirement together "
            "(ResolutionImpossible): nothing was installed.",
            fix="read the 'because' lines above pip's error: relax the pin that conflicts with "
            "torch, or pick the package release built for the installed torch",
            data={"signal": "pip-resolution-impossible"},
        )
