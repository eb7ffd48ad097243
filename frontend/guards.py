"""Specialization keys: what a compiled entry assumes about its arguments (its guards)."""

from __future__ import annotations

import inspect
import types
from typing import Any

from ..ir.dtypes import from_numpy_dtype
from ..runtime import autocast
from ..runtime.grad_mode import is_grad_enabled
from ..runtime.tensor import Tensor


def leaf_key(x: Any) -> tuple:
    """What one flattened argument contributes to the signature."""
    if isinstance(x, Tensor):
        if x._sparse:  # passed as an object (its ops run eagerly: Note [sparse tensors])
            return ("sparse", tuple(x.shape), x.dtype.name, x.requires_grad, id(x))
        if not x._is_tracer:  # the same key, read off the array (a lifted tensor's per call)
            d = x._data
            name = from_numpy_dtype(d.dtype).name
            return ("tensor", d.shape, name, x._requires_grad or x._grad_fn is not None)
        return ("tensor", tuple(x.shape), x.dtype.name, x.requires_grad)
    if isinstance(x, bool | int | float | str | type(None)):
        return ("value", type(x).__name__, x)
    try:
        hash(x)
        return ("value", type(x).__name__, x)
    except TypeError:
        return ("object", type(x).__name__, id(x))


_STABLE = (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type)


def bindings(fn: Any) -> list[tuple[Any, str, Any]]:
    """The global and closure names ``fn`` (and the code nested in it) reads, with the object
    each is bound to now: a compiled entry assumes the same objects (a tensor, module or number
    rebound later traces again instead of computing with the old one). Modules, functions and
    classes are left out (rebinding them is rare, and plain calls stay unguarded)."""
    fn = inspect.unwrap(getattr(fn, "__func__", fn))  # (adjit.grad's wrapper: the user's fn)
    code = getattr(fn, "__code__", None)
    if code is None:
        return []
    found: list[tuple[Any, str, Any]] = []
    scope = getattr(fn, "__globals__", {})
    for name in sorted(code_names(code)):
        if name in scope and not isinstance(scope[name], _STABLE):
            found.append((scope, name, scope[name]))
    for name, cell in zip(code.co_freevars, fn.__closure__ or (), strict=False):
        try:
            value = cell.cell_contents
        except ValueError:  # not bound yet
            continue
        if not isinstance(value, _STABLE):
            found.append((cell, name, value))
    return found


def code_names(code: types.CodeType) -> set[str]:
    """The global (and attribute) names ``code`` and the code nested in it use."""
    names: set[str] = set()
    stack = [code]
    while stack:
        c = stack.pop()
        names.update(c.co_names)
        stack.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    return names


def bindings_ok(found: list[tuple[Any, str, Any]]) -> bool:
    for where, name, value in found:
        now = where.get(name, _MISSING) if isinstance(where, dict) else where.cell_contents
        if now is not value:
            return False
    return True


_MISSING = object()


def signature(leaves: list[Any], spec: Any) -> tuple:
    return (spec_key(spec), tuple(leaf_key(x) for x in leaves), mode_key())


def mode_key() -> Any:
    """The grad mode, and the CPU autocast dtype when autocast is on (a program traced under
    it holds its casts: Note [CPU autocast])."""
    mode = autocast.key()
    return is_grad_enabled() if mode is None else (is_grad_enabled(), "autocast", *mode)


def _mode_text(mode: Any) -> str:
    return f"CPU autocast to {mode[2]}" if isinstance(mode, tuple) else "no CPU autocast"


def spec_key(spec: Any) -> Any:
    if isinstance(spec, tuple):
        kind, keys, children = spec
        return (kind.__name__, tuple(keys) if keys else None, tuple(spec_key(c) for c in children))
    return spec


