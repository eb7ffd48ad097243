"""CPU autocast side by side with PyTorch (Note [CPU autocast] in runtime/autocast.py): result
dtypes and values op by op for PyTorch's lists and for ops outside them (the rest:
tests/test_cpu_autocast_modes.py)."""

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
    "cholesky_legacy": lambda m: m.cholesky(T(m, SPD, "bfloat16")),
    "svd_legacy": lambda m: m.svd(T(m, SPD, "bfloat16")).S,
    "qr_legacy": lambda m: m.qr(T(m, A, "bfloat16")).R.abs(),
    "pinverse": lambda m: m.pinverse(T(m, SPD, "bfloat16")),
    "cholesky_inverse": lambda m: m.cholesky_inverse(T(m, np.linalg.cholesky(SPD), "bfloat16")),
    "cholesky_solve": lambda m: m.cholesky_solve(
        T(m, _a(6, 2), "bfloat16"), T(m, np.linalg.cholesky(SPD), "bfloat16")
    ),
    "triangular_solve": lambda m: (
        m.triangular_solve(
            T(m, _a(6, 2), "bfloat16"), T(m, np.linalg.cholesky(SPD), "bfloat16"), upper=False
        ).solution
    ),
    "polar": lambda m: m.polar(T(m, np.abs(V), "bfloat16"), T(m, V, "bfloat16")),
    "view_as_complex": lambda m: m.view_as_complex(T(m, _a(3, 2), "bfloat16")),
    "stft": lambda m: m.stft(T(m, _a(64), "bfloat16"), 16, return_complex=True),
    "avg_pool3d": lambda m: m.nn.functional.avg_pool3d(T(m, X5, "bfloat16"), 2),
    "max_pool3d": lambda m: m.nn.functional.max_pool3d(T(m, X5, "bfloat16"), 2),
    "adaptive_avg_pool3d": lambda m: m.nn.functional.adaptive_avg_pool3d(T(m, X5, "bfloat16"), 2),
    "adaptive_max_pool3d": lambda m: m.nn.functional.adaptive_max_pool3d(T(m, X5, "bfloat16"), 2),
    "grid_sample": lambda m: m.nn.functional.grid_sample(
        T(m, X4, "bfloat16"), T(m, np.tanh(_a(2, 3, 3, 2)), "bfloat16"), align_corners=False
    ),
    "grid_sample_mixed": lambda m: m.nn.functional.grid_sample(
        T(m, X4, "bfloat16"), T(m, np.tanh(_a(2, 3, 3, 2))), align_corners=False
    ),
    "reflect_pad2d": lambda m: m.nn.functional.pad(T(m, X4, "bfloat16"), (1, 1, 2, 0), "reflect"),
    "reflect_pad3d": lambda m: m.nn.functional.pad(T(m, X5, "bfloat16"), (1,) * 6, "reflect"),
    "replicate_pad1d": lambda m: m.nn.functional.pad(T(m, X3, "bfloat16"), (2, 1), "replicate"),
    "replicate_pad3d": lambda m: m.nn.functional.pad(T(m, X5, "bfloat16"), (1,) * 6, "replicate"),
    "circular_pad": lambda m: m.nn.functional.pad(T(m, X3, "bfloat16"), (2, 1), "circular"),
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

SEQ = _a(5, 2, 4)


def _module(m: Any, cls: str, *args: Any, **kwargs: Any) -> Any:
    m.manual_seed(0)  # (adjit's initializers draw PyTorch's numbers)
    return getattr(m.nn, cls)(*args, **kwargs)


def _sparse(m: Any) -> Any:
    values = m.tensor([1.5, 2.25, 3.125, -0.5])
    return m.sparse_coo_tensor(m.tensor([[0, 1, 2, 3], [1, 0, 5, 2]]), values, (4, 6))


SPARSE_ROWS: dict[str, Callable[[Any], Any]] = {  # a sparse operand (its values cast too)
    "sparse_mm": lambda m: m.mm(_sparse(m), T(m, B)),
    "sparse_matmul": lambda m: m.matmul(_sparse(m), T(m, B)),
    "sparse_operator": lambda m: _sparse(m) @ T(m, B),
    "sparse_method_mm": lambda m: _sparse(m).mm(T(m, B)),
    "torch_sparse_mm": lambda m: m.sparse.mm(_sparse(m), T(m, B)),
    "torch_sparse_addmm": lambda m: m.sparse.addmm(T(m, _a(4, 5)), _sparse(m), T(m, B)),
}


def _cnn(m: Any) -> Any:
    m.manual_seed(0)
    nn = m.nn
    return nn.Sequential(
        *(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2)),
        *(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 5)),
    )


def _eval(module: Any, m: Any) -> Callable[..., Any]:
    """``module`` in eval mode, called without grad: PyTorch's fused (fast path) kernels."""
    module.eval()

    def run(*args: Any) -> Any:
        with m.no_grad():
            return module(*args)

    return run


