"""The batching (vmap) table: one rule per primitive, written on the Tensor API.

Note [batching rules]
~~~~~~~~~~~~~~~~~~~~~
A rule computes an equation of the per-example program for every example at once. It takes
the pass's context ``ctx`` (``ctx.size``: the batch size, ``ctx.out``: the equation's
per-example output Aval, ``ctx.bind(args, **attrs)``: the equation's op with changed
attributes, ``ctx.call(op, args, **attrs)``: another op, ``ctx.randomness``), the operands'
values and their batch dims (0: batched, the batch leading; None: the same for every example;
an operand that was a Python number arrives as that number with dim None), and the op's
attributes by name. It returns ``(value, dim)``: the batched value and where its batch dim is
(0, a later dim the pass moves to 0, or None), for a tuple-valued equation one dim per part.
The pass calls a rule only when some operand is batched (and always for RANDOM, whose draws
depend on ``randomness``). The values are builder tensors (tracers emitting the batched
graph), so a rule is made of ordinary Tensor methods, like the derivative table's rules.

Per-example shapes stay per-example: an elementwise op pads batched operands with size-1
dims after the batch dim to the per-example rank of the result (broadcasting aligns on the
right); an op whose operands must agree in shape (cat, gather, LAPACK, special functions)
gets its unbatched operands expanded to the batch; axes and shapes in attributes shift by
one. CUSTOM_VJP asks its rule object for the batched rule (``rule.batched(in_dims, size)``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from math import prod
from typing import Any, Protocol

from .aval import Aval
from .collectives import collective_batching
from .dtypes import int64
from .ops import GroupOp, Op
from .shapes import broadcast_shapes, index_shape, split_index

Dim = int | None


class BatchContext(Protocol):
    size: int
    out: Aval
    randomness: str

    def bind(self, args: Sequence[Any], **attrs: Any) -> Any:
        """The equation's own op on ``args``, with ``attrs`` replacing some attributes."""

    def call(self, op: Op, args: Sequence[Any], **attrs: Any) -> Any:
        """Another op on ``args`` (e.g. IOTA for a batch of positions)."""

    def sub(
        self, graph: Any, in_dims: Sequence[Dim], expand: Sequence[bool] = ()
    ) -> tuple[Any, list[Dim]]:
        """A loop's or branch's body batched (passes/batching.py), outputs ``expand``ed."""

    def inline(self, graph: Any, args: Sequence[Any]) -> list[Any]:
        """A graph's equations run here, on ``args`` (both branches of a batched cond)."""

    def subgraph(self, fn: Callable[..., list[Any]], avals: Sequence[Aval]) -> Any:
        """A new graph on inputs of ``avals``: ``fn(inputs, run)`` gives its outputs, where
        ``run(graph, args)`` runs a graph's equations on that new graph's values."""


Rule = Callable[..., tuple[Any, Any]]

RANDOM_ERROR = (
    "vmap: called random operation while in randomness error mode. Please either use the "
    "'same' or 'different' randomness flags on vmap or perform the randomness operation out "
    "of vmap"
)
SAME_RANDOMNESS_ERROR = (
    "Vmap does not currently support same randomness with a batched tensor input. Please "
    "file an issue with functorch"
)
FUNCTION_ERROR = (
    "You tried to vmap over {name}, but it does not have vmap support. Please override and "
    "implement the vmap staticmethod or set generate_vmap_rule=True. For more details, please "
    "see https://pytorch.org/docs/main/notes/extending.func.html"
)


def is_number(x: Any) -> bool:
    return isinstance(x, bool | int | float)


def ex_ndim(x: Any, d: Dim) -> int:
    """The per-example rank of a value (0 for a Python number)."""
    return 0 if is_number(x) else x.ndim - (d is not None)


def pad(x: Any, d: Dim, rank: int) -> Any:
    """A batched value with size-1 dims after the batch dim, to per-example rank ``rank``."""
    extra = rank - ex_ndim(x, d)
    if d is None or extra <= 0:
        return x
    shape = tuple(x.shape)
    return x.reshape((shape[0], *([1] * extra), *shape[1:]))


