"""``adjit.nn.utils``: gradient clipping, parameter vectors, weight/spectral norm, parametrize,
pruning."""

from __future__ import annotations

from adjit.nn.utils import fusion as fusion
from adjit.nn.utils import parametrizations as parametrizations  # noqa: I001
from adjit.nn.utils import parametrize as parametrize
from adjit.nn.utils import prune as prune
from adjit.nn.utils import rnn as rnn  # (torch.nn.utils.rnn)
from adjit.nn.utils import stateless as stateless
from adjit.nn.utils.clip_grad import (
    clip_grad_norm,
    clip_grad_norm_,
    clip_grad_value_,
    clip_grads_with_norm_,
    get_total_norm,
)
from adjit.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters
from adjit.nn.utils.fusion import (
    fuse_conv_bn_eval,
    fuse_conv_bn_weights,
    fuse_linear_bn_eval,
    fuse_linear_bn_weights,
)
from adjit.nn.utils.init import skip_init
from adjit.nn.utils.spectral_norm import remove_spectral_norm, spectral_norm
from adjit.nn.utils.weight_norm import remove_weight_norm, weight_norm

__all__ = [
    "clip_grad_norm",
    "clip_grad_norm_",
    "clip_grad_value_",
    "clip_grads_with_norm_",
    "fuse_conv_bn_eval",
    "fuse_conv_bn_weights",
    "fuse_linear_bn_eval",
    "fuse_linear_bn_weights",
    "get_total_norm",
    "parameters_to_vector",
    "parametrizations",
    "parametrize",
    "remove_spectral_norm",
    "remove_weight_norm",
    "rnn",
    "skip_init",
    "spectral_norm",
    "stateless",
    "vector_to_parameters",
    "weight_norm",
]
