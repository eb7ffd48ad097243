"""``rearrange``: einops-style element reordering (``torch.func.rearrange``) by reshape/permute."""

from __future__ import annotations

from collections.abc import Sequence
from math import prod
from typing import Any

from adjit.runtime.functional import stack
from adjit.runtime.tensor import Tensor

ELLIPSIS = "…"
Group = list[str]  # one dimension of a side: the elementary axes it is made of ([] for a 1)


def _parse(side: str) -> tuple[list[Group | str], set[str], bool]:
    """A side of the pattern: its dimensions (a group, or ELLIPSIS), identifiers, and whether
    the ellipsis is inside parentheses."""
    if "." in side:
        if "..." not in side:
            raise ValueError("Expression may contain dots only inside ellipsis (...)")
        if side.count("...") != 1 or side.count(".") != 3:
            raise ValueError(
                "Expression may contain dots only inside ellipsis (...); only one ellipsis for "
                "tensor "
            )
        side = side.replace("...", f" {ELLIPSIS} ")
    dims: list[Group | str] = []
    names: set[str] = set()
    group: Group | None = None
    parenthesized = False
    for token in side.replace("(", " ( ").replace(")", " ) ").split():
        if token == "(":
            if group is not None:
                raise ValueError(
                    "Axis composition is one-level (brackets inside brackets not allowed)"
                )
            group = []
        elif token == ")":
            if group is None:
                raise ValueError("Brackets are not balanced")
            dims.append(group)
            group = None
        elif token == ELLIPSIS:
            names.add(ELLIPSIS)
            if group is None:
                dims.append(ELLIPSIS)
            else:
                group.append(ELLIPSIS)
                parenthesized = True
        elif token.isdecimal():
            if int(token) != 1:
                raise ValueError("rearrange only supports unnamed axes of size 1")
            if group is None:
                dims.append([])
        else:
            if not token.isidentifier():
                bad = next((c for c in token if not (c.isalnum() or c == "_")), None)
                if bad is not None:
                    raise ValueError(f"Unknown character '{bad}'")
                raise ValueError(f"Invalid axis identifier: {token}\nnot a valid python identifier")
            if token[0] == "_" or token[-1] == "_":
                raise ValueError(
                    f"Invalid axis identifier: {token}\naxis name should should not start or end "
                    "with underscore"
                )
            if token in names:
                raise ValueError(f"Indexing expression contains duplicate dimension '{token}'")
            names.add(token)
            if group is None:
                dims.append([token])
            else:
                group.append(token)
    if group is not None:
        raise ValueError(f"Imbalanced parentheses in expression: '{side}'")
    return dims, names, parenthesized


def rearrange(tensor: Any, pattern: str, **axes_lengths: int) -> Tensor:
    """``tensor`` (or a sequence of tensors, stacked) rearranged by an einops pattern, e.g.
    ``"b (h h1) (w w1) c -> b h w (c h1 w1)"`` with ``h1=2, w1=2``: transposes, reshapes,
    squeezes and unsqueezes in one readable expression (``torch.func.rearrange``)."""
    if not isinstance(tensor, Tensor):
        tensor = stack(list(tensor))
    try:
        left_text, right_text = pattern.split("->")
    except ValueError:
        raise ValueError("Pattern must contain a single '->' separator") from None
    left, left_names, left_paren = _parse(left_text)
    right, right_names, _ = _parse(right_text)
    if ELLIPSIS not in left_names and ELLIPSIS in right_names:
        raise ValueError(f"Ellipsis found in right side, but not left side of a pattern {pattern}")
    if left_paren:
        raise ValueError(f"Ellipsis is parenthesis in the left side is not allowed: {pattern}")
    for length in axes_lengths.values():
        if type(length) is not int:
            raise TypeError(f"rearrange axis lengths must be integers, got: {type(length)}")
    difference = left_names ^ right_names
    if difference:
        raise ValueError(
            "Identifiers only on one side of rearrange expression (should be on both): "
            f"{difference}"
        )
    unmatched = axes_lengths.keys() - left_names
    if unmatched:
        raise ValueError(f"Identifiers not found in rearrange expression: {unmatched}")
    shape = tuple(tensor.shape)
    n_ell = _check_rank(left, left_names, len(shape))
    ell = [f"{ELLIPSIS}{i}" for i in range(n_ell)]
    sizes: dict[str, int] = {}
    elementary: list[str] = []  # the left side's axes, one per elementary dimension
    anonymous: list[str] = []  # its ``1``/``()`` dimensions: summed away, as PyTorch does
    position = 0
    for dim in left:
        if dim == ELLIPSIS:
            for name in ell:
                sizes[name] = shape[position]
                elementary.append(name)
                position += 1
            continue
        group = list(dim) or [f"·{len(anonymous)}"]
        if not dim:
            anonymous.append(group[0])
            sizes[group[0]] = shape[position]
        else:
            _split(group, shape[position], axes_lengths, sizes, len(elementary))
        elementary.extend(group)
        position += 1
    order = [n for dim in right for n in (ell if dim == ELLIPSIS else dim)]
    out_shape: list[int] = []
    for dim in right:
        if dim == ELLIPSIS:
            out_shape.extend(sizes[n] for n in ell)
        else:
            out_shape.append(prod(sizes[n] for n in dim))
    x = tensor.reshape(*[sizes[n] for n in elementary]) if elementary else tensor.reshape(())
    moved = [*order, *anonymous]
    if moved:
        x = x.permute(*[elementary.index(n) for n in moved])
    if anonymous:
        x = x.sum(tuple(range(len(order), len(moved))))
    return x.reshape(*out_shape) if out_shape else x.reshape(())


class DimensionBindError(Exception):
    """A dimension's size does not fit the pattern (PyTorch's first-class-dimension error)."""


def _check_rank(left: Sequence[Group | str], names: set[str], ndim: int) -> int:
    """How many dimensions the left side's ellipsis stands for (PyTorch's rank errors)."""
    anonymous = sum(1 for d in left if d == [])
    if ELLIPSIS in names:
        pattern_ndim = anonymous + len(names) - 1
        if pattern_ndim > ndim:
            raise ValueError(
                f"Number of dimensions in pattern ({pattern_ndim}) must be less than or equal "
                f"to the number of dimensions in the tensor ({ndim})"
            )
        return ndim - (len(left) - 1)
    if len(left) != ndim:
        raise ValueError(
            f"Number of dimensions in pattern ({len(left)}) must be equal to the number of "
            f"dimensions in the tensor ({ndim})"
        )
    return 0


def _split(
    group: Group, length: int, given: dict[str, int], sizes: dict[str, int], first: int
) -> None:
    """The sizes of one left dimension's elementary axes (``d{first}``, ... in PyTorch's
    errors): given ones, and at most one inferred."""
    names = [f"d{first + k}" for k in range(len(group))]
    unknown = [k for k, n in enumerate(group) if n not in given]
    known = prod(given[n] for n in group if n in given)
    if len(unknown) > 1:
        raise DimensionBindError(
            f"cannot infer the sizes of two dimensions at once {names[unknown[0]]} and "
            f"{names[unknown[1]]}"
        )
    if unknown:
        if known == 0 or length % known:
            pack = tuple(given.get(n, "?") for n in group)
            raise DimensionBindError(
                f"inferred dimension does not evenly fit into larger dimension: {length} vs {pack}"
            )
        sizes[group[unknown[0]]] = length // known
    elif known != length:
        raise DimensionBindError(
            f"Dimension sizes to do not match ({length} != {known}) when matching dimension "
            f"pack ({', '.join(names)})"
        )
    sizes.update((n, given[n]) for n in group if n in given)
