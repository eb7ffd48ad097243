"""Bad input gets PyTorch's error type and wording, and fill values convert as PyTorch's do
(cases found by sweeping every public name with wrong dims, shapes and dtypes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")

X = np.arange(12, dtype=np.float32).reshape(3, 4) / 10
I = np.array([[1, 2], [3, 4]])


def _x(T: Any) -> Any:
    return T.tensor(X)


def _i(T: Any) -> Any:
    return T.tensor(I)


def _b(T: Any) -> Any:
    return T.tensor(I) > 2


ERRORS: dict[str, Callable[[Any], Any]] = {
    "softmax-int-lastdim": lambda T: T.softmax(_i(T), 1),
    "softmax-int-dim0": lambda T: T.softmax(_i(T), 0),
    "log_softmax-int": lambda T: T.log_softmax(_i(T), 0),
    "F.softmax-int": lambda T: T.nn.functional.softmax(_i(T), 1),
    "elu-int": lambda T: T.nn.functional.elu(_i(T)),
    "celu_-int": lambda T: T.nn.functional.celu_(_i(T)),
    "celu_-bool": lambda T: T.nn.functional.celu_(_b(T)),
    "gelu-bool": lambda T: T.nn.functional.gelu(_b(T)),
    "silu-int": lambda T: T.nn.functional.silu(_i(T)),
    "softplus-int": lambda T: T.nn.functional.softplus(_i(T)),
    "logsigmoid-int": lambda T: T.nn.functional.logsigmoid(_i(T)),
    "mish-bool": lambda T: T.nn.functional.mish(_b(T)),
    "leaky_relu-int": lambda T: T.nn.functional.leaky_relu(_i(T)),
    "layer_norm-int": lambda T: T.nn.functional.layer_norm(_i(T), (2,)),
    "batch_norm-int": lambda T: T.nn.functional.batch_norm(_i(T), T.zeros(2), T.ones(2)),
    "batch_norm-bool": lambda T: T.nn.functional.batch_norm(_b(T), T.zeros(2), T.ones(2)),
    "batch_norm-0d": lambda T: T.nn.functional.batch_norm(_x(T)[0, 0], T.zeros(4), T.ones(4)),
    "batch_norm-1d-train": lambda T: T.nn.functional.batch_norm(
        _x(T)[0], T.zeros(4), T.ones(4), training=True
    ),
    "batch_norm-0d-train": lambda T: T.nn.functional.batch_norm(
        _x(T)[0, 0], T.zeros(4), T.ones(4), training=True
    ),
    "batch_norm-var-size": lambda T: T.nn.functional.batch_norm(_x(T), T.zeros(4), T.ones(3)),
    "batch_norm-bias-size": lambda T: T.nn.functional.batch_norm(
        _x(T), T.zeros(4), T.ones(4), T.ones(4), T.ones(3)
    ),
    "batch_norm-no-var": lambda T: T.nn.functional.batch_norm(_x(T), T.zeros(4), None),
    "batch_norm-double-stats": lambda T: T.nn.functional.batch_norm(
        _x(T), T.zeros(4).double(), T.ones(4)
    ),
    "batch_norm-double-input": lambda T: T.nn.functional.batch_norm(
        _x(T).double(), T.zeros(4), T.ones(4), training=True
    ),
    "batch_norm-half-stats": lambda T: T.nn.functional.batch_norm(
        _x(T).half(), T.zeros(4).half(), T.ones(4)
    ),
    "hardtanh-bool": lambda T: T.nn.functional.hardtanh(_b(T)),
    "relu6-bool": lambda T: T.nn.functional.relu6(_b(T)),
    "trace-bool": lambda T: T.trace(_b(T)),
    "argmax-bool": lambda T: T.argmax(_b(T)),
    "argmin-bool": lambda T: _b(T).argmin(),
    "norm-int": lambda T: T.norm(_i(T)),
    "cumprod-0d-dim1": lambda T: T.cumprod(T.tensor(1.0), 1),
    "cummax-0d-dim1": lambda T: T.cummax(T.tensor(1.0), 1),
    "logcumsumexp-0d-dim1": lambda T: T.logcumsumexp(T.tensor(1.0), 1),
    "permute-too-few": lambda T: _x(T).permute(0),
    "permute-0d": lambda T: T.tensor(1.0).permute(1, 0),
    "permute-duplicate": lambda T: _x(T).permute(0, 0),
    "narrow-0d": lambda T: T.tensor(1.0).narrow(0, 0, 1),
    "split-0d": lambda T: T.tensor(1.0).split(1),
    "chunk-0d": lambda T: T.tensor(1.0).chunk(2),
    "gather-index-larger": lambda T: T.gather(_x(T)[:0], 1, T.zeros(3, 4, dtype=T.long)),
    "index_add-source-shape": lambda T: _x(T)[:0].index_add(1, T.tensor([0, 1]), _x(T)[:, :2]),
    "repeat-too-few": lambda T: _x(T).repeat(2),
    "repeat-negative": lambda T: _x(T).repeat(2, -7),
    "tile-negative": lambda T: T.tile(_x(T), (2, -7)),
    "tensor_split-0d": lambda T: T.tensor(1.0).tensor_split(1),
    "lerp-end-dtype": lambda T: T.lerp(_x(T), _x(T).double(), 0.3),
    "lerp-start-dtype": lambda T: T.lerp(_x(T).double(), _x(T), 0.3),
    "lerp-weight-dtype": lambda T: T.lerp(_x(T), _x(T), _x(T).double()),
    "lerp-int": lambda T: T.lerp(_i(T), _i(T), 0.5),
    "dropout-int": lambda T: T.nn.functional.dropout(_i(T)),
    "dropout2d-int": lambda T: T.nn.functional.dropout2d(_i(T)[None]),
    "dropout2d-0d": lambda T: T.nn.functional.dropout2d(T.tensor(1.0)),
    "scatter_add-src-dtype": lambda T: _x(T).scatter_add(1, _x(T).long() * 0, _x(T).double()),
    "scatter_add-src-smaller": lambda T: _x(T).scatter_add(1, _x(T).long() * 0, _x(T)[:2, :3]),
    "scatter_add-self-empty": lambda T: _x(T)[:0].scatter_add(1, _x(T).long() * 0, _x(T)),
    "scatter_add-index-dims": lambda T: _x(T).scatter_add(1, _x(T)[0].long() * 0, _x(T)),
    "split-zero": lambda T: _x(T).split(0),
    "split-negative": lambda T: _x(T).split(-7),
    "split-negative-section": lambda T: _x(T).split([1, -1, 3]),
    "chunk-zero": lambda T: _x(T).chunk(0),
    "unsafe_chunk-negative": lambda T: T.unsafe_chunk(_x(T), -7),
    "linalg.vander-bool": lambda T: T.linalg.vander(_b(T)[0]),
    "mvlgamma-bool": lambda T: T.mvlgamma(_b(T), 1),
    "kthvalue-0d-dim1": lambda T: T.kthvalue(T.tensor(1.0), 1, 1),
    "matmul-bool": lambda T: _b(T) @ _b(T),
    "bmm-bool": lambda T: T.bmm(_b(T)[None], _b(T)[None]),
    "mv-bool": lambda T: T.mv(_b(T), _b(T)[0]),
    "dot-bool": lambda T: T.dot(_b(T)[0], _b(T)[0]),
    "mv-0d": lambda T: T.mv(T.tensor(1.0), _x(T)[0]),
    "cross-bool": lambda T: T.cross(_b(T)[:, :1].repeat(1, 3), _x(T)[:2, :3], dim=1),
    "scatter_reduce-src-smaller": lambda T: _x(T).scatter_reduce(
        1, _x(T).long() * 0, _x(T)[:2, :3], "amax"
    ),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_error_matches_torch(name: str) -> None:
    with pytest.raises(Exception) as theirs:
        ERRORS[name](torch)
    with pytest.raises(type(theirs.value)) as ours:
        ERRORS[name](adjit)
    assert str(ours.value) == str(theirs.value)


VALUES: dict[str, Callable[[Any], Any]] = {
    "masked_fill-int-float": lambda T: _i(T).masked_fill(_b(T), 0.7),
    "masked_fill-int-negative": lambda T: _i(T).masked_fill(_b(T), -1.7),
    "masked_fill-bool": lambda T: _b(T).masked_fill(_b(T), 0.0),
    "masked_fill-float-tensor": lambda T: _x(T)[:2, :2].masked_fill(_b(T), T.tensor(2)),
    "fill_-int": lambda T: _i(T).fill_(2.9),
    "fill_-int-negative": lambda T: _i(T).fill_(-2.9),
    "fill_-bool": lambda T: _b(T).fill_(0.5),
    "zero_-bool": lambda T: _b(T).zero_(),
    "hardtanh-int": lambda T: T.nn.functional.hardtanh(_i(T) - 2),
    "relu6-int": lambda T: T.nn.functional.relu6(_i(T) * 3 - 2),
    "isinf-bool": lambda T: T.isinf(_b(T)),
    "isfinite-bool": lambda T: T.isfinite(_b(T)),
    "isfinite-int": lambda T: T.isfinite(_i(T)),
    "isnan-bool": lambda T: T.isnan(_b(T)),
    "cumprod-0d": lambda T: T.cumprod(T.tensor(2.0), 0),
    "logsumexp-bool": lambda T: T.logsumexp(_b(T), 1),
    "logsumexp-int": lambda T: T.logsumexp(_i(T), 0),
    "dropout-int-p1": lambda T: T.nn.functional.dropout(_i(T), p=1.0),
    "dropout-int-eval": lambda T: T.nn.functional.dropout(_i(T), training=False),
}


def test_lerp_0d_weight_of_another_dtype() -> None:
    """Computed in the input's dtype (PyTorch fuses the multiply-add: one ulp of float32)."""
    want = torch.lerp(_x(torch), _x(torch) * 2, torch.tensor(0.3).double())
    got = adjit.lerp(_x(adjit), _x(adjit) * 2, adjit.tensor(0.3).double())
    assert str(got.dtype) == str(want.dtype)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=2.0**-23, atol=0)


