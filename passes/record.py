"""Immutable records for the schedule types: dataclass-like, but free to define at import."""

from __future__ import annotations

from typing import Any

# Note [records]
# ``@dataclass`` writes and compiles each generated method (``__init__``, ``__repr__``, ...)
# when the class is created: 0.3-1 ms a class. The schedule types (fusion's Kernel, rows'
# RowKernel, ...) are imported by every process's first compiled call, so a dozen dataclasses
# were a sizeable share of a warm start (issue 5). A Record is what those dataclasses were:
# fields set once in ``FIELDS`` order (assigning later raises), identity equality (a
# ValueRecord: equal fields), and a dataclass-style repr. ``codegen.kernel_cache`` walks
# ``FIELDS`` to describe a kernel for its cache key.


class Record:
    """Positional fields named by the subclass's ``FIELDS`` (its ``__slots__``), immutable."""

    __slots__ = ()
    FIELDS: tuple[str, ...] = ()

    def __init__(self, *values: Any) -> None:
        if len(values) != len(self.FIELDS):
            raise TypeError(f"{type(self).__name__} takes {len(self.FIELDS)} fields")
        for name, value in zip(self.FIELDS, values, strict=True):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r}: {type(self).__name__} is frozen")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}: {type(self).__name__} is frozen")

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, n) for n in self.FIELDS)

    def __reduce__(self) -> tuple[type, tuple[Any, ...]]:  # copy and pickle rebuild by fields
        return type(self), self._values()

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.FIELDS)
        return f"{type(self).__name__}({fields})"


class ValueRecord(Record):
    """A Record equal to any of its type with equal fields (hashable when the fields are)."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._values())
