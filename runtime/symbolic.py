"""A symbolic graph fused and compiled once; ``at(sizes)`` makes it a concrete Executable.

Note [one compile, many sizes]
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
``compile_program`` on a graph with symbolic sizes (``ir.instantiate.is_symbolic_graph``) fuses
it once (the decisions hold at every size: Note [size-oblivious decisions]) and compiles each
kernel once with its sizes as run-time values (Note [symbolic kernels] in codegen/extents.py).
The result, a ``SymbolicExecutable``, does not run: ``at(inst)`` gives, for the sizes of an
``ir.instantiate.Instantiator``, an ordinary ``Executable`` whose graph is
``inst.graph(template graph)``: its kernel steps call the machine code compiled once, with one
more constant argument, an int64 array of the symbols' values (``sizes[k]`` is ``s<k>``) that
the Executable keeps among its constants, so the prepared call (Note [prepared calls]) and
trampolines bind it like any other fixed buffer; extern steps run the instantiated equations.
Making an instance costs no LLVM work, only instantiating the steps and the call plan (the MLP
train step's new size: 208 ms compiled per size, 3.6 ms, ``benchmarks/symbolic_kernels.py``),
except the first time a short innermost loop takes a new length (Note [short symbolic rows]).
Kernels without symbolic sizes are compiled once and their steps shared by every instance;
loops (scan, while, cond) and externs are made per instance; a kernel the symbolic code
generator refuses (a size expression it does not lower) is compiled per size, as a static
kernel (``SymbolicExecutable.per_size`` names them).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..codegen.jit import CompiledKernel, codegen_error
from ..ir.aval import Aval
from ..ir.dtypes import int64
from ..ir.graph import Eqn, Graph, Lit, Var
from ..ir.instantiate import Instantiator
from ..ir.sizes import SymbolicShapeError, SymbolicSize
from ..passes.fusion import Extern, Kernel, Program, fuse
from ..passes.narrow_sums import widen_narrow_sums
from ..passes.record import Record
from ..passes.size_facts import norm
from .executor import LOOPS, Executable, ExternStep, Step, compile_kernel
from .kernels import KernelRunner


class SymbolicStep(Record):
    """A kernel compiled once for every size."""

    __slots__ = FIELDS = ("kernel", "info", "compiled")
    kernel: Any  # a Kernel or RowKernel with symbolic sizes
    info: Any  # codegen.symbolic_kernels.SymbolicKernelInfo
    compiled: CompiledKernel

    def __repr__(self) -> str:
        return f"SymbolicStep({self.kernel.name}, {self.compiled!r})"


class Static(Record):
    """A kernel without symbolic sizes: its Vars are the same at every size, so is its step."""

    __slots__ = FIELDS = ("kernel", "step")
    kernel: Any
    step: Step


class PerSize(Record):
    """A step made anew for each set of sizes: an extern, a loop, a static or refused kernel."""

    __slots__ = FIELDS = ("step", "reason")
    step: Any  # a Kernel, RowKernel or Extern of the symbolic program
    reason: str


class SymbolicExecutable:
    """A symbolic graph's program compiled once; ``at(inst)`` runs it at concrete sizes."""

    def __init__(
        self,
        graph: Graph,
        program: Program,
        steps: list[SymbolicStep | Static | PerSize],
        options: dict[str, Any],
        public: int | None,
    ) -> None:
        self.graph, self.program, self.steps = graph, program, steps
        self.options, self.public = options, public
        # Note [short symbolic rows]: variants by (step, fixed symbols' values); the innermost
        # loop's extent by step
        self.special: dict[tuple[int, tuple[tuple[str, int], ...]], Any] = {}
        self.inner: dict[int, Any] = {}

    def __repr__(self) -> str:
        return f"SymbolicExecutable(graph={self.graph!r}, steps={self.steps!r})"

    @property
    def kernels(self) -> dict[str, CompiledKernel]:
        """The kernels compiled once, by name."""
        return {s.kernel.name: s.compiled for s in self.steps if isinstance(s, SymbolicStep)}

    @property
    def per_size(self) -> dict[str, str]:
        """Kernels compiled for each size, with the reason."""
        return {
            s.step.name: s.reason
            for s in self.steps
            if isinstance(s, PerSize) and not isinstance(s.step, Extern)
        }

    @property
    def fallbacks(self) -> dict[str, str]:
        """As ``Executable.fallbacks``: here, the kernels compiled per size (``per_size``)."""
        return self.per_size

    def at(self, inst: Instantiator) -> Executable:
        """The program at ``inst``'s sizes (its graph is ``inst.graph(self.graph)``)."""
        graph = inst.graph(self.graph)
        eqns = {id(e): c for e, c in zip(self.graph.eqns, graph.eqns, strict=True)}
        values = sizes_array(inst.values)
        sizes = Var(Aval((len(values),), int64), "sizes")
        concrete = _Concrete(inst, eqns)
        steps: list[Step] = []
        schedule: list[Any] = []
        opts = self.options
        for s in self.steps:
            if isinstance(s, Static):
                steps.append(s.step)
                schedule.append(s.kernel)
                continue
            if isinstance(s, SymbolicStep):
                info, compiled, symbolic = self._specialized(s, inst) or (s.info, s.compiled, 1)
                k = concrete.step_kernel(s.kernel, (sizes,) if symbolic else ())
                if symbolic:
                    info = info.at(values)
                steps.append(_kernel_step(k, KernelRunner(info, compiled, opts["threshold"])))
                schedule.append(k)
                continue
            x = concrete(s.step)
            schedule.append(x)
            if not isinstance(x, Extern):
                steps.append(
                    compile_kernel(x, opts["threshold"], opts["use_vecmath"], opts["strict"])
                )
            elif x.eqn.op in LOOPS:
                steps.append(_loop_step(x.eqn, opts))
            else:
                steps.append(ExternStep(x.eqn))
        consts = {v: np.asarray(a, v.aval.dtype.np, order="C") for v, a in graph.consts}
        consts[sizes] = values
        return Executable(graph, Program(graph, schedule), steps, consts, self.public)

    def _specialized(self, s: SymbolicStep, inst: Instantiator) -> tuple[Any, Any, int] | None:
        """Kernel ``s`` with the symbols of its innermost loop's extent fixed, when that loop is
        short at these sizes and not the only one (Note [short symbolic rows]): (call
        information, machine code, whether it still takes the sizes array), compiled once per
        value; None otherwise."""
        last = self.inner.get(id(s), False)
        if last is False:
            last = self.inner[id(s)] = innermost_extent(s.kernel)
        if last is None or isinstance(last, int):
            return None
        from ..ir.symbolic_shapes import evaluate

        if evaluate(last, inst.values) > SPECIALIZE_BELOW:
            return None
        fixed = {x: inst.values[x] for x in last.free_symbols}
        key = (id(s), tuple(sorted((str(x), v) for x, v in fixed.items())))
        if key not in self.special:
            self.special[key] = _compile_special(s.kernel, fixed, self.options["use_vecmath"])
        return self.special[key]


