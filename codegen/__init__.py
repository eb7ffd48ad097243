"""Code generation: fused kernels to LLVM IR (``lower``, ``loops``, ``rows``), machine code
(``jit``), and a disk cache that skips all of it on a hit (``kernel_cache``).

``lower.lower_kernel(kernel)`` emits ``void adjit_<name>(ptr out..., ptr in..., i64 start, i64
stop)``: a loop nest over the kernel's static shape (collapsed where strides allow, so a
contiguous kernel is one vectorizable loop), scalars hoisted, reductions accumulated with
reassociation; ``start``/``stop`` bound the outermost loop so threads can split it. A kernel
with symbolic sizes takes one more ``ptr sizes`` (the symbols' values) before the range and is
compiled once for every size (``symbolic_kernels``, Note [symbolic kernels] in ``extents``). A
RowKernel (``passes.rows``) becomes a loop over rows with one vectorized sweep per pass
(``rows``). Each op lowers through one line of ``lower.LOWERING``; transcendentals go through
``lower.math`` (``codegen.vecmath``'s vectorizable polynomials, or LLVM intrinsics). ``jit``
optimizes for the host CPU (O3, loop + SLP vectorization); ``kernel_cache.kernel_code`` keys a
kernel by its structure before lowering (Note [kernel keys]) and keeps checksummed entries in
``$ADJIT_CACHE_DIR`` (else ``$XDG_CACHE_HOME/adjit`` or ``~/.cache/adjit``), loaded as shared
libraries without ``llvmlite.binding`` when a linker is present.
"""