def describe(sig: tuple) -> list[str]:
    """Readable guard lines for ``explain``."""
    _, leaves, grad_mode = sig
    lines = []
    for i, k in enumerate(leaves):
        if k[0] == "tensor":
            lines.append(f"arg {i}: tensor shape={list(k[1])} dtype={k[2]} requires_grad={k[3]}")
        else:
            lines.append(f"arg {i}: {k[1]} == {k[2]!r}")
    if isinstance(grad_mode, tuple):  # (mode_key: grad mode and CPU autocast)
        lines.append(f"grad mode enabled == {grad_mode[0]}")
        lines.append(f"CPU autocast dtype == {grad_mode[2]}")
    else:
        lines.append(f"grad mode enabled == {grad_mode}")
    return lines


def diff(old: tuple, new: tuple) -> str:
    """Why ``new`` missed the cache entry ``old``: the first guard that changed."""
    if old[2] != new[2]:
        if isinstance(old[2], tuple) or isinstance(new[2], tuple):
            return f"autocast changed from {_mode_text(old[2])} to {_mode_text(new[2])}"
        return f"grad mode changed from {old[2]} to {new[2]}"
    if old[0] != new[0] or len(old[1]) != len(new[1]):
        return "the structure of the arguments changed"
    names = {1: "shape", 2: "dtype", 3: "requires_grad"}
    for i, (a, b) in enumerate(zip(old[1], new[1], strict=True)):
        if a != b:
            if a[0] == b[0] == "tensor":
                j = next(j for j in (1, 2, 3) if a[j] != b[j])
                return f"{names[j]} of arg {i} changed from {a[j]} to {b[j]}"
            return f"arg {i} changed from {a[2]!r} to {b[2]!r}"
    return "unknown"


def fast_key(args: tuple[Any, ...]) -> tuple | None:
    """A cheap signature for the common call: positional plain tensors only, not tracing.
    Equivalent to ``signature`` for such calls; None when the general path must decide (under
    CPU autocast too: Note [CPU autocast])."""
    if autocast._state.on is not None:
        return None
    key: list[Any] = [is_grad_enabled()]
    for a in args:
        if not isinstance(a, Tensor) or a._is_tracer or a._sparse:
            return None
        d = a._data
        key.append((d.shape, d.dtype, a._requires_grad or a._grad_fn is not None))
    return tuple(key)


# Note [guards written out]
# A compiled module's call (``adjit.compile(lambda x, y: loss(model(x), y))``) lifts the
# parameters and guards every module the trace went through (``module_guard``: training flag,
# hooks, parameter and buffer identities) and the closure's bindings. Checked by
# ``Entry.lifted_ok`` that cost ~8.5 µs a call for W2's MLP (4 lifted tensors, 4 modules: each
# module's ``_compile_guard`` builds eight tuples, the global hooks read four times) on top of
# the general path's lookups. The prepared call (frontend/prepared.py) writes the same checks
# out as straight-line code: per lifted tensor its array's shape, dtype and whether it needs
# grad (``leaf_key``'s); per module of adjit's own ``_compile_guard``, its type, training flag,
# empty hook tables (or their recorded keys), parameter and buffer identities, values of the
# plain attributes set to new values (``m.scale = 3.0``: Module._compile_guard), and once for
# all of them the global hooks; per binding an identity test. A module whose guard is another
# (a custom ``_compile_guard``, an object with only ``training``), or whose written-out key
# does not give back the key it recorded, is checked by ``module_guard`` itself. Any check
# that fails returns MISS and the general path decides (and traces again where it must).


