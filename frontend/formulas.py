"""``explain(...).formulas``: each fused elementwise region as a sympy formula in the user's names.

Note [readable formulas]
~~~~~~~~~~~~~~~~~~~~~~~~
A fused kernel (passes/fusion.py) computes one or more values from buffers it reads. Each value
it writes becomes one equation ``name = expression``: the kernel's own equations are expanded
into one sympy expression (through ``ir.symbolic.SYMPY_FORMS`` and the boolean forms of the
sympy bridge; sigmoid stays the function ``σ``, reductions are ``Σ``, ``max``, ``min``), and the
buffers it reads are named from the outside in:

- a function argument, a module parameter or buffer, a global or closure tensor: the user's
  name (``Explanation.input_names``); a cotangent of the backward: ``g`` (``g0, g1, ...``);
- a residual or a forward input the backward reads: the forward value it is (so the gradient of
  ``sigmoid(x @ w)`` reads ``g·σ(x@w)·(1 − σ(x@w))``);
- a non-elementwise value (matmul, indexing, ...): a symbol describing it, ``x@w``, ``wᵀ``;
- an elementwise value another kernel computes: its expression when it is small (at most
  INLINE_OPS operations), else ``%`` and its IR name in that program (``%bb`` is ``bb`` of
  ``str(explain(...).forward)``), which is also the name its own formula is shown under.

A value inside a kernel whose expression grows past KERNEL_OPS operations gets a line of its own
(``%name = ...``) and is read by name after it, so a layer norm's gradient stays readable.
Nothing here simplifies: sympy's automatic evaluation only (so what is shown is what runs, up to
the order of commutative operands). sympy is imported when formulas are first asked for.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from ..ir.graph import Eqn, Graph, Lit, Var
from ..ir.ops import Op
from ..ir.printer import _Namer
from ..ir.symbolic import SYMPY_FORMS, sp
from ..passes.fusion import fuse
from ..passes.sympy_bridge import BOOL_FORMS, literal

Expr = Any  # a sympy expression (sympy is imported lazily)

INLINE_OPS = 3  # a value read from outside a kernel is shown inline up to this many operations
INLINE_DEPTH = 4  # ... and this many equations deep
KERNEL_OPS = 24  # a value inside a kernel bigger than this gets its own line and name
DESCRIBE_DEPTH = 2  # how deep a non-elementwise value's description looks (x@w, then names)
_LATEX: dict[str, str] = {}  # a Name's LaTeX, by its text


@cache
def functions() -> dict[str, Any]:
    """The sympy classes formulas use: functions printed ``σ``, ``Σ``, ``max``, ``min``, and
    ``Name``, a symbol with its own LaTeX (``x@w`` is ``x \\mathbin{@} w``)."""

    def function(name: str, latex: str) -> Any:
        def _latex(self: Any, printer: Any, exp: Any = None) -> str:
            body = ", ".join(printer._print(a) for a in self.args)
            head = latex if exp is None else f"{latex}^{{{exp}}}"
            return rf"{head}\left({body}\right)"

        return type(name, (sp.Function,), {"_latex": _latex})

    def name_latex(self: Any, printer: Any) -> str:
        return _LATEX.get(self.name) or _default_latex(self.name)

    return {
        "sigmoid": function("σ", r"\sigma"),
        "sum": function("Σ", r"\sum"),
        "amax": function("max", r"\max"),
        "amin": function("min", r"\min"),
        "Name": type("Name", (sp.Symbol,), {"_latex": name_latex}),
    }


def _default_latex(text: str) -> str:
    if text.isidentifier() and (len(text) == 1 or text in _GREEK):
        return sp.latex(sp.Symbol(text))
    escaped = text.replace("%", r"\%").replace("_", r"\_").replace(" ", r"\ ")
    return rf"\mathrm{{{escaped}}}"


_GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "theta", "lambda", "mu", "sigma", "tau"}


def name(text: str, latex: str | None = None) -> Expr:
    """A real symbol printed ``text`` (and ``latex`` in LaTeX)."""
    if latex is not None:
        _LATEX[text] = latex
    return functions()["Name"](text, real=True)


def _fold_sigmoid(expr: Expr) -> Expr:
    """A user's ``1 / (1 + exp(-u))`` reads ``σ(u)`` too."""
    if not expr.has(sp.exp):
        return expr
    w = sp.Wild("w")
    return expr.replace(1 / (1 + sp.exp(-w)), lambda w: functions()["sigmoid"](w))


