"""einsum and tensordot as permute/reshape/diagonal/sum and pairwise matmul."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .checks import shape_from_values
from .ops_diagonal import diagonal
from .ops_linalg import matmul
from .ops_movement import permute, reshape
from .ops_reduce import sum
from .tensor import Tensor

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ELLIPSIS = len(_LETTERS)  # label ids from here on are the ellipsis dims, right-aligned


def _error(text: str) -> RuntimeError:
    return RuntimeError(f"einsum(): {text}")


# ---- parsing -------------------------------------------------------------------------------
def _parse_term(term: str, start: int, where: str) -> tuple[list[int], bool]:
    """The label ids of one subscript term (``-1`` marks the ellipsis) and whether it has one."""
    labels: list[int] = []
    i, has_ellipsis = 0, False
    while i < len(term):
        c = term[i]
        if c == ".":
            if has_ellipsis:
                raise _error(f"found '.' for {where} for which an ellipsis was already found")
            if term[i : i + 3] != "...":
                raise _error(f"found '.' for {where} that is not part of any ellipsis (...)")
            labels.append(-1)
            has_ellipsis = True
            i += 3
            continue
        if c not in _LETTERS:
            raise _error(
                f"invalid subscript given at index {start + i} in the equation string, "
                "subscripts must be in [a-zA-Z]"
            )
        labels.append(_LETTERS.index(c))
        i += 1
    return labels, has_ellipsis


def _parse(equation: str, count: int) -> tuple[list[list[int]], list[int] | None]:
    equation = equation.replace(" ", "")
    lhs, arrow, rhs = equation.partition("->")
    terms, starts, pos = [], [], 0
    for term in lhs.split(","):
        terms.append(term)
        starts.append(pos)
        pos += len(term) + 1
    if len(terms) > count:
        raise _error("fewer operands were provided than specified in the equation")
    if len(terms) < count:
        raise _error("more operands were provided than specified in the equation")
    inputs = [
        _parse_term(t, s, f"operand {k}")[0]
        for k, (t, s) in enumerate(zip(terms, starts, strict=True))
    ]
    if not arrow:
        return inputs, None
    output, _ = _parse_term(rhs, len(lhs) + 2, "output")
    return inputs, output


def _sublist_equation(args: Sequence[Any]) -> tuple[str, list[Any]]:
    """``einsum(a, [0, 1], b, [1, 2], [0, 2])``: the sublist format as an equation string."""

    def term(sub: Any) -> str:
        out = []
        for s in sub:
            if s is Ellipsis:
                out.append("...")
            elif isinstance(s, int) and 0 <= s < len(_LETTERS):
                out.append(_LETTERS[s])
            else:
                raise ValueError(
                    f"einsum(): expected subscript to be within the range [0, 52), but got {s}"
                )
        return "".join(out)

    operands = list(args[0::2][: len(args) // 2])
    lhs = ",".join(term(s) for s in args[1::2][: len(operands)])
    rhs = f"->{term(args[-1])}" if len(args) % 2 else ""
    return lhs + rhs, operands


# ---- the contraction -----------------------------------------------------------------------
def einsum(*args: Any) -> Tensor:
    """Sum of products over the subscripts of ``equation``; contracted pairwise by matmul in
    the order that keeps each intermediate smallest (greedy, as opt_einsum's default)."""
    if len(args) < 2:
        raise ValueError(
            "einsum(): must specify the equation string and at least one operand, or at least "
            "one operand and its subscripts list"
        )
    if isinstance(args[0], str):
        equation, operands = args[0], list(args[1:])
        if len(operands) == 1 and isinstance(operands[0], list | tuple):
            operands = list(operands[0])
    else:
        equation, operands = _sublist_equation(args)
    if not operands:
        raise ValueError("einsum(): must provide at least one operand")
    inputs, output = _parse(equation, len(operands))
    for t in operands[1:]:
        if t.dtype != operands[0].dtype:
            raise RuntimeError(
                f"expected scalar type {operands[0].dtype.type_name} but found {t.dtype.type_name}"
            )
    ellipsis_dims = 0
    for k, (t, labels) in enumerate(zip(operands, inputs, strict=True)):
        named = len([lab for lab in labels if lab >= 0])
        if -1 in labels:
            if named > t.ndim:
                raise _error(
                    f"the number of subscripts in the equation ({named}) is more than the "
                    f"number of dimensions ({t.ndim}) for operand {k}"
                )
            ellipsis_dims = max(ellipsis_dims, t.ndim - named)
        elif named != t.ndim:
            raise _error(
                f"the number of subscripts in the equation ({named}) does not match the number "
                f"of dimensions ({t.ndim}) for operand {k} and no ellipsis was given"
            )
    expanded = [
        _expand_ellipsis(labels, t.ndim, ellipsis_dims)
        for t, labels in zip(operands, inputs, strict=True)
    ]
    sizes = _label_sizes(operands, expanded)
    out_labels = _output_labels(expanded, output, ellipsis_dims)
    terms = [
        _prepare(t, labels, k, sizes)
        for k, (t, labels) in enumerate(zip(operands, expanded, strict=True))
    ]
    return _contract(terms, out_labels, sizes)


def _expand_ellipsis(labels: list[int], ndim: int, ellipsis_dims: int) -> list[int]:
    if -1 not in labels:
        return labels
    i = labels.index(-1)
    n = ndim - (len(labels) - 1)
    dims = list(range(_ELLIPSIS + ellipsis_dims - n, _ELLIPSIS + ellipsis_dims))
    return labels[:i] + dims + labels[i + 1 :]


def _label_sizes(operands: list[Tensor], expanded: list[list[int]]) -> dict[int, int]:
    sizes: dict[int, int] = {}
    for k, (t, labels) in enumerate(zip(operands, expanded, strict=True)):
        mine: dict[int, int] = {}
        for lab, n in zip(labels, t.shape, strict=True):
            if lab in mine and mine[lab] != n:
                raise _error(
                    f"subscript {_LETTERS[lab]} is repeated for operand {k} but the sizes "
                    f"don't match, {n} != {mine[lab]}"
                )
            mine[lab] = n
        for lab, n in mine.items():
            seen = sizes.get(lab, 1)
            if n != 1 and seen != 1 and n != seen:
                if lab >= _ELLIPSIS:  # (PyTorch's text, its missing space included)
                    first = min(i for i, x in enumerate(labels) if x >= _ELLIPSIS)
                    raise _error(
                        f"dimension {labels.index(lab) - first} covered by ellipsis in operand "
                        f"{k}has size {n} which does not broadcast with previously seen "
                        f"ellipsis with size {seen} for the respective dimension"
                    )
                raise _error(
                    f"subscript {_LETTERS[lab]} has size {n} for operand {k} which does not "
                    f"broadcast with previously seen size {seen}"
                )
            sizes[lab] = n if n != 1 else seen
    return sizes


def _output_labels(
    expanded: list[list[int]], output: list[int] | None, ellipsis_dims: int
) -> list[int]:
    present = {lab for labels in expanded for lab in labels}
    ell = list(range(_ELLIPSIS, _ELLIPSIS + ellipsis_dims))
    if output is None:  # implicit: the ellipsis, then the labels seen once, in label order
        counts: dict[int, int] = {}
        for labels in expanded:
            for lab in labels:
                counts[lab] = counts.get(lab, 0) + 1
        once = sorted(lab for lab, c in counts.items() if c == 1 and lab < _ELLIPSIS)
        return ell + once
    out: list[int] = []
    for lab in output:
        if lab == -1:
            out += ell
            continue
        if lab in out:
            raise _error(f"output subscript {_LETTERS[lab]} appears more than once in the output")
        if lab not in present:
            raise _error(
                f"output subscript {_LETTERS[lab]} does not appear in the equation for any "
                "input operand"
            )
        out.append(lab)
    return out


def _prepare(
    t: Tensor, labels: list[int], k: int, sizes: dict[int, int]
) -> tuple[Tensor, list[int]]:
    """One operand with a diagonal taken for each repeated label and the size-1 dims that
    broadcast against another operand dropped (summing a size-1 dim is dropping it)."""
    labels = list(labels)
    while len(set(labels)) < len(labels):
        lab = next(lab for lab in labels if labels.count(lab) > 1)
        p = labels.index(lab)
        q = labels.index(lab, p + 1)
        t = diagonal(t, 0, p, q)  # the diagonal becomes the last dim
        labels = [x for i, x in enumerate(labels) if i not in (p, q)] + [lab]
    drop = [i for i, lab in enumerate(labels) if t.shape[i] == 1 and sizes[lab] != 1]
    if drop:
        t = reshape(t, tuple(n for i, n in enumerate(t.shape) if i not in drop))
        labels = [lab for i, lab in enumerate(labels) if i not in drop]
    return t, labels


def _size(labels: Sequence[int], sizes: dict[int, int]) -> int:
    n = 1
    for lab in labels:
        n *= sizes[lab]
    return n


def _contract(
    terms: list[tuple[Tensor, list[int]]], out: list[int], sizes: dict[int, int]
) -> Tensor:
    def needed(skip: Sequence[int]) -> set[int]:
        keep = set(out)
        for i, (_, labels) in enumerate(terms):
            if i not in skip:
                keep.update(labels)
        return keep

    # sum out each label only one operand has and the output does not want
    for i, (t, labels) in enumerate(terms):
        keep = needed([i])
        gone = [d for d, lab in enumerate(labels) if lab not in keep]
        if gone:
            terms[i] = (sum(t, tuple(gone)), [lab for lab in labels if lab in keep])
    while len(terms) > 1:
        best: tuple[int, int, int] | None = None
        for i in range(len(terms)):
            for j in range(i + 1, len(terms)):
                keep = needed([i, j])
                a, b = terms[i][1], terms[j][1]
                result = [lab for lab in a if lab in keep] + [
                    lab for lab in b if lab not in a and lab in keep
                ]
                cost = _size(result, sizes)
                if best is None or cost < best[0]:
                    best = (cost, i, j)
        assert best is not None
        _, i, j = best
        pair = _pair(terms[i], terms[j], needed([i, j]), sizes)
        terms = [t for k, t in enumerate(terms) if k not in (i, j)] + [pair]
    t, labels = terms[0]
    if labels == out:
        return t
    return permute(t, tuple(labels.index(lab) for lab in out))


def _pair(
    left: tuple[Tensor, list[int]],
    right: tuple[Tensor, list[int]],
    keep: set[int],
    sizes: dict[int, int],
) -> tuple[Tensor, list[int]]:
    """Contract two operands as one (batched) matmul: [batch, free_a, k] @ [batch, k, free_b]."""
    (a, la), (b, lb) = left, right
    batch = [lab for lab in la if lab in lb and lab in keep]
    summed = [lab for lab in la if lab in lb and lab not in keep]
    free_a = [lab for lab in la if lab not in lb]
    free_b = [lab for lab in lb if lab not in la]
    m, k, n = _size(free_a, sizes), _size(summed, sizes), _size(free_b, sizes)
    order_a = batch + free_a + summed
    order_b = batch + summed + free_b
    if order_a != la:
        a = permute(a, tuple(la.index(lab) for lab in order_a))
    if order_b != lb:
        b = permute(b, tuple(lb.index(lab) for lab in order_b))
    lead = (_size(batch, sizes),) if batch else ()
    product = matmul(reshape(a, (*lead, m, k)), reshape(b, (*lead, k, n)))
    labels = batch + free_a + free_b
    return reshape(product, tuple(sizes[lab] for lab in labels)), labels


# ---- tensordot -----------------------------------------------------------------------------
def tensordot(a: Tensor, b: Tensor, dims: Any = 2, out: Any = None) -> Tensor:
    """Contract ``dims`` (a count of a's last / b's first dims, or two lists of dims)."""
    if out is not None:
        raise NotImplementedError("tensordot: out= is not supported")
    if isinstance(dims, Tensor):
        shape_from_values("tensordot(dims=tensor)", "a shape chosen by the dims' values", dims)
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > a.ndim or dims > b.ndim:
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        dims_a, dims_b = list(range(a.ndim - dims, a.ndim)), list(range(dims))
        given_a = [d - a.ndim for d in dims_a]  # PyTorch names a's dims from the end
    else:
        if len(dims) != 2:
            raise RuntimeError("tensordot expects dims to be a pair of lists or an int")
        da, db = dims
        dims_a = [da] if isinstance(da, int) else list(da)
        dims_b = [db] if isinstance(db, int) else list(db)
        if len(dims_a) != len(dims_b):
            raise RuntimeError("both dimension lists should have same length")
        dims_a = [_norm_dim(d, a.ndim) for d in dims_a]
        given_a = list(dims_a)
        dims_a = [_norm_dim(d, a.ndim) for d in dims_a]
        dims_b = [_norm_dim(d, b.ndim) for d in dims_b]
    for da, db, name in zip(dims_a, dims_b, given_a, strict=True):
        if a.shape[da] != b.shape[db]:
            raise RuntimeError(
                f"contracted dimensions need to match, but first has size {a.shape[da]} in dim "
                f"{name} and second has size {b.shape[db]} in dim {db}"
            )
    if a.dtype != b.dtype:
        raise RuntimeError("both inputs should have same dtype")
    free_a = [d for d in range(a.ndim) if d not in dims_a]
    free_b = [d for d in range(b.ndim) if d not in dims_b]
    k = 1
    for d in dims_a:
        k *= a.shape[d]
    pa = permute(a, tuple(free_a + dims_a))
    pb = permute(b, tuple(dims_b + free_b))
    shape_a = tuple(a.shape[d] for d in free_a)
    shape_b = tuple(b.shape[d] for d in free_b)
    m = _prod(shape_a)
    n = _prod(shape_b)
    product = matmul(reshape(pa, (m, k)), reshape(pb, (k, n)))
    return reshape(product, shape_a + shape_b)


def _prod(shape: Sequence[int]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def _norm_dim(d: int, ndim: int) -> int:
    if not -max(ndim, 1) <= d < max(ndim, 1):
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-max(ndim, 1)}, "
            f"{max(ndim, 1) - 1}], but got {d})"
        )
    return d % max(ndim, 1)
