"""adjit.scan, fori_loop, while_loop and cond: eager Python loops, or one traced loop equation.

Eagerly each runs its body as ordinary adjit ops (runtime/control_flow.py), so eager autograd
goes through it. Under a trace (adjit.compile, adjit.grad) the body is traced once into a
sub-graph and one equation is recorded (Note [loops in the IR] in ir/control.py): the compile
time does not depend on the trip count.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from ..ir.aval import Aval
from ..ir.graph import Graph, Var
from ..ir.ops import Op
from ..runtime import trace_state
from ..runtime.control_flow import cond_eager, scan_eager, while_eager
from ..runtime.creation import as_tensor, zeros
from ..runtime.ops_movement import cat
from ..runtime.tensor import Tensor
from .control_trace import Leaves, aval_of, emit_control, parts, trace_body
from .pytree import flatten, unflatten

# ---- the public functions ---------------------------------------------------------------------


def _leaves(tree: Any, what: str) -> tuple[Leaves, Any]:
    leaves, spec = flatten(tree)
    out = []
    for leaf in leaves:
        if not isinstance(leaf, Tensor):
            try:
                leaf = as_tensor(leaf)
            except (TypeError, ValueError, RuntimeError):
                raise TypeError(
                    f"{what} must be a tree of tensors, got a {type(leaf).__name__}"
                ) from None
        out.append(leaf)
    return out, spec


def _typename(a: Aval) -> str:
    return f"{a.dtype.name}[{','.join(map(str, a.shape))}]"


def _check_carry(spec_in: Any, spec_out: Any, ins: Leaves, outs: Leaves) -> None:
    """JAX's check: the carry goes out with the structure, shapes and dtypes it came in with."""
    head = (
        "scan body function carry input and carry output must have equal types (e.g. shapes "
        "and dtypes of arrays), but they differ:\n\n  * "
    )
    if spec_in != spec_out:
        raise TypeError(
            head + f"the input carry has structure {_describe(spec_in)} but the carry output "
            f"has structure {_describe(spec_out)}"
        )
    for i, (a, b) in enumerate(zip(ins, outs, strict=True)):
        x, y = aval_of(a), aval_of(b)
        if x.dtype is not y.dtype:
            what = "dtypes"
        elif x.shape != y.shape:
            what = "shapes"
        else:
            continue
        raise TypeError(
            head + f"the input carry component carry[{i}] has type {_typename(x)} but the "
            f"corresponding output carry component has type {_typename(y)}, so the {what} "
            "do not match"
        )


def _describe(spec: Any) -> str:
    if spec == "*":
        return "tensor"
    kind, keys, children = spec
    inner = ", ".join(_describe(c) for c in children)
    if kind is dict:
        return (
            "{"
            + ", ".join(f"{k!r}: {_describe(c)}" for k, c in zip(keys, children, strict=True))
            + "}"
        )
    return f"{kind.__name__}({inner})"


def _pair(out: Any) -> tuple[Any, Any]:
    if not isinstance(out, tuple | list) or len(out) != 2:
        raise TypeError(f"scan body output must be a pair, got {type(out).__name__}.")
    return out[0], out[1]


def _length(xs: Leaves, length: int | None) -> int:
    sizes = sorted({x.shape[0] if x.ndim else -1 for x in xs})
    if -1 in sizes:
        raise ValueError("scan got a value with no leading axis to scan over (a 0-d tensor)")
    if len(sizes) > 1:
        raise ValueError(
            f"scan got values with different leading axis sizes: {', '.join(map(str, sizes))}."
        )
    if length is not None:
        if not isinstance(length, int) or isinstance(length, bool):
            raise TypeError(f"scan's length must be an int, got {type(length).__name__}")
        if sizes and sizes[0] != length:
            raise ValueError(
                f"scan got `length` argument of {length} which disagrees with leading axis "
                f"sizes {sizes}."
            )
        return length
    if not sizes:
        raise ValueError("scan got no values to scan over and `length` not provided.")
    return sizes[0]