def write_guards(
    w: Any,
    lifted: list[Tensor],
    lifted_keys: list[tuple],
    modules: list[tuple[Any, Any]],
    found: list[tuple[Any, str, Any]],
    module_guard: Any,
) -> list[str] | None:
    """Lines of the trampoline writer ``w`` checking what ``Entry.lifted_ok`` checks (Note
    [guards written out]); the lifted tensors' names (their arrays' are ``e`` + the index).
    None when a lifted tensor's key is not a plain tensor's (the general path checks it)."""
    if any(len(k) != 4 or k[0] != "tensor" for k in lifted_keys):
        return None
    for where, name, value in found:
        v = w.const("V", value)
        if isinstance(where, dict):
            w.line(f"if {w.const('S', where)}.get({name!r}, MISS) is not {v}:")
        else:
            w.line(f"if {w.const('C', where)}.cell_contents is not {v}:")
        w.line("return MISS", 2)
    names = []
    for i, (t, key) in enumerate(zip(lifted, lifted_keys, strict=True)):
        name, d = f"l{i}", f"e{i}"
        _, shape, _, needs = key
        dt = w.const("DT", t._data.dtype)
        w.line(f"{name} = {w.const('L', t)}")
        w.line(f"{d} = {name}._data")
        w.line(
            f"if {name}._is_tracer or {d}.shape != {tuple(shape)!r} or ({d}.dtype is not {dt} "
            f"and {d}.dtype != {dt}) or ({name}._requires_grad or {name}._grad_fn is not None) "
            f"is not {needs}:"
        )
        w.line("return MISS", 2)
        names.append(name)
    written = [(m, key) for m, key in modules if _written_key(m) == key]
    if written:
        from ..nn import _module_hooks as hooks  # (a module guard: adjit.nn is loaded)

        gh = w.const("GH", hooks)
        ids = written[0][1][5]
        if ids == ((), ()):
            w.line(f"if {gh}._global_forward_pre_hooks or {gh}._global_forward_hooks:")
        else:
            w.line(f"if {gh}.global_hook_ids() != {w.const('G', ids)}:")
        w.line("return MISS", 2)
    for m, key in modules:
        if any(m is n for n, _ in written):
            _write_module(w, m, key)
        else:
            w.line(f"if {w.const('MG', module_guard)}({w.const('M', m)}) != {w.const('K', key)}:")
            w.line("return MISS", 2)
    return names


_HOOKS = ("_forward_pre_hooks", "_forward_hooks", "_backward_pre_hooks", "_backward_hooks")


def _written_key(m: Any) -> tuple | None:
    """``m``'s guard as the written-out checks read it, for a module whose guard is adjit's
    own ``Module._compile_guard``; None for any other."""
    from ..nn.module import Module

    if not isinstance(m, Module) or "_compile_guard" in vars(m):
        return None
    if type(m)._compile_guard is not Module._compile_guard:
        return None
    from ..nn import _module_hooks as hooks

    return (
        m.training,
        *(tuple(getattr(m, h)) for h in _HOOKS),
        hooks.global_hook_ids(),
        tuple(map(id, m._parameters.values())),
        tuple(map(id, m._buffers.values())),
        tuple(m.__dict__[n] for n in m.__dict__.get("_plain_varying", ())),
    )


def _write_module(w: Any, m: Any, key: tuple) -> None:
    """The checks of one module with adjit's own guard, recorded as ``key``."""
    name = w.const("M", m)
    training, hooks, params, buffers = key[0], key[1:5], key[6], key[7]
    w.line(f"m = {name}")
    tests = [f"type(m) is not {w.const('T', type(m))}"]
    if key[8]:  # (Python number attributes set to new values: Module._compile_guard)
        names = w.const("PN", m.__dict__.get("_plain_varying", ()))
        tests.append(
            f"m.__dict__.get('_plain_varying', ()) != {names} or "
            f"tuple([m.__dict__[n] for n in {names}]) != {w.const('PV', key[8])}"
        )
    else:
        tests.append("'_plain_varying' in m.__dict__")
    tests.append(
        f"m.training is not {training}"
        if isinstance(training, bool)
        else f"m.training != {w.const('TR', training)}"
    )
    for attr, ids in zip(_HOOKS, hooks, strict=True):
        tests.append(f"tuple(m.{attr}) != {w.const('H', ids)}" if ids else f"m.{attr}")
    for attr, ids in (("_parameters", params), ("_buffers", buffers)):
        if ids:
            tests.append(f"tuple(map(_id, m.{attr}.values())) != {w.const('P', ids)}")
        else:
            tests.append(f"m.{attr}")
    w.ns.setdefault("_id", id)
    w.line(f"if {' or '.join(tests)}:")
    w.line("return MISS", 2)
