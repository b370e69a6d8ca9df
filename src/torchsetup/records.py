"""Value records shared by every stage: one generic equality, hash and repr, and JSON.

The facts (detect.model), the matrix entities (matrix.model) and the plan records
(resolve.plan) derive from :class:`Record`; :func:`to_jsonable` / :func:`from_jsonable` turn
them into JSON data and back. A class lists derived properties worth exporting in ``_derived``.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import types
import typing
from typing import Any, TypeVar, Union

T = TypeVar("T")


class Record:
    """Value semantics shared by every fact class: equality, hash and repr over the fields.

    One generic implementation instead of three generated per class (``dataclass`` would exec
    ``__eq__``, ``__hash__`` and ``__repr__`` for each of the ~17 classes: about 8 ms of
    start-up on a small machine, on the path of every command people wait for).
    """

    __slots__ = ()

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f.name) for f in dataclasses.fields(self))  # type: ignore[arg-type]

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((self.__class__.__name__, self._values()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self))  # type: ignore[arg-type]
        return f"{self.__class__.__name__}({fields})"


def to_jsonable(obj: Any) -> Any:
    """Dataclasses -> dicts (with derived properties of interest), tuples -> lists."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        for prop in getattr(type(obj), "_derived", ()):
            out[prop] = to_jsonable(getattr(obj, prop))
        return out
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(x) for x in obj]
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    return obj


def from_jsonable(cls: type[T], data: Any, *, strict: bool = False) -> T:
    """Inverse of :func:`to_jsonable` for our dataclasses (derived keys are ignored).

    ``strict``: the data is untrusted (a snapshot from another machine): every value must have
    its field's type (``None`` only where the field is Optional), else TypeError naming the
    field. Without it, values are taken as they are."""
    return _from(cls, data, strict, cls.__name__)


def _from(cls: type[T], data: Any, strict: bool, where: str) -> T:
    if strict and not isinstance(data, dict):
        raise TypeError(f"{where}: expected an object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in data:
            kwargs[f.name] = _convert(hints[f.name], data[f.name], strict, f"{where}.{f.name}")
    return cls(**kwargs)


_SCALARS: dict[Any, tuple[type, ...]] = {
    str: (str,),
    int: (int,),
    float: (int, float),
    bool: (bool,),
}


def _convert(tp: Any, value: Any, strict: bool = False, where: str = "") -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is Union or (hasattr(types, "UnionType") and origin is types.UnionType):
        if value is None:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], value, strict, where) if len(inner) == 1 else value
    if value is None:
        if strict and tp is not Any:
            raise TypeError(f"{where}: null where a value is needed")
        return None
    if origin is tuple:
        if strict and not isinstance(value, (list, tuple)):
            raise TypeError(f"{where}: expected a list, got {type(value).__name__}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, strict, f"{where}[{i}]") for i, v in enumerate(value))
        if strict and len(value) != len(args):
            raise TypeError(f"{where}: expected {len(args)} items, got {len(value)}")
        return tuple(
            _convert(a, v, strict, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value))
        )
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if isinstance(value, dict):
            return _from(tp, value, strict, where)
        if strict:
            raise TypeError(f"{where}: expected an object, got {type(value).__name__}")
        return value
    if strict:
        allowed = _SCALARS.get(tp)
        if allowed is not None and (
            not isinstance(value, allowed) or (tp is not bool and isinstance(value, bool))
        ):
            raise TypeError(f"{where}: expected {tp.__name__}, got {type(value).__name__}")
        if origin is typing.Literal and value not in args:
            raise TypeError(f"{where}: {value!r} is not one of {', '.join(map(repr, args))}"[:200])
        if origin in (dict, collections.abc.Mapping) and not isinstance(value, dict):
            raise TypeError(f"{where}: expected an object, got {type(value).__name__}")
    return value
