"""Restore files: the package set of an environment before an install changed it, and the steps
that put it back (``torchsetup restore FILE``).

A restore file is JSON (``"format": "torchsetup-restore/1"``) under :func:`paths.restore_dir`:
the interpreter, its prefix, the install method, the index (credentials redacted) or folder the
install used, and every distribution with its exact version, installer and, where PEP 610 says
so, the URL it came from. Putting it back is two steps: uninstall what is there now but was not
then, and reinstall (``--no-deps``, exact pins) what was there then but is missing or different
now. Packages conda installed are left to conda (the restore says which).

Pure data and planning; :func:`torchsetup.install.session.run_restore` runs it.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional

from torchsetup.detect.model import TargetPython, canonical_name
from torchsetup.errors import UsageError
from torchsetup.files import MB, FileRefused, read_text
from torchsetup.install.preflight import Source
from torchsetup.paths import restore_dir
from torchsetup.redact import REDACTED, redact_url_credentials
from torchsetup.resolve.plan import Step
from torchsetup.sanitize import clean

FORMAT = "torchsetup-restore/1"


@dataclass(frozen=True)
class RecordedPackage:
    name: str  # canonical
    version: str
    installer: Optional[str] = None
    url: Optional[str] = None  # PEP 610 origin (archive URL, vcs URL@commit, or a local dir)
    editable: bool = False

    def requirement(self) -> list[str]:
        if self.editable and self.url:
            return ["-e", self.url]
        if self.url:
            return [f"{self.name} @ {self.url}"]
        return [f"{self.name}=={self.version}"]


@dataclass(frozen=True)
class RestoreRecord:
    python: str
    python_version: str
    prefix: str
    method: str  # the install's method: pip | uv | conda | source
    index_url: Optional[str]  # the install's index, credentials redacted
    find_links: Optional[str]
    created: str  # ISO 8601, UTC
    plan: str  # "torch 2.13.0 (cpu)"
    created_venv: bool  # the install created this environment (removing it also undoes it)
    packages: tuple[RecordedPackage, ...]

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, **asdict(self)}, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> RestoreRecord:
        """The record in ``text``, every field checked (the file is untrusted: nothing in it may
        become a pip option, and its interpreter is run only after the user agreed); a
        malformed file raises ValueError."""
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} file")
        data = dict(data)
        del data["format"]
        raw_packages = data.pop("packages", None)
        _check_fields(data, _RECORD_FIELDS, "the record")
        if not os.path.isabs(data["python"]) or data["method"] not in METHODS:
            raise ValueError(f"bad python or method: {data['python']!r}, {data['method']!r}")
        for key in ("python", "prefix", "index_url", "find_links"):
            _check_value(key, data[key])
        if not isinstance(raw_packages, list):
            raise TypeError("packages is not a list")
        packages = []
        for p in raw_packages:
            if not isinstance(p, dict):
                raise TypeError(f"a package is not an object: {p!r}"[:120])
            entry = {"installer": None, "url": None, "editable": False, **p}
            _check_fields(entry, _PACKAGE_FIELDS, "a package")
            if not _NAME.fullmatch(entry["name"]) or not _VERSION.fullmatch(entry["version"]):
                raise ValueError(f"bad package name or version: {entry['name']!r}"[:120])
            _check_value("url", entry["url"])
            packages.append(RecordedPackage(**entry))
        return cls(**data, packages=tuple(packages))


METHODS = ("pip", "uv", "conda", "source")
# PEP 508 names; versions as pip prints them (PEP 440 and legacy local parts): never an option
_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._\-]{0,200}[A-Za-z0-9])?")
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+!_\-]{0,100}")
_RECORD_FIELDS: dict[str, tuple[type, ...]] = {
    "python": (str,),
    "python_version": (str,),
    "prefix": (str,),
    "method": (str,),
    "index_url": (str, type(None)),
    "find_links": (str, type(None)),
    "created": (str,),
    "plan": (str,),
    "created_venv": (bool,),
}
_PACKAGE_FIELDS: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "version": (str,),
    "installer": (str, type(None)),
    "url": (str, type(None)),
    "editable": (bool,),
}


def _check_fields(data: dict[str, Any], fields: dict[str, tuple[type, ...]], what: str) -> None:
    if set(data) != set(fields):
        odd = sorted(set(data) ^ set(fields))
        raise ValueError(f"{what} has missing or unknown fields: {', '.join(odd)}"[:160])
    for key, types in fields.items():
        if not isinstance(data[key], types):
            raise TypeError(f"{key} is a {type(data[key]).__name__}")


def _check_value(key: str, value: Optional[str]) -> None:
    """No value of a restore file may be read as an option or hold a control character."""
    if value is None:
        return
    if value.startswith("-") or re.search(r"[\x00-\x1f\x7f-\x9f]", value) or len(value) > 4096:
        raise ValueError(f"bad {key}: {clean(value)[:80]!r}")


def pep610_origin(direct_url: Optional[str]) -> tuple[Optional[str], bool]:
    """(installable URL, editable) from a direct_url.json; (None, False) when there is none."""
    if not direct_url:
        return None, False
    try:
        data = json.loads(direct_url)
    except ValueError:
        return None, False
    url = data.get("url")
    if not isinstance(url, str):
        return None, False
    vcs = data.get("vcs_info")
    if isinstance(vcs, dict):
        commit = vcs.get("commit_id")
        return f"{vcs.get('vcs', 'git')}+{url}" + (f"@{commit}" if commit else ""), False
    dir_info = data.get("dir_info")
    editable = isinstance(dir_info, dict) and bool(dir_info.get("editable"))
    return url, editable


def record_from_python(
    py: TargetPython, *, method: str, source: Source, plan: str, created_venv: bool
) -> RestoreRecord:
    """The restore record of ``py`` as probed with every distribution listed."""
    packages = []
    seen: set[str] = set()
    for d in py.distributions:
        if d.name in seen:  # a second copy further down sys.path is shadowed: not restorable
            continue
        seen.add(d.name)
        url, editable = pep610_origin(d.direct_url)
        packages.append(RecordedPackage(d.name, d.version, d.installer, url, editable))
    return RestoreRecord(
        python=py.executable,
        python_version=py.version or "",
        prefix=py.prefix or "",
        method=method,
        index_url=redact_url_credentials(source.index_url) if source.index_url else None,
        find_links=source.find_links,
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        plan=plan,
        created_venv=created_venv,
        packages=tuple(sorted(packages, key=lambda p: p.name)),
    )


def new_file(folder: Path, stem: str, suffix: str) -> Path:
    """Create ``folder/stem-YYYYmmdd-HHMMSS[-n]suffix`` exclusively (never another run's file)."""
    folder.mkdir(parents=True, exist_ok=True)
    base = f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    for n in range(1, 10_000):
        path = folder / (base + (f"-{n}" if n > 1 else "") + suffix)
        try:
            path.touch(exist_ok=False)
        except FileExistsError:
            continue
        return path
    raise OSError(f"no free file name for {base}{suffix} in {folder}")


def write_record(record: RestoreRecord, folder: Optional[Path] = None) -> Path:
    env_name = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(record.prefix).name or "python")
    path = new_file(folder or restore_dir(), f"restore-{env_name}", ".json")
    path.write_text(record.to_json(), encoding="utf-8")
    return path


