"""What each top-level statement of a compiled function binds, reads and does: the analysis
behind statement-level graph breaks (Note [statement-level breaks] in statements.py)."""

from __future__ import annotations

import ast
import copy
import inspect
import textwrap
import types
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

_STEP_CALLS = frozenset({"backward", "step", "zero_grad"})  # traced statements with effects
_REFUSED_CALLS = frozenset({"locals", "vars", "eval", "exec", "dir", "globals"})
_COMPOUND: tuple[type, ...] = (ast.If, ast.For, ast.While, ast.With, ast.Try, ast.Match)
_OPERATIONS: tuple[type, ...] = (
    *_COMPOUND,
    *(ast.AsyncFor, ast.AsyncWith, ast.TryStar, ast.Call, ast.BinOp, ast.UnaryOp, ast.Subscript),
    *(ast.Attribute, ast.Compare, ast.BoolOp, ast.IfExp, ast.Lambda, ast.ListComp, ast.SetComp),
    *(ast.DictComp, ast.GeneratorExp, ast.JoinedStr),
)


_REFUSED_NODES: dict[type, str] = {
    ast.FunctionDef: "a def or class statement in the body",
    ast.AsyncFunctionDef: "a def or class statement in the body",
    ast.ClassDef: "a def or class statement in the body",
    ast.Yield: "yield or await",
    ast.YieldFrom: "yield or await",
    ast.Await: "yield or await",
}


class Refused(Exception):
    """The function's shape is not split (it keeps segment mode); the text says why."""


@dataclass
class Facts:
    """What one top-level statement binds and reads (its own scope; nested scopes' free names
    count as reads), and whether it has Python side effects."""

    stores: list[str] = field(default_factory=list)
    loads: list[str] = field(default_factory=list)
    effects: bool = False
    returns: bool = False  # a ``return`` anywhere in it
    backward: bool = False  # calls ``.backward(...)`` or ``autograd.grad(...)``
    inplace: list[str] = field(default_factory=list)  # receivers of in-place ``name.op_()``
    super_: bool = False
    declared: list[str] = field(default_factory=list)  # global / nonlocal names


