"""The adjoints of loops and branches: a scan's is a reverse scan, a cond's a cond of VJPs.

Note [the adjoint of a scan]
~~~~~~~~~~~~~~~~~~~~~~~~~~~~
The body of ``(c_T, ys) = scan(body, c_0, xs)`` with consts ``w`` (closed-over values) is
differentiated once, by the same driver (recursively: a scan in a body works), with respect to
its float carries and the consts and xs that need gradients; its joint graph is optimized and
split (passes/split.py) into a forward step ``(w, c_i, x_i) -> (c_i+1, y_i, r_i)`` and a
backward step ``(r_i, the inputs it reads; ct_c, ct_y_i) -> (dw, dc, dx)``. The forward scan
runs the forward step and stacks the residuals ``r_i`` (and the carries the backward step
reads) on a new leading axis: that is what the forward program saves per iteration, and
``explain().saved`` lists it as ``f32[T, ...]`` values. The backward is one reverse scan of the
backward step:

    ct_c, ct_w = ct_c_T, 0
    for i = T-1 .. 0:                      (0 .. T-1 when the forward ran in reverse)
        dw, dc, dx = backward_step(r[i], c[i], x[i], w; ct_c, ct_ys[i])
        ct_c, ct_w, ct_xs[i] = dc, ct_w + dw, dx

so the consts' gradients are accumulated in a carry (never a stacked ``[T, *w.shape]``; but
see Note [batched weight gradients]). With ``checkpoint=True`` the forward step is the body
itself and only the carries are saved: the backward step is the whole joint graph, which
recomputes the body's forward from the saved carry (one carry per iteration is the memory).
(A body that draws random numbers is never recomputed: its draws are residuals, whatever
``checkpoint`` says.) ``checkpoint=k`` is a scan of segments of ``k`` steps that saves its
carry only, whose body is a scan saving residuals (frontend/control.py). ``while`` has no
adjoint (its trip count is known only when it runs, as in JAX): reverse mode through it
raises, naming scan and fori_loop with static bounds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..ir.aval import Aval
from ..ir.control import has_effects
from ..ir.graph import Atom, Eqn, Graph, Var
from ..ir.ops import Op
from .dce import dce

# the nested adjoint: ``differentiate(graph, wrt)`` -> Joint (the builder's, see Builder.joint)
Differentiate = Callable[[Graph, Sequence[int]], Any]

WHILE_ERROR = (
    "Reverse-mode differentiation does not work for adjit.while_loop (its trip count is known "
    "only when it runs). Try adjit.scan, or adjit.fori_loop with static int lower and upper "
    "bounds, which lower to a scan."
)


@dataclass(frozen=True)
class ScanPlan:
    """How an active scan is differentiated (Note [the adjoint of a scan]): the forward that
    runs (``saving``: it also stacks per iteration the body's residuals, then the carries its
    backward reads), and the body's backward: inputs ``(residuals.., the body inputs it reads
    (``reads``, positions).., cotangents of the body outputs ``cts_of``..)``, outputs the
    gradients of the body inputs ``wrt``."""

    saving: Eqn
    backward: Graph
    n_res: int
    reads: tuple[int, ...]
    cts_of: tuple[int, ...]
    wrt: tuple[int, ...]


def scan_plan(e: Eqn, active: Sequence[bool], differentiate: Differentiate) -> ScanPlan:
    """Differentiate the body once, w.r.t. its float carries and active consts and xs; split
    its joint graph into what runs forward and what runs backward (or, with ``checkpoint``,
    save only the carries and recompute the whole body backward)."""
    from .adjoint import Joint
    from .pipeline import run_pipeline
    from .split import split

    body: Graph = e.attrs["body"]
    k, c = e.attrs["n_consts"], e.attrs["n_carry"]
    n_in = len(body.inputs)
    ins = body.inputs
    wrt = tuple(i for i in range(n_in) if _floating(ins[i].aval) and (k <= i < k + c or active[i]))
    joint = differentiate(body, wrt)
    n_fwd = len(joint.graph.inputs) - len(joint.cotangent_of)
    # a body that draws is never recomputed: its draws would differ (they are residuals)
    if e.attrs["checkpoint"] and not has_effects(e.attrs):
        backward = joint.graph.replace(outputs=joint.graph.outputs[joint.n_outputs :])
        forward, n_res, reads = body, 0, tuple(range(n_in))
        fwd_ins = body.inputs
    else:
        graph, _ = run_pipeline(joint.graph, verify=False)
        parts = split(Joint(graph, joint.n_forward_eqns, joint.n_outputs, wrt, joint.cotangent_of))
        forward, backward = parts.forward, parts.backward
        n_res, reads = len(parts.residuals), parts.saved_inputs
        fwd_ins = forward.inputs
    assert n_fwd == n_in
    carries_read = [i for i in reads if k <= i < k + c]
    saving_body = forward.replace(outputs=(*forward.outputs, *(fwd_ins[i] for i in carries_read)))
    saving = Eqn(e.op, e.inputs, {**e.attrs, "body": saving_body}, e.out, e.loc, e.no_grad)
    return ScanPlan(saving, backward, n_res, tuple(reads), tuple(joint.cotangent_of), wrt)


def _call(builder: Any, op: Op, args: list[Any], attrs: dict[str, Any]) -> Any:
    """A new equation ``op[attrs](args)`` on the builder's values (Builder.call)."""
    return builder.call(op, args, attrs)


