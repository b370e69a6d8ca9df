"""Runners for tests: one that records every command and replays scripted results (unit tests,
no process ever starts), and one that records while really running (integration tests)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

from torchsetup.net import Response
from torchsetup.proc import ProcResult, ProcRunner

if TYPE_CHECKING:
    from torchsetup.detect.model import TargetPython


@dataclass(frozen=True)
class Call:
    kind: str  # "run" | "stream"
    argv: tuple[str, ...]
    env: dict[str, str]
    cwd: Optional[str]
    timeout: Optional[float]

    def env_added(self, base: Mapping[str, str]) -> dict[str, str]:
        """The variables this call had that ``base`` did not (or had with another value)."""
        return {k: v for k, v in self.env.items() if base.get(k) != v}


Matcher = Union[str, Callable[[tuple[str, ...]], bool]]


@dataclass
class _Script:
    match: Matcher
    returncode: Optional[int]
    output: str
    interrupted: bool
    error: Optional[str]

    def matches(self, argv: tuple[str, ...]) -> bool:
        if callable(self.match):
            return self.match(argv)
        return self.match in " ".join(argv)


class UnscriptedCommand(BaseException):
    """A command the test did not script: a BaseException, so no ``except Exception`` in the
    code under test can turn it into an ordinary failure."""


@dataclass
class RecordingRunner:
    """Records argv/env of every call; answers from ``on(...)`` scripts (first match wins).
    ``stream`` feeds the scripted output line by line.

    ``strict`` (the default): a command no script matches fails the test loudly
    (:class:`UnscriptedCommand`, which nothing in torchsetup catches); ``strict=False``
    answers it with exit code 0 and no output."""

    calls: list[Call] = field(default_factory=list)
    _scripts: list[_Script] = field(default_factory=list)
    strict: bool = True

    def on(
        self,
        match: Matcher,
        *,
        returncode: Optional[int] = 0,
        output: str = "",
        interrupted: bool = False,
        error: Optional[str] = None,
    ) -> RecordingRunner:
        self._scripts.append(_Script(match, returncode, output, interrupted, error))
        return self

    def _answer(
        self,
        kind: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: Optional[str],
        timeout: Optional[float],
    ) -> ProcResult:
        args = tuple(str(a) for a in argv)
        self.calls.append(Call(kind, args, dict(env), cwd, timeout))
        script = next((s for s in self._scripts if s.matches(args)), None)
        if script is None:
            if self.strict:
                raise UnscriptedCommand(f"RecordingRunner: no script for {kind} {list(args)}")
            return ProcResult(args, 0)
        return ProcResult(
            args,
            script.returncode,
            stdout=script.output,
            interrupted=script.interrupted,
            error=script.error or ("interrupted" if script.interrupted else None),
        )

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        env: Mapping[str, str],
        cwd: Optional[str] = None,
    ) -> ProcResult:
        return self._answer("run", argv, env, cwd, timeout)

    def stream(
        self,
        argv: Sequence[str],
        *,
        timeout: Optional[float],
        on_line: Callable[[str], None],
        env: Mapping[str, str],
        cwd: Optional[str] = None,
    ) -> ProcResult:
        result = self._answer("stream", argv, env, cwd, timeout)
        for line in result.stdout.splitlines():
            on_line(line)
        return result

    def streamed(self) -> list[Call]:
        """The steps that ran (``stream`` calls), in order."""
        return [c for c in self.calls if c.kind == "stream"]


class SpyRunner(ProcRunner):
    """The real runner, recording each command it starts."""

    def __init__(self) -> None:
        self.argvs: list[tuple[str, ...]] = []

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        env: Mapping[str, str],
        cwd: Optional[str] = None,
    ) -> ProcResult:
        self.argvs.append(tuple(argv))
        return super().run(argv, timeout=timeout, env=env, cwd=cwd)

    def stream(
        self,
        argv: Sequence[str],
        *,
        timeout: Optional[float],
        on_line: Callable[[str], None],
        env: Mapping[str, str],
        cwd: Optional[str] = None,
    ) -> ProcResult:
        self.argvs.append(tuple(argv))
        return super().stream(argv, timeout=timeout, on_line=on_line, env=env, cwd=cwd)

    def ran_pip(self) -> bool:
        return any("pip" in argv for argv in self.argvs)


PROBE = "target_probe.py"  # a substring of the target probe's argv


def probe_output(
    python: str,
    *,
    version: str = "3.11.7",
    prefix: Optional[str] = None,
    base_prefix: str = "/usr",
    dists: Sequence[tuple[str, str]] = (("pip", "24.2"),),
    torch_version_py: Optional[str] = None,
    externally_managed: bool = False,
    conda: bool = False,
    libc: tuple[str, str] = ("glibc", "2.36"),
    platform: str = "linux-x86_64",
    extra: Optional[dict[str, dict[str, object]]] = None,
) -> str:
    """What ``resources/target_probe.py --all-distributions`` prints, for a made-up interpreter.

    ``extra`` adds fields to a distribution by name (``requires``, ``installer``, ``direct_url``).
    """
    prefix = prefix or python.rsplit("/bin/", 1)[0]
    site = f"{prefix}/lib/python3.11/site-packages"
    records = []
    for name, ver in dists:
        record: dict[str, object] = {
            "name": name,
            "version": ver,
            "installer": "pip",
            "requires": [],
            "location": site,
        }
        record.update((extra or {}).get(name, {}))
        records.append({k: v for k, v in record.items() if v is not None})
    info = _version_py(torch_version_py) if torch_version_py else None
    kind = "conda" if conda else "venv" if prefix != base_prefix else "system"
    mac = "14.5" if platform.startswith("macosx") else None
    return json.dumps(
        {
            "probe": "torchsetup-target/1",
            "python": {
                "executable": python,
                "version": version,
                "implementation": "cpython",
                "bits": 64,
                "platform": "darwin"
                if platform.startswith("macosx")
                else "win32"
                if platform.startswith("win")
                else "linux",
                "machine": platform.rsplit("-", 1)[-1].replace("amd64", "AMD64"),
                "prefix": prefix,
                "base_prefix": base_prefix,
                "env_kind": kind,
                "externally_managed": externally_managed,
                "purelib": site,
                "sys_path": [site],
            },
            "platform": {
                "sysconfig_platform": platform,
                "abiflags": "",
                "libc": libc[0] or None,
                "libc_version": libc[1] or None,
                "mac_version": mac,
            },
            "distributions": records,
            "torch_locations": [f"{site}/torch"] if info else [],
            **({"torch_version_py": info} if info else {}),
            "conda_packages": None,
            "all_distributions": True,
        }
    )


def _version_py(text: str) -> dict[str, object]:
    out: dict[str, object] = {}
    for line in text.splitlines():
        left, sep, right = line.partition("=")
        key = left.split(":", 1)[0].strip()
        if sep:
            value = right.strip()
            out[key] = (
                None
                if value == "None"
                else value.strip("'\"")
                if value[:1] in "'\""
                else value == "True"
                if value in ("True", "False")
                else value
            )
    return out


def parsed_probe(python: str, **kw: Any) -> TargetPython:
    """:func:`probe_output` as the one parser reads it."""
    from torchsetup.detect.parse.target_probe import build_python
    from torchsetup.detect.probes.record import ProbeRecord

    data = {"executable": python, **json.loads(probe_output(python, **kw))}
    py = build_python(ProbeRecord("python", ok=True, data=data))
    assert py is not None
    return py


def torch_version_py(version: str, cuda: Optional[str] = None) -> str:
    return (
        f"__version__ = '{version}'\ndebug = False\ncuda: Optional[str] = {cuda!r}\n"
        "git_version = 'abc'\nhip: Optional[str] = None\n"
    )


def fake_index(
    projects: Mapping[str, Sequence[tuple[str, Optional[int]]]],
    *,
    status: int = 200,
    html: bool = False,
) -> Callable[..., Response]:
    """A stand-in for :func:`torchsetup.net.get`: an index listing ``projects`` (name ->
    [(filename, size)]), as PEP 691 JSON or PEP 503 HTML. Unknown projects answer 404."""

    def get(url: str, *, timeout: float, accept: Optional[str] = None, **_: Any) -> Response:
        name = url.rstrip("/").rsplit("/", 1)[-1]
        files = projects.get(name)
        if files is None or status != 200:
            return Response(url, 404 if files is None else status)
        if html:
            body = "".join(f'<a href="../../files/{f}#sha256=00">{f}</a>' for f, _ in files)
            return Response(url, 200, {"content-type": "text/html"}, body.encode())
        doc = {
            "meta": {"api-version": "1.1"},
            "name": name,
            "files": [
                {
                    "filename": f,
                    "url": f"../../files/{f}",
                    "hashes": {},
                    **({"size": s} if s else {}),
                }
                for f, s in files
            ],
        }
        return Response(
            url,
            200,
            {"content-type": "application/vnd.pypi.simple.v1+json"},
            json.dumps(doc).encode(),
        )

    return get
