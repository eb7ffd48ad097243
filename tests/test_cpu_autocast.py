"""CPU autocast side by side with PyTorch (Note [CPU autocast] in runtime/autocast.py): result
dtypes and values op by op for PyTorch's lists, a train step's loss and gradients, nesting,
the decorator and deprecated forms, the state queries, and compiled programs against eager."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from adjit.runtime.autocast_ops import CPU_POLICY

import adjit

torch = pytest.importorskip("torch")
pytest.importorskip("ml_dtypes")

_ARRAYS: dict[tuple[int, ...], np.ndarray] = {}


def _a(*shape: int) -> np.ndarray:
    """One fixed array per shape (the same for both libraries)."""
    if shape not in _ARRAYS:
        seed = int(np.prod(shape)) * 31 + len(shape)
        _ARRAYS[shape] = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return _ARRAYS[shape]


A, B, V, W3 = _a(4, 6), _a(6, 5), _a(6), _a(2, 4, 6)
X4, K4, X3, K3 = _a(2, 3, 7, 7), _a(4, 3, 3, 3), _a(2, 3, 9), _a(4, 3, 3)
X5, K5 = _a(1, 2, 5, 5, 5), _a(3, 2, 2, 2, 2)
SPD = (lambda m: m @ m.T + 6 * np.eye(6, dtype=np.float32))(_a(6, 6))
LOGITS, TARGET = _a(5, 4), np.array([0, 3, 1, 2, 3])
PROBS = 1 / (1 + np.exp(-_a(5, 4)))


def T(lib: Any, a: np.ndarray, dtype: str = "float32") -> Any:  # noqa: N802
    return lib.tensor(a).to(getattr(lib, dtype))


def lower(lib: Any, f: Callable[..., Any], *arrays: np.ndarray) -> Any:
    return f(*(T(lib, a) for a in arrays))


# each row: lib -> a result (a tensor or a tuple of tensors) computed under autocast
LOWER_ROWS: dict[str, Callable[[Any], Any]] = {
    "matmul": lambda m: lower(m, m.matmul, A, B),
    "matmul_3d_2d": lambda m: lower(m, m.matmul, W3, B),
    "matmul_vector": lambda m: lower(m, m.matmul, A, V),
    "operator_matmul": lambda m: lower(m, lambda x, y: x @ y, A, B),
    "method_mm": lambda m: lower(m, lambda x, y: x.mm(y), A, B),
    "mm": lambda m: lower(m, m.mm, A, B),
    "bmm": lambda m: lower(m, m.bmm, W3, np.stack([B, B])),
    "baddbmm": lambda m: lower(m, m.baddbmm, _a(2, 4, 5), W3, np.stack([B, B])),
    "addmm": lambda m: lower(m, m.addmm, _a(4, 5), A, B),
    "addbmm": lambda m: lower(m, m.addbmm, _a(4, 5), W3, np.stack([B, B])),
    "linear": lambda m: lower(m, m.nn.functional.linear, A, B.T.copy(), _a(5)),
    "linear_no_bias": lambda m: lower(m, m.nn.functional.linear, W3, B.T.copy()),
    "vecdot": lambda m: lower(m, m.linalg.vecdot, A, A[::-1].copy()),
    "conv1d": lambda m: lower(m, m.nn.functional.conv1d, X3, K3),
    "conv2d": lambda m: lower(m, m.nn.functional.conv2d, X4, K4, _a(4)),
    "conv2d_same": lambda m: lower(
        m, lambda x, w: m.nn.functional.conv2d(x, w, padding="same"), X4, K4
    ),
    "conv3d": lambda m: lower(m, m.nn.functional.conv3d, X5, K5),
    "conv_transpose1d": lambda m: lower(
        m, m.nn.functional.conv_transpose1d, X3, K3.transpose(1, 0, 2).copy()
    ),
    "conv_transpose2d": lambda m: lower(m, m.nn.functional.conv_transpose2d, X4, _a(3, 2, 3, 3)),
    "conv_transpose3d": lambda m: lower(m, m.nn.functional.conv_transpose3d, X5, _a(2, 3, 2, 2, 2)),
    "conv_tbc": lambda m: lower(m, m.conv_tbc, _a(9, 2, 3), _a(3, 3, 4), _a(4)),
    "prelu": lambda m: lower(m, m.nn.functional.prelu, X4, _a(3)),
    "sdpa": lambda m: lower(
        m, m.nn.functional.scaled_dot_product_attention, W3, W3 * 0.5, _a(2, 4, 6)
    ),
    # composites whose pieces are listed (Note [native ops])
    "einsum": lambda m: lower(m, lambda x, y: m.einsum("ij,jk->ik", x, y), A, B),
    "tensordot": lambda m: lower(m, lambda x, y: m.tensordot(x, y, 1), A, B),
    "inner": lambda m: lower(m, m.inner, A, _a(3, 6)),
    "multi_dot": lambda m: lower(m, lambda x, y: m.linalg.multi_dot([x, y]), A, B),
    "matrix_power": lambda m: lower(m, lambda x: m.linalg.matrix_power(x, 3), SPD),
    # ops PyTorch runs as one kernel outside the lists: nothing cast
    "mv": lambda m: lower(m, m.mv, A, V),
    "dot": lambda m: lower(m, m.dot, V, V),
    "addmv": lambda m: lower(m, m.addmv, _a(4), A, V),
    "addr": lambda m: lower(m, m.addr, A, _a(4), V),
    "outer": lambda m: lower(m, m.outer, V, V),
    "bilinear": lambda m: lower(m, m.nn.functional.bilinear, A, A, _a(3, 6, 6)),
    # outside the lists: nothing cast, ordinary promotion
    "relu_bf16": lambda m: m.relu(T(m, A, "bfloat16")),
    "add_mixed": lambda m: T(m, A, "bfloat16") + T(m, A),
    "softmax_bf16": lambda m: m.softmax(T(m, A, "bfloat16"), 1),
    "sum": lambda m: T(m, A).sum(),
    "float64_matmul": lambda m: lower(m, lambda x, y: m.mm(x.double(), y), A, B),
}

FP32_ROWS: dict[str, Callable[[Any], Any]] = {  # bfloat16 inputs: computed in float32
    "prod": lambda m: T(m, V, "bfloat16").prod(),
    "trace": lambda m: m.trace(T(m, A[:, :4], "bfloat16")),
    "cdist": lambda m: m.cdist(T(m, A, "bfloat16"), T(m, _a(3, 6), "bfloat16")),
    "quantile": lambda m: m.quantile(T(m, V, "bfloat16"), 0.3),
    "mse_loss": lambda m: m.nn.functional.mse_loss(T(m, A, "bfloat16"), T(m, A[::-1].copy())),
    "l1_loss": lambda m: m.nn.functional.l1_loss(
        T(m, A, "bfloat16"), T(m, A[::-1].copy(), "bfloat16")
    ),
    "smooth_l1_loss": lambda m: m.nn.functional.smooth_l1_loss(T(m, A, "bfloat16"), T(m, A)),
    "huber_loss": lambda m: m.nn.functional.huber_loss(T(m, A, "bfloat16"), T(m, A) * 2),
    "cross_entropy": lambda m: m.nn.functional.cross_entropy(
        T(m, LOGITS, "bfloat16"), m.tensor(TARGET)
    ),
    "nll_loss": lambda m: m.nn.functional.nll_loss(T(m, LOGITS, "bfloat16"), m.tensor(TARGET)),
    "binary_cross_entropy": lambda m: m.nn.functional.binary_cross_entropy(
        T(m, PROBS, "bfloat16"), T(m, PROBS)
    ),
    "bce_with_logits": lambda m: m.nn.functional.binary_cross_entropy_with_logits(
        T(m, LOGITS, "bfloat16"), T(m, PROBS, "bfloat16")
    ),
    "kl_div": lambda m: m.nn.functional.kl_div(
        T(m, LOGITS, "bfloat16"), T(m, PROBS), reduction="batchmean"
    ),
    "soft_margin_loss": lambda m: m.nn.functional.soft_margin_loss(
        T(m, A, "bfloat16"), T(m, np.sign(A))
    ),
    "multi_margin_loss": lambda m: m.nn.functional.multi_margin_loss(
        T(m, LOGITS, "bfloat16"), m.tensor(TARGET)
    ),
    "cosine_embedding_loss": lambda m: m.nn.functional.cosine_embedding_loss(
        T(m, A, "bfloat16"), T(m, A[::-1].copy(), "bfloat16"), m.tensor([1.0, -1.0, 1.0, -1.0])
    ),
    "margin_ranking_loss": lambda m: m.nn.functional.margin_ranking_loss(
        T(m, V, "bfloat16"), T(m, V[::-1].copy(), "bfloat16"), T(m, np.sign(V))
    ),
    "fft_rfft": lambda m: m.fft.rfft(T(m, V, "bfloat16")),
    "fft_fft2": lambda m: m.fft.fft2(T(m, A, "bfloat16")),
    "linalg_inv": lambda m: m.linalg.inv(T(m, SPD, "bfloat16")),
    "inverse": lambda m: m.inverse(T(m, SPD, "bfloat16")),
    "linalg_solve": lambda m: m.linalg.solve(T(m, SPD, "bfloat16"), T(m, _a(6, 2))),
    "linalg_cholesky": lambda m: m.linalg.cholesky(T(m, SPD, "bfloat16")),
    "linalg_eigvalsh": lambda m: m.linalg.eigvalsh(T(m, SPD, "bfloat16")),
    "linalg_svdvals": lambda m: m.linalg.svdvals(T(m, A, "bfloat16")),
    "linalg_qr": lambda m: m.linalg.qr(T(m, A, "bfloat16")).R.abs(),
    "prod_float32_input": lambda m: T(m, V).prod(),
}

PROMOTE_ROWS: dict[str, Callable[[Any], Any]] = {
    "cat_mixed": lambda m: m.cat([T(m, A, "bfloat16"), T(m, A)]),
    "cat_bf16": lambda m: m.cat([T(m, A, "bfloat16"), T(m, A, "bfloat16")]),
    "cat_double": lambda m: m.cat([T(m, A, "float64"), T(m, A)]),
    "cat_int": lambda m: m.cat([T(m, A, "bfloat16"), m.ones(4, 6, dtype=m.int64)]),
    "stack_mixed": lambda m: m.stack([T(m, A), T(m, A, "bfloat16")], 1),
    "stack_halves": lambda m: m.stack([T(m, A, "float16"), T(m, A, "bfloat16")]),
    "index_copy": lambda m: T(m, A).index_copy(0, m.tensor([2, 0]), T(m, A[:2], "bfloat16")),
}

ROWS = {**LOWER_ROWS, **FP32_ROWS, **PROMOTE_ROWS}
BF16_EPS = 2.0**-7  # one unit in the last place of bfloat16 at 1 (8 significant bits)
F32_EPS = 2.0**-23


def _run(lib: Any, row: Callable[[Any], Any], dtype: str) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with lib.autocast("cpu", dtype=getattr(lib, dtype)):
                out = row(lib)
        except RuntimeError as e:
            return f"RuntimeError: {e}"
    outs = out if isinstance(out, tuple) else (out,)
    return [
        (str(o.dtype), o.detach().to(lib.complex128 if o.is_complex() else lib.float64).numpy())
        for o in outs
    ]


EPS = {"torch.bfloat16": BF16_EPS, "torch.float16": 2.0**-10}
COMPUTED_LOW = {"bilinear"}  # a float32 result computed in the autocast dtype


def _close(ours: np.ndarray, theirs: np.ndarray, dtype: str) -> None:
    """Both sides round the same inputs to the autocast dtype and compute in it (or in float32):
    they may differ where an accumulation in another order lands the result on the other side
    of a rounding boundary, one unit in the last place of the type computed in, relative to the
    result's largest value (cancellation in a sum keeps the absolute error, not the relative)."""
    eps = EPS.get(dtype, 64 * F32_EPS)
    scale = max(1.0, float(np.abs(theirs).max(initial=0.0)))
    np.testing.assert_allclose(ours, theirs, rtol=eps, atol=eps * scale)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("name", ROWS)
