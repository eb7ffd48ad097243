"""``adjit.explain``: every stage the compiler built for one call, as attributes and as text."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..ir.aval import Aval
from ..ir.graph import Graph, Var
from ..ir.ops import Op
from ..ir.printer import _Namer, format_eqn, print_graph
from ..ir.pysource import to_python
from ..passes.stability import stabilize_report
from ..runtime.grad_mode import is_grad_enabled
from ..runtime.tensor import Tensor
from ..runtime.trampoline import MISS
from . import guards
from .breaks import Record, Session
from .compile import CompiledFunction, compile
from .explain_text import KernelTexts, Summary, summary
from .plans import TrainPlan
from .prepared import compiled_call
from .pytree import flatten
from .saved import Saved
from .saved import saved as saved_report
from .statements import describe

if TYPE_CHECKING:
    from .formulas import Formulas, Kernels


@dataclass
class Explanation:
    """What adjit built for a function and these arguments; ``str()`` shows every section."""

    name: str
    graph: Graph | None
    guards: list[str]
    lifted: list[str]
    eager_reason: str | None = None
    plan: TrainPlan | None = None
    inference: Graph | None = None
    sections: dict[str, str] = field(default_factory=dict)
    breaks: list[Any] = field(default_factory=list)  # breaks.Break: reason and user's line
    segments: list[Graph] = field(default_factory=list)  # each compiled segment's graph
    compiled_eqns: int = 0  # equations that ran compiled in this call
    eager_ops: int = 0  # ops that ran eagerly (on constants made inside, between segments)
    eager_calls: list[str] = field(default_factory=list)  # compiler.disable'd functions
    entry: Any = field(default=None, repr=False)
    key: tuple | None = field(default=None, repr=False)  # guards.fast_key of the arguments
    input_names: list[str] = field(default_factory=list, repr=False)  # per graph input

    # ---- what runs: fused kernels, LLVM IR, assembly (the llvm backend) ---------------------
    def _executables(self) -> list[tuple[str, Any]]:
        if self.entry is None or self.entry.backend != "llvm":
            return []
        entry = self.entry
        if self.plan is not None:
            return [
                ("forward", entry.forward_runner(self.plan)),
                ("backward", entry.runner(self.plan.split.backward)),
            ]
        return [("forward", entry.runner(self.inference))] if self.inference is not None else []

    @property
    def kernels(self) -> Kernels:
        """(program, fused kernel) in execution order; ``kernel.formula`` is what it computes;
        printed, one header per kernel and its formulas."""
        from .formulas import Kernels  # (sympy and the formula code load when printed)

        runs = self._executables()
        return Kernels([(name, k) for name, ex in runs for k in ex.program.kernels], self)

    @property
    def formulas(self) -> Formulas:
        """Each fused elementwise region of the forward and the gradient as a formula in the
        user's names: pretty printed by ``str()``, LaTeX by ``.latex`` (Note [readable
        formulas] in formulas.py)."""
        from .formulas import formulas

        return formulas(self)

    @property
    def rewrites(self) -> list[tuple[str, str | None, str]]:
        """(stability rule, the user's source line, "forward" or "gradient") for each rewrite
        the compiled program has (Note [stability rewrites] in passes/stability.py)."""
        if self.graph is None:
            return []
        found = [(rule, loc, "forward") for rule, loc in stabilize_report(self.graph)[1]]
        if self.plan is not None:  # its forward is stable already: what fires is backward's
            joint = self.plan.joint.graph
            found += [(r, loc, "gradient") for r, loc in stabilize_report(joint)[1]]
        return found

    def _per_kernel(self, attr: str, what: str) -> KernelTexts:
        runs = self._executables()
        texts = {
            f"{name}/{k}": getattr(c, attr) for name, ex in runs for k, c in ex.kernels.items()
        }
        return KernelTexts(texts, what)

    @property
    def llvm_ir(self) -> KernelTexts:
        """Each kernel's LLVM IR as lowered (before optimization), keyed "forward/k0";
        printed, every kernel under a header."""
        return self._per_kernel("ir", "LLVM IR")

    @property
    def llvm_ir_optimized(self) -> KernelTexts:
        return self._per_kernel("optimized_ir", "LLVM IR")

    @property
    def asm(self) -> KernelTexts:
        """Each kernel's host assembly, keyed and printed as ``llvm_ir``."""
        return self._per_kernel("asm", "assembly")

    def summary(self) -> Summary:
        """Counts per stage, saved bytes, kernels, compile time, pruned, rewrites (Note
        [explain summary] in explain_text.py); ``str()`` is ``brief``."""
        return summary(self)

    @property
    def brief(self) -> str:
        """The one-screen summary (the CLI's default view)."""
        return str(summary(self))

    def to_model_explorer(self, path: str | None = None) -> dict[str, Any]:
        """The forward, backward and fused-kernel graphs as Model Explorer's graph JSON (Note
        [model explorer export]); written to ``path`` when given."""
        from .explain_model_explorer import to_model_explorer

        return to_model_explorer(self, path)

    def _kernel_section(self) -> str:
        lines = []
        for name, ex in self._executables():
            fallbacks = getattr(ex, "fallbacks", {})
            for step in ex.program.steps:
                if hasattr(step, "formula"):
                    lines.append(
                        f"{name}/{step.name} [{len(step.eqns)} ops over "
                        f"{list(step.shape)}]: {step.formula}"
                    )
                    if step.name in fallbacks:  # e.g. float16: no lowering, eager's results
                        lines.append(f"    (not compiled: {fallbacks[step.name]})")
                else:
                    lines.append(f"{name}/extern {step.eqn.op.name.lower()} -> {step.eqn.out.aval}")
        return "\n".join(lines)

    def to_html(self, path: Any = None) -> str:
        """One self-contained HTML page drawing the traced, joint and fused programs, clickable
        (Note [explain as a page] in explain_html.py); written to ``path`` when given. Without
        Graphviz's ``dot`` it shows the text view instead, and warns."""
        import warnings
        from pathlib import Path

        from .explain_page import render

        page, message = render(self)
        if message is not None:
            warnings.warn(message, stacklevel=2)
        if path is not None:
            Path(path).write_text(page, encoding="utf-8")
        return page

    @property
    def graph_text(self) -> str:
        return print_graph(self.graph, source=True) if self.graph is not None else ""

    # ---- the gradient program (when an input requires grad) ---------------------------------
    @property
    def adjoint(self) -> Graph | None:
        """The joint forward+backward graph straight from the adjoint pass."""
        return self.plan.joint.graph if self.plan else None

    @property
    def optimized(self) -> Graph | None:
        return self.plan.optimized_joint if self.plan else None

    @property
    def forward(self) -> Graph | None:
        return self.plan.split.forward if self.plan else self.inference

    @property
    def backward(self) -> Graph | None:
        return self.plan.split.backward if self.plan else None

    @property
    def passes(self) -> list[tuple[str, float, Graph]]:
        """(pass name, seconds, graph after it), in pipeline order."""
        return [(r.name, r.seconds, r.graph) for r in self.plan.records] if self.plan else []

    @property
    def pruned(self) -> list[tuple[str, str]]:
        """(forward equation, why it has no adjoint): no_grad, detach, frozen, unreachable."""
        if not self.plan or self.graph is None:
            return []
        joint = self.plan.joint  # (its forward: the traced graph after stability rewrites)
        namer = _Namer()
        for v in joint.graph.inputs[: len(joint.graph.inputs) - len(joint.cotangent_of)]:
            namer(v)
        texts = [format_eqn(e, namer) for e in joint.graph.eqns[: joint.n_forward_eqns]]
        return [(texts[i], why) for i, why in sorted(joint.pruned.items())]

    @property
    def saved(self) -> Saved:
        """Residuals kept for backward: name, shape, dtype, bytes, the user's line, and the
        peak activation memory (Note [explain saved] in saved.py)."""
        if not self.plan:
            return Saved()
        report = saved_report(self.plan.split, self.input_names)
        report.pool_bytes = self._pooled(self.plan.split.forward, self.plan.split.backward)
        return report

    def _pooled(self, *graphs: Graph) -> int | None:
        """Bytes the executors of ``graphs`` keep pooled (Note [buffer reuse]); None before
        any of them has been built."""
        runs = [self.entry.plans.get(("runner", id(g))) for g in graphs] if self.entry else []
        if not any(r is not None for r in runs):
            return None
        # (a training step's arenas count once, on the forward's pool, Note [one arena for a
        # training step]; the process's shared arena is not theirs)
        pools = [getattr(r, k, None) for r in runs for k in ("buffers", "donor")]
        return sum(b.nbytes if b.joint else _spares(b) for b in pools if b)

    @property
    def saved_per_iteration(self) -> list[tuple[str, int, str]]:
        """The residuals a scan stacks, one slice per iteration (Note [the adjoint of a
        scan]): (one iteration's value, iterations, the scan's source line)."""
        if not self.plan:
            return []
        made = {e.out: e for e in self.plan.split.forward.eqns}
        found = []
        for v in self.plan.split.residuals:
            get = made.get(v)
            if get is None or get.op is not Op.GET or not isinstance(get.inputs[0], Var):
                continue
            loop = made.get(get.inputs[0])
            if loop and loop.op is Op.SCAN and get.attrs["index"] >= loop.attrs["n_carry"]:
                step = Aval(v.aval.shape[1:], v.aval.dtype)
                found.append((str(step), loop.attrs["length"], loop.loc or "?"))
        return found

    @property
    def recomputed(self) -> list[str]:
        return self.plan.split.recomputed if self.plan else []

    @property
    def prepared_call(self) -> str | None:
        """The Python a call with these arguments runs, written out for this signature (Note
        [trampolines]): guards, staging, one foreign call per kernel, results; None when the
        call takes the general path (keyword arguments, lifted tensors, several results…)."""
        if self.entry is None or self.key is None:
            return None
        fn = compiled_call(self.entry, self.key)
        return None if fn is None else fn.source  # type: ignore[attr-defined]

    @property
    def python(self) -> str:
        """The gradient program as runnable Python/NumPy source (or the forward, without grad)."""
        g = self.optimized or self.inference
        return to_python(g, "gradient_program" if self.plan else "program") if g else ""

    @property
    def timings(self) -> dict[str, float]:
        out = dict(self.plan.timings) if self.plan else {}
        for name, seconds, _ in self.passes:
            out[f"pass {name}"] = out.get(f"pass {name}", 0.0) + seconds
        return out

    def __str__(self) -> str:
        parts = [f"adjit.explain: {self.name}"]
        if self.eager_reason:
            parts.append(f"== runs eagerly (fallback)\n{self.eager_reason}")
        parts.append("== compiled share\n" + self.share)
        if self.breaks:
            parts.append(self._breaks_section())
        parts.append("== guards\n" + "\n".join(self.guards))
        if self.lifted:
            parts.append("== lifted tensors (read afresh at every call)\n" + "\n".join(self.lifted))
        if self.graph is not None:
            parts.append("== graph IR\n" + self.graph_text)
        if self.rewrites:
            parts.append(
                "== stability rewrites (compiled differs from eager here: finite where eager "
                "overflows)\n" + "\n".join(f"{r}   at {loc} ({w})" for r, loc, w in self.rewrites)
            )
        if self.plan is not None:
            parts += self._gradient_sections()
        elif self.inference is not None:
            parts.append(
                "== optimized (no input requires grad: forward only)\n" + str(self.inference)
            )
        kernels = self._kernel_section()
        if kernels:
            parts.append(
                "== fused kernels (LLVM IR and assembly: .llvm_ir, .llvm_ir_optimized, "
                ".asm)\n" + kernels
            )
        call = self.prepared_call
        if call is not None:
            parts.append("== prepared call (what each call with this signature runs)\n" + call)
        parts.extend(f"== {k}\n{v}" for k, v in self.sections.items())
        return "\n\n".join(parts)

    @property
    def share(self) -> str:
        """How much of the call ran compiled: equations compiled vs ops run eagerly."""
        if self.eager_reason:
            return "0 equations compiled: the whole call runs eagerly"
        eager = f"{self.eager_ops} ops eagerly"
        if self.eager_calls:
            eager += f" plus {len(self.eager_calls)} adjit.compiler.disable'd call(s)"
        total = self.compiled_eqns + self.eager_ops
        pct = 100.0 * self.compiled_eqns / total if total else 100.0
        n = len(self.segments)
        pieces = f" in {n} segment{'s' if n != 1 else ''}" if self.breaks else ""
        return f"{self.compiled_eqns} equations compiled{pieces}, {eager} ({pct:.0f}% compiled)"

    def _breaks_section(self) -> str:
        lines = [f"== graph breaks ({len(self.breaks)}: the function runs as compiled segments)"]
        lines += [f"{i + 1}. {b}" for i, b in enumerate(self.breaks)]
        for i, g in enumerate(self.segments):
            lines.append(f"-- segment {i + 1} ({len(g.eqns)} eqns)\n{g}")
        return "\n".join(lines)

    def _gradient_sections(self) -> list[str]:
        assert self.plan is not None
        pruned = "\n".join(f"{eqn}   <- {why}" for eqn, why in self.pruned) or "(nothing)"
        report = self.saved
        saved = str(report)
        for step, n, loc in self.saved_per_iteration:
            saved += f"\n  per iteration of the scan at {loc}: {step} x {n} iterations"
        lines, before = [], str(self.adjoint)
        for name, seconds, g in self.passes:
            text = str(g)
            body = "(unchanged)" if text == before else text
            lines.append(f"-- after {name} ({seconds * 1e3:.2f} ms, {len(g.eqns)} eqns)\n{body}")
            before = text
        passes = "\n".join(lines)
        times = "\n".join(f"{k}: {v * 1e3:.2f} ms" for k, v in self.timings.items())
        if "pass symbolic" not in self.timings:
            times += "\npass symbolic: off (ADJIT_SYMBOLIC=1 turns it on; where-regions are "
            times += "always differentiated symbolically, within 'adjoint')"
        return [
            f"== adjoint IR (joint forward+backward, wrt inputs {list(self.plan.wrt)})\n"
            + str(self.adjoint),
            "== passes\n" + passes,
            "== pruned (no gradient code)\n" + pruned,
            "== forward (outputs, then saved residuals)\n" + str(self.forward),
            "== backward\n" + str(self.backward),
            f"== saved for backward ({report.bytes} bytes)\n{saved}",
            "== gradient program as Python\n" + self.python,
            "== compile time\n" + times,
        ]

    __repr__ = __str__


def explain(fn: Any, *args: Any, **kwargs: Any) -> Explanation:
    """Trace (or reuse) ``fn`` for these arguments and describe what was built; when inputs
    require grad (under grad mode), the gradient program too."""
    cf = getattr(fn, "_compiled", fn)  # an OptimizedModule's compiled call
    cf = cf if isinstance(cf, CompiledFunction) else compile(cf)
    entry, leaves = cf.graph_for(*args, **kwargs)
    if entry.segmented:
        return _explain_breaks(cf, entry, args, kwargs)
    lifted = [
        f"{type(t).__name__} shape={list(t.shape)} dtype={t.dtype.name} "
        f"requires_grad={t.requires_grad}"
        for t in entry.lifted
    ]
    ex = Explanation(
        getattr(cf, "__qualname__", repr(cf)),
        entry.graph,
        guards.describe(entry.sig) + _symbolic_lines(entry),
        lifted,
        entry.eager_reason,
        entry=entry,
        key=None if kwargs else guards.fast_key(args),
    )
    if entry.graph is None:
        return ex
    ex.compiled_eqns = len(entry.graph.eqns)
    inputs = [x for x in leaves if isinstance(x, Tensor)] + entry.lifted
    ex.input_names = _input_names(cf.fn, args, kwargs, len(inputs) - len(entry.lifted))
    ex.input_names += _lifted_names(cf.fn, entry)
    wrt = tuple(i for i, t in enumerate(inputs) if t.requires_grad) if is_grad_enabled() else ()
    if wrt:
        ex.plan = entry.training(wrt)
    else:
        ex.inference = entry.inference()
    return ex


def _input_names(fn: Any, args: tuple, kwargs: dict, n: int) -> list[str]:
    """The parameter names of the tensor arguments (a module's: its ``forward``'s), then the
    keywords, when each argument is one tensor (else ``input i``)."""
    names = [f"input {i}" for i in range(n)]
    values = [*args, *kwargs.values()]
    if len(values) != n or not all(isinstance(a, Tensor) for a in values):
        return names
    if hasattr(fn, "named_parameters") and callable(getattr(fn, "forward", None)):
        fn = fn.forward
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        params = []
    positional = [p.name for p in params[: len(args)] if p.kind in _POSITIONAL]
    return positional + list(kwargs) if len(positional) == len(args) else names


_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _lifted_names(fn: Any, entry: Any) -> list[str]:
    """Names of the tensors the function reached from outside its arguments: a traced
    module's parameter or buffer name, a global or closure variable of ``fn``, else
    ``lifted tensor k``."""
    known: dict[int, str] = {}
    code = getattr(fn, "__code__", None)
    if code is not None:
        scope = getattr(fn, "__globals__", {})
        known |= {id(scope[n]): n for n in code.co_names if isinstance(scope.get(n), Tensor)}
        cells = zip(code.co_freevars, getattr(fn, "__closure__", None) or (), strict=False)
        for n, cell in cells:
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            if isinstance(value, Tensor):
                known[id(value)] = n
    for module, _ in entry.modules:
        for n, t in [*module.named_parameters(), *module.named_buffers()]:
            known.setdefault(id(t), n.removeprefix("_orig_mod."))
    return [known.get(id(t), f"lifted tensor {k}") for k, t in enumerate(entry.lifted)]


def _symbolic_lines(entry: Any) -> list[str]:
    """An instance of a symbolic trace (Note [one trace, many sizes]): the trace's symbols,
    where each comes from, its guards, and this call's sizes."""
    template = getattr(entry, "template", None)
    if template is None or template.symbolic is None:
        return []
    t = template.symbolic
    lines = [f"symbolic trace (serves every call whose sizes pass): {t.guard_text}"]
    lines += [f"  {line}" for line in t.describe()]
    values = ", ".join(f"{s} = {v}" for s, v in entry.inst.values.items())
    return [*lines, f"  this call: {values}"]


def _explain_breaks(cf: CompiledFunction, entry: Any, args: tuple, kwargs: dict) -> Explanation:
    """A function with graph breaks: run it once (its side effects happen) and describe each
    break and compiled segment (Note [graph breaks] in breaks.py)."""
    record = Record()
    entry.first_result = MISS  # (the tracing call's result, if unclaimed, is not wanted)
    Session(cf, record).run(*flatten((args, kwargs)))
    return Explanation(
        getattr(cf, "__qualname__", repr(cf)),
        None,
        guards.describe(entry.sig),
        [],
        breaks=record.breaks,
        segments=record.segments,
        compiled_eqns=record.compiled_eqns,
        eager_ops=record.eager_ops,
        eager_calls=record.eager_calls,
        entry=entry,
        sections={"statement parts (Note [statement-level breaks])": describe(cf, entry)},
    )


def _spares(b: Any) -> int:
    """Bytes of a pool's per-value buffers."""
    return sum(a.nbytes for spare in b.free.values() for a, _ in spare)
