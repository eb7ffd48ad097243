"""``jvp`` and ``linearize`` side by side with torch.func: pytrees, has_aux, strict, error texts;
composed with reverse mode both ways, compiled, and through loops and branches."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from adjit.frontend.jvp import jvp, linearize
from adjit.ir.graph import op_count

import adjit

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(17)
X = RNG.standard_normal((3, 4))
T = RNG.standard_normal((3, 4))
W = RNG.standard_normal((4, 5))
U = RNG.standard_normal((4, 5))
V = RNG.standard_normal(4)


def _np(v: Any) -> Any:
    if isinstance(v, tuple | list):
        return type(v)(_np(x) for x in v)
    if isinstance(v, dict):
        return {k: _np(x) for k, x in v.items()}
    return v.detach().numpy() if hasattr(v, "detach") else v


def _same(a: Any, b: Any, tol: float = 1e-12) -> None:
    a, b = _np(a), _np(b)
    if isinstance(a, tuple | list):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same(x, y, tol)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _same(a[k], b[k], tol)
    else:
        assert np.asarray(a).shape == np.asarray(b).shape
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def _t(L: Any, a: np.ndarray) -> Any:
    return L.from_numpy(a.copy())


def _jvp(L: Any) -> Any:
    return jvp if L is adjit else torch.func.jvp


def _linearize(L: Any) -> Any:
    return linearize if L is adjit else torch.func.linearize


# ---- values, pytrees, has_aux ------------------------------------------------------------------
def _mlp(L: Any, x: Any, w: Any) -> Any:
    return (L.tanh(x @ w) * x.sum(1, keepdim=True)).softmax(-1)


PROGRAMS: dict[str, Any] = {
    "mlp": (lambda L: lambda x, w: _mlp(L, x, w), ("x", "w")),
    "two-outputs": (lambda L: lambda x, w: (x.sin(), (x @ w).relu().sum(0)), ("x", "w")),
    "dict-in-list-out": (
        lambda L: lambda d: [d["x"].exp() * 2, L.cat([d["x"], d["x"].cos()], 1).amax(0)],
        ("dx",),
    ),
    "tuple-in-dict-out": (
        lambda L: lambda p: {"a": p[0] @ p[1], "b": (p[0] ** 2).mean()},
        ("pair",),
    ),
    "norms-and-linalg": (
        lambda L: lambda w: (L.linalg.norm(w), L.linalg.svdvals(w), (w @ w.mT).logdet()),
        ("w",),
    ),
    "indexing": (lambda L: lambda x: (x[1:, ::2] * x[:, [0, 2, 0]].sum()).cumsum(0), ("x",)),
    "constant-output": (lambda L: lambda x: (x * 0 + 1, L.ones(3)), ("x",)),
}


def _args(L: Any, names: tuple[str, ...], tangent: bool) -> tuple[Any, ...]:
    x, w = (T, U) if tangent else (X, W)
    table = {
        "x": _t(L, x),
        "w": _t(L, w),
        "dx": {"x": _t(L, x)},
        "pair": (_t(L, x), _t(L, w)),
    }
    return tuple(table[n] for n in names)


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_jvp_vs_torch(name: str) -> None:
    make, names = PROGRAMS[name]
    got = jvp(make(adjit), _args(adjit, names, False), _args(adjit, names, True))
    want = torch.func.jvp(make(torch), _args(torch, names, False), _args(torch, names, True))
    _same(got, want, 1e-10)


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_linearize_vs_torch(name: str) -> None:
    make, names = PROGRAMS[name]
    out, fn = linearize(make(adjit), *_args(adjit, names, False))
    t_out, t_fn = torch.func.linearize(make(torch), *_args(torch, names, False))
    _same(out, t_out, 1e-12)
    _same(fn(*_args(adjit, names, True)), t_fn(*_args(torch, names, True)), 1e-10)
    _same(fn(*_args(adjit, names, False)), t_fn(*_args(torch, names, False)), 1e-10)


def test_has_aux() -> None:
    def f(L: Any) -> Any:
        return lambda x: (x.sin().sum(0), {"mean": x.mean(), "rows": [x[0], x[1] * 2]})

    got = jvp(f(adjit), (_t(adjit, X),), (_t(adjit, T),), has_aux=True)
    want = torch.func.jvp(f(torch), (_t(torch, X),), (_t(torch, T),), has_aux=True)
    _same(got, want)


def test_linearize_runs_only_the_tangent_part() -> None:
    calls = []

    def f(x: Any) -> Any:
        calls.append(1)
        return (x.exp() * x).sum(0)

    _, fn = linearize(f, _t(adjit, X))
    fn(_t(adjit, T))
    fn(_t(adjit, X))
    assert len(calls) == 1  # traced once; the calls replay the tangent equations only


# ---- errors -------------------------------------------------------------------------------------
ERRORS: dict[str, Any] = {
    "primals-not-tuple": lambda L: _jvp(L)(L.sin, _t(L, X), (_t(L, T),)),
    "structure": lambda L: _jvp(L)(L.sin, (_t(L, X),), [_t(L, T)]),
    "structure-length": lambda L: _jvp(L)(L.sin, (_t(L, X),), (_t(L, T), _t(L, T))),
    "structure-dict": lambda L: _jvp(L)(lambda d: d["k"], ({"k": _t(L, X)},), ({"j": _t(L, T)},)),
    "empty": lambda L: _jvp(L)(L.sin, (), ()),
    "non-tensor-primal": lambda L: _jvp(L)(lambda a: a, (1.0,), (1.0,)),
    "size": lambda L: _jvp(L)(L.sin, (_t(L, X),), (_t(L, V),)),
    "int-primal": lambda L: _jvp(L)(L.sin, (L.arange(3),), (L.arange(3),)),
    "int-output": lambda L: _jvp(L)(lambda a: 3, (_t(L, X),), (_t(L, T),)),
    "non-tensor-in-output": lambda L: _jvp(L)(lambda a: (a, 3), (_t(L, X),), (_t(L, T),)),
    "none-output": lambda L: _jvp(L)(lambda a: None, (_t(L, X),), (_t(L, T),)),
    "empty-output": lambda L: _jvp(L)(lambda a: [], (_t(L, X),), (_t(L, T),)),
    "has_aux": lambda L: _jvp(L)(lambda a: a, (_t(L, X),), (_t(L, T),), has_aux=True),
    "strict": lambda L: _jvp(L)(lambda a: L.ones(3), (_t(L, X),), (_t(L, T),), strict=True),
    "linearize-structure": lambda L: _linearize(L)(L.sin, _t(L, X))[1](_t(L, T), _t(L, T)),
    "linearize-shape": lambda L: _linearize(L)(L.sin, _t(L, X))[1](_t(L, W)),
    "linearize-dtype": lambda L: _linearize(L)(L.sin, _t(L, X))[1](_t(L, T).float()),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_as_torch(name: str) -> None:
    with pytest.raises(Exception) as want:
        ERRORS[name](torch)
    with pytest.raises(type(want.value)) as got:
        ERRORS[name](adjit)
    assert str(got.value) == str(want.value)


# ---- composition with reverse mode --------------------------------------------------------------
def _loss(L: Any, x: Any) -> Any:
    return (L.tanh(x @ _t(L, W)).exp() * x.sum(1, keepdim=True)).sum()


def test_hvp_as_grad_of_jvp() -> None:
    """Reverse over forward: the gradient of <grad f, t> ... here d/dx of the JVP."""
    x = _t(adjit, X).requires_grad_()
    _, jt = jvp(lambda x: _loss(adjit, x), (x,), (_t(adjit, T),))
    (got,) = adjit.autograd.grad(jt, x)
    tx = _t(torch, X).requires_grad_()
    _, tjt = torch.func.jvp(lambda x: _loss(torch, x), (tx,), (_t(torch, T),))
    (want,) = torch.autograd.grad(tjt, tx)
    _same(got, want, 1e-10)


def test_jvp_of_grad_forward_over_reverse() -> None:
    got = jvp(adjit.grad(lambda x: _loss(adjit, x)), (_t(adjit, X),), (_t(adjit, T),))
    want = torch.func.jvp(
        torch.func.grad(lambda x: _loss(torch, x)), (_t(torch, X),), (_t(torch, T),)
    )
    _same(got, want, 1e-10)


def test_jvp_of_autograd_grad_inside() -> None:
    def f(L: Any) -> Any:
        def g(x: Any) -> Any:
            x = x.requires_grad_() if L is torch else x
            (gx,) = L.autograd.grad(_loss(L, x), x, create_graph=True)
            return gx

        return g

    got = jvp(f(adjit), (_t(adjit, X),), (_t(adjit, T),))
    want = torch.func.jvp(
        torch.func.grad(lambda x: _loss(torch, x)), (_t(torch, X),), (_t(torch, T),)
    )
    _same(got, want, 1e-10)


# ---- compiled -----------------------------------------------------------------------------------
def test_compiled_equals_eager_and_fuses() -> None:
    def f(x: Any, t: Any) -> Any:
        return jvp(lambda x: (x.sin() * x.exp()).sum(1), (x,), (t,))

    compiled = adjit.compile(f)
    got = compiled(_t(adjit, X), _t(adjit, T))
    _same(got, f(_t(adjit, X), _t(adjit, T)), 1e-12)
    _same(
        got[1],
        torch.func.jvp(lambda x: (x.sin() * x.exp()).sum(1), (_t(torch, X),), (_t(torch, T),))[1],
        1e-12,
    )
    ex = adjit.explain(compiled, _t(adjit, X), _t(adjit, T))
    assert not ex.segments and ex.graph is not None  # one program, no graph break
    assert op_count(ex.graph).get("custom_vjp", 0) == 0  # primitives only


def test_compiled_jvp_of_grad() -> None:
    fn = adjit.compile(lambda x, t: jvp(adjit.grad(lambda x: _loss(adjit, x)), (x,), (t,))[1])
    want = torch.func.jvp(
        torch.func.grad(lambda x: _loss(torch, x)), (_t(torch, X),), (_t(torch, T),)
    )[1]
    _same(fn(_t(adjit, X), _t(adjit, T)), want, 1e-10)


def test_grad_of_compiled_jvp() -> None:
    fn = adjit.compile(lambda x, t: jvp(lambda x: _loss(adjit, x), (x,), (t,))[1])
    x = _t(adjit, X).requires_grad_()
    (got,) = adjit.autograd.grad(fn(x, _t(adjit, T)), x)
    tx = _t(torch, X).requires_grad_()
    (want,) = torch.autograd.grad(
        torch.func.jvp(lambda x: _loss(torch, x), (tx,), (_t(torch, T),))[1], tx
    )
    _same(got, want, 1e-10)


# ---- loops and branches -------------------------------------------------------------------------
def _rnn(L: Any) -> Any:
    def step(h: Any, x: Any) -> Any:
        h = L.tanh(h @ _t(L, np.eye(4) * 0.5) + x)
        return h, h.sum()

    def f(h0: Any, xs: Any) -> Any:
        if L is adjit:
            return adjit.scan(step, h0, xs)
        ys = []
        h = h0
        for x in xs:
            h, y = step(h, x)
            ys.append(y)
        return h, L.stack(ys)

    return f


def test_scan_tangent_carries() -> None:
    h0, xs = RNG.standard_normal(4), RNG.standard_normal((5, 4))
    th, txs = RNG.standard_normal(4), RNG.standard_normal((5, 4))
    want = torch.func.jvp(
        _rnn(torch), (_t(torch, h0), _t(torch, xs)), (_t(torch, th), _t(torch, txs))
    )
    for fn in (_rnn(adjit), adjit.compile(lambda h, x: _rnn(adjit)(h, x))):
        got = jvp(fn, (_t(adjit, h0), _t(adjit, xs)), (_t(adjit, th), _t(adjit, txs)))
        _same(got, want, 1e-12)
    compiled = adjit.compile(lambda *a: jvp(_rnn(adjit), a[:2], a[2:]))  # the JVP compiled
    got = compiled(_t(adjit, h0), _t(adjit, xs), _t(adjit, th), _t(adjit, txs))
    _same(got, want, 1e-12)
    ex = adjit.explain(compiled, _t(adjit, h0), _t(adjit, xs), _t(adjit, th), _t(adjit, txs))
    assert op_count(ex.graph)["scan"] == 1  # one loop carrying primal and tangent
    # only the xs have tangents: the carry gets one from the first step on (a fixed point)
    got = jvp(lambda xs: _rnn(adjit)(_t(adjit, h0), xs), (_t(adjit, xs),), (_t(adjit, txs),))
    want = torch.func.jvp(
        lambda xs: _rnn(torch)(_t(torch, h0), xs), (_t(torch, xs),), (_t(torch, txs),)
    )
    _same(got, want, 1e-12)


def test_cond_and_while_loop() -> None:
    def branchy(L: Any) -> Any:
        def f(x: Any) -> Any:
            if L is adjit:
                return adjit.cond(x.sum() > 0, lambda a: a.sin() * 2, lambda a: a.exp(), (x,))
            return x.sin() * 2 if x.sum() > 0 else x.exp()  # (torch.cond refuses jvp eagerly)

        return f

    for x in (X, -np.abs(X)):
        want = torch.func.jvp(lambda x: branchy(torch)(x), (_t(torch, x),), (_t(torch, T),))
        got = jvp(branchy(adjit), (_t(adjit, x),), (_t(adjit, T),))
        _same(got, want, 1e-12)

    def loop(L: Any, x: Any) -> Any:
        i0 = L.zeros((), dtype=L.int64)
        out = adjit.while_loop if L is adjit else torch.while_loop
        return out(lambda i, v: i < 3, lambda i, v: (i + 1, v.sin() * 1.5), (i0, x))[1]

    got = adjit.compile(lambda x, t: jvp(lambda x: loop(adjit, x), (x,), (t,)))(
        _t(adjit, X), _t(adjit, T)
    )
    _same(got, jvp(lambda x: loop(adjit, x), (_t(adjit, X),), (_t(adjit, T),)), 1e-12)
    want = torch.func.jvp(
        lambda x: x.sin().mul(1.5).sin().mul(1.5).sin().mul(1.5), (_t(torch, X),), (_t(torch, T),)
    )
    _same(got, want, 1e-12)


# ---- custom rules -------------------------------------------------------------------------------
def test_custom_function_without_jvp_refuses_as_torch() -> None:
    def make(L: Any) -> Any:
        class Cube(L.autograd.Function):
            @staticmethod
            def forward(x: Any) -> Any:
                return x**3

            @staticmethod
            def setup_context(ctx: Any, inputs: Any, output: Any) -> None:
                ctx.save_for_backward(inputs[0])

            @staticmethod
            def backward(ctx: Any, g: Any) -> Any:
                (x,) = ctx.saved_tensors
                return 3 * g * x**2

        return Cube

    with pytest.raises(NotImplementedError) as want:
        torch.func.jvp(make(torch).apply, (_t(torch, X),), (_t(torch, T),))
    with pytest.raises(NotImplementedError) as got:
        jvp(make(adjit).apply, (_t(adjit, X),), (_t(adjit, T),))
    assert str(got.value) == str(want.value)


def test_builtin_rules_with_their_own_formula() -> None:
    """Values that carry PyTorch's derivative formula (with_rule): their JVP is the formula
    transposed (xlogy special-cases a zero cotangent; lerp, nextafter)."""

    def f(L: Any) -> Any:
        return lambda x, y: (L.xlogy(x, y.abs() + 0.5), L.lerp(x, y, 0.3), x.sinc())

    args = (X, RNG.standard_normal((3, 4)))
    got = jvp(f(adjit), tuple(_t(adjit, a) for a in args), (_t(adjit, T), _t(adjit, X)))
    want = torch.func.jvp(f(torch), tuple(_t(torch, a) for a in args), (_t(torch, T), _t(torch, X)))
    _same(got, want, 1e-10)


# ---- composition with vmap and itself ---------------------------------------------------------
def test_jvp_vmap_and_jvp_of_jvp() -> None:
    from adjit.frontend.vmap import vmap

    xs, ts = RNG.standard_normal((5, 4)), RNG.standard_normal((5, 4))

    def f(L: Any) -> Any:
        return lambda v: (v @ _t(L, W)).tanh().sum()

    got = jvp(vmap(f(adjit)), (_t(adjit, xs),), (_t(adjit, ts),))
    want = torch.func.jvp(torch.func.vmap(f(torch)), (_t(torch, xs),), (_t(torch, ts),))
    _same(got, want, 1e-12)
    got = vmap(lambda x, t: jvp(f(adjit), (x,), (t,)))(_t(adjit, xs), _t(adjit, ts))
    want = torch.func.vmap(lambda x, t: torch.func.jvp(f(torch), (x,), (t,)))(
        _t(torch, xs), _t(torch, ts)
    )
    _same(got, want, 1e-12)

    def second(L: Any, J: Any) -> Any:  # d^2 f [t, t] by forward over forward
        g = lambda v: (v.sin() * v).exp().sum()  # noqa: E731
        t = _t(L, T[0])
        return J(lambda v: J(g, (v,), (t,))[1], (_t(L, X[0]),), (t,))

    _same(second(adjit, jvp), second(torch, torch.func.jvp), 1e-12)


def test_loops_closing_over_primals() -> None:
    """A loop body's constants (a weight the body closes over) carry tangents too."""
    h0, xs, w = RNG.standard_normal(4), RNG.standard_normal((5, 4)), RNG.standard_normal((4, 4))
    tw = RNG.standard_normal((4, 4))

    def rnn(L: Any, w: Any) -> Any:
        def step(h: Any, x: Any) -> Any:
            h = L.tanh(h @ w * 0.5 + x)
            return h, (h * h).sum()

        if L is adjit:
            return adjit.scan(step, _t(L, h0), _t(L, xs))
        h, ys = _t(L, h0), []
        for x in _t(L, xs):
            h, y = step(h, x)
            ys.append(y)
        return h, L.stack(ys)

    got = jvp(lambda w: rnn(adjit, w), (_t(adjit, w),), (_t(adjit, tw),))
    _same(got, torch.func.jvp(lambda w: rnn(torch, w), (_t(torch, w),), (_t(torch, tw),)), 1e-12)

    def loop(w: Any) -> Any:
        body = lambda i, v: (i + 1, (v @ w).sin())  # noqa: E731
        return adjit.while_loop(
            lambda i, v: i < 3, body, (adjit.zeros((), dtype=adjit.int64), _t(adjit, h0))
        )[1]

    got = jvp(loop, (_t(adjit, w),), (_t(adjit, tw),))
    want = torch.func.jvp(
        lambda w: (((_t(torch, h0) @ w).sin() @ w).sin() @ w).sin(),
        (_t(torch, w),),
        (_t(torch, tw),),
    )
    _same(got, want, 1e-12)