# Note [short symbolic rows]: a loop whose trip count is a run-time value is vectorized for
# any count (VF x interleave elements per vector iteration, 32 float32 with AVX2, then a scalar
# remainder), so a row of 10 runs all scalar, where a constant 10 is one vector and two scalar
# iterations: log_softmax over [4096, s1] at s1 = 10 took 273 us vs 94 us static. A symbolic
# kernel whose innermost loop runs inside another one (a row kernel's rows, a kernel whose
# dims do not collapse into one loop) and is at most SPECIALIZE_BELOW long at the instance's
# sizes gets a variant with that loop's symbols fixed (the others stay run-time values),
# compiled once per value and kept by the SymbolicExecutable: a class count or a feature
# width, which rarely change, costs one compile per value; a batch dim that varies is an
# outer loop or collapses with the others, and costs none.
SPECIALIZE_BELOW = 128


def innermost_extent(k: Any) -> Any:
    """The trip count of ``k``'s innermost loop when an outer loop runs around it (a row
    kernel's row length; a kernel's last collapsed dim), else None (one loop does all)."""
    from ..passes.rows import RowKernel

    if isinstance(k, RowKernel):
        return k.length
    from ..codegen.loops import KernelEmitter

    sizes = KernelEmitter(k, True).layout.sizes
    return sizes[-1] if len(sizes) > 1 else None


