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
            kind = type(x) if type(x) in (tuple, list) else tuple
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
        return dict(zip(keys, values, strict=True)) if kind is dict else kind(values)

    return go(spec)
