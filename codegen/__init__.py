"""Code generation: fused kernels to LLVM IR (``lower``, ``loops``), machine code (``jit``).

``lower.lower_kernel(kernel)`` emits ``void adjit_<name>(ptr out..., ptr in..., i64 start,
i64 stop)``: a loop nest over the kernel's static shape (collapsed where strides allow, so a
contiguous kernel is one vectorizable loop), scalars hoisted, reductions accumulated with
reassociation; ``start``/``stop`` bound the outermost loop so threads can split it. Each op
lowers through one line of ``lower.LOWERING``; transcendentals go through ``lower.math``, which
uses ``codegen.vecmath`` when importable and LLVM intrinsics otherwise. ``jit.compile_ir``
optimizes for the host CPU (O3, loop + SLP vectorization) and caches machine code in memory and
in a checksummed disk cache (``$ADJIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/adjit`` or
``~/.cache/adjit``). ``llvmlite.binding`` is imported lazily, on the first compile.
"""
