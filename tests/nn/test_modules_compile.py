"""Every public adjit.nn module class that PyTorch also has: forward and backward through
adjit.compile must equal eager (float64, 1e-12), or refuse clearly (random or data-dependent)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import adjit

Make = Callable[[Any], Any]
Build = Callable[[Any], tuple[Any, ...]]


def _r(T: Any, *shape: int) -> Any:
    return T.randn(*shape, dtype=T.float64)


def _u(T: Any, *shape: int) -> Any:  # in (0.05, 0.95): probabilities
    return T.rand(*shape, dtype=T.float64) * 0.9 + 0.05


def _i(T: Any, high: int, *shape: int) -> Any:
    return T.randint(0, high, shape)


def _x(*shape: int) -> Build:
    return lambda T: (_r(T, *shape),)


def _pair(*shape: int) -> Build:
    return lambda T: (_r(T, *shape), _r(T, *shape))


def _unpool(nd: int) -> Build:
    pool = {1: "max_pool1d", 2: "max_pool2d", 3: "max_pool3d"}[nd]
    shape = {1: (2, 3, 8), 2: (2, 3, 6, 4), 3: (1, 2, 4, 4, 4)}[nd]

    def build(T: Any) -> tuple[Any, ...]:
        x = _r(T, *shape)
        y, idx = getattr(T.nn.functional, pool)(x, 2, 2, return_indices=True)
        return (y.detach(), idx)

    return build


def _rnn_x(T: Any) -> tuple[Any, ...]:
    return (_r(T, 4, 2, 3),)


def _fractional_samples(T: Any, n: int) -> Any:
    return T.rand(1, 2, n, dtype=T.float64)


class _LogProb(adjit.nn.Module):
    """AdaptiveLogSoftmaxWithLoss.log_prob as a forward (its forward refuses, see REFUSES)."""

    def __init__(self, asm: Any) -> None:
        super().__init__()
        self.asm = asm

    def forward(self, x: Any) -> Any:
        return self.asm.log_prob(x)


# name[-variant] -> (constructor, inputs); floating inputs get gradients (except NO_GRAD),
# integer ones are class targets or indices.
ROWS: dict[str, tuple[Make, Build]] = {
    # ---- convolutions, linear
    "Conv1d": (lambda nn: nn.Conv1d(3, 4, 3, padding=1), _x(2, 3, 8)),
    "Conv2d": (lambda nn: nn.Conv2d(3, 4, 3, stride=2), _x(2, 3, 6, 5)),
    "Conv3d": (lambda nn: nn.Conv3d(2, 3, 2), _x(1, 2, 4, 3, 3)),
    "ConvTranspose1d": (lambda nn: nn.ConvTranspose1d(3, 2, 3, stride=2), _x(2, 3, 5)),
    "ConvTranspose2d": (lambda nn: nn.ConvTranspose2d(3, 2, 3), _x(2, 3, 4, 3)),
    "ConvTranspose3d": (lambda nn: nn.ConvTranspose3d(2, 2, 2), _x(1, 2, 3, 3, 2)),
    "LazyConv1d": (lambda nn: nn.LazyConv1d(4, 3), _x(2, 3, 8)),
    "LazyConv2d": (lambda nn: nn.LazyConv2d(4, 3), _x(2, 3, 6, 5)),
    "LazyConv3d": (lambda nn: nn.LazyConv3d(3, 2), _x(1, 2, 4, 3, 3)),
    "LazyConvTranspose1d": (lambda nn: nn.LazyConvTranspose1d(2, 3), _x(2, 3, 5)),
    "LazyConvTranspose2d": (lambda nn: nn.LazyConvTranspose2d(2, 3), _x(2, 3, 4, 3)),
    "LazyConvTranspose3d": (lambda nn: nn.LazyConvTranspose3d(2, 2), _x(1, 2, 3, 3, 2)),
    "Linear": (lambda nn: nn.Linear(4, 3), _x(2, 4)),
    "DataParallel": (lambda nn: nn.DataParallel(nn.Linear(4, 3)), _x(2, 4)),
    "LazyLinear": (lambda nn: nn.LazyLinear(3), _x(2, 4)),
    "Bilinear": (lambda nn: nn.Bilinear(3, 4, 2), lambda T: (_r(T, 5, 3), _r(T, 5, 4))),
    "Identity": (lambda nn: nn.Identity(), _x(2, 3)),
    "Flatten": (lambda nn: nn.Flatten(), _x(2, 3, 4)),
    "Unflatten": (lambda nn: nn.Unflatten(1, (2, 3)), _x(2, 6)),
    "Fold": (lambda nn: nn.Fold((4, 5), 2), _x(2, 12, 12)),
    "Unfold": (lambda nn: nn.Unfold(2, padding=1), _x(2, 3, 4, 3)),
    "Embedding": (lambda nn: nn.Embedding(6, 3, padding_idx=1), lambda T: (_i(T, 6, 2, 4),)),
    "EmbeddingBag": (
        lambda nn: nn.EmbeddingBag(6, 3, mode="mean"),
        lambda T: (_i(T, 6, 2, 4),),
    ),
    # ---- activations
    "CELU": (lambda nn: nn.CELU(0.7), _x(3, 5)),
    "ELU": (lambda nn: nn.ELU(), _x(3, 5)),
    "GELU": (lambda nn: nn.GELU("tanh"), _x(3, 5)),
    "GLU": (lambda nn: nn.GLU(), _x(3, 4)),
    "Hardshrink": (lambda nn: nn.Hardshrink(), _x(3, 5)),
    "Hardsigmoid": (lambda nn: nn.Hardsigmoid(), lambda T: (_r(T, 3, 5) * 3,)),
    "Hardswish": (lambda nn: nn.Hardswish(), lambda T: (_r(T, 3, 5) * 3,)),
    "Hardtanh": (lambda nn: nn.Hardtanh(-0.5, 0.8), _x(3, 5)),
    "LeakyReLU": (lambda nn: nn.LeakyReLU(0.1), _x(3, 5)),
    "LogSigmoid": (lambda nn: nn.LogSigmoid(), _x(3, 5)),
    "LogSoftmax": (lambda nn: nn.LogSoftmax(1), _x(3, 5)),
    "Mish": (lambda nn: nn.Mish(), _x(3, 5)),
    "PReLU": (lambda nn: nn.PReLU(3), _x(2, 3, 4)),
    "RReLU": (lambda nn: nn.RReLU(0.1, 0.3).eval(), _x(3, 5)),
    "ReLU": (lambda nn: nn.ReLU(), _x(3, 5)),
    "ReLU6": (lambda nn: nn.ReLU6(), lambda T: (_r(T, 3, 5) * 4,)),
    "SELU": (lambda nn: nn.SELU(), _x(3, 5)),
    "SiLU": (lambda nn: nn.SiLU(), _x(3, 5)),
    "Sigmoid": (lambda nn: nn.Sigmoid(), _x(3, 5)),
    "Softmax": (lambda nn: nn.Softmax(-1), _x(3, 5)),
    "Softmax2d": (lambda nn: nn.Softmax2d(), _x(2, 3, 2, 2)),
    "Softmin": (lambda nn: nn.Softmin(0), _x(3, 5)),
    "Softplus": (lambda nn: nn.Softplus(2.0, 1.0), _x(3, 5)),
    "Softshrink": (lambda nn: nn.Softshrink(0.3), _x(3, 5)),
    "Softsign": (lambda nn: nn.Softsign(), _x(3, 5)),
    "Tanh": (lambda nn: nn.Tanh(), _x(3, 5)),
    "Tanhshrink": (lambda nn: nn.Tanhshrink(), _x(3, 5)),
    "Threshold": (lambda nn: nn.Threshold(0.1, -2.0), _x(3, 5)),
    "CosineSimilarity": (lambda nn: nn.CosineSimilarity(), _pair(3, 4)),
    "PairwiseDistance": (lambda nn: nn.PairwiseDistance(), _pair(3, 4)),
    # ---- dropout: eval mode is the identity (training mode refuses, see REFUSES)
    "Dropout": (lambda nn: nn.Dropout(0.3).eval(), _x(3, 5)),
    "Dropout1d": (lambda nn: nn.Dropout1d(0.3).eval(), _x(2, 3, 5)),
    "Dropout2d": (lambda nn: nn.Dropout2d(0.3).eval(), _x(2, 3, 2, 2)),
    "Dropout3d": (lambda nn: nn.Dropout3d(0.3).eval(), _x(2, 3, 2, 2, 2)),
    "AlphaDropout": (lambda nn: nn.AlphaDropout(0.3).eval(), _x(3, 5)),
    "FeatureAlphaDropout": (lambda nn: nn.FeatureAlphaDropout(0.3).eval(), _x(2, 3, 2, 2)),
    # ---- normalization (training mode: batch statistics, running buffers updated)
    "BatchNorm1d": (lambda nn: nn.BatchNorm1d(3), _x(4, 3, 2)),
    "BatchNorm2d": (lambda nn: nn.BatchNorm2d(3), _x(2, 3, 2, 2)),
    "BatchNorm3d": (lambda nn: nn.BatchNorm3d(2), _x(2, 2, 2, 2, 2)),
    "LazyBatchNorm1d": (lambda nn: nn.LazyBatchNorm1d(), _x(4, 3, 2)),
    "LazyBatchNorm2d": (lambda nn: nn.LazyBatchNorm2d(), _x(2, 3, 2, 2)),
    "LazyBatchNorm3d": (lambda nn: nn.LazyBatchNorm3d(), _x(2, 2, 2, 2, 2)),
    "SyncBatchNorm": (lambda nn: nn.SyncBatchNorm(3, momentum=None), _x(2, 3, 2, 2)),
    "LazyInstanceNorm1d": (lambda nn: nn.LazyInstanceNorm1d(), _x(2, 3, 5)),
    "LazyInstanceNorm2d": (lambda nn: nn.LazyInstanceNorm2d(affine=False), _x(2, 3, 3, 2)),
    "LazyInstanceNorm3d": (lambda nn: nn.LazyInstanceNorm3d(bias=False), _x(2, 2, 2, 3, 2)),
    "InstanceNorm1d": (lambda nn: nn.InstanceNorm1d(3, affine=True), _x(2, 3, 5)),
    "InstanceNorm2d": (lambda nn: nn.InstanceNorm2d(3, track_running_stats=True), _x(2, 3, 3, 2)),
    "InstanceNorm3d": (lambda nn: nn.InstanceNorm3d(2, affine=True), _x(2, 2, 2, 3, 2)),
    "GroupNorm": (lambda nn: nn.GroupNorm(2, 4), _x(2, 4, 3)),
    "LayerNorm": (lambda nn: nn.LayerNorm((3, 4)), _x(2, 3, 4)),
    "RMSNorm": (lambda nn: nn.RMSNorm(4), _x(2, 3, 4)),
    "LocalResponseNorm": (lambda nn: nn.LocalResponseNorm(3), _x(2, 4, 3)),
    # ---- pooling
    "AvgPool1d": (lambda nn: nn.AvgPool1d(3, 2, 1), _x(2, 3, 8)),
    "AvgPool2d": (lambda nn: nn.AvgPool2d(3, 2, 1, ceil_mode=True), _x(2, 3, 6, 5)),
    "AvgPool3d": (lambda nn: nn.AvgPool3d(2, count_include_pad=False), _x(1, 2, 4, 4, 3)),
    "MaxPool1d": (lambda nn: nn.MaxPool1d(3, 2, 1), _x(2, 3, 8)),
    "MaxPool2d": (lambda nn: nn.MaxPool2d(3, 2, 1, dilation=1), _x(2, 3, 6, 5)),
    "MaxPool3d": (lambda nn: nn.MaxPool3d(2), _x(1, 2, 4, 4, 3)),
    "AdaptiveAvgPool1d": (lambda nn: nn.AdaptiveAvgPool1d(3), _x(2, 3, 8)),
    "AdaptiveAvgPool2d": (lambda nn: nn.AdaptiveAvgPool2d((2, 3)), _x(2, 3, 5, 5)),
    "AdaptiveAvgPool3d": (lambda nn: nn.AdaptiveAvgPool3d(2), _x(1, 2, 4, 3, 3)),
    "AdaptiveMaxPool1d": (lambda nn: nn.AdaptiveMaxPool1d(3), _x(2, 3, 8)),
    "AdaptiveMaxPool2d": (lambda nn: nn.AdaptiveMaxPool2d((2, 3)), _x(2, 3, 5, 5)),
    "AdaptiveMaxPool3d": (lambda nn: nn.AdaptiveMaxPool3d(2), _x(1, 2, 4, 3, 3)),
    "LPPool1d": (lambda nn: nn.LPPool1d(2, 3, 2), _x(2, 3, 8)),
    "LPPool2d": (lambda nn: nn.LPPool2d(2, 2), _x(2, 3, 4, 4)),
    "LPPool3d": (lambda nn: nn.LPPool3d(2, 2), _x(1, 2, 4, 4, 2)),
    "MaxUnpool1d": (lambda nn: nn.MaxUnpool1d(2), _unpool(1)),
    "MaxUnpool2d": (lambda nn: nn.MaxUnpool2d(2), _unpool(2)),
    "MaxUnpool3d": (lambda nn: nn.MaxUnpool3d(2), _unpool(3)),
    "FractionalMaxPool2d": (
        lambda nn: nn.FractionalMaxPool2d(2, 3, _random_samples=_fractional_samples(adjit, 2)),
        _x(1, 2, 6, 6),
    ),
    "FractionalMaxPool3d": (
        lambda nn: nn.FractionalMaxPool3d(2, 3, _random_samples=_fractional_samples(adjit, 3)),
        _x(1, 2, 6, 6, 5),
    ),
    # ---- padding, shuffles, resampling
    "CircularPad1d": (lambda nn: nn.CircularPad1d((1, 2)), _x(2, 3, 4)),
    "CircularPad2d": (lambda nn: nn.CircularPad2d(1), _x(1, 2, 3, 3)),
    "CircularPad3d": (lambda nn: nn.CircularPad3d(1), _x(1, 1, 2, 3, 3)),
    "ConstantPad1d": (lambda nn: nn.ConstantPad1d((1, 2), 0.5), _x(2, 3, 4)),
    "ConstantPad2d": (lambda nn: nn.ConstantPad2d(1, -1.0), _x(1, 2, 3, 3)),
    "ConstantPad3d": (lambda nn: nn.ConstantPad3d(1, 2.0), _x(1, 1, 2, 3, 3)),
    "ReflectionPad1d": (lambda nn: nn.ReflectionPad1d((1, 2)), _x(2, 3, 4)),
    "ReflectionPad2d": (lambda nn: nn.ReflectionPad2d(1), _x(1, 2, 3, 3)),
    "ReflectionPad3d": (lambda nn: nn.ReflectionPad3d(1), _x(1, 1, 2, 3, 3)),
    "ReplicationPad1d": (lambda nn: nn.ReplicationPad1d((1, 2)), _x(2, 3, 4)),
    "ReplicationPad2d": (lambda nn: nn.ReplicationPad2d(1), _x(1, 2, 3, 3)),
    "ReplicationPad3d": (lambda nn: nn.ReplicationPad3d(1), _x(1, 1, 2, 3, 3)),
    "ZeroPad1d": (lambda nn: nn.ZeroPad1d((1, 2)), _x(2, 3, 4)),
    "ZeroPad2d": (lambda nn: nn.ZeroPad2d(1), _x(1, 2, 3, 3)),
    "ZeroPad3d": (lambda nn: nn.ZeroPad3d(1), _x(1, 1, 2, 3, 3)),
    "ChannelShuffle": (lambda nn: nn.ChannelShuffle(2), _x(1, 4, 2, 2)),
    "PixelShuffle": (lambda nn: nn.PixelShuffle(2), _x(1, 4, 2, 3)),
    "PixelUnshuffle": (lambda nn: nn.PixelUnshuffle(2), _x(1, 1, 4, 6)),
    "Upsample": (lambda nn: nn.Upsample(scale_factor=2, mode="bilinear"), _x(1, 2, 3, 3)),
    "UpsamplingBilinear2d": (lambda nn: nn.UpsamplingBilinear2d(scale_factor=2), _x(1, 2, 3, 2)),
    "UpsamplingNearest2d": (lambda nn: nn.UpsamplingNearest2d((5, 4)), _x(1, 2, 3, 2)),
    # ---- recurrent
    "RNN": (lambda nn: nn.RNN(3, 4, 2), _rnn_x),
    "LSTM": (lambda nn: nn.LSTM(3, 4, bidirectional=True), _rnn_x),
    "GRU": (lambda nn: nn.GRU(3, 4, batch_first=True), _rnn_x),
    "RNNCell": (lambda nn: nn.RNNCell(3, 4), _x(2, 3)),
    "LSTMCell": (lambda nn: nn.LSTMCell(3, 4), _x(2, 3)),
    "GRUCell": (lambda nn: nn.GRUCell(3, 4), _x(2, 3)),
    # ---- attention, transformer (dropout=0: deterministic in training mode)
    "MultiheadAttention": (
        lambda nn: nn.MultiheadAttention(4, 2),
        lambda T: (_r(T, 3, 2, 4), _r(T, 5, 2, 4), _r(T, 5, 2, 4)),
    ),
    "TransformerEncoderLayer": (
        lambda nn: nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0),
        _x(3, 2, 4),
    ),
    "TransformerDecoderLayer": (
        lambda nn: nn.TransformerDecoderLayer(4, 2, 8, dropout=0.0),
        lambda T: (_r(T, 3, 2, 4), _r(T, 2, 2, 4)),
    ),
    "TransformerEncoder": (
        lambda nn: nn.TransformerEncoder(
            nn.TransformerEncoderLayer(4, 2, 8, 0.0), 2, enable_nested_tensor=False
        ),
        _x(3, 2, 4),
    ),
    "TransformerDecoder": (
        lambda nn: nn.TransformerDecoder(nn.TransformerDecoderLayer(4, 2, 8, 0.0), 1),
        lambda T: (_r(T, 3, 2, 4), _r(T, 2, 2, 4)),
    ),
    "Transformer": (
        lambda nn: nn.Transformer(4, 2, 1, 1, 8, dropout=0.0, batch_first=True),
        lambda T: (_r(T, 2, 3, 4), _r(T, 2, 2, 4)),
    ),
    # ---- losses (integer targets where PyTorch takes class indices)
    "L1Loss": (lambda nn: nn.L1Loss(), _pair(3, 4)),
    "MSELoss": (lambda nn: nn.MSELoss(), _pair(3, 4)),
    "HuberLoss": (lambda nn: nn.HuberLoss(delta=0.5), _pair(3, 4)),
    "SmoothL1Loss": (lambda nn: nn.SmoothL1Loss(beta=0.5), _pair(3, 4)),
    "BCELoss": (lambda nn: nn.BCELoss(), lambda T: (_u(T, 3, 4), _u(T, 3, 4))),
    "BCEWithLogitsLoss": (
        lambda nn: nn.BCEWithLogitsLoss(pos_weight=adjit.tensor([1.0, 2.0, 0.5, 1.5])),
        lambda T: (_r(T, 3, 4), _u(T, 3, 4)),
    ),
    "CrossEntropyLoss": (
        lambda nn: nn.CrossEntropyLoss(label_smoothing=0.1),
        lambda T: (_r(T, 4, 5), _i(T, 5, 4)),
    ),
    "NLLLoss": (lambda nn: nn.NLLLoss(), lambda T: (_r(T, 4, 5), _i(T, 5, 4))),
    "NLLLoss2d": (lambda nn: nn.NLLLoss2d(), lambda T: (_r(T, 2, 3, 2, 2), _i(T, 3, 2, 2, 2))),
    "KLDivLoss": (
        lambda nn: nn.KLDivLoss(reduction="batchmean"),
        lambda T: (_r(T, 3, 4), _u(T, 3, 4)),
    ),
    "PoissonNLLLoss": (lambda nn: nn.PoissonNLLLoss(), lambda T: (_r(T, 3, 4), _u(T, 3, 4) * 3)),
    "GaussianNLLLoss": (
        lambda nn: nn.GaussianNLLLoss(),
        lambda T: (_r(T, 3, 4), _r(T, 3, 4), _u(T, 3, 4)),
    ),
    "MarginRankingLoss": (
        lambda nn: nn.MarginRankingLoss(0.3),
        lambda T: (_r(T, 4), _r(T, 4), _i(T, 2, 4) * 2.0 - 1.0),
    ),
    "HingeEmbeddingLoss": (
        lambda nn: nn.HingeEmbeddingLoss(),
        lambda T: (_r(T, 4), _i(T, 2, 4) * 2.0 - 1.0),
    ),
    "CosineEmbeddingLoss": (
        lambda nn: nn.CosineEmbeddingLoss(0.2),
        lambda T: (_r(T, 4, 3), _r(T, 4, 3), _i(T, 2, 4) * 2 - 1),
    ),
    "SoftMarginLoss": (
        lambda nn: nn.SoftMarginLoss(),
        lambda T: (_r(T, 4), _i(T, 2, 4) * 2.0 - 1.0),
    ),
    "MultiLabelMarginLoss": (
        lambda nn: nn.MultiLabelMarginLoss(),
        lambda T: (_r(T, 2, 4), T.tensor([[3, 0, -1, 1], [1, 2, 0, -1]])),
    ),
    "MultiLabelSoftMarginLoss": (
        lambda nn: nn.MultiLabelSoftMarginLoss(),
        lambda T: (_r(T, 3, 4), _i(T, 2, 3, 4).double()),
    ),
    "MultiMarginLoss": (
        lambda nn: nn.MultiMarginLoss(p=2, margin=0.7),
        lambda T: (_r(T, 4, 5), _i(T, 5, 4)),
    ),
    "TripletMarginLoss": (
        lambda nn: nn.TripletMarginLoss(0.5),
        lambda T: (_r(T, 3, 4), _r(T, 3, 4), _r(T, 3, 4)),
    ),
    "AdaptiveLogSoftmaxWithLoss-log_prob": (
        lambda nn: _LogProb(nn.AdaptiveLogSoftmaxWithLoss(4, 6, [2, 4], div_value=2.0)),
        _x(3, 4),
    ),
    # ---- variants: modes, options and extra inputs the plain rows leave out
    "Conv2d-reflect-groups": (
        lambda nn: nn.Conv2d(4, 2, 3, padding=1, groups=2, padding_mode="reflect"),
        _x(1, 4, 4, 5),
    ),
    "Conv1d-same-circular": (
        lambda nn: nn.Conv1d(2, 3, 3, padding="same", dilation=2, padding_mode="circular"),
        _x(2, 2, 7),
    ),
    "ConvTranspose2d-output_padding": (
        lambda nn: nn.ConvTranspose2d(2, 4, 3, 2, 1, output_padding=1, groups=2, dilation=1),
        _x(1, 2, 3, 3),
    ),
    "EmbeddingBag-offsets-weights": (
        lambda nn: nn.EmbeddingBag(6, 3, mode="sum", include_last_offset=False),
        lambda T: (T.tensor([1, 4, 2, 5, 0]), T.tensor([0, 2]), _r(T, 5)),
    ),
    "EmbeddingBag-max": (lambda nn: nn.EmbeddingBag(6, 3, mode="max"), lambda T: (_i(T, 6, 2, 3),)),
    "MaxPool2d-indices": (lambda nn: nn.MaxPool2d(2, return_indices=True), _x(1, 2, 4, 4)),
    "BatchNorm2d-eval": (lambda nn: nn.BatchNorm2d(3).eval(), _x(2, 3, 2, 2)),
    "InstanceNorm1d-eval": (
        lambda nn: nn.InstanceNorm1d(3, track_running_stats=True).eval(),
        _x(2, 3, 5),
    ),
    "Upsample-nearest": (lambda nn: nn.Upsample(scale_factor=2), _x(1, 2, 3)),
    "Upsample-bicubic": (
        lambda nn: nn.Upsample((5, 4), mode="bicubic", align_corners=True),
        _x(1, 2, 3, 3),
    ),
    "Upsample-trilinear": (
        lambda nn: nn.Upsample(scale_factor=1.5, mode="trilinear"),
        _x(1, 1, 2, 3, 2),
    ),
    "RNN-h0-relu": (
        lambda nn: nn.RNN(3, 4, nonlinearity="relu", bias=False),
        lambda T: (_r(T, 4, 2, 3), _r(T, 1, 2, 4)),
    ),
    "LSTM-proj-unbatched": (lambda nn: nn.LSTM(3, 4, 2, proj_size=2), _x(4, 3)),
    "GRU-bidirectional": (lambda nn: nn.GRU(3, 2, 2, bidirectional=True), _rnn_x),
    "MultiheadAttention-kdim-mask": (
        lambda nn: nn.MultiheadAttention(4, 2, kdim=3, vdim=5, batch_first=True),
        lambda T: (
            _r(T, 2, 3, 4),
            _r(T, 2, 5, 3),
            _r(T, 2, 5, 5),
            T.tensor([[False, False, True, False, True], [False] * 5]),
        ),
    ),
    "CrossEntropyLoss-weight-ignore": (
        lambda nn: nn.CrossEntropyLoss(adjit.tensor([1.0, 2.0, 0.5, 1.0, 3.0]), ignore_index=2),
        lambda T: (_r(T, 4, 5), T.tensor([1, 2, 4, 0])),
    ),
    "CrossEntropyLoss-probabilities": (
        lambda nn: nn.CrossEntropyLoss(reduction="sum", label_smoothing=0.2),
        lambda T: (_r(T, 4, 5), _r(T, 4, 5).softmax(1)),
    ),
    "NLLLoss-weight-none": (
        lambda nn: nn.NLLLoss(adjit.tensor([1.0, 2.0, 0.5]), reduction="none"),
        lambda T: (_r(T, 4, 3), _i(T, 3, 4)),
    ),
    "MSELoss-none": (lambda nn: nn.MSELoss(reduction="none"), _pair(3, 4)),
    "BCELoss-weight-sum": (
        lambda nn: nn.BCELoss(adjit.tensor([1.0, 2.0, 0.5, 1.0]), reduction="sum"),
        lambda T: (_u(T, 3, 4), _u(T, 3, 4)),
    ),
    "MultiMarginLoss-weight": (
        lambda nn: nn.MultiMarginLoss(weight=adjit.tensor([1.0, 2.0, 0.5, 1.0, 3.0])),
        lambda T: (_r(T, 4, 5), _i(T, 5, 4)),
    ),
    "TripletMarginWithDistanceLoss": (
        lambda nn: nn.TripletMarginWithDistanceLoss(margin=0.5, swap=True),
        lambda T: (_r(T, 3, 4), _r(T, 3, 4), _r(T, 3, 4)),
    ),
}

# name -> (constructor, inputs, expected exception, message fragment): a data-dependent output
# shape or in-place weight update; compiling with fullgraph=True must raise this, never crash
# or mis-compute (by default it is a graph break: tests/frontend/test_no_data_reads.py). (The
# random layers in training mode compile: tests/frontend/test_compiled_random.py.)
MAX_NORM = "embedding max_norm rescales weight rows in place from the index values"
REFUSES: dict[str, tuple[Make, Build, type[Exception], str]] = {
    "Embedding-max_norm": (
        lambda nn: nn.Embedding(6, 3, max_norm=1.0),
        lambda T: (_i(T, 6, 2, 4),),
        adjit.TracingError,
        MAX_NORM,
    ),
    "EmbeddingBag-max_norm": (
        lambda nn: nn.EmbeddingBag(6, 3, max_norm=1.0),
        lambda T: (_i(T, 6, 2, 4),),
        adjit.TracingError,
        MAX_NORM,
    ),
    "CTCLoss": (
        lambda nn: nn.CTCLoss(),
        lambda T: (
            _r(T, 5, 2, 4).log_softmax(2),
            T.tensor([[1, 2], [3, 1]]),
            T.tensor([5, 4]),
            T.tensor([2, 1]),
        ),
        adjit.TracingError,
        "ctc_loss: the recursion's extent depends on the input and target lengths' values",
    ),
    "AdaptiveLogSoftmaxWithLoss": (
        lambda nn: nn.AdaptiveLogSoftmaxWithLoss(4, 6, [2], div_value=2.0),
        lambda T: (_r(T, 3, 4), T.tensor([0, 3, 5])),
        adjit.TracingError,
        "AdaptiveLogSoftmaxWithLoss.forward: each cluster's rows depend on the targets",
    ),
}

# Not a layer: the base class, containers and abstract bases have no forward of their own.
SKIPS: dict[str, str] = {
    "Module": "base class",
    "Sequential": "container",
    "ModuleList": "container",
    "ModuleDict": "container",
    "ParameterList": "container",
    "ParameterDict": "container",
    "RNNBase": "abstract base of RNN/LSTM/GRU (covered by them)",
    "RNNCellBase": "abstract base of RNNCell/LSTMCell/GRUCell (covered by them)",
}

# name -> indices of floating inputs that are targets PyTorch does not differentiate.
NO_GRAD: dict[str, tuple[int, ...]] = {
    "SoftMarginLoss": (1,),
    "HingeEmbeddingLoss": (1,),
    "MarginRankingLoss": (2,),
    "MultiLabelSoftMarginLoss": (1,),
    "CrossEntropyLoss-probabilities": (1,),
}

XFAILS: dict[str, str] = {}


def _module_classes() -> list[str]:
    nn = adjit.nn
    return sorted(
        n
        for n in dir(nn)
        if not n.startswith("_")
        and inspect.isclass(getattr(nn, n))
        and issubclass(getattr(nn, n), nn.Module)
    )


def test_every_module_class_has_a_row() -> None:
    covered = {k.split("-")[0] for k in [*ROWS, *REFUSES, *SKIPS]}
    missing = [n for n in _module_classes() if n not in covered]
    assert missing == [], f"adjit.nn module classes without a compile row: {missing}"
    assert sorted(n for n in covered if not hasattr(adjit.nn, n)) == []


def _leaves(out: Any) -> list[Any]:
    """The floating tensors of a module's output (a tensor or nested tuples of them)."""
    if isinstance(out, adjit.Tensor):
        return [out] if out.is_floating_point() else []
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _leaves(o)]
    return []