def spread(x: Any, d: Dim, size: int) -> Any:
    """A value with the batch dim leading: unbatched ones expanded (no copy)."""
    if d is not None:
        return x
    return x.unsqueeze(0).expand((size, *x.shape))


def _norm(axis: int, nd: int) -> int:
    return axis % max(nd, 1)


# ---- elementwise ---------------------------------------------------------------------------------
def _elementwise(ctx: BatchContext, args: list[Any], dims: list[Dim], **attrs: Any) -> tuple:
    rank = max(ex_ndim(a, d) for a, d in zip(args, dims, strict=True))
    return ctx.bind([pad(a, d, rank) for a, d in zip(args, dims, strict=True)]), 0


def _special(ctx: BatchContext, args: list[Any], dims: list[Dim], **attrs: Any) -> tuple:
    shape = (ctx.size, *ctx.out.shape)  # the operands all have the output's shape
    return ctx.bind(
        [spread(a, d, ctx.size).expand(shape) for a, d in zip(args, dims, strict=True)]
    ), 0


# ---- reductions and sorting ----------------------------------------------------------------------
def _reduce(ctx: BatchContext, args: list[Any], dims: list[Dim], *, axes: Any, keepdim: bool):
    (x,) = args
    nd = x.ndim - 1
    if nd == 0:  # a 0-d tensor reduces over "dim 0" to itself
        return ctx.bind([x], axes=(), keepdim=keepdim), 0
    shifted = tuple(range(1, nd + 1)) if axes is None else tuple(_norm(a, nd) + 1 for a in axes)
    return ctx.bind([x], axes=shifted, keepdim=keepdim), 0


def _argreduce(ctx: BatchContext, args: list[Any], dims: list[Dim], *, axes: Any, keepdim: bool):
    (x,) = args
    nd = x.ndim - 1
    if axes is None or nd == 0:  # an index into the flattened example
        flat = x.reshape((ctx.size, prod(x.shape[1:])))
        out = ctx.bind([flat], axes=(1,), keepdim=False)
        return (out.reshape((ctx.size, *[1] * nd)) if keepdim else out), 0
    return ctx.bind([x], axes=(_norm(axes[0], nd) + 1,), keepdim=keepdim), 0


def _argsort(ctx: BatchContext, args: list[Any], dims: list[Dim], *, axis: int, **attrs: Any):
    (x,) = args
    nd = x.ndim - 1
    if nd == 0:
        return ctx.bind([x.reshape((ctx.size, 1))], axis=1).reshape((ctx.size,)), 0
    return ctx.bind([x], axis=_norm(axis, nd) + 1), 0


def _searchsorted(ctx: BatchContext, args: list[Any], dims: list[Dim], *, right: bool):
    seq, values = args
    sd, vd = dims
    b = ctx.size
    if sd is None and seq.ndim == 1:  # one sorted row for every example
        return ctx.bind([seq, values]), vd
    values = spread(values, vd, b)
    seq = spread(seq, sd, b)
    if seq.ndim == 2:  # a 1-D row per example: it needs the values' leading dims
        if values.ndim == 1:
            out = ctx.bind([seq, values.reshape((b, 1))])
            return out.reshape((b,)), 0
        lead = tuple(values.shape[1:-1])
        n = seq.shape[-1]
        seq = seq.reshape((b, *[1] * len(lead), n)).expand((b, *lead, n))
    return ctx.bind([seq, values]), 0


# ---- movement ------------------------------------------------------------------------------------
def _reshape(ctx: BatchContext, args: list[Any], dims: list[Dim], *, shape: tuple):
    return ctx.bind(args, shape=(ctx.size, *shape)), 0


def _permute(ctx: BatchContext, args: list[Any], dims: list[Dim], *, axes: tuple):
    return ctx.bind(args, axes=(0, *(a + 1 for a in axes))), 0


