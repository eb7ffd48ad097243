"""``nn.MultiheadAttention`` and its output projection ``NonDynamicallyQuantizableLinear``."""

from __future__ import annotations

from typing import Any

from adjit.backends import mha
from adjit.nn import init
from adjit.nn.functional_mha import _canonical_mask, _none_or_dtype, multi_head_attention_forward
from adjit.nn.layers import Linear
from adjit.nn.module import Module
from adjit.nn.parameter import Parameter
from adjit.runtime import trace_state
from adjit.runtime.creation import empty
from adjit.runtime.grad_mode import is_grad_enabled
from adjit.runtime.tensor import Tensor

__all__ = ["MultiheadAttention", "NonDynamicallyQuantizableLinear"]


def traced(*tensors: Tensor | None) -> bool:
    """Whether an op on these tensors is being recorded by adjit.compile's tracer."""
    trace = trace_state.current()
    return trace is not None and trace.involves([t for t in tensors if t is not None])


# Note [mha fast path]
# In eval mode with no gradient wanted, PyTorch runs batch-first self-attention (bool masks,
# even heads, biases, no bias_k/zero_attn) on a fused CPU kernel, as it does the whole
# TransformerEncoderLayer. Their values equal the slow path's up to rounding, except that a
# fully masked query row is NaN there (a softmax over -inf) where the slow path's
# scaled_dot_product_attention gives 0, and that the is_causal hint is not read (the mask is
# used as given; without a mask there is no causal masking and no error). So on that path we
# take the explicit softmax route of F.multi_head_attention_forward, without the hint.


class NonDynamicallyQuantizableLinear(Linear):
    """A ``Linear`` (PyTorch's marker class for MultiheadAttention's ``out_proj``)."""