def _setup(make: Make, build: Build) -> tuple[Any, tuple[Any, ...]]:
    adjit.manual_seed(0)
    module = make(adjit.nn).double()
    inputs = build(adjit)
    if any(isinstance(p, adjit.nn.parameter.UninitializedParameter) for p in module.parameters()):
        with adjit.no_grad():
            module(*inputs)  # a Lazy module materializes on its first call
        assert not type(module).__name__.startswith("Lazy"), "lazy module did not materialize"
    return module, inputs


def _fresh(name: str, inputs: tuple[Any, ...]) -> list[Any]:
    grad = [isinstance(x, adjit.Tensor) and x.is_floating_point() for x in inputs]
    for i in NO_GRAD.get(name, ()):
        grad[i] = False
    return [
        x.detach().clone().requires_grad_(g) if isinstance(x, adjit.Tensor) else x
        for x, g in zip(inputs, grad, strict=True)
    ]


def _run(
    name: str, f: Callable[..., Any], module: Any, inputs: tuple[Any, ...]
) -> list[np.ndarray]:
    params = list(module.parameters())
    for p in params:
        p.grad = None
    xs = _fresh(name, inputs)
    out, loss = f(*xs)
    loss.backward()
    grads = [x.grad for x in xs if isinstance(x, adjit.Tensor) and x.grad is not None]
    grads += [p.grad for p in params if p.grad is not None]
    return [t.detach().numpy() for t in [*_leaves(out), loss, *grads]]


def _step(module: Any) -> Callable[..., Any]:
    def step(*xs: Any) -> Any:
        out = module(*xs)
        loss = sum((y * y).sum() for y in _leaves(out))
        return out, loss

    return step


def _params(name: str) -> Any:
    if name in XFAILS:
        return pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=XFAILS[name]))
    return name


@pytest.mark.parametrize("name", [_params(n) for n in ROWS])
def test_compiled_forward_backward_as_eager(name: str) -> None:
    module, inputs = _setup(*ROWS[name])
    step = _step(module)
    eager = _run(name, step, module, inputs)
    compiled = _run(name, adjit.compile(step), module, inputs)
    assert len(eager) == len(compiled)
    assert len(eager) > 2, "no output, loss and gradient recorded"
    for e, c in zip(eager, compiled, strict=True):
        assert e.shape == c.shape
        np.testing.assert_allclose(c, e, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", list(REFUSES))
def test_compile_refuses_clearly(name: str) -> None:
    make, build, error, fragment = REFUSES[name]
    module, inputs = _setup(make, build)
    with pytest.raises(error, match=fragment):  # (by default a graph break: as eagerly)
        _run(name, adjit.compile(_step(module), fullgraph=True), module, inputs)
