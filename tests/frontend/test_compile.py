"""adjit.compile: tracing, guards, lifted tensors, errors, fallback and eager parity."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest
from adjit.ir import graph as G

import adjit


def tutorial(x, y, z):
    return x**2 + y**2 + z**2


def test_tutorial_values_and_grads():
    f = adjit.compile(tutorial)
    x, y, z = (adjit.tensor(v, requires_grad=True) for v in (2.0, 3.0, 4.0))
    out = f(x, y, z)
    assert repr(out) == "tensor(29., grad_fn=<CompiledFunctionBackward>)"
    out.backward()
    assert [t.grad.item() for t in (x, y, z)] == [4.0, 6.0, 8.0]


def test_golden_graph_text():
    f = adjit.compile(tutorial)
    x, y, z = (adjit.tensor(v, requires_grad=True) for v in (2.0, 3.0, 4.0))
    text = str(adjit.explain(f, x, y, z).graph)
    assert text == (
        "{ lambda a:f32[] b:f32[] c:f32[] .\n"
        "  let d:f32[] = pow a 2\n"
        "      e:f32[] = pow b 2\n"
        "      f:f32[] = add d e\n"
        "      g:f32[] = pow c 2\n"
        "      h:f32[] = add f g\n"
        "  in (h) }"
    )


def test_source_locations_and_no_grad_marks():
    w = adjit.randn(3, 2, requires_grad=True)

    def loss(inp):
        with adjit.no_grad():
            s = inp * 2  # the no_grad line
        return ((inp @ w).sigmoid() + s.sum()).mean()

    ex = adjit.explain(loss, adjit.randn(4, 3))
    mul = next(e for e in ex.graph.eqns if e.op.name == "MUL")
    assert mul.no_grad and mul.loc.endswith(f"test_compile.py:{_line_of('the no_grad line')}")
    assert "# no_grad" in ex.graph_text
    assert all(not e.no_grad for e in ex.graph.eqns if e.op.name == "MATMUL")


def _line_of(marker: str) -> int:
    with open(__file__) as f:
        return next(i for i, line in enumerate(f, 1) if marker in line and "_line_of" not in line)


def test_composites_are_decomposed_into_primitives():
    ex = adjit.explain(lambda x: x.softmax(-1), adjit.randn(2, 5))
    ops = G.op_count(ex.graph)
    # (the value passes through its derivative rule, Note [softmax's gradient]; the optimized
    # graph drops it, Note [rule identities after the adjoint])
    assert set(ops) == {"amax", "detach", "sub", "exp", "sum", "div", "custom_vjp"}
    assert set(G.op_count(ex.forward)) == {"amax", "detach", "sub", "exp", "sum", "div"}


PROGRAMS = {
    "mlp": lambda x, w1, w2: ((x @ w1).relu() @ w2).log_softmax(-1).mean(),
    "broadcast": lambda x, b: ((x + b) * (x - b)).sum(0),
    "reductions": lambda x, b: x.var(1) + x.amax(0).sum() + x.mean(),
    "indexing": lambda x, b: x[1:, ::2].exp() + x[0, -1] * b[None, :1],
    "movement": lambda x, b: x.t().reshape(2, -1).transpose(0, 1).unsqueeze(0).squeeze(0),
    "where_clamp": lambda x, b: adjit.where(x > 0, x.sqrt(), x.clamp(-0.5, 0.5)),
    "cat_stack": lambda x, b: adjit.cat([x, x * 2], 1) + adjit.stack([x, x], 0).sum(0).repeat(1, 2),
    "scalars_and_dtypes": lambda x, b: (x.double() * 3 + 1).float() / 2 - (2**x),
    "inplace_local": lambda x, b: _inplace_local(x, b),
}


def _inplace_local(x, b):
    y = x * 1
    y.add_(b)
    y[0] = 3.0
    y.mul_(2)
    return y


def _args(name):
    adjit.manual_seed(1)
    if name == "mlp":
        return [
            adjit.randn(4, 3, requires_grad=True),
            adjit.randn(3, 5, requires_grad=True),
            adjit.randn(5, 2, requires_grad=True),
        ]
    return [adjit.randn(3, 4, requires_grad=True), adjit.randn(4, requires_grad=True)]


@pytest.mark.parametrize("name", PROGRAMS)
def test_compiled_matches_eager(name):
    fn = PROGRAMS[name]
    eager_args, comp_args = _args(name), _args(name)
    expected = fn(*eager_args)
    got = adjit.compile(fn)(*comp_args)
    np.testing.assert_allclose(got.detach().numpy(), expected.detach().numpy(), rtol=1e-6)
    assert got.dtype is expected.dtype and got.shape == expected.shape
    expected.sum().backward()
    got.sum().backward()
    for a, b in zip(comp_args, eager_args, strict=True):
        assert (a.grad is None) == (b.grad is None)
        if b.grad is not None:
            got, want = a.grad.numpy(), b.grad.numpy()
            # where eager is NaN from an untaken `where` branch (0 * inf), compiled is finite
            untaken = np.isnan(want)
            assert np.isfinite(got[untaken]).all()
            np.testing.assert_allclose(got[~untaken], want[~untaken], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", PROGRAMS)
def test_interpreter_runs_the_graph(name):
    from adjit.ir.interpreter import interpret
    from adjit.ir.parser import parse_graph
    from adjit.ir.verify import verify

    args = _args(name)
    g = verify(adjit.explain(PROGRAMS[name], *args).graph)
    expected = PROGRAMS[name](*args).detach().numpy()
    (got,) = interpret(g, [a.detach().numpy() for a in args])
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    if not g.consts or all(np.asarray(c).size < 50 for _, c in g.consts):
        assert str(parse_graph(str(g))) == str(g)


def test_guards_retrace_only_when_the_signature_changes():
    f = adjit.compile(lambda x: x * 2)
    f(adjit.ones(3))
    f(adjit.zeros(3))
    assert f.trace_count == 1
    f(adjit.ones(4))
    assert f.trace_count == 2
    f(adjit.ones(4, dtype=adjit.float64))
    assert f.trace_count == 3
    f(adjit.ones(4, dtype=adjit.float64, requires_grad=True))
    assert f.trace_count == 4
    with adjit.no_grad():
        f(adjit.ones(4, dtype=adjit.float64, requires_grad=True))
    assert f.trace_count == 5
    f(adjit.ones(4, dtype=adjit.float64, requires_grad=True))
    assert f.trace_count == 5


def test_python_values_are_guarded():
    f = adjit.compile(lambda x, k: x * k)
    assert f(adjit.ones(2), 2).tolist() == [2.0, 2.0]
    assert f(adjit.ones(2), 3).tolist() == [3.0, 3.0]
    assert f.trace_count == 2


def test_structured_arguments_and_results():
    @adjit.compile
    def f(d, pair):
        a, b = pair
        return {"sum": d["x"] + a, "items": [b * 2, 7]}

    out = f({"x": adjit.ones(2)}, (adjit.ones(2), adjit.full((2,), 3.0)))
    assert out["sum"].tolist() == [2.0, 2.0]
    assert out["items"][0].tolist() == [6.0, 6.0] and out["items"][1] == 7


def test_lifted_tensors_see_updates():
    w = adjit.tensor([1.0, 2.0], requires_grad=True)
    f = adjit.compile(lambda x: (x * w).sum())
    assert f(adjit.ones(2)).item() == 3.0
    with adjit.no_grad():
        w.mul_(10)
    assert f(adjit.ones(2)).item() == 30.0
    assert f.trace_count == 1
    out = f(adjit.ones(2))
    out.backward()
    assert w.grad.tolist() == [1.0, 1.0]
    w.requires_grad_(False)
    f(adjit.ones(2))
    assert f.trace_count == 2  # a lifted tensor's requires_grad is guarded too


def test_data_dependent_control_flow_names_the_line():
    @adjit.compile(fullgraph=True)  # (without it: a graph break, tests/frontend/test_graph_breaks)
    def f(x):
        if x.sum() > 0:  # value-dependent
            return x
        return -x

    with pytest.raises(adjit.TracingError) as info:
        f(adjit.ones(3))
    assert f"test_compile.py:{_line_of('# value-dependent')}" in str(info.value)
    assert "adjit.where" in str(info.value) and "fallback" in str(info.value)


@pytest.mark.parametrize(
    "use",
    [
        lambda t: t.item(),
        lambda t: float(t.sum()),
        lambda t: t.numpy(),
        lambda t: t.tolist(),
        lambda t: bool(t),
    ],
)
def test_value_uses_raise_tracing_error(use):
    with pytest.raises(adjit.TracingError):
        adjit.compile(use, fullgraph=True)(adjit.ones(1))


def test_fallback_eager_warns_once_and_runs():
    @adjit.compile(fallback="eager", fullgraph=True)
    def f(x):
        return x if x.sum() > 0 else -x

    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        assert f(adjit.ones(2)).tolist() == [1.0, 1.0]
        assert f(-adjit.ones(2)).tolist() == [1.0, 1.0]
    assert len(w) == 1 and "eagerly" in str(w[0].message)


def test_shape_error_names_op_shapes_and_line():
    @adjit.compile
    def f(x, y):
        return x + y  # mismatch here

    with pytest.raises(RuntimeError) as info:
        f(adjit.ones(3), adjit.ones(4))
    msg = str(info.value)
    assert "add" in msg and "f32[3]" in msg and "f32[4]" in msg
    assert f"test_compile.py:{_line_of('# mismatch here')}" in msg


def test_recompile_warning():
    f = adjit.compile(lambda x: x + 1, dynamic=False)  # (the default traces 2 shapes, not 11)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        for n in range(1, 12):
            f(adjit.ones(n))
    assert any("traced" in str(m.message) and "shape of arg 0" in str(m.message) for m in w)


def test_thread_safe_cache():
    f = adjit.compile(lambda x: (x * 3).sum())
    results, errors = [], []

    def work():
        try:
            for _ in range(20):
                results.append(f(adjit.ones(5)).item())
        except Exception as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and results == [15.0] * 80 and f.trace_count == 1


def test_inplace_on_argument_is_refused():
    def f(x):
        x.add_(1)
        return x

    with pytest.raises(adjit.TracingError, match="in-place"):
        adjit.compile(f)(adjit.ones(2))


def test_compile_module_sees_optimizer_updates():
    nn = adjit.nn
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    step = adjit.compile(lambda xb, yb: nn.functional.mse_loss(model(xb), yb))
    opt = adjit.optim.SGD(model.parameters(), lr=0.1)
    xb, yb = adjit.randn(8, 3), adjit.randn(8, 1)
    eager_model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    eager_model.load_state_dict(model.state_dict())
    eager_opt = adjit.optim.SGD(eager_model.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        step(xb, yb).backward()
        opt.step()
        eager_opt.zero_grad()
        nn.functional.mse_loss(eager_model(xb), yb).backward()
        eager_opt.step()
    for p, q in zip(model.parameters(), eager_model.parameters(), strict=True):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-6)
    assert step.trace_count == 1


def test_compiled_module_forward_and_grads():
    nn = adjit.nn
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    cm = adjit.compile(model)
    x = adjit.randn(5, 3)
    np.testing.assert_allclose(cm(x).detach().numpy(), model(x).detach().numpy(), rtol=1e-6)
    cm(x).sum().backward()
    grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    model(x).sum().backward()
    for g, p in zip(grads, model.parameters(), strict=True):
        np.testing.assert_allclose(g.numpy(), p.grad.numpy(), rtol=1e-6)
    assert len(list(cm.parameters())) == 4


def test_named_tuple_results_keep_their_type() -> None:
    """sort/max/topk return PyTorch's named tuples compiled too (values=..., indices=...)."""
    f = adjit.compile(lambda x: (adjit.sort(x, 1), x.max(0), x.topk(2)))
    x = adjit.tensor([[3.0, 1.0, 2.0], [0.5, 4.0, 1.5]])
    (s, m, t), (es, em, et) = f(x), (adjit.sort(x, 1), x.max(0), x.topk(2))
    for got, want in ((s, es), (m, em), (t, et)):
        assert type(got) is type(want) and got._fields == ("values", "indices")
        assert repr(got) == repr(want)