def test_op_matches_torch(name: str, dtype: str) -> None:
    ours, theirs = _run(adjit, ROWS[name], dtype), _run(torch, ROWS[name], dtype)
    if isinstance(theirs, str):
        assert ours == theirs
        return
    assert [d for d, _ in ours] == [d for d, _ in theirs]
    for (d, a), (_, b) in zip(ours, theirs, strict=True):
        _close(a, b, f"torch.{dtype}" if name in COMPUTED_LOW else d)


def test_every_listed_op_is_wrapped_or_named_missing() -> None:
    from adjit.runtime import autocast

    missing = set(CPU_POLICY) - set(autocast.WRAPPED)
    assert missing == MISSING


MISSING = set(  # listed ops adjit does not wrap yet: they run unchanged under autocast
    """
    adaptive_avg_pool3d adaptive_max_pool3d avg_pool3d cholesky cholesky_inverse cholesky_solve
    fractional_max_pool2d fractional_max_pool3d geqrf grid_sampler lu_solve max_pool3d
    max_unpool2d max_unpool3d orgqr ormqr pinverse polar qr stft svd triangular_solve
    view_as_complex
    """.split()  # noqa: SIM905 - a word list reads best as words
)


# ---- a train step -----------------------------------------------------------------------------
XB, YB = _a(8, 3, 6, 6), np.array([0, 1, 2, 1, 0, 2, 1, 0])


