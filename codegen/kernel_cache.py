"""Machine code for a fused Kernel, cached by the kernel's structure: no lowering on a hit.

Note [kernel keys]: a kernel's cache key is known before lowering: its exact structural
description (iteration shape; inputs', equations' and outputs' dtypes and shapes; ops,
attributes and literals, exactly), the lowering options, and a fingerprint of the code
generator's source (every ``codegen/*.py`` and the ``ir`` modules lowering reads), so editing
the code generator can never load stale machine code. The fingerprint is taken when this module
is imported (before the lowering modules, which load on the first miss) and again after each
lowering: code built while the sources changed is used but not stored. With the host key (Note
[host keys]) it names one disk entry holding the machine code and what the runtime needs to
call it (``KernelInfo``, which ``lower`` produces as ``Lowered``), so a warm cache skips lowering,
``llvmlite.ir`` and ``llvmlite.binding`` entirely. The entry also holds the sha256 of its full
key (host key and this description), which ``jit`` checks before loading anything from it: an
intact entry of another kernel stored under this one's name (copied, renamed, or written by a
buggy tool) is counted in ``STATS["mismatched"]`` and rebuilt, never run.
"""

from __future__ import annotations

import hashlib
import os
from functools import cache
from typing import Any

import numpy as np

from ..ir import dtypes, interpreter, shapes
from ..ir.aval import Aval
from ..ir.dtypes import DType
from ..ir.graph import Atom, Eqn, Lit, Var
from ..ir.ops import Op
from ..ir.sizes import SymbolicSize
from ..passes.fusion import Kernel
from ..passes.record import Record, ValueRecord
from ..passes.size_facts import float_tree, norm
from .cache_store import STATS
from .jit import CompiledKernel, cached

CACHE_VERSION = 1  # bump when what an entry means changes in a way the sources do not show


class KernelInfo(ValueRecord):
    """A kernel as LLVM IR, ``void name(ptr out..., ptr in..., i64 start, i64 stop)``, and what
    calling it needs (``lower.lower_kernel`` makes one; a disk cache hit rebuilds one)."""

    __slots__ = FIELDS = (
        "name", "ir", "n_outputs", "n_inputs", "extent", "reduce_outer", "reductions", "work"
    )  # fmt: skip
    name: str  # the function's symbol
    ir: str
    n_outputs: int
    n_inputs: int
    extent: int  # the outermost loop's trip count: [start, stop) splits it across threads
    reduce_outer: bool  # the outermost loop reduces: threads need private reduction outputs
    reductions: tuple[tuple[int, Op], ...]  # (output position, op) of each reduction output
    work: int  # a size estimate (elements x equations) for the threading threshold


_FIELDS = ("n_outputs", "n_inputs", "extent", "reduce_outer", "work")


def source_fingerprint() -> str:
    """sha256 of the code generator's source files as they are on disk now."""
    here = os.path.dirname(__file__)
    files = [os.path.join(here, f) for f in sorted(os.listdir(here)) if f.endswith(".py")]
    files += [m.__file__ or "" for m in (dtypes, interpreter, shapes)]
    h = hashlib.sha256(str(CACHE_VERSION).encode())
    for f in files:
        with open(f, "rb") as src:
            h.update(os.path.basename(f).encode() + b"\0" + src.read() + b"\0")
    return h.hexdigest()


@cache
def codegen_fingerprint() -> str:
    """The source fingerprint this process's code generator is keyed by (Note [kernel keys])."""
    return source_fingerprint()


def exact(value: Any) -> str:
    """A deterministic text of a plain value that two different values never share."""
    if isinstance(value, np.ndarray | np.generic):
        a = np.asarray(value)
        return f"{a.dtype.str}{a.shape}:{a.tobytes().hex()}"
    if isinstance(value, DType):
        return value.name
    if isinstance(value, tuple | list):
        return "(" + ",".join(map(exact, value)) + ")"
    if isinstance(value, frozenset | set):
        return "{" + ",".join(sorted(map(exact, value))) + "}"
    if isinstance(value, SymbolicSize):  # its expression (its repr is the traced example's)
        if hasattr(value, "tree"):  # a SymFloat: the float operations on sizes
            return f"float:{float_tree(value)}"
        return f"size:{norm(value)}"
    return f"{type(value).__name__}:{value!r}"


def _size(n: Any) -> str:
    return str(n) if isinstance(n, int) else str(norm(n))


def _aval(a: Aval) -> str:
    return f"{a.dtype.name}[{', '.join(map(_size, a.shape))}]{'w' if a.weak else ''}"