def scan(
    f: Callable[[Any, Any], tuple[Any, Any]],
    init: Any,
    xs: Any = None,
    length: int | None = None,
    reverse: bool = False,
    *,
    checkpoint: bool | int = False,
) -> tuple[Any, Any]:
    """``jax.lax.scan``: ``carry, y = f(carry, x)`` for each leading-axis slice ``x`` of
    ``xs`` (a tree of tensors, or None with ``length``); returns the final carry and the ys
    stacked on a new leading axis. Compiled, it is one loop whose body is traced once; its
    gradient is a reverse scan (Note [the adjoint of a scan]), and ``checkpoint`` says what
    the forward saves for it per iteration: False, the body's residuals (JAX's default); True,
    only the carry (the body is recomputed backward: ``jax.checkpoint`` on the body); an int
    ``k``, a carry every ``k`` steps (each segment of ``k`` steps is recomputed backward, with
    its residuals: memory ``T/k`` carries plus ``k`` steps' residuals)."""
    if not isinstance(checkpoint, bool | int) or (
        not isinstance(checkpoint, bool) and checkpoint < 1
    ):
        raise ValueError(f"scan's checkpoint must be a bool or an int >= 1, got {checkpoint!r}")
    init_leaves, init_spec = _leaves(init, "scan's init")
    xs_leaves, xs_spec = _leaves(xs, "scan's xs") if xs is not None else ([], None)
    n = _length(xs_leaves, length)
    y_spec: list[Any] = []

    def step(carry: Leaves, x: Leaves) -> tuple[Leaves, Leaves]:
        xt = unflatten(xs_spec, x) if xs is not None else None
        new, y = _pair(f(unflatten(init_spec, carry), xt))
        new_leaves, new_spec = _leaves(new, "scan body's carry")
        _check_carry(init_spec, new_spec, carry, new_leaves)
        y_leaves, spec = _leaves(y, "scan body's output") if y is not None else ([], None)
        y_spec[:] = [spec]
        return new_leaves, y_leaves

    if trace_state.current() is None and n == 0:  # the ys' shapes: the body traced once
        body, _ = _body(step, init_leaves, xs_leaves)
        ys = [zeros(0, *o.aval.shape, dtype=o.aval.dtype) for o in body.outputs[len(init_leaves) :]]
        return init, _ys(y_spec[0], ys)
    if trace_state.current() is None:
        carry, ys = scan_eager(step, init_leaves, xs_leaves, n, bool(reverse))
        return unflatten(init_spec, carry), _ys(y_spec[0], ys)
    if checkpoint is True or checkpoint is False or checkpoint == 1 or checkpoint >= n:
        carry, ys = _traced(step, init_leaves, xs_leaves, n, bool(reverse), bool(checkpoint))
    else:
        carry, ys = _segmented(step, init_leaves, xs_leaves, n, bool(reverse), checkpoint)
    return unflatten(init_spec, carry), _ys(y_spec[0], ys)


Step = Callable[[Leaves, Leaves], tuple[Leaves, Leaves]]


def _traced(
    step: Step, init: Leaves, xs: Leaves, n: int, reverse: bool, checkpoint: bool
) -> tuple[Leaves, Leaves]:
    """One scan equation: ``step`` traced once into its body."""
    c = len(init)
    body, closed = _body(step, init, xs)
    attrs: dict[str, Any] = {"body": body, "length": n, "reverse": reverse}
    attrs |= {"n_consts": len(closed), "n_carry": c, "checkpoint": checkpoint}
    out = parts(emit_control(Op.SCAN, [*closed, *init, *xs], attrs))
    return out[:c], out[c:]


def _body(step: Step, init: Leaves, xs: Leaves) -> tuple[Graph, Leaves]:
    """``step`` traced once into a scan body (and the tensors it closes over)."""
    c = len(init)
    avals = [aval_of(t) for t in init] + [Aval(tuple(x.shape[1:]), x.dtype) for x in xs]
    return trace_body(lambda ins: [*(r := step(ins[:c], ins[c:]))[0], *r[1]], avals, "scan's body")


def _segmented(
    step: Step, init: Leaves, xs: list[Any], n: int, reverse: bool, k: int
) -> tuple[Leaves, Leaves]:
    """``checkpoint=k``: an outer scan over segments of ``k`` steps that saves only its carry,
    whose body is an inner scan of ``k`` steps saving its residuals; the ``n % k`` steps left
    over make one more scan (run first when ``reverse``, as the order of the steps asks)."""
    q, r = divmod(n, k)
    main, rest = (r, n) if reverse else (0, q * k), (0, r) if reverse else (q * k, n)

    def segment(carry: Leaves, seg: Leaves) -> tuple[Leaves, Leaves]:
        return _traced(step, carry, seg, k, reverse, False)

    segs = [x[main[0] : main[1]].reshape(q, k, *x.shape[1:]) for x in xs]
    carry, ys = _traced(segment, init, segs, q, reverse, True)
    ys = [cast(Any, y).reshape(q * k, *y.shape[2:]) for y in ys]
    if r:
        carry, tail = _traced(step, carry, [x[rest[0] : rest[1]] for x in xs], r, reverse, False)
        ys = [
            stack_cat(t, y) if reverse else stack_cat(y, t) for y, t in zip(ys, tail, strict=True)
        ]
    return carry, ys


