"""Random numbers side by side with PyTorch: the same seed and calls give the same bits and
leave the generator in the same 5056-byte state; errors and grad_fn names as PyTorch's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")

# Each row: a name and a program run once with adjit and once with torch as ``L``.
Program = Callable[[Any], Any]
LIN = np.linspace(0.05, 0.95, 40).astype(np.float32)  # probabilities, shared bit for bit
STD = np.linspace(0.1, 2.0, 40).astype(np.float32)
PROBS = np.array([[0.1, 0.2, 0.3, 0.4], [1.0, 0.0, 2.0, 5.0]], np.float32)


def _t(L: Any, arr: np.ndarray) -> Any:
    return L.from_numpy(arr.copy())


CASES: list[tuple[str, Program]] = [
    *[(f"randn({n})", lambda L, n=n: L.randn(n)) for n in (1, 2, 15, 16, 17, 33, 1000, 4099)],
    *[(f"randn({n}, f64)", lambda L, n=n: L.randn(n, dtype=L.float64)) for n in (1, 3, 16, 50)],
    ("randn(2, 3, 5)", lambda L: L.randn(2, 3, 5)),
    ("randn over chunks", lambda L: L.randn(2 * 65536 + 21)),  # Note [chunked draws]
    ("rand over chunks", lambda L: L.rand(2 * 65536 + 21)),
    ("randn f16 over chunks", lambda L: L.randn(65536 + 5, dtype=L.float16)),
    ("randn cache across calls", lambda L: [L.randn(3), L.randn(20, dtype=L.float64), L.randn(5)]),
    ("rand(4, 5)", lambda L: L.rand(4, 5)),
    ("rand f64", lambda L: L.rand(100, dtype=L.float64)),
    ("rand f16", lambda L: L.rand(100, dtype=L.float16)),
    ("rand bf16", lambda L: L.rand(100, dtype=L.bfloat16).float()),
    *[
        (f"randn({n}) {dt}", lambda L, n=n, dt=dt: L.randn(n, dtype=getattr(L, dt)).float())
        for dt in ("float16", "bfloat16")
        for n in (10, 16, 17, 1001)
    ],
    *[
        (
            f"{m} {dt}",
            lambda L, m=m, dt=dt: getattr(L.empty(3001, dtype=getattr(L, dt)), m)(0.1, 0.7).float(),
        )
        for dt in ("float16", "bfloat16", "float32", "float64")
        for m in ("uniform_", "normal_")
    ],
    ("rand generator", lambda L: L.rand(7, generator=L.Generator().manual_seed(5))),
    ("uniform_(-3, 7)", lambda L: L.empty(100).uniform_(-3, 7)),
    ("uniform_ f64", lambda L: L.empty(100, dtype=L.float64).uniform_(-3, 7)),
    ("uniform_ transposed", lambda L: L.empty(10, 20).t().uniform_()),
    ("normal_(2, 3)", lambda L: L.empty(100).normal_(2, 3)),
    ("normal_ small", lambda L: L.empty(10).normal_(2, 3)),
    ("normal_ f64", lambda L: L.empty(100, dtype=L.float64).normal_(2, 3)),
    ("normal_ transposed", lambda L: L.empty(10, 20).t().normal_(2, 3)),
    ("exponential_", lambda L: L.empty(1000).exponential_(2.5)),
    ("exponential_ f64", lambda L: L.empty(1000, dtype=L.float64).exponential_(2.5)),
    ("geometric_", lambda L: L.empty(1000).geometric_(0.3)),
    ("geometric_ int", lambda L: L.empty(1000, dtype=L.int64).geometric_(0.3)),
    ("cauchy_", lambda L: L.empty(1000).cauchy_(1, 2)),
    ("cauchy_ f64", lambda L: L.empty(1000, dtype=L.float64).cauchy_(1, 2)),
    ("log_normal_", lambda L: L.empty(1001).log_normal_(0.5, 0.7)),
    ("bernoulli_(p)", lambda L: L.empty(1000).bernoulli_(0.3)),
    ("bernoulli_(p) int", lambda L: L.empty(1000, dtype=L.int64).bernoulli_(0.3)),
    ("bernoulli_(tensor)", lambda L: L.empty(6, 40).bernoulli_(_t(L, LIN))),
    ("bernoulli(tensor)", lambda L: L.bernoulli(_t(L, LIN))),
    ("bernoulli(f64)", lambda L: L.bernoulli(_t(L, LIN.astype(np.float64)))),
    ("bernoulli(x, p)", lambda L: L.bernoulli(L.zeros(50), 0.4)),
    ("Tensor.bernoulli", lambda L: _t(L, LIN).bernoulli()),
    *[
        (f"random_() {dt}", lambda L, dt=dt: L.empty(300, dtype=getattr(L, dt)).random_())
        for dt in ("float32", "float64", "int64", "int32", "int16", "int8", "uint8", "bool")
    ],
    *[
        (
            f"random_(3, 100) {dt}",
            lambda L, dt=dt: L.empty(99, dtype=getattr(L, dt)).random_(3, 100),
        )
        for dt in ("float32", "float64", "int64", "int32", "uint8", "float16")
    ],
    ("random_(7)", lambda L: L.empty(50, dtype=L.int64).random_(7)),
    ("random_ full range", lambda L: L.empty(30, dtype=L.int64).random_(-(2**63), None)),
    ("random_(5, None)", lambda L: L.empty(30, dtype=L.int64).random_(5, None)),
    ("random_ 2**41 span", lambda L: L.empty(30, dtype=L.int64).random_(-(2**40), 2**40)),
    ("randint(10, (3, 4))", lambda L: L.randint(10, (3, 4))),
    ("randint(-5, 2**35)", lambda L: L.randint(-5, 2**35, (100,))),
    ("randint(10, size=)", lambda L: L.randint(10, size=(3,))),
    ("randint(low=, high=, size=)", lambda L: L.randint(low=2, high=10, size=(3,))),
    ("randint float", lambda L: L.randint(10, (3, 4), dtype=L.float32)),
    ("randint_like", lambda L: L.randint_like(L.zeros(5), 3, 9)),
    ("rand_like f64", lambda L: L.rand_like(L.zeros(3, dtype=L.float64))),
    ("randn_like", lambda L: L.randn_like(L.zeros(4, 5))),
    *[(f"randperm({n})", lambda L, n=n: L.randperm(n)) for n in (0, 1, 2, 10, 1000)],
    ("randperm float", lambda L: L.randperm(6, dtype=L.float32)),
    ("normal(T, T)", lambda L: L.normal(_t(L, LIN), _t(L, STD))),
    ("normal(T, f)", lambda L: L.normal(_t(L, LIN), 2.0)),
    ("normal(f, T)", lambda L: L.normal(1.5, _t(L, STD))),
    ("normal(f, f, size)", lambda L: L.normal(1.5, 2.0, (7, 3))),
    ("normal broadcast", lambda L: L.normal(L.zeros(5, 1), L.ones(3))),
    *[
        (
            f"{m} {dt}",
            lambda L, m=m, a=a, dt=dt: getattr(L.empty(3001, dtype=getattr(L, dt)), m)(*a),
        )
        for dt in ("float16", "bfloat16")
        for m, a in [
            ("exponential_", (0.7,)),
            ("cauchy_", (-1.5, 2.0)),
            ("log_normal_", (0.2, 1.3)),
        ]
    ],
    ("normal_ small f16", lambda L: L.empty(7, dtype=L.float16).normal_(2.0, 3.0)),
    ("random_ bf16 wide", lambda L: L.empty(500, dtype=L.bfloat16).random_(-(2**40), 2**41)),
    ("poisson f16", lambda L: L.poisson((_t(L, STD) * 15).half())),
    ("multinomial f16 replacement", lambda L: L.multinomial(L.rand(3, 40).half(), 100, True)),
    ("poisson", lambda L: L.poisson(L.tensor([0.0, 0.5, 3.0, 9.9, 10.0, 25.0, 1e3] * 10))),
    ("multinomial replacement", lambda L: L.multinomial(_t(L, PROBS), 20, True)),
    ("multinomial 1", lambda L: L.multinomial(_t(L, PROBS[0]), 1)),
    ("multinomial no replacement", lambda L: L.multinomial(_t(L, PROBS), 3)),
    ("multinomial rows", lambda L: L.multinomial(L.rand(5, 100), 30)),
    ("multinomial f64", lambda L: L.multinomial(L.rand(5, 100, dtype=L.float64), 30, True)),
    ("Tensor.multinomial", lambda L: _t(L, PROBS).multinomial(2)),
    # layouts: draws follow PyTorch's memory order (TensorIterator, empty_like's strides)
    ("rand_like transposed", lambda L: L.rand_like(L.zeros(4, 5).t())),
    ("randn_like transposed", lambda L: L.randn_like(L.zeros(8, 5).t())),
    ("randint_like transposed", lambda L: L.randint_like(L.zeros(4, 5).t(), 10)),
    ("bernoulli transposed", lambda L: L.bernoulli(_t(L, LIN.reshape(4, 10)).t())),
    ("bernoulli_ T(T)", lambda L: L.empty(10, 4).t().bernoulli_(_t(L, LIN.reshape(10, 4)).t())),
    ("bernoulli_ T(p)", lambda L: L.empty(4, 5).t().bernoulli_(0.3)),
    ("poisson transposed", lambda L: L.poisson(_t(L, STD.reshape(4, 10) * 5).t())),
    ("multinomial transposed", lambda L: L.multinomial(_t(L, LIN.reshape(4, 10)).t(), 3)),
    ("normal(T, T) transposed", lambda L: L.normal(L.zeros(8, 5).t(), L.ones(8, 5).t())),
    ("normal_ slice", lambda L: L.empty(8, 5)[:, 1:3].normal_()),
    ("uniform_ permuted", lambda L: L.empty(2, 3, 4).permute(2, 0, 1).uniform_()),
    ("exponential_ permuted", lambda L: L.empty(2, 3, 4).permute(2, 0, 1).exponential_()),
    (
        "0-d tensors",
        lambda L: [
            L.tensor(1.0).uniform_(),
            L.tensor(1.0).normal_(),
            L.poisson(L.tensor(3.0)),
            L.bernoulli(L.tensor(0.5)),
            L.tensor(0.5).bernoulli_(L.tensor(0.2)),
            L.rand_like(L.tensor(1.0)),
            L.normal(L.tensor(1.0), L.tensor(2.0)),
            L.randn(()),
        ],
    ),
    ("nn.Linear", lambda L: list(L.nn.Linear(30, 20).parameters())),
    ("nn.Conv2d", lambda L: list(L.nn.Conv2d(3, 8, 3).parameters())),
    ("nn.Embedding", lambda L: list(L.nn.Embedding(10, 4, padding_idx=2).parameters())),
    ("nn.Bilinear", lambda L: list(L.nn.Bilinear(3, 4, 5).parameters())),
    ("nn.Dropout", lambda L: L.nn.Dropout(0.2)(L.ones(40))),
    ("dropout", lambda L: L.nn.functional.dropout(L.ones(50), 0.3)),
    ("dropout p=0.1", lambda L: L.nn.functional.dropout(L.randn(64), 0.1)),
    ("dropout2d", lambda L: L.nn.functional.dropout2d(L.ones(2, 3, 4, 4), 0.3)),
    ("trunc_normal_", lambda L: L.nn.init.trunc_normal_(L.zeros(100))),
    ("trunc_normal_ narrow", lambda L: L.nn.init.trunc_normal_(L.zeros(100), a=0.5, b=3)),
    ("xavier_normal_", lambda L: L.nn.init.xavier_normal_(L.zeros(7, 5))),
    ("kaiming_normal_", lambda L: L.nn.init.kaiming_normal_(L.zeros(7, 5))),
    ("sparse_", lambda L: L.nn.init.sparse_(L.zeros(10, 6), 0.3)),
    ("xavier_uniform_", lambda L: L.nn.init.xavier_uniform_(L.zeros(7, 5))),
]


def _arrays(value: Any) -> list[np.ndarray]:
    items = value if isinstance(value, list | tuple) else [value]
    # (torch has no NumPy bfloat16: compare those exactly as float32)
    items = [v.float() if str(v.dtype) == "torch.bfloat16" else v for v in items]
    return [np.asarray(v.detach().numpy()) for v in items]


def _run(program: Program, lib: Any, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    lib.manual_seed(seed)
    out = _arrays(program(lib))
    return out, np.asarray(lib.get_rng_state().numpy())


@pytest.mark.filterwarnings("ignore:.*out of bounds")
@pytest.mark.parametrize("seed", [0, 12345])
@pytest.mark.parametrize("name,program", CASES, ids=[c[0] for c in CASES])
def test_same_numbers_and_state(name: str, program: Program, seed: int) -> None:
    ours, our_state = _run(program, adjit, seed)
    theirs, their_state = _run(program, torch, seed)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(our_state, their_state)


def test_orthogonal_matches_to_rounding() -> None:
    """Same normal draws; the QR itself is LAPACK's in both, equal up to float32 rounding."""
    adjit.manual_seed(0)
    torch.manual_seed(0)
    a = adjit.nn.init.orthogonal_(adjit.zeros(4, 6)).numpy()
    b = torch.nn.init.orthogonal_(torch.zeros(4, 6)).numpy()
    np.testing.assert_allclose(a, b, rtol=0, atol=4 * np.finfo(np.float32).eps)


