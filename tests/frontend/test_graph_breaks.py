"""Graph breaks: a value read splits a compiled function into compiled segments with Python in
between; values, gradients and side effects as eager mode, on both backends."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import adjit

BACKENDS = ["llvm", "interpreter", "eager"]


def _line_of(marker: str) -> int:
    with open(__file__) as f:
        return next(i for i, line in enumerate(f, 1) if marker in line and "_line_of" not in line)


# (name, fn(T, x, w, log)) a function reading a value in the middle; ``log`` gets what Python saw
BREAKS = {
    "item": lambda T, x, w, log: _two(T, x, w, lambda h: log.append(h.sum().item())),
    "bool-if": lambda T, x, w, log: _branch(T, x, w, log),
    "print": lambda T, x, w, log: _two(T, x, w, lambda h: log.append(repr(h))),
    "tolist": lambda T, x, w, log: _two(T, x, w, lambda h: log.append(h.tolist())),
    "numpy": lambda T, x, w, log: _two(T, x, w, lambda h: log.append(h.detach().numpy().sum())),
    "float": lambda T, x, w, log: _two(T, x, w, lambda h: log.append(float(h.sum()))),
    "format": lambda T, x, w, log: _two(T, x, w, lambda h: log.append(f"{h.sum():.3f}")),
    "index": lambda T, x, w, log: _index(T, x, w, log),
}


def _two(T, x, w, look):
    h = (x @ w).tanh()
    look(h)
    return (h * h).sum() + w.sin().sum()


def _branch(T, x, w, log):
    h = (x @ w).tanh()
    if h.sum() > 0:  # data-dependent if
        log.append("pos")
        return (h * 2).sum()
    log.append("neg")
    return (h.exp()).sum()


def _index(T, x, w, log):
    h = (x @ w).tanh()
    k = T.argmax(h.sum(0))
    log.append(int(k))
    return h[:, k].sum() + h.sum()  # a tensor used as a Python index


def _data(sign: float = 1.0):
    rng = np.random.default_rng(0)
    return rng.standard_normal((3, 4)), sign * np.abs(rng.standard_normal((4, 5)))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(BREAKS))
def test_values_gradients_and_side_effects_equal_eager(name: str, backend: str) -> None:
    torch = pytest.importorskip("torch")
    fn = BREAKS[name]
    X, W = _data()
    want_log: list = []
    tx, tw = torch.tensor(X), torch.tensor(W, requires_grad=True)
    want = fn(torch, tx, tw, want_log)
    want.backward()
    got_log: list = []
    compiled = adjit.compile(lambda x, w: fn(adjit, x, w, got_log), backend=backend)
    x = adjit.tensor(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(3):  # the first call finds the break, the others run in segment mode
            w = adjit.tensor(W, requires_grad=True)
            out = compiled(x, w)
            out.backward()
            np.testing.assert_allclose(out.item(), want.item(), rtol=1e-12)
            np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-12, atol=1e-15)
    # every call's Python side effects, in order, with what Python saw
    assert len(got_log) == 3 * len(want_log)
    for got, want_seen in zip(got_log, want_log * 3, strict=True):
        if name == "print":  # PyTorch's text; a compiled value's grad_fn, as torch.compile's
            assert got.split("grad_fn")[0] == want_seen.split("grad_fn")[0]
            node = "TanhBackward0" if backend == "eager" else "CompiledFunctionBackward"
            assert f"grad_fn=<{node}>" in got  # ("eager" replays through eager autograd)
        elif isinstance(want_seen, str):
            assert got == want_seen
        else:  # compiled arithmetic may round differently (float64 here)
            np.testing.assert_allclose(got, want_seen, rtol=1e-12)


def test_recompiles_when_the_observed_branch_changes() -> None:
    log: list[str] = []
    compiled = adjit.compile(lambda x, w: _branch(adjit, x, w, log))
    x = adjit.tensor(_data()[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for sign in (1.0, -1.0, 1.0, -1.0):
            w = adjit.tensor(_data(sign)[1])
            eager_log: list[str] = []
            want = _branch(adjit, x, w, eager_log)
            assert compiled(x, w).item() == pytest.approx(want.item(), rel=1e-6)
            assert log[-1] == eager_log[-1]
    assert log == ["pos", "neg", "pos", "neg"]
    # the prefix once, and one tail per branch (each compiled once, then found again)
    assert len(compiled._segments) == 3 and compiled.trace_count == 1


def test_side_effects_happen_on_every_call() -> None:
    model = adjit.nn.Linear(4, 1)
    losses: list[float] = []
    calls = [0]

    @adjit.compile
    def step(x, y):
        calls[0] += 1
        loss = adjit.nn.functional.mse_loss(model(x), y)
        losses.append(loss.item())
        return loss

    x, y = adjit.randn(8, 4), adjit.randn(8, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = [step(x, y) for _ in range(4)]
    want = adjit.nn.functional.mse_loss(model(x), y).item()
    assert calls[0] == 4 and losses == pytest.approx([want] * 4, rel=1e-6)
    assert [g.item() for g in got] == pytest.approx([want] * 4, rel=1e-6)


def test_gradients_flow_through_every_segment_into_parameters() -> None:
    adjit.manual_seed(0)
    model = adjit.nn.Sequential(adjit.nn.Linear(4, 8), adjit.nn.Tanh(), adjit.nn.Linear(8, 1))
    x, y = adjit.randn(16, 4), adjit.randn(16, 1)

    def step(x, y):
        h = model[1](model[0](x))
        scale = 2.0 if h.mean().item() > 0 else 0.5  # a Python number from a value
        out = model[2](h * scale)
        print_me = out.abs().max()
        _ = f"{print_me:.2f}"  # a second break
        return ((out - y) ** 2).mean()

    want = step(x, y)
    want.backward()
    grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compiled = adjit.compile(step)
        for _ in range(2):
            got = compiled(x, y)
            got.backward()
            assert got.item() == pytest.approx(want.item(), rel=1e-6)
            for g, p in zip(grads, model.parameters(), strict=True):
                np.testing.assert_allclose(p.grad.numpy(), g.numpy(), rtol=1e-5, atol=1e-7)
            model.zero_grad()


def test_fullgraph_turns_a_break_into_the_error_naming_the_line() -> None:
    @adjit.compile(fullgraph=True)
    def f(x):
        return x * x.sum().item()  # the value read

    with pytest.raises(adjit.TracingError) as info:
        f(adjit.ones(3))
    assert f"test_graph_breaks.py:{_line_of('# the value read')}" in str(info.value)
    assert "Tensor.item()" in str(info.value)


def test_one_warning_per_function_counting_the_breaks() -> None:
    def f(x):
        a = x.sum().item()
        b = (x * 2).sum().item()
        return x * (a + b)

    compiled = adjit.compile(f)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        for _ in range(3):
            compiled(adjit.ones(2))
    texts = [str(m.message) for m in w]
    assert len(texts) == 1 and "2 graph breaks" in texts[0], texts
    assert f"test_graph_breaks.py:{_line_of('a = x.sum().item()')}" in texts[0]


def test_explain_lists_each_break_and_the_compiled_share() -> None:
    def f(x):
        h = x.exp()
        n = h.sum().item()  # break one
        if (h > 1).any():  # break two
            h = h * 2
        return h / n

    compiled = adjit.compile(f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ex = adjit.explain(compiled, adjit.ones(3))
    lines = [b.loc for b in ex.breaks]
    assert [b.reason for b in ex.breaks] == [
        "Tensor.item()",
        "bool(tensor), e.g. `if tensor:` or a comparison in `if`",
    ]
    assert lines[0].endswith(f":{_line_of('# break one')}")
    assert lines[1].endswith(f":{_line_of('# break two')}")
    assert len(ex.segments) == 3
    assert ex.compiled_eqns == sum(len(g.eqns) for g in ex.segments) > 0
    text = str(ex)
    assert "== graph breaks (2" in text and "== compiled share" in text
    assert f"{ex.compiled_eqns} equations compiled in 3 segments" in text
    # without breaks: the whole call compiled
    whole = adjit.explain(lambda x: x.exp().sum(), adjit.ones(3))
    assert whole.breaks == [] and whole.share.startswith("2 equations compiled")


def test_disable_runs_eagerly_inside_a_compiled_function() -> None:
    seen: list[bool] = []

    @adjit.compiler.disable
    def eager_part(t):
        seen.append(adjit.compiler.is_compiling())
        return t * 3

    def f(x):
        seen.append(adjit.compiler.is_compiling())
        return eager_part(x.sin()).cos().sum()

    x = adjit.randn(4, requires_grad=True)
    want = f(x)
    (gw,) = adjit.autograd.grad(want, x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compiled = adjit.compile(f)
        for _ in range(2):
            got = compiled(x)
            (g,) = adjit.autograd.grad(got, x)
            assert got.item() == pytest.approx(want.item(), rel=1e-6)
            np.testing.assert_allclose(g.numpy(), gw.numpy(), rtol=1e-6)
    # eager: (False, False); traced: (True, False) per call
    assert seen == [False, False] + [True, False] * 2
    with pytest.raises(adjit.TracingError, match="compiler.disable"):
        adjit.compile(f, fullgraph=True)(x)
    assert eager_part(adjit.ones(1)).item() == 3.0


def test_a_break_inside_a_custom_function_forward() -> None:
    class Halve(adjit.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x / 2 if x.sum().item() > 0 else x

        @staticmethod
        def backward(ctx, g):
            return g / 3

    compiled = adjit.compile(lambda t: Halve.apply(t * 2).sum())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for sign in (1.0, -1.0, 1.0):
            x = (sign * adjit.ones(3)).requires_grad_()
            out = compiled(x)
            out.backward()
            y = (sign * adjit.ones(3)).requires_grad_()
            want = Halve.apply(y * 2).sum()
            want.backward()
            assert out.item() == want.item()
            np.testing.assert_array_equal(x.grad.numpy(), y.grad.numpy())


def test_argument_returned_after_a_break_is_the_argument() -> None:
    def f(x):
        _ = x.sum().item()
        return x, x * 2

    x = adjit.ones(2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compiled = adjit.compile(f)
        for _ in range(2):
            a, b = compiled(x)
            assert a is x and b.tolist() == [2.0, 2.0]


@pytest.mark.parametrize("where", ["after-forward", "after-backward", "after-step"])
@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_whole_training_step_with_a_break_equals_eager(where: str, optimizer: str) -> None:
    x, y = adjit.randn(16, 4), adjit.randn(16, 1)
    runs = {}
    for mode in ("eager", "compiled"):
        adjit.manual_seed(0)
        m = adjit.nn.Linear(4, 1)
        if optimizer == "SGD":  # momentum: optimizer state made by the first step
            opt = adjit.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
        else:
            opt = adjit.optim.Adam(m.parameters(), lr=0.1)
        log: list[float] = []

        def step(x, y, m=m, opt=opt, log=log):
            opt.zero_grad()
            loss = ((m(x) - y) ** 2).mean()
            if where == "after-forward":
                log.append(loss.item())  # then backward() runs on a value from before it
            loss.backward()
            if where == "after-backward":
                log.append(m.bias.grad.item())
            opt.step()
            if where == "after-step":
                log.append(loss.item())
            return loss

        f = step if mode == "eager" else adjit.compile(step)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            losses = [f(x, y).item() for _ in range(4)]
        runs[mode] = (losses, log, [p.detach().numpy().copy() for p in m.parameters()])
    (el, elog, ep), (cl, clog, cp) = runs["eager"], runs["compiled"]
    np.testing.assert_allclose(cl, el, rtol=1e-5)  # float32, four steps of updates
    np.testing.assert_allclose(clog, elog, rtol=1e-5)
    for a, b in zip(cp, ep, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_module_templates_follow_every_change_of_the_module() -> None:
    """Segment mode re-emits adjit's own modules' recorded calls (Note [module call
    templates]); any change of what they depend on records them again."""
    adjit.manual_seed(0)
    model = adjit.nn.Sequential(
        adjit.nn.Linear(3, 4),
        adjit.nn.ReLU(inplace=True),
        adjit.nn.Dropout(0.0),
        adjit.nn.Linear(4, 2),
    )
    x = adjit.randn(5, 3)

    def f(x):
        out = model(x)
        _ = out.sum().item()
        return out * 2

    compiled = adjit.compile(f)

    def check() -> None:
        np.testing.assert_allclose(compiled(x).detach().numpy(), f(x).detach().numpy(), rtol=1e-6)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check()
        check()
        assert compiled._module_memo  # templates were recorded and are used
        model[0].weight = adjit.nn.Parameter(adjit.randn(4, 3))  # a new parameter object
        check()
        with adjit.no_grad():
            model[3].bias.add_(1.0)  # in place: read afresh at every call
        check()
        model[3].out_features = 2  # a plain attribute (same value): still fine
        model[0].weight.requires_grad_(False)
        out = compiled(x)
        out.sum().backward()
        assert model[0].weight.grad is None and model[3].weight.grad is not None
        model.eval()
        check()
        model[2].p = 1.0  # dropout probability changed (eval: no effect, as eagerly)
        model.train()
        check()  # train mode with p=1: all zeros, as eagerly


def test_in_place_after_a_break() -> None:
    def on_argument(x):
        s = x.sum().item()
        x.add_(s)  # the argument itself, after the break
        return x * 2

    compiled = adjit.compile(on_argument)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(2):
            x, want_x = adjit.ones(2, 3), adjit.ones(2, 3)
            want = on_argument(want_x)
            assert compiled(x).tolist() == want.tolist() and x.tolist() == want_x.tolist()

    def view_then_base(x):
        v = x[0]
        s = v.sum().item()
        v.mul_(2)  # seen through x eagerly: refused, not computed wrong
        return x + s

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(adjit.TracingError, match="shares memory"):
            adjit.compile(view_then_base)(adjit.ones(2, 3))


@pytest.mark.parametrize("backend", ["llvm", "interpreter"])
def test_numbers_read_at_a_break_become_inputs_not_recompiles(backend: str) -> None:
    def f(x):
        s = x.sum().item()  # a new Python number every call
        return x * s + s**2

    compiled = adjit.compile(f, backend=backend)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k in range(8):
            x = adjit.tensor(np.linspace(-1.0, 1.0 + k, 5))  # float64: exact comparison
            np.testing.assert_allclose(compiled(x).numpy(), f(x).numpy(), rtol=1e-15)
    # the first segment, the second with the values of the first call, then with them as inputs
    assert len(compiled._segments) == 3


def test_constants_made_from_values_become_inputs_not_recompiles() -> None:
    def f(x):
        s = x.sum().item()
        t = adjit.tensor([s, 2 * s], dtype=adjit.float64)  # a new constant every call
        return x * t

    compiled = adjit.compile(f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k in range(6):
            x = adjit.tensor([0.5 + k, -1.0], dtype=adjit.float64)
            np.testing.assert_array_equal(compiled(x).numpy(), f(x).numpy())
    assert len(compiled._segments) == 3


def test_logging_training_step_with_dropout_clipping_and_adamw_equals_eager() -> None:
    """Issue 15's logging loop: loss.item() every step inside a compiled whole training step
    (dropout draws in the compiled segment, clip_grad_norm_ and AdamW after the break)."""
    x, y = adjit.randn(5, 8), adjit.randint(0, 4, (5,))
    runs = {}
    for mode in ("eager", "compiled"):
        adjit.manual_seed(0)
        m = adjit.nn.Sequential(
            adjit.nn.Linear(8, 16),
            adjit.nn.GELU(),
            adjit.nn.Dropout(0.3),
            adjit.nn.LayerNorm(16),
            adjit.nn.Linear(16, 4),
        )
        opt = adjit.optim.AdamW(m.parameters(), lr=1e-2)
        log: list[float] = []

        def step(x, y, m=m, opt=opt, log=log):
            opt.zero_grad()
            loss = adjit.nn.functional.cross_entropy(m(x), y)
            log.append(loss.item())
            loss.backward()
            adjit.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
            opt.step()
            return loss

        f = step if mode == "eager" else adjit.compile(step)
        adjit.manual_seed(123)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(5):
                f(x, y)
        runs[mode] = (log, [p.detach().numpy().copy() for p in m.parameters()])
    np.testing.assert_allclose(runs["compiled"][0], runs["eager"][0], rtol=1e-6)
    for a, b in zip(runs["compiled"][1], runs["eager"][1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
