"""nn.Transformer, TransformerEncoder/Decoder and their layers side by side with PyTorch: same
seed -> same weights (bit for bit, through _get_clones and the xavier re-init), then outputs and
every gradient across masks, norm_first, activation, batch_first, bias, in training (dropout
draws) and eval mode (PyTorch's fast and nested-tensor paths); state_dict keys, reprs, errors;
adjit.compile of forward+backward vs eager."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import torch

import adjit
from adjit import nn

TOL = {"float64": 1e-12, "float32": 5e-5}
D, HEADS, FF, S, T, N = 8, 2, 16, 5, 4, 3


def _lib_kw(lib: Any, kw: dict[str, Any]) -> dict[str, Any]:
    """Constructor keywords in ``lib``'s terms (an activation given by name of its module)."""
    out = dict(kw)
    act = kw.get("activation")
    if act == "F.gelu":
        out["activation"] = lib.nn.functional.gelu
    elif act == "GELU()":
        out["activation"] = lib.nn.GELU()
    elif act == "tanh":
        out["activation"] = lib.tanh
    return out


def _pair(build: Any, dtype: str = "float64") -> tuple[Any, Any]:
    """``build(lib, dtype)`` in both libraries from the same seed; same weights bit for bit,
    same state_dict keys and repr."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # enable_nested_tensor notices
        torch.manual_seed(0)
        t = build(torch, getattr(torch, dtype))
        adjit.manual_seed(0)
        a = build(adjit, getattr(adjit, dtype))
    assert list(a.state_dict()) == list(t.state_dict())
    for (n, p), q in zip(t.state_dict().items(), a.state_dict().values(), strict=True):
        assert np.array_equal(p.numpy(), q.numpy()), n
    assert repr(a) == repr(t)
    return t, a


def _close(a: Any, t: Any, tol: float, what: str) -> None:
    a, t = np.asarray(a), np.asarray(t)
    assert a.shape == t.shape, what
    np.testing.assert_allclose(a, t, rtol=tol, atol=tol, err_msg=what)


def _loss(o: Any, lib: Any) -> Any:
    w = np.cos(np.arange(o.numel()) * 0.37).reshape(tuple(o.shape))
    return (o * lib.tensor(w, dtype=o.dtype)).sum()


def _seq(n: int, batched: bool, batch_first: bool, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if not batched:
        return rng.standard_normal((n, D))
    return rng.standard_normal((N, n, D) if batch_first else (n, N, D))


def _masks(kind: str, batched: bool) -> dict[str, Any]:
    """Transformer.forward keywords by kind (numpy arrays; bool True = masked)."""
    src_kpm = np.zeros((N, S), bool)
    src_kpm[1, -2:] = True  # left aligned: PyTorch's nested-tensor path in eval mode
    tgt_kpm = np.zeros((N, T), bool)
    tgt_kpm[2, -1] = True
    mem_kpm = np.zeros((N, S), bool)
    mem_kpm[0, 1] = True  # not left aligned
    causal = np.triu(np.full((T, T), -np.inf), 1)
    if not batched:
        src_kpm, tgt_kpm, mem_kpm = src_kpm[1], tgt_kpm[2], mem_kpm[0]
    table = {
        "none": {},
        "causal": {"tgt_mask": causal},
        "causal_hint": {"tgt_mask": causal, "tgt_is_causal": True},
        "bool": {"src_mask": np.eye(S, dtype=bool), "tgt_mask": causal == -np.inf},
        "padding": {"src_key_padding_mask": src_kpm, "tgt_key_padding_mask": tgt_kpm},
        "all": {
            "tgt_mask": causal,
            "memory_mask": np.random.default_rng(4).standard_normal((T, S)),
            "src_key_padding_mask": src_kpm,
            "tgt_key_padding_mask": tgt_kpm,
            "memory_key_padding_mask": mem_kpm,
        },
    }
    return table[kind]


def _to(lib: Any, v: Any, dtype: Any) -> Any:
    if not isinstance(v, np.ndarray):
        return v
    return lib.tensor(v) if v.dtype == bool else lib.tensor(v, dtype=dtype)


def _transformer(kw: dict[str, Any]) -> Any:
    def build(lib: Any, dtype: Any) -> Any:
        return lib.nn.Transformer(D, HEADS, 2, 2, FF, **_lib_kw(lib, kw), dtype=dtype)

    return build


def _run(lib: Any, m: Any, src: np.ndarray, tgt: np.ndarray, masks: dict[str, Any], dtype: str):
    dt = getattr(lib, dtype)
    s = lib.tensor(src, dtype=dt, requires_grad=True)
    t = lib.tensor(tgt, dtype=dt, requires_grad=True)
    m.zero_grad()
    out = m(s, t, **{k: _to(lib, v, dt) for k, v in masks.items()})
    _loss(out, lib).backward()
    grads = [s.grad, t.grad] + [p.grad for p in m.parameters()]
    return [out.detach().numpy()] + [g.numpy() for g in grads]


# constructor keywords (besides d_model=8, nhead=2, 2 + 2 layers, dim_feedforward=16)
KINDS = [
    {},
    {"batch_first": True, "norm_first": True},
    {"activation": "gelu", "bias": False},
    {"activation": "F.gelu", "batch_first": True, "layer_norm_eps": 1e-3},
    {"activation": "GELU()", "norm_first": True},
    {"activation": "tanh", "batch_first": True},
]


# (constructor kind, masks): each kind and each mask kind at least once
CASES = [(0, "none"), (0, "all"), (1, "causal_hint"), (1, "padding"), (2, "bool"), (3, "causal")]
CASES += [(4, "all"), (5, "padding")]


@pytest.mark.parametrize(
    "kw,mask",
    [(KINDS[k], m) for k, m in CASES],
    ids=[f"{k}-{m}" for k, m in CASES],
)
def test_transformer_float64_as_torch(kw: dict[str, Any], mask: str) -> None:
    """Training mode (dropout 0.1, PyTorch's draws) and eval mode with gradients (PyTorch's
    slow path), batched and unbatched."""
    t, a = _pair(_transformer(kw))
    bf = kw.get("batch_first", False)
    for batched in (True, False):
        src, tgt = _seq(S, batched, bf, 1), _seq(T, batched, bf, 2)
        masks = _masks(mask, batched)
        for train in (True, False):
            t.train(train), a.train(train)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # mismatched mask types: PyTorch warns too
                torch.manual_seed(5)
                want = _run(torch, t, src, tgt, masks, "float64")
                adjit.manual_seed(5)
                got = _run(adjit, a, src, tgt, masks, "float64")
            for k, (g, w) in enumerate(zip(got, want, strict=True)):
                _close(g, w, TOL["float64"], f"batched={batched} train={train} #{k}")


def test_transformer_float32_as_torch() -> None:
    kw = {"batch_first": True}
    t, a = _pair(_transformer(kw), "float32")
    src, tgt = _seq(S, True, True, 1), _seq(T, True, True, 2)
    masks = _masks("all", True)
    torch.manual_seed(5)
    want = _run(torch, t, src, tgt, masks, "float32")
    adjit.manual_seed(5)
    got = _run(adjit, a, src, tgt, masks, "float32")
    for g, w in zip(got, want, strict=True):
        assert g.dtype == np.float32
        _close(g, w, TOL["float32"], "float32")


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("kpm", ["left", "ragged", "none"])
def test_encoder_eval_no_grad_as_torch(batch_first: bool, kpm: str) -> None:
    """Eval mode under no_grad: PyTorch's fused layer and, with a left-aligned padding mask
    alone, its nested-tensor stack whose padded positions come out 0 before the final norm."""

    def build(lib: Any, dtype: Any) -> Any:
        layer = lib.nn.TransformerEncoderLayer(D, HEADS, FF, batch_first=batch_first, dtype=dtype)
        return lib.nn.TransformerEncoder(layer, 2, norm=lib.nn.LayerNorm(D, dtype=dtype))

    t, a = _pair(build)
    t.eval(), a.eval()
    src = _seq(S, True, batch_first, 1)
    mask = np.zeros((N, S), bool)
    if kpm == "left":
        mask[1, -2:] = True
    elif kpm == "ragged":
        mask[0, 1] = True
    masks = {} if kpm == "none" else {"src_key_padding_mask": mask}
    outs = []
    for lib, m in ((torch, t), (adjit, a)):
        with lib.no_grad():
            outs.append(m(lib.tensor(src), **{k: lib.tensor(v) for k, v in masks.items()}))
    _close(outs[1].numpy(), outs[0].numpy(), TOL["float64"], "eval")


@pytest.mark.parametrize("mask_check", [True, False])
def test_encoder_eval_float_masks_and_unchecked_padding_as_torch(mask_check: bool) -> None:
    """PyTorch's fused kernels read float masks as bool (a finite nonzero bias masks), and its
    nested path with mask_check=False keeps the first (number kept) positions of a ragged mask
    (Note [encoder layer fast path], Note [nested encoder])."""

    def build(lib: Any, dtype: Any) -> Any:
        layer = lib.nn.TransformerEncoderLayer(D, HEADS, FF, batch_first=True, dtype=dtype)
        return lib.nn.TransformerEncoder(layer, 2, mask_check=mask_check)

    t, a = _pair(build)
    t.eval(), a.eval()
    src = _seq(S, True, True, 1)
    ragged = np.zeros((N, S), bool)
    ragged[0, 1], ragged[2, 3:] = True, True
    biases = np.zeros((N, S))
    biases[1, 2], biases[0, 4], biases[2, 3] = -1.5, 2.0, -np.inf
    attn = np.random.default_rng(2).standard_normal((S, S))
    attn[:, 0] = 0.0
    calls = [
        {"src_key_padding_mask": ragged},
        {"src_key_padding_mask": biases},
        {"mask": attn},
        {"mask": attn, "src_key_padding_mask": biases},
    ]
    for call in calls:
        outs = []
        for lib, m in ((torch, t), (adjit, a)):
            kw = {k: _to(lib, v, lib.float64) for k, v in call.items()}
            with lib.no_grad():
                outs.append(m(lib.tensor(src), **kw).numpy())
            outs.append(m(lib.tensor(src), **kw).detach().numpy())  # with grad: slow path
        _close(outs[2], outs[0], TOL["float64"], f"no_grad {list(call)}")
        _close(outs[3], outs[1], TOL["float64"], f"grad {list(call)}")


def test_encoder_fully_masked_rows_on_the_fast_path_as_torch() -> None:
    """Eval mode under no_grad: a query row masked by src_mask is NaN from the fused layer on
    (PyTorch's masked softmax); a fully padded sequence comes out 0 from the nested stack."""

    def build(lib: Any, dtype: Any) -> Any:
        layer = lib.nn.TransformerEncoderLayer(D, HEADS, FF, batch_first=True, dtype=dtype)
        return lib.nn.TransformerEncoder(layer, 2)

    t, a = _pair(build)
    t.eval(), a.eval()
    src = _seq(S, True, True, 1)
    padded = np.zeros((N, S), bool)
    padded[1] = True
    rows = np.zeros((S, S), bool)
    rows[2] = True
    for call in ({"src_key_padding_mask": padded}, {"mask": rows}):
        outs = []
        for lib, m in ((torch, t), (adjit, a)):
            with lib.no_grad():
                outs.append(m(lib.tensor(src), **{k: lib.tensor(v) for k, v in call.items()}))
        want, got = outs[0].numpy(), outs[1].numpy()
        assert np.array_equal(np.isnan(got), np.isnan(want)), list(call)
        _close(np.nan_to_num(got), np.nan_to_num(want), TOL["float64"], f"{list(call)}")


def test_decoder_layer_and_encoder_layer_alone_as_torch() -> None:
    """The layers outside a stack, unbatched and batched, with is_causal on the encoder."""
    for cls in ("TransformerEncoderLayer", "TransformerDecoderLayer"):

        def build(lib: Any, dtype: Any, cls: str = cls) -> Any:
            return getattr(lib.nn, cls)(D, HEADS, FF, dropout=0.2, dtype=dtype)

        t, a = _pair(build)
        for batched in (True, False):
            x, mem = _seq(T, batched, False, 1), _seq(S, batched, False, 2)
            causal = np.triu(np.full((T, T), -np.inf), 1)
            res = []
            for lib, m in ((torch, t), (adjit, a)):
                lib.manual_seed(3)
                xt = lib.tensor(x, requires_grad=True)
                mt = lib.tensor(causal)
                if cls == "TransformerEncoderLayer":
                    out = m(xt, src_mask=mt, is_causal=True)
                else:
                    out = m(xt, lib.tensor(mem), tgt_mask=mt, tgt_is_causal=True)
                _loss(out, lib).backward()
                res.append([out.detach().numpy(), xt.grad.numpy()])
            for g, w in zip(res[1], res[0], strict=True):
                _close(g, w, TOL["float64"], f"{cls} batched={batched}")


def test_custom_encoder_decoder_and_reinit_as_torch() -> None:
    """custom_encoder/custom_decoder are used as given, and PyTorch's xavier re-init of every
    matrix reaches them too (same draws, same order)."""

    def build(lib: Any, dtype: Any) -> Any:
        enc = lib.nn.TransformerEncoder(
            lib.nn.TransformerEncoderLayer(D, HEADS, FF, dtype=dtype), 1, enable_nested_tensor=False
        )
        dec = lib.nn.TransformerDecoder(
            lib.nn.TransformerDecoderLayer(D, HEADS, FF, dtype=dtype), 3
        )
        return lib.nn.Transformer(D, HEADS, custom_encoder=enc, custom_decoder=dec, dtype=dtype)

    t, a = _pair(build)
    src, tgt = _seq(S, True, False, 1), _seq(T, True, False, 2)
    torch.manual_seed(5)
    want = _run(torch, t, src, tgt, {}, "float64")
    adjit.manual_seed(5)
    got = _run(adjit, a, src, tgt, {}, "float64")
    for g, w in zip(got, want, strict=True):
        _close(g, w, TOL["float64"], "custom")


def test_decoder_clone_of_module_activation_applies_relu_as_torch() -> None:
    """PyTorch's deep copies of a TransformerDecoderLayer given nn.GELU() apply relu (its
    __setstate__, Note [decoder activation module]); ours too, with the same repr."""
    res = []
    for lib in (torch, adjit):
        layer = lib.nn.TransformerDecoderLayer(D, HEADS, FF, activation=lib.nn.GELU())
        dec = lib.nn.TransformerDecoder(layer, 1)
        res.append((dec.layers[0].activation is lib.nn.functional.relu, repr(dec)))
    assert res[0] == res[1] == (True, res[0][1])


def test_generate_square_subsequent_mask_as_torch() -> None:
    t = torch.nn.Transformer.generate_square_subsequent_mask(5)
    a = nn.Transformer.generate_square_subsequent_mask(5)
    assert a.dtype == adjit.float32
    assert np.array_equal(a.numpy(), t.numpy())
    t = torch.nn.Transformer.generate_square_subsequent_mask(3, dtype=torch.float64)
    a = nn.Transformer.generate_square_subsequent_mask(3, dtype=adjit.float64)
    assert a.dtype == adjit.float64 and np.array_equal(a.numpy(), t.numpy())


@pytest.mark.parametrize(
    "kw",
    [{}, {"norm_first": True}, {"batch_first": True, "activation": "tanh"}],
    ids=["default", "norm_first", "tanh"],
)
def test_nested_tensor_notice_as_torch(kw: dict[str, Any]) -> None:
    """TransformerEncoder(enable_nested_tensor=True) warns, in PyTorch's words, when its layer
    cannot use nested tensors; use_nested_tensor is set as PyTorch's."""
    res = []
    for lib in (torch, adjit):
        layer = lib.nn.TransformerEncoderLayer(D, HEADS, FF, **_lib_kw(lib, kw))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            enc = lib.nn.TransformerEncoder(layer, 1)
        res.append(([str(w.message) for w in caught], enc.use_nested_tensor))
    assert res[0] == res[1]


ERRORS = [
    (lambda lib: lib.nn.TransformerEncoderLayer(D, HEADS, activation="swish"), RuntimeError,
     "activation should be relu/gelu, not swish"),
    (lambda lib: lib.nn.Transformer(D, HEADS, 1, 1, FF)(lib.zeros(S, N, D), lib.zeros(T, 2, D)),
     RuntimeError, "the batch number of src and tgt must be equal"),
    (lambda lib: lib.nn.Transformer(D, HEADS, 1, 1, FF)(lib.zeros(S, N, D), lib.zeros(T, N, 4)),
     RuntimeError, "the feature number of src and tgt must be equal to d_model"),
]  # fmt: skip


@pytest.mark.parametrize("make,exc,text", ERRORS)
def test_errors_as_torch(make: Any, exc: type, text: str) -> None:
    for lib in (torch, adjit):
        with pytest.raises(exc, match=text):
            make(lib)


def test_compiled_forward_backward_matches_eager() -> None:
    def build(lib: Any, dtype: Any) -> Any:
        return lib.nn.Transformer(D, HEADS, 1, 1, FF, dropout=0.0, norm_first=True, dtype=dtype)

    _, m = _pair(build)
    src = adjit.tensor(_seq(S, True, False, 1), requires_grad=True)
    tgt = adjit.tensor(_seq(T, True, False, 2), requires_grad=True)
    masks = {k: _to(adjit, v, adjit.float64) for k, v in _masks("all", True).items()}

    def step(s: Any, t: Any) -> Any:
        return _loss(m(s, t, **masks), adjit)

    def grads(fn: Any) -> list[np.ndarray]:
        m.zero_grad()
        src.grad = tgt.grad = None
        loss = fn(src, tgt)
        loss.backward()
        rest = [p.grad.numpy() for p in m.parameters()]
        return [loss.detach().numpy(), src.grad.numpy(), tgt.grad.numpy(), *rest]

    want, got = grads(step), grads(adjit.compile(step))
    for p, q in zip(got, want, strict=True):
        _close(p, q, 1e-12, "compiled")


def test_compiled_eval_inference_matches_eager() -> None:
    """Eval mode under no_grad compiled: the fused-kernel and nested-tensor semantics (bool
    reading of float masks, padded rows 0, the left-alignment check as a select) as eager."""

    def build(lib: Any, dtype: Any) -> Any:
        layer = lib.nn.TransformerEncoderLayer(D, HEADS, FF, batch_first=True, dtype=dtype)
        return lib.nn.TransformerEncoder(layer, 2, norm=lib.nn.LayerNorm(D, dtype=dtype))

    t, m = _pair(build)
    t.eval(), m.eval()
    src = _seq(S, True, True, 1)
    left = np.zeros((N, S), bool)
    left[1, -2:] = True
    ragged = left.copy()
    ragged[0, 1] = True
    biases = np.zeros((N, S))
    biases[1, 2] = -1.5

    def run(x: Any, kpm: Any) -> Any:
        return m(x, src_key_padding_mask=kpm)

    compiled = adjit.compile(run)
    for kpm in (left, ragged, biases):
        dt = adjit.float64 if kpm.dtype != bool else adjit.bool
        with adjit.no_grad():
            x, k = adjit.tensor(src), adjit.tensor(kpm, dtype=dt)
            want, got = run(x, k), compiled(x, k)
        with torch.no_grad():
            ref = t(torch.tensor(src), src_key_padding_mask=_to(torch, kpm, torch.float64))
        _close(got.numpy(), want.numpy(), 1e-12, "compiled")
        _close(want.numpy(), ref.numpy(), TOL["float64"], "eager vs torch")