# ---- generator state -----------------------------------------------------------------------
def test_state_round_trips_between_libraries() -> None:
    torch.manual_seed(3)
    torch.randn(5)  # leaves a cached double normal sample in the state
    adjit.set_rng_state(adjit.tensor(torch.get_rng_state().numpy()))
    np.testing.assert_array_equal(adjit.get_rng_state().numpy(), torch.get_rng_state().numpy())
    np.testing.assert_array_equal(adjit.randn(3).numpy(), torch.randn(3).numpy())
    np.testing.assert_array_equal(adjit.rand(700).numpy(), torch.rand(700).numpy())


def test_generator_api() -> None:
    g = adjit.Generator()
    assert g.initial_seed() == torch.Generator().initial_seed() == 67280421310721
    assert g.manual_seed(7) is g and g.initial_seed() == 7
    assert str(g.device) == "cpu"
    state = g.get_state()
    assert state.dtype is adjit.uint8 and tuple(state.shape) == (5056,)
    first = adjit.rand(4, generator=g)
    g.set_state(state)
    np.testing.assert_array_equal(adjit.rand(4, generator=g).numpy(), first.numpy())
    clone = g.manual_seed(3).clone_state()
    np.testing.assert_array_equal(adjit.rand(3, generator=clone), adjit.rand(3, generator=g))
    assert clone.initial_seed() == 3
    adjit.manual_seed(-1)
    torch.manual_seed(-1)
    assert adjit.initial_seed() == torch.initial_seed() == 2**64 - 1
    s = adjit.seed()
    assert adjit.initial_seed() == s
    assert adjit.default_generator.initial_seed() == s


