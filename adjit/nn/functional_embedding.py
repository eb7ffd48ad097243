"""``F.embedding`` and ``F.embedding_bag``: gathers of weight rows, bags reduced by index_add."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from adjit.runtime import functional as R
from adjit.runtime import trace_state
from adjit.runtime.checks import check, in_range, traced, value_dependent
from adjit.runtime.creation import ones, zeros
from adjit.runtime.dispatch import composite, with_rule
from adjit.runtime.grad_mode import is_grad_enabled, no_grad
from adjit.runtime.inplace import inplace
from adjit.runtime.sparse_embedding import embedding_bag_sparse, embedding_sparse
from adjit.runtime.tensor import Tensor

__all__ = ["embedding", "embedding_bag", "embedding_renorm_"]

_MODES = {"sum": 0, "mean": 1, "max": 2}


def _require_indices(input: Tensor, op: str) -> None:
    if input.dtype.name not in ("int64", "int32"):
        raise RuntimeError(
            "Expected tensor for argument #1 'indices' to have one of the following "
            f"scalar types: Long, Int; but got {_legacy_name(input)} instead "
            f"(while checking arguments for {op})"
        )


def _require_bag_weights(weight: Tensor, psw: Tensor | None) -> None:
    """PyTorch's embedding_bag weight checks: floating point, per-sample weights alike."""
    if not weight.dtype.is_floating_point:
        raise RuntimeError(
            "Expected tensor for argument #1 'weight' to have one of the following scalar "
            f"types: Half, BFloat16, Float, Double; but got {_legacy_name(weight)} instead "
            "(while checking arguments for embedding_bag)"
        )
    if psw is not None and psw.dtype != weight.dtype:
        raise RuntimeError(
            "Expected tensor for argument #1 'weight' to have the same type as tensor for "
            f"argument #1 'per_sample_weights'; but type {_legacy_name(weight)} does not equal "
            f"{_legacy_name(psw)} (while checking arguments for embedding_bag)"
        )


def _legacy_name(t: Tensor) -> str:
    """PyTorch's legacy type name (torch.FloatTensor) as its embedding checks print it."""
    if t.dtype.name == "bool":
        return "CPUBoolType"
    return f"torch.{t.dtype.type_name}Tensor"


def _refuse_sparse(sparse: bool, weight: Tensor, op: str) -> None:
    """Sparse gradients are eager only (runtime/sparse_embedding.py)."""
    tracing = trace_state.current() is not None
    if sparse and weight.requires_grad and is_grad_enabled() and tracing:
        raise NotImplementedError(
            f"adjit: {op}(sparse=True) is not implemented "
            f"({'in compiled code' if tracing else 'eagerly'}); use sparse=False"
        )


def _renorm(weight: Tensor, idx: Tensor, max_norm: float, norm_type: float) -> None:
    """Scale the looked-up rows whose norm exceeds ``max_norm`` in place, as PyTorch's
    ``embedding_renorm_`` (it reads the indices: compiled, a graph break before)."""
    message = (
        "embedding max_norm rescales weight rows in place from the index values; call it "
        "outside adjit.compile"
    )
    value_dependent(message, "embedding max_norm: rows rescaled from the index values", idx, weight)
    rows = np.unique(idx._data)
    with no_grad():
        weight._data[rows] = renormed_rows(weight._data[rows], max_norm, norm_type)
        weight._version_box[0] += 1


def renormed_rows(data: np.ndarray, max_norm: float, norm_type: float) -> np.ndarray:
    """Rows whose ``norm_type``-norm exceeds ``max_norm`` scaled by max_norm / (norm + 1e-7),
    as PyTorch's ``embedding_renorm_`` (any p: inf is the largest magnitude, 0 counts)."""
    norms = np.linalg.norm(data, ord=norm_type, axis=1).astype(np.float64)  # (then double)
    scale = np.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
    return data * scale[:, None].astype(data.dtype)


class _NoRenormDerivative:
    """embedding_renorm_'s grad_fn: PyTorch has no derivative for it, backward raises."""

    def __repr__(self) -> str:  # a Python literal: printed IR parses, emitted source runs
        return "'embedding_renorm'"

    def vjp(self, g: Tensor, out: Tensor, inputs: Any, needs: tuple[bool, ...]) -> tuple:
        raise NotImplementedError("the derivative for 'embedding_renorm' is not implemented.")


