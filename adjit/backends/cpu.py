"""torch.backends.cpu: the host's SIMD level as PyTorch names it."""

from __future__ import annotations

import os

LEVELS = ("DEFAULT", "AVX2", "AVX512")  # PyTorch's x86 dispatch levels, lowest first


def get_cpu_capability() -> str:
    """The host's level, capped by ``ATEN_CPU_CAPABILITY`` as PyTorch's is (a level above the
    host's, or an unknown name, leaves the host's)."""
    from adjit.codegen.llvm_host import features

    found = features()
    host = "AVX512" if "+avx512f" in found else "AVX2" if "+avx2" in found else "DEFAULT"
    asked = os.environ.get("ATEN_CPU_CAPABILITY", "").upper()
    if asked in LEVELS and LEVELS.index(asked) < LEVELS.index(host):
        return asked
    return host