def test_fork_rng_restores_state() -> None:
    adjit.manual_seed(1)
    with adjit.random.fork_rng():
        adjit.randn(10)
    adjit.random.manual_seed(1)
    expected = adjit.randn(3).numpy()
    adjit.manual_seed(1)
    with adjit.random.fork_rng():
        adjit.rand(100)
    np.testing.assert_array_equal(adjit.randn(3).numpy(), expected)


STATE_ERRORS: list[tuple[str, Program]] = [
    ("list", lambda L: L.Generator().set_state([1])),
    ("float", lambda L: L.Generator().set_state(L.zeros(5056))),
    ("size", lambda L: L.Generator().set_state(L.zeros(10, dtype=L.uint8))),
    ("overflow", lambda L: L.manual_seed(2**64)),
]


def _error(program: Program, lib: Any) -> tuple[type, str]:
    with pytest.raises(Exception) as info:
        program(lib)
    return type(info.value), str(info.value)


@pytest.mark.parametrize("name,program", STATE_ERRORS, ids=[c[0] for c in STATE_ERRORS])
def test_state_errors(name: str, program: Program) -> None:
    assert _error(program, adjit) == _error(program, torch)


# ---- errors --------------------------------------------------------------------------------
ERRORS: list[tuple[str, Program]] = [
    ("rand int", lambda L: L.rand(2, dtype=L.int64)),
    ("randn int", lambda L: L.randn(2, dtype=L.int64)),
    ("uniform_ int", lambda L: L.zeros(2, dtype=L.int64).uniform_()),
    ("uniform_ from > to", lambda L: L.zeros(3).uniform_(1, 0)),
    ("uniform_ too wide", lambda L: L.zeros(3).uniform_(-3e38, 3e38)),
    ("normal_ std < 0", lambda L: L.zeros(3).normal_(0, -1)),
    ("exponential_ 0", lambda L: L.zeros(3).exponential_(0)),
    ("exponential_ int", lambda L: L.zeros(2, dtype=L.int64).exponential_()),
    ("geometric_ 1.5", lambda L: L.zeros(3).geometric_(1.5)),
    ("geometric_ 0", lambda L: L.zeros(3).geometric_(0)),
    ("bernoulli_ 1.5", lambda L: L.zeros(3).bernoulli_(1.5)),
    ("bernoulli_ tensor out of range", lambda L: L.zeros(3).bernoulli_(L.tensor([0.5, 2, 0.1]))),
    ("log_normal_ std 0", lambda L: L.zeros(3).log_normal_(1, 0)),
    ("cauchy_ sigma < 0", lambda L: L.zeros(3).cauchy_(0, -1)),
    ("random_ from == to", lambda L: L.zeros(3).random_(3, 3)),
    ("random_ uint8 to", lambda L: L.zeros(2, dtype=L.uint8).random_(0, 300)),
    ("random_ uint8 from", lambda L: L.zeros(2, dtype=L.uint8).random_(-1, 3)),
    ("random_ int8 to", lambda L: L.zeros(2, dtype=L.int8).random_(-1, 200)),
    ("random_ bool", lambda L: L.zeros(2, dtype=L.bool).random_(0, 3)),
    ("random_(0)", lambda L: L.zeros(3).random_(0)),
    ("randint empty range", lambda L: L.randint(3, 3, (2,))),
    ("randint requires_grad", lambda L: L.randint(5, (2,), requires_grad=True)),
    ("randperm -1", lambda L: L.randperm(-1)),
    ("randperm uint8", lambda L: L.randperm(300, dtype=L.uint8)),
    ("normal f f", lambda L: L.normal(0, -1, (2,))),
    ("normal T f<0", lambda L: L.normal(L.zeros(3), -1.0)),
    ("normal T T<0", lambda L: L.normal(L.zeros(3), L.tensor([1.0, -1, 1]))),
    ("normal shapes", lambda L: L.normal(L.zeros(3), L.ones(2))),
    ("normal int mean", lambda L: L.normal(L.zeros(3, dtype=L.int64), 1.0)),
    ("bernoulli > 1", lambda L: L.bernoulli(L.tensor([0.5, 1.5]))),
    ("bernoulli int", lambda L: L.bernoulli(L.tensor([1, 0]))),
    ("poisson < 0", lambda L: L.poisson(L.tensor([-1.0]))),
    ("poisson int", lambda L: L.poisson(L.tensor([1, 2]))),
    ("multinomial zeros", lambda L: L.multinomial(L.tensor([0.0, 0]), 1)),
    ("multinomial < 0", lambda L: L.multinomial(L.tensor([1.0, -1]), 1)),
    ("multinomial < 0 repl", lambda L: L.multinomial(L.tensor([1.0, -1]), 2, True)),
    ("multinomial inf repl", lambda L: L.multinomial(L.tensor([1.0, float("inf")]), 2, True)),
    ("multinomial too many", lambda L: L.multinomial(L.tensor([1.0, 1]), 3)),
    ("multinomial 0", lambda L: L.multinomial(L.tensor([1.0, 1]), 0)),
    ("multinomial 3-D", lambda L: L.multinomial(L.ones(2, 2, 2), 1)),
    ("multinomial int", lambda L: L.multinomial(L.tensor([1, 1]), 1)),
    ("cauchy_ int", lambda L: L.zeros(3, dtype=L.int64).cauchy_()),
    ("geometric_ bool", lambda L: L.zeros(3, dtype=L.bool).geometric_(0.5)),
    ("randperm bool", lambda L: L.randperm(3, dtype=L.bool)),
    ("log_normal_ int", lambda L: L.zeros(3, dtype=L.int32).log_normal_()),
    ("leaf in-place", lambda L: L.zeros(3, requires_grad=True).uniform_()),
]