def _is_condition(x: Expr) -> bool:
    from sympy.logic.boolalg import BooleanAtom, BooleanFunction

    return isinstance(x, sp.Rel | BooleanFunction | BooleanAtom)


def _number(x: Expr) -> Expr:
    """A condition used as a number: 1 where it holds, else 0."""
    return sp.Piecewise((1, x), (0, True)) if _is_condition(x) else x


def _identity(x: Expr, *_: Expr, **__: Any) -> Expr:
    return x


def _cast(x: Expr, *, dtype: Any) -> Expr:
    return x if getattr(dtype, "name", "") == "bool" else _number(x)


# ops shown differently from their SYMPY_FORMS (or that have none): the shaping, dtype and check
# ops a kernel carries are the value itself; reductions are named functions
DISPLAY: dict[Op, Callable[..., Expr]] = {
    Op.SIGMOID: lambda x: functions()["sigmoid"](x),
    Op.EXPAND: _identity,
    Op.RESHAPE: _identity,
    Op.DETACH: _identity,
    Op.CHECK: _identity,  # input 0, asserting input 1
    Op.CAST: _cast,
    Op.SUM: lambda x, **_: functions()["sum"](_number(x)),
    Op.AMAX: lambda x, **_: functions()["amax"](x),
    Op.AMIN: lambda x, **_: functions()["amin"](x),
}


def _form(e: Eqn, args: Sequence[Expr]) -> Expr:
    """The sympy expression of ``e`` over its operands' expressions."""
    form = DISPLAY.get(e.op)
    if form is None and e.op in SYMPY_FORMS:
        form, args = SYMPY_FORMS[e.op], [_number(a) for a in args]
    form = form or BOOL_FORMS.get(e.op)
    if form is None:  # an op without a sympy form: shown as a named function of its operands
        return sp.Function(e.op.name.lower())(*args)
    try:
        return form(*args, **e.attrs)
    except TypeError:  # e.g. a comparison of booleans, or a bitwise op on integers
        return sp.Function(e.op.name.lower())(*args)


def _shows(e: Eqn) -> bool:
    """Whether ``e`` is shown as an expression (else its value is a named symbol)."""
    return e.op in DISPLAY or e.op in SYMPY_FORMS or e.op in BOOL_FORMS


@dataclass
class Formula:
    """One value a fused kernel computes: ``name = expr``."""

    program: str  # "forward" or "backward"
    kernel: str
    name: str
    expr: Expr
    latex_name: str

    @property
    def text(self) -> str:
        """sympy's pretty print (unicode), ``name = ...``."""
        body = sp.pretty(self.expr, use_unicode=True, wrap_line=False)
        lines = body.split("\n")
        if len(lines) == 1:
            return f"{self.name} = {body}"
        base = _baseline(self.expr, len(lines))
        pad = " " * (len(self.name) + 3)
        return "\n".join(
            (f"{self.name} = " if i == base else pad) + line for i, line in enumerate(lines)
        )

    @property
    def latex(self) -> str:
        return f"{self.latex_name} = {sp.latex(self.expr)}"

    def __str__(self) -> str:
        return self.text


def _baseline(expr: Expr, height: int) -> int:
    """The line of a pretty print the ``=`` belongs on (sympy's baseline)."""
    from sympy.printing.pretty.pretty import PrettyPrinter

    form = PrettyPrinter({"use_unicode": True, "wrap_line": False})._print(expr)
    return min(getattr(form, "baseline", 0), height - 1)


class Formulas(list[Formula]):
    """Every formula of the forward and the gradient, in execution order; ``str()`` is the
    pretty print, ``.latex`` the LaTeX (one equation per line)."""

    def __str__(self) -> str:
        if not self:
            return "(no fused elementwise regions)"
        blocks, last = [], None
        for f in self:
            head = f"{f.program}/{f.kernel}"
            if head != last:
                blocks.append(f"-- {head}")
                last = head
            blocks.append(f.text)
        return "\n".join(blocks)

    __repr__ = __str__

    @property
    def latex(self) -> str:
        return "\n".join(f.latex for f in self)


