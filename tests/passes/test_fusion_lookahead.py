"""Kernels take later equations they can compute now (Note [kernels take later equations]):
which ones move, which stay, and that every program computes what the interpreter does."""

from __future__ import annotations

import numpy as np
import pytest
from adjit.ir.aval import Aval
from adjit.ir.dtypes import float32
from adjit.ir.graph import Graph, Lit
from adjit.ir.interpreter import interpret
from adjit.ir.ops import Op
from adjit.passes.fusion import LOOKAHEAD, Kernel, fuse
from adjit.runtime.executor import compile_program

import adjit
from tests.codegen.test_lower import Builder  # (a graph written op by op)

LARGE = (64, 64)  # 16 KB: past fusion.SMALL_BYTES
SMALL = (4,)


def two() -> Lit:
    return Lit(2.0, Aval((), float32, weak=True))


def kernels(g: Graph) -> list[tuple[Op, ...]]:
    return [tuple(e.op for e in s.eqns) for s in fuse(g).steps if isinstance(s, Kernel)]


def same_as_interpreter(g: Graph) -> None:
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(v.aval.shape).astype(np.float32) for v in g.inputs]
    ex = compile_program(g)
    assert not ex.fallbacks, ex.fallbacks
    for got, want in zip(ex(arrays), interpret(g, arrays), strict=True):
        np.testing.assert_array_equal(got, want)


def test_a_consumer_read_only_by_externs_joins_its_producer() -> None:
    b = Builder()
    x, ys = b.input(LARGE, float32), b.input(SMALL, float32)
    a = b(Op.MUL, x, two())
    s = b(Op.NEG, ys)  # another shape: the kernel of ``a`` closes here
    r = b(Op.RELU, a)  # read by an extern only
    g = b.graph([b(Op.PERMUTE, r, axes=(1, 0)), s])
    assert kernels(g) == [(Op.MUL, Op.RELU), (Op.NEG,)]
    same_as_interpreter(g)


def test_a_consumer_that_feeds_more_elementwise_work_stays_with_it() -> None:
    b = Builder()
    x, ys = b.input(LARGE, float32), b.input(SMALL, float32)
    a = b(Op.MUL, x, two())
    s = b(Op.NEG, ys)
    r = b(Op.RELU, a)
    q = b(Op.ADD, r, x)  # r feeds this kernel: computing r here is cheaper than reading it
    g = b.graph([a, s, q])
    assert kernels(g) == [(Op.MUL,), (Op.NEG,), (Op.RELU, Op.ADD)]
    same_as_interpreter(g)


def test_an_equation_waiting_for_a_later_value_is_not_moved() -> None:
    b = Builder()
    x, ys, w = b.input(LARGE, float32), b.input(SMALL, float32), b.input(LARGE, float32)
    a = b(Op.MUL, x, two())
    s = b(Op.NEG, ys)
    t = b(Op.PERMUTE, w, axes=(1, 0))  # computed after the kernel of ``a`` closes
    r = b(Op.ADD, a, t)
    g = b.graph([b(Op.PERMUTE, r, axes=(1, 0)), s])
    assert kernels(g) == [(Op.MUL,), (Op.NEG,), (Op.ADD,)]
    same_as_interpreter(g)


def test_small_values_of_one_shape_share_a_kernel() -> None:
    b = Builder()
    xs, big = b.input(SMALL, float32), b.input(LARGE, float32)
    a = b(Op.MUL, xs, two())
    c = b(Op.NEG, big)  # another shape between them
    d = b(Op.ADD, xs, xs)  # small and of a's shape: moved up, though it reads nothing made
    g = b.graph([a, c, d])
    assert kernels(g) == [(Op.MUL, Op.ADD), (Op.NEG,)]
    same_as_interpreter(g)


def test_a_large_value_that_reads_nothing_the_kernel_makes_stays() -> None:
    b = Builder()
    x, ys, y = b.input(LARGE, float32), b.input(SMALL, float32), b.input(LARGE, float32)
    a = b(Op.MUL, x, two())
    s = b(Op.NEG, ys)
    c = b(Op.NEG, y)  # large: made earlier it would be alive longer
    g = b.graph([b(Op.PERMUTE, a, axes=(1, 0)), s, c])
    assert kernels(g) == [(Op.MUL,), (Op.NEG,), (Op.NEG,)]
    same_as_interpreter(g)


def test_equations_past_the_window_are_not_scanned() -> None:
    b = Builder()
    x, ys = b.input(LARGE, float32), b.input(SMALL, float32)
    a = b(Op.MUL, x, two())
    s = ys
    for _ in range(LOOKAHEAD + 1):  # the first closes the kernel; the window starts after it
        s = b(Op.NEG, s)
    r = b(Op.RELU, a)
    g = b.graph([b(Op.PERMUTE, r, axes=(1, 0)), s])
    assert kernels(g) == [(Op.MUL,), (Op.NEG,) * (LOOKAHEAD + 1), (Op.RELU,)]
    same_as_interpreter(g)


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_relu_normalises_and_rectifies_in_one_kernel(training: bool) -> None:
    torch = pytest.importorskip("torch")
    model = adjit.nn.Sequential(
        adjit.nn.Conv2d(3, 8, 3, padding=1), adjit.nn.BatchNorm2d(8), adjit.nn.ReLU()
    )
    ref = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU()
    )
    ref.load_state_dict({k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()})
    model.train(training)
    ref.train(training)
    x = np.random.default_rng(1).standard_normal((4, 3, 10, 10)).astype(np.float32)
    f = adjit.compile(model)
    out = f(adjit.tensor(x))
    want = ref(torch.tensor(x))
    np.testing.assert_allclose(out.detach().numpy(), want.detach().numpy(), rtol=1e-5, atol=1e-5)
    for k, v in ref.state_dict().items():  # running statistics updated as PyTorch's
        np.testing.assert_allclose(
            model.state_dict()[k].numpy(), v.numpy(), rtol=1e-5, atol=1e-6, err_msg=k
        )
    found = adjit.explain(f, adjit.tensor(x)).kernels
    relu = [
        k
        for name, k in found
        if name == "forward" and tuple(k.shape) == (4, 8, 10, 10)
        and Op.RELU in {e.op for e in k.eqns}
    ]  # fmt: skip
    assert len(relu) == 1 and len(relu[0].eqns) > 1, [k.formula for _, k in found]
