"""torch.backends.cpu: the host's SIMD level as PyTorch names it."""

from __future__ import annotations


def get_cpu_capability() -> str:
    from adjit.codegen.llvm_host import features

    found = features()
    return "AVX512" if "+avx512f" in found else "AVX2" if "+avx2" in found else "DEFAULT"