def _compile_special(k: Any, fixed: dict[Any, int], use_vecmath: bool) -> Any:
    from ..codegen.extents import has_symbolic_sizes
    from ..codegen.kernel_cache import kernel_code
    from ..codegen.symbolic_kernels import symbolic_kernel_code

    special = _Partial(fixed)(k)
    try:
        if has_symbolic_sizes(special):
            return (*symbolic_kernel_code(special, use_vecmath), 1)
        return (*kernel_code(special, use_vecmath), 0)
    except (codegen_error(), SymbolicShapeError):
        return None  # the general kernel serves these sizes


def sizes_array(values: dict[Any, int]) -> np.ndarray:
    """The symbols' values as the kernels read them: ``a[k]`` is ``s<k>`` (0 where unused)."""
    from ..codegen.extents import symbol_index

    index = {symbol_index(s): int(v) for s, v in values.items()}
    out = np.zeros(max(index, default=-1) + 1, np.int64)
    for i, v in index.items():
        out[i] = v
    return out


def _kernel_step(k: Any, runner: KernelRunner) -> Step:
    from .executor import KernelStep

    return KernelStep(k, runner)


def _loop_step(e: Eqn, opts: dict[str, Any]) -> Step:
    """A loop's step at these sizes: ``compile_program``'s own, of the loop alone."""
    from .executor import compile_program

    reads = tuple(dict.fromkeys(a for a in e.inputs if isinstance(a, Var)))
    ex = compile_program(
        Graph(reads, (e,), (e.out,)),
        threshold=opts["threshold"],
        use_vecmath=opts["use_vecmath"],
        strict=opts["strict"],
    )
    (step,) = ex.steps
    return step


class _StepMap:
    """A schedule step rebuilt leaf by leaf: Vars, equations, literals and sizes, inside tuples,
    lists, dicts and Records; subclasses say what each leaf becomes."""

    def __call__(self, x: Any) -> Any:
        if isinstance(x, Var):
            return self.var(x)
        if isinstance(x, Eqn):
            return self.eqn(x)
        if isinstance(x, Lit):
            return self.lit(x)
        if isinstance(x, SymbolicSize):
            return self.size(x)
        if isinstance(x, tuple):
            return tuple(self(v) for v in x)
        if isinstance(x, list):
            return [self(v) for v in x]
        if isinstance(x, dict):
            return {self(k): self(v) for k, v in x.items()}
        if isinstance(x, Record):
            return type(x)(*(self(getattr(x, n)) for n in x.FIELDS))
        if hasattr(x, "free_symbols"):  # a normalized size (a sympy expression)
            return self.expr(x)
        return x

    def var(self, v: Var) -> Var:
        raise NotImplementedError

    def eqn(self, e: Eqn) -> Eqn:
        raise NotImplementedError

    def lit(self, a: Lit) -> Lit:
        return a

    def size(self, n: Any) -> Any:
        raise NotImplementedError

    def expr(self, x: Any) -> Any:
        raise NotImplementedError