@pytest.mark.parametrize("name,program", ERRORS, ids=[c[0] for c in ERRORS])
def test_errors(name: str, program: Program) -> None:
    assert _error(program, adjit) == _error(program, torch)


# ---- autograd ------------------------------------------------------------------------------
GRAD_FNS: list[tuple[str, Program]] = [
    *[
        (m, lambda L, m=m, a=a: getattr(L.zeros(3, requires_grad=True) * 2, m)(*a(L)))
        for m, a in [
            ("uniform_", lambda L: ()),
            ("normal_", lambda L: ()),
            ("exponential_", lambda L: ()),
            ("random_", lambda L: ()),
            ("random_", lambda L: (5,)),
            ("random_", lambda L: (1, 5)),
            ("bernoulli_", lambda L: ()),
            ("bernoulli_", lambda L: (L.full((3,), 0.5),)),
            ("geometric_", lambda L: (0.5,)),
            ("cauchy_", lambda L: ()),
            ("log_normal_", lambda L: ()),
        ]
    ],
    (
        "normal(T, T)",
        lambda L: L.normal(L.zeros(3, requires_grad=True), L.ones(3, requires_grad=True)),
    ),
    ("normal(T, f)", lambda L: L.normal(L.zeros(3, requires_grad=True), 1.0)),
    ("normal(f, T)", lambda L: L.normal(0.0, L.ones(3, requires_grad=True))),
    ("bernoulli", lambda L: L.bernoulli(L.full((3,), 0.5, requires_grad=True))),
    ("poisson", lambda L: L.poisson(L.ones(3, requires_grad=True))),
]