def stack_cat(a: Tensor, b: Tensor) -> Tensor:
    return cat([a, b])


def _ys(spec: Any, ys: Leaves) -> Any:
    return None if spec is None else unflatten(spec, ys)


def fori_loop(lower: int, upper: int, body_fun: Callable[[Any, Any], Any], init_val: Any) -> Any:
    """``jax.lax.fori_loop``: ``val = body_fun(i, val)`` for ``i`` in ``range(lower, upper)``.
    Int bounds make it a scan (differentiable, reverse mode included); tensor bounds a
    while_loop (forward only, as in JAX)."""
    if isinstance(lower, Tensor) or isinstance(upper, Tensor):
        from ..runtime.creation import tensor

        lo = lower if isinstance(lower, Tensor) else tensor(lower)
        up = upper if isinstance(upper, Tensor) else tensor(upper)

        def body(state: tuple[Any, Any]) -> tuple[Any, Any]:
            return state[0] + 1, body_fun(state[0], state[1])

        return while_loop(lambda i, v: i < up, lambda i, v: body((i, v)), (lo, init_val))[1]
    for v in (lower, upper):
        if not isinstance(v, int) or isinstance(v, bool):
            raise TypeError(f"fori_loop's bounds must be ints or int tensors, got {v!r}")
    from ..runtime.creation import arange

    steps = max(0, upper - lower)
    if steps == 0:
        return init_val
    carry, _ = scan(lambda val, i: (body_fun(i, val), None), init_val, arange(lower, upper))
    return carry


def while_loop(
    cond_fn: Callable[..., Any], body_fn: Callable[..., Any], carried_inputs: Any
) -> Any:
    """``torch.while_loop``: ``val = body_fn(*val)`` while ``cond_fn(*val)``, from
    ``val = carried_inputs`` (a tuple or list); returns the final ``val`` as a tuple. Compiled,
    it is one while equation (both functions traced once); forward only, as in JAX: reverse
    mode through it raises, naming scan and fori_loop."""
    if not callable(cond_fn) or not callable(body_fn):
        raise RuntimeError("Expect cond_fn and body_fn to be callable.")
    if not isinstance(carried_inputs, tuple | list):
        raise RuntimeError(f"carried_inputs must be a tuple or list but got {type(carried_inputs)}")
    leaves, spec = flatten(tuple(carried_inputs))
    if any(not isinstance(t, Tensor | int) or isinstance(t, bool) for t in leaves):
        raise RuntimeError(
            "Expect carried_inputs to be a tuple of possibly nested dict/list/tuple that only"
            f"consists of tensor or int leaves, but got {carried_inputs}."
        )
    n = len(carried_inputs)

    def body(carry: Leaves) -> Leaves:
        out = body_fn(*unflatten(spec, carry))
        if not isinstance(out, tuple):
            raise AssertionError(f"body_fn should return a tuple but got {type(out)}")
        if len(out) != n:
            raise AssertionError(
                "body_fn should return the same number of elements as carried_inputs, got "
                f"{len(out)} vs {n}"
            )
        new, new_spec = flatten(out)
        if trace_state.current() is not None:
            new, new_spec = _leaves(out, "while_loop body_fn's output")
            _check_carry(spec, new_spec, carry, new)
        return new

    def test(carry: Leaves) -> Any:
        p = cond_fn(*unflatten(spec, carry))
        if not (
            isinstance(p, bool)
            or (isinstance(p, Tensor) and p.dtype.name == "bool" and tuple(p.shape) == ())
        ):
            raise RuntimeError(
                f"cond_fn must return a boolean scalar tensor or a boolean but got {p}"
            )
        return p

    if trace_state.current() is None:
        out = while_eager(test, body, leaves)
        if out is leaves:  # no iteration: new tensors, as PyTorch's clones
            out = [t.clone() if isinstance(t, Tensor) else t for t in leaves]  # type: ignore[attr-defined]
        return tuple(unflatten(spec, out))
    if any(not isinstance(t, Tensor) for t in leaves):
        raise NotImplementedError(
            "adjit.compile: while_loop's carried_inputs must be tensors (an int carry would "
            "come back as a tensor); pass adjit.tensor(n) instead of n"
        )
    avals = [aval_of(t) for t in leaves]
    cond_graph, cond_closed = trace_body(
        lambda ins: [_bool_tensor(test(ins))], avals, "while_loop's cond_fn"
    )
    body_graph, body_closed = trace_body(body, avals, "while_loop's body_fn")
    attrs: dict[str, Any] = {"cond": cond_graph, "body": body_graph}
    attrs |= {"n_cond": len(cond_closed), "n_body": len(body_closed)}
    out = parts(emit_control(Op.WHILE, [*cond_closed, *body_closed, *leaves], attrs))
    return tuple(unflatten(spec, out))