def _wrap(text: str) -> str:
    return text if re.fullmatch(r"[\w.%]+", text) else f"({text})"


class _Names:
    """Expressions and names for the values of the forward and backward programs."""

    def __init__(self, ex: Any, graphs: Sequence[Graph] = ()) -> None:
        self.leaf: dict[Var, Expr] = {}
        self.defs: dict[Var, Eqn] = {}
        self.ir_name: dict[Var, str] = {}
        self.out_name: dict[Var, tuple[str, str]] = {}
        self.memo: dict[tuple[Var, int], Expr] = {}
        fwd, bwd = ex.forward, ex.backward
        names = list(ex.input_names)
        for g in (fwd, bwd, *graphs):
            if g is None:
                continue
            namer = _Namer()
            for v in g.inputs:
                self.ir_name.setdefault(v, "%" + namer(v))
            for e in g.eqns:
                self.defs.setdefault(e.out, e)
                self.ir_name.setdefault(e.out, "%" + namer(e.out))
        if fwd is not None:
            for i, v in enumerate(fwd.inputs):
                self.leaf[v] = name(names[i] if i < len(names) else self.ir_name[v])
        plan = ex.plan
        if plan is not None and bwd is not None:
            split = plan.split
            cotangents = bwd.inputs[len(split.residuals) + len(split.saved_inputs) :]
            for k, v in enumerate(cotangents):
                self.leaf.setdefault(v, name("g" if len(cotangents) == 1 else f"g{k}"))
            for k, v in enumerate(bwd.outputs):
                if isinstance(v, Var) and k < len(plan.wrt) and plan.wrt[k] < len(names):
                    n = names[plan.wrt[k]]
                    latex = rf"\frac{{\partial}}{{\partial {_default_latex(n)}}}"
                    self.out_name.setdefault(v, (f"∂/∂{n}", latex))
        if fwd is not None:
            n_out = len(fwd.outputs) - (len(plan.split.residuals) if plan is not None else 0)
            for k, v in enumerate(fwd.outputs[:n_out]):
                if isinstance(v, Var):
                    text = "out" if n_out == 1 else f"out{k}"
                    self.out_name.setdefault(v, (text, rf"\mathrm{{{text}}}"))

    def name(self, v: Var) -> tuple[str, str]:
        """What a written value is called: a program output's role, else its IR name."""
        if v in self.out_name:
            return self.out_name[v]
        n = self.ir_name.get(v, "%?")
        return n, _default_latex(n)

    def symbol(self, v: Var) -> Expr:
        return name(self.ir_name.get(v, "%?"))

    def describe(self, v: Var | Lit, depth: int = DESCRIBE_DEPTH) -> tuple[str, str]:
        """A short text and LaTeX for a non-elementwise value: ``x@w``, ``wᵀ``, ``sum(x)``."""
        if isinstance(v, Lit):
            return repr(v.value), repr(v.value)
        if v in self.leaf:
            text = str(self.leaf[v])
            return text, _default_latex(text)
        e = self.defs.get(v)
        if e is None or depth == 0 or _shows(e) and e.op not in (Op.EXPAND, Op.RESHAPE):
            text = self.ir_name.get(v, "%?")  # see its own formula
            return text, _default_latex(text)
        args = [self.describe(a, depth - 1) for a in e.inputs]
        texts, latexes = [_wrap(t) for t, _ in args], [f"{{{x}}}" for _, x in args]
        if e.op is Op.MATMUL:
            return "@".join(texts), r" \mathbin{@} ".join(latexes)
        if e.op is Op.PERMUTE and tuple(e.attrs["axes"]) == (1, 0):
            return f"{texts[0]}ᵀ", rf"{latexes[0]}^{{\top}}"
        if e.op in (Op.EXPAND, Op.RESHAPE):
            return args[0]
        op = e.op.name.lower()
        return (
            f"{op}({', '.join(t for t, _ in args)})",
            rf"\operatorname{{{op}}}\left({', '.join(latexes)}\right)",
        )

    def ref(self, v: Var, depth: int = INLINE_DEPTH) -> Expr:
        """``v`` read from outside a kernel: a leaf, a small expression, or a named symbol."""
        if v in self.leaf:
            return self.leaf[v]
        key = (v, depth)
        if key not in self.memo:
            self.memo[key] = self._ref(v, depth)
        return self.memo[key]

    def _ref(self, v: Var, depth: int) -> Expr:
        e = self.defs.get(v)
        if e is None:
            return self.symbol(v)
        if not _shows(e):
            return name(*self.describe(v))
        if depth == 0:
            return self.symbol(v)
        args = [_literal(a) if isinstance(a, Lit) else self.ref(a, depth - 1) for a in e.inputs]
        expr = _form(e, args)
        return expr if sp.count_ops(expr) <= INLINE_OPS else self.symbol(v)


