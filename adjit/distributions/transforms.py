"""Invertible transforms with log-abs-det-Jacobians (PyTorch's
``torch.distributions.transforms``): the base ``Transform``, its inverse and composition
(transforms_base.py), the elementwise ``Exp``, ``Power``, ``Sigmoid``, ``Softplus``, ``Tanh``,
``Abs``, ``Affine`` (transforms_elementwise.py) and the vector ones (transforms_vector.py)."""

from __future__ import annotations

from .transforms_base import (
    ComposeTransform,
    IndependentTransform,
    Transform,
    _InverseTransform,
    identity_transform,
)
from .transforms_elementwise import (
    AbsTransform,
    AffineTransform,
    ExpTransform,
    PowerTransform,
    SigmoidTransform,
    SoftplusTransform,
    TanhTransform,
)
from .transforms_joined import CatTransform, CumulativeDistributionTransform, StackTransform
from .transforms_vector import (
    CorrCholeskyTransform,
    LowerCholeskyTransform,
    PositiveDefiniteTransform,
    ReshapeTransform,
    SoftmaxTransform,
    StickBreakingTransform,
)

__all__ = [
    "AbsTransform",
    "AffineTransform",
    "CatTransform",
    "ComposeTransform",
    "CorrCholeskyTransform",
    "CumulativeDistributionTransform",
    "ExpTransform",
    "IndependentTransform",
    "LowerCholeskyTransform",
    "PositiveDefiniteTransform",
    "ReshapeTransform",
    "SoftmaxTransform",
    "StickBreakingTransform",
    "PowerTransform",
    "SigmoidTransform",
    "SoftplusTransform",
    "StackTransform",
    "TanhTransform",
    "Transform",
    "identity_transform",
]
_ = _InverseTransform  # the inverse's class, as PyTorch's module holds it