@pytest.mark.parametrize("name", sorted(VALUES))
def test_value_matches_torch(name: str) -> None:
    want, got = VALUES[name](torch), VALUES[name](adjit)
    assert str(got.dtype) == str(want.dtype)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_clone_does_not_share_memory() -> None:
    for t in (_x(adjit), _i(adjit), _b(adjit)):
        c = t.clone()
        c.zero_()
        assert not np.shares_memory(c.numpy(), t.numpy()) and t.any()


def test_isclose_bit_for_bit_and_compiled() -> None:
    """isclose is PyTorch's decomposition (eq, NaN rule, finite |a - b| <= atol + |rtol b|),
    so it compiles; 1600 random pairs with NaN, infinities and zeros agree with PyTorch."""
    rng = np.random.default_rng(0)
    compiled = adjit.compile(lambda a, b: adjit.isclose(a, b, 1e-3, 1e-6, True))
    for dt in (np.float32, np.float64):
        for _ in range(200):
            a = rng.normal(size=50).astype(dt)
            b = a + (rng.normal(size=50) * 10 ** rng.uniform(-9, -3)).astype(dt)
            a[rng.integers(0, 50, 5)] = rng.choice([np.nan, np.inf, -np.inf, 0.0], 5)
            b[rng.integers(0, 50, 5)] = rng.choice([np.nan, np.inf, -np.inf, 0.0], 5)
            for rtol, atol, nan in ((1e-5, 1e-8, False), (1e-3, 1e-6, True), (0, 0, False)):
                want = torch.isclose(torch.tensor(a), torch.tensor(b), rtol, atol, nan).numpy()
                got = adjit.isclose(adjit.tensor(a), adjit.tensor(b), rtol, atol, nan).numpy()
                np.testing.assert_array_equal(got, want)
            got = compiled(adjit.tensor(a), adjit.tensor(b)).numpy()
            want = torch.isclose(torch.tensor(a), torch.tensor(b), 1e-3, 1e-6, True).numpy()
            np.testing.assert_array_equal(got, want)