def _literal(a: Lit) -> Expr:
    value = a.value
    if isinstance(value, bool | int | float):
        return literal(value)
    return name(str(value))  # a symbolic size


def kernel_formulas(program: str, kernel: Any, names: _Names) -> list[Formula]:
    """The formulas of the values ``kernel`` writes (a Kernel or a RowKernel), each preceded
    by the big values inside it that it reads, named (Note [readable formulas])."""
    eqns = [*getattr(kernel, "scalar_eqns", ()), *kernel.eqns]
    made = {e.out: e for e in eqns}
    env: dict[Var, Expr] = {}
    out: list[Formula] = []

    def value(v: Var | Lit) -> Expr:
        if isinstance(v, Lit):
            return _literal(v)
        if v not in env:
            e = made.get(v)
            if e is None:
                env[v] = names.ref(v)
            else:
                env[v] = expr = _form(e, [value(a) for a in e.inputs])
                if v not in kernel.outputs and sp.count_ops(expr) > KERNEL_OPS:
                    text, latex = names.name(v)
                    out.append(Formula(program, kernel.name, text, _fold_sigmoid(expr), latex))
                    env[v] = names.symbol(v)
        return env[v]

    for v in kernel.outputs:
        expr = value(v)
        text, latex = names.name(v)
        out.append(Formula(program, kernel.name, text, _fold_sigmoid(expr), latex))
        if sp.count_ops(expr) > KERNEL_OPS:
            env[v] = names.symbol(v)
    return out


class Kernels(list[tuple[str, Any]]):
    """(program, kernel) pairs; ``str()`` gives a header per kernel (its ops and iteration
    space) and the formula of each value it writes."""

    def __init__(self, items: list[tuple[str, Any]], ex: Any = None) -> None:
        super().__init__(items)
        self.explanation = ex

    def __str__(self) -> str:
        if not self:
            return "(no fused kernels: the llvm backend compiles them)"
        ex = self.explanation
        names = _Names(ex, [g for _, g, _ in programs(ex)]) if ex is not None else None
        blocks = []
        for program, k in self:
            blocks.append(f"-- {program}/{k.name}: {len(k.eqns)} ops over {list(k.shape)}")
            for f in kernel_formulas(program, k, names) if names is not None else ():
                blocks.append("   " + f.text.replace("\n", "\n   "))
        return "\n".join(blocks)

    __repr__ = __str__


def programs(ex: Any) -> list[tuple[str, Graph, list[Any]]]:
    """(program, graph, kernels) as the executors run them (the llvm backend), else as
    fusion groups the forward and the backward graphs."""
    runs = ex._executables()
    if runs:
        return [(which, run.program.graph, run.program.kernels) for which, run in runs]
    graphs = [("forward", ex.forward), ("backward", ex.backward)]
    return [(which, g, fuse(g).kernels) for which, g in graphs if g is not None]


def formulas(ex: Any) -> Formulas:
    """The formulas of every fused kernel of an Explanation (Note [readable formulas])."""
    if ex.forward is None:
        return Formulas()
    runs = programs(ex)
    names = _Names(ex, [g for _, g, _ in runs])
    return Formulas(
        f for which, _, kernels in runs for k in kernels for f in kernel_formulas(which, k, names)
    )
