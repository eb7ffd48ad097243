"""``nn.Transformer`` and its encoder/decoder stacks and layers, as PyTorch's."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from adjit.backends import mha
from adjit.nn import functional as F
from adjit.nn.activation_attention import MultiheadAttention, traced
from adjit.nn.containers import ModuleList
from adjit.nn.functional_mha import _canonical_mask, _none_or_dtype
from adjit.nn.init import xavier_uniform_
from adjit.nn.layers import Dropout, LayerNorm, Linear
from adjit.nn.module import Module
from adjit.runtime import functional as R
from adjit.runtime.creation import arange, full, zeros_like
from adjit.runtime.grad_mode import is_grad_enabled
from adjit.runtime.tensor import Tensor

__all__ = [
    "Transformer",
    "TransformerDecoder",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerEncoderLayer",
]


def _generate_square_subsequent_mask(sz: int, device: Any = None, dtype: Any = None) -> Tensor:
    """``(sz, sz)`` float mask: -inf above the diagonal, 0 elsewhere."""
    return R.triu(full((sz, sz), float("-inf"), dtype=dtype), diagonal=1)


def _get_seq_len(src: Tensor, batch_first: bool) -> int:
    shape = src.shape
    return shape[0] if len(shape) == 2 else shape[1 if batch_first else 0]


def _detect_is_causal_mask(
    mask: Tensor | None, is_causal: bool | None = None, size: int | None = None
) -> bool:
    """``is_causal`` if given; else whether ``mask`` equals the square subsequent mask (PyTorch
    reads the mask; while tracing we cannot, and answer False: the mask then applies as given,
    which is the same attention)."""
    make_causal = is_causal is True
    if is_causal is None and mask is not None and not traced(mask):
        sz = size if size is not None else mask.size(-2)
        causal = _generate_square_subsequent_mask(sz, dtype=mask.dtype)
        if tuple(mask.shape) == tuple(causal.shape):
            make_causal = bool(np.array_equal(mask._data, causal._data))
    return make_causal


def _attention_dropout(dropout: Module, x: Tensor, batch_first: bool) -> Tensor:
    """``dropout(x)`` of a batch-first attention output, drawn as PyTorch draws it: there the
    output is a transposed view of the sequence-first result and dropout draws its mask in
    memory order (ours draws in logical order, right for the contiguous tensors most layers
    give, so the transpose is undone around it)."""
    if batch_first and x.dim() == 3:
        return dropout(x.transpose(0, 1)).transpose(0, 1)
    return dropout(x)


def _get_clones(module: Module, n: int) -> ModuleList:
    return ModuleList([copy.deepcopy(module) for _ in range(n)])


def _get_activation_fn(activation: str) -> Callable[[Tensor], Tensor]:
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    raise RuntimeError(f"activation should be relu/gelu, not {activation}")


def _relu_or_gelu(activation: Any) -> int:
    """PyTorch's ``activation_relu_or_gelu`` flag: 1 relu, 2 gelu, 0 anything else."""
    from adjit.nn.activation import GELU, ReLU

    if activation is F.relu or isinstance(activation, ReLU):
        return 1
    if activation is F.gelu or isinstance(activation, GELU):
        return 2
    return 0


class Transformer(Module):
    """An encoder-decoder transformer (PyTorch's, with its ``xavier_uniform_`` re-init of every
    parameter of two or more dims, in ``parameters()`` order)."""

    def __init__(
        self,
        d_model: int = 512,
        nhead: int = 8,
        num_encoder_layers: int = 6,
        num_decoder_layers: int = 6,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable[[Tensor], Tensor] = F.relu,
        custom_encoder: Any | None = None,
        custom_decoder: Any | None = None,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        layer_args = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps)
        layer_kw = {"batch_first": batch_first, "norm_first": norm_first, "bias": bias}
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            encoder_layer = TransformerEncoderLayer(*layer_args, **layer_kw, dtype=dtype)
            encoder_norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
            self.encoder = TransformerEncoder(encoder_layer, num_encoder_layers, encoder_norm)
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            decoder_layer = TransformerDecoderLayer(*layer_args, **layer_kw, dtype=dtype)
            decoder_norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
            self.decoder = TransformerDecoder(decoder_layer, num_decoder_layers, decoder_norm)
        self._reset_parameters()
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first

    def forward(
        self,
        src: Tensor,
        tgt: Tensor,
        src_mask: Tensor | None = None,
        tgt_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        src_key_padding_mask: Tensor | None = None,
        tgt_key_padding_mask: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
        src_is_causal: bool | None = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        is_batched = src.dim() == 3
        batch_dim = 0 if self.batch_first else 1
        if is_batched and src.size(batch_dim) != tgt.size(batch_dim):
            raise RuntimeError("the batch number of src and tgt must be equal")
        if src.size(-1) != self.d_model or tgt.size(-1) != self.d_model:
            raise RuntimeError("the feature number of src and tgt must be equal to d_model")
        memory = self.encoder(
            src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal
        )
        return self.decoder(
            tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
            tgt_key_padding_mask=tgt_key_padding_mask,
            memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=tgt_is_causal,
            memory_is_causal=memory_is_causal,
        )  # fmt: skip

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device: Any = None, dtype: Any = None) -> Tensor:
        """``(sz, sz)`` float mask: -inf above the diagonal, 0 elsewhere."""
        return _generate_square_subsequent_mask(sz, dtype=dtype, device=device)

    def _reset_parameters(self) -> None:
        for p in self.parameters():
            if p.dim() > 1:
                xavier_uniform_(p)


