"""adjit.scan / fori_loop / while_loop / cond: eager, compiled on both backends, and their
gradients, against the same computation as a Python loop (adjit eager, PyTorch) and float64
finite differences."""

from __future__ import annotations

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")

BACKENDS = ["llvm", "interpreter"]
F32 = {"rtol": 1e-5, "atol": 1e-5}


def _np(t):
    return np.asarray(t.detach().numpy())


def _params(seed: int = 0, hidden: int = 4, inp: int = 3, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return [
        rng.standard_normal(s).astype(dtype) * 0.5
        for s in [(inp, hidden), (hidden, hidden), (hidden,)]
    ]


def _rnn_scan(lib, W, U, b, h0, xs, reverse=False, checkpoint=False):
    def cell(h, x):
        h = lib.tanh(x @ W + h @ U + b)
        return h, (h * h).sum(-1)

    h, ys = adjit.scan(cell, h0, xs, reverse=reverse, checkpoint=checkpoint)
    return (h * h).sum() + ys.sum()


def _rnn_loop(lib, W, U, b, h0, xs, reverse=False):
    h, ys = h0, []
    steps = range(xs.shape[0] - 1, -1, -1) if reverse else range(xs.shape[0])
    for i in steps:
        h = lib.tanh(xs[i] @ W + h @ U + b)
        ys.append((h * h).sum(-1))
    return (h * h).sum() + lib.stack(ys).sum()


def _data(T=6, batch=2, seed=1, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return [
        *_params(seed, dtype=dtype),
        rng.standard_normal((batch, 4)).astype(dtype),
        rng.standard_normal((T, batch, 3)).astype(dtype),
    ]


def _grads(lib, fn, arrays):
    ts = [lib.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*ts)
    out.backward()
    return _np(out), [_np(t.grad) for t in ts]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("checkpoint", [False, True, 4])  # 4: a segment of 4 steps, then 2
def test_rnn_scan_values_and_grads(backend, reverse, checkpoint):
    arrays = _data()
    loop_torch = _grads(torch, lambda *a: _rnn_loop(torch, *a, reverse=reverse), arrays)
    eager = _grads(adjit, lambda *a: _rnn_scan(adjit, *a, reverse=reverse), arrays)
    compiled_fn = adjit.compile(
        lambda *a: _rnn_scan(adjit, *a, reverse=reverse, checkpoint=checkpoint), backend=backend
    )
    compiled = _grads(adjit, compiled_fn, arrays)
    for got in (eager, compiled):
        np.testing.assert_allclose(got[0], loop_torch[0], **F32)
        for g, want in zip(got[1], loop_torch[1], strict=True):
            np.testing.assert_allclose(g, want, **F32)


@pytest.mark.parametrize("backend", BACKENDS)
def test_grad_transform_vs_finite_differences(backend):
    arrays = _data(T=4, dtype=np.float64)
    f = adjit.grad(lambda *a: _rnn_scan(adjit, *a), argnums=(0, 1, 2, 3, 4), backend=backend)
    grads = [_np(g) for g in f(*(adjit.tensor(a) for a in arrays))]
    eps = 1e-6

    def value(arrs):
        return float(_rnn_loop(np, *arrs))

    for k, a in enumerate(arrays):
        num = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            plus = [x.copy() for x in arrays]
            minus = [x.copy() for x in arrays]
            plus[k][idx] += eps
            minus[k][idx] -= eps
            num[idx] = (value(plus) - value(minus)) / (2 * eps)
        np.testing.assert_allclose(grads[k], num, rtol=1e-6, atol=1e-7)


def test_trace_does_not_grow_with_the_trip_count():
    W, U, b, h0, _ = (adjit.tensor(a) for a in _data())
    sizes = []
    for T in (3, 300):
        xs = adjit.randn(T, 2, 3)
        ex = adjit.explain(lambda h, xs: _rnn_scan(adjit, W, U, b, h, xs), h0, xs)
        sizes.append(len(ex.graph.eqns))
    assert sizes[0] == sizes[1]


def test_explain_saved_per_iteration():
    W, U, b = (adjit.tensor(a, requires_grad=True) for a in _params())
    h0, xs = adjit.zeros(2, 4), adjit.randn(8, 2, 3)

    def saved(checkpoint):
        fn = lambda h, xs: _rnn_scan(adjit, W, U, b, h, xs, checkpoint=checkpoint)  # noqa: E731
        return [(r.shape, r.bytes) for r in adjit.explain(fn, h0, xs).saved]

    carries = ((8, 2, 4), 8 * 2 * 4 * 4)
    assert carries in saved(True)  # the carry each step starts from, nothing else per step
    assert sum(n for _, n in saved(True)) <= carries[1] + 2 * 4 * 4  # (+ the final h)
    assert ((2, 2, 4), 2 * 2 * 4 * 4) in saved(4)  # a carry every 4 steps
    assert carries not in saved(4)
    assert any(s[0] == 8 for s, _ in saved(False))  # the body's residuals
    fn = lambda h, xs: _rnn_scan(adjit, W, U, b, h, xs, checkpoint=True)  # noqa: E731
    ex = adjit.explain(fn, h0, xs)
    assert ("f32[2,4]", 8, ex.saved_per_iteration[0][2]) in ex.saved_per_iteration
    assert "per iteration of the scan at" in str(ex)


@pytest.mark.parametrize("backend", BACKENDS)
def test_pytree_carries_xs_none_and_length(backend):
    def fn(a, b):
        def body(c, _):
            s, (n, d) = c["s"], c["pair"]
            return {"s": s * 0.5 + n, "pair": (n + 1.0, d * s.sum())}, None

        init = {"s": a, "pair": (b, b.sum())}
        out, ys = adjit.scan(body, init, None, length=5)
        assert ys is None
        return out["s"].sum() + out["pair"][0].sum() + out["pair"][1]

    def fn_loop(a, b):
        s, n, d = a, b, b.sum()
        for _ in range(5):
            s, n, d = s * 0.5 + n, n + 1.0, d * s.sum()
        return s.sum() + n.sum() + d

    arrays = [np.array([0.3, -0.2], np.float32), np.array([0.1, 0.4], np.float32)]
    want = _grads(torch, fn_loop, arrays)
    for got in (
        _grads(adjit, fn, arrays),
        _grads(adjit, adjit.compile(fn, backend=backend), arrays),
    ):
        np.testing.assert_allclose(got[0], want[0], **F32)
        for g, w in zip(got[1], want[1], strict=True):
            np.testing.assert_allclose(g, w, **F32)


@pytest.mark.parametrize("backend", BACKENDS)
def test_nested_scans(backend):
    def fn(w, xs):  # xs: [3, 4, 2]; an inner scan over each row, closing over w and the carry
        def outer(c, row):
            def inner(d, x):
                d = adjit.sin(d * w + x + c)
                return d, d.sum()

            d, ys = adjit.scan(inner, c, row)
            return c + d, ys

        c, ys = adjit.scan(outer, adjit.zeros(2, dtype=w.dtype), xs)
        return c.sum() + (ys * ys).sum()

    def fn_loop(w, xs):
        c, ys = torch.zeros(2, dtype=w.dtype), []
        for row in xs:
            d, inner = c, []
            for x in row:
                d = torch.sin(d * w + x + c)
                inner.append(d.sum())
            c = c + d
            ys.append(torch.stack(inner))
        return c.sum() + (torch.stack(ys) ** 2).sum()

    rng = np.random.default_rng(3)  # float64: a 12-step chain's float32 rounding is ~1e-5
    arrays = [rng.standard_normal(2), rng.standard_normal((3, 4, 2))]
    want = _grads(torch, fn_loop, arrays)
    for got in (
        _grads(adjit, fn, arrays),
        _grads(adjit, adjit.compile(fn, backend=backend), arrays),
    ):
        np.testing.assert_allclose(got[0], want[0], **F32)
        for g, w in zip(got[1], want[1], strict=True):
            np.testing.assert_allclose(g, w, **F32)


def _branches(lib):
    def true_fn(x, w):
        return (x * w).sin(), x.sum()

    def false_fn(x, w):
        return x.cos() * 2.0, (x * w).sum()

    return true_fn, false_fn


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_cond_vs_torch_cond(backend, sign):
    def fn(lib, cond, x, w):
        t, f = _branches(lib)
        a, s = cond(x.sum() > 0, t, f, (x, w))
        return a.sum() + s * 3.0

    rng = np.random.default_rng(4)
    arrays = [
        sign * np.abs(rng.standard_normal(3)).astype(np.float32),
        rng.standard_normal(3).astype(np.float32),
    ]
    want = _grads(torch, lambda *a: fn(torch, torch.cond, *a), arrays)
    eager = _grads(adjit, lambda *a: fn(adjit, adjit.cond, *a), arrays)
    compiled = _grads(
        adjit, adjit.compile(lambda *a: fn(adjit, adjit.cond, *a), backend=backend), arrays
    )
    for got in (eager, compiled):
        np.testing.assert_allclose(got[0], want[0], **F32)
        for g, w in zip(got[1], want[1], strict=True):
            np.testing.assert_allclose(g, w, **F32)


@pytest.mark.parametrize("backend", BACKENDS)
def test_scan_inside_cond(backend):
    w = adjit.tensor([0.5, -0.3], requires_grad=True)

    def fn(x, xs):
        def long(x, xs):
            h, _ = adjit.scan(lambda h, v: (adjit.tanh(h * w + v), None), x, xs)
            return h

        return adjit.cond(x.sum() > 0, long, lambda x, xs: x * w, (x, xs)).sum()

    for sign in (1.0, -1.0):
        x = adjit.tensor([0.2, 0.7]) * sign
        xs = adjit.tensor([[0.1, 0.2], [0.3, -0.1], [0.0, 0.5]])
        want = fn(x, xs)
        want.backward()
        want_g = _np(w.grad)
        w.grad = None
        got = adjit.compile(fn, backend=backend)(x, xs)
        got.backward()
        np.testing.assert_allclose(_np(got), _np(want), **F32)
        np.testing.assert_allclose(_np(w.grad), want_g, **F32)
        w.grad = None


@pytest.mark.parametrize("backend", BACKENDS)
def test_fori_loop_static_bounds_differentiates(backend):
    def fn(x):
        return adjit.fori_loop(2, 7, lambda i, v: v * 0.9 + adjit.sin(v) * i.to(v.dtype), x).sum()

    def fn_loop(x):
        for i in range(2, 7):
            x = x * 0.9 + torch.sin(x) * i
        return x.sum()

    arrays = [np.array([0.1, -0.4, 0.8])]  # float64: the map amplifies float32 rounding ~1e-4
    want = _grads(torch, fn_loop, arrays)
    for got in (
        _grads(adjit, fn, arrays),
        _grads(adjit, adjit.compile(fn, backend=backend), arrays),
    ):
        np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
        np.testing.assert_allclose(got[1][0], want[1][0], rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_while_loop_vs_torch_and_reverse_error(backend):
    def fn(lib, x, w):  # torch.while_loop's signature: the carry unpacked into the functions
        return lib.while_loop(
            lambda n, v: v.sum() < 10.0, lambda n, v: (n + 1, v * 2.0 + w), (lib.tensor(0), x)
        )

    want = fn(torch, torch.tensor([0.5, 0.25]), torch.tensor([0.1, 0.0]))
    x, w = adjit.tensor([0.5, 0.25]), adjit.tensor([0.1, 0.0])
    for got in (
        fn(adjit, x, w),
        adjit.compile(lambda x, w: fn(adjit, x, w), backend=backend)(x, w),
    ):
        assert isinstance(got, tuple) and int(got[0]) == int(want[0]) == 4
        np.testing.assert_array_equal(_np(got[1]), want[1].numpy())
    xg = adjit.tensor([0.5, 0.25], requires_grad=True)
    with pytest.raises(
        TypeError, match="Reverse-mode differentiation does not work for adjit.while_loop"
    ):
        adjit.compile(lambda x: fn(adjit, x, w)[1].sum(), backend=backend)(xg).backward()


def test_while_loop_errors_as_torch():
    ok = (lambda n: n < 3, lambda n: (n + 1,))
    with pytest.raises(RuntimeError, match="carried_inputs must be a tuple or list"):
        adjit.while_loop(*ok, adjit.tensor(0))
    with pytest.raises(RuntimeError, match="boolean scalar tensor or a boolean"):
        adjit.while_loop(lambda n: n, ok[1], (adjit.tensor(0),))
    with pytest.raises(AssertionError, match="body_fn should return a tuple"):
        adjit.while_loop(ok[0], lambda n: n + 1, (adjit.tensor(0),))
    with pytest.raises(AssertionError, match="same number of elements as carried_inputs"):
        adjit.while_loop(ok[0], lambda n: (n, n), (adjit.tensor(0),))
    out = adjit.while_loop(lambda n: n < 0, ok[1], (adjit.tensor(5),))  # never runs: a copy
    assert int(out[0]) == 5


def test_fori_loop_with_tensor_bounds_is_a_while_loop():
    out = adjit.compile(lambda x, n: adjit.fori_loop(0, n, lambda i, v: v + i, x))(
        adjit.tensor(1), adjit.tensor(5)
    )
    assert int(out) == 11


@pytest.mark.parametrize(
    "body, match",
    [
        (
            lambda c, x: (c.to(adjit.int32), x),
            "carry\\[0\\] has type float32\\[2\\] but the corresponding output carry component "
            "has type int32\\[2\\], so the dtypes do not match",
        ),
        (lambda c, x: (c.sum(), x), "so the shapes do not match"),
        (
            lambda c, x: ((c, c), x),
            "the input carry has structure tensor but the carry output has structure tuple",
        ),
        (lambda c, x: c, "scan body output must be a pair"),
    ],
)
@pytest.mark.parametrize("compiled", [False, True])
def test_scan_errors(body, match, compiled):
    fn = lambda c, xs: adjit.scan(body, c, xs)  # noqa: E731
    fn = adjit.compile(fn) if compiled else fn
    with pytest.raises(TypeError, match=match):
        fn(adjit.zeros(2), adjit.ones(3, 2))


def test_scan_length_errors():
    with pytest.raises(ValueError, match="different leading axis sizes: 3, 4"):
        adjit.scan(lambda c, x: (c, None), adjit.zeros(()), (adjit.ones(3), adjit.ones(4)))
    with pytest.raises(ValueError, match="`length` argument of 5 which disagrees"):
        adjit.scan(lambda c, x: (c, None), adjit.zeros(()), adjit.ones(3), length=5)
    with pytest.raises(ValueError, match="no values to scan over and `length` not provided"):
        adjit.scan(lambda c, x: (c, None), adjit.zeros(()), None)


def test_cond_errors_as_torch():
    t, f = _branches(adjit)
    x, w = adjit.ones(3), adjit.ones(3)
    with pytest.raises(RuntimeError, match="Expected pred to be bool or single-element tensor"):
        adjit.cond(adjit.ones(2) > 0, t, f, (x, w))
    with pytest.raises(RuntimeError, match="Expected pred to be bool or tensor"):
        adjit.cond("yes", t, f, (x, w))
    with pytest.raises(RuntimeError, match="Expect operands to be a tuple"):
        adjit.cond(True, t, f, (x, 3))
    with pytest.raises(RuntimeError, match="same structure"):
        adjit.compile(lambda x: adjit.cond(x.sum() > 0, lambda x: x, lambda x: x.sum(), (x,)))(x)


def test_printed_ir_shows_the_body():
    ex = adjit.explain(
        lambda h, xs: adjit.scan(lambda h, x: (h + x, None), h, xs)[0],
        adjit.zeros(2),
        adjit.ones(3, 2),
    )
    text = str(ex.graph)
    assert "scan[body={ lambda" in text and "get[index=0]" in text


@pytest.mark.parametrize("mode", ["RNN", "GRU", "LSTM"])
def test_nn_recurrent_layers_compile_to_one_scan(mode):
    adjit.manual_seed(0)
    m = getattr(adjit.nn, mode)(5, 7, num_layers=2, bidirectional=True)
    torch.manual_seed(0)
    tm = getattr(torch.nn, mode)(5, 7, num_layers=2, bidirectional=True)
    x = np.random.default_rng(0).standard_normal((6, 3, 5)).astype(np.float32)
    xa, xt = adjit.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    loss = adjit.compile(lambda x: (m(x)[0] ** 2).sum())
    got = loss(xa)
    got.backward()
    want = (tm(xt)[0] ** 2).sum()
    want.backward()
    np.testing.assert_allclose(_np(got), _np(want), rtol=1e-5)
    np.testing.assert_allclose(_np(xa.grad), _np(xt.grad), **F32)
    np.testing.assert_allclose(_np(m.weight_hh_l0.grad), _np(tm.weight_hh_l0.grad), **F32)
    sizes = [
        len(adjit.explain(lambda x: m(x)[0].sum(), adjit.randn(T, 3, 5)).graph.eqns)
        for T in (4, 40)
    ]
    assert sizes[0] == sizes[1]  # one scan per layer and direction, whatever T


@pytest.mark.parametrize("checkpoint", [False, True])
def test_backward_inside_the_compiled_function(checkpoint):
    W = adjit.tensor(_params()[1], requires_grad=True)

    def step(h0, xs):
        h, ys = adjit.scan(
            lambda h, x: (adjit.tanh(x @ W + h), h.sum()), h0, xs, checkpoint=checkpoint
        )
        loss = (h**2).sum() + ys.sum()
        loss.backward()
        return loss

    h0, xs = adjit.zeros(2, 4), adjit.tensor(np.random.default_rng(5).standard_normal((5, 2, 4)))
    xs = xs.to(adjit.float32)
    want = step(h0, xs)
    want_g = _np(W.grad)
    W.grad = None
    got = adjit.compile(step)(h0, xs)
    np.testing.assert_allclose(_np(got), _np(want), **F32)
    np.testing.assert_allclose(_np(W.grad), want_g, **F32)


@pytest.mark.parametrize("compiled", [False, True])
def test_scan_of_length_zero(compiled):
    def fn(c, xs):
        return adjit.scan(lambda c, x: (c + x.sum(), x * 2), c, xs)

    c, ys = (adjit.compile(fn) if compiled else fn)(adjit.tensor(1.5), adjit.zeros(0, 3))
    assert float(c) == 1.5 and tuple(ys.shape) == (0, 3) and ys.dtype is adjit.float32


def test_dead_ys_leave_the_scan():
    def fn(h, xs):
        h, (ys, zs) = adjit.scan(lambda h, x: (h + x, (h.sin(), h.cos())), h, xs)
        return h, zs

    ex = adjit.explain(fn, adjit.zeros(2), adjit.ones(3, 2))
    (loop,) = [e for e in ex.inference.eqns if e.op.name == "SCAN"]
    body = str(loop.attrs["body"])
    assert "cos" in body and "sin" not in body  # ys is read by nobody
    h, zs = adjit.compile(fn)(adjit.zeros(2), adjit.ones(3, 2))
    np.testing.assert_allclose(_np(zs), np.cos([[0, 0], [1, 1], [2, 2]]), rtol=1e-6)


@pytest.mark.parametrize("checkpoint", [False, True, 2])
def test_draws_in_a_body_are_never_redrawn(checkpoint):
    w = adjit.tensor([0.5, 2.0], requires_grad=True)

    def loss(h, xs):
        step = lambda h, x: (adjit.tanh(h * w + x * adjit.rand(2)), h)  # noqa: E731
        h, ys = adjit.scan(step, h, xs, checkpoint=checkpoint)
        return (h * h).sum() + ys.sum()

    adjit.manual_seed(0)
    want = loss(adjit.zeros(2), adjit.ones(5, 2))
    want.backward()
    want_g, w.grad = _np(w.grad), None
    adjit.manual_seed(0)
    got = adjit.compile(loss)(adjit.zeros(2), adjit.ones(5, 2))
    got.backward()
    np.testing.assert_allclose(_np(got), _np(want), **F32)
    np.testing.assert_allclose(_np(w.grad), want_g, **F32)


def test_cond_with_draws_refuses_reverse_mode():
    x = adjit.tensor([0.5, -1.0], requires_grad=True)

    def loss(x):
        noisy = lambda x: x * adjit.rand(2)  # noqa: E731
        return adjit.cond(x.sum() > 0, noisy, lambda x: x * 2.0, (x,)).sum()

    with pytest.raises(NotImplementedError, match="draws random numbers"):
        adjit.compile(loss)(x).backward()