def _expand(ctx: BatchContext, args: list[Any], dims: list[Dim], *, shape: tuple):
    (x,) = args
    return ctx.bind([pad(x, 0, len(shape))], shape=(ctx.size, *shape)), 0


def _index_layout(spec: tuple, idx_shapes: list[tuple], out_ndim: int) -> tuple[tuple, list[int]]:
    """The spec with a leading batch index (("tensor", 0), the others renumbered), and the
    permutation of its result (batch, broadcast index dims, the other dims) that gives the
    batch followed by the per-example layout."""
    _, positions = split_index(spec)
    k = len(broadcast_shapes(*idx_shapes)) if idx_shapes else 0
    new = (("tensor", 0), *(("tensor", it[1] + 1) if it[0] == "tensor" else it for it in spec))
    rest = out_ndim - k
    contiguous = positions == list(range(positions[0], positions[-1] + 1))
    first = positions[0] if contiguous else 0
    # the batched result is (B, *bshape, *rest); per example it is rest[:first] bshape rest[first:]
    order = [0, *(k + 1 + i for i in range(first)), *range(1, k + 1)]
    order += [k + 1 + i for i in range(first, rest)]
    return new, order


def _batched_indices(ctx: BatchContext, idx: list[Any], idd: list[Dim]) -> list[Any]:
    """The index tensors with a leading batch index: positions 0..B-1 and every batched one
    padded so that all broadcast to (B, *bshape)."""
    shapes = [
        tuple(i.shape[1:]) if d is not None else tuple(i.shape)
        for i, d in zip(idx, idd, strict=True)
    ]
    k = len(broadcast_shapes(*shapes))
    positions = ctx.call(Op.IOTA, [], length=ctx.size, dtype=int64)
    return [
        positions.reshape((ctx.size, *[1] * k)),
        *(pad(i, d, k) for i, d in zip(idx, idd, strict=True)),
    ]


def _index(ctx: BatchContext, args: list[Any], dims: list[Dim], *, spec: tuple):
    x, *idx = args
    xd, *idd = dims
    b = ctx.size
    if all(d is None for d in idd):  # the examples are a leading full slice
        return ctx.bind([x, *idx], spec=(("slice", 0, b, 1), *spec)), 0
    shapes = [
        tuple(i.shape[1:]) if d is not None else tuple(i.shape)
        for i, d in zip(idx, idd, strict=True)
    ]
    new, order = _index_layout(spec, shapes, len(ctx.out.shape))
    out = ctx.bind([spread(x, xd, b), *_batched_indices(ctx, idx, idd)], spec=new)
    return out.permute(tuple(order)), 0


def _index_add(
    ctx: BatchContext, args: list[Any], dims: list[Dim], *, spec: tuple, shape: tuple
) -> tuple:
    g, *idx = args
    gd, *idd = dims
    b = ctx.size
    shapes = [
        tuple(i.shape[1:]) if d is not None else tuple(i.shape)
        for i, d in zip(idx, idd, strict=True)
    ]
    part = index_shape(tuple(shape), spec, shapes)  # what ``g`` broadcasts to, per example
    if all(d is None for d in idd):
        g = pad(g, gd, len(part))
        return ctx.bind([g, *idx], spec=(("slice", 0, b, 1), *spec), shape=(b, *shape)), 0
    new, order = _index_layout(spec, shapes, len(part))
    inverse = tuple(sorted(range(len(order)), key=order.__getitem__))
    g = pad(spread(g, gd, b), 0, len(part)).expand((b, *part)).permute(inverse)
    return ctx.bind([g, *_batched_indices(ctx, idx, idd)], spec=new, shape=(b, *shape)), 0


def _gather(ctx: BatchContext, args: list[Any], dims: list[Dim], *, axis: int):
    x, index = (spread(a, d, ctx.size) for a, d in zip(args, dims, strict=True))
    nd = x.ndim - 1
    if nd == 0:
        b1 = (ctx.size, 1)
        return ctx.bind([x.reshape(b1), index.reshape(b1)], axis=1).reshape((ctx.size,)), 0
    return ctx.bind([x, index], axis=_norm(axis, nd) + 1), 0