MODULE_ROWS: dict[str, Callable[[Any], Any]] = {  # whole layers, float32 weights and inputs
    "linear_module": lambda m: _module(m, "Linear", 6, 5)(T(m, A)),
    "conv2d_module": lambda m: _module(m, "Conv2d", 3, 4, 3)(T(m, X4)),
    "mha": lambda m: _module(m, "MultiheadAttention", 4, 2)(*(T(m, SEQ),) * 3),
    "encoder_layer": lambda m: _module(m, "TransformerEncoderLayer", 4, 2, 8, dropout=0.0)(
        T(m, SEQ)
    ),
    "linear_layernorm": lambda m: m.nn.Sequential(
        _module(m, "Linear", 6, 5), m.nn.LayerNorm(5), m.nn.GroupNorm(1, 4)
    )(T(m, A)),
    "encoder_layer_fused": lambda m: _eval(
        _module(m, "TransformerEncoderLayer", 4, 2, 8, dropout=0.0, batch_first=True), m
    )(T(m, SEQ)),
    "encoder_layer_fused_norm_first": lambda m: _eval(
        _module(m, "TransformerEncoderLayer", 4, 2, 8, batch_first=True, norm_first=True), m
    )(T(m, SEQ)),
    "mha_fused": lambda m: _eval(_module(m, "MultiheadAttention", 4, 2, batch_first=True), m)(
        *(T(m, SEQ),) * 3
    ),
    "cnn": lambda m: _cnn(m)(T(m, X4)),
    "decoder_layer": lambda m: _module(
        m, "TransformerDecoderLayer", 4, 2, 8, dropout=0.0, batch_first=True
    )(T(m, SEQ), T(m, SEQ[::-1].copy())),
    "transformer": lambda m: _module(m, "Transformer", 4, 2, 1, 1, 8, dropout=0.0)(
        T(m, SEQ), T(m, SEQ[::-1].copy())
    ),
    "lstm": lambda m: _module(m, "LSTM", 4, 3, num_layers=2)(T(m, SEQ))[0],
    "lstm_bidirectional": lambda m: _module(m, "LSTM", 4, 3, bidirectional=True)(T(m, SEQ))[0],
    "lstm_proj": lambda m: _module(m, "LSTM", 4, 3, proj_size=2)(T(m, SEQ))[0],
    "lstm_packed": lambda m: (
        _module(m, "LSTM", 4, 3)(m.nn.utils.rnn.pack_padded_sequence(T(m, SEQ), [5, 3]))[0].data
    ),
    "gru": lambda m: _module(m, "GRU", 4, 3)(T(m, SEQ))[0],
    "rnn": lambda m: _module(m, "RNN", 4, 3)(T(m, SEQ))[0],
    "lstm_cell": lambda m: _module(m, "LSTMCell", 4, 3)(T(m, SEQ[0]))[0],
    "gru_cell": lambda m: _module(m, "GRUCell", 4, 3)(T(m, SEQ[0])),
    # PyTorch never autocasts in-place and out= forms: computed in float32
    "addmm_inplace": lambda m: T(m, _a(4, 5)).addmm_(T(m, A), T(m, B)),
    "mm_out": lambda m: m.mm(T(m, A), T(m, B), out=m.empty(4, 5)),
    "cat_out": lambda m: m.cat([T(m, A, "bfloat16"), T(m, A)], out=m.empty(8, 6)),
}

ROWS = {**LOWER_ROWS, **FP32_ROWS, **PROMOTE_ROWS, **SPARSE_ROWS, **MODULE_ROWS}
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
# float32 results computed in the autocast dtype (bilinear; the float32 residual streams of
# the transformer layers add their attention and feed-forward results, made in that dtype)
COMPUTED_LOW = {"bilinear", "encoder_layer", "decoder_layer", "transformer"}
# PyTorch's oneDNN LSTM has no kernel for some dtypes on some CPUs ("could not create a primitive
# descriptor": float16 on the AVX-512 EPYC, bfloat16 too on an AVX2 one): a gap of the oracle's
# build on this machine, not PyTorch's semantics, so there is nothing to compare with
TORCH_CANNOT = "could not create a primitive descriptor"


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
    if isinstance(theirs, str) and TORCH_CANNOT in theirs:
        pytest.skip(f"PyTorch cannot run it on this machine ({theirs[:80]})")
    if isinstance(theirs, str):
        assert ours == theirs
        return
    assert [d for d, _ in ours] == [d for d, _ in theirs]
    for (d, a), (_, b) in zip(ours, theirs, strict=True):
        _close(a, b, f"torch.{dtype}" if name in COMPUTED_LOW else d)


def test_every_listed_op_is_wrapped_or_named_missing() -> None:
    from adjit.runtime import autocast

    missing = set(CPU_POLICY) - set(autocast.WRAPPED) - autocast.RUN_AS
    assert missing == set()