@pytest.mark.parametrize(
    "name,program", GRAD_FNS, ids=[f"{i}-{c[0]}" for i, c in enumerate(GRAD_FNS)]
)
def test_grad_fn_names_and_zero_gradients(name: str, program: Program) -> None:
    adjit.manual_seed(0)
    torch.manual_seed(0)
    ours, theirs = program(adjit), program(torch)
    assert type(ours.grad_fn).__name__ == type(theirs.grad_fn).__name__
    leaves = [t for t in _leaves(ours.grad_fn)]
    ours.sum().backward()
    for leaf in leaves:
        assert leaf.grad is None or not leaf.grad.numpy().any()


def _leaves(fn: Any) -> list[Any]:
    out, stack, seen = [], [fn], set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if hasattr(node, "variable"):
            out.append(node.variable)
        stack.extend(f for f, _ in getattr(node, "next_functions", ()))
    return out


def test_creation_builds_float32_directly(monkeypatch: pytest.MonkeyPatch) -> None:
    """randn/rand of float32 never hold a float64 array of the output's size."""
    from adjit.runtime import distributions as R

    seen: list[np.dtype] = []
    real = R.normal_fill

    def spy(gen: Any, n: int, dt: np.dtype, mean: float, std: float) -> np.ndarray:
        out = real(gen, n, dt, mean, std)
        seen.append(out.dtype)
        return out

    monkeypatch.setattr(R, "normal_fill", spy)
    x = adjit.randn(1000)
    assert x.dtype is adjit.float32 and seen == [np.dtype(np.float32)]
    assert adjit.rand(1000)._data.dtype == np.float32


