"""Locks as data (pure): the exact files a plan installs, and pylock.toml (PEP 751) text.

A :class:`Lock` is made by :func:`torchsetup.install.lock.lock_plan` from the index (every
file with its URL and sha256, the dependencies of torch included); here it is rendered
(:func:`render_pylock`) and read back (:func:`parse_pylock`, for ``install --lock`` and
``verify --expect-lock``). Every string value is written as a TOML basic string (quoted and
escaped), so nothing from an index (a URL, a file name) can break out of its value.
"""

from __future__ import annotations

import importlib
import json
import re
from dataclasses import dataclass
from typing import Any, Optional

from torchsetup.errors import UsageError


@dataclass(frozen=True)
class LockedWheel:
    filename: str
    url: str
    sha256: str
    size: Optional[int] = None


@dataclass(frozen=True)
class LockedPackage:
    name: str
    version: str  # exact, local tag included: "2.13.0+cpu"
    index: str  # the index it comes from (the PyTorch index for torch)
    wheel: Optional[LockedWheel] = None  # None in a lock read back without wheels


@dataclass(frozen=True)
class Lock:
    packages: tuple[LockedPackage, ...]
    requires_python: Optional[str] = None
    environment: Optional[str] = None  # a PEP 508 marker: the target this lock is for

    def version_of(self, name: str) -> Optional[str]:
        key = _canon(name)
        return next((p.version for p in self.packages if _canon(p.name) == key), None)


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def toml_string(value: str) -> str:
    """``value`` as a TOML basic string: JSON's escaping is TOML's, plus DEL."""
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def render_pylock(lock: Lock, *, created_by: str, comment: str = "") -> str:
    lines = [f"# {line}" for line in comment.splitlines()] if comment else []
    lines += ['lock-version = "1.0"', f"created-by = {toml_string(created_by)}"]
    if lock.requires_python:
        lines.append(f"requires-python = {toml_string(lock.requires_python)}")
    if lock.environment:
        lines.append(f"environments = [{toml_string(lock.environment)}]")
    for p in sorted(lock.packages, key=lambda p: _canon(p.name)):
        lines += [
            "",
            "[[packages]]",
            f"name = {toml_string(p.name)}",
            f"version = {toml_string(p.version)}",
            f"index = {toml_string(p.index)}",
        ]
        if p.wheel is not None:
            w = p.wheel
            lines += [
                "",
                "[[packages.wheels]]",
                f"name = {toml_string(w.filename)}",
                f"url = {toml_string(w.url)}",
                *([f"size = {int(w.size)}"] if w.size is not None else []),
                f"hashes = {{ sha256 = {toml_string(w.sha256)} }}",
            ]
    return "\n".join(lines) + "\n"


def _toml_load(text: str) -> dict[str, Any]:
    try:
        tomllib: Any = importlib.import_module("tomllib")  # Python 3.11+
    except ImportError:  # pragma: no cover - Python 3.9/3.10
        return _read_own(text)
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"not a TOML file: {exc}") from None
    return data


_KEY = re.compile(r'^(name|version|index|url|lock-version|requires-python)\s*=\s*"(.*)"\s*$')


def _read_own(text: str) -> dict[str, Any]:
    """The subset of TOML torchsetup writes (one key a line), for Pythons without tomllib."""
    data: dict[str, Any] = {"packages": []}
    current: Optional[dict[str, Any]] = None
    for raw in text.splitlines():
        line = raw.strip()
        if line == "[[packages]]":
            current = {}
            data["packages"].append(current)
            continue
        if line == "[[packages.wheels]]" and current is not None:
            current.setdefault("wheels", []).append({})
            continue
        m = _KEY.match(line)
        if not m:
            continue
        value = json.loads(f'"{m.group(2)}"')
        if current is None:
            data[m.group(1)] = value
        elif m.group(1) == "url" and current.get("wheels"):
            current["wheels"][-1]["url"] = value
        elif m.group(1) == "name" and current.get("wheels"):
            current["wheels"][-1]["name"] = value
        else:
            current[m.group(1)] = value
    return data


def parse_pylock(text: str, where: str = "the lock") -> Lock:
    """A pylock.toml read back (the packages and their versions; wheels when present)."""
    data = _toml_load(text)
    if str(data.get("lock-version", "")).split(".")[0] != "1":
        raise UsageError(f'{where} is not a pylock.toml (PEP 751): no lock-version = "1.0"')
    packages = []
    for entry in data.get("packages") or []:
        name, version = entry.get("name"), entry.get("version")
        if not isinstance(name, str) or not isinstance(version, str):
            raise UsageError(f"{where}: a package without a name and an exact version")
        wheels = entry.get("wheels") or []
        wheel = None
        if wheels and isinstance(wheels[0], dict):
            w = wheels[0]
            sha = (
                (w.get("hashes") or {}).get("sha256", "")
                if isinstance(w.get("hashes"), dict)
                else ""
            )
            wheel = LockedWheel(
                str(w.get("name", "")), str(w.get("url", "")), str(sha), w.get("size")
            )
        packages.append(LockedPackage(name, version, str(entry.get("index", "")), wheel))
    if not packages:
        raise UsageError(f"{where} locks no packages")
    return Lock(tuple(packages), data.get("requires-python"))


__all__ = [
    "Lock",
    "LockedPackage",
    "LockedWheel",
    "parse_pylock",
    "render_pylock",
    "toml_string",
]