class MultiheadAttention(Module):
    """Attention over ``num_heads`` heads with PyTorch's parameters (``in_proj_weight`` or
    ``q/k/v_proj_weight`` when ``kdim``/``vdim`` differ, ``in_proj_bias``, ``bias_k``/``bias_v``,
    ``out_proj``), initialization draws and forward (``F.multi_head_attention_forward``)."""

    __constants__ = ["batch_first"]

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(
                f"embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} "
                f"and num_heads={num_heads} instead"
            )
        super().__init__()
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads, self.dropout, self.batch_first = num_heads, dropout, batch_first
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != embed_dim:
            raise AssertionError("embed_dim must be divisible by num_heads")

        def param(*shape: int) -> Parameter:
            return Parameter(empty(*shape, dtype=dtype))

        if not self._qkv_same_embed_dim:
            self.q_proj_weight = param(embed_dim, embed_dim)
            self.k_proj_weight = param(embed_dim, self.kdim)
            self.v_proj_weight = param(embed_dim, self.vdim)
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = param(3 * embed_dim, embed_dim)
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        if bias:
            self.in_proj_bias = param(3 * embed_dim)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(
            embed_dim, embed_dim, bias=bias, dtype=dtype
        )
        if add_bias_kv:
            self.bias_k = param(1, 1, embed_dim)
            self.bias_v = param(1, 1, embed_dim)
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """PyTorch's draws in its order (after ``out_proj``'s own Linear init)."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
        if self.bias_v is not None:
            init.xavier_normal_(self.bias_v)

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Tensor | None = None,
        need_weights: bool = True,
        attn_mask: Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        batched = query.dim() == 3
        if self._takes_fast_path(query, key, value, key_padding_mask, attn_mask):
            return self._fused(
                query, key_padding_mask, need_weights, attn_mask, average_attn_weights
            )
        key_padding_mask = _canonical_mask(
            key_padding_mask, "key_padding_mask", _none_or_dtype(attn_mask), "attn_mask",
            query.dtype,
        )  # fmt: skip
        attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype, False)
        if self.batch_first and batched:  # keep PyTorch's identities (self-attention packing)
            if key is value:
                if query is key:
                    query = key = value = query.transpose(1, 0)
                else:
                    query, key = (x.transpose(1, 0) for x in (query, key))
                    value = key
            else:
                query, key, value = (x.transpose(1, 0) for x in (query, key, value))
        separate = {}
        if not self._qkv_same_embed_dim:
            separate = {
                "use_separate_proj_weight": True,
                "q_proj_weight": self.q_proj_weight,
                "k_proj_weight": self.k_proj_weight,
                "v_proj_weight": self.v_proj_weight,
            }
        out, weights = multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight,
            self.in_proj_bias, self.bias_k, self.bias_v, self.add_zero_attn, self.dropout,
            self.out_proj.weight, self.out_proj.bias, training=self.training,
            key_padding_mask=key_padding_mask, need_weights=need_weights, attn_mask=attn_mask,
            average_attn_weights=average_attn_weights, is_causal=is_causal, **separate,
        )  # fmt: skip
        if self.batch_first and batched:
            return out.transpose(1, 0), weights
        return out, weights

    def _takes_fast_path(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Tensor | None,
        attn_mask: Tensor | None,
    ) -> bool:
        """Whether PyTorch runs this call on its fused CPU kernel (its conditions, except
        autocast and nested tensors, which we do not have)."""
        if not mha.get_fastpath_enabled() or any(
            m is not None and m.is_floating_point() for m in (key_padding_mask, attn_mask)
        ):
            return False
        w, b = self.in_proj_weight, self.in_proj_bias
        if (
            query.dim() != 3
            or query is not key
            or key is not value
            or w is None
            or b is None
            or query.dtype is not w.dtype
            or query.dtype is not b.dtype
            or self.training
            or self.num_heads % 2
            or not self.batch_first
            or self.bias_k is not None
            or self.add_zero_attn
        ):
            return False
        args = (query, w, b, self.out_proj.weight, self.out_proj.bias)
        return not (is_grad_enabled() and any(a is not None and a.requires_grad for a in args))

    def _fused(
        self,
        x: Tensor,
        key_padding_mask: Tensor | None,
        need_weights: bool,
        attn_mask: Tensor | None,
        average_attn_weights: bool,
    ) -> tuple[Tensor, Tensor | None]:
        """PyTorch's fused self-attention (Note [mha fast path])."""
        key_padding_mask = _canonical_mask(
            key_padding_mask, "key_padding_mask", _none_or_dtype(attn_mask), "attn_mask", x.dtype
        )
        attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", x.dtype, False)
        return self._explicit(x, key_padding_mask, attn_mask, need_weights, average_attn_weights)

    def _explicit(
        self,
        x: Tensor,
        key_padding_mask: Tensor | None,
        attn_mask: Tensor | None,
        need_weights: bool,
        average_attn_weights: bool = True,
    ) -> tuple[Tensor, Tensor | None]:
        """Batch-first self-attention on the explicit (weights) path, no causal hint."""
        xs = x.transpose(1, 0)
        out, weights = multi_head_attention_forward(
            xs, xs, xs, self.embed_dim, self.num_heads, self.in_proj_weight, self.in_proj_bias,
            None, None, False, 0.0, self.out_proj.weight, self.out_proj.bias, training=False,
            key_padding_mask=key_padding_mask, need_weights=True, attn_mask=attn_mask,
            average_attn_weights=average_attn_weights and need_weights,
        )  # fmt: skip
        return out.transpose(1, 0), weights if need_weights else None

    def merge_masks(
        self, attn_mask: Tensor | None, key_padding_mask: Tensor | None, query: Tensor
    ) -> tuple[Tensor | None, int | None]:
        """PyTorch's fast-path mask merge: ``(mask (N, heads, L, L), type)``, type 1 for a
        key padding mask alone, 2 with an attention mask."""
        mask_type: int | None = None
        merged: Tensor | None = None
        if key_padding_mask is not None:
            mask_type, merged = 1, key_padding_mask
        if attn_mask is not None:
            batch_size, seq_len, _ = query.shape
            mask_type = 2
            if attn_mask.dim() == 3:
                expanded = attn_mask.view(batch_size, -1, seq_len, seq_len)
            else:
                expanded = attn_mask.view(1, 1, seq_len, seq_len)
                expanded = expanded.expand(batch_size, self.num_heads, -1, -1)
            merged = expanded
            if key_padding_mask is not None:
                kpm = key_padding_mask.view(batch_size, 1, 1, seq_len)
                merged = expanded + kpm.expand(-1, self.num_heads, -1, -1)
        return merged, mask_type
