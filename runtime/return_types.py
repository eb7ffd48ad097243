"""torch.return_types: the one factory of the named tuples ops return, and their table."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

# Note [return types are one table]
# Ops in several modules return named tuples (max, sort, slogdet, aminmax, ...). Each class is
# made once here and kept in ALL under PyTorch's name, so ``adjit.return_types.max`` is the very
# class ``x.max(0)`` returns and isinstance holds. PyTorch's are C structseqs: built from one
# sequence (``torch.return_types.max((v, i))``), printed field by field, with n_fields. Ours are
# namedtuples that take that form too, and the positional one adjit's ops use.
ALL: dict[str, type] = {}
_NO_OUT = {"histogramdd"}  # PyTorch has no ``<name>_out`` twin for these (nor for private ones)


def _from_sequence(cls: type, base: type, name: str, args: tuple[Any, ...], kw: Any) -> Any:
    """``cls(sequence)`` as PyTorch's structseq, or ``cls(*fields)`` as a namedtuple."""
    if len(args) != 1 or kw:
        return base.__new__(cls, *args, **kw)
    try:
        items = tuple(args[0])
    except TypeError:
        raise TypeError("constructor requires a sequence") from None
    fields = len(base._fields)  # type: ignore[attr-defined]
    if len(items) != fields:
        raise TypeError(
            f"torch.return_types.{name}() takes a {fields}-sequence ({len(items)}-sequence given)"
        )
    return base.__new__(cls, *items)


def return_type(name: str, fields: tuple[str, ...]) -> type:
    """The class ``torch.return_types.<name>`` with these fields (made once, then shared),
    and its ``<name>_out`` twin, which a call with ``out=`` returns."""
    if name in ALL:
        return ALL[name]
    if not name.startswith("_") and name not in _NO_OUT:
        _make(f"{name}_out", fields)
    return _make(name, fields)


def out_type(kind: type) -> type:
    """The class a call with ``out=`` returns where a plain call returns a ``kind``."""
    return ALL.get(f"{kind.__name__}_out", kind) if ALL.get(kind.__name__) is kind else kind


def _make(name: str, fields: tuple[str, ...]) -> type:
    base = namedtuple(name, fields)  # type: ignore[misc]  # noqa: PYI024

    def __new__(cls: type, *args: Any, **kw: Any) -> Any:  # noqa: N807
        return _from_sequence(cls, base, name, args, kw)

    def __repr__(self: Any) -> str:  # noqa: N807
        body = ",\n".join(f"{f}={getattr(self, f)!r}" for f in fields)
        return f"torch.return_types.{name}(\n{body})"

    namespace = {
        "__new__": __new__,
        "__repr__": __repr__,
        "__slots__": (),
        "__module__": "adjit.return_types",
        "n_fields": len(fields),
        "n_sequence_fields": len(fields),
        "n_unnamed_fields": 0,
    }
    ALL[name] = type(name, (base,), namespace)
    return ALL[name]