def _scatter_add(ctx: BatchContext, args: list[Any], dims: list[Dim], *, axis: int, shape: tuple):
    src, index = (spread(a, d, ctx.size) for a, d in zip(args, dims, strict=True))
    b = ctx.size
    nd = len(shape)
    if nd == 0:
        out = ctx.bind([src.reshape((b, 1)), index.reshape((b, 1))], axis=1, shape=(b, 1))
        return out.reshape((b,)), 0
    return ctx.bind([src, index], axis=_norm(axis, nd) + 1, shape=(b, *shape)), 0


def _cat(ctx: BatchContext, args: list[Any], dims: list[Dim], *, axis: int):
    xs = [spread(a, d, ctx.size) for a, d in zip(args, dims, strict=True)]
    return ctx.bind(xs, axis=_norm(axis, xs[0].ndim - 1) + 1), 0


def _windows(ctx: BatchContext, args: list[Any], dims: list[Dim], **attrs: Any) -> tuple:
    """unfold/fold take (N, ...) batches already: the examples join N."""
    (x,) = args
    shape = tuple(x.shape)
    out = ctx.bind([x.reshape((shape[0] * shape[1], *shape[2:]))])
    return out.reshape((ctx.size, *ctx.out.shape)), 0


# ---- contraction, LAPACK -------------------------------------------------------------------------
def _matmul(ctx: BatchContext, args: list[Any], dims: list[Dim]) -> tuple:
    x, y = args
    xd, yd = dims
    xe, ye = ex_ndim(x, xd), ex_ndim(y, yd)
    b = ctx.size
    if yd is None and y.ndim == 2:  # rows of every example against one matrix: one GEMM
        rows = x.reshape((prod(x.shape[:-1]), x.shape[-1]))
        return ctx.bind([rows, y]).reshape((b, *ctx.out.shape)), 0
    # 1-D operands as matrices (PyTorch's rule), batch dims padded to one rank
    x2 = x.unsqueeze(-2) if xe == 1 else x
    y2 = y.unsqueeze(-1) if ye == 1 else y
    rank = max(ex_ndim(x2, xd), ex_ndim(y2, yd))
    operands = [pad(x2, xd, rank), pad(y2, yd, rank)]
    # k = 1: outer products (a weight's per-example gradient), one product each: a multiply
    # gives the same numbers, where a batched GEMM of k = 1 is slow
    outer = x2.shape[-1] == 1
    out = ctx.call(Op.MUL, operands) if outer else ctx.bind(operands)
    if ye == 1:
        out = out.squeeze(-1)
    if xe == 1:
        out = out.squeeze(-1 if ye == 1 else -2)
    return out, 0


def _stacked(ctx: BatchContext, args: list[Any], dims: list[Dim], **attrs: Any) -> tuple:
    """Ops that batch over leading dims already (LINALG: every func takes (*batch, m, n))."""
    return ctx.bind([spread(a, d, ctx.size) for a, d in zip(args, dims, strict=True)]), 0


# ---- identities ----------------------------------------------------------------------------------
def _identity(ctx: BatchContext, args: list[Any], dims: list[Dim], **attrs: Any) -> tuple:
    return ctx.bind(args), dims[0]


def _check(ctx: BatchContext, args: list[Any], dims: list[Dim], **attrs: Any) -> tuple:
    x, ok, *detail = args
    xd, okd, *dd = dims
    if any(d is not None for d in dd) and okd is None:  # the detail broadcasts to the condition
        ok, okd = spread(ok, okd, ctx.size), 0
    if okd is not None:
        rank = max([ex_ndim(ok, okd), *(ex_ndim(t, d) for t, d in zip(detail, dd, strict=True))])
        ok = pad(ok, okd, rank)
        detail = [pad(t, d, rank) for t, d in zip(detail, dd, strict=True)]
    return ctx.bind([x, ok, *detail]), xd


