"""``adjit.nn``: modules, parameters and losses, as in ``torch.nn``."""

from adjit.nn import functional, init, utils
from adjit.nn.activation import (
    CELU,
    ELU,
    GELU,
    GLU,
    SELU,
    CosineSimilarity,
    Hardshrink,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LeakyReLU,
    LogSigmoid,
    LogSoftmax,
    Mish,
    PairwiseDistance,
    PReLU,
    ReLU,
    ReLU6,
    RReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softmax2d,
    Softmin,
    Softplus,
    Softshrink,
    Softsign,
    Tanh,
    Tanhshrink,
    Threshold,
)
from adjit.nn.activation_attention import MultiheadAttention
from adjit.nn.adaptive import AdaptiveLogSoftmaxWithLoss
from adjit.nn.containers import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from adjit.nn.conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from adjit.nn.dropout import AlphaDropout, Dropout1d, Dropout3d, FeatureAlphaDropout
from adjit.nn.fold import Fold, Unfold
from adjit.nn.layers import (
    Bilinear,
    Dropout,
    Embedding,
    Flatten,
    Identity,
    LayerNorm,
    Linear,
    Unflatten,
)
from adjit.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CosineEmbeddingLoss,
    CrossEntropyLoss,
    GaussianNLLLoss,
    HingeEmbeddingLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MarginRankingLoss,
    MSELoss,
    MultiLabelMarginLoss,
    MultiLabelSoftMarginLoss,
    MultiMarginLoss,
    NLLLoss,
    NLLLoss2d,
    PoissonNLLLoss,
    SmoothL1Loss,
    SoftMarginLoss,
    TripletMarginLoss,
    TripletMarginWithDistanceLoss,
)
from adjit.nn.loss_ctc import CTCLoss
from adjit.nn.module import Module
from adjit.nn.normalization import (
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    GroupNorm,
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
    LocalResponseNorm,
    RMSNorm,
)
from adjit.nn.padding import *  # noqa: F403
from adjit.nn.padding import __all__ as _padding_names
from adjit.nn.parameter import Buffer, Parameter
from adjit.nn.pixelshuffle import ChannelShuffle, PixelShuffle, PixelUnshuffle
from adjit.nn.pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveAvgPool3d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AdaptiveMaxPool3d,
    AvgPool1d,
    AvgPool2d,
    AvgPool3d,
    Dropout2d,
    MaxPool1d,
    MaxPool2d,
    MaxPool3d,
)
from adjit.nn.pooling_extra import (
    FractionalMaxPool2d,
    FractionalMaxPool3d,
    LPPool1d,
    LPPool2d,
    LPPool3d,
    MaxUnpool1d,
    MaxUnpool2d,
    MaxUnpool3d,
)
from adjit.nn.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase
from adjit.nn.sparse import EmbeddingBag
from adjit.nn.transformer import (
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)
from adjit.nn.upsampling import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d

__all__ = [
    "AdaptiveAvgPool2d",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "ConvTranspose3d",
    "Dropout2d",
    "MaxPool2d",
    "BCELoss",
    "BCEWithLogitsLoss",
    "Bilinear",
    "Buffer",
    "CELU",
    "CrossEntropyLoss",
    "Dropout",
    "ELU",
    "Embedding",
    "Flatten",
    "Fold",
    "GELU",
    "GRU",
    "GRUCell",
    "Hardtanh",
    "HuberLoss",
    "Identity",
    "L1Loss",
    "LSTM",
    "LSTMCell",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "LogSigmoid",
    "LogSoftmax",
    "MSELoss",
    "Mish",
    "Module",
    "ModuleDict",
    "ModuleList",
    "NLLLoss",
    "Parameter",
    "ParameterDict",
    "ParameterList",
    "ReLU",
    "ReLU6",
    "RNN",
    "RNNBase",
    "RNNCell",
    "RNNCellBase",
    "SELU",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "SmoothL1Loss",
    "Softmax",
    "Softmin",
    "Softplus",
    "Tanh",
    "Unflatten",
    "Unfold",
    "functional",
    "init",
    "utils",
]
__all__ += _padding_names
__all__ += ["CTCLoss"]
__all__ += ["AdaptiveLogSoftmaxWithLoss"]
__all__ += ["ChannelShuffle", "PixelShuffle", "PixelUnshuffle"]
__all__ += ["Upsample", "UpsamplingBilinear2d", "UpsamplingNearest2d"]
__all__ += ["AdaptiveAvgPool1d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d"]
__all__ += ["AdaptiveMaxPool3d", "AvgPool1d", "AvgPool3d", "MaxPool1d", "MaxPool3d"]
__all__ += ["FractionalMaxPool2d", "FractionalMaxPool3d", "LPPool1d", "LPPool2d", "LPPool3d"]
__all__ += ["MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d"]
__all__ += ["EmbeddingBag"]
__all__ += ["CosineSimilarity", "GLU", "Hardshrink", "Hardsigmoid", "Hardswish", "PReLU"]
__all__ += ["PairwiseDistance", "RReLU", "Softmax2d", "Softshrink", "Softsign", "Tanhshrink"]
__all__ += ["Threshold"]
__all__ += ["CosineEmbeddingLoss", "GaussianNLLLoss", "HingeEmbeddingLoss", "KLDivLoss"]
__all__ += ["MarginRankingLoss", "MultiLabelMarginLoss", "MultiLabelSoftMarginLoss"]
__all__ += ["MultiMarginLoss", "NLLLoss2d", "PoissonNLLLoss", "SoftMarginLoss"]
__all__ += ["TripletMarginLoss", "TripletMarginWithDistanceLoss"]
__all__ += ["BatchNorm3d", "GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"]
__all__ += ["LocalResponseNorm", "RMSNorm"]
__all__ += ["AlphaDropout", "Dropout1d", "Dropout3d", "FeatureAlphaDropout"]
__all__ += ["MultiheadAttention", "Transformer", "TransformerDecoder", "TransformerDecoderLayer"]
__all__ += ["TransformerEncoder", "TransformerEncoderLayer"]
from adjit.nn import modules as modules  # noqa: E402  (torch.nn.modules.module global hooks)
from adjit.nn.lazy import (  # noqa: E402
    LazyBatchNorm1d,
    LazyBatchNorm2d,
    LazyBatchNorm3d,
    LazyConv1d,
    LazyConv2d,
    LazyConv3d,
    LazyConvTranspose1d,
    LazyConvTranspose2d,
    LazyConvTranspose3d,
    LazyInstanceNorm1d,
    LazyInstanceNorm2d,
    LazyInstanceNorm3d,
    LazyLinear,
)
from adjit.nn.parameter import UninitializedBuffer, UninitializedParameter  # noqa: E402
from adjit.nn.sync_batchnorm import SyncBatchNorm  # noqa: E402

__all__ += ["LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d", "LazyConv1d", "LazyConv2d"]
__all__ += ["LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d", "LazyConvTranspose3d"]
__all__ += ["LazyLinear", "UninitializedBuffer", "UninitializedParameter"]
__all__ += ["LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d", "SyncBatchNorm"]
from adjit.nn import attention as attention  # noqa: E402  (torch.nn.attention.sdpa_kernel)
from adjit.nn import parallel as parallel  # noqa: E402  (DistributedDataParallel, DataParallel)
from adjit.nn.parallel import DataParallel  # noqa: E402

__all__ += ["DataParallel"]
from adjit.nn import grad as grad  # noqa: E402  (torch.nn.grad.conv2d_input & co.)
from adjit.nn._factory_kwargs import factory_kwargs  # noqa: E402

__all__ += ["factory_kwargs"]