def _train_step(lib: Any, dtype: str) -> dict[str, Any]:
    """Conv, ReLU, Linear under autocast, the loss outside it, one SGD step."""
    gen = np.random.default_rng(3)
    conv = lib.nn.Conv2d(3, 4, 3)
    fc = lib.nn.Linear(4 * 4 * 4, 3)
    with lib.no_grad():
        for p in (*conv.parameters(), *fc.parameters()):
            p.copy_(lib.tensor(gen.standard_normal(tuple(p.shape)).astype(np.float32) * 0.3))
    params = [*conv.parameters(), *fc.parameters()]
    opt = lib.optim.SGD(params, lr=0.1)
    with lib.autocast(device_type="cpu", dtype=getattr(lib, dtype)):
        hidden = lib.relu(conv(lib.tensor(XB)))
        logits = fc(hidden.flatten(1))
        inner = lib.nn.functional.cross_entropy(logits, lib.tensor(YB))
    loss = inner * 1.0
    loss.backward()
    grads = [p.grad.clone() for p in params]
    opt.step()
    return {
        "dtypes": [str(t.dtype) for t in (hidden, logits, inner, loss, *grads)],
        "loss": float(loss),
        "grads": [g.numpy() for g in grads],
        "params": [p.detach().numpy().copy() for p in params],
    }


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_train_step_matches_torch(dtype: str) -> None:
    ours, theirs = _train_step(adjit, dtype), _train_step(torch, dtype)
    assert ours["dtypes"] == theirs["dtypes"]
    assert ours["dtypes"][:4] == [f"torch.{dtype}"] * 2 + ["torch.float32"] * 2
    eps = BF16_EPS if dtype == "bfloat16" else 2.0**-10
    # the forward rounds to the autocast type at each of conv, linear (two roundings feed the
    # loss); each gradient is a product of one such rounded factor with another: 2 units
    assert ours["loss"] == pytest.approx(theirs["loss"], rel=2 * eps)
    for a, b in zip(ours["grads"], theirs["grads"], strict=True):
        np.testing.assert_allclose(a, b, rtol=2 * eps, atol=2 * eps * np.abs(b).max())


