"""Machine code for a kernel with symbolic sizes, compiled once for every size and cached by its
symbolic structure (Note [symbolic kernels] in extents.py, Note [kernel keys])."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..ir.ops import Op
from ..passes.record import ValueRecord
from .cache_store import STATS
from .jit import CompiledKernel, cached
from .kernel_cache import KernelInfo, codegen_fingerprint, describe, source_fingerprint


class SymbolicKernelInfo(ValueRecord):
    """A symbolic kernel's call information: ``void name(ptr out..., ptr in..., ptr sizes, i64
    start, i64 stop)``; ``extent`` and ``work`` are Python expressions of ``v``, the symbols'
    values in ``ShapeEnv.symbols`` order (``v[k]`` is ``s<k>``)."""

    __slots__ = FIELDS = (
        "name", "ir", "n_outputs", "n_inputs", "extent", "reduce_outer", "reductions", "work"
    )  # fmt: skip
    name: str
    ir: str
    n_outputs: int
    n_inputs: int  # buffers read (the sizes argument not counted)
    extent: str
    reduce_outer: bool
    reductions: tuple[tuple[int, Op], ...]
    work: str

    def at(self, values: Sequence[int]) -> KernelInfo:
        """The call information at concrete sizes: the sizes array is the last input."""
        extent, work = _function(self.extent)(values), _function(self.work)(values)
        return KernelInfo(
            self.name,
            self.ir,
            self.n_outputs,
            self.n_inputs + 1,
            extent,
            self.reduce_outer,
            self.reductions,
            max(1, work),
        )


_FUNCTIONS: dict[str, Callable[[Sequence[int]], int]] = {}


def _function(source: str) -> Callable[[Sequence[int]], int]:
    fn = _FUNCTIONS.get(source)
    if fn is None:  # our own printer's output (size arithmetic over ``v``)
        fn = _FUNCTIONS[source] = eval(f"lambda v: int({source})")  # noqa: S307
    return fn


def size_source(n: Any) -> str:
    """A size (int or sympy expression over ``s<k>``) as Python source over ``v``."""
    if isinstance(n, int):
        return str(n)
    import sympy

    from ..ir.symbolic_shapes import to_python
    from .extents import symbol_index

    named = {s: sympy.Symbol(f"v[{symbol_index(s)}]", integer=True) for s in n.free_symbols}
    return to_python(n.xreplace(named))


def symbolic_kernel_code(
    k: Any, use_vecmath: bool = True
) -> tuple[SymbolicKernelInfo, CompiledKernel]:
    """``k``'s call information and machine code, for every size: lowered and compiled only when
    neither memory nor disk holds a kernel of the same symbolic structure (its sizes printed as
    expressions). CodegenError (``jit.codegen_error()``) when it cannot be lowered, as
    ``extents.UnsupportedSize`` for a size expression the emitter does not handle."""
    fingerprint = codegen_fingerprint()

    def build() -> tuple[str, str, dict[str, Any], bool]:
        from .extents import UnsupportedSize
        from .lower import CodegenError, lower_kernel

        STATS["lowerings"] += 1
        try:
            low = lower_kernel(k, use_vecmath=use_vecmath)
        except UnsupportedSize as e:
            raise CodegenError(f"kernel {k.name}: {e}") from e
        info = {
            "n_outputs": low.n_outputs,
            "n_inputs": low.n_inputs,
            "extent": size_source(low.extent),
            "reduce_outer": low.reduce_outer,
            "reductions": [(i, op.name) for i, op in low.reductions],
            "work": size_source(low.work),
        }
        unchanged = source_fingerprint() == fingerprint  # Note [kernel keys]
        return low.ir, low.name, {"info": info}, unchanged

    key_text = f"symbolic kernel\n{fingerprint}\n{describe(k, use_vecmath)}"
    meta, compiled = cached(key_text, k.name, build)
    d = meta["info"]
    info = SymbolicKernelInfo(
        meta["symbol"],
        compiled.ir,
        int(d["n_outputs"]),
        int(d["n_inputs"]),
        str(d["extent"]),
        bool(d["reduce_outer"]),
        tuple((int(i), Op[op]) for i, op in d["reductions"]),
        str(d["work"]),
    )
    return info, compiled
