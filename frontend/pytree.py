"""Flatten nested arguments (tuples, lists, dicts) into leaves and rebuild them."""

from __future__ import annotations

from typing import Any

from ..runtime.tensor import Tensor

# a tree spec is a leaf marker or (kind, keys, children)
LEAF = "*"


def flatten(tree: Any) -> tuple[list[Any], Any]:
    """Leaves in order, and a spec that ``unflatten`` rebuilds the structure from."""
    leaves: list[Any] = []

    def go(x: Any) -> Any:
        if isinstance(x, tuple | list) and not isinstance(x, Tensor):
            # named tuples (sort's values/indices, ...) keep their type, other subclasses do not
            named = hasattr(type(x), "_make")
            kind = type(x) if type(x) in (tuple, list) or named else tuple
            return (kind, None, [go(v) for v in x])
        if isinstance(x, dict):
            keys = list(x)
            return (dict, keys, [go(x[k]) for k in keys])
        leaves.append(x)
        return LEAF

    return leaves, go(tree)


def unflatten(spec: Any, leaves: list[Any]) -> Any:
    it = iter(leaves)

    def go(s: Any) -> Any:
        if s == LEAF:
            return next(it)
        kind, keys, children = s
        values = [go(c) for c in children]
        if kind is dict:
            return dict(zip(keys, values, strict=True))
        return kind._make(values) if hasattr(kind, "_make") else kind(values)

    return go(spec)