# ---- the state: nesting, enabled=False, the decorator, queries --------------------------------
def _mm(m: Any) -> str:
    return str(m.mm(m.ones(2, 2), m.ones(2, 2)).dtype)


def _nested(m: Any) -> list[Any]:
    seen = [m.is_autocast_enabled("cpu"), str(m.get_autocast_dtype("cpu"))]
    with m.autocast("cpu"):
        seen += [m.is_autocast_enabled("cpu"), m.is_autocast_enabled(), _mm(m)]
        with m.autocast("cpu", enabled=False):
            seen += [m.is_autocast_enabled("cpu"), _mm(m)]
        with m.autocast("cpu", dtype=m.float16):
            seen += [str(m.get_autocast_dtype("cpu")), _mm(m)]
        seen += [str(m.get_autocast_dtype("cpu")), _mm(m)]
    return [*seen, m.is_autocast_enabled("cpu"), _mm(m)]


def _decorated(m: Any) -> list[str]:
    @m.autocast(device_type="cpu", dtype=m.bfloat16)
    def f(x: Any) -> Any:
        return x @ x

    return [str(f(m.ones(2, 2)).dtype), _mm(m)]


def _deprecated(m: Any) -> list[str]:
    with m.cpu.amp.autocast():
        return [_mm(m), str(m.get_autocast_dtype("cpu"))]


def _unsupported(m: Any) -> list[Any]:
    with m.autocast("cpu", dtype=m.float64):
        return [m.is_autocast_enabled("cpu"), _mm(m)]


def _raises_inside(m: Any) -> list[Any]:
    try:
        with m.autocast("cpu"):
            raise ValueError("inside")
    except ValueError:
        pass
    return [m.is_autocast_enabled("cpu"), _mm(m)]


def _halves(m: Any) -> Any:
    with m.autocast("cpu"):
        return m.cat([m.ones(2, dtype=m.float16), m.ones(2, dtype=m.bfloat16)])


def _weight_cast_once(m: Any) -> list[Any]:
    w = m.ones(2, 2, requires_grad=True)
    with m.autocast("cpu"):
        a, b = m.mm(m.ones(2, 2), w), m.mm(m.ones(2, 2), w)
        cached = a.grad_fn.next_functions[1][0] is b.grad_fn.next_functions[1][0]
    with m.autocast("cpu", cache_enabled=False):
        a, b = m.mm(m.ones(2, 2), w), m.mm(m.ones(2, 2), w)
        uncached = a.grad_fn.next_functions[1][0] is b.grad_fn.next_functions[1][0]
    names = type(a.grad_fn.next_functions[1][0]).__name__
    return [cached, uncached, names, m.is_autocast_cache_enabled()]


