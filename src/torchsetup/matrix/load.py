"""Loading and validating the compatibility matrix: a closed schema, checked once at load.

Every object of ``resources/matrix.json`` has a closed set of keys and every value a type: an
unknown key (a typo'd ``advertized``), a wrong type (``"notes": "text"``, ``"max_gcc": "14"``),
a malformed version (``linux_min_driver: "banana"``, ``torchvision: "latest"``) or a reference
to a source id the ``sources`` table lacks raises :class:`MatrixError` naming the path of the bad
entry (``releases[2.13.0].variants.cu128.advertized: unknown key``), at load time rather than in
the middle of a plan. Cross-references are checked too: platforms, a driver row per CUDA variant,
PyPI defaults, the order of releases.

Provenance is normalised: the top-level ``sources`` table maps an id to its text, and every
``source``/``*_source``/``sources`` field holds ids; the records carry the resolved text.

``TORCHSETUP_MATRIX`` (a path) replaces the packaged file: tests and curators use it to run
every command against a copy of the data.

This module is on the ``install --dry-run`` start-up path: the checks are set operations and
``isinstance`` calls, a few milliseconds for the whole file.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple, Optional

from torchsetup.matrix.model import (
    PLATFORMS,
    ArchEntry,
    ArchList,
    CompanionRule,
    CondaInfo,
    CudaRow,
    Disagreement,
    DynamoFloors,
    ExperimentalPython,
    GpuVendors,
    JetsonIndex,
    Matrix,
    MatrixError,
    PipFloor,
    PlatformInfo,
    Release,
    RocmTargets,
    SourceBuild,
    Variant,
    WheelInfo,
    parse_arch_list,
)
from torchsetup.versions import cuda_variant_name, variant_kind, version_tuple

SCHEMA_VERSION = 2
MATRIX_ENV = "TORCHSETUP_MATRIX"

_VARIANT_RE = re.compile(r"^(cu\d{3}|rocm\d+\.\d+(\.\d+)?|cpu|xpu)$")
_PYTHON_RE = re.compile(r"^3\.\d+t?$")
_VERSION_RE = re.compile(r"^\d+(\.\d+)*$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PLATFORM_SET = frozenset(PLATFORMS)

__all__ = ["MATRIX_ENV", "SCHEMA_VERSION", "MatrixError", "load_matrix", "matrix_from_dict"]


@functools.cache
def load_matrix() -> Matrix:
    """The matrix (``$TORCHSETUP_MATRIX``, else the packaged file), validated once per process."""
    return matrix_from_dict(read_data_json(MATRIX_ENV, "matrix.json"))


def read_data_json(env_var: str, name: str) -> Any:
    """A data file as JSON: the file ``$env_var`` names, else the packaged ``resources/name``
    (the matrix, the stack data). A file that cannot be read or is not JSON is a MatrixError."""
    path = os.environ.get(env_var)
    if path:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise MatrixError(f"{env_var}={path}: {exc.strerror or exc}") from None
    else:
        from torchsetup.resources import read_bytes

        data = read_bytes(name)
    try:
        return json.loads(data)
    except ValueError as exc:
        raise MatrixError(f"{path or name}: not JSON ({exc})") from None


# --- the document ------------------------------------------------------------------------------

_TOP_REQUIRED = frozenset(
    {
        "schema_version",
        "platforms",
        "pypi_index_url",
        "facts",
        "pip_floors",
        "cuda",
        "releases",
        "sources",
    }
)
_TOP_OPTIONAL = frozenset({"generated_by", "newest_torch", "disagreements", "notes", "gpu_vendors"})


def matrix_from_dict(data: Any) -> Matrix:
    """Validate a matrix document into a :class:`Matrix`; raises :class:`MatrixError`."""
    _keys(data, "matrix", _TOP_REQUIRED, _TOP_OPTIONAL)
    if data["schema_version"] != SCHEMA_VERSION:
        raise _fail(
            "schema_version", f"expected {SCHEMA_VERSION}, found {data['schema_version']!r}"
        )
    if data["platforms"] != list(PLATFORMS):
        raise _fail("platforms", f"expected {list(PLATFORMS)}, found {data['platforms']!r}")
    ctx = _Ctx(_sources(data["sources"]), frozenset(), {}, set())
    cuda = tuple(
        _cuda_row(row, _item_where("cuda", i, row, "version"), ctx)
        for i, row in enumerate(_list(data, "cuda", "matrix"))
    )
    ctx = ctx._replace(cuda_variants=frozenset(row.variant for row in cuda))
    floors = tuple(
        _pip_floor(f, f"pip_floors[{i}]", ctx)
        for i, f in enumerate(_list(data, "pip_floors", "matrix"))
    )
    releases = tuple(
        _release(rel, _item_where("releases", i, rel, "torch"), ctx)
        for i, rel in enumerate(_list(data, "releases", "matrix"))
    )
    _check_order(releases)
    for i, note in enumerate(_list(data, "notes", "matrix", optional=True)):
        where = f"notes[{i}]"
        _keys(note, where, frozenset({"topic", "fact", "source"}))
        _str(note, "topic", where), _str(note, "fact", where), _src(note, "source", where, ctx)
    dynamo, companions = _facts(data["facts"], ctx)
    vendors = _gpu_vendors(data.get("gpu_vendors"), ctx)
    if data.get("newest_torch") is not None:
        _version(data, "newest_torch", "matrix")
    unused = sorted(set(ctx.sources) - ctx.used)
    if unused:
        raise _fail(f"sources.{unused[0]}", "not referenced by any entry")
    return Matrix(
        releases=releases,
        cuda=cuda,
        pip_floors=floors,
        pypi_index_url=_https(data, "pypi_index_url", "matrix"),
        disagreements=tuple(
            _disagreement(d, f"disagreements[{i}]")
            for i, d in enumerate(_list(data, "disagreements", "matrix", optional=True))
        ),
        generated_by=_opt_str(data, "generated_by", "matrix") or "",
        dynamo=dynamo,
        companion_rules=companions,
        vendors=vendors,
    )


class _Ctx(NamedTuple):
    """What entries are checked against, and the parsed objects they share."""

    sources: Mapping[str, str]
    cuda_variants: frozenset[str]
    arch_cache: dict[tuple[Any, ...], ArchList]
    used: set[str]


def _sources(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _fail("sources", "must be an object {id: text}")
    for key, text in value.items():
        if not isinstance(text, str) or not text:
            raise _fail(f"sources.{key}", "must be a non-empty string")
    return value


# --- small checked readers (each error names the path of the bad entry) ------------------------


def _fail(where: str, message: str) -> MatrixError:
    return MatrixError(f"matrix.json {where}: {message}")


def _item_where(section: str, i: int, item: Any, key: str) -> str:
    name = item.get(key) if isinstance(item, dict) else None
    return f"{section}[{name}]" if isinstance(name, str) and name else f"{section}[{i}]"


def _keys(
    data: Any, where: str, required: frozenset[str], optional: frozenset[str] = frozenset()
) -> Mapping[str, Any]:
    if type(data) is not dict:
        raise _fail(where, f"must be an object, not {type(data).__name__}")
    keys = data.keys()
    if required <= keys and (keys <= optional or keys - optional <= required):
        return data  # the common case, two set comparisons
    extra = keys - required - optional
    if extra:
        known = ", ".join(sorted(required | optional))
        raise _fail(f"{where}.{min(extra)}", f"unknown key (known: {known})")
    raise _fail(f"{where}.{min(required - keys)}", "missing")


def _list(data: Mapping[str, Any], key: str, where: str, optional: bool = False) -> Sequence[Any]:
    value = data.get(key)
    if value is None and optional:
        return ()
    if not isinstance(value, list):
        raise _fail(f"{where}.{key}", "must be a list")
    return value


def _str(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise _fail(f"{where}.{key}", "must be a non-empty string")
    return value


def _opt_str(data: Mapping[str, Any], key: str, where: str) -> Optional[str]:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise _fail(f"{where}.{key}", f"must be a string or null, not {type(value).__name__}")
    return value


def _https(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.startswith("https://"):
        raise _fail(f"{where}.{key}", "must be an https URL")
    return value


def _bool(data: Mapping[str, Any], key: str, where: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise _fail(f"{where}.{key}", f"must be true or false, not {value!r}")
    return value


def _int(data: Mapping[str, Any], key: str, where: str) -> Optional[int]:
    value = data.get(key)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise _fail(f"{where}.{key}", f"must be an integer or null, not {value!r}")
    return value


def _texts(data: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = data.get(key)
    if not value and (value is None or value == []):
        return ()
    if type(value) is not list or not all(type(x) is str for x in value):
        raise _fail(f"{where}.{key}", f"must be a list of strings, not {value!r}")
    return tuple(value)


def _version(data: Mapping[str, Any], key: str, where: str) -> Optional[str]:
    value = _opt_str(data, key, where)
    if value is not None and not _VERSION_RE.match(value):
        raise _fail(f"{where}.{key}", f"malformed version {value!r} (dotted numbers)")
    return value


def _src(data: Mapping[str, Any], key: str, where: str, ctx: _Ctx) -> str:
    """A source id -> its text from the ``sources`` table."""
    ref = data.get(key)
    if type(ref) is not str or ref not in ctx.sources:
        return _resolve(ref, f"{where}.{key}", ctx)  # raises
    ctx.used.add(ref)
    return ctx.sources[ref]


def _opt_src(data: Mapping[str, Any], key: str, where: str, ctx: _Ctx) -> Optional[str]:
    return None if data.get(key) is None else _src(data, key, where, ctx)


def _resolve(ref: Any, where: str, ctx: _Ctx) -> str:
    text = ctx.sources.get(ref) if isinstance(ref, str) else None
    if text is None:
        raise _fail(where, f"unknown source id {ref!r} (not in the 'sources' table)")
    ctx.used.add(ref)
    return text


def _platforms(keys: Iterable[str], where: str) -> tuple[str, ...]:
    out = tuple(keys)
    for key in out:
        if key not in _PLATFORM_SET:
            raise _fail(where, f"unknown platform {key!r} (known: {', '.join(PLATFORMS)})")
    return out


def _platform_list(data: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    return _platforms(_texts(data, key, where), f"{where}.{key}")


# --- sections -----------------------------------------------------------------------------------

_CUDA_KEYS = frozenset({"version", "variant", "source"})
_CUDA_OPTIONAL = frozenset(
    {
        "linux_min_driver",
        "windows_min_driver",
        "minor_compat_linux",
        "minor_compat_windows",
        "max_gcc",
        "max_gcc_source",
        "minor_compat_source",
        "minor_compat_caveat",
        "used_by_torch",
        "inferred",
        "notes",
    }
)


def _cuda_row(row: Any, where: str, ctx: _Ctx) -> CudaRow:
    _keys(row, where, _CUDA_KEYS, _CUDA_OPTIONAL)
    version = _str(row, "version", where)
    if not re.fullmatch(r"\d+\.\d", version):
        raise _fail(f"{where}.version", f"bad CUDA version {version!r}")
    _texts(row, "used_by_torch", where)
    out = CudaRow(
        version=version,
        variant=_str(row, "variant", where),
        source=_src(row, "source", where, ctx),
        linux_min_driver=_version(row, "linux_min_driver", where),
        windows_min_driver=_version(row, "windows_min_driver", where),
        minor_compat_linux=_version(row, "minor_compat_linux", where),
        minor_compat_windows=_version(row, "minor_compat_windows", where),
        max_gcc=_int(row, "max_gcc", where),
        max_gcc_source=_opt_src(row, "max_gcc_source", where, ctx),
        minor_compat_source=_opt_src(row, "minor_compat_source", where, ctx),
        minor_compat_caveat=_opt_str(row, "minor_compat_caveat", where),
        inferred=_texts(row, "inferred", where),
        notes=_texts(row, "notes", where),
    )
    if out.variant != cuda_variant_name(version):
        raise _fail(f"{where}.variant", f"{out.variant!r} does not match CUDA {version}")
    if not (out.linux_min_driver or out.minor_compat_linux):
        raise _fail(
            where, f"CUDA {version} has neither a Linux minimum driver nor a minor-version floor"
        )
    if out.max_gcc is not None and not out.max_gcc_source:
        raise _fail(where, f"CUDA {version} max_gcc without a source")
    return out


def _pip_floor(data: Any, where: str, ctx: _Ctx) -> PipFloor:
    _keys(data, where, frozenset({"tag", "min_pip", "source"}))
    min_pip = _version(data, "min_pip", where)
    if min_pip is None:
        raise _fail(f"{where}.min_pip", "must be a version")
    return PipFloor(_str(data, "tag", where), min_pip, _src(data, "source", where, ctx))


def _disagreement(data: Any, where: str) -> Disagreement:
    _keys(data, where, frozenset({"topic", "detail", "decision"}))
    return Disagreement(
        _str(data, "topic", where), _str(data, "detail", where), _str(data, "decision", where)
    )


_WHEEL_KEYS = frozenset({"wheel_tag", "min_glibc", "source"})


def _wheel(data: Mapping[str, Any], where: str, ctx: _Ctx) -> WheelInfo:
    return WheelInfo(
        tag=_opt_str(data, "wheel_tag", where),
        min_glibc=_version(data, "min_glibc", where),
        source=_src(data, "source", where, ctx),
        inferred=_bool(data, "inferred", where),
    )


_ARCH_KEYS = frozenset({"list", "source"})
_ARCH_OPTIONAL = frozenset({"inferred", "notes"})


def _arch(data: Any, where: str, ctx: _Ctx) -> ArchList:
    """One arch-list entry; identical entries (the matrix repeats a few dozen) share one object."""
    _keys(data, where, _ARCH_KEYS, _ARCH_OPTIONAL)
    try:  # an entry seen before, value for value, was checked then
        notes = data.get("notes") or ()
        raw = (
            data["list"],
            data["source"],
            data.get("inferred"),
            tuple(notes) if type(notes) is list else notes,
        )
        found = ctx.arch_cache.get(raw)
    except TypeError:
        raw, found = None, None
    if found is not None:
        ctx.used.add(data["source"])
        return found
    text = _str(data, "list", where)
    source = _src(data, "source", where, ctx)
    key = (text, source, _bool(data, "inferred", where), _texts(data, "notes", where))
    found = ctx.arch_cache.get(key)
    if found is None:
        found = ctx.arch_cache[key] = ArchList(
            text, _parse_arch_checked(text, f"{where}.list"), source, key[2], key[3]
        )
    if raw is not None:
        ctx.arch_cache[raw] = found
    return found


def _parse_arch_checked(text: str, where: str) -> tuple[ArchEntry, ...]:
    try:
        return parse_arch_list(text)
    except MatrixError as exc:
        raise _fail(where, str(exc)) from None


_VARIANT_KEYS = frozenset({"index_url", "source"})
_VARIANT_OPTIONAL = frozenset(
    {
        "platforms",
        "advertised",
        "command",
        "command_source",
        "command_inferred",
        "inferred",
        "notes",
        "wheels",
        "arch",
    }
)


def _variant(name: str, data: Any, where: str, ctx: _Ctx) -> Variant:
    if not _VARIANT_RE.match(name):
        raise _fail(where, f"bad variant name {name!r}")
    _keys(data, where, _VARIANT_KEYS, _VARIANT_OPTIONAL)
    index_url = data.get("index_url")
    if not isinstance(index_url, str) or not index_url.startswith("https://"):
        raise _fail(f"{where}.index_url", "variant without an https index URL")
    kind = variant_kind(name)
    if kind == "cuda" and name not in ctx.cuda_variants:
        raise _fail(where, f"CUDA variant {name} has no driver row in 'cuda'")
    arch_data = _keys(data.get("arch") or {}, f"{where}.arch", frozenset(), _ARCH_PLATFORM_KEYS)
    if arch_data and kind != "cuda":
        raise _fail(f"{where}.arch", "only CUDA variants carry a TORCH_CUDA_ARCH_LIST")
    wheels = _keys(data.get("wheels") or {}, f"{where}.wheels", frozenset(), _PLATFORM_SET)
    advertised = _bool(data, "advertised", where)
    command = _opt_str(data, "command", where)
    if advertised and not command:
        raise _fail(where, "advertised variant without its documented command")
    return Variant(
        name=name,
        index_url=index_url,
        platforms=_platform_list(data, "platforms", where),
        advertised=advertised,
        source=_src(data, "source", where, ctx),
        command=command,
        command_source=_opt_src(data, "command_source", where, ctx),
        command_inferred=_bool(data, "command_inferred", where),
        inferred=_bool(data, "inferred", where),
        notes=_texts(data, "notes", where),
        wheels=tuple(
            (
                key,
                _wheel(
                    _keys(w, f"{where}.wheels.{key}", _WHEEL_KEYS), f"{where}.wheels.{key}", ctx
                ),
            )
            for key, w in wheels.items()
        ),
        arch=tuple(
            (key, _arch(entry, f"{where}.arch.{key}", ctx)) for key, entry in arch_data.items()
        ),
    )


_ARCH_PLATFORM_KEYS = _PLATFORM_SET | frozenset(f"conda:{p}" for p in PLATFORMS)

_CONDA_KEYS = frozenset({"commands", "platforms", "source"})
_CONDA_OPTIONAL = frozenset({"torchvision", "torchaudio", "command_macos", "note"})


def _conda(data: Any, where: str, variants: set[str], ctx: _Ctx) -> Optional[CondaInfo]:
    if data is None:
        return None
    _keys(data, where, _CONDA_KEYS, _CONDA_OPTIONAL)
    commands = _keys(data["commands"], f"{where}.commands", frozenset(), frozenset(variants))
    for name, command in commands.items():
        if not isinstance(command, str) or not command:
            raise _fail(f"{where}.commands.{name}", "must be a non-empty string")
    return CondaInfo(
        torchvision=_version(data, "torchvision", where),
        torchaudio=_version(data, "torchaudio", where),
        commands=tuple(commands.items()),
        command_macos=_opt_str(data, "command_macos", where),
        platforms=_platform_list(data, "platforms", where),
        source=_src(data, "source", where, ctx),
        note=_opt_str(data, "note", where),
    )


_RELEASE_KEYS = frozenset(
    {"torch", "python", "python_source", "platforms", "variants", "source_build", "sources"}
)
_RELEASE_OPTIONAL = frozenset(
    {"released", "torchvision", "torchaudio", "python_experimental", "conda", "notes", "inferred"}
)
_PLATFORM_KEYS = frozenset({"available", "source"})
_PLATFORM_OPTIONAL = frozenset({"wheel_tag", "min_glibc", "pypi_default", "inferred", "note"})


def _release(data: Any, where: str, ctx: _Ctx) -> Release:
    _keys(data, where, _RELEASE_KEYS, _RELEASE_OPTIONAL)
    torch = _str(data, "torch", where)
    if not re.fullmatch(r"2\.\d+\.\d+", torch):
        raise _fail(f"{where}.torch", "torch version must be 2.X.Y")
    refs = _texts(data, "sources", where)
    if not refs:
        raise _fail(f"{where}.sources", "release without sources")
    sources = tuple(_resolve(ref, f"{where}.sources", ctx) for ref in refs)
    python = _texts(data, "python", where)
    if not python or not all(_PYTHON_RE.match(p) for p in python):
        raise _fail(f"{where}.python", f"bad Python list {list(python)!r}")
    released = _opt_str(data, "released", where)
    if released is not None and not _DATE_RE.match(released):
        raise _fail(f"{where}.released", f"must be a YYYY-MM-DD date, not {released!r}")
    variant_data = _keys(
        data["variants"], f"{where}.variants", frozenset(), _any_key(data["variants"])
    )
    variants = tuple(
        _variant(name, v, f"{where}.variants.{name}", ctx) for name, v in variant_data.items()
    )
    names = {v.name for v in variants}
    platform_data = _keys(data["platforms"], f"{where}.platforms", _PLATFORM_SET)
    platforms = []
    for key, p in platform_data.items():
        pwhere = f"{where}.platforms.{key}"
        _keys(p, pwhere, _PLATFORM_KEYS, _PLATFORM_OPTIONAL)
        default = _opt_str(p, "pypi_default", pwhere)
        if default is not None and default not in names:
            raise _fail(
                f"{pwhere}.pypi_default",
                f"PyPI default {default!r} is not a variant of this release",
            )
        platforms.append(
            PlatformInfo(
                key=key,
                available=_bool(p, "available", pwhere),
                wheel=_wheel(p, pwhere, ctx),
                pypi_default=default,
                note=_opt_str(p, "note", pwhere),
            )
        )
    experimental = []
    for i, e in enumerate(_list(data, "python_experimental", where, optional=True)):
        ewhere = f"{where}.python_experimental[{i}]"
        _keys(e, ewhere, frozenset({"version"}), frozenset({"platforms", "note"}))
        version = _str(e, "version", ewhere)
        if not _PYTHON_RE.match(version):
            raise _fail(f"{ewhere}.version", f"bad Python version {version!r}")
        experimental.append(
            ExperimentalPython(
                version=version,
                platforms=_platform_list(e, "platforms", ewhere) if e.get("platforms") else None,
                note=_opt_str(e, "note", ewhere) or "",
            )
        )
    sbwhere = f"{where}.source_build"
    sb = _keys(data["source_build"], sbwhere, frozenset({"git_tag", "build", "source"}), _INFERRED)
    build = sb.get("build")
    if build not in ("setup-py-develop", "pip-editable"):
        raise _fail(
            f"{sbwhere}.build",
            f"source_build.build must be setup-py-develop or pip-editable, not {build!r}",
        )
    return Release(
        torch=torch,
        released=released,
        torchvision=_version(data, "torchvision", where),
        torchaudio=_version(data, "torchaudio", where),
        python=python,
        python_experimental=tuple(experimental),
        python_source=_src(data, "python_source", where, ctx),
        platforms=tuple(platforms),
        variants=variants,
        conda=_conda(data.get("conda"), f"{where}.conda", names, ctx),
        source_build=SourceBuild(
            git_tag=_str(sb, "git_tag", sbwhere),
            build=build,
            source=_src(sb, "source", sbwhere, ctx),
            inferred=_bool(sb, "inferred", sbwhere),
        ),
        sources=sources,
        notes=_texts(data, "notes", where),
        inferred=_bool(data, "inferred", where),
    )


_INFERRED = frozenset({"inferred"})


def _any_key(value: Any) -> frozenset[str]:
    return frozenset(value) if isinstance(value, dict) else frozenset()


def _check_order(releases: Sequence[Release]) -> None:
    versions = [r.version for r in releases]
    if len(set(versions)) != len(versions):
        raise _fail("releases", "duplicate torch versions")
    if versions != sorted(versions, reverse=True):
        raise _fail("releases", "releases must be listed newest first")


# --- facts the code asks of the data ------------------------------------------------------------


def _facts(
    data: Any, ctx: _Ctx
) -> tuple[DynamoFloors, tuple[tuple[str, tuple[CompanionRule, ...]], ...]]:
    _keys(data, "facts", frozenset({"dynamo", "companions"}))
    where = "facts.dynamo"
    dynamo = _keys(data["dynamo"], where, frozenset({"floors", "older", "source"}))
    floors = _keys(dynamo["floors"], f"{where}.floors", frozenset(), _any_key(dynamo["floors"]))
    for py in floors:
        if not _PYTHON_RE.match(py):
            raise _fail(f"{where}.floors.{py}", "not a Python minor")
        _version(floors, py, f"{where}.floors")
    ordered = sorted(floors.items(), key=lambda kv: version_tuple(kv[0]))
    older = _version(dynamo, "older", where)
    companions = _keys(
        data["companions"], "facts.companions", frozenset({"torchvision", "torchaudio"})
    )
    rules = tuple(
        (
            name,
            tuple(
                _companion_rule(rule, f"facts.companions.{name}[{i}]", ctx)
                for i, rule in enumerate(_list(companions, name, "facts.companions"))
            ),
        )
        for name in sorted(companions)
    )
    return (
        DynamoFloors(tuple(ordered), older or "2.0", _src(dynamo, "source", where, ctx)),
        rules,
    )


_RULE_KEYS = frozenset({"first", "last", "torch_major", "source"})
_RULE_OPTIONAL = frozenset({"torch_minor", "minor_offset", "open"})


def _companion_rule(data: Any, where: str, ctx: _Ctx) -> CompanionRule:
    _keys(data, where, _RULE_KEYS, _RULE_OPTIONAL)
    first = _version(data, "first", where)
    if first is None:
        raise _fail(f"{where}.first", "must be a version")
    last = _version(data, "last", where)
    major = _int(data, "torch_major", where)
    if major is None:
        raise _fail(f"{where}.torch_major", "must be an integer")
    minor = _int(data, "torch_minor", where)
    offset = _int(data, "minor_offset", where)
    if (minor is None) == (offset is None):
        raise _fail(where, "needs exactly one of 'torch_minor' and 'minor_offset'")
    return CompanionRule(
        first=version_tuple(first),
        last=version_tuple(last) if last is not None else None,
        torch_major=major,
        torch_minor=minor,
        minor_offset=offset or 0,
        open=_bool(data, "open", where),
        source=_src(data, "source", where, ctx),
    )


# --- other GPU vendors (AMD ROCm targets, Intel XPU families, Jetson indexes) --------------------

_GFX_RE = re.compile(r"^gfx\d{2,4}[a-z]?$")
_VENDOR_KEYS = frozenset({"rocm_targets", "hsa_override", "xpu", "jetson"})
_JETSON_KEYS = frozenset({"jetpack", "l4t", "cuda", "python", "torch", "source"})
_JETSON_OPTIONAL = frozenset({"torchvision", "index_url", "wheel_url", "inferred"})


def _gpu_vendors(data: Any, ctx: _Ctx) -> GpuVendors:
    if data is None:
        return GpuVendors()
    where = "gpu_vendors"
    _keys(data, where, frozenset(), _VENDOR_KEYS)
    rocm = []
    for i, row in enumerate(_list(data, "rocm_targets", where, optional=True)):
        w = f"{where}.rocm_targets[{i}]"
        _keys(row, w, frozenset({"variants", "targets", "source"}), frozenset({"inferred"}))
        variants = row["variants"]
        if not isinstance(variants, list) or not all(
            isinstance(v, str) and v.startswith("rocm") for v in variants
        ):
            raise _fail(f"{w}.variants", "a list of rocmX.Y variant names")
        targets = tuple(_str(row, "targets", w).split(";"))
        bad = [t for t in targets if not _GFX_RE.match(t)]
        if bad:
            raise _fail(f"{w}.targets", f"not a gfx target: {bad[0]!r}")
        rocm.append(
            RocmTargets(
                variants=tuple(variants),
                targets=targets,
                source=_src(row, "source", w, ctx),
                inferred=_bool(row, "inferred", w),
            )
        )
    override: dict[str, Any] = dict(data.get("hsa_override") or {})
    override_source = _src(override, "source", f"{where}.hsa_override", ctx) if override else ""
    pairs = []
    for gfx, version in sorted(override.items()):
        if gfx == "source":
            continue
        if not _GFX_RE.match(gfx) or not isinstance(version, str):
            raise _fail(f"{where}.hsa_override.{gfx}", "gfx target -> 'X.Y.Z'")
        pairs.append((gfx, version))
    xpu = data.get("xpu") or {}
    xw = f"{where}.xpu"
    if xpu:
        _keys(xpu, xw, frozenset({"families", "platforms", "source"}))
    jetson = []
    for i, row in enumerate(_list(data, "jetson", where, optional=True)):
        w = f"{where}.jetson[{i}]"
        _keys(row, w, _JETSON_KEYS, _JETSON_OPTIONAL)
        index_url, wheel_url = row.get("index_url"), row.get("wheel_url")
        if (index_url is None) == (wheel_url is None):
            raise _fail(w, "exactly one of index_url and wheel_url")
        url = index_url or wheel_url
        if not isinstance(url, str) or not url.startswith("https://"):
            raise _fail(w, "the index or wheel URL must be https")
        jetson.append(
            JetsonIndex(
                jetpack=_str(row, "jetpack", w),
                l4t=_str(row, "l4t", w),
                cuda=_str(row, "cuda", w),
                python=_str(row, "python", w),
                torch=_str(row, "torch", w),
                torchvision=_opt_str(row, "torchvision", w),
                index_url=index_url,
                wheel_url=wheel_url,
                source=_src(row, "source", w, ctx),
                inferred=_bool(row, "inferred", w),
            )
        )
    return GpuVendors(
        rocm_targets=tuple(rocm),
        hsa_override=tuple(pairs),
        hsa_override_source=override_source,
        xpu_families=tuple(xpu.get("families") or ()),
        xpu_platforms=_platform_list(xpu, "platforms", xw) if xpu else (),
        xpu_source=_src(xpu, "source", xw, ctx) if xpu else "",
        jetson=tuple(jetson),
    )