class _Partial(_StepMap):
    """A schedule step with the symbols in ``fixed`` replaced by their values (new Vars and
    equations; the other symbols stay)."""

    def __init__(self, fixed: dict[Any, int]) -> None:
        import sympy

        self.fixed = {x: sympy.Integer(v) for x, v in fixed.items()}
        self.memo: dict[int, Any] = {}

    def var(self, v: Var) -> Var:
        got = self.memo.get(id(v))
        if got is None:
            a = v.aval
            got = self.memo[id(v)] = Var(Aval(self(a.shape), a.dtype, a.weak), v.hint)
        return got

    def eqn(self, e: Eqn) -> Eqn:
        got = self.memo.get(id(e))
        if got is None:
            got = Eqn(e.op, self(e.inputs), self(e.attrs), self(e.out), e.loc, e.no_grad)
            self.memo[id(e)] = got
        return got

    def lit(self, a: Lit) -> Lit:
        return Lit(self(a.value), a.aval) if isinstance(a.value, SymbolicSize) else a

    def size(self, n: Any) -> Any:
        if hasattr(n, "tree"):  # a SymFloat: its sizes fixed where they are
            return type(n)(self.tree(n.tree), n.env)
        return n.env.wrap(n.env.simplify(n.expr).xreplace(self.fixed))

    def tree(self, t: tuple) -> tuple:
        if t[0] == "const":
            return t
        if t[0] == "size":
            return ("size", t[1].xreplace(self.fixed))
        return (t[0], *(self.tree(a) for a in t[1:]))

    def expr(self, x: Any) -> Any:
        return norm(x.xreplace(self.fixed))


class _Concrete(_StepMap):
    """A schedule step with every Var, equation and size at ``inst``'s sizes (equations of the
    graph map to the instantiated graph's own)."""

    def __init__(self, inst: Instantiator, eqns: dict[int, Eqn]) -> None:
        self.inst, self.eqns = inst, eqns

    def step_kernel(self, k: Any, extra: tuple[Var, ...]) -> Kernel:
        """What a compiled step needs of kernel ``k`` (a Kernel or RowKernel) at these sizes: a
        Kernel of its name, shape, buffers (``extra`` inputs last) and equations."""
        var = self.inst.var
        return Kernel(
            k.name,
            self(k.shape),
            (*(var(v) for v in k.inputs), *extra),
            tuple(var(v) for v in k.outputs),
            tuple(self(e) for e in k.eqns),
        )

    def var(self, v: Var) -> Var:
        return self.inst.var(v)

    def eqn(self, e: Eqn) -> Eqn:
        got = self.eqns.get(id(e))
        if got is None:
            got = self.eqns[id(e)] = self.inst.eqn(e)
        return got

    def size(self, n: Any) -> Any:
        return self.inst.attr(n)

    def expr(self, x: Any) -> Any:
        from ..ir.symbolic_shapes import evaluate

        return evaluate(x, self.inst.values)


def compile_symbolic(
    graph: Graph,
    *,
    threshold: int | None = None,
    use_vecmath: bool = True,
    strict: bool = False,
    public: int | None = None,
) -> SymbolicExecutable:
    """Fuse a symbolic ``graph`` and compile each kernel once for every size (Note [one
    compile, many sizes])."""
    from ..codegen.extents import has_symbolic_sizes
    from ..codegen.symbolic_kernels import symbolic_kernel_code

    program = fuse(widen_narrow_sums(graph))  # Note [narrow sums]
    steps: list[SymbolicStep | Static | PerSize] = []
    for s in program.steps:
        if isinstance(s, Extern):
            steps.append(PerSize(s, "extern"))
            continue
        if not has_symbolic_sizes(s):  # compiled now, the same step at every size
            steps.append(Static(s, compile_kernel(s, threshold, use_vecmath, strict)))
            continue
        try:
            info, compiled = symbolic_kernel_code(s, use_vecmath)
        except (codegen_error(), SymbolicShapeError) as e:
            steps.append(PerSize(s, str(e)))
            continue
        except Exception as e:  # a gap of the symbolic code generator: the static one serves
            steps.append(PerSize(s, f"kernel {s.name}: {type(e).__name__}: {e}"))
            continue
        steps.append(SymbolicStep(s, info, compiled))
    options = {"threshold": threshold, "use_vecmath": use_vecmath, "strict": strict}
    return SymbolicExecutable(graph, program, steps, options, public)