def _custom_vjp(ctx: BatchContext, args: list[Any], dims: list[Dim], *, rule: Any) -> tuple:
    own = getattr(rule, "vmap_value", None)  # a custom Function's rule batches its equation
    if own is not None:  # itself (Note [custom rules under vmap and jvp], autograd/batched.py)
        return own(args, dims, ctx.size, ctx.randomness)
    batched = getattr(rule, "batched", None)
    if batched is None:
        owner = getattr(rule, "cls", None) or getattr(getattr(rule, "call", None), "cls", None)
        if owner is not None:  # a user's autograd.Function (its rules define ``batched``)
            raise RuntimeError(FUNCTION_ERROR.format(name=getattr(owner, "__name__", owner)))
        batched = getattr(ctx, "batched_rule", None)
        if batched is None:
            raise NotImplementedError(f"vmap: no batching rule for the custom rule {rule!r}")
        return ctx.bind(args, rule=batched(rule, tuple(dims), ctx.size)), dims[0]
    return ctx.bind(args, rule=batched(tuple(dims), ctx.size)), dims[0]


# ---- sampling ------------------------------------------------------------------------------------
# samplers whose draw of shape (B, *shape) is B independent draws of ``shape``, each drawn as
# PyTorch's vmap with randomness="different" draws them (one call on the batched shape)
IID_SAMPLERS = frozenset(
    {"uniform", "normal", "random_from_to", "random_default", "random_full_range"}
    | {"exponential", "geometric", "cauchy", "log_normal", "bernoulli_scalar"}
    | {"bernoulli_tensor", "poisson", "normal_tensor", "dropout", "rrelu"}
)
EFFECTS = frozenset({"manual_seed", "get_state", "set_state"})


def _random(
    ctx: BatchContext, args: list[Any], dims: list[Dim], *, sampler: str, shape: tuple,
    params: tuple, **attrs: Any,
) -> tuple:  # fmt: skip
    batched = any(d is not None for d in dims)
    if sampler in EFFECTS and not batched:
        return ctx.bind(args), None  # the generator's state, not a draw
    if ctx.randomness == "error":
        raise RuntimeError(RANDOM_ERROR)
    if ctx.randomness == "same":
        if batched:
            raise RuntimeError(SAME_RANDOMNESS_ERROR)
        return ctx.bind(args), None
    b = ctx.size
    inputs = [spread(a, d, b) for a, d in zip(args, dims, strict=True)]
    if sampler in IID_SAMPLERS:
        ps = tuple(
            (k, None if v is None else (0, *(o + 1 for o in v))) if k == "order" else (k, v)
            for k, v in params
        )
        inputs = [
            pad(t, 0, len(shape)).expand((b, *shape)) if tuple(t.shape[1:]) != shape else t
            for t in inputs
        ]
        return ctx.bind(inputs, shape=(b, *shape), params=ps), 0
    if sampler == "alpha_dropout":  # (2, *mask): the noise and the offset stacked
        return ctx.bind(inputs, shape=(shape[0], b, *shape[1:])), 1
    if sampler == "multinomial":  # rows of categories: the examples' rows drawn as one matrix
        (probs,) = inputs
        rows = probs.reshape((prod(probs.shape[:-1]), probs.shape[-1]))
        flat = ctx.bind([rows], shape=(rows.shape[0], shape[-1]))
        return flat.reshape((b, *shape)), 0
    if sampler == "randperm":  # PyTorch draws one permutation per example, in order
        perms = [ctx.bind([]).reshape((1, *shape)) for _ in range(b)]
        return ctx.call(Op.CAT, perms, axis=0), 0
    raise NotImplementedError(
        f"vmap: sampler {sampler!r} has no batching rule for randomness='different' yet"
    )