def _bool_tensor(p: Any) -> Tensor:
    return p if isinstance(p, Tensor) else as_tensor(p)


def cond(
    pred: Any, true_fn: Callable[..., Any], false_fn: Callable[..., Any], operands: Any = ()
) -> Any:
    """``torch.cond``: ``true_fn(*operands)`` if ``pred`` else ``false_fn(*operands)``.
    Compiled, both branches are traced and the one ``pred`` selects runs; it is
    differentiable (its VJP is a cond of the branches' VJPs)."""
    if not isinstance(pred, bool | Tensor):
        raise RuntimeError(f"Expected pred to be bool or tensor, but got {pred}.")
    if isinstance(pred, Tensor) and pred.numel() != 1:
        raise RuntimeError(f"Expected pred to be bool or single-element tensor, but got {pred}.")
    if not callable(true_fn) or not callable(false_fn):
        raise RuntimeError("Expect both branches to be callable.")
    leaves, spec = flatten(operands) if isinstance(operands, tuple | list) else ([None], None)
    if spec is None or any(not isinstance(t, Tensor) for t in leaves):
        raise RuntimeError(
            "Expect operands to be a tuple of possibly nested dict/list/tuple that only "
            f"consists of tensor leaves, but got {operands}."
        )
    if trace_state.current() is None or isinstance(pred, bool):
        return cond_eager(pred, true_fn, false_fn, operands)
    out_specs: list[Any] = []

    def branch(fn: Callable[..., Any]) -> Callable[[Leaves], Leaves]:
        def run(ins: Leaves) -> Leaves:
            outs, out_spec = _leaves(fn(*unflatten(spec, ins)), "cond's branch output")
            out_specs.append((out_spec, [aval_of(t) for t in outs]))
            return outs

        return run

    avals = [aval_of(cast(Tensor, t)) for t in leaves]
    true_graph, true_closed = trace_body(branch(true_fn), avals, "cond's true_fn")
    false_graph, false_closed = trace_body(branch(false_fn), avals, "cond's false_fn")
    (s1, a1), (s2, a2) = out_specs
    if s1 != s2 or a1 != a2:
        raise RuntimeError(
            "cond: true_fn and false_fn must return outputs of the same structure, shapes and "
            f"dtypes, got {_describe(s1)} {[str(a) for a in a1]} and {_describe(s2)} "
            f"{[str(a) for a in a2]}"
        )
    # each branch takes every operand: its own closures, the other's, then the operands
    true_graph = _widen(true_graph, len(true_closed), [], [aval_of(t) for t in false_closed])
    false_graph = _widen(false_graph, len(false_closed), [aval_of(t) for t in true_closed], [])
    p = cast(Any, pred).reshape(())
    p = p if pred.dtype.name == "bool" else p != 0
    args = [p, *true_closed, *false_closed, *leaves]
    out = parts(emit_control(Op.COND, args, {"true_fn": true_graph, "false_fn": false_graph}))
    return unflatten(s1, out)


def _widen(g: Graph, own: int, before: list[Aval], after: list[Aval]) -> Graph:
    """``g`` (inputs: its ``own`` closures, then the operands) also taking the other branch's
    closures, unused: ``before`` its own, or ``after``."""
    b, a = (tuple(Var(x) for x in avals) for avals in (before, after))
    return g.replace(inputs=(*b, *g.inputs[:own], *a, *g.inputs[own:]))
