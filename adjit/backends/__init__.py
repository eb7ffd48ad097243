"""torch.backends as on a CPU build: flags are settable attributes, accelerators unavailable."""

from __future__ import annotations

from adjit.backends import cpu, cuda, cudnn, mha, mkl, mkldnn, mps, openmp

__all__ = ["cpu", "cuda", "cudnn", "mha", "mkl", "mkldnn", "mps", "openmp"]