def load_record(path: str) -> RestoreRecord:
    try:
        return RestoreRecord.from_json(read_text(path, limit=16 * MB))
    except FileRefused as exc:
        raise UsageError(f"cannot read the restore file {path}: it {exc}") from None
    except RecursionError:
        raise UsageError(f"{path} is not a torchsetup restore file (nested too deeply)") from None
    except (ValueError, TypeError, KeyError) as exc:
        raise UsageError(f"{path} is not a torchsetup restore file ({clean(str(exc))})") from None


# --- planning the restore --------------------------------------------------------------------


@dataclass(frozen=True)
class RestoreChanges:
    remove: tuple[str, ...]  # installed now, absent then
    reinstall: tuple[RecordedPackage, ...]  # absent or different now
    conda_owned: tuple[str, ...]  # changed, but conda's to put back

    @property
    def empty(self) -> bool:
        return not self.remove and not self.reinstall


def restore_changes(record: RestoreRecord, current: TargetPython) -> RestoreChanges:
    then = {p.name: p for p in record.packages}
    now: dict[str, tuple[str, Optional[str]]] = {}
    for d in current.distributions:
        now.setdefault(canonical_name(d.name), (d.version, d.installer))
    changed = {
        n
        for n in then.keys() | now.keys()
        if n not in then or n not in now or now[n][0] != then[n].version
    }
    conda = {
        n
        for n in changed
        if "conda" in ((then[n].installer if n in then else None), now[n][1] if n in now else None)
    }
    return RestoreChanges(
        remove=tuple(sorted(n for n in changed - conda if n not in then)),
        reinstall=tuple(then[n] for n in sorted(changed - conda) if n in then),
        conda_owned=tuple(sorted(conda)),
    )


# What an install takes from its (torch) index: torch, its companions and Triton builds, and
# every version with a local label (2.5.1+cu121 exists only there). Everything else a restore
# puts back (setuptools, typing-extensions, ...) comes from pip's own configuration: the torch
# index is never used for other packages (docs/security.md).
_TORCH_INDEX_PREFIXES = ("torch", "pytorch-triton", "triton")
# The top-level folders the torch wheel installs besides torch/ (checked in a real wheel).
_TORCH_TOP_LEVEL = ("torch", "torchgen", "functorch")


def from_torch_index(package: RecordedPackage) -> bool:
    return package.name.startswith(_TORCH_INDEX_PREFIXES) or "+" in package.version