STATE: dict[str, Callable[[Any], Any]] = {
    "nested": _nested,
    "decorator": _decorated,
    "deprecated_cpu_amp": _deprecated,
    "unsupported_dtype": _unsupported,
    "exception_restores": _raises_inside,
    "two_half_types": _halves,
    "weight_cast_cache": _weight_cast_once,
}


def _outcome(fn: Callable[[Any], Any], lib: Any) -> str:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = f"ok {fn(lib)!r}"
        except Exception as e:  # the error's type and text are compared
            out = f"{type(e).__name__}: {e}"
    return f"{out} {[f'{w.category.__name__}: {w.message}' for w in caught]}"


@pytest.mark.parametrize("name", STATE)
def test_state_matches_torch(name: str) -> None:
    ours = _outcome(STATE[name], adjit).replace("adjit", "torch")
    assert ours == _outcome(STATE[name], torch)


# ---- compiled programs record the same casts ---------------------------------------------------
def _forward(x: Any, w: Any, k: Any) -> Any:
    h = adjit.relu(adjit.nn.functional.conv2d(x, k))
    y = adjit.nn.functional.linear(h.flatten(1), w)
    return adjit.nn.functional.cross_entropy(y, adjit.tensor(YB)), y


def _inside(x: Any, w: Any, k: Any) -> Any:
    with adjit.autocast("cpu"):
        return _forward(x, w, k)


def _grads_of(fn: Callable[..., Any], outer: bool) -> list[Any]:
    w = adjit.tensor(_a(3, 64) * 0.1, requires_grad=True)
    k = adjit.tensor(_a(4, 3, 3, 3) * 0.3, requires_grad=True)
    ctx = adjit.autocast("cpu") if outer else adjit.autocast("cpu", enabled=False)
    with ctx:
        loss, y = fn(adjit.tensor(XB), w, k)
    loss.backward()
    return [loss, y, w.grad, k.grad]


@pytest.mark.parametrize("outer", [False, True], ids=["autocast_inside", "autocast_around"])
def test_compiled_matches_eager_bits(outer: bool) -> None:
    fn = _forward if outer else _inside
    compiled = adjit.compile(fn)
    ours = _grads_of(compiled, outer)
    again = _grads_of(compiled, outer)  # (the second call takes the cached program)
    eager = _grads_of(fn, outer)
    assert [str(t.dtype) for t in ours] == [str(t.dtype) for t in eager]
    assert str(ours[1].dtype) == "torch.bfloat16"
    for a, b, c in zip(ours, again, eager, strict=True):
        np.testing.assert_array_equal(a.detach().float().numpy(), c.detach().float().numpy())
        np.testing.assert_array_equal(b.detach().float().numpy(), c.detach().float().numpy())


def test_compiled_retraces_when_autocast_changes() -> None:
    compiled = adjit.compile(lambda x, y: x @ y)
    x, y = adjit.tensor(A), adjit.tensor(B)
    before = compiled(x, y)
    with adjit.autocast("cpu"):
        inside = compiled(x, y)
        inside_again = compiled(x, y)
    after = compiled(x, y)
    assert [str(t.dtype) for t in (before, inside, inside_again, after)] == [
        "torch.float32",
        "torch.bfloat16",
        "torch.bfloat16",
        "torch.float32",
    ]
    np.testing.assert_array_equal(
        inside.float().numpy(), (x.bfloat16() @ y.bfloat16()).float().numpy()
    )


PROGRAM = """
import sys
sys.modules["ml_dtypes"] = None  # as if not installed
import adjit
x = adjit.ones(2, 2)
with adjit.autocast("cpu", dtype=adjit.float16):
    print((x @ x).dtype, adjit.is_autocast_enabled("cpu"))
try:
    with adjit.autocast("cpu"):
        print("ran")
except TypeError as e:
    print(e)
print(adjit.is_autocast_enabled("cpu"), (x @ x).dtype)
"""


def test_without_ml_dtypes() -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out == [
        "torch.float16 True",
        "torch.autocast('cpu', dtype=torch.bfloat16) runs ops in torch.bfloat16, and needs the "
        "ml_dtypes package: pip install 'adjit[bfloat16]' (or ml_dtypes); or use "
        "dtype=torch.float16",
        "False torch.float32",
    ]
