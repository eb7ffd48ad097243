"""torch.version: the build's version strings (a CPU build: no CUDA, HIP, ROCm or XPU)."""

from __future__ import annotations

__all__ = ["__version__", "debug", "cuda", "git_version", "hip", "rocm", "xpu"]
__version__ = "0.1.0"  # adjit's own release, as pyproject.toml's [project] version
debug = False
cuda: str | None = None
git_version = "Unknown"  # what PyTorch's build records when it cannot read git
hip: str | None = None
rocm: str | None = None
xpu: str | None = None