def _parts(builder: Any, tup: Any, first: int, count: int) -> list[Any]:
    return [_call(builder, Op.GET, [tup], {"index": first + k}) for k in range(count)]


def _floating(a: Aval) -> bool:
    return a.dtype.is_floating_point


def _body_vjp(
    body: Graph, wrt: list[int], differentiate: Differentiate
) -> tuple[Graph, dict[int, Var], list[Atom]]:
    """The adjoint of ``body`` w.r.t. inputs ``wrt``: (joint graph, the cotangent input of each
    body output that takes one, the gradient of each ``wrt`` input)."""
    joint = differentiate(body, wrt)
    g: Graph = joint.graph
    n_in = len(body.inputs)
    cts = dict(zip(joint.cotangent_of, g.inputs[n_in:], strict=True))
    return g, cts, list(g.outputs[joint.n_outputs :])


def _fresh(v: Atom) -> Var:
    return Var(Aval(v.aval.shape, v.aval.dtype))


def scan_vjp(
    e: Eqn,
    plan: ScanPlan,
    g: dict[int, Any],
    args: list[Any],
    tup: Any,
    needs: tuple[bool, ...],
    builder: Any,
) -> list[Any]:
    """One cotangent (or None) per input of scan ``e`` given its parts' cotangents ``g``:
    the reverse scan of ``plan.backward``; ``tup`` is the value of ``plan.saving``."""
    a = e.attrs
    body: Graph = a["body"]
    k, c, length = a["n_consts"], a["n_carry"], a["length"]
    n_y = len(body.outputs) - c
    ins, outs = body.inputs, [o.aval for o in body.outputs]
    bwd = plan.backward
    n_res, n_reads = plan.n_res, len(plan.reads)
    res_in = bwd.inputs[:n_res]
    read_in = dict(zip(plan.reads, bwd.inputs[n_res : n_res + n_reads], strict=True))
    ct_in = dict(zip(plan.cts_of, bwd.inputs[n_res + n_reads :], strict=True))
    grad_of = dict(zip(plan.wrt, bwd.outputs, strict=True))
    d_consts = [j for j in plan.wrt if j < k]
    d_carry = [i - k for i in plan.wrt if k <= i < k + c]
    d_xs = [m - k - c for m in plan.wrt if m >= k + c]
    consts_read = [j for j in plan.reads if j < k]
    carries_read = [i for i in plan.reads if k <= i < k + c]
    xs_read = [m for m in plan.reads if m >= k + c]
    active_ys = [m for m in range(n_y) if c + m in ct_in]
    # Note [batched weight gradients]: a const's gradient ``x_t^T @ f_t`` of a slice ``x_t``
    # (an input, a residual, a saved carry) and an in-loop ``f_t`` sums, over the loop, to
    # one product ``X^T F`` of the stacked slices and the stacked ``f``s: the reverse body
    # stacks ``f_t`` as a y instead of adding a product per iteration (an RNN's weights'
    # gradients: one large GEMM each after the loop, not ``length`` small ones in it); a
    # gradient ``sum(f_t, axes)`` (a bias's) is likewise one sum of the stacked ``f``s
    slices = [*res_in, *(read_in[i] for i in carries_read), *(read_in[m] for m in xs_read)]
    producers = {q.out: q for q in bwd.eqns}
    where = {v: n for n, v in enumerate(slices)}
    batched = {
        j: f for j in d_consts if (f := _batchable(grad_of[j], producers, where)) is not None
    }
    summed = [j for j in d_consts if j not in batched]
    # the reverse body: consts (those read), carries (the carries' cotangents, the consts'
    # sums), xs (residuals, carries read, xs read, the ys' cotangents) -> carries, dxs, fs
    ct_carry = [ct_in.get(i) or _fresh(body.outputs[i]) for i in d_carry]
    sums = [_fresh(ins[j]) for j in summed]
    added = [
        Eqn(Op.ADD, (s, grad_of[j]), {}, Var(Aval(s.aval.shape, s.aval.dtype)))
        for s, j in zip(sums, summed, strict=True)
    ]
    reverse_body = dce(
        Graph(
            (
                *(read_in[j] for j in consts_read),
                *ct_carry,
                *sums,
                *slices,
                *(ct_in[c + m] for m in active_ys),
            ),
            (*bwd.eqns, *added),
            (
                *(grad_of[k + i] for i in d_carry),
                *(x.out for x in added),
                *(grad_of[k + c + m] for m in d_xs),
                *(f for _, f in batched.values()),
            ),
            bwd.consts,
        )
    )
    if len(tup._var.aval.parts) == c + n_y:  # the forward as traced, not ``saving``
        if has_effects(a):  # (InlineBuilder: backward() inside a compiled function)
            raise NotImplementedError(
                "backward() inside adjit.compile through a scan whose body draws random "
                "numbers would draw them again; use adjit.grad / value_and_grad, or call "
                "backward() outside the compiled function"
            )
        tup = _call(builder, Op.SCAN, args, plan.saving.attrs)  # run it again
    stacked = _parts(builder, tup, c + n_y, n_res + len(carries_read))
    outer = [*stacked, *(args[m] for m in xs_read)]  # the slices' stacked values
    seeds = [g[i] if i in g else builder.zeros(outs[i]) for i in d_carry]
    zero_sums = [builder.zeros(ins[j].aval) for j in summed]
    ys_cts = [
        g[c + m]
        if c + m in g
        else builder.zeros(Aval((length, *outs[c + m].shape), outs[c + m].dtype))
        for m in active_ys
    ]
    n_carry = len(d_carry) + len(summed)
    result = _call(
        builder,
        Op.SCAN,
        [*(args[j] for j in consts_read), *seeds, *zero_sums, *outer, *ys_cts],
        {
            "body": reverse_body,
            "length": length,
            "reverse": not a["reverse"],
            "n_consts": len(consts_read),
            "n_carry": n_carry,
            "checkpoint": a["checkpoint"],
        },
    )
    parts = _parts(builder, result, 0, n_carry + len(d_xs) + len(batched))
    const_cts = dict(zip(summed, parts[len(d_carry) : n_carry], strict=True))
    for (j, (n, factor)), fs in zip(batched.items(), parts[n_carry + len(d_xs) :], strict=True):
        if isinstance(n, tuple):  # a sum over ``n``: over the iterations too
            axes = {"axes": (0, *(ax + 1 for ax in n)), "keepdim": False}
            const_cts[j] = _call(builder, Op.SUM, [fs], axes)
            continue
        rows = length * slices[n].aval.shape[0]
        x = _call(builder, Op.RESHAPE, [outer[n]], {"shape": (rows, slices[n].aval.shape[1])})
        xt = _call(builder, Op.PERMUTE, [x], {"axes": (1, 0)})
        fs = _call(builder, Op.RESHAPE, [fs], {"shape": (rows, factor.aval.shape[1])})
        const_cts[j] = _call(builder, Op.MATMUL, [xt, fs], {})
    cts: list[Any] = [None] * len(e.inputs)
    for n, i in enumerate(d_carry):
        cts[k + i] = parts[n] if needs[k + i] else None
    for j, ct in const_cts.items():
        cts[j] = ct
    for n, m in enumerate(d_xs):
        cts[k + c + m] = parts[n_carry + n]
    return cts