class _Describer:
    """Renders one kernel: values named in order (inputs, then each equation's output),
    equations by position, everything else field by field (see Note [kernel keys])."""

    def __init__(self, k: Any) -> None:
        self.names: dict[Var, str] = {}
        self.eqn_index = {e: i for i, e in enumerate(k.eqns)}
        for v in (*k.inputs, *(e.out for e in k.eqns)):
            self.names.setdefault(v, f"v{len(self.names)}")

    def atom(self, a: Atom) -> str:
        if isinstance(a, Lit):
            return f"lit({_aval(a.aval)},{exact(a.value)})"
        if a not in self.names:  # a value read without being an input: named, never confused
            self.names[a] = f"x{len(self.names)}:{_aval(a.aval)}"
        return self.names[a]

    def eqn(self, e: Eqn) -> str:
        attrs = ",".join(f"{n}={exact(x)}" for n, x in sorted(e.attrs.items()))
        args = " ".join(self.atom(a) for a in e.inputs)
        return f"{self.atom(e.out)}:{_aval(e.out.aval)} = {e.op.name}[{attrs}] {args}"

    def value(self, x: Any) -> str:
        if isinstance(x, Var | Lit):
            return self.atom(x)
        if isinstance(x, Eqn):
            i = self.eqn_index.get(x)
            return f"e{i}" if i is not None else f"eqn({self.eqn(x)})"
        if isinstance(x, tuple | list):
            return "(" + ",".join(map(self.value, x)) + ")"
        if isinstance(x, dict):
            items = sorted(f"{self.value(k)}:{self.value(v)}" for k, v in x.items())
            return "{" + ",".join(items) + "}"
        if isinstance(x, Record):
            return f"{type(x).__name__}({self.fields(x)})"
        return exact(x)

    def fields(self, x: Record, skip: tuple[str, ...] = ()) -> str:
        return ",".join(f"{n}={self.value(getattr(x, n))}" for n in x.FIELDS if n not in skip)


def describe(k: Any, use_vecmath: bool) -> str:
    """The kernel's structural description (see Note [kernel keys]): a ``Kernel`` or any other
    Record kernel with ``inputs``/``outputs``/``eqns`` (e.g. ``passes.rows.RowKernel``)."""
    d = _Describer(k)
    lines = [f"{type(k).__name__} vecmath={use_vecmath}"]
    lines += [f"in {d.atom(v)}:{_aval(v.aval)}" for v in k.inputs]
    lines += [d.eqn(e) for e in k.eqns]
    lines.append(d.fields(k, skip=("eqns",)))
    return "\n".join(lines)


def _info(meta: dict[str, Any], ir: str) -> KernelInfo:
    d = meta["info"]
    reductions = tuple((int(i), Op[op]) for i, op in d["reductions"])
    return KernelInfo(
        meta["symbol"],
        ir,
        int(d["n_outputs"]),
        int(d["n_inputs"]),
        int(d["extent"]),
        bool(d["reduce_outer"]),
        reductions,
        int(d["work"]),
    )


def kernel_code(
    k: Kernel, use_vecmath: bool = True, shared: tuple[tuple[int, int], ...] = ()
) -> tuple[KernelInfo, CompiledKernel]:
    """``k``'s call information and machine code, lowering and compiling only on a cache miss;
    CodegenError (``jit.codegen_error()``) names the kernel and the op when it cannot be.
    ``shared``: the (output, input) positions written in place (Note [kernels in place])."""

    fingerprint = codegen_fingerprint()

    def build() -> tuple[str, str, dict[str, Any], bool]:
        from .lower import lower_kernel

        STATS["lowerings"] += 1
        low = lower_kernel(k, use_vecmath=use_vecmath, shared=shared)
        info = {f: getattr(low, f) for f in _FIELDS}
        info["reductions"] = [(i, op.name) for i, op in low.reductions]
        # sources edited while this process runs: its code may be neither version, keep it
        # out of the disk cache (Note [kernel keys])
        unchanged = source_fingerprint() == fingerprint
        return low.ir, low.name, {"info": info}, unchanged

    key_text = f"kernel\n{fingerprint}\n{describe(k, use_vecmath)}"
    if shared:  # another function: the output's stores go through the input's pointer
        key_text += f"\nshared {exact(shared)}"
    meta, compiled = cached(key_text, k.name, build)
    return _info(meta, compiled.ir), compiled


codegen_fingerprint()  # now: before ``lower`` and ``vecmath`` are imported (Note [kernel keys])
