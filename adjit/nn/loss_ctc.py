"""CTCLoss: the module around ``functional.ctc_loss``."""

from __future__ import annotations

from typing import Any

from adjit.nn import functional as F
from adjit.nn.loss import _Loss
from adjit.runtime.tensor import Tensor


class CTCLoss(_Loss):
    """The Connectionist Temporal Classification loss (PyTorch's signature and defaults)."""

    def __init__(
        self, blank: int = 0, reduction: str = "mean", zero_infinity: bool = False
    ) -> None:
        super().__init__(reduction=reduction)
        self.blank = blank
        self.zero_infinity = zero_infinity

    def forward(
        self, log_probs: Tensor, targets: Tensor, input_lengths: Any, target_lengths: Any
    ) -> Tensor:
        return F.ctc_loss(
            log_probs,
            targets,
            input_lengths,
            target_lengths,
            self.blank,
            self.reduction,
            self.zero_infinity,
        )
