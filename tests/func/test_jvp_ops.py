"""Every op-table row through ``jvp``: against float64 finite differences, against the VJP
transposed (<u, J t> == <J^T u, t>, J^T u from adjit's reverse mode) and against
torch.func.jvp."""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import pytest
from adjit.frontend.jvp import jvp
from jvp_rows import Row, rows

import adjit

torch = pytest.importorskip("torch")

ROWS = [r for r in rows() if any(r.diff) and r.traceable]

# Central differences of a float64 function along t with EPS = 1e-6: truncation EPS**2 f'''/6
# ~ 1e-12, rounding ~ 1e-16 |f| / EPS ~ 1e-10: exact directional derivatives agree to ~1e-8;
# RTOL/ATOL leave two orders of headroom (as tests/runtime/test_ops_gradients.py) and still
# catch any wrong rule (an O(1) error).
EPS = 1e-6
RTOL, ATOL = 1e-5, 1e-6


def _rng(row: Row, salt: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32((row.name + salt).encode()))


def _flat(result: Any) -> list[Any]:
    if isinstance(result, tuple | list):
        return [t for r in result for t in _flat(r)]
    return [result]


def _split(row: Row, T: Any = adjit) -> tuple[list[Any], Any]:
    """The differentiated tensors, and f taking them (the other arguments fixed)."""
    tensors = [T.from_numpy(np.array(a)) for a in row.arrays]
    diff = [t for t, d in zip(tensors, row.diff, strict=True) if d]

    def f(*xs: Any) -> Any:
        it = iter(xs)
        args = [next(it) if d else t for t, d in zip(tensors, row.diff, strict=True)]
        outs = _flat(row.fn(T, *args))
        return tuple(o for o in outs if o.dtype.is_floating_point)

    return diff, f


def _tangents(row: Row, xs: list[Any], T: Any = adjit) -> list[Any]:
    rng = _rng(row, "t")
    return [T.from_numpy(rng.uniform(-1, 1, tuple(x.shape))).to(x.dtype) for x in xs]


_JVPS: dict[str, Any] = {}


def _jvp(row: Row, f: Any, xs: list[Any], ts: list[Any]) -> Any:
    """``jvp(f, xs, ts)``, once per row (three tests read it)."""
    if row.name not in _JVPS:
        _JVPS[row.name] = jvp(f, tuple(xs), tuple(ts))
    return _JVPS[row.name]


def _setup(row: Row) -> tuple[Any, list[Any], list[Any]]:
    xs, f = _split(row)
    with adjit.no_grad():
        if not f(*xs):
            pytest.skip("no float output")
    return f, xs, _tangents(row, xs)


def _reverse(f: Any, xs: list[Any], us: list[np.ndarray]) -> list[Any]:
    """J^T u from adjit's reverse mode (None for an input no output depends on)."""
    leaves = [x.detach().requires_grad_() for x in xs]
    ys = f(*leaves)
    keep = [k for k, y in enumerate(ys) if y.requires_grad]
    if not keep:
        return [None] * len(leaves)
    cts = [adjit.from_numpy(us[k]).to(ys[k].dtype) for k in keep]
    return list(adjit.autograd.grad([ys[k] for k in keep], leaves, cts, allow_unused=True))


NON_FINITE = {"ops:pow-zero-base", "ops:where-untaken-nan", "sort:scatter_reduce-amax-nan"}


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.name)
def test_jvp_transposes_vjp(row: Row) -> None:
    f, xs, ts = _setup(row)
    with adjit.no_grad():
        shapes = [tuple(o.shape) for o in f(*xs)]
    rng = _rng(row, "u")
    us = [rng.uniform(-1, 1, s) for s in shapes]
    try:
        grads = _reverse(f, xs, us)
    except RuntimeError as e:  # (PyTorch has no derivative: forward mode refuses alike)
        with pytest.raises(RuntimeError, match=str(e)[:40]):
            jvp(f, tuple(xs), tuple(ts))
        return
    outs, jts = _jvp(row, f, xs, ts)
    direct = f(*xs)
    for o, d in zip(outs, direct, strict=True):  # the value is f's
        np.testing.assert_allclose(o.numpy(), d.detach().numpy(), rtol=1e-12, atol=1e-12)
    terms = [u * jt.numpy().astype(np.float64) for u, jt in zip(us, jts, strict=True)]
    back = [g.numpy() * t.numpy() for g, t in zip(grads, ts, strict=True) if g is not None]
    lhs = sum(float(np.sum(x)) for x in terms)
    rhs = sum(float(np.sum(x)) for x in back)
    if not (np.isfinite(lhs) and np.isfinite(rhs)):
        # an infinite slope (0 ** 0.5), or reverse mode's NaN from an untaken where branch
        # (PyTorch's too): the identity has no meaning there; test_jvp_vs_torch compares them
        assert row.name in NON_FINITE, (lhs, rhs)
        return
    # the same products summed in another order, each rounded in the values' dtype: a few
    # hundred ulps of the terms' magnitudes bound it (float32 rows round at 1.2e-7)
    scale = sum(float(np.sum(np.abs(x))) for x in terms + back)
    eps = max([np.finfo(o.numpy().dtype).eps for o in outs] + [np.finfo(np.float64).eps])
    assert abs(lhs - rhs) <= 256 * eps * max(scale, 1.0), (lhs, rhs)


