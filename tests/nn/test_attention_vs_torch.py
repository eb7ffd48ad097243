"""nn.MultiheadAttention and F.multi_head_attention_forward side by side with PyTorch: same seed
-> same weights (bit for bit), then outputs, attention weights and every gradient across mask
kinds, batch_first, kdim/vdim, add_bias_kv/add_zero_attn, need_weights/average_attn_weights;
dropout draws in training mode; eval mode (PyTorch's fast path); errors; state_dict keys and
reprs; adjit.compile of forward+backward vs eager."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import torch

import adjit
from adjit import nn
from adjit.nn import functional as AF

TOL = {"float64": 1e-12, "float32": 2e-5}
E, HEADS, L, S, N = 8, 2, 4, 5, 3


def _modules(dtype: str = "float64", **kw: Any) -> tuple[Any, Any]:
    """The same module built in both libraries from the same seed (our draws are PyTorch's)."""
    torch.manual_seed(0)
    t = torch.nn.MultiheadAttention(E, HEADS, **kw, dtype=getattr(torch, dtype))
    adjit.manual_seed(0)
    a = nn.MultiheadAttention(E, HEADS, **kw, dtype=getattr(adjit, dtype))
    assert list(a.state_dict()) == list(t.state_dict())
    for (n, p), q in zip(t.state_dict().items(), a.state_dict().values(), strict=True):
        assert np.array_equal(p.float().numpy(), q.float().numpy()), n  # bit for bit
    assert repr(a) == repr(t)
    return t, a


def _close(a: Any, t: Any, tol: float, what: str) -> None:
    a, t = np.asarray(a), np.asarray(t)
    assert a.shape == t.shape, what
    np.testing.assert_allclose(a, t, rtol=tol, atol=tol, err_msg=what)


def _loss(outs: list[Any], lib: Any) -> Any:
    """A loss that weights every element differently, so that each gradient is checked."""
    total = 0
    for k, o in enumerate(outs):
        w = np.cos(np.arange(o.numel()) * 0.37 + k).reshape(tuple(o.shape))
        total = total + (o * lib.tensor(w, dtype=o.dtype)).sum()
    return total


def _inputs(kw: dict[str, Any], batched: bool, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    dims = (E, kw.get("kdim") or E, kw.get("vdim") or E)
    lead = [(L,), (S,), (S,)]
    if batched:
        lead = [(N, n) if kw.get("batch_first") else (n, N) for (n,) in lead]
    return [rng.standard_normal((*s, d)) for s, d in zip(lead, dims, strict=True)]


def _masks(kind: str, batched: bool) -> dict[str, np.ndarray]:
    """Masks by kind: kpm (key padding) and attn (2-D or 3-D), bool (True = masked) or float
    (add_bias_kv/add_zero_attn pad them with a kept column, in both libraries)."""
    kpm = np.zeros((N, S), bool)
    kpm[0, -2:] = True
    kpm[2, 1] = True
    attn2 = np.triu(np.ones((L, S), bool), 2)
    attn3 = np.random.default_rng(5).random((N * HEADS, L, S)) < 0.3
    attn3[..., 0] = False  # no row fully masked (PyTorch gives NaN there on one path)
    if not batched:
        kpm, attn3 = kpm[0], attn3[:HEADS]
    out: dict[str, np.ndarray] = {}
    if "kpm" in kind:
        out["key_padding_mask"] = kpm
    if "attn2" in kind:
        out["attn_mask"] = attn2
    if "attn3" in kind:
        out["attn_mask"] = attn3
    if "float" in kind:
        rng = np.random.default_rng(7)
        out = {k: np.where(m, -np.inf, rng.standard_normal(m.shape)) for k, m in out.items()}
    return out


def _run(
    lib: Any, m: Any, xs: list[np.ndarray], masks: dict[str, np.ndarray], dtype: str, **fw: Any
):
    """Output, weights and the gradients of the inputs and every parameter."""
    ts = [lib.tensor(x, dtype=getattr(lib, dtype), requires_grad=True) for x in xs]
    if fw.pop("self_attention", False):
        ts = [ts[0]] * 3
    ms = {
        k: lib.tensor(v, dtype=getattr(lib, dtype) if v.dtype != bool else lib.bool)
        for k, v in masks.items()
    }
    m.zero_grad()
    out, w = m(*ts, **ms, **fw)
    outs = [out] if w is None else [out, w]
    _loss(outs, lib).backward()
    grads = [t.grad.numpy() for t in ts[: 1 if ts[0] is ts[1] else 3]]
    grads += [p.grad.numpy() for p in m.parameters()]
    return [o.detach().numpy() for o in outs], grads, w is None


# constructor keywords
KINDS = [
    {},
    {"batch_first": True},
    {"kdim": 3, "vdim": 5},
    {"add_bias_kv": True},
    {"add_zero_attn": True},
    {"add_bias_kv": True, "add_zero_attn": True, "batch_first": True},
    {"bias": False},
    {"kdim": 3, "vdim": 5, "bias": False, "batch_first": True},
]
MASKS = ["", "kpm", "attn2", "attn3", "kpm+attn2", "float kpm+attn3", "float attn2"]


# (constructor kind, mask kind): every kind and every mask kind, each kind with two masks
CASES = [(0, 0), (0, 5), (1, 1), (1, 4), (2, 2), (2, 5), (3, 3), (3, 4), (4, 6), (4, 1)]
CASES += [(5, 5), (5, 2), (6, 3), (6, 0), (7, 4), (7, 6)]


@pytest.mark.parametrize(
    "kw,mask",
    [(KINDS[k], MASKS[m]) for k, m in CASES],
    ids=[f"{k}-{MASKS[m] or 'none'}" for k, m in CASES],
)
def test_mha_float64_as_torch(kw: dict[str, Any], mask: str) -> None:
    t, a = _modules(**kw)
    for batched in (True, False):
        xs = _inputs(kw, batched)
        masks = _masks(mask, batched)
        for fw in ({}, {"need_weights": False}, {"average_attn_weights": False}):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # mismatched mask dtypes: PyTorch warns too
                want = _run(torch, t, xs, masks, "float64", **fw)
                got = _run(adjit, a, xs, masks, "float64", **fw)
            assert got[2] == want[2]  # weights None exactly when PyTorch's are
            for k, (g, w) in enumerate(zip(got[0] + got[1], want[0] + want[1], strict=True)):
                _close(g, w, TOL["float64"], f"{batched} {fw} #{k}")


@pytest.mark.parametrize("kw", [{}, {"kdim": 3, "vdim": 5, "batch_first": True}])
def test_mha_float32_and_self_attention(kw: dict[str, Any]) -> None:
    """float32 to float tolerance; one tensor as query, key and value (PyTorch's packed
    projection) gives the gradient of the one input."""
    t, a = _modules("float32", **kw)
    xs = _inputs(kw, True)
    for fw in ({}, {"need_weights": False}):
        masks = _masks("kpm+attn2", True)
        if not kw:  # self-attention: S = L
            masks = {k: v[..., :L] for k, v in masks.items()}
        fw2 = dict(fw, self_attention=not kw)
        want = _run(torch, t, xs, masks, "float32", **dict(fw2))
        got = _run(adjit, a, xs, masks, "float32", **dict(fw2))
        for g, w in zip(got[0] + got[1], want[0] + want[1], strict=True):
            assert g.dtype == np.float32
            _close(g, w, TOL["float32"], f"{fw}")


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_mha_reduced_precision_within_an_ulp_of_torch(dtype: str) -> None:
    """float16/bfloat16 op by op as PyTorch's slow path (its attention without weights computes
    in float32 and rounds once, as ours): outputs and input gradients within two ulps of the
    dtype at the tensor's largest magnitude (sums of rounded products cancel: a small element
    carries the rounding of its larger terms)."""
    eps = {"float16": 2.0**-10, "bfloat16": 2.0**-7}[dtype]
    t, a = _modules(dtype)
    x = _inputs({}, True)[0].astype(np.float32)
    for fw in ({}, {"need_weights": False}):
        res = []
        for lib, m in ((torch, t), (adjit, a)):
            xt = lib.tensor(x).to(getattr(lib, dtype)).requires_grad_()
            out, _ = m(xt, xt, xt, **fw)
            out.float().sum().backward()
            res.append([out.float().detach().numpy(), xt.grad.float().numpy()])
        for g, w in zip(res[1], res[0], strict=True):
            ulp = eps * 2.0 ** np.floor(np.log2(np.max(np.abs(w))))
            assert np.max(np.abs(g - w)) <= 2 * ulp, (fw, np.max(np.abs(g - w)) / ulp)


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("batch_first", [False, True])
def test_mha_dropout_draws_as_torch(need_weights: bool, batch_first: bool) -> None:
    """Training mode with dropout: the attention weights are dropped with PyTorch's draws (on
    the explicit path by F.dropout, through scaled_dot_product_attention without weights)."""
    kw = {"dropout": 0.4, "batch_first": batch_first}
    t, a = _modules(**kw)
    xs = _inputs(kw, True)
    masks = _masks("kpm", True)
    torch.manual_seed(11)
    want = _run(torch, t, xs, masks, "float64", need_weights=need_weights)
    adjit.manual_seed(11)
    got = _run(adjit, a, xs, masks, "float64", need_weights=need_weights)
    for g, w in zip(got[0] + got[1], want[0] + want[1], strict=True):
        _close(g, w, TOL["float64"], "dropout")


@pytest.mark.parametrize("mask", ["", "kpm", "kpm+attn2"])
def test_mha_eval_no_grad_as_torch_fast_path(mask: str) -> None:
    """Eval mode under no_grad runs PyTorch's fused CPU kernel (self-attention, batch_first,
    even heads); we compute its slow path: the same values up to rounding."""
    kw = {"batch_first": True, "dropout": 0.5}
    t, a = _modules(**kw)
    t.eval(), a.eval()
    x = _inputs(kw, True)[0]
    masks = {k: v[..., :L] for k, v in _masks(mask, True).items()}  # self-attention: S = L
    for fw in ({}, {"need_weights": False}, {"average_attn_weights": False}):
        with torch.no_grad():
            tx = torch.tensor(x)
            want = t(tx, tx, tx, **{k: torch.tensor(v) for k, v in masks.items()}, **fw)
        with adjit.no_grad():
            ax = adjit.tensor(x)
            got = a(ax, ax, ax, **{k: adjit.tensor(v) for k, v in masks.items()}, **fw)
        for g, w in zip(got, want, strict=True):
            if w is None:
                assert g is None
            else:
                _close(g.numpy(), w.numpy(), TOL["float64"], f"{fw}")


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_is_causal_hint_as_torch(need_weights: bool) -> None:
    """is_causal needs attn_mask; without weights or a padding mask PyTorch attends causally
    and does not read the mask (a non-causal mask is ignored), else it applies the mask."""
    t, a = _modules()
    xs = _inputs({}, True)
    xs[1], xs[2] = xs[1][:L], xs[2][:L]
    for attn in (np.triu(np.ones((L, L), bool), 1), np.triu(np.ones((L, L), bool), 2)):
        masks = {"attn_mask": attn}
        want = _run(torch, t, xs, masks, "float64", need_weights=need_weights, is_causal=True)
        got = _run(adjit, a, xs, masks, "float64", need_weights=need_weights, is_causal=True)
        for g, w in zip(got[0] + got[1], want[0] + want[1], strict=True):
            _close(g, w, TOL["float64"], "is_causal")
    for lib, m in ((torch, t), (adjit, a)):
        x = lib.tensor(xs[0])
        with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
            m(x, x, x, is_causal=True)


def test_functional_with_static_kv_as_torch() -> None:
    """F.multi_head_attention_forward called directly with PyTorch's signature, static_k and
    static_v replacing the projected key and value."""
    rng = np.random.default_rng(3)
    args = {
        "query": rng.standard_normal((L, N, E)),
        "key": rng.standard_normal((S, N, E)),
        "value": rng.standard_normal((S, N, E)),
        "in_proj_weight": rng.standard_normal((3 * E, E)),
        "in_proj_bias": rng.standard_normal(3 * E),
        "out_proj_weight": rng.standard_normal((E, E)),
        "out_proj_bias": rng.standard_normal(E),
        "static_k": rng.standard_normal((N * HEADS, 6, E // HEADS)),
        "static_v": rng.standard_normal((N * HEADS, 6, E // HEADS)),
    }
    res = {}
    for lib, F in ((torch, torch.nn.functional), (adjit, AF)):
        ts = {k: lib.tensor(v, requires_grad=True) for k, v in args.items()}
        out, w = F.multi_head_attention_forward(
            ts["query"], ts["key"], ts["value"], E, HEADS, ts["in_proj_weight"],
            ts["in_proj_bias"], None, None, False, 0.0, ts["out_proj_weight"],
            ts["out_proj_bias"], static_k=ts["static_k"], static_v=ts["static_v"],
        )  # fmt: skip
        _loss([out, w], lib).backward()
        grads = [ts[k].grad for k in ts if ts[k].grad is not None]
        res[lib.__name__] = [out.detach().numpy(), w.detach().numpy()] + [g.numpy() for g in grads]
    for g, w in zip(res["adjit"], res["torch"], strict=True):
        _close(g, w, TOL["float64"], "static")


_DIV = "embed_dim must be divisible by num_heads"
_POS = "embed_dim and num_heads must be greater than 0"
_RANK = "expected `key` and `value` to be 3-D"
_2D = r"The shape of the 2D attn_mask is torch.Size\(\[4, 4\]\), but should be \(4, 5\)."
_KPM = "Expected key_padded_mask.shape\\[1\\] to be 5, but got 6"
_INT = "only bool and floating types of key_padding_mask are supported"
ERRORS = [
    ("ctor", {"embed_dim": 0, "num_heads": 2}, ValueError, _POS),
    ("ctor", {"embed_dim": 7, "num_heads": 2}, AssertionError, _DIV),
    ("call", {"query": (L, N, E), "key": (S, E), "value": (S, E)}, AssertionError, _RANK),
    ("call", {"attn_mask": (L, L)}, RuntimeError, _2D),
    ("call", {"attn_mask": (7, L, S)}, RuntimeError, r"The shape of the 3D attn_mask is"),
    ("call", {"key_padding_mask": (N, S + 1)}, AssertionError, _KPM),
    ("call", {"query": (L, N, E + 2)}, AssertionError, "was expecting embedding dimension of 8"),
    ("call", {"key_padding_mask": "int"}, AssertionError, _INT),
]


@pytest.mark.parametrize("where,args,exc,text", ERRORS)
def test_mha_errors_as_torch(where: str, args: dict[str, Any], exc: type, text: str) -> None:
    for lib in (torch, adjit):
        if where == "ctor":
            with pytest.raises(exc, match=text):
                lib.nn.MultiheadAttention(**args)
            continue
        m = lib.nn.MultiheadAttention(E, HEADS)
        shapes = {"query": (L, N, E), "key": (S, N, E), "value": (S, N, E)}
        call: dict[str, Any] = {}
        for k, v in {**shapes, **args}.items():
            if v == "int":
                call[k] = lib.zeros((N, S), dtype=lib.int64)
            elif k.endswith("mask"):
                call[k] = lib.zeros(v, dtype=lib.bool)
            else:
                call[k] = lib.zeros(v)
        with pytest.raises(exc, match=text):
            m(**call)


def test_mismatched_mask_types_warn_as_torch() -> None:
    t, a = _modules()
    for lib, m in ((torch, t), (adjit, a)):
        x = lib.zeros(L, N, E, dtype=lib.float64)
        kpm = lib.zeros(N, L, dtype=lib.bool)
        with pytest.warns(
            UserWarning, match="Support for mismatched key_padding_mask and attn_mask"
        ):
            m(x, x, x, key_padding_mask=kpm, attn_mask=lib.zeros(L, L, dtype=lib.float64))


def test_fully_masked_rows_as_torch() -> None:
    """A query row whose keys are all padded: NaN with weights (softmax of all -inf), as in
    PyTorch; we compare where PyTorch is finite and require NaN where it is NaN."""
    t, a = _modules()
    xs = _inputs({}, True)
    kpm = np.zeros((N, S), bool)
    kpm[1] = True
    for fw in ({}, {"need_weights": False}):
        outs = []
        for lib, m in ((torch, t), (adjit, a)):
            ts = [lib.tensor(x) for x in xs]
            out, _ = m(*ts, key_padding_mask=lib.tensor(kpm), **fw)
            outs.append(out.detach().numpy())
        want, got = outs
        assert np.array_equal(np.isnan(got), np.isnan(want)), fw
        _close(np.nan_to_num(got), np.nan_to_num(want), TOL["float64"], f"{fw}")


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("mask", ["key_padding_mask", "attn_mask"])
def test_fully_masked_rows_on_the_fast_path_as_torch(mask: str, fast: bool) -> None:
    """Eval mode under no_grad (PyTorch's fused kernel): fully masked rows are NaN with or
    without weights (Note [mha fast path]), the rest equal; with backends.mha's fast path
    disabled, the slow path's (0 without weights)."""
    for lib in (torch, adjit):
        lib.backends.mha.set_fastpath_enabled(fast)
    try:
        _fully_masked_rows_in_eval(mask)
    finally:
        for lib in (torch, adjit):
            lib.backends.mha.set_fastpath_enabled(True)


def _fully_masked_rows_in_eval(mask: str) -> None:
    t, a = _modules(batch_first=True)
    t.eval(), a.eval()
    x = _inputs({"batch_first": True}, True)[0]
    m = np.zeros((N, L), bool) if mask == "key_padding_mask" else np.zeros((L, L), bool)
    m[1] = True
    for fw in ({}, {"need_weights": False}):
        outs = []
        for lib, mod in ((torch, t), (adjit, a)):
            with lib.no_grad():
                xt = lib.tensor(x)
                outs.append(mod(xt, xt, xt, **{mask: lib.tensor(m)}, **fw)[0].numpy())
        want, got = outs
        assert np.array_equal(np.isnan(got), np.isnan(want)), fw
        _close(np.nan_to_num(got), np.nan_to_num(want), TOL["float64"], f"{fw}")


def test_compiled_forward_backward_matches_eager() -> None:
    _, m = _modules(add_bias_kv=True, batch_first=True)
    xs = [adjit.tensor(x, requires_grad=True) for x in _inputs({"batch_first": True}, True)]
    kpm = adjit.tensor(_masks("kpm", True)["key_padding_mask"])
    attn = adjit.tensor(_masks("attn2", True)["attn_mask"])

    def step(q: Any, k: Any, v: Any) -> Any:
        out, w = m(q, k, v, key_padding_mask=kpm, attn_mask=attn)
        out2, _ = m(q, k, v, key_padding_mask=kpm, need_weights=False)
        return _loss([out, w, out2], adjit)

    def grads(fn: Any) -> list[np.ndarray]:
        m.zero_grad()
        for x in xs:
            x.grad = None
        loss = fn(*xs)
        loss.backward()
        return (
            [loss.detach().numpy()]
            + [x.grad.numpy() for x in xs]
            + [p.grad.numpy() for p in m.parameters()]
        )

    want, got = grads(step), grads(adjit.compile(step))
    for p, q in zip(got, want, strict=True):
        _close(p, q, 1e-12, "compiled")
