"""Value records shared by every stage: one generic equality, hash and repr, and JSON.

The facts (detect.model), the matrix entities (matrix.model) and the plan records
(resolve.plan) derive from :class:`Record`; :func:`to_jsonable` / :func:`from_jsonable` turn
them into JSON data and back. A class lists derived properties worth exporting in ``_derived``.
"""

from __future__ import annotations

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


def from_jsonable(cls: type[T], data: Any) -> T:
    """Inverse of :func:`to_jsonable` for our dataclasses (derived keys are ignored)."""
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in data:
            kwargs[f.name] = _convert(hints[f.name], data[f.name])
    return cls(**kwargs)


def _convert(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is Union or (hasattr(types, "UnionType") and origin is types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], value) if len(inner) == 1 else value
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v) for v in value)
        return tuple(_convert(a, v) for a, v in zip(args, value))
    if isinstance(tp, type) and dataclasses.is_dataclass(tp) and isinstance(value, dict):
        return from_jsonable(tp, value)
    return value