# ---- nn functions (their decompositions and PyTorch-formula rules) ----------------------------
def _lstm(L: Any) -> Any:
    L.manual_seed(0)
    m = L.nn.LSTM(4, 5).double()
    return lambda x: m(x)[0]


_X4, _W4 = RNG.standard_normal((2, 3, 8, 8)), RNG.standard_normal((4, 3, 3, 3))
_X2, _Y2 = RNG.standard_normal((5, 6)), RNG.standard_normal((5, 6))
NN: dict[str, Any] = {
    "conv2d": (lambda L: lambda x, w: L.nn.functional.conv2d(x, w, padding=1, stride=2), _X4, _W4),
    "conv_transpose2d": (
        lambda L: lambda x, w: L.nn.functional.conv_transpose2d(x, w.transpose(0, 1)),
        _X4,
        _W4,
    ),
    "max_pool2d": (lambda L: lambda x: L.nn.functional.max_pool2d(x, 2), _X4),
    "avg_pool2d": (lambda L: lambda x: L.nn.functional.avg_pool2d(x, 3, padding=1), _X4),
    "interpolate": (
        lambda L: lambda x: L.nn.functional.interpolate(x, scale_factor=2, mode="bilinear"),
        _X4,
    ),
    "layer_norm": (
        lambda L: lambda x, g: L.nn.functional.layer_norm(x, (6,), g),
        _X2,
        RNG.standard_normal(6),
    ),
    "batch_norm": (
        lambda L: lambda x: L.nn.functional.batch_norm(x, None, None, training=True),
        _X2,
    ),
    "cross_entropy": (
        lambda L: lambda x: L.nn.functional.cross_entropy(x, L.tensor([0, 1, 2, 3, 4])),
        _X2,
    ),
    "activations": (
        lambda L: (
            lambda x: (
                L.nn.functional.gelu(x) + L.nn.functional.silu(x) + L.nn.functional.softplus(x)
            )
        ),
        _X2,
    ),
    "losses": (
        lambda L: (
            lambda x, y: L.nn.functional.mse_loss(x, y) + L.nn.functional.smooth_l1_loss(x, y)
        ),
        _X2,
        _Y2,
    ),
    "embedding": (
        lambda L: lambda w: L.nn.functional.embedding(L.tensor([[0, 2], [4, 4]]), w),
        _X2,
    ),
    "attention": (
        lambda L: lambda q: L.nn.functional.scaled_dot_product_attention(q, q, q),
        RNG.standard_normal((2, 4, 8)),
    ),
    "lstm": (_lstm, RNG.standard_normal((3, 2, 4))),
}


