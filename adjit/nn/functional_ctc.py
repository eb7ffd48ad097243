"""ctc_loss: the CTC alpha recursion and PyTorch's alpha-beta gradient, eager (NumPy).

Note [ctc_loss as PyTorch's CPU kernel]
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
PyTorch (aten/src/ATen/native/LossCTC.cpp) runs the recursion over the extended labels
l' = (blank, l_0, blank, l_1, ..., blank) in log space, in the log_probs' own dtype (float32
stays float32), combining the up to three predecessors as ``log(sum(exp(a_i - m))) + m`` with
``m`` their maximum (0 when all are -inf). Here the same recursion runs for the whole batch and
all of l' at once per time step, with masks for each sample's input and target length. The
gradient (``ctc_loss_backward``) is with respect to log_probs as given (no softmax is assumed):
``(exp(lp) - exp(log(sum over s with l'_s = c of alpha_t(s) beta_t(s)) + nll - lp)) * g``, zero
after each sample's input length, and zero for a sample with an infinite loss when
zero_infinity is set (otherwise such a sample's gradient is NaN, as in PyTorch). The lengths
are data, so the op runs in NumPy: inside ``adjit.compile`` a graph break (fullgraph: an error).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from adjit.ir import dtypes as D
from adjit.runtime import functional as R
from adjit.runtime.autocast import autocast_op
from adjit.runtime.checks import run_eagerly
from adjit.runtime.dispatch import with_rule
from adjit.runtime.tensor import Tensor

__all__ = ["ctc_loss"]

_CHECKED = "(while checking arguments for ctc_loss_allocate_outputs)"
_SIGNATURES = (
    ("tuple of ints input_lengths", "tuple of ints target_lengths"),
    ("Tensor input_lengths", "Tensor target_lengths"),
)
_REDUCTIONS = ("none", "mean", "sum")


# ---- arguments ---------------------------------------------------------------------------------
def _type_text(v: Any, detail: bool) -> str:
    """How PyTorch's argument parser names a Python value's type in its error message (the
    elements of a sequence in its per-signature lines)."""
    if isinstance(v, Tensor):
        return "Tensor"
    if detail and isinstance(v, tuple):
        return f"tuple of ({', '.join(type(e).__name__ for e in v)})"
    if detail and isinstance(v, list):
        return f"list of [{', '.join(type(e).__name__ for e in v)}]"
    return type(v).__name__


def _is_int_list(v: Any) -> bool:
    ints = all(isinstance(e, (int, np.integer)) and not isinstance(e, bool) for e in v)
    return isinstance(v, (tuple, list)) and ints


def _bad_arguments(*args: Any) -> TypeError:
    """PyTorch's "invalid combination of arguments" for (log_probs, targets, input_lengths,
    target_lengths): each is marked ``!x!`` where it does not fit (the lengths always, in the
    int-list signature), and the trailing int, int, bool always are."""
    got = ", ".join([*(_type_text(v, False) for v in args), "int, int, bool"])
    lines = []
    for kind, (il_name, tl_name) in zip(("list", "tensor"), _SIGNATURES, strict=True):
        marked = [
            _type_text(v, True)
            if isinstance(v, Tensor) and (k < 2 or kind == "tensor")
            else f"!{_type_text(v, True)}!"
            for k, v in enumerate(args)
        ]
        lines.append(
            f" * (Tensor log_probs, Tensor targets, {il_name}, {tl_name}, int blank = 0, int "
            "reduction = at::Reduction::Mean, bool zero_infinity = False)\n      didn't match "
            f"because some of the arguments have invalid types: ({', '.join(marked)}, !int!, "
            "!int!, !bool!)\n"
        )
    return TypeError(
        f"ctc_loss() received an invalid combination of arguments - got ({got}), "
        "but expected one of:\n" + "".join(lines)
    )


def _lengths(
    log_probs: Any, targets: Any, input_lengths: Any, target_lengths: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Both lengths as int64 arrays: two tensors of an integer type, or two lists of ints."""
    pair = (input_lengths, target_lengths)
    if not (isinstance(log_probs, Tensor) and isinstance(targets, Tensor)):
        raise _bad_arguments(log_probs, targets, *pair)
    if all(isinstance(v, Tensor) for v in pair):
        for v, name in zip(pair, ("input_lengths", "target_lengths"), strict=True):
            if v.dtype.is_floating_point or v.dtype.is_complex or v.dtype is D.bool_:
                raise RuntimeError(f"{name} must be integral")
        return tuple(np.asarray(v._data, np.int64).reshape(-1) for v in pair)  # type: ignore
    if all(_is_int_list(v) for v in pair):
        return tuple(np.asarray(v, np.int64).reshape(-1) for v in pair)  # type: ignore
    raise _bad_arguments(log_probs, targets, *pair)