def test_writes_into_expanded_and_repeated_tensors() -> None:
    """Writing into an expanded tensor is PyTorch's RuntimeError; repeat's result is new memory."""
    for T in (torch, adjit):
        b = T.eye(3).expand(2, 3, 3)
        with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
            b[:, 0] = 0
        a = T.eye(3).repeat(2, 2, 1, 1)
        a[0] = 0
        assert float(a.sum()) == 6.0


def test_lu_of_empty_matrices() -> None:
    """No batch size to infer: LU of (0, 4) and (2, 0, 3) matrices has PyTorch's shapes."""
    for shape in ((0, 4), (2, 0, 3), (0, 0)):
        want = [tuple(t.shape) for t in torch.linalg.lu(torch.zeros(shape))]
        assert [tuple(t.shape) for t in adjit.linalg.lu(adjit.zeros(shape))] == want


def test_splits_of_empty_dims() -> None:
    for call in (
        lambda T: T.zeros(0, 4).chunk(1),
        lambda T: T.zeros(0, 4).chunk(3),
        lambda T: T.zeros(0, 4).split(0),
        lambda T: T.unsafe_chunk(T.zeros(0, 4), 2),
    ):
        assert [tuple(t.shape) for t in call(adjit)] == [tuple(t.shape) for t in call(torch)]


def test_ldexp_gradient_at_negative_exponents() -> None:
    """d ldexp(x, e)/dx = 2**e: finite differences agree; PyTorch's is 0 for e < 0 (it computes
    pow(2, e) in integers), a known difference kept on the side of the right answer."""
    e = adjit.tensor([-3, 0, 2])
    x = adjit.tensor([1.5, -2.0, 0.25], dtype=adjit.float64, requires_grad=True)
    adjit.ldexp(x, e).sum().backward()
    h = 1e-6
    numeric = (adjit.ldexp(x.detach() + h, e) - adjit.ldexp(x.detach() - h, e)) / (2 * h)
    np.testing.assert_allclose(x.grad.numpy(), numeric.numpy(), rtol=1e-9)
    np.testing.assert_array_equal(x.grad.numpy(), [0.125, 1.0, 4.0])


@pytest.mark.parametrize(
    "data",
    [
        [np.float64(1.5)],
        [np.float32(1.5), 2.0],
        [1.5, np.float64(2)],
        [np.int16(3), 2],
        [[np.float64(1)], [2.0]],
        [np.float16(1)],
        [np.uint8(3), np.int8(2)],
        [np.complex64(1j), 1.0],
    ],
)
def test_lists_of_numpy_scalars_take_their_dtypes(data: list) -> None:
    """torch.tensor([np.float64(1.5)]) is float64: each NumPy scalar keeps its dtype and the
    elements promote pairwise (a Python float counts as the default dtype)."""
    assert str(adjit.tensor(data).dtype) == str(torch.tensor(data).dtype)
    np.testing.assert_array_equal(adjit.tensor(data).numpy(), torch.tensor(data).numpy())