@pytest.mark.parametrize("name", list(NN))
def test_nn_functions_vs_torch(name: str) -> None:
    """jvp (traced) and forward_ad (eager) of nn functions against torch.func.jvp."""
    import adjit.autograd.forward_ad as fwAD

    make, *arrays = NN[name]
    rng = np.random.default_rng(len(name))
    ts = [rng.standard_normal(a.shape) for a in arrays]
    want = torch.func.jvp(
        make(torch), tuple(_t(torch, a) for a in arrays), tuple(_t(torch, t) for t in ts)
    )
    got = jvp(make(adjit), tuple(_t(adjit, a) for a in arrays), tuple(_t(adjit, t) for t in ts))
    _same(got, want, 1e-12)
    f = make(adjit)
    with fwAD.dual_level():
        duals = [
            fwAD.make_dual(_t(adjit, a), _t(adjit, t)) for a, t in zip(arrays, ts, strict=True)
        ]
        eager = fwAD.unpack_dual(f(*duals)).tangent
    _same(eager, want[1], 1e-12)


def test_transposed_vjp_costs_the_closed_form_when_compiled() -> None:
    """Note [JVP as the transpose of the VJP]: compiled, the VJP rule's own value is dead code,
    so inv's JVP is the closed form's -X t X: one LAPACK call and two matmuls."""
    a, t = _t(adjit, RNG.standard_normal((4, 4)) + 3 * np.eye(4)), _t(adjit, W[:, :4])
    fn = adjit.compile(lambda a, t: jvp(adjit.linalg.inv, (a,), (t,))[1])
    counts = op_count(adjit.explain(fn, a, t).inference)
    assert counts["linalg"] == 1 and counts["matmul"] == 2, counts
    x = np.linalg.inv(a.numpy())
    np.testing.assert_allclose(fn(a, t).numpy(), -x @ t.numpy() @ x, rtol=1e-12, atol=1e-14)
