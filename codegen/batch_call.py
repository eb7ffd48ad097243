"""LLVM IR of a kernel running a range of a batch of products, one generated GEMM call each."""

from __future__ import annotations

# Note [batch call kernel]
# MKL's generated GEMM kernels (Note [JIT products] in runtime/mkl_jit.py) are called
# ``kernel(jitter, a, b, c)`` once a product. The native pool (Note [native thread pool] in
# thread_pool.py) calls ``fn(descriptor, lo, hi)`` for its chunks of ``[0, extent)``; the
# kernel here reads a descriptor of DESCRIPTOR_WORDS i64 words (FIELDS: the generated kernel's
# address, its jitter, the three matrices' first addresses, the inner batch dim's size, then
# the byte strides of x, y and the result along the outer and the inner batch dim) and makes
# the call for every product ``i`` in ``[lo, hi)``: outer index ``i / inner``, inner ``i %
# inner``. One batch dim is an outer dim of size 1 (strides 0).

FIELDS = ("fn", "jitter", "a", "b", "c", "inner",
          "sa0", "sb0", "sc0", "sa1", "sb1", "sc1")  # fmt: skip
DESCRIPTOR_WORDS = len(FIELDS)
SYMBOL = "adjit_batch_call"
_POINTERS = ("fn", "jitter", "a", "b", "c")


def batch_call_ir() -> str:
    """The module of SYMBOL (Note [batch call kernel])."""
    loads = "".join(
        f"  %{f}.p = getelementptr i64, ptr %d, i64 {i}\n"
        f"  %{f} = load {'ptr' if f in _POINTERS else 'i64'}, ptr %{f}.p, align 8\n"
        for i, f in enumerate(FIELDS)
    )
    offsets = "".join(
        f"  %{m}.o = mul i64 %outer, %s{m}0\n"
        f"  %{m}.i = mul i64 %in, %s{m}1\n"
        f"  %{m}.off = add i64 %{m}.o, %{m}.i\n"
        f"  %{m}.at = getelementptr i8, ptr %{m}, i64 %{m}.off\n"
        for m in ("a", "b", "c")
    )
    return f"""define void @{SYMBOL}(ptr %d, i64 %lo, i64 %hi) {{
entry:
{loads}  %none = icmp sge i64 %lo, %hi
  br i1 %none, label %done, label %loop
loop:
  %i = phi i64 [ %lo, %entry ], [ %next, %loop ]
  %outer = udiv i64 %i, %inner
  %in = urem i64 %i, %inner
{offsets}  call void %fn(ptr %jitter, ptr %a.at, ptr %b.at, ptr %c.at)
  %next = add i64 %i, 1
  %more = icmp slt i64 %next, %hi
  br i1 %more, label %loop, label %done
done:
  ret void
}}
"""