# ---- loops and branches --------------------------------------------------------------------------
def _fixpoint(
    ctx: BatchContext, body: Any, lead: list[Dim], carry: list[Dim], tail: list[Dim]
) -> tuple[Any, list[Dim], list[Dim]]:
    """A body ``(lead.., carries.., tail..) -> (carries.., rest..)`` batched with the carries
    batched wherever an iteration may batch them (a fixpoint: at most one round per carry)."""
    carry = [None if d is None else 0 for d in carry]
    n_rest = len(body.outputs) - len(carry)
    while True:
        expand = [d is not None for d in carry] + [False] * n_rest
        graph, outs = ctx.sub(body, [*lead, *carry, *tail], expand)
        grown = [
            0 if (c is not None or o is not None) else None
            for c, o in zip(carry, outs, strict=False)
        ]
        if grown == carry:
            return graph, carry, outs
        carry = grown


def _scan(
    ctx: BatchContext, args: list[Any], dims: list[Dim], *, body: Any, length: int,
    reverse: bool, n_consts: int, n_carry: int, checkpoint: bool,
) -> tuple:  # fmt: skip
    k, c = n_consts, n_carry
    consts, init, xs = args[:k], args[k : k + c], args[k + c :]
    cd, idd, xd = dims[:k], dims[k : k + c], dims[k + c :]
    steps = [None if d is None else 0 for d in xd]
    graph, carry, outs = _fixpoint(ctx, body, list(cd), list(idd), steps)
    init = [
        spread(a, d, ctx.size) if w is not None else a
        for a, d, w in zip(init, idd, carry, strict=True)
    ]
    xs = [
        x if d is None else x.movedim(0, 1) for x, d in zip(xs, xd, strict=True)
    ]  # the steps lead
    attrs = dict(body=graph, length=length, reverse=reverse, n_consts=k, n_carry=c)
    out = ctx.bind([*consts, *init, *xs], checkpoint=checkpoint, **attrs)
    ys = [None if d is None else 1 for d in outs[c:]]  # stacked: (length, B, ...)
    return out, (*carry, *ys)


def _while(
    ctx: BatchContext, args: list[Any], dims: list[Dim], *, cond: Any, body: Any, n_cond: int,
    n_body: int,
) -> tuple:  # fmt: skip
    cc, bc, init = args[:n_cond], args[n_cond : n_cond + n_body], args[n_cond + n_body :]
    ccd, bcd, idd = dims[:n_cond], dims[n_cond : n_cond + n_body], dims[n_cond + n_body :]
    graph, carry, _ = _fixpoint(ctx, body, list(bcd), list(idd), [])
    cgraph, (pd,) = ctx.sub(cond, [*ccd, *carry])
    if pd is not None:  # examples stop at different steps
        return _while_masked(ctx, cc, bc, init, ccd, bcd, idd, cond, body)
    init = [
        spread(a, d, ctx.size) if w is not None else a
        for a, d, w in zip(init, idd, carry, strict=True)
    ]
    return ctx.bind([*cc, *bc, *init], cond=cgraph, body=graph), tuple(carry)


def _aval(x: Any) -> Aval:
    if is_number(x):
        raise NotImplementedError("vmap: a while_loop with a Python-number operand")
    return Aval(tuple(x.shape), x.dtype)