REMOVE_DIRS = "import shutil, sys; [shutil.rmtree(p) for p in sys.argv[1:]]"


def restore_steps(
    record: RestoreRecord,
    changes: RestoreChanges,
    *,
    uv: Optional[str],
    source: Source,
    leftovers: Sequence[str] = (),
) -> list[Step]:
    """Remove-leftovers, uninstall, then reinstall steps; ``uv`` set means ``uv pip``.

    ``leftovers`` are package folders with no dist-info (:func:`leftover_dirs`), removed first
    with the record's interpreter. The index of the restore file (``source.origin == "restore
    file"``) is used for torch packages only; an index or folder given to ``restore`` is used
    for every package."""
    py = record.python
    prefix: Sequence[str] = (uv, "pip") if uv else (py, "-m", "pip")
    target = ("--python", py) if uv else ()
    steps = []
    if leftovers:
        steps.append(
            Step(
                "restore-remove-leftovers",
                "Remove package folders left by an interrupted install (no dist-info): "
                + ", ".join(leftovers),
                (py, "-c", REMOVE_DIRS, *leftovers),
            )
        )
    if changes.remove:
        steps.append(
            Step(
                "restore-uninstall",
                f"Uninstall what the install added: {', '.join(changes.remove)}",
                (*prefix, "uninstall", *target, *(() if uv else ("-y",)), *changes.remove),
            )
        )
    torch_only = source.origin == "restore file"
    groups = (
        [
            ("restore-install-torch", [p for p in changes.reinstall if from_torch_index(p)], True),
            ("restore-install", [p for p in changes.reinstall if not from_torch_index(p)], False),
        ]
        if torch_only
        else [("restore-install", list(changes.reinstall), True)]
    )
    for step_id, packages, with_source in groups:
        if not packages:
            continue
        reqs = [arg for p in packages for arg in p.requirement()]
        steps.append(
            Step(
                step_id,
                "Reinstall what was there before: "
                + ", ".join(f"{p.name} {p.version}" for p in packages),
                (
                    *prefix,
                    "install",
                    *target,
                    "--no-deps",
                    *reqs,
                    *(source_args(source) if with_source else ()),
                ),
            )
        )
    return steps


def leftover_dirs(purelib: Optional[str], names: Sequence[str]) -> tuple[str, ...]:
    """Package folders in ``purelib`` that no installed distribution owns: what an install
    interrupted while extracting leaves (a ``torch/`` with no ``torch-*.dist-info``). Only the
    import folders of ``names`` (the packages the restore file lists, and torch's) are
    candidates; a folder listed in any dist-info's RECORD or egg-info's top_level.txt, or named
    like an installed distribution, is kept. Reads the folder, never changes it."""
    if not purelib or not os.path.isdir(purelib):
        return ()
    try:
        entries = os.listdir(purelib)
    except OSError:
        return ()
    owned: set[str] = set()
    for entry in entries:
        base, dot, kind = entry.rpartition(".")
        if not dot or kind not in ("dist-info", "egg-info"):
            continue
        owned.add(canonical_name(base.split("-", 1)[0]))
        for listing in ("RECORD", "top_level.txt"):
            try:
                with open(os.path.join(purelib, entry, listing), encoding="utf-8") as fh:
                    for line in fh:
                        top = line.split(",", 1)[0].strip().split("/", 1)[0]
                        if top:
                            owned.add(canonical_name(top))
            except (OSError, UnicodeDecodeError):
                continue
    candidates: list[str] = []
    for name in names:
        for top in _TORCH_TOP_LEVEL if canonical_name(name) == "torch" else (name,):
            folder = canonical_name(top).replace("-", "_")
            if folder not in candidates:
                candidates.append(folder)
    found = []
    for folder in candidates:
        path = os.path.join(purelib, folder)
        if os.path.isdir(path) and not os.path.islink(path) and canonical_name(folder) not in owned:
            found.append(path)
    return tuple(found)


def source_args(source: Source) -> tuple[str, ...]:
    if source.find_links:
        return ("--no-index", "--find-links", source.find_links)
    if source.index_url:
        return ("--index-url", source.index_url)
    return ()


def restore_source(
    record: RestoreRecord,
    *,
    index_url: Optional[str],
    find_links: Optional[str],
    changes: RestoreChanges,
) -> Source:
    """The index the reinstall uses: the user's, else the one the install used."""
    if find_links:
        return Source(find_links=find_links, origin="--find-links")
    if index_url:
        return Source(index_url=index_url, origin="--index-url")
    needs_index = any(p.url is None and from_torch_index(p) for p in changes.reinstall)
    if record.index_url and REDACTED in record.index_url and needs_index:
        raise UsageError(
            f"the install used {record.index_url}, whose credentials are not kept in the restore file",
            hint="pass the index again: torchsetup restore FILE --index-url URL",
        )
    return Source(index_url=record.index_url, find_links=record.find_links, origin="restore file")
