"""Attention vs PyTorch on random configurations: F.multi_head_attention_forward (packed or
separate projection weights, bias_k/bias_v, add_zero_attn, bool/float key padding and 2-D/3-D
attention masks, need_weights, average_attn_weights, is_causal, unbatched) and
F.scaled_dot_product_attention (masks, is_causal, scale, enable_gqa); values and the gradients
of every input, eager and compiled."""

# Data: inputs and weights normal at scale 0.3-1.5 (softmax from flat to peaked); masks keep
# key 0 of every row (a fully masked row is NaN on PyTorch's explicit path, 0 through sdpa,
# tested separately); float masks are normal values with -inf where masked. Sizes: embed dim
# heads x (1-3), 1-3 heads, 1-4 queries, 1-5 keys, batch 1-3.

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from . import cases
from .cases import Case


def _mask(draw: Callable[..., Any], shape: tuple[int, ...], seed: int, kind: str) -> str:
    """NumPy source for a mask (True = masked, key 0 always kept) as bool or float."""
    rate = draw(st.sampled_from([0.2, 0.5]))
    keep0 = f"np.arange({shape[-1]}) == 0"
    src = f"((np.random.default_rng({seed}).random({shape}) < {rate}) & ~({keep0}))"
    if kind == "float":
        src = (
            f"np.where({src}, -np.inf, np.random.default_rng({seed + 1}).standard_normal({shape}))"
        )
    return src


@st.composite
def _mha(draw: Callable[..., Any], dtype: str, seed: int) -> Case:
    heads, per = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    e = heads * per
    tgt, src, batch = draw(st.integers(1, 4)), draw(st.integers(1, 5)), draw(st.integers(1, 3))
    batched = draw(st.integers(0, 3)) > 0
    separate = draw(st.booleans())
    kdim, vdim = (draw(st.integers(1, 4)), draw(st.integers(1, 4))) if separate else (e, e)
    bias, bias_kv, zero_attn = draw(st.booleans()), draw(st.booleans()), draw(st.booleans())
    need_weights, average = draw(st.booleans()), draw(st.booleans())
    kpm_kind = draw(st.sampled_from(["none", "bool", "float"]))
    attn_kind = draw(st.sampled_from(["none", "bool", "float"]))
    attn3 = draw(st.booleans())
    causal = attn_kind == "bool" and not attn3 and draw(st.booleans())
    scale = draw(st.sampled_from([0.3, 1.0, 1.5]))
    lead = (batch,) if batched else ()

    def seq(n: int, d: int) -> tuple[int, ...]:
        return (n, batch, d) if batched else (n, d)

    shapes = [seq(tgt, e), seq(src, kdim), seq(src, vdim)]
    names = ["query", "key", "value"]
    if separate:
        shapes += [(e, e), (e, kdim), (e, vdim)]
        names += ["q_proj_weight", "k_proj_weight", "v_proj_weight"]
    else:
        shapes.append((3 * e, e))
        names.append("in_proj_weight")
    if bias:
        shapes += [(3 * e,), (e,)]
        names += ["in_proj_bias", "out_proj_bias"]
    if bias_kv:
        shapes += [(1, 1, e), (1, 1, e)]
        names += ["bias_k", "bias_v"]
    shapes.append((e, e))
    names.append("out_proj_weight")
    x = {n: f"x{i}" for i, n in enumerate(names)}
    rng = "np.random.default_rng"
    arrays = [f"{rng}({seed + i}).standard_normal({s}) * {scale}" for i, s in enumerate(shapes)]
    call = [
        f"x0, x1, x2, {e}, {heads}, {x.get('in_proj_weight')}, {x.get('in_proj_bias')}, "
        f"{x.get('bias_k')}, {x.get('bias_v')}, {zero_attn}, 0.0, {x['out_proj_weight']}, "
        f"{x.get('out_proj_bias')}, training=False, need_weights={need_weights}, "
        f"average_attn_weights={average}"
    ]
    if separate:
        call.append(
            f"use_separate_proj_weight=True, q_proj_weight={x['q_proj_weight']}, "
            f"k_proj_weight={x['k_proj_weight']}, v_proj_weight={x['v_proj_weight']}"
        )
    body = []
    if kpm_kind != "none":
        m = _mask(draw, lead + (src,), seed + 50, kpm_kind)
        body.append(f"kpm = T.tensor({m}" + (", dtype=x0.dtype)" if kpm_kind == "float" else ")"))
        call.append("key_padding_mask=kpm")
    if attn_kind != "none":
        shape = (batch * heads if batched else heads, tgt, src) if attn3 else (tgt, src)
        m = (
            f"np.triu(np.ones({shape}, bool), 1)"
            if causal
            else _mask(draw, shape, seed + 60, attn_kind)
        )
        body.append(f"am = T.tensor({m}" + (", dtype=x0.dtype)" if attn_kind == "float" else ")"))
        call.append("attn_mask=am" + (", is_causal=True" if causal else ""))
    body += [
        f"out, w = T.nn.functional.multi_head_attention_forward({', '.join(call)})",
        "flat = out.flatten() if w is None else T.cat([out.flatten(), w.flatten()])",
        "return flat * T.cos(T.arange(flat.numel(), dtype=flat.dtype) * 0.7)",
    ]
    arrays = [f"({a}).astype(np.{dtype})" for a in arrays]
    tag = f"attention {dtype} mha"
    return Case(tag, body, arrays, [True] * len(arrays))