def _while_masked(
    ctx: BatchContext, cc: list[Any], bc: list[Any], init: list[Any], ccd: list[Dim],
    bcd: list[Dim], idd: list[Dim], cond: Any, body: Any,
) -> tuple:  # fmt: skip
    """A per-example condition: every carry batched, the loop runs while any example's
    condition holds, and an example whose condition fails keeps its carries (JAX's rule)."""
    b = ctx.size
    every = [0 for _ in init]
    graph, _ = ctx.sub(body, [*bcd, *every], [True] * len(init))
    cgraph, _ = ctx.sub(cond, [*ccd, *every], [True])
    init = [spread(a, d, b) for a, d in zip(init, idd, strict=True)]
    nc, nb = len(cc), len(bc)
    c_avals, b_avals, i_avals = [_aval(x) for x in cc], [_aval(x) for x in bc], map(_aval, init)
    carries = list(i_avals)

    def any_left(ins: list[Any], run: Callable[..., list[Any]]) -> list[Any]:
        return [run(cgraph, ins)[0].any()]

    def step(ins: list[Any], run: Callable[..., list[Any]]) -> list[Any]:
        ccs, bcs, cs = ins[:nc], ins[nc : nc + nb], ins[nc + nb :]
        live = run(cgraph, [*ccs, *cs])[0].reshape((b,))
        new = run(graph, [*bcs, *cs])
        return [
            n.where(live.reshape((b, *[1] * (n.ndim - 1))), c) for n, c in zip(new, cs, strict=True)
        ]

    new_cond = ctx.subgraph(any_left, [*c_avals, *carries])
    new_body = ctx.subgraph(step, [*c_avals, *b_avals, *carries])
    out = ctx.bind([*cc, *cc, *bc, *init], cond=new_cond, body=new_body, n_body=nc + nb)
    return out, tuple(0 for _ in init)


def _cond(
    ctx: BatchContext, args: list[Any], dims: list[Dim], *, true_fn: Any, false_fn: Any
) -> tuple:
    pred, *ops = args
    pd, *od = dims
    if pd is None:
        t, td = ctx.sub(true_fn, od)
        f, fd = ctx.sub(false_fn, od)
        want = [a is not None or b is not None for a, b in zip(td, fd, strict=True)]
        if want != [d is not None for d in td]:
            t, td = ctx.sub(true_fn, od, want)
        if want != [d is not None for d in fd]:
            f, fd = ctx.sub(false_fn, od, want)
        return ctx.bind([pred, *ops], true_fn=t, false_fn=f), tuple(td)
    # a per-example predicate: both branches run batched, each example takes its own
    every = [True] * len(true_fn.outputs)
    t, _ = ctx.sub(true_fn, od, every)
    f, _ = ctx.sub(false_fn, od, every)
    tv, fv = ctx.inline(t, ops), ctx.inline(f, ops)
    p = pred.reshape((ctx.size,))
    picked = [
        a.where(p.reshape((ctx.size, *[1] * (a.ndim - 1))), b) for a, b in zip(tv, fv, strict=True)
    ]
    return tuple(picked), tuple(0 for _ in picked)


def _get(ctx: BatchContext, args: list[Any], dims: list[Any], *, index: int) -> tuple:
    (tup,) = args
    d = dims[0][index]
    if isinstance(tup, tuple):  # a cond's inlined branches
        return tup[index], d
    return ctx.bind([tup]), d


BATCHING: dict[Op, Rule] = {
    **{op: _elementwise for op in GroupOp.ELEMENTWISE},
    Op.SUM: _reduce,
    Op.AMAX: _reduce,
    Op.AMIN: _reduce,
    Op.ARGMAX: _argreduce,
    Op.ARGMIN: _argreduce,
    Op.ARGSORT: _argsort,
    Op.SEARCHSORTED: _searchsorted,
    Op.RESHAPE: _reshape,
    Op.PERMUTE: _permute,
    Op.EXPAND: _expand,
    Op.INDEX: _index,
    Op.INDEX_ADD: _index_add,
    Op.GATHER: _gather,
    Op.SCATTER_ADD: _scatter_add,
    Op.CAT: _cat,
    Op.UNFOLD: _windows,
    Op.FOLD: _windows,
    Op.MATMUL: _matmul,
    Op.LINALG: _stacked,
    Op.SPECIAL: _special,
    Op.DETACH: _identity,
    Op.CHECK: _check,
    Op.CUSTOM_VJP: _custom_vjp,
    Op.RANDOM: _random,
    Op.COLLECTIVE: collective_batching,
    Op.IOTA: _identity,  # (no operands: never batched; the pass runs it as it is)
    Op.SCAN: _scan,
    Op.WHILE: _while,
    Op.COND: _cond,
    Op.GET: _get,
}
