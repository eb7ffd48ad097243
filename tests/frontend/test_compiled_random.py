"""Random numbers in compiled code (Note [random numbers in compiled code]): a compiled call
draws fresh numbers, the numbers eager mode draws for the same seed and calls (PyTorch's where
eager's are), on both backends, under compile, grad and value_and_grad."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from adjit.ir.ops import Op

import adjit

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(15)
X = RNG.standard_normal((3, 4)).astype(np.float32)
X3 = RNG.standard_normal((2, 3, 5)).astype(np.float32)
X4 = RNG.standard_normal((2, 3, 2, 2)).astype(np.float32)
X5 = RNG.standard_normal((2, 3, 2, 2, 2)).astype(np.float32)
BACKENDS = ["llvm", "interpreter"]
CALLS = 3


def _fill(method: str, *args: Any, **kwargs: Any) -> Callable[..., Any]:
    """``(x * 1).method_(*args)``: an in-place draw into a traced intermediate."""
    return lambda L, x: getattr(x * 1, method)(*args, **kwargs) + 0


# name -> (function of (library, *tensors), arguments, eager equals PyTorch); the library is
# torch or adjit
CASES: dict[str, tuple[Callable[..., Any], list[np.ndarray], bool]] = {
    "rand": (lambda L, x: L.rand(3, 4) + x, [X], True),
    "rand-big": (lambda L, x: L.rand(70, 3), [X], True),
    "rand-float64": (lambda L, x: L.rand(5, dtype=L.float64), [X], True),
    "randn": (lambda L, x: L.randn(5, 7) * x[0, 0], [X], True),
    "randn-small": (lambda L, x: L.randn(3), [X], True),  # the cached double normals
    "randn-float64": (lambda L, x: L.randn(4, 5, dtype=L.float64), [X], True),
    "rand_like": (lambda L, x: L.rand_like(x), [X], True),
    "randn_like": (lambda L, x: L.randn_like(x * 2), [X], True),
    "randint": (lambda L, x: L.randint(0, 10, (3, 4)), [X], True),
    "randint-high": (lambda L, x: L.randint(7, (5,)), [X], True),
    "randint_like": (lambda L, x: L.randint_like(x, 3, 9), [X], True),
    "randperm": (lambda L, x: L.randperm(10), [X], True),
    "bernoulli-tensor": (lambda L, x: L.bernoulli(L.sigmoid(x)), [X], True),
    "bernoulli-float": (lambda L, x: L.bernoulli(x, 0.3), [X], True),
    "bernoulli-method": (lambda L, x: L.sigmoid(x).bernoulli(), [X], True),
    "uniform_": (_fill("uniform_", -1.0, 2.0), [X], True),
    "normal_": (_fill("normal_", 1.0, 2.0), [X], True),
    "normal_-big": (_fill("normal_"), [X3], True),
    "random_": (_fill("random_", 0, 10), [X], True),
    "random_-to": (_fill("random_", 5), [X], True),
    "random_-default": (_fill("random_"), [X], True),
    "exponential_": (_fill("exponential_", 2.0), [X], True),
    "geometric_": (_fill("geometric_", 0.3), [X], True),
    "cauchy_": (_fill("cauchy_"), [X], True),
    "log_normal_": (_fill("log_normal_"), [X], True),
    "bernoulli_-float": (_fill("bernoulli_", 0.3), [X], True),
    "bernoulli_-tensor": (lambda L, x: (x * 1).bernoulli_(L.sigmoid(x[0])), [X], True),
    "normal-tensor-mean": (lambda L, x: L.normal(x, 2.0), [X], True),
    "normal-tensor-std": (lambda L, x: L.normal(1.0, x.abs()), [X], True),
    "normal-tensors": (lambda L, x: L.normal(x, x.abs() + 1), [X], True),
    "normal-size": (lambda L, x: L.normal(0.5, 2.0, (3, 4)), [X], True),
    "poisson": (lambda L, x: L.poisson(x.abs() * 4), [X], True),
    "multinomial": (lambda L, x: L.multinomial(L.softmax(x, 1), 3), [X], True),
    "multinomial-replacement": (
        lambda L, x: L.multinomial(L.softmax(x, 1), 6, replacement=True),
        [X],
        True,
    ),
    "dropout": (lambda L, x: L.nn.functional.dropout(x, 0.3), [X], True),
    "dropout-inplace": (lambda L, x: L.nn.functional.dropout(x * 1, 0.6, inplace=True), [X], True),
    "dropout-p1": (lambda L, x: L.nn.functional.dropout(x, 1.0), [X], True),
    "dropout1d": (lambda L, x: L.nn.functional.dropout1d(x, 0.5), [X3], True),
    "dropout2d": (lambda L, x: L.nn.functional.dropout2d(x, 0.5), [X4], True),
    "dropout3d": (lambda L, x: L.nn.functional.dropout3d(x, 0.5), [X5], True),
    "alpha_dropout": (lambda L, x: L.nn.functional.alpha_dropout(x, 0.3, True), [X], True),
    "feature_alpha_dropout": (
        lambda L, x: L.nn.functional.feature_alpha_dropout(x, 0.3, True),
        [X4],
        True,
    ),
    "Dropout-module": (lambda L, x: L.nn.Dropout(0.4)(x), [X], True),
    "rrelu": (lambda L, x: L.nn.functional.rrelu(x, training=True), [X], True),
    "gumbel_softmax": (lambda L, x: L.nn.functional.gumbel_softmax(x, 0.5), [X], False),
    "rand-float16": (lambda L, x: L.rand(3, 5, dtype=L.float16), [X], True),
    "randn-bfloat16": (lambda L, x: L.randn(4, 5, dtype=L.bfloat16).float(), [X], True),
    "dropout-bfloat16": (
        lambda L, x: L.nn.functional.dropout(x.bfloat16(), 0.3).float(),
        [X],
        True,
    ),
    "bernoulli-float16": (lambda L, x: L.bernoulli(L.sigmoid(x).half()), [X], True),
    "rrelu-float64": (lambda L, x: L.nn.functional.rrelu(x.double(), 0.1, 0.6, True), [X], True),
    "fractional_max_pool2d": (
        lambda L, x: L.nn.FractionalMaxPool2d(2, 7, return_indices=True)(x)[1],
        [RNG.standard_normal((2, 3, 16, 16)).astype(np.float32)],
        True,
    ),
    "fractional_max_pool3d": (
        lambda L, x: L.nn.FractionalMaxPool3d(2, (5, 5, 3), return_indices=True)(x)[1],
        [RNG.standard_normal((1, 2, 9, 9, 7)).astype(np.float32)],
        True,
    ),
    # eager mode draws a permuted tensor's samples in its memory order; traced permutes too
    "dropout-transposed": (lambda L, x: L.nn.functional.dropout(x.t(), 0.5), [X], True),
    "randn_like-permuted": (lambda L, x: L.randn_like(x.permute(2, 0, 1)), [X3], True),
    "rand_like-permuted-twice": (
        lambda L, x: L.rand_like(x.transpose(0, 1).permute(2, 1, 0)),
        [X3],
        True,
    ),
    "two-draws": (lambda L, x: L.rand(3, 4) * L.randn(3, 4) + L.rand(2).sum(), [X], True),
}


# cases whose arithmetic around the draw (exp, log) compiled kernels compute with their own
# vectorized functions, within an ulp or two of NumPy's: compared to a relative tolerance
INEXACT = {"gumbel_softmax": 1e-6}


def _eager_runs(fn: Callable[..., Any], arrays: list[np.ndarray], seed: int) -> list[np.ndarray]:
    adjit.manual_seed(seed)
    args = [adjit.tensor(a) for a in arrays]
    return [fn(adjit, *args).numpy() for _ in range(CALLS)]


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(CASES))
def test_compiled_draws_as_eager(name: str, backend: str) -> None:
    fn, arrays, _ = CASES[name]
    expected = _eager_runs(fn, arrays, 3)
    compiled = adjit.compile(lambda *a: fn(adjit, *a), backend=backend)
    adjit.manual_seed(3)
    args = [adjit.tensor(a) for a in arrays]
    got = [compiled(*args).numpy() for _ in range(CALLS)]
    assert compiled.trace_count == 1
    for k, (g, e) in enumerate(zip(got, expected, strict=True)):
        if name in INEXACT and backend == "llvm":
            np.testing.assert_allclose(g, e, rtol=INEXACT[name])
            continue
        assert _same(g, e), f"call {k}: compiled {g} != eager {e}"
    if name != "dropout-p1":
        assert not _same(got[0], got[1]), "successive calls drew the same numbers"
    state = adjit.get_rng_state().numpy()
    _eager_runs(fn, arrays, 3)
    assert _same(state, adjit.get_rng_state().numpy()), "the generator ended elsewhere"


@pytest.mark.parametrize("name", [n for n, case in CASES.items() if case[2]])
def test_eager_draws_as_torch(name: str) -> None:
    fn, arrays, _ = CASES[name]
    ours = _eager_runs(fn, arrays, 5)
    torch.manual_seed(5)
    args = [torch.tensor(a) for a in arrays]
    theirs = [fn(torch, *args).numpy() for _ in range(CALLS)]
    for g, e in zip(ours, theirs, strict=True):
        assert _same(g, e), f"{g} != torch's {e}"


# functions with a gradient to compare: (library, x) -> scalar
GRAD_CASES: dict[str, Callable[..., Any]] = {
    "dropout": lambda L, x: (L.nn.functional.dropout(x.tanh(), 0.4) * x).sum(),
    "alpha_dropout": lambda L, x: L.nn.functional.alpha_dropout(x * x, 0.3, True).sum(),
    "rrelu": lambda L, x: (L.nn.functional.rrelu(x, training=True) ** 2).sum(),
    "normal-mean": lambda L, x: (L.normal(x, 1.0) * x).sum(),
    "bernoulli": lambda L, x: (L.bernoulli(L.sigmoid(x)) * x).sum(),
    "uniform_": lambda L, x: ((x * 2).uniform_() * x).sum(),
    "rand": lambda L, x: (L.rand(3, 4) * x.exp()).sum(),
}


def _eager_grads(fn: Callable[..., Any], seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    adjit.manual_seed(seed)
    out = []
    for _ in range(CALLS):
        x = adjit.tensor(X, requires_grad=True)
        y = fn(adjit, x)
        y.backward()
        out.append((y.detach().numpy(), x.grad.numpy()))
    return out


@pytest.mark.parametrize("how", ["backward", "value_and_grad", "grad"])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(GRAD_CASES))
def test_gradients_as_eager(name: str, backend: str, how: str) -> None:
    fn = GRAD_CASES[name]
    expected = _eager_grads(fn, 7)
    adjit.manual_seed(7)
    if how == "backward":
        compiled = adjit.compile(lambda x: fn(adjit, x), backend=backend)
        got = []
        for _ in range(CALLS):
            x = adjit.tensor(X, requires_grad=True)
            y = compiled(x)
            y.backward()
            got.append((y.detach().numpy(), x.grad.numpy()))
    elif how == "value_and_grad":
        vg = adjit.value_and_grad(lambda x: fn(adjit, x), backend=backend)
        got = [tuple(t.numpy() for t in vg(adjit.tensor(X))) for _ in range(CALLS)]
    else:
        g = adjit.grad(lambda x: fn(adjit, x), backend=backend)
        got = [(e[0], g(adjit.tensor(X)).numpy()) for e in expected]
    for (value, grad), (e_value, e_grad) in zip(got, expected, strict=True):
        # the sums: a compiled reduction may add in another order than NumPy's pairwise sum
        np.testing.assert_allclose(value, e_value, rtol=1e-6)
        np.testing.assert_allclose(grad, e_grad, rtol=1e-6, atol=1e-6)
    state = adjit.get_rng_state().numpy()
    _eager_grads(fn, 7)
    assert _same(state, adjit.get_rng_state().numpy()), "the generator ended elsewhere"


@pytest.mark.parametrize("backend", BACKENDS)
def test_unused_draws_advance_the_generator(backend: str) -> None:
    def f(L: Any, x: Any) -> Any:
        L.rand(5)  # unused: eager draws it all the same
        L.nn.functional.dropout(x, 0.5)
        return x + L.rand(3, 4)

    expected = _eager_runs(f, [X], 11)
    compiled = adjit.compile(lambda x: f(adjit, x), backend=backend)
    adjit.manual_seed(11)
    got = [compiled(adjit.tensor(X)).numpy() for _ in range(CALLS)]
    assert all(_same(g, e) for g, e in zip(got, expected, strict=True))
    entry, _ = compiled.graph_for(adjit.tensor(X))
    assert [e.op for e in entry.inference().eqns].count(Op.RANDOM) == 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_training_plan_keeps_unused_draws_in_the_forward(backend: str) -> None:
    def f(L: Any, x: Any) -> Any:
        L.randn(4)
        return (L.nn.functional.dropout(x, 0.5) * x).sum()

    expected = _eager_grads(f, 2)
    compiled = adjit.compile(lambda x: f(adjit, x), backend=backend)
    adjit.manual_seed(2)
    for e_value, e_grad in expected:
        x = adjit.tensor(X, requires_grad=True)
        y = compiled(x)
        y.backward()
        np.testing.assert_allclose(y.detach().numpy(), e_value, rtol=1e-6)
        np.testing.assert_array_equal(x.grad.numpy(), e_grad)
    x = adjit.tensor(X, requires_grad=True)
    entry, _ = compiled.graph_for(x)
    parts = entry.training((0,)).split
    assert [e.op for e in parts.forward.eqns].count(Op.RANDOM) == 2
    assert Op.RANDOM not in [e.op for e in parts.backward.eqns]


@pytest.mark.parametrize("backend", BACKENDS)
def test_manual_seed_and_rng_state_between_calls(backend: str) -> None:
    compiled = adjit.compile(lambda x: adjit.nn.functional.dropout(x, 0.5), backend=backend)
    x = adjit.tensor(X)
    adjit.manual_seed(1)
    a = compiled(x).numpy()
    adjit.manual_seed(1)
    b = compiled(x).numpy()
    state = adjit.get_rng_state()
    c = compiled(x).numpy()
    adjit.set_rng_state(state)
    d = compiled(x).numpy()
    assert _same(a, b) and _same(c, d) and not _same(a, c)
    torch.manual_seed(1)
    assert _same(a, torch.nn.functional.dropout(torch.tensor(X), 0.5).numpy())


@pytest.mark.parametrize("backend", BACKENDS)
def test_explicit_generators(backend: str) -> None:
    def f(L: Any, x: Any, g: Any) -> Any:
        return L.rand(3, 4, generator=g) + L.randn(3, 4, generator=g) * x

    g = adjit.Generator().manual_seed(4)
    compiled = adjit.compile(lambda x, g: f(adjit, x, g), backend=backend)
    adjit.manual_seed(0)
    default_before = adjit.get_rng_state().numpy()
    x = adjit.tensor(X)
    got = [compiled(x, g).numpy() for _ in range(CALLS)]
    assert _same(default_before, adjit.get_rng_state().numpy()), "the default generator moved"
    tg = torch.Generator().manual_seed(4)
    theirs = [f(torch, torch.tensor(X), tg).numpy() for _ in range(CALLS)]
    assert all(_same(a, b) for a, b in zip(got, theirs, strict=True))
    h = adjit.Generator().manual_seed(4)  # another generator object: its own stream
    assert _same(compiled(x, h).numpy(), theirs[0])
    assert compiled.trace_count == 2


def test_generator_in_closure_is_read_at_call_time() -> None:
    g = adjit.Generator()
    compiled = adjit.compile(lambda x: x + adjit.rand(3, 4, generator=g))
    x = adjit.tensor(X)
    g.manual_seed(9)
    a = compiled(x).numpy()
    g.manual_seed(9)
    assert _same(a, compiled(x).numpy())


@pytest.mark.parametrize("backend", BACKENDS)
def test_fills_of_tensors_made_inside(backend: str) -> None:
    """``x.new_empty(...).bernoulli_(p)`` (stochastic depth), ``torch.empty(n).uniform_()``: the
    tensor made inside becomes the traced sample; uses before the fill keep the old values."""

    def f(L: Any, x: Any) -> Any:
        keep = x.new_empty(3, 1).bernoulli_(0.7).div_(0.7)
        t = L.zeros(3, 4)
        before = x + t
        t.uniform_(-1, 1)
        p = L.full((4,), 0.25)
        return L.empty_like(x).bernoulli_(p) * x * keep + t + before

    expected = _eager_runs(f, [X], 8)
    compiled = adjit.compile(lambda x: f(adjit, x), backend=backend)
    adjit.manual_seed(8)
    got = [compiled(adjit.tensor(X)).numpy() for _ in range(CALLS)]
    assert all(_same(g, e) for g, e in zip(got, expected, strict=True))
    assert not _same(got[0], got[1])
    torch.manual_seed(8)
    assert _same(expected[0], f(torch, torch.tensor(X)).numpy())


def test_fill_of_a_view_of_a_tensor_made_inside_refuses_clearly() -> None:
    compiled = adjit.compile(lambda x: x + adjit.empty(4, 3).t().uniform_())
    with pytest.raises(RuntimeError, match="in-place random fill of a view of a tensor created"):
        compiled(adjit.tensor(X))


@pytest.mark.parametrize("backend", BACKENDS)
def test_probability_errors_at_run_time(backend: str) -> None:
    compiled = adjit.compile(lambda p: adjit.bernoulli(p * 2), backend=backend)
    compiled(adjit.tensor([0.1, 0.2]))
    with pytest.raises(RuntimeError, match=r"Expected p_in >= 0 && p_in <= 1"):
        compiled(adjit.tensor([0.1, 0.7]))


# ---- a dropout MLP trained eagerly and compiled ---------------------------------------------
def _mlp(L: Any) -> Any:
    L.manual_seed(0)
    return L.nn.Sequential(L.nn.Linear(4, 16), L.nn.ReLU(), L.nn.Dropout(0.3), L.nn.Linear(16, 1))


def _train(model: Any, loss_fn: Callable[..., Any], steps: int = 20) -> list[float]:
    opt = adjit.optim.SGD(model.parameters(), lr=0.05)
    data = np.random.default_rng(1)
    xs = adjit.tensor(data.standard_normal((32, 4)).astype(np.float32))
    ys = adjit.tensor(data.standard_normal((32, 1)).astype(np.float32))
    adjit.manual_seed(123)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(xs, ys)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


# Note [training equality]: the masks are eager's, bit for bit (the generator ends each step in
# the same state), but the arithmetic around them may differ in the last bit: BLAS sums the
# first layer's weight gradient in another order when eager mode's operand is laid out
# transposed, and a compiled kernel sums the loss in its own order. So one model is stepped
# with both losses at each step (the interpreter's loss bit-identical, the kernels' to 1e-6),
# and whole trajectories agree to 1e-6.
@pytest.mark.parametrize("backend", BACKENDS)
def test_dropout_mlp_steps_as_eager(backend: str) -> None:
    model = _mlp(adjit)
    opt = adjit.optim.SGD(model.parameters(), lr=0.05)
    data = np.random.default_rng(1)
    xs = adjit.tensor(data.standard_normal((32, 4)).astype(np.float32))
    ys = adjit.tensor(data.standard_normal((32, 1)).astype(np.float32))
    compiled = adjit.compile(
        lambda x, y: adjit.nn.functional.mse_loss(model(x), y), backend=backend
    )
    adjit.manual_seed(123)
    losses = []
    for _ in range(20):
        state = adjit.get_rng_state()
        opt.zero_grad()
        eager = adjit.nn.functional.mse_loss(model(xs), ys)
        eager.backward()
        eager_grads = [p.grad.numpy().copy() for p in model.parameters()]
        after = adjit.get_rng_state().numpy()
        adjit.set_rng_state(state)
        opt.zero_grad()
        loss = compiled(xs, ys)
        loss.backward()
        if backend == "interpreter":
            assert _same(loss.detach().numpy(), eager.detach().numpy())
        else:  # a kernel sums the 32 squares in its own order
            np.testing.assert_allclose(loss.item(), eager.item(), rtol=1e-6)
        assert _same(after, adjit.get_rng_state().numpy())
        for p, g in zip(model.parameters(), eager_grads, strict=True):
            np.testing.assert_allclose(p.grad.numpy(), g, rtol=1e-6, atol=1e-7)
        opt.step()
        losses.append(loss.item())
    assert len(set(losses)) == len(losses)


@pytest.mark.parametrize("backend", BACKENDS)
def test_dropout_mlp_trains_as_eager(backend: str) -> None:
    eager_model = _mlp(adjit)
    eager = _train(eager_model, lambda x, y: adjit.nn.functional.mse_loss(eager_model(x), y))
    model = _mlp(adjit)
    loss_fn = adjit.compile(lambda x, y: adjit.nn.functional.mse_loss(model(x), y), backend=backend)
    compiled = _train(model, loss_fn)
    np.testing.assert_allclose(compiled, eager, rtol=1e-6)  # Note [training equality]
    assert len(set(eager)) == len(eager)
    torch_model = _mlp(torch)
    opt = torch.optim.SGD(torch_model.parameters(), lr=0.05)
    data = np.random.default_rng(1)
    xs = torch.tensor(data.standard_normal((32, 4)).astype(np.float32))
    ys = torch.tensor(data.standard_normal((32, 1)).astype(np.float32))
    torch.manual_seed(123)
    theirs = []
    for _ in range(20):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(torch_model(xs), ys)
        loss.backward()
        opt.step()
        theirs.append(loss.item())
    assert theirs[0] == eager[0]
    np.testing.assert_allclose(eager, theirs, rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_dropout_mlp_value_and_grad_as_eager(backend: str) -> None:
    F = adjit.nn.functional

    def loss(w1: Any, b1: Any, w2: Any, b2: Any, x: Any, y: Any) -> Any:
        h = F.dropout(F.relu(F.linear(x, w1, b1)), 0.3)
        return F.mse_loss(F.linear(h, w2, b2), y)

    def run(step: Callable[..., Any]) -> list[float]:
        model = _mlp(adjit)
        params = [p.detach().clone() for p in model.parameters()]
        data = np.random.default_rng(1)
        xs = adjit.tensor(data.standard_normal((32, 4)).astype(np.float32))
        ys = adjit.tensor(data.standard_normal((32, 1)).astype(np.float32))
        adjit.manual_seed(123)
        losses = []
        for _ in range(20):
            value, grads = step(params, xs, ys)
            params = [p - 0.05 * g for p, g in zip(params, grads, strict=True)]
            losses.append(value.item())
        return losses

    def eager_step(params: list[Any], x: Any, y: Any) -> tuple[Any, list[Any]]:
        ps = [p.detach().requires_grad_() for p in params]
        value = loss(*ps, x, y)
        value.backward()
        return value, [p.grad for p in ps]

    vg = adjit.value_and_grad(loss, argnums=(0, 1, 2, 3), backend=backend)
    eager = run(eager_step)
    compiled = run(lambda params, x, y: vg(*params, x, y))
    np.testing.assert_allclose(compiled, eager, rtol=1e-6)
    assert len(set(eager)) == len(eager)


@pytest.mark.parametrize("backend", BACKENDS)
def test_dropout_after_batch_first_lstm(backend: str) -> None:
    """A batch_first LSTM's output is a transposed view: eager mode (and PyTorch) draw its
    dropout mask in memory order, and so does the compiled call."""
    adjit.manual_seed(0)
    lstm, drop = adjit.nn.LSTM(3, 4, batch_first=True), adjit.nn.Dropout(0.5)

    def f(x: Any) -> Any:
        return drop(lstm(x)[0])

    x = adjit.tensor(X3[:, :, :3])
    with adjit.no_grad():
        expected = _eager_runs(lambda L, x: f(x), [X3[:, :, :3]], 1)
        compiled = adjit.compile(f, backend=backend)
        adjit.manual_seed(1)
        got = [compiled(x).numpy() for _ in range(CALLS)]
    for g, e in zip(got, expected, strict=True):
        assert ((g == 0) == (e == 0)).all()  # the same mask
        np.testing.assert_allclose(g, e, rtol=1e-6)  # LSTM's tanh/sigmoid: kernels' own


@pytest.mark.parametrize("backend", BACKENDS)
def test_seeding_and_states_inside_act_at_call_time(backend: str) -> None:
    """manual_seed, get/set_rng_state, fork_rng and a Generator's manual_seed inside the
    function act when the compiled program runs, in order with its draws (Note [generator
    effects])."""

    def f(L: Any, x: Any, g: Any) -> Any:
        a = L.rand(3, 4)
        L.manual_seed(7)
        b = L.rand(3, 4)
        s = L.get_rng_state()
        c = L.randn(3, 4)
        L.set_rng_state(s)
        with L.random.fork_rng():
            d = L.randn(3, 4)
        g.manual_seed(2)
        return x + a + b * 2 + c * 3 + d * 4 + L.rand(3, 4, generator=g) * 5

    g = adjit.Generator()
    compiled = adjit.compile(lambda x: f(adjit, x, g), backend=backend)
    for _ in range(2):  # the second call from where the first left the generator
        adjit.manual_seed(0)
        expected = f(adjit, adjit.tensor(X), g).numpy()
        state = adjit.get_rng_state().numpy()
        adjit.manual_seed(0)
        assert _same(compiled(adjit.tensor(X)).numpy(), expected)
        assert _same(adjit.get_rng_state().numpy(), state)
    torch.manual_seed(0)
    assert _same(expected, f(torch, torch.tensor(X), torch.Generator()).numpy())
    with pytest.raises(RuntimeError, match="seed.* is not supported inside a compiled function"):
        adjit.compile(lambda x: x + adjit.seed())(adjit.tensor(X))