class TransformerEncoder(Module):
    """``num_layers`` deep copies of ``encoder_layer``, then ``norm`` (Note [nested encoder])."""

    __constants__ = ["norm"]

    def __init__(
        self,
        encoder_layer: TransformerEncoderLayer,
        num_layers: int,
        norm: Module | None = None,
        enable_nested_tensor: bool = True,
        mask_check: bool = True,
    ) -> None:
        super().__init__()
        self.layers = _get_clones(encoder_layer, num_layers)
        self.num_layers, self.norm = num_layers, norm
        self.enable_nested_tensor = self.use_nested_tensor = enable_nested_tensor
        self.mask_check = mask_check
        why_not = _why_not_sparsity_fast_path(encoder_layer)
        if enable_nested_tensor and why_not:
            warnings.warn(
                f"enable_nested_tensor is True, but self.use_nested_tensor is False because "
                f"{why_not}",
                stacklevel=2,
            )
            self.use_nested_tensor = False

    def forward(
        self,
        src: Tensor,
        mask: Tensor | None = None,
        src_key_padding_mask: Tensor | None = None,
        is_causal: bool | None = None,
    ) -> Tensor:
        src_key_padding_mask = _canonical_mask(
            src_key_padding_mask, "src_key_padding_mask", _none_or_dtype(mask), "mask", src.dtype
        )
        mask = _canonical_mask(mask, "mask", None, "", src.dtype, False)
        first = self.layers[0]
        nested = self._nested(src, mask, src_key_padding_mask)
        if nested is not None:
            src_key_padding_mask, padded = nested
        seq_len = _get_seq_len(src, first.self_attn.batch_first)
        is_causal = _detect_is_causal_mask(mask, is_causal, seq_len)
        output = src
        for mod in self.layers:
            output = mod(
                output, src_mask=mask, is_causal=is_causal,
                src_key_padding_mask=src_key_padding_mask,
            )  # fmt: skip
        if nested is not None:
            output = R.where(padded.unsqueeze(-1), 0.0, output)
        if self.norm is not None:
            output = self.norm(output)
        return output

    def _nested(
        self, src: Tensor, mask: Tensor | None, key_padding_mask: Tensor | None
    ) -> tuple[Tensor, Tensor] | None:
        """Where PyTorch would run the stack on a nested tensor (Note [nested encoder]): the
        key padding mask its layers see and the ``(N, S)`` bool of the positions that come out
        0; else None. Computed with tensor ops (no data read), so compiled code does the same."""
        first = self.layers[0]
        if (
            not mha.get_fastpath_enabled()
            or not getattr(self, "use_nested_tensor", False)
            or first.training
            or src.dim() != 3
            or key_padding_mask is None
            or mask is not None
        ):
            return None
        if is_grad_enabled() and any(
            p is not None and p.requires_grad for p in _fast_args(src, first)
        ):
            return None
        keep = key_padding_mask == 0  # PyTorch's logical_not: any nonzero value pads
        if not getattr(self, "mask_check", True):
            # unchecked, PyTorch keeps the first (number kept) positions of each sequence
            keep = arange(keep.shape[1]).unsqueeze(0) < R.sum(keep, 1, keepdim=True)
            return R.where(keep, 0.0, float("-inf")).to(src.dtype), ~keep
        aligned = R.all(keep[:, 1:] <= keep[:, :-1])  # else PyTorch's padded path
        only_kept = R.where(keep, 0.0, float("-inf")).to(src.dtype)
        return R.where(aligned, only_kept, key_padding_mask), ~keep & aligned


# Note [nested encoder]
# In eval mode with no gradient wanted, PyTorch runs TransformerEncoder on a nested tensor
# when given a left-aligned src_key_padding_mask alone (and its layers qualify, see
# _why_not_sparsity_fast_path): attention sees only the kept positions, and the padded ones
# come back as zeros before the final norm (to_padded_tensor(0.0)). The values at kept
# positions are those of the padded computation with such a mask, so we compute that and zero
# the padded rows. Whether the mask is left-aligned is a tensor too (a select, not a branch).