def _batchable(
    grad: Atom, producers: dict[Var, Eqn], where: dict[Var, int]
) -> tuple[int | tuple[int, ...], Var] | None:
    """(the slice's position, ``f``) when ``grad`` is ``slice^T @ f`` of 2-D operands, or
    (the axes, ``f``) when it is ``sum(f, axes)``; else None (Note [batched weight
    gradients])."""
    q = producers.get(grad) if isinstance(grad, Var) else None
    if q is not None and q.op is Op.SUM and isinstance(q.inputs[0], Var):
        axes, keep = q.attrs["axes"], q.attrs["keepdim"]
        if axes is None or keep or any(ax < 0 for ax in axes):
            return None
        return tuple(axes), q.inputs[0]
    if q is None or q.op is not Op.MATMUL:
        return None
    a, f = q.inputs
    p = producers.get(a) if isinstance(a, Var) else None
    if p is None or p.op is not Op.PERMUTE or p.attrs["axes"] != (1, 0):
        return None
    u = p.inputs[0]
    if not isinstance(u, Var) or u not in where or not isinstance(f, Var) or f.aval.ndim != 2:
        return None
    return where[u], f


def cond_vjp(
    e: Eqn,
    g: dict[int, Any],
    args: list[Any],
    needs: tuple[bool, ...],
    builder: Any,
    differentiate: Differentiate,
) -> list[Any]:
    """A cond of the branches' VJPs: both take ``(operands.., cotangents of the outputs..)``
    and give the operands' cotangents (zeros where a branch does not reach one)."""
    if has_effects(e.attrs):  # the branch VJPs recompute the branch: it would draw again
        raise NotImplementedError(
            "adjit.cond: differentiating a branch that draws random numbers is not supported "
            "yet (its backward would draw them again); draw outside the cond and pass the "
            "sample in its operands"
        )
    branches: list[Graph] = [e.attrs["true_fn"], e.attrs["false_fn"]]
    ins = branches[0].inputs
    wrt = [i for i in range(len(ins)) if needs[1 + i] and _floating(ins[i].aval)]
    outs = [o.aval for o in branches[0].outputs]
    d_outs = [m for m in range(len(outs)) if _floating(outs[m])]
    vjps = []
    for branch in branches:
        joint, ct_in, grads = _body_vjp(branch, wrt, differentiate)
        cts = [ct_in.get(m) or _fresh(branch.outputs[m]) for m in d_outs]
        vjps.append(
            dce(Graph((*joint.inputs[: len(ins)], *cts), joint.eqns, tuple(grads), joint.consts))
        )
    seeds = [g[m] if m in g else builder.zeros(outs[m]) for m in d_outs]
    result = _call(builder, Op.COND, [*args, *seeds], {"true_fn": vjps[0], "false_fn": vjps[1]})
    parts = _parts(builder, result, 0, len(wrt))
    found: list[Any] = [None] * len(e.inputs)
    for n, i in enumerate(wrt):
        found[1 + i] = parts[n]
    return found