# ---- compiled: fresh draws at every call, eager's numbers -----------------------------------
# (the whole table, both backends and gradients: tests/frontend/test_compiled_random.py)
COMPILED: list[tuple[str, Callable[[Any], Any]]] = [
    ("randn", lambda x: x + adjit.randn(3)),
    ("rand_like", lambda x: x + adjit.rand_like(x)),
    ("dropout", lambda x: adjit.nn.functional.dropout(x, 0.5)),
    ("uniform_", lambda x: x.clone().uniform_()),
    ("bernoulli", lambda x: adjit.bernoulli(x * 0.5)),
    ("normal", lambda x: adjit.normal(x, 1.0)),
    ("multinomial", lambda x: adjit.multinomial(x, 1)),
]


@pytest.mark.parametrize("name,fn", COMPILED, ids=[c[0] for c in COMPILED])
def test_random_under_compile_draws_as_eager(name: str, fn: Callable[[Any], Any]) -> None:
    x = adjit.ones(3)
    adjit.manual_seed(0)
    eager = [fn(x) for _ in range(2)]
    compiled = adjit.compile(fn)
    adjit.manual_seed(0)
    assert all(adjit.equal(compiled(x), e) for e in eager)


# ---- random_ bounds: every dtype against a grid of (from, to), values or errors ------------
RANDOM_DTYPES = ["float16", "bfloat16", "float32", "float64", "int64", "int32", "int16", "int8"]
RANDOM_DTYPES += ["uint8", "bool"]
RANDOM_BOUNDS = [(0, 2**40), (-(2**63), None), (5, None), (300, None), (-5, None), (0, 2**31 - 1)]
RANDOM_BOUNDS += [(-(2**62), 5), (2**40, None), (0, 2**30), (3, 100), (0, 2), (0, 1)]
RANDOM_BOUNDS += [(-(2**20), 2**20 + 3), (2**24 - 3, 2**24 + 5), (2**53, 2**53 + 100)]
RANDOM_BOUNDS += [(None, 7), (None, 2**33), (2**63 + 5, None)]  # (None, to): random_(to)


