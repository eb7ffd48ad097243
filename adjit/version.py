"""torch.version: the build's version strings (a CPU build: no CUDA, HIP, ROCm or XPU)."""

from __future__ import annotations

__all__ = ["__version__", "debug", "cuda", "git_version", "hip", "rocm", "xpu"]
# Note [the version user code sees]: programs written for PyTorch gate features on
# ``torch.__version__`` (``>= "2.0"`` for torch.compile, ``version.parse(...) >= "1.13"``), so
# the version is the PyTorch API adjit follows, 2.13.0, with adjit's own release (pyproject's
# [project] version, what pip reports) as its PEP 440 local label, as PyTorch's "+cpu" builds.
ADJIT = "0.1.0"
__version__ = f"2.13.0+adjit.{ADJIT}"
debug = False
cuda: str | None = None
git_version = "Unknown"  # what PyTorch's build records when it cannot read git
hip: str | None = None
rocm: str | None = None
xpu: str | None = None
