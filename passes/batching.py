"""The batching pass (vmap): a per-example graph to the graph of a whole batch of examples.

The walk replays the per-example graph on a builder's values: an equation none of whose
operands is batched runs as it is (its value is the same for every example), any other goes
through its op's rule in ``ir/batching.py`` (Note [batching rules]). Inside the walk a batched
value always has its batch dim first: inputs batched elsewhere are moved there on entry, and
a rule's result batched elsewhere is moved there at once. Loop and branch bodies are batched
by the same pass, recursively, through the builder (``builder.batched``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ..ir.aval import Aval
from ..ir.batching import BATCHING, Dim, spread
from ..ir.graph import Eqn, Graph, Lit, Var
from ..ir.ops import GroupOp, Op

RANDOMNESS = ("error", "different", "same")


class BatchBuilder(Protocol):
    """The values a batched graph is built from (frontend/batch_builder.py)."""

    def input(self, aval: Aval, requires_grad: bool) -> Any: ...

    def at(self, eqn: Eqn | None) -> None: ...

    def run(self, eqn: Eqn, args: list[Any]) -> Any: ...

    def const(self, value: Any) -> Any: ...

    def finish(self, outputs: list[Any]) -> Graph: ...

    def batched(
        self,
        graph: Graph,
        in_dims: Sequence[Dim],
        size: int,
        randomness: str,
        expand: Sequence[bool] = (),
    ) -> tuple[Graph, list[Dim]]:
        """A body batched by this pass with a fresh builder of this kind."""

    def batched_rule(self, rule: Any, in_dims: tuple[Any, ...], size: int) -> Any:
        """The batched derivative rule of a CUSTOM_VJP without a ``batched`` method."""

    def subgraph(self, fn: Callable[[Any, list[Any]], list[Any]], avals: Sequence[Aval]) -> Graph:
        """A new graph: ``fn(builder, inputs)`` on a fresh builder's inputs of ``avals``."""


@dataclass
class _Context:
    """ir.batching.BatchContext for one equation."""

    eqn: Eqn
    size: int
    randomness: str
    builder: BatchBuilder

    @property
    def out(self) -> Aval:
        return self.eqn.out.aval

    def bind(self, args: Sequence[Any], **attrs: Any) -> Any:
        e = self.eqn
        return self.builder.run(
            Eqn(e.op, (), {**e.attrs, **attrs}, e.out, e.loc, e.no_grad), list(args)
        )

    def call(self, op: Op, args: Sequence[Any], **attrs: Any) -> Any:
        e = self.eqn
        return self.builder.run(Eqn(op, (), attrs, e.out, e.loc, e.no_grad), list(args))

    def sub(
        self, graph: Graph, in_dims: Sequence[Dim], expand: Sequence[bool] = ()
    ) -> tuple[Graph, list[Dim]]:
        return self.builder.batched(graph, in_dims, self.size, self.randomness, expand)

    def inline(self, graph: Graph, args: Sequence[Any]) -> list[Any]:
        return _walk(graph, list(args), self.builder)

    def batched_rule(self, rule: Any, in_dims: tuple[Any, ...], size: int) -> Any:
        return self.builder.batched_rule(rule, in_dims, size)

    def subgraph(self, fn: Callable[..., list[Any]], avals: Sequence[Aval]) -> Graph:
        def build(builder: BatchBuilder, ins: list[Any]) -> list[Any]:
            return fn(ins, lambda g, args: _walk(g, list(args), builder))

        return self.builder.subgraph(build, avals)


def _walk(g: Graph, inputs: list[Any], builder: BatchBuilder) -> list[Any]:
    """An unbatched graph's equations replayed on ``inputs`` (a batched cond's branch)."""
    env: dict[Var, Any] = dict(zip(g.inputs, inputs, strict=True))
    env.update((v, builder.const(arr)) for v, arr in g.consts)

    def read(a: Any) -> Any:
        return a.value if isinstance(a, Lit) else env[a]

    for e in g.eqns:
        env[e.out] = builder.run(e, [read(a) for a in e.inputs])
    return [read(o) for o in g.outputs]


def _batched(d: Any) -> bool:
    if isinstance(d, tuple):
        return any(x is not None for x in d)
    return d is not None


def batch(
    g: Graph,
    in_dims: Sequence[Dim],
    size: int,
    builder: BatchBuilder,
    randomness: str = "error",
    expand: Sequence[bool] = (),
) -> tuple[Graph, list[Dim]]:
    """``g`` for ``size`` examples at once: input i batched at dim ``in_dims[i]`` (None: the
    same for every example); outputs 1:1, batched at dim 0 (out_dims[k] == 0) or not (None).
    ``expand[k]``: output k batched even when it is the same for every example."""
    if randomness not in RANDOMNESS:
        raise ValueError(f"randomness must be one of {RANDOMNESS}, got {randomness!r}")
    env: dict[Var, Any] = {}
    dims: dict[Var, Any] = {}
    for v, d in zip(g.inputs, in_dims, strict=True):
        shape = v.aval.shape
        if d is None:
            env[v], dims[v] = builder.input(v.aval, False), None
            continue
        d = d % (len(shape) + 1)
        full = (*shape[:d], size, *shape[d:])
        x = builder.input(Aval(full, v.aval.dtype), False)
        env[v], dims[v] = (x if d == 0 else x.movedim(d, 0)), 0
    for v, arr in g.consts:
        env[v], dims[v] = builder.const(arr), None

    def read(a: Any) -> Any:
        return a.value if isinstance(a, Lit) else env[a]

    def dim(a: Any) -> Any:
        return None if isinstance(a, Lit) else dims[a]

    for e in g.eqns:
        builder.at(e)
        args = [read(a) for a in e.inputs]
        ds = [dim(a) for a in e.inputs]
        if e.op is not Op.RANDOM and not any(_batched(d) for d in ds):
            env[e.out], dims[e.out] = builder.run(e, args), None
            continue
        ctx = _Context(e, size, randomness, builder)
        out, d = BATCHING[e.op](ctx, args, ds, **e.attrs)
        if isinstance(d, int) and d != 0 and e.op not in GroupOp.TUPLED:
            out, d = out.movedim(d, 0), 0
        env[e.out], dims[e.out] = out, d
    builder.at(None)
    outs, out_dims = [], []
    for k, o in enumerate(g.outputs):
        value, d = read(o), dim(o)
        if d is None and k < len(expand) and expand[k]:
            if isinstance(o, Lit):
                value = builder.const(np.asarray(o.value, o.aval.dtype.np))
            value, d = spread(value, None, size), 0
        outs.append(value)
        out_dims.append(d)
    return builder.finish(outs), out_dims