def _check_renorm(input: Tensor, indices: Tensor) -> None:
    """PyTorch's argument checks of ``embedding_renorm_``."""
    where = "(while checking arguments for embedding_renorm_)"
    if indices.dtype.name not in ("int64", "int32"):
        raise RuntimeError(
            "Expected tensor for argument #2 'indices' to have one of the following scalar "
            f"types: Long, Int; but got {_legacy_name(indices)} instead {where}"
        )
    if input.ndim != 2:
        raise RuntimeError(
            f"Expected 2-dimensional tensor, but got {input.ndim}-dimensional tensor for "
            f"argument #1 'self' {where}"
        )
    if not (input.dtype.is_floating_point or input.dtype.is_complex):
        raise RuntimeError(
            "norm(): input dtype should be either floating point or complex. Got "
            f"{input.dtype.type_name} instead."
        )


def embedding_renorm_(input: Tensor, indices: Tensor, max_norm: float, norm_type: float) -> Tensor:
    """``torch.embedding_renorm_``: the rows of ``input`` that ``indices`` name (negative ones
    from the end) scaled in place to norm at most ``max_norm``; no derivative, as PyTorch."""
    _check_renorm(input, indices)
    value_dependent(
        "embedding_renorm_ rescales rows in place from the index values; call it outside "
        "adjit.compile",
        "embedding_renorm_: rows rescaled from the index values",
        indices,
        input,
    )
    n = input.shape[0]
    picked = np.unique(indices._data)  # sorted: PyTorch reports the first bad one in this order
    bad = picked[(picked < -n) | (picked >= n)]
    if bad.size:
        raise IndexError(
            f"select(): index {bad[0]} out of range for tensor of size {list(input.shape)} at "
            "dimension 0"
        )
    rows = np.unique(picked % n) if n else picked

    def renorm(w: Tensor) -> Tensor:
        data = w._data.copy()
        data[rows] = renormed_rows(data[rows], max_norm, norm_type)
        return Tensor._make(data)

    return inplace(
        input,
        lambda w: with_rule(_NO_RENORM, renorm, w, name="EmbeddingRenormBackward0"),
    )


_NO_RENORM = _NoRenormDerivative()


class _GradScale:
    """Identity whose gradient is multiplied by a constant (``scale_grad_by_freq``)."""

    def __repr__(self) -> str:  # a Python literal: printed IR parses, emitted source runs
        return "'grad_scale'"

    def vjp(self, g: Tensor, out: Tensor, inputs: Any, needs: tuple[bool, ...]) -> tuple:
        return (None, g * inputs[2] if needs[1] else None, None)


_GRAD_SCALE = _GradScale()


def _freq_scale(idx: Tensor, n: int, dtype: Any) -> Tensor:
    """(N, 1): 1 / (how often each looked-up row is looked up)."""
    flat = R.reshape(idx, (-1,))
    counts = R.index_add(zeros(n, dtype=dtype), 0, flat, ones(flat.shape[0], dtype=dtype))
    return R.unsqueeze(1.0 / counts[flat], -1)


def _rows(w: Tensor, flat: Tensor, scale: Tensor | None) -> Tensor:
    rows = w[flat]
    if scale is None:
        return rows
    return with_rule(_GRAD_SCALE, lambda r, s: r * 1, rows, scale)


def embedding(
    input: Tensor,
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """Rows of ``weight`` picked by ``input``; the ``padding_idx`` row receives no gradient."""
    _require_indices(input, "embedding")
    n = weight.shape[0]
    if padding_idx is not None:
        if padding_idx > 0 and padding_idx >= n:
            raise AssertionError("Padding_idx must be within num_embeddings")
        if padding_idx < 0:
            if padding_idx < -n:
                raise AssertionError("Padding_idx must be within num_embeddings")
            padding_idx += n
    _refuse_sparse(sparse, weight, "embedding")
    # checked when it runs, if traced (Note [run-time checks])
    idx = check(input, in_range(input, 0, n), IndexError, "index out of range in self")
    if max_norm is not None:
        _renorm(weight, idx, max_norm, norm_type)
    if sparse and weight.requires_grad and is_grad_enabled():  # (eager: _refuse_sparse)
        return embedding_sparse(idx, weight, padding_idx, scale_grad_by_freq)

    def decomposition(w: Tensor) -> Tensor:
        flat = R.reshape(idx, (-1,))
        scale = _freq_scale(idx, n, w.dtype) if scale_grad_by_freq else None
        rows = _rows(w, flat, scale)
        if padding_idx is not None:
            rows = R.where(R.unsqueeze(flat != padding_idx, -1), rows, rows.detach())
        return R.reshape(rows, (*idx.shape, w.shape[1]))

    return composite("EmbeddingBackward0", decomposition, weight)


# ---- embedding_bag -----------------------------------------------------------------------------
# Note [bags as index_add]
# Element i of the flat input belongs to bag b(i) = (number of bag starts <= i) - 1, computed
# with tensor ops from the offsets, so compiled code reads them at run time (with
# include_last_offset PyTorch's last bag still runs to the end of the input: the last offset is
# not read). Elements PyTorch skips (padding_idx) go to one extra bag that is dropped. sum:
# index_add of the (weighted) rows; mean: that sum over the bag's size; max: each column read
# from the bag's first maximal element (``_first_max``). Empty bags are zero, as PyTorch's.


def _bag_args(
    input: Tensor,
    weight: Tensor,
    offsets: Tensor | None,
    per_sample_weights: Tensor | None,
    include_last_offset: bool,
) -> tuple[Tensor, Tensor | None, Tensor | None, bool]:
    if per_sample_weights is not None and tuple(input.shape) != tuple(per_sample_weights.shape):
        raise ValueError(
            f"embedding_bag: If per_sample_weights ({per_sample_weights.shape}) is not None, "
            f"then it must have the same shape as the input ({input.shape})"
        )
    if weight.ndim != 2:
        raise ValueError(f"weight has to be a 2D Tensor, but got Tensor of dimension {weight.ndim}")
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError(
                "if input is 2D, then offsets has to be None, as input is treated is a "
                "mini-batch of fixed length sequences. However, found offsets of type "
                f"{_type_str(offsets)}"
            )
        psw = None if per_sample_weights is None else R.reshape(per_sample_weights, (-1,))
        return R.reshape(input, (-1,)), None, psw, False
    if input.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets.ndim != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        return input, offsets, per_sample_weights, include_last_offset
    raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.ndim}")