def _dim_error(got: int, expected: str, arg: str) -> RuntimeError:
    return RuntimeError(
        f"Expected {expected}, but got {got}-dimensional tensor for {arg} {_CHECKED}"
    )


def _size_error(expected: str, dim: int, got: int) -> RuntimeError:
    return RuntimeError(
        f"Expected tensor to have size {expected} at dimension {dim}, but got size {got} for "
        f"argument #2 'targets' {_CHECKED}"
    )


def _value_check(values: np.ndarray, name: str, limit: int | None = None) -> None:
    for v in values.tolist():
        if v < 0:
            raise RuntimeError(
                f"Expected {name} to have value at least 0, but got value {v} {_CHECKED}"
            )
        if limit is not None and v > limit:
            raise RuntimeError(
                f"Expected {name} to have value at most {limit}, but got value {v} {_CHECKED}"
            )


def _extended_labels(
    targets: np.ndarray, tl: np.ndarray, blank: int, num_labels: int
) -> np.ndarray:
    """l' per sample, (N, 2 * max(tl) + 1), padded with blanks past each sample's 2 tl + 1;
    ``targets`` checked against the layouts' sizes as PyTorch checks them."""
    n = tl.shape[0]
    _value_check(tl, "target_lengths")
    s_max = int(tl.max()) if n else 0
    if targets.ndim == 1:  # concatenated
        total = int(tl.sum())
        if targets.shape[0] != total:
            raise _size_error(str(total), 0, targets.shape[0])
        starts = np.concatenate([[0], np.cumsum(tl)[:-1]]).astype(np.int64)
        pos = starts[:, None] + np.arange(s_max)[None, :]
        inside = np.arange(s_max)[None, :] < tl[:, None]
        labels = np.where(inside, targets[np.where(inside, pos, 0)] if total else 0, blank)
    else:
        if targets.shape[0] != n:
            raise _size_error(str(n), 0, targets.shape[0])
        if targets.shape[1] < s_max:
            raise _size_error(f"at least {s_max}", 1, targets.shape[1])
        inside = np.arange(s_max)[None, :] < tl[:, None]
        labels = np.where(inside, targets[:, :s_max], blank)
    bad = inside & ((labels < 0) | (labels >= num_labels))
    if bad.any():  # PyTorch reads out of bounds here: refuse instead of a garbage loss
        raise IndexError(
            f"ctc_loss: target {int(labels[bad][0])} is out of bounds for {num_labels} classes"
        )
    ext = np.full((n, 2 * s_max + 1), blank, np.int64)
    ext[:, 1::2] = labels
    return ext


