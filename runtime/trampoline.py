"""Generated Python for prepared calls: guards, staging, kernels and results without loops."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import autocast, grad_mode, trace_state
from .tensor import Tensor

# Note [trampolines]
# A call of a compiled function on small tensors is all overhead: checking the arguments
# against the specialization, copying them into the kernels' buffers, one foreign call per
# kernel, wrapping the results. Written as general Python each of those is a loop with
# lookups, and the call cost ~15 µs around a ~1 µs kernel. A trampoline is that call for one
# specialization written out as straight-line Python source, with every constant (shapes,
# dtypes, buffers, kernel arguments) bound by name, the way ``dataclasses`` and ``namedtuple``
# write their methods. It returns MISS (having done nothing) when an argument does not match,
# and the caller takes the general path. ``explain`` shows the source.

MISS = object()  # what a trampoline returns when its guards do not hold


class Writer:
    """Lines of one generated function and the constants they refer to by name."""

    def __init__(self, params: str) -> None:
        self.params = params
        self.lines: list[str] = []
        self.ns: dict[str, Any] = {
            "MISS": MISS,
            "Tensor": Tensor,
            "_new": object.__new__,
            "_grad": grad_mode._state,
            "_trace": trace_state._local,
            "_autocast": autocast._state,
        }

    def const(self, prefix: str, value: Any) -> str:
        """A name for ``value`` in the generated code."""
        name = f"{prefix}{len(self.ns)}"
        self.ns[name] = value
        return name

    def line(self, text: str, indent: int = 1) -> None:
        self.lines.append("    " * indent + text)

    def source(self, name: str) -> str:
        return "\n".join([f"def {name}({self.params}):", *self.lines]) + "\n"

    def build(self, name: str) -> Callable[..., Any]:
        text = self.source(name)
        ns = dict(self.ns)
        exec(compile(text, f"<adjit trampoline {name}>", "exec"), ns)
        fn = ns.pop(name)  # not kept in its own globals: no cycle, freed when dropped
        fn.source = text
        return fn


def guard_args(
    w: Writer, specs: Sequence[tuple[tuple[int, ...], np.dtype, bool]], grad_enabled: bool
) -> list[str]:
    """Lines checking ``args`` (a tuple of positional arguments) against ``specs`` (shape,
    dtype, whether it needs grad) as ``guards.fast_key`` would; the arrays' names."""
    n = len(specs)
    w.line(
        f"if len(args) != {n} or _trace.trace is not None or _grad.enabled is not {grad_enabled}"
        " or _autocast.on is not None:"  # (guards.fast_key's: Note [CPU autocast])
    )
    w.line("return MISS", 2)
    if n == 0:
        return []
    names = [f"a{i}" for i in range(n)]
    w.line(f"{', '.join(names)}{',' if n == 1 else ''} = args")
    arrays = []
    for i, (shape, dtype, needs) in enumerate(specs):
        a, d = names[i], f"d{i}"
        dt = w.const("DT", dtype)
        w.line(f"if not isinstance({a}, Tensor) or {a}._is_tracer:")
        w.line("return MISS", 2)
        w.line(f"{d} = {a}._data")
        w.line(
            f"if {d}.shape != {shape!r} or ({d}.dtype is not {dt} and {d}.dtype != {dt}) "
            f"or ({a}._requires_grad or {a}._grad_fn is not None) is not {needs}:"
        )
        w.line("return MISS", 2)
        arrays.append(d)
    return arrays


def run_program(w: Writer, run: Callable[[list[np.ndarray]], list[np.ndarray]], arrays: list[str],
                n_results: int) -> list[str]:  # fmt: skip
    """Lines running ``run`` (a compiled program) on ``arrays``; the results' names. A kernel-only
    program with fixed buffers is written out (Note [prepared calls]); anything else is called."""
    results = [f"r{i}" for i in range(n_results)]
    lhs = ", ".join(results) + ("," if n_results == 1 else "")
    call = f"{lhs} = {w.const('RUN', run)}([{', '.join(arrays)}])"
    plan = getattr(run, "_plan", None)
    if plan is None or plan.static is None:
        w.line(call)
        return results
    lock = w.const("LOCK", run._lock)  # type: ignore[attr-defined]
    w.line(f"if {lock}.acquire(False):")
    w.line("try:", 2)
    for i, home, scalar in plan.staged:
        w.line(f"{w.const('H', home)}[{'()' if scalar else '...'}] = {arrays[i]}  # staged", 3)
    for (fn, args), name in zip(plan.static, plan.names, strict=True):
        w.line(f"{w.const('K', fn)}(*{w.const('A', args)})  # kernel {name}", 3)
    for r, (how, x) in zip(results, plan.results, strict=True):
        w.line(f"{r} = {_result(w, how, x, arrays)}", 3)
    w.line("finally:", 2)
    w.line(f"{lock}.release()", 3)
    w.line("else:  # another thread is in this program: its general path, own buffers")
    w.line(call, 2)
    return results


def _result(w: Writer, how: str, x: Any, arrays: list[str]) -> str:
    if how == "input":  # a copy, as eager ops make (``x * 1`` optimized to ``x`` included)
        return f"{w.const('array', np.array)}({arrays[x[0]]}, {w.const('DT', x[1])})"
    if how == "input_shared":  # an internal output (Note [internal outputs])
        return f"{w.const('asarray', np.asarray)}({arrays[x[0]]}, {w.const('DT', x[1])})"
    if how == "shared":
        return w.const("R", x)
    return f"{w.const('R', x)}.copy()"  # "copy" and "as_is": the caller owns what it gets


def tensor(w: Writer, array: str, name: str, indent: int = 1) -> str:
    """Lines making a Tensor ``name`` around ``array`` (``Tensor._make`` outside a trace)."""
    w.line(f"{name} = _new(Tensor)", indent)
    w.line(f"{name}._data = {array}", indent)
    w.line(f"{name}._version_box = [0]", indent)
    return name


def program_call(
    run: Callable[[list[np.ndarray]], list[np.ndarray]],
) -> Callable[[list[np.ndarray]], list[np.ndarray]]:
    """``run`` (a compiled program) as a trampoline when its buffers are all fixed, else
    ``run`` itself. The trampoline does not check its arguments: it is for callers whose
    arrays have the program's input shapes and dtypes by construction (a compiled call's
    residuals and saved inputs)."""
    plan = getattr(run, "_plan", None)
    if plan is None or plan.static is None:
        return run
    w = Writer("arrays")
    arrays = [f"d{i}" for i in range(len(plan.shapes))]
    w.line(f"{', '.join(arrays)}{',' if len(arrays) == 1 else ''} = arrays")
    results = run_program(w, run, arrays, len(plan.results))
    w.line(f"return [{', '.join(results)}]")
    return w.build("program")