def _type_str(x: Any) -> str:
    return "<class 'torch.Tensor'>" if isinstance(x, Tensor) else str(type(x))


def _bags(
    flat: Tensor, offsets: Tensor | None, per_bag: int, last: bool
) -> tuple[Tensor, int, Tensor]:
    """Each element's bag (N,), the number of bags, and which elements count (N,)."""
    n = flat.shape[0]
    pos = np.arange(n)
    if offsets is None:
        bags = max(n // per_bag, 0) if per_bag else 0
        bag = Tensor._make(pos // max(per_bag, 1))
        return bag, bags, Tensor._make(np.ones(n, bool))
    starts = R.narrow(offsets, 0, 0, offsets.shape[0] - 1) if last else offsets
    bags = starts.shape[0]
    if bags == 0:
        return Tensor._make(np.zeros(n, np.int64)), 0, Tensor._make(np.zeros(n, bool))
    p = Tensor._make(pos.astype(np.int64))
    ge = R.unsqueeze(p, 1) >= R.unsqueeze(starts.long(), 0)  # (N, B)
    bag = R.sum(ge.long(), 1) - 1
    return R.clamp(bag, 0, None), bags, bag >= 0


def _check_offsets(offsets: Tensor, n: int, last: bool) -> Tensor:
    if offsets.shape[0] == 0:
        return offsets
    first = offsets[0]
    o = check(
        offsets,
        first == 0,
        RuntimeError,
        "offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start from "
        "position 0. However, got {}",
        detail=first,
    )
    end = offsets[-1]
    o = check(
        o,
        end <= n,
        RuntimeError,
        f"offsets[-1] can not be greater than input's length {n} but got offsets[-1] of {{}}",
        detail=end,
    )
    if offsets.shape[0] > 1:
        steps = R.narrow(offsets, 0, 1, offsets.shape[0] - 1) - R.narrow(
            offsets, 0, 0, offsets.shape[0] - 1
        )
        o = check(o, R.all(steps >= 0), RuntimeError, "offsets must be non-decreasing")
    return o


def embedding_bag(
    input: Tensor,
    weight: Tensor,
    offsets: Tensor | None = None,
    max_norm: float | None = None,
    norm_type: float = 2,
    scale_grad_by_freq: bool = False,
    mode: str = "mean",
    sparse: bool = False,
    per_sample_weights: Tensor | None = None,
    include_last_offset: bool = False,
    padding_idx: int | None = None,
) -> Tensor:
    """Sums, means or maxima of bags of ``weight`` rows (see Note [bags as index_add])."""
    if weight.dtype.name == "int64" and input.dtype.is_floating_point:
        warnings.warn(
            "Argument order of nn.functional.embedding_bag was changed. Usage "
            "`embedding_bag(weight, input, ...)` is deprecated, and should now be "
            "`embedding_bag(input, weight, ...)`.",
            UserWarning,
            stacklevel=2,
        )
        weight, input = input, weight
    per_bag = input.shape[1] if input.ndim == 2 else 0
    flat, offsets, psw, last = _bag_args(
        input, weight, offsets, per_sample_weights, include_last_offset
    )
    if mode not in _MODES:
        raise ValueError("mode has to be one of sum, mean or max")
    if mode == "max" and scale_grad_by_freq:
        raise ValueError("max mode does not support scaling the gradient by the frequency")
    if mode == "max" and sparse:
        raise ValueError("max mode does not support sparse weights")
    _require_indices(flat, "embedding_bag")
    n = weight.shape[0]
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise RuntimeError(
                f"padding_idx must be within the number of embeddings, -{n} through {n - 1}, "
                f"but got {padding_idx}"
            )
        padding_idx %= n
    _require_bag_weights(weight, psw)
    idx = _check_indices(flat, n)
    if max_norm is not None:
        _renorm(weight, idx, max_norm, norm_type)
    if psw is not None and mode != "sum":
        raise NotImplementedError(
            "embedding_bag: per_sample_weights was not None. per_sample_weights is only "
            f"supported for mode='sum' (got mode='{mode}'). Please open a feature request on "
            "GitHub."
        )
    _refuse_sparse(sparse, weight, "embedding_bag")
    if offsets is not None:
        offsets = _check_offsets(offsets, flat.shape[0], last)
    bag, bags, valid = _bags(idx, offsets, per_bag, last)
    if padding_idx is not None:
        valid = R.logical_and(valid, idx != padding_idx)
    target = R.where(valid, bag, bags)  # skipped elements go to the extra bag
    extra = (psw,) if psw is not None else ()

    def decomposition(w: Tensor, *p: Tensor) -> Tensor:
        scale = _freq_scale(idx, n, w.dtype) if scale_grad_by_freq else None
        rows = _rows(w, idx, scale)
        d = w.shape[1]
        if mode == "max":
            return _first_max(rows, target, bags)
        if p:
            rows = rows * R.unsqueeze(p[0], 1)
        out = R.index_add(zeros(bags + 1, d, dtype=w.dtype), 0, target, rows)
        out = R.narrow(out, 0, 0, bags)
        if mode == "sum":
            return out
        each = ones(target.shape[0], dtype=w.dtype)
        size = R.narrow(R.index_add(zeros(bags + 1, dtype=w.dtype), 0, target, each), 0, 0, bags)
        return out / R.unsqueeze(R.clamp(size, 1, None), 1)

    if sparse and weight.requires_grad and is_grad_enabled():  # (eager: _refuse_sparse)
        out = composite("EmbeddingBagBackward0", decomposition, weight.detach(), *extra)
        return embedding_bag_sparse(out, weight, idx, target, bags, mode, psw, scale_grad_by_freq)
    return composite("EmbeddingBagBackward0", decomposition, weight, *extra)


def _first_max(rows: Tensor, target: Tensor, bags: int) -> Tensor:
    """Each bag's column maxima, read from the bag's first maximal element (PyTorch's kernel
    keeps the first of equal values, and its gradient goes there alone); empty bags are 0."""
    n, d = rows.shape
    if n == 0:  # (zeros with a history, as PyTorch's)
        return R.narrow(
            R.index_add(zeros(bags + 1, d, dtype=rows.dtype), 0, target, rows), 0, 0, bags
        )
    index = R.expand(R.unsqueeze(target, 1), (n, d))
    values = rows.detach()
    init = zeros(bags + 1, d, dtype=rows.dtype)
    top = R.scatter_reduce(init, 0, index, values, "amax", include_self=False)
    pos = R.expand(R.unsqueeze(Tensor._make(np.arange(n, dtype=np.int64)), 1), (n, d))
    candidate = R.where(values == top[target], pos, n)
    none = Tensor._make(np.full((bags + 1, d), n, np.int64))
    first = R.narrow(R.scatter_reduce(none, 0, index, candidate, "amin"), 0, 0, bags)
    picked = R.gather(rows, 0, R.clamp(first, 0, n - 1))
    return R.where(first < n, picked, 0.0)


def _check_indices(flat: Tensor, n: int) -> Tensor:
    """PyTorch's message names the first bad position and its value (eagerly, or when the
    compiled program runs: Note [run-time checks])."""
    if not traced(flat):
        bad = np.nonzero((flat._data < 0) | (flat._data >= n))[0]
        if len(bad):
            i = int(bad[0])
            raise RuntimeError(
                f"Index {i} of input takes value {int(flat._data[i])} which is not in the "
                f"valid range [0, {n})"
            )
        return flat
    message = (
        f"Index {{position}} of input takes value {{}} which is not in the valid range [0, {n})"
    )
    return check(flat, in_range(flat, 0, n), RuntimeError, message, detail=flat)