@pytest.mark.filterwarnings("ignore:.*out of bounds")
@pytest.mark.parametrize("bounds", RANDOM_BOUNDS, ids=str)
@pytest.mark.parametrize("dtype", RANDOM_DTYPES)
def test_random_bounds(dtype: str, bounds: tuple) -> None:
    """Values (and the generator's state) or the error, as PyTorch: float bounds moved to
    integers the dtype holds, 64-bit words from a span of 2**28 on."""
    low, high = bounds
    args = (high,) if low is None else (low, high)

    def run(L: Any) -> Any:
        L.manual_seed(0)
        try:
            out = L.empty(20, dtype=getattr(L, dtype)).random_(*args)
        except Exception as e:
            return type(e), str(e)
        return out.to(L.float64).numpy().tolist(), L.get_rng_state().numpy().tolist()

    assert run(adjit) == run(torch)


# ---- every in-place sampler on every dtype: values and state, or the same error -------------
SAMPLERS = [
    ("uniform_", ()),
    ("normal_", ()),
    ("exponential_", ()),
    ("geometric_", (0.3,)),
    ("cauchy_", ()),
    ("log_normal_", ()),
    ("bernoulli_", ()),
    ("bernoulli_", (0.3,)),
    ("random_", ()),
    ("random_", (5,)),
]


@pytest.mark.parametrize("method,args", SAMPLERS, ids=[f"{m}{a}" for m, a in SAMPLERS])
@pytest.mark.parametrize("dtype", RANDOM_DTYPES)
def test_sampler_dtypes(dtype: str, method: str, args: tuple) -> None:
    def run(L: Any) -> Any:
        L.manual_seed(0)
        try:
            out = getattr(L.zeros(40, dtype=getattr(L, dtype)), method)(*args)
        except Exception as e:
            return type(e), str(e)
        return out.to(L.float64).numpy().tolist(), L.get_rng_state().numpy().tolist()

    assert run(adjit) == run(torch)
