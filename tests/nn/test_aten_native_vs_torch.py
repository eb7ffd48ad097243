"""torch.native_layer_norm/batch_norm/group_norm/dropout, the deprecated norms, embedding_bag's
4-tuple and the flat RNN functions (torch.lstm, gru, rnn_tanh/relu, cells) side by side with
PyTorch, eager and compiled."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import adjit

RNG = np.random.default_rng(7)


def _pair(*shape: int, dtype: Any = np.float32) -> tuple[Any, Any]:
    a = RNG.standard_normal(shape).astype(dtype)
    return adjit.tensor(a), torch.tensor(a)


def _close(ours: Any, theirs: Any, rtol: float = 2e-6, atol: float = 1e-6) -> None:
    if isinstance(ours, tuple | list):
        assert len(ours) == len(theirs)
        for o, t in zip(ours, theirs, strict=True):
            _close(o, t, rtol, atol)
        return
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert str(ours.dtype) == str(theirs.dtype)
    o, t = ours.detach().float().numpy(), theirs.detach().float().numpy()
    np.testing.assert_allclose(o, t, rtol=rtol, atol=atol)


def _same_error(fn: Callable[[Any], Any]) -> None:
    with pytest.raises(Exception) as ours:  # noqa: PT011 - compared with torch's
        fn(adjit)
    with pytest.raises(Exception) as theirs:  # noqa: PT011
        fn(torch)
    assert type(ours.value) is type(theirs.value)
    assert str(ours.value) == str(theirs.value)


# ---- normalization with statistics -----------------------------------------------------------
@pytest.mark.parametrize("shape, norm", [((2, 3, 4), [4]), ((2, 3, 4), [3, 4]), ((5, 6), [6])])
def test_native_layer_norm(shape: tuple[int, ...], norm: list[int]) -> None:
    (a, t), (wa, wt) = _pair(*shape), _pair(*norm)
    a.requires_grad_(), t.requires_grad_()
    ours = adjit.native_layer_norm(a, norm, wa, None, 1e-5)
    theirs = torch.native_layer_norm(t, norm, wt, None, 1e-5)
    _close(ours, theirs)
    assert type(ours[0].grad_fn).__name__ == type(theirs[0].grad_fn).__name__
    assert not ours[1].requires_grad and not ours[2].requires_grad
    ours[0].sum().backward()
    theirs[0].sum().backward()
    _close(a.grad, t.grad, 1e-5, 1e-5)


def test_native_layer_norm_bfloat16_statistics() -> None:
    a, t = _pair(4, 8)
    _close(
        adjit.native_layer_norm(a.bfloat16(), [8], None, None, 1e-5),
        torch.native_layer_norm(t.bfloat16(), [8], None, None, 1e-5),
        1e-2,
        1e-2,
    )


@pytest.mark.parametrize("training", [True, False])
def test_native_batch_norm(training: bool) -> None:
    a, t = _pair(4, 3, 5)
    (ma, mt), (va, vt) = _pair(3), _pair(3)
    va, vt = va.abs(), vt.abs()
    ours = adjit.native_batch_norm(a, None, None, ma, va, training, 0.1, 1e-5)
    theirs = torch.native_batch_norm(t, None, None, mt, vt, training, 0.1, 1e-5)
    _close(ours, theirs, 1e-5, 1e-5)
    _close((ma, va), (mt, vt))  # running statistics updated alike


def test_native_batch_norm_without_running_stats() -> None:
    a, t = _pair(4, 3)
    ours = adjit.native_batch_norm(a, None, None, None, None, True, 0.1, 1e-5)
    _close(ours, torch.native_batch_norm(t, None, None, None, None, True, 0.1, 1e-5), 1e-5, 1e-5)
    # (PyTorch crashes the process on this one: adjit refuses)
    with pytest.raises(RuntimeError, match="must be defined in evaluation mode"):
        adjit.native_batch_norm(a, None, None, None, None, False, 0.1, 1e-5)


def test_native_group_norm_and_its_errors() -> None:
    (a, t), (wa, wt) = _pair(4, 6, 5), _pair(6)
    ours = adjit.native_group_norm(a, wa, None, 4, 6, 5, 3, 1e-5)
    _close(ours, torch.native_group_norm(t, wt, None, 4, 6, 5, 3, 1e-5), 1e-5, 1e-5)
    x = np.ones((4, 3, 5), np.float32)
    _same_error(lambda T: T.native_group_norm(T.tensor(x), None, None, 4, 3, 5, 2, 1e-5))
    _same_error(lambda T: T.native_group_norm(T.tensor(x), None, None, 4, 3, 6, 3, 1e-5))


# ---- dropout -----------------------------------------------------------------------------------
@pytest.mark.parametrize("train", [True, None, False])
def test_native_dropout_draws_as_torch(train: bool | None) -> None:
    a, t = _pair(6, 7)
    adjit.manual_seed(3), torch.manual_seed(3)
    ours, theirs = adjit.native_dropout(a, 0.3, train), torch.native_dropout(t, 0.3, train)
    _close(ours, theirs, 0, 0)
    assert ours[1].dtype is adjit.bool


def test_native_dropout_errors() -> None:
    _same_error(lambda T: T.native_dropout(T.ones(3), 1.5, True))


# ---- shuffles, norms, splits ---------------------------------------------------------------
def test_native_channel_shuffle_and_split() -> None:
    for T in (adjit, torch):
        assert T.native_channel_shuffle(T.arange(8.0).view(1, 4, 2), 2).tolist() == (
            torch.native_channel_shuffle(torch.arange(8.0).view(1, 4, 2), 2).tolist()
        )
        assert [p.tolist() for p in T.unsafe_split_with_sizes(T.arange(5), [2, 3])] == [
            [0, 1],
            [2, 3, 4],
        ]
    _same_error(lambda T: T.native_channel_shuffle(T.arange(8.0).view(1, 4, 2), 3))


def test_native_norm_has_no_dense_kernel() -> None:
    with pytest.raises(NotImplementedError, match="Could not run 'aten::native_norm'"):
        adjit.native_norm(adjit.ones(2))
    with pytest.raises(NotImplementedError, match="Could not run 'aten::native_norm'"):
        torch.native_norm(torch.ones(2))


NORMS: dict[str, Callable[[Any, Any], Any]] = {
    "fro-all": lambda T, x: T.frobenius_norm(x, [0, 1]),
    "fro-keep": lambda T, x: T.frobenius_norm(x, [1], True),
    "nuc": lambda T, x: T.nuclear_norm(x),
    "nuc-keep": lambda T, x: T.nuclear_norm(x, True),
    "nuc-dims": lambda T, x: T.nuclear_norm(x, [0, 1], True),
}


@pytest.mark.parametrize("name", list(NORMS))
def test_deprecated_norms(name: str) -> None:
    a, t = _pair(3, 4, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _close(NORMS[name](adjit, a), NORMS[name](torch, t), 1e-12, 1e-12)


@pytest.mark.parametrize("name", ["frobenius_norm", "nuclear_norm"])
def test_deprecated_norms_warn_once_as_torch(name: str) -> None:
    """ATen's TORCH_WARN_ONCE: at most one warning per process, with PyTorch's text."""
    messages = []
    for T in (adjit, torch):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for _ in range(2):
                getattr(T, name)(T.ones(2, 2), [0, 1])
        messages.append([str(w.message).split(" (Triggered internally")[0] for w in caught])
    ours, theirs = messages
    assert len(ours) <= 1 and len(theirs) <= 1
    deprecated = f"at::{name} is deprecated and it is just left for JIT compatibility."
    assert all(m.startswith(deprecated) for m in ours + theirs)
    if ours and theirs:
        assert ours == theirs


def test_frobenius_norm_errors() -> None:
    warnings.simplefilter("ignore")
    _same_error(lambda T: T.frobenius_norm(T.ones(2, 3, 4), [0, 1, 2]))


# ---- embedding_bag's 4-tuple -------------------------------------------------------------------
BAGS: dict[str, tuple[Any, ...]] = {  # (mode, psw, include_last_offset, padding_idx, float64)
    "sum": (0, False, False, None, False),
    "mean": (1, False, False, None, False),
    "max": (2, False, False, None, False),
    "sum-pad": (0, False, False, 2, False),
    "mean-pad": (1, False, False, 2, False),
    "max-pad": (2, False, False, 2, False),
    "sum-last": (0, False, True, None, False),
    "mean-last": (1, False, True, None, False),
    "max-last-pad": (2, False, True, 2, False),
    "sum-psw": (0, True, False, None, False),
    "sum-double": (0, False, False, None, True),
    "mean-negative-pad": (1, False, False, -4, False),
}


@pytest.mark.parametrize("name", list(BAGS))
def test_embedding_bag_tuple(name: str) -> None:
    mode, psw, last, pad, double = BAGS[name]

    def run(T: Any) -> Any:
        w = T.tensor(np.arange(12.0).reshape(6, 2) % 5, dtype=T.float64 if double else T.float32)
        w.requires_grad_()
        idx = T.tensor([1, 2, 4, 5, 4, 3, 2, 0])
        offsets = T.tensor([0, 2, 2, 5, 8] if last else [0, 2, 2, 5])
        weights = T.arange(8.0) if psw else None
        out = T.embedding_bag(w, idx, offsets, False, mode, False, weights, last, pad)
        out[0].sum().backward()
        return (*out, w.grad)

    ours, theirs = run(adjit), run(torch)
    _close(ours, theirs)


def test_embedding_bag_int32_indices() -> None:
    def run(T: Any) -> Any:
        w = T.arange(12.0).view(6, 2)
        return T.embedding_bag(w, T.tensor([1, 5, 3], dtype=T.int32), T.tensor([0, 1]).int())

    _close(run(adjit), run(torch))


# ---- recurrent functions ------------------------------------------------------------------------
def _weights(module: Any) -> tuple[list[Any], list[Any]]:
    ts = [p.detach().clone() for p in module._flat_weights]
    return [adjit.tensor(p.numpy()) for p in ts], ts


RNNS = {
    "lstm": lambda: torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True),
    "lstm-proj": lambda: torch.nn.LSTM(3, 5, proj_size=2),
    "gru": lambda: torch.nn.GRU(3, 4, num_layers=2),
    "rnn_tanh": lambda: torch.nn.RNN(3, 4, bias=False, bidirectional=True),
    "rnn_relu": lambda: torch.nn.RNN(3, 4, nonlinearity="relu", batch_first=True),
}


@pytest.mark.parametrize("name", list(RNNS))
def test_flat_rnn_functions(name: str) -> None:
    torch.manual_seed(0)
    m = RNNS[name]()
    fn = name.split("-")[0]
    dirs = 2 if m.bidirectional else 1
    real = m.proj_size if getattr(m, "proj_size", 0) else m.hidden_size
    x = RNG.standard_normal((2, 5, 3) if m.batch_first else (5, 2, 3)).astype(np.float32)
    h = RNG.standard_normal((m.num_layers * dirs, 2, real)).astype(np.float32)
    c = RNG.standard_normal((m.num_layers * dirs, 2, m.hidden_size)).astype(np.float32)
    (wa, wt) = _weights(m)
    results = []
    for T, ws in ((adjit, wa), (torch, wt)):
        hx: Any = (T.tensor(h), T.tensor(c)) if fn == "lstm" else T.tensor(h)
        args = (m.bias, m.num_layers, 0.0, False, m.bidirectional, m.batch_first)
        results.append(getattr(T, fn)(T.tensor(x), hx, ws, *args))
    _close(results[0], results[1], 1e-5, 1e-5)
    hx_t = (torch.tensor(h), torch.tensor(c)) if fn == "lstm" else torch.tensor(h)
    _close(results[1][0], m(torch.tensor(x), hx_t)[0], 1e-5, 1e-6)  # (what the module calls)


def test_packed_gru_and_errors() -> None:
    torch.manual_seed(0)
    m = torch.nn.GRU(3, 4)
    wa, wt = _weights(m)
    data = RNG.standard_normal((6, 3)).astype(np.float32)
    results = []
    for T, ws in ((adjit, wa), (torch, wt)):
        sizes = T.tensor([3, 2, 1])
        results.append(
            T.gru(T.tensor(data), sizes, T.zeros(1, 3, 4), ws, True, 1, 0.0, False, False)
        )
    _close(results[0], results[1], 1e-5, 1e-5)
    x, h = np.zeros((5, 2, 3), np.float32), np.zeros((1, 2, 4), np.float32)

    def bad_params(T: Any) -> Any:
        ws = wa if T is adjit else wt
        return T.gru(T.tensor(x), T.tensor(h), ws[:3], True, 1, 0.0, False, False, False)

    def bad_layers(T: Any) -> Any:
        ws = wa if T is adjit else wt
        return T.gru(T.tensor(x), T.tensor(h), ws, True, 2, 0.0, False, False, False)

    _same_error(bad_params)
    _same_error(bad_layers)


CELLS = {"lstm_cell": 16, "gru_cell": 12, "rnn_tanh_cell": 4, "rnn_relu_cell": 4}


@pytest.mark.parametrize("name", list(CELLS))
def test_cells(name: str) -> None:
    rows = CELLS[name]
    (xa, xt), (ha, ht), (ca, ct) = _pair(2, 3), _pair(2, 4), _pair(2, 4)
    (wia, wit), (wha, wht), (ba, bt) = _pair(rows, 3), _pair(rows, 4), _pair(rows)
    hx_a = (ha, ca) if name == "lstm_cell" else ha
    hx_t = (ht, ct) if name == "lstm_cell" else ht
    ours = getattr(adjit, name)(xa, hx_a, wia, wha, ba)
    theirs = getattr(torch, name)(xt, hx_t, wit, wht, bt)
    _close(ours, theirs, 1e-5, 1e-5)


# ---- compiled ------------------------------------------------------------------------------------
def test_compiled_native_norms_and_lstm() -> None:
    torch.manual_seed(0)
    m = torch.nn.LSTM(3, 4)
    wa, _ = _weights(m)

    def f(x: Any, w: Any) -> Any:
        y, mean, rstd = adjit.native_layer_norm(x, [3], w, None, 1e-5)
        hx = (mean[:1].expand(1, 2, 4), rstd[:1].expand(1, 2, 4))
        out, h, c = adjit.lstm(y, hx, wa, True, 1, 0.0, False, False, False)
        g, gm, gr = adjit.native_group_norm(out, None, None, 5, 2, 4, 2, 1e-5)
        return (g.sum() + h.sum() + c.sum() + gm.sum() + gr.sum()).sum()

    x = adjit.tensor(RNG.standard_normal((5, 2, 3)).astype(np.float32))
    w = adjit.tensor(RNG.standard_normal(3).astype(np.float32), requires_grad=True)
    compiled = adjit.compile(f)
    eager_out = f(x, w)
    (eager_grad,) = adjit.autograd.grad(eager_out, w)
    w2 = w.detach().clone().requires_grad_()
    out = compiled(x, w2)
    out.backward()
    np.testing.assert_allclose(out.item(), eager_out.item(), rtol=1e-5)
    np.testing.assert_allclose(w2.grad.numpy(), eager_grad.numpy(), rtol=1e-4, atol=1e-5)