@pytest.mark.parametrize("row", [r for r in ROWS if r.smooth], ids=lambda r: r.name)
def test_jvp_vs_finite_differences(row: Row) -> None:
    f, xs, ts = _setup(row)
    if any(x.dtype is not adjit.float64 for x in xs):
        pytest.skip("finite differences need float64 inputs")
    try:
        _, jts = _jvp(row, f, xs, ts)
    except RuntimeError as e:
        assert "not implemented" in str(e)  # (heaviside: none in PyTorch either)
        return
    with adjit.no_grad():
        hi = f(*[x + EPS * t for x, t in zip(xs, ts, strict=True)])
        lo = f(*[x - EPS * t for x, t in zip(xs, ts, strict=True)])
    for h, lw, jt in zip(hi, lo, jts, strict=True):
        if h.dtype is not adjit.float64:
            continue
        fd = (h.numpy() - lw.numpy()) / (2 * EPS)
        ok = np.isfinite(fd) & np.isfinite(h.numpy()) & np.isfinite(lw.numpy())
        np.testing.assert_allclose(jt.numpy()[ok], fd[ok], rtol=RTOL, atol=ATOL)


# Rows where PyTorch's forward formula disagrees with its own reverse mode (its <u, J t> !=
# <J^T u, t>, asserted below) and with finite differences, while adjit's JVP is the transpose of
# its VJP (which matches PyTorch's reverse mode): logcumsumexp's forward loses the first
# element's tangent at a large spread, cholesky_inverse's and triangular_solve's use the
# tangent's unused triangle, median's sends NaN where its reverse picks the NaN's index,
# scatter_reduce's prod gives 0 and amax/amin give ties the whole tangent (reverse: shared).
TORCH_FORWARD_INCONSISTENT = {
    "reduction:logcumsumexp-spread",
    "reduction:median-nan",
    "sort:median-edges",
    "sort:scatter_reduce-prod-self",
    "sort:scatter_reduce-prod-noself",
    "sort:scatter_reduce-prod-dim1",
    "sort:scatter_reduce-amax-noself",
    "sort:scatter_reduce-amin-noself",
    "linalg:cholesky_inverse",
    "linalg:cholesky_inverse-upper",
    "linalg:triangular_solve",
}
# ties: scatter_reduce's amax with a NaN elsewhere (PyTorch's own check is NaN there, the tie
# rule is the one measured on amax-noself); sort rows whose ties PyTorch breaks in another
# (unspecified) order, so the selected element's tangent differs (exact_indices=False rows)
TIES = {"sort:scatter_reduce-amax-nan", "sort:topk-ties", "sort:kthvalue-ties", "sort:mode-nans"}


def _torch_defect(row: Row) -> float:
    """|<u, J t> - <J^T u, t>| of PyTorch's own forward and reverse modes, relative."""
    xs, f = _split(row, torch)
    ts = _tangents(row, xs, torch)
    outs, jts = torch.func.jvp(f, tuple(xs), tuple(ts))
    rng = _rng(row, "u")
    us = [torch.from_numpy(rng.uniform(-1, 1, tuple(o.shape))) for o in outs]
    leaves = [x.detach().requires_grad_() for x in xs]
    gs = torch.autograd.grad(f(*leaves), leaves, us, allow_unused=True)
    lhs = sum(float((u * j).sum()) for u, j in zip(us, jts, strict=True))
    rhs = sum(float((g * t).sum()) for g, t in zip(gs, ts, strict=True) if g is not None)
    return abs(lhs - rhs) / max(abs(lhs), abs(rhs), 1e-300)


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.name)
def test_jvp_vs_torch(row: Row) -> None:
    f, xs, ts = _setup(row)
    if row.name in TIES:
        pytest.skip("ties broken differently (see TIES)")
    if row.name in TORCH_FORWARD_INCONSISTENT:
        assert not _torch_defect(row) <= 1e-3  # PyTorch's forward is not its reverse transposed
        return
    txs, tf = _split(row, torch)
    tts = [torch.from_numpy(t.numpy()) for t in ts]
    try:
        want = torch.func.jvp(tf, tuple(txs), tuple(tts))
    except (RuntimeError, NotImplementedError) as e:  # (no forward formula in PyTorch)
        pytest.skip(f"torch.func.jvp: {str(e)[:80]}")
    _, jts = _jvp(row, f, xs, ts)
    for got, w in zip(jts, want[1], strict=True):
        w = w.detach().numpy(force=True)
        assert got.dtype.itemsize == w.dtype.itemsize
        # the same derivative by other formulas (PyTorch's forward ones, adjit's transposed
        # reverse ones): their rounding differs by a few thousand ulps at most in these rows
        tol = 1e-9 if w.dtype == np.float64 else 1e-4
        np.testing.assert_allclose(got.numpy(), w, rtol=tol, atol=tol)
