"""torch.backends.cuda without CUDA: the matmul flags are kept, nothing is built."""

from __future__ import annotations

from types import SimpleNamespace

matmul = SimpleNamespace(allow_tf32=False, allow_fp16_reduced_precision_reduction=True,
                         allow_bf16_reduced_precision_reduction=True)  # fmt: skip


def is_built() -> bool:
    return False
