"""Flatten nested arguments (tuples, lists, dicts) into leaves and rebuild them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..runtime.tensor import Tensor

# a tree spec is a leaf marker or (kind, keys, children)
LEAF = "*"


def flatten(tree: Any) -> tuple[list[Any], Any]:
    """Leaves in order, and a spec that ``unflatten`` rebuilds the structure from."""
    leaves: list[Any] = []
    return leaves, _flatten(tree, leaves)


# Note [no recursive closures]: a recursive inner function refers to itself through its own
# closure cell, a reference cycle that keeps everything it closes over (the call's leaves: its
# result tensors) alive until the cyclic garbage collector runs; a compiled call's output
# buffers could then not be reused by the next call (Note [buffer reuse]), which paid fresh
# page faults for every large result. Module-level recursion holds nothing.


def _flatten(x: Any, leaves: list[Any]) -> Any:
    if isinstance(x, tuple | list) and not isinstance(x, Tensor):
        # named tuples (sort's values/indices, ...) keep their type, other subclasses do not
        named = hasattr(type(x), "_make")
        kind = type(x) if type(x) in (tuple, list) or named else tuple
        return (kind, None, [_flatten(v, leaves) for v in x])
    if isinstance(x, dict):
        keys = list(x)
        return (dict, keys, [_flatten(x[k], leaves) for k in keys])
    leaves.append(x)
    return LEAF


def unflatten(spec: Any, leaves: list[Any], tree: Any = None) -> Any:
    """The structure ``spec`` describes with ``leaves``; where ``tree`` (what was flattened)
    is given, its lists and dicts whose leaves are the same objects are reused as they are."""
    if tree is None:
        return _unflatten(spec, iter(leaves))
    return _unflatten(spec, iter(leaves), tree)


# Note [containers passed as they are]
# A traced call's arguments are rebuilt from their leaves, tensors replaced by tracers. A list
# or dict that holds no tensor is passed as it is instead (the caller's very object): a
# function that appends to it, or stores into it, does so to the caller's (Note [Python side
# effects while tracing] in effects.py), as eagerly.

_NO_TREE: Any = object()


def _unflatten(s: Any, it: Iterator[Any], tree: Any = _NO_TREE) -> Any:
    if s == LEAF:
        return next(it)
    kind, keys, children = s
    if tree is not _NO_TREE:  # (Note [containers passed as they are])
        subtrees = [tree[k] for k in keys] if kind is dict else list(tree)
        values = [_unflatten(c, it, t) for c, t in zip(children, subtrees, strict=True)]
        if type(tree) in (list, dict) and all(
            v is t for v, t in zip(values, subtrees, strict=True)
        ):
            return tree
    else:
        values = [_unflatten(c, it) for c in children]
    if kind is dict:
        return dict(zip(keys, values, strict=True))
    return kind._make(values) if hasattr(kind, "_make") else kind(values)


def spec_text(spec: Any) -> str:
    """A tree spec as PyTorch's ``treespec_pprint`` and JAX's PyTreeDef print it: ``*`` for a
    leaf, ``{'a': *}`` for a dict, ``[*]`` for a list, ``(*,)`` for a tuple."""
    if spec == LEAF:
        return "*"
    kind, keys, children = spec
    items = [spec_text(c) for c in children]
    if kind is dict:
        return "{" + ", ".join(f"{k!r}: {v}" for k, v in zip(keys, items, strict=True)) + "}"
    if kind is list:
        return "[" + ", ".join(items) + "]"
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