@st.composite
def _sdpa(draw: Callable[..., Any], dtype: str, seed: int) -> Case:
    hq = draw(st.integers(1, 4))
    gqa = hq > 1 and draw(st.booleans())
    hk = draw(st.sampled_from([d for d in range(1, hq + 1) if hq % d == 0])) if gqa else hq
    lead = (draw(st.integers(1, 2)),)
    tgt, src, d, dv = (draw(st.integers(1, 5)) for _ in range(4))
    shapes = [(*lead, hq, tgt, d), (*lead, hk, src, d), (*lead, hk, src, dv)]
    kind = draw(st.sampled_from(["none", "bool", "float", "causal"]))
    scale = draw(st.sampled_from([None, 0.5, 2.0]))
    rng = "np.random.default_rng"
    arrays = [
        f"({rng}({seed + i}).standard_normal({s})).astype(np.{dtype})" for i, s in enumerate(shapes)
    ]
    body, extra = [], f", scale={scale}, enable_gqa={gqa}"
    if kind in ("bool", "float"):
        shape = draw(st.sampled_from([(tgt, src), (hq, 1, src), (*lead, hq, tgt, src)]))
        m = _mask(draw, shape, seed + 70, kind)
        body.append(f"am = T.tensor({m}" + (", dtype=x0.dtype)" if kind == "float" else ")"))
        extra += ", attn_mask=am"
    elif kind == "causal":
        extra += ", is_causal=True"
    body += [
        f"out = T.nn.functional.scaled_dot_product_attention(x0, x1, x2{extra})",
        "return out * T.cos(T.arange(out.numel(), dtype=out.dtype).reshape(out.shape) * 0.7)",
    ]
    return Case(f"attention {dtype} sdpa {kind}", body, arrays, [True] * 3)


@st.composite
def attention_cases(draw: Callable[..., Any]) -> Case:
    dtype = draw(st.sampled_from(["float64", "float32"]))
    seed = draw(st.integers(0, 2**20))
    which = draw(st.sampled_from([_mha, _mha, _sdpa]))
    return draw(which(dtype, seed))


def check_attention(case: Case) -> None:
    # float64: the same matmuls and softmax summed in another order, ~1e-15; float32: two
    # projections, a softmax and an output projection of a few float32 roundings each
    rtol = {"float64": 1e-11, "float32": 2e-5}[case.kind.split()[1]]
    cases.check_eager_then_compiled(case, rtol)