class Scan(ast.NodeVisitor):
    """Collects Facts for one statement; raises Refused on shapes that are not split."""

    def __init__(self, declared: set[str]) -> None:
        self.f = Facts()
        self.declared = declared
        self.shadow: list[set[str]] = [set()]
        self.in_comp = 0

    def _bind(self, name: str) -> None:
        if len(self.shadow) == 1:
            self.f.stores.append(name)
            if name in self.declared:
                self.f.effects = True

    def visit_Name(self, n: ast.Name) -> None:
        if isinstance(n.ctx, ast.Del):
            raise Refused("a del statement")
        if isinstance(n.ctx, ast.Store):
            self._bind(n.id)
        elif not any(n.id in s for s in self.shadow):
            self.f.loads.append(n.id)
            if n.id == "super":
                self.f.super_ = True

    def visit_Delete(self, n: ast.Delete) -> None:
        raise Refused("a del statement")

    def visit_NamedExpr(self, n: ast.NamedExpr) -> None:
        if self.in_comp:
            raise Refused("an assignment expression in a comprehension")
        self.generic_visit(n)

    def visit_Global(self, n: ast.Global) -> None:
        self.f.declared.extend(n.names)

    def visit_Nonlocal(self, n: ast.Nonlocal) -> None:
        self.f.declared.extend(n.names)

    def visit_Import(self, n: ast.Import) -> None:
        self.f.effects = True
        for a in n.names:
            self._bind(a.asname or a.name.split(".")[0])

    def visit_ImportFrom(self, n: ast.ImportFrom) -> None:
        self.f.effects = True
        for a in n.names:
            if a.name == "*":
                raise Refused("a star import")
            self._bind(a.asname or a.name)

    def visit(self, node: ast.AST) -> Any:
        why = _REFUSED_NODES.get(type(node))
        if why is not None:
            raise Refused(why)
        if isinstance(node, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
            return self._comprehension(node)
        if isinstance(node, ast.Assert | ast.Raise):
            self.f.effects = True
        return super().visit(node)

    def visit_Return(self, n: ast.Return) -> None:
        self.f.returns = True
        self.generic_visit(n)

    def visit_ExceptHandler(self, n: ast.ExceptHandler) -> None:
        if n.name:
            self._bind(n.name)
        self.generic_visit(n)

    def visit_MatchAs(self, n: ast.MatchAs) -> None:
        if n.name:
            self._bind(n.name)
        self.generic_visit(n)

    def visit_MatchStar(self, n: ast.MatchStar) -> None:
        if n.name:
            self._bind(n.name)

    def visit_MatchMapping(self, n: ast.MatchMapping) -> None:
        if n.rest:
            self._bind(n.rest)
        self.generic_visit(n)

    def visit_Lambda(self, n: ast.Lambda) -> None:
        for d in (*n.args.defaults, *(d for d in n.args.kw_defaults if d is not None)):
            self.visit(d)
        a = n.args
        names = {x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs)}
        names |= {x.arg for x in (a.vararg, a.kwarg) if x is not None}
        self.shadow.append(names)
        self.visit(n.body)
        self.shadow.pop()

    def _comprehension(self, n: Any) -> None:
        self.in_comp += 1
        targets = {
            t.id for g in n.generators for t in ast.walk(g.target) if isinstance(t, ast.Name)
        }
        self.visit(n.generators[0].iter)  # evaluated in the enclosing scope
        self.shadow.append(targets)
        for k, g in enumerate(n.generators):
            if k:
                self.visit(g.iter)
            for cond in g.ifs:
                self.visit(cond)
        for part in ("elt", "key", "value"):
            if hasattr(n, part):
                self.visit(getattr(n, part))
        self.shadow.pop()
        self.in_comp -= 1

    def visit_Call(self, n: ast.Call) -> None:
        fn = n.func
        if isinstance(fn, ast.Name) and fn.id in _REFUSED_CALLS:
            raise Refused(f"a call of {fn.id}()")
        if isinstance(fn, ast.Attribute) and (
            fn.attr == "backward" or (fn.attr == "grad" and _name_of(fn.value) == "autograd")
        ):
            self.f.backward = True
        if (
            isinstance(fn, ast.Attribute)
            and isinstance(fn.value, ast.Name)
            and fn.attr.endswith("_")
            and not fn.attr.startswith("_")
        ):
            self.f.inplace.append(fn.value.id)
        self.generic_visit(n)

    # statements with Python side effects: run as Python on every call
    def visit_Expr(self, n: ast.Expr) -> None:
        if isinstance(n.value, ast.Call) and not _traced_call(n.value):
            self.f.effects = True
        self.generic_visit(n)

    def _stores_outside(self, targets: Iterable[ast.expr]) -> None:
        for t in targets:
            for x in ast.walk(t):
                if isinstance(x, ast.Attribute | ast.Subscript) and isinstance(x.ctx, ast.Store):
                    self.f.effects = True

    def visit_Assign(self, n: ast.Assign) -> None:
        self._stores_outside(n.targets)
        self.generic_visit(n)

    def visit_AugAssign(self, n: ast.AugAssign) -> None:
        self._stores_outside([n.target])
        if isinstance(n.target, ast.Name):  # reads the name too
            self.visit_Name(ast.Name(n.target.id, ast.Load()))
        self.generic_visit(n)

    def visit_AnnAssign(self, n: ast.AnnAssign) -> None:
        self._stores_outside([n.target])
        self.visit(n.target)
        if n.value is not None:
            self.visit(n.value)

    def visit_For(self, n: ast.For) -> None:
        self._stores_outside([n.target])
        self.generic_visit(n)


def _name_of(e: ast.expr) -> str | None:
    if isinstance(e, ast.Name):
        return e.id
    if isinstance(e, ast.Attribute):
        return e.attr
    return None


def _traced_call(call: ast.Call) -> bool:
    """A call statement the trace records with its effects: ``loss.backward()``, ``opt.step()``,
    ``opt.zero_grad()``, in-place ``name_(...)`` (``x.add_``, ``clip_grad_norm_``)."""
    name = _name_of(call.func)
    if name is None:
        return False
    return name in _STEP_CALLS or (name.endswith("_") and not name.startswith("_"))


