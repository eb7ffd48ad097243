"""``autograd.forward_ad`` side by side with torch.autograd.forward_ad: the API and its errors,
every op-table row on dual tensors (vs PyTorch's forward AD and vs adjit.func's traced JVP),
in-place ops, reverse over forward and forward over reverse."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import adjit
import adjit.autograd.forward_ad as fwAD

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "func"))
from jvp_rows import Row, rows  # noqa: E402
from test_jvp_ops import TIES, TORCH_FORWARD_INCONSISTENT, _jvp, _split, _tangents  # noqa: E402

torch = pytest.importorskip("torch")
tfw = torch.autograd.forward_ad

RNG = np.random.default_rng(3)
X = RNG.standard_normal((3, 4))
T = RNG.standard_normal((3, 4))


def _fw(L: Any) -> Any:
    return fwAD if L is adjit else tfw


# ---- the API ------------------------------------------------------------------------------------
def test_dual_roundtrip_and_level_end() -> None:
    for L in (adjit, torch):
        fw = _fw(L)
        with fw.dual_level() as level:
            assert level == 0
            d = fw.make_dual(L.from_numpy(X.copy()), L.from_numpy(T.copy()))
            u = fw.unpack_dual(d * 2)
            assert type(u).__name__ == "UnpackedDualTensor" and u._fields == ("primal", "tangent")
            np.testing.assert_allclose(u.tangent.numpy(), 2 * T)
            assert fw.unpack_dual(L.from_numpy(X)).tangent is None
            assert fw.unpack_dual(d.detach()).tangent is None
            assert fw.unpack_dual(d.argmax()).tangent is None
            assert fw.unpack_dual(L.zeros_like(d)).tangent is None
            primal = fw.unpack_dual(d).primal
            assert fw.unpack_dual(primal).tangent is None
        assert fw.unpack_dual(d).tangent is None  # exiting the level drops every tangent


ERRORS: dict[str, Any] = {
    "no-level": lambda L, fw: fw.make_dual(L.from_numpy(X), L.from_numpy(T)),
    "exit-without-level": lambda L, fw: fw.exit_dual_level(),
}
IN_LEVEL: dict[str, Any] = {
    "size": lambda L, fw: fw.make_dual(L.from_numpy(X), L.zeros(4)),
    "int-primal": lambda L, fw: fw.make_dual(L.arange(3), L.zeros(3)),
    "int-tangent": lambda L, fw: fw.make_dual(L.zeros(3), L.arange(3)),
    "nested": lambda L, fw: fw.enter_dual_level(),
    "dual-of-dual": lambda L, fw: fw.make_dual(
        fw.make_dual(L.from_numpy(X), L.from_numpy(T)), L.from_numpy(T)
    ),
    "exit-other-level": lambda L, fw: fw.exit_dual_level(level=3),
}


@pytest.mark.parametrize("name", list(ERRORS) + list(IN_LEVEL))
def test_errors_as_torch(name: str) -> None:
    found = []
    for L in (torch, adjit):
        fw = _fw(L)
        with pytest.raises(Exception) as e:
            if name in ERRORS:
                ERRORS[name](L, fw)
            else:
                with fw.dual_level():
                    IN_LEVEL[name](L, fw)
        found.append((type(e.value), str(e.value)))
    assert found[0] == found[1]


def test_in_place_ops_carry_tangents() -> None:
    got = []
    for L in (adjit, torch):
        fw = _fw(L)
        with fw.dual_level():
            d = fw.make_dual(L.from_numpy(X.copy()), L.from_numpy(T.copy()))
            d.mul_(d * 0.5 + 1)
            d[0] = 5.0
            d[1:, :2] = d[1:, :2] + d[:2, 2:]
            d.clamp_(-1.0, 1.0)
            got.append((d.detach().numpy().copy(), fw.unpack_dual(d).tangent.numpy().copy()))
    np.testing.assert_allclose(got[0][0], got[1][0], rtol=1e-15)
    np.testing.assert_allclose(got[0][1], got[1][1], rtol=1e-14)
    with fwAD.dual_level():  # in place on a view of a dual tensor: refused, not stale
        d = fwAD.make_dual(adjit.from_numpy(X.copy()), adjit.from_numpy(T.copy()))
        with pytest.raises(NotImplementedError, match="view of a dual tensor"):
            d[1:, :2] += d[:2, 2:]


def test_reverse_over_forward_and_forward_over_reverse() -> None:
    def f(L: Any, x: Any) -> Any:
        return (x.exp() + x.tanh() * x.sigmoid().sqrt()).sum() ** 2

    found = []
    for L in (adjit, torch):
        fw = _fw(L)
        x = L.from_numpy(X.copy()).requires_grad_()
        with fw.dual_level():
            d = fw.make_dual(x, L.from_numpy(T.copy()))
            y = f(L, d)
            (g,) = L.autograd.grad(y, d, create_graph=True)  # forward over reverse: H t
            hv = fw.unpack_dual(g).tangent
            (rf,) = L.autograd.grad(fw.unpack_dual(y).tangent, x)  # reverse over forward
        found.append((hv.detach().numpy(), rf.numpy()))
    np.testing.assert_allclose(found[0][0], found[1][0], rtol=1e-12)
    np.testing.assert_allclose(found[0][1], found[1][1], rtol=1e-12)


def test_compiled_function_on_dual_tensors_runs_eagerly() -> None:
    fn = adjit.compile(lambda x: (x.sin() * x).sum(0))
    with fwAD.dual_level():
        d = fwAD.make_dual(adjit.from_numpy(X), adjit.from_numpy(T))
        t = fwAD.unpack_dual(fn(d)).tangent
        with pytest.raises(NotImplementedError, match="dual tensor"):
            adjit.compile(lambda y: y + d)(adjit.from_numpy(X))
    np.testing.assert_allclose(t.numpy(), ((np.cos(X) * X + np.sin(X)) * T).sum(0), rtol=1e-14)


# ---- every op-table row on dual tensors ---------------------------------------------------------
ROWS = [r for r in rows() if any(r.diff)]


def _eager(row: Row, L: Any) -> list[Any]:
    """The row's float outputs' tangents, computed on dual tensors."""
    fw = _fw(L)
    xs, f = _split(row, L)
    ts = _tangents(row, xs, L)
    with fw.dual_level():
        outs = f(*[fw.make_dual(x, t) for x, t in zip(xs, ts, strict=True)])
        found = [fw.unpack_dual(o).tangent for o in outs]
    return [None if t is None else t.detach().numpy(force=True) for t in found]


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.name)
def test_rows_on_dual_tensors(row: Row) -> None:
    xs, f = _split(row)
    with adjit.no_grad():
        if not f(*xs):
            pytest.skip("no float output")
    try:
        got = _eager(row, adjit)
    except RuntimeError as e:  # (heaviside, histogram: PyTorch has no derivative either)
        assert "not implemented" in str(e)
        with pytest.raises(RuntimeError, match="forward AD with aten::.* does not support it"):
            _eager(row, torch)
        return
    if row.traceable:  # the traced JVP (tested against finite differences): the same rules
        _, traced = _jvp(row, f, xs, _tangents(row, xs))
        for g, t in zip(got, traced, strict=True):
            want = t.numpy() if g is not None else np.zeros(t.shape)
            tol = 1e-9 if want.dtype == np.float64 else 1e-4
            np.testing.assert_allclose(0 if g is None else g, want, rtol=tol, atol=tol)
    if row.name in TIES or row.name in TORCH_FORWARD_INCONSISTENT:
        return  # (PyTorch's forward differs there: tests/func/test_jvp_ops.py)
    try:
        want = _eager(row, torch)
    except (RuntimeError, NotImplementedError):
        return  # (no forward formula in PyTorch)
    for g, w in zip(got, want, strict=True):
        if w is None or g is None:
            assert g is None or not np.any(g), row.name  # no tangent: zero
            continue
        tol = 1e-9 if w.dtype == np.float64 else 1e-4
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


def test_dual_tensors_print_their_tangent() -> None:
    texts = []
    for L in (adjit, torch):
        fw = _fw(L)
        x = L.from_numpy(X[:2, :3].copy()).requires_grad_()
        with fw.dual_level():
            d = fw.make_dual(x, L.ones(2, 3, dtype=L.float64))
            texts.append((repr(d), repr(fw.make_dual(L.ones(2), L.ones(2) * 3))))
    assert texts[0] == texts[1]


def test_adjit_grad_on_dual_tensors() -> None:
    """Forward over reverse through adjit.grad eagerly: its joint program is replayed on the
    dual tensors (not run compiled), so each op propagates the tangents."""
    x, t = RNG.standard_normal(4), RNG.standard_normal(4)
    f = lambda v: (v.sin() * v.exp()).sum()  # noqa: E731
    with fwAD.dual_level():
        d = fwAD.make_dual(adjit.from_numpy(x), adjit.from_numpy(t))
        g = adjit.grad(f)(d)
        got = fwAD.unpack_dual(g).tangent.numpy()
        again = fwAD.unpack_dual(adjit.grad(f)(d)).tangent.numpy()  # (a warm call too)
    want = torch.func.jvp(torch.func.grad(f), (torch.from_numpy(x),), (torch.from_numpy(t),))[1]
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-13)
    np.testing.assert_allclose(again, want.numpy(), rtol=1e-13)


def test_make_dual_inside_a_compiled_function_refuses() -> None:
    def f(x: Any) -> Any:
        with fwAD.dual_level():
            return fwAD.unpack_dual(fwAD.make_dual(x, x).sin()).tangent

    with pytest.raises(NotImplementedError, match="adjit.func.jvp"):
        adjit.compile(f, fullgraph=True)(adjit.from_numpy(X))


def test_loops_and_branches_on_dual_tensors() -> None:
    """Eager scan/cond/while_loop run their bodies op by op: tangents flow through them, as
    the JVP pass's loop and branch rules give (adjit.func's jvp, traced)."""
    from adjit.frontend.jvp import jvp

    h0, xs = RNG.standard_normal(4), RNG.standard_normal((5, 4))
    th, txs = RNG.standard_normal(4), RNG.standard_normal((5, 4))

    def f(h: Any, xs: Any) -> Any:
        c, ys = adjit.scan(lambda h, x: ((h * 0.5 + x).tanh(), h.sum()), h, xs)
        c2 = adjit.cond(c.sum() > 0, lambda a: a.sin(), lambda a: a.cos(), (c,))
        zero = adjit.zeros((), dtype=adjit.int64)
        _, v = adjit.while_loop(lambda i, v: i < 2, lambda i, v: (i + 1, v.exp() * 0.5), (zero, c2))
        return v.sum() + ys.sum()

    A = adjit.from_numpy  # noqa: N806
    with fwAD.dual_level():
        eager = fwAD.unpack_dual(f(fwAD.make_dual(A(h0), A(th)), fwAD.make_dual(A(xs), A(txs))))
    traced = jvp(f, (A(h0), A(xs)), (A(th), A(txs)))
    np.testing.assert_allclose(eager.tangent.numpy(), traced[1].numpy(), rtol=1e-13)