# Note [encoder layer fast path]
# In eval mode with no gradient wanted, PyTorch's TransformerEncoderLayer (batch_first, biases,
# relu/gelu, even heads, ...) runs a fused kernel that reads its (canonical, float) masks as
# bool: any nonzero value masks, so a float mask of finite biases (-1.5) masks as -inf would.
# Its values otherwise equal the slow path's up to rounding, with the differences of Note
# [mha fast path] (fully masked rows NaN, is_causal not read), so we compute the layer with
# such bool masks and the explicit attention.


def _add_into(out: Tensor, residual: Tensor) -> Tensor:
    """The fused kernel's ``out.add_(residual)``: the sum in ``out``'s type (under CPU autocast
    its attention gives the autocast dtype, and so does the layer)."""
    total = out + residual
    return total if total.dtype is out.dtype else total.to(out.dtype)


def _as_bool(mask: Tensor | None) -> Tensor | None:
    """A float mask read as PyTorch's fused kernels read it: nonzero masked (-inf), zero 0."""
    if mask is None:
        return None
    return zeros_like(mask).masked_fill(mask != 0, float("-inf"))


def _fast_args(src: Tensor, layer: Any) -> tuple[Any, ...]:
    attn = layer.self_attn
    return (
        src, attn.in_proj_weight, attn.in_proj_bias, attn.out_proj.weight, attn.out_proj.bias,
        layer.norm1.weight, layer.norm1.bias, layer.norm2.weight, layer.norm2.bias,
        layer.linear1.weight, layer.linear1.bias, layer.linear2.weight, layer.linear2.bias,
    )  # fmt: skip


def _why_not_sparsity_fast_path(layer: Any) -> str:
    """PyTorch's reason (its words) why an encoder of ``layer`` cannot use nested tensors."""
    name = "encoder_layer"
    if not isinstance(layer, TransformerEncoderLayer):
        return f"{name} was not TransformerEncoderLayer"
    attn = layer.self_attn
    reasons = (
        (layer.norm_first, f"{name}.norm_first was True"),
        (
            not attn.batch_first,
            f"{name}.self_attn.batch_first was not True"
            "(use batch_first for better inference performance)",
        ),
        (not attn._qkv_same_embed_dim, f"{name}.self_attn._qkv_same_embed_dim was not True"),
        (attn.in_proj_bias is None, f"{name}.self_attn was passed bias=False"),
        (not layer.activation_relu_or_gelu, f"{name}.activation_relu_or_gelu was not True"),
        (
            layer.norm1.eps != layer.norm2.eps,
            f"{name}.norm1.eps was not equal to {name}.norm2.eps",
        ),
        (attn.num_heads % 2 == 1, f"{name}.self_attn.num_heads is odd"),
    )
    return next((why for bad, why in reasons if bad), "")