# ---- the recursions ----------------------------------------------------------------------------
def _log_add3(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    m = np.maximum(np.maximum(a, b), c)
    m = np.where(m == -np.inf, np.zeros((), m.dtype), m)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.log(np.exp(a - m) + np.exp(b - m) + np.exp(c - m)) + m


def _shift(x: np.ndarray, k: int, mask: np.ndarray) -> np.ndarray:
    """``x[..., s - k]`` (``s + k`` for negative ``k``) where ``mask``, -inf elsewhere."""
    out = np.full_like(x, -np.inf)
    if k > 0:
        out[..., k:] = x[..., :-k]
    else:
        out[..., :k] = x[..., -k:]
    return np.where(mask, out, -np.inf)


class _Problem:
    """One batch: log_probs (T, N, C), l' (N, L), the lengths and the per-step gathers."""

    def __init__(self, lp: np.ndarray, ext: np.ndarray, il: np.ndarray, tl: np.ndarray) -> None:
        self.lp, self.ext, self.il, self.tl = lp, ext, il, tl
        n, width = ext.shape
        s = np.arange(width)[None, :]
        self.valid = s <= 2 * tl[:, None]  # l' positions of each sample
        same2 = np.zeros_like(self.valid)
        same2[:, 2:] = ext[:, 2:] == ext[:, :-2]
        self.skip_from = (s > 1) & ~same2  # alpha: s may come from s - 2
        skip_to = np.zeros_like(self.valid)
        skip_to[:, :-2] = ~same2[:, 2:]
        self.skip_to = skip_to & (s < 2 * tl[:, None] - 1)  # beta: s may come from s + 2
        # lp at each step for each l' position: (T, N, L)
        self.lp_ext = np.take_along_axis(lp, np.broadcast_to(ext[None], (lp.shape[0], n, width)), 2)

    def alpha(self) -> np.ndarray:
        lp, il = self.lp_ext, self.il
        t_max, n, width = lp.shape
        alpha = np.full((t_max, n, width), -np.inf, lp.dtype)
        alpha[0, :, 0] = lp[0, :, 0]
        if width > 1:
            alpha[0, :, 1] = np.where(self.tl > 0, lp[0, :, 1], -np.inf)
        s_pos = np.arange(width)[None, :] > 0
        for t in range(1, t_max):
            prev = alpha[t - 1]
            new = _log_add3(prev, _shift(prev, 1, s_pos), _shift(prev, 2, self.skip_from))
            live = ((t < il)[:, None]) & self.valid
            alpha[t] = np.where(live, new + lp[t], -np.inf)
        return alpha

    def nll(self, alpha: np.ndarray) -> np.ndarray:
        n = self.il.shape[0]
        rows = np.arange(n)
        last = alpha[np.maximum(self.il - 1, 0), rows]  # (N, L)
        l1 = last[rows, 2 * self.tl]
        l2 = np.where(self.tl > 0, last[rows, np.maximum(2 * self.tl - 1, 0)], -np.inf)
        m = np.maximum(l1, l2)
        m = np.where(m == -np.inf, np.zeros((), m.dtype), m)
        with np.errstate(divide="ignore", invalid="ignore"):
            ll = np.log(np.exp(l1 - m) + np.exp(l2 - m)) + m
        empty = np.where(self.tl == 0, np.zeros((), ll.dtype), -np.inf).astype(ll.dtype)
        return -np.where(self.il == 0, empty, ll)

    def beta(self) -> np.ndarray:
        lp, il, tl = self.lp_ext, self.il, self.tl
        t_max, n, width = lp.shape
        beta = np.full((t_max, n, width), -np.inf, lp.dtype)
        s = np.arange(width)[None, :]
        start = (s == 2 * tl[:, None]) | ((s == 2 * tl[:, None] - 1) & (tl[:, None] > 0))
        s_before_end = s < 2 * tl[:, None]
        for t in range(t_max - 1, -1, -1):
            first = ((t == il - 1)[:, None]) & start
            if t < t_max - 1:
                nxt = beta[t + 1]
                new = _log_add3(nxt, _shift(nxt, -1, s_before_end), _shift(nxt, -2, self.skip_to))
                inner = ((t < il - 1)[:, None]) & self.valid
                beta[t] = np.where(inner, new + lp[t], -np.inf)
            beta[t] = np.where(first, lp[t], beta[t])
        return beta

    def grad(self, alpha: np.ndarray, nll: np.ndarray, g: np.ndarray, zero_inf: bool) -> np.ndarray:
        """PyTorch's ctc_loss_backward: Note [ctc_loss as PyTorch's CPU kernel]."""
        lp = self.lp
        t_max, n, c = lp.shape
        ab = alpha + self.beta()  # (T, N, L)
        index = (np.arange(n)[:, None] * c + self.ext)[None] + (np.arange(t_max) * n * c)[
            :, None, None
        ]
        index = np.broadcast_to(index, ab.shape).ravel()
        m = np.full(t_max * n * c, -np.inf, lp.dtype)
        np.maximum.at(m, index, ab.ravel())
        m = np.where(m == -np.inf, np.zeros((), m.dtype), m)
        total = np.zeros(t_max * n * c, lp.dtype)
        with np.errstate(invalid="ignore", over="ignore"):
            np.add.at(total, index, np.exp(ab.ravel() - m[index]))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            collected = (np.log(total) + m).reshape(t_max, n, c)
            out = (np.exp(lp) - np.exp(collected + nll[None, :, None] - lp)) * g[None, :, None]
        keep = np.arange(t_max)[:, None] < self.il[None, :]
        if zero_inf:
            keep = keep & (nll != np.inf)[None, :]
        return np.where(keep[:, :, None], out, np.zeros((), lp.dtype)).astype(lp.dtype)


class _CtcRule:
    """ctc_loss's derivative (w.r.t. log_probs) from the forward's alpha and losses; the
    gradient it gives has no derivative of its own (PyTorch's _ctc_loss_backward has none)."""

    def __init__(self, problem: _Problem, alpha: np.ndarray, nll: np.ndarray, zero_inf: bool):
        self.problem, self.alpha, self.nll, self.zero_inf = problem, alpha, nll, zero_inf

    def __repr__(self) -> str:
        return "ctc_loss"

    def vjp(self, g: Tensor, out: Tensor, inputs: Any, needs: tuple[bool, ...]) -> tuple:
        if not needs[1]:
            return (None, None)
        lp_t = inputs[1]
        data = self.problem.grad(self.alpha, self.nll, np.asarray(g._data), self.zero_inf)
        grad = Tensor._make(data)
        return (None, with_rule(_NO_SECOND, lambda *ts: grad, g, lp_t, name="NotImplemented"))


class _NotTwice:
    def __repr__(self) -> str:
        return "_ctc_loss_backward"

    def vjp(self, g: Tensor, out: Tensor, inputs: Any, needs: tuple[bool, ...]) -> tuple:
        raise RuntimeError("derivative for aten::_ctc_loss_backward is not implemented")


_NO_SECOND = _NotTwice()


# ---- the function ------------------------------------------------------------------------------
@autocast_op("ctc_loss")
def ctc_loss(
    log_probs: Tensor,
    targets: Tensor,
    input_lengths: Any,
    target_lengths: Any,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
) -> Tensor:
    """The Connectionist Temporal Classification loss: Note [ctc_loss as PyTorch's CPU kernel]."""
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    why = "ctc_loss: the recursion's extent depends on the input and target lengths' values"
    args = (log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity)
    return run_eagerly(f"{why}; call it outside adjit.compile", why, _ctc_loss, *args)


def _ctc_loss(
    log_probs: Tensor,
    targets: Tensor,
    input_lengths: Any,
    target_lengths: Any,
    blank: int,
    reduction: str,
    zero_infinity: bool,
) -> Tensor:
    il, tl = _lengths(log_probs, targets, input_lengths, target_lengths)
    batched = log_probs.ndim == 3
    lp_t = log_probs if batched else R.unsqueeze(log_probs, 1)
    if lp_t.dtype not in (D.float32, D.float64):
        raise NotImplementedError(f"\"ctc_loss_cpu\" not implemented for '{lp_t.dtype.type_name}'")
    if lp_t.numel() == 0:
        raise RuntimeError("log_probs tensor must not be empty")
    if lp_t.ndim != 3:
        raise _dim_error(lp_t.ndim, "3-dimensional tensor", "argument #1 'log_probs'")
    if not 1 <= targets.ndim <= 2:
        raise _dim_error(targets.ndim, "1 to 2 dimensions", "argument #2 'targets'")
    t_max, n, c = lp_t.shape
    if not 0 <= blank < c:
        raise RuntimeError("blank must be in label range")
    for v, name in ((il, "input_lengths"), (tl, "target_lengths")):
        if v.shape[0] != n:
            raise RuntimeError(f"{name} must be of size batch_size")
    tg = np.asarray(targets._data).astype(np.int64)
    ext = _extended_labels(tg, tl, blank, c)
    _value_check(il, "input_lengths", t_max)
    lp = np.ascontiguousarray(np.asarray(lp_t._data))
    problem = _Problem(lp, ext, il, tl)
    alpha = problem.alpha()
    nll = problem.nll(alpha).astype(lp.dtype)
    rule = _CtcRule(problem, alpha, nll, zero_infinity)
    res = with_rule(rule, lambda *ts: Tensor._make(nll), lp_t, name="CtcLossBackward0")
    if zero_infinity:
        res = R.where(res == float("inf"), Tensor._make(np.zeros((), lp.dtype)), res)
    if reduction == "mean":
        lengths = Tensor._make(np.maximum(tl, 1).astype(lp.dtype))
        return R.mean(res / lengths)
    if reduction == "sum":
        return R.sum(res)
    return res if batched else R.squeeze(res, 0)