def trivial(stmts: list[ast.stmt]) -> bool:
    """No operation at all (``return loss``, ``pass``): not worth a compiled call."""
    return not any(isinstance(x, _OPERATIONS) for s in stmts for x in ast.walk(s))


def may_move(s: ast.stmt, f: Facts, local: set[str], fixed: set[str]) -> bool:
    """A logging statement that may move after the compiled statements that follow it:
    ``log.append(<expr>)``, ``print(<expr>)`` (also ``.extend``, ``.write``), whose expression
    reads only locals and builtins, changes nothing in place and returns nothing."""
    if not isinstance(s, ast.Expr) or not isinstance(s.value, ast.Call) or f.inplace:
        return False
    call = s.value
    fn = call.func
    receiver: str | None = None
    if isinstance(fn, ast.Attribute) and fn.attr in _LOG_METHODS:
        if not isinstance(fn.value, ast.Name) or fn.value.id in local - fixed:
            return False
        receiver = fn.value.id
    elif not (isinstance(fn, ast.Name) and fn.id == "print" and fn.id not in local):
        return False
    for x in ast.walk(s):
        if isinstance(x, ast.Attribute) and x.attr.endswith("_"):
            return False
        if isinstance(x, ast.Lambda | ast.NamedExpr | ast.Await | ast.Yield):
            return False
    names = {n for n in f.loads if n != receiver}  # fresh locals (not arguments) or builtins
    return all((n in local and n not in fixed) or n in _BUILTINS for n in names)


_LOG_METHODS = frozenset({"append", "extend", "write"})
_BUILTINS = frozenset({"print", "float", "int", "str", "repr", "round", "format", "len", "abs"})


def source_tree(func: types.FunctionType) -> ast.FunctionDef:
    code = func.__code__
    if code.co_flags & (inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR):
        raise Refused("a generator or coroutine")
    try:
        src = textwrap.dedent(inspect.getsource(func))
        tree = ast.parse(src)
    except (OSError, TypeError, SyntaxError) as e:
        raise Refused(f"source not available ({e})") from None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.FunctionDef):
        raise Refused("not a def statement (a lambda?)")
    fdef = tree.body[0]
    ast.increment_lineno(tree, code.co_firstlineno - 1)
    if fdef.name != func.__name__ or _code_key(_recompiled(func, fdef)) != _code_key(code):
        raise Refused("the source found is not the function's (edited since it was defined?)")
    return fdef


def _recompiled(func: types.FunctionType, fdef: ast.FunctionDef) -> types.CodeType:
    """``fdef`` compiled as ``func`` was: nested in a function binding its free variables."""
    args = ast.arguments(
        posonlyargs=[],
        args=[ast.arg(x) for x in func.__code__.co_freevars],
        vararg=None,
        kwonlyargs=[],
        kw_defaults=[],
        kwarg=None,
        defaults=[],
    )
    outer = ast.FunctionDef("__adjit_source", args, [copy.deepcopy(fdef)], [], None, None)
    module = ast.Module([ast.copy_location(outer, fdef)], [])
    ast.fix_missing_locations(module)
    code = compile(module, func.__code__.co_filename, "exec", dont_inherit=True)
    (factory,) = (c for c in code.co_consts if isinstance(c, types.CodeType))
    return next(c for c in factory.co_consts if getattr(c, "co_name", None) == fdef.name)


def _code_key(c: types.CodeType) -> tuple:
    """What must agree for ``inspect.getsource`` to be the source of the running code."""
    consts = tuple(_code_key(x) if isinstance(x, types.CodeType) else x for x in c.co_consts)
    return (c.co_code, c.co_names, c.co_varnames, c.co_freevars, c.co_firstlineno, consts)


def params_of(fdef: ast.FunctionDef) -> list[str]:
    a = fdef.args
    names = [x.arg for x in (*a.posonlyargs, *a.args)]
    names += [x.arg for x in (a.vararg,) if x is not None]
    names += [x.arg for x in a.kwonlyargs]
    names += [x.arg for x in (a.kwarg,) if x is not None]
    return names


def within(s: ast.stmt, line: int) -> bool:
    end = s.end_lineno if s.end_lineno is not None else s.lineno
    return s.lineno <= line <= end


def ordered(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))