class TransformerDecoder(Module):
    """``num_layers`` deep copies of ``decoder_layer``, then ``norm``."""

    __constants__ = ["norm"]

    def __init__(
        self, decoder_layer: TransformerDecoderLayer, num_layers: int, norm: Module | None = None
    ) -> None:
        super().__init__()
        self.layers = _get_clones(decoder_layer, num_layers)
        self.num_layers, self.norm = num_layers, norm

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        tgt_key_padding_mask: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        output = tgt
        seq_len = _get_seq_len(tgt, self.layers[0].self_attn.batch_first)
        tgt_is_causal = _detect_is_causal_mask(tgt_mask, tgt_is_causal, seq_len)
        for mod in self.layers:
            output = mod(
                output, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                tgt_key_padding_mask=tgt_key_padding_mask,
                memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=tgt_is_causal,
                memory_is_causal=memory_is_causal,
            )  # fmt: skip
        if self.norm is not None:
            output = self.norm(output)
        return output


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward block, each with dropout, a residual and LayerNorm
    (before the block with ``norm_first``, after it otherwise)."""

    __constants__ = ["norm_first"]

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable[[Tensor], Tensor] = F.relu,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(
            d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, dtype=dtype
        )
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        if isinstance(activation, str):
            activation = _get_activation_fn(activation)
        self.activation_relu_or_gelu = _relu_or_gelu(activation)
        self.activation = activation

    def forward(
        self,
        src: Tensor,
        src_mask: Tensor | None = None,
        src_key_padding_mask: Tensor | None = None,
        is_causal: bool = False,
    ) -> Tensor:
        src_key_padding_mask = _canonical_mask(
            src_key_padding_mask, "src_key_padding_mask", _none_or_dtype(src_mask), "src_mask",
            src.dtype,
        )  # fmt: skip
        src_mask = _canonical_mask(src_mask, "src_mask", None, "", src.dtype, False)
        if self._takes_fast_path(src):  # (Note [encoder layer fast path])
            return self._fused(src, _as_bool(src_mask), _as_bool(src_key_padding_mask))
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _fused(self, x: Tensor, mask: Tensor | None, key_padding_mask: Tensor | None) -> Tensor:
        """PyTorch's fused layer: attention on the explicit path (Note [mha fast path])."""

        def attention(y: Tensor) -> Tensor:
            return self.self_attn._explicit(y, key_padding_mask, mask, need_weights=False)[0]

        if self.norm_first:
            x = _add_into(attention(self.norm1(x)), x)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(_add_into(attention(x), x))
        return self.norm2(x + self._ff_block(x))

    def _takes_fast_path(self, src: Tensor) -> bool:
        """Whether PyTorch runs this call on its fused CPU kernel (its conditions)."""
        attn = self.self_attn
        if (
            not mha.get_fastpath_enabled()
            or src.dim() != 3
            or self.training
            or not attn.batch_first
            or attn.in_proj_bias is None
            or not attn._qkv_same_embed_dim
            or not self.activation_relu_or_gelu
            or self.norm1.eps != self.norm2.eps
            or attn.num_heads % 2 == 1
        ):
            return False
        if any(m._forward_hooks or m._forward_pre_hooks for m in self.modules()):
            return False
        args = _fast_args(src, self)
        return not (is_grad_enabled() and any(a is not None and a.requires_grad for a in args))

    def _sa_block(
        self,
        x: Tensor,
        attn_mask: Tensor | None,
        key_padding_mask: Tensor | None,
        is_causal: bool = False,
    ) -> Tensor:
        x = self.self_attn(
            x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
            need_weights=False, is_causal=is_causal,
        )[0]  # fmt: skip
        return _attention_dropout(self.dropout1, x, self.self_attn.batch_first)

    def _ff_block(self, x: Tensor) -> Tensor:
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout2(x)


# Note [decoder activation module]
# An activation given as a module (nn.GELU()) is a submodule, kept in _modules, not in the
# instance __dict__. PyTorch's TransformerDecoderLayer.__setstate__, which copy.deepcopy runs in
# _get_clones, then sets an ``activation`` attribute of F.relu that shadows the module: the
# decoder layers of a TransformerDecoder (and Transformer) built from such a layer apply relu
# while their repr still shows the module. We keep PyTorch's __setstate__, so the same model
# computes the same values. (Encoder layers look the module up with hasattr and keep it.)


class TransformerDecoderLayer(Module):
    """Self-attention, attention over the encoder's memory, then a feed-forward block, each
    with dropout, a residual and LayerNorm (before the block with ``norm_first``)."""

    __constants__ = ["norm_first"]

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable[[Tensor], Tensor] = F.relu,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        attn_kw = {"dropout": dropout, "batch_first": batch_first, "bias": bias, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, **attn_kw)
        self.multihead_attn = MultiheadAttention(d_model, nhead, **attn_kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = (
            _get_activation_fn(activation) if isinstance(activation, str) else activation
        )

    def __setstate__(self, state: dict[str, Any]) -> None:
        """PyTorch's: a state without an ``activation`` attribute gets ``F.relu`` (Note
        [decoder activation module])."""
        if "activation" not in state:
            state["activation"] = F.relu
        self.__dict__.update(state)

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        tgt_key_padding_mask: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
        tgt_is_causal: bool = False,
        memory_is_causal: bool = False,
    ) -> Tensor:
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(
                self.norm2(x), memory, memory_mask, memory_key_padding_mask, memory_is_causal
            )
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(
                x
                + self._mha_block(x, memory, memory_mask, memory_key_padding_mask, memory_is_causal)
            )
            x = self.norm3(x + self._ff_block(x))
        return x

    def _sa_block(
        self,
        x: Tensor,
        attn_mask: Tensor | None,
        key_padding_mask: Tensor | None,
        is_causal: bool = False,
    ) -> Tensor:
        x = self.self_attn(
            x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
            is_causal=is_causal, need_weights=False,
        )[0]  # fmt: skip
        return _attention_dropout(self.dropout1, x, self.self_attn.batch_first)

    def _mha_block(
        self,
        x: Tensor,
        mem: Tensor,
        attn_mask: Tensor | None,
        key_padding_mask: Tensor | None,
        is_causal: bool = False,
    ) -> Tensor:
        x = self.multihead_attn(
            x, mem, mem, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
            is_causal=is_causal, need_weights=False,
        )[0]  # fmt: skip
        return _attention_dropout(self.dropout2, x, self.multihead_attn.batch_first)

    def _ff_block(self, x: Tensor) -> Tensor:
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout3(x)
