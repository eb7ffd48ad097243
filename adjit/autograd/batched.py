"""A traced custom Function call under vmap: its rules for a batch of examples.

Note [custom rules under vmap and jvp]
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
A traced Function call is its forward's equations (recorded under no_grad) plus CUSTOM_VJP
equations carrying its rules (Note [one backward call per Function call] in traced.py).

- vmap (passes/batching.py) batches the forward's equations like any others; for a
  CUSTOM_VJP equation its row asks the rule for ``vmap_value(args, dims, size, randomness)``
  (ir/batching.py), after PyTorch's checks (the Function overrides setup_context, and has
  exactly one of a vmap staticmethod and ``generate_vmap_rule=True``). With
  ``generate_vmap_rule`` that is the equation again with a batched rule (BatchedCall,
  BatchedOutput), which runs the per-example backward (or jvp) under vmap
  (``frontend/vmap.py: batched_call``) as PyTorch's generated rule does: an output the batch
  shares gives every example its whole cotangent, and a cotangent that differs per example
  of an operand the batch shares is summed (reductify). The anchor of several outputs is
  made batched, so each output's equation is batched too and files its cotangent with its
  batch dim per level of vmap (``chain``, outermost first): nested vmaps peel one level per
  per-example call. Tangents come out batched at every level and are narrowed to their
  value's layout by the chain. (``rule.batched(in_dims, size)``, the pass contract, returns
  the same rules.)
- A Function with its own vmap staticmethod: the rule has ``vmap_value``, which the batching
  row calls instead (ir/batching.py). It calls ``vmap(info, in_dims, *args)`` on the batched
  operands, in the batched program, and its outputs are the equation's values; the batched
  forward equations are left dead. Its equations are what gets differentiated afterwards
  (grad of vmap), as in PyTorch, where the staticmethod runs at the level below the vmap; a
  staticmethod that calls the Function's ``apply`` again brings the backward with it. Under
  vmap of grad the forward's value comes from the staticmethod too, and the cotangents from
  the backward run under vmap, as PyTorch runs it on batched tensors.
- jvp (passes/jvp.py, eager forward_ad) asks ``rule.jvp(inputs, tangents, out)``: the user's
  ``jvp(ctx, *tangents)`` on a ``ctx`` holding what the forward left on it, its
  ``saved_tensors`` reading the tensors saved with ``save_for_forward`` (operands of the
  anchor, so the pass gives their values). A call with several outputs computes all of their
  tangents at its anchor and files them for the outputs' equations, as cotangents are filed
  in reverse.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from adjit.autograd.traced import _FILED, CallRule, OutputRule, _key, _tangent_filed, file_tangents
from adjit.runtime.tensor import Tensor

Dim = int | None

LINK = "For more details, please see https://pytorch.org/docs/main/notes/extending.func.html"


class VmapInfo(NamedTuple):
    """What a vmap staticmethod is told of the vmap it runs under (PyTorch's ``info``)."""

    batch_size: int
    randomness: str


def vmap_staticmethod(
    cls: type, args: Sequence[Any], dims: Sequence[Dim], size: int, randomness: str, n: int
) -> list[tuple[Any, Dim]]:
    """The user's ``vmap(info, in_dims, *args) -> (outputs, out_dims)`` on a batch, checked
    as PyTorch checks it: each of the ``n`` outputs with its batch dim (or None)."""
    result = cls.vmap(VmapInfo(size, randomness), tuple(dims), *args)  # type: ignore[attr-defined]
    base = (
        "Expected the vmap staticmethod to have two returns, an output and out_dims with "
        "pytree structure compatible with the output. "
    )
    if not isinstance(result, tuple):
        raise RuntimeError(base + f"Got a {type(result)} instead")
    if len(result) != 2:
        raise RuntimeError(base + f"Got {len(result)} returns instead")
    outputs, out_dims = result
    outs = outputs if isinstance(outputs, tuple) else (outputs,)
    if isinstance(out_dims, tuple | list) != isinstance(outputs, tuple) or (
        isinstance(out_dims, tuple | list) and len(out_dims) != len(outs)
    ):
        raise RuntimeError(
            "The autograd.Function's vmap staticmethod returned an incompatible (output, "
            f"out_dims) tuple. Expected out_dims={out_dims} to be compatible with the structure "
            f"of `output`. {LINK}"
        )
    if len(outs) != n:
        raise RuntimeError(
            f"{cls.__name__}'s vmap staticmethod returned {len(outs)} outputs, but its forward "
            f"returns {n}"
        )
    flat_dims = list(out_dims) if isinstance(out_dims, tuple | list) else [out_dims] * n
    found: list[tuple[Any, Dim]] = []
    for o, d in zip(outs, flat_dims, strict=True):
        if isinstance(o, Tensor) and d is not None:
            d = d % o.ndim
        found.append((o, d if isinstance(o, Tensor) else None))
    return found


def _vmapped(
    fn: Callable[..., list[Any]], args: Sequence[Any], dims: Sequence[Dim], size: int
) -> tuple[list[Any], list[Dim]]:
    """``fn``'s tensor results for each example, batched first (dim 0) or the same for
    every example (None)."""
    from adjit.frontend.pytree import flatten
    from adjit.frontend.vmap import batched_call

    args = list(args)
    dims = [d if isinstance(a, Tensor) else None for a, d in zip(args, dims, strict=True)]
    _, values, out_dims = batched_call(fn, args, dims, flatten(args)[1], {}, size, "error")
    return values, out_dims


def spread(value: Any, d: Dim, size: int) -> Any:
    """``value`` batched first: as it is when it is (``d == 0``), else the same for every
    example."""
    if d is not None:
        return value
    return value.unsqueeze(0).expand(size, *value.shape)


def _fit(value: Any, d: Dim, want: Dim, size: int) -> Any:
    """A cotangent from the vmapped backward (batched first or not, ``d``) as its operand is
    batched (``want``): summed over the batch for an operand the batch shares when it differs
    per example (PyTorch's reductify)."""
    if want is None:
        return value.sum(0) if d is not None else value
    return spread(value, d, size)


def _unspread(t: Any, chain: Sequence[Dim]) -> Any:
    """A tangent batched first at every level of nested vmaps (``chain``: the value's batch
    dim per level, outermost first) as its value is: one example where the value is the same
    for all."""
    for axis in reversed(range(len(chain))):
        if chain[axis] is None:
            t = t.select(axis, 0)
    return t


def batched_value(rule: Any, args: Sequence[Any], dims: Sequence[Dim], size: int) -> tuple:
    """A CUSTOM_VJP equation of a Function call for a batch, with its batched rule. The
    anchor of several outputs is made batched, so every output's equation is batched too."""
    from adjit.ir.ops import Op
    from adjit.runtime.dispatch import apply

    value, d0 = args[0], dims[0]
    if isinstance(rule, OutputRule | BatchedOutput):
        new: Any = BatchedOutput(rule, d0, size)
    else:
        if rule.direct is None:
            value, d0 = spread(value, d0, size), 0
        new = BatchedCall(rule, (d0, *dims[1:]), size)
    return apply(Op.CUSTOM_VJP, value, *args[1:], rule=new), d0


def batched_rule(rule: Any, in_dims: tuple[Dim, ...], size: int) -> Any:
    """``rule.batched``: the rule of the equation batched at ``in_dims``."""
    if isinstance(rule, OutputRule | BatchedOutput):
        return BatchedOutput(rule, in_dims[0], size)
    if rule.direct is None and in_dims[0] is None:
        raise NotImplementedError(
            "custom autograd.Function under vmap: its anchor must be batched (vmap asks for "
            "vmap_value, which makes it so)"
        )
    return BatchedCall(rule, in_dims, size)


class BatchedOutput:
    """Output ``k``'s rule for a batch: files its cotangent, with its batch dim per level of
    vmap (``chain``), for the anchor; its tangent is the one the anchor's rule filed."""

    def __init__(self, base: OutputRule | BatchedOutput, d: Dim, size: int) -> None:
        self.base, self.size = base, size
        self.k = base.k
        self.call = base.call  # (ir/jvp.py's is_user_rule looks for the call's class)
        self.chain: tuple[Dim, ...] = (d, *getattr(base, "chain", ()))

    def __repr__(self) -> str:
        return repr(self.base)

    def vjp(self, g: Any, out: Any, inputs: Sequence[Any], needs: tuple[bool, ...]) -> tuple:
        anchor = inputs[1]
        filed = _FILED.setdefault(_key(anchor), (anchor, {}))[1]
        prior = filed.get(self.k)
        filed[self.k] = (g, self.chain) if prior is None else (prior[0] + g, self.chain)
        return None, anchor.new_zeros(tuple(anchor.shape))

    def jvp(self, inputs: Sequence[Any], ts: Sequence[Any], out: Any) -> Any:
        t = _tangent_filed(inputs[1], self.k)
        return None if t is None else _unspread(t, self.chain)

    def vmap_value(self, args: Sequence[Any], dims: Sequence[Dim], size: int, rnd: str) -> tuple:
        return batched_value(self, args, dims, size)

    def batched(self, in_dims: tuple[Dim, ...], size: int) -> Any:
        return batched_rule(self, in_dims, size)


class BatchedCall:
    """A Function call's rule for a batch: its backward and jvp for each example, under
    vmap, as PyTorch's generated vmap rule runs them: a cotangent of an output the batch
    shares is given to every example."""

    def __init__(self, base: CallRule | BatchedCall, in_dims: tuple[Dim, ...], size: int) -> None:
        self.base, self.in_dims, self.size = base, in_dims, size
        self.cls = base.cls  # (ir/jvp.py's is_user_rule)
        self.direct = base.direct
        self.diff = base.diff
        self.outputs = base.outputs
        self.chain: tuple[Dim, ...] = (in_dims[0], *getattr(base, "chain", ()))

    def __repr__(self) -> str:
        return repr(self.base)

    def vjp(self, g: Any, out: Any, inputs: Sequence[Any], needs: tuple[bool, ...]) -> tuple:
        if self.direct is None:
            _, filed = _FILED.pop(_key(out), (None, {}))
        else:
            filed = {self.direct: (g, self.chain)}
        return self.backward(filed, out, inputs, needs)

    def backward(
        self, filed: dict[int, Any], out: Any, inputs: Sequence[Any], needs: tuple[bool, ...]
    ) -> tuple:
        """The base rule's backward for each example, under vmap; ``filed``: per output its
        cotangent and that output's batch dim per level (outermost first)."""
        keys = sorted(filed)
        base = self.base
        nested = isinstance(base, BatchedCall)
        wanted: list[int] = []

        def per_example(*args: Any) -> list[Any]:
            gs, rest = args[: len(keys)], args[len(keys) :]
            each = {k: (g, filed[k][1][1:]) if nested else g for k, g in zip(keys, gs, strict=True)}
            cts = base.backward(each, rest[0], rest[1:], needs)
            wanted[:] = [i for i, c in enumerate(cts) if c is not None]
            return [cts[i] for i in wanted]

        args = [*(filed[k][0] for k in keys), out, *inputs]
        dims = [*(filed[k][1][0] for k in keys), self.in_dims[0], *self.in_dims]
        values, out_dims = _vmapped(per_example, args, dims, self.size)
        found: list[Any] = [None] * len(inputs)
        for i, v, d in zip(wanted, values, out_dims, strict=True):
            found[i] = _fit(v, d, self.in_dims[i], self.size)
        return tuple(found)

    def tangents(self, inputs: Sequence[Any], ts: Sequence[Any]) -> list[Any]:
        """Each output's tangent for the batch, batched first at every level (None: none)."""
        base = self.base
        given = [j for j, t in enumerate(ts) if t is not None]
        produced: list[int] = []

        def per_example(*args: Any) -> list[Any]:
            ins, tangent_values = args[: len(inputs)], args[len(inputs) :]
            each: list[Any] = [None] * len(inputs)
            for j, t in zip(given, tangent_values, strict=True):
                each[j] = t
            outs = base.tangents(ins, each)
            produced[:] = [k for k, o in enumerate(outs) if o is not None]
            return [outs[k] for k in produced]

        args = [*inputs, *(ts[j] for j in given)]
        dims = [*self.in_dims, *(self.in_dims[j] for j in given)]
        values, out_dims = _vmapped(per_example, args, dims, self.size)
        result: list[Any] = [None] * len(self.outputs)
        for k, v, d in zip(produced, values, out_dims, strict=True):
            result[k] = spread(v, d, self.size)
        return result

    def jvp(self, inputs: Sequence[Any], ts: Sequence[Any], out: Any) -> Any:
        tangents = self.tangents(inputs, ts)
        if self.direct is not None:
            t = tangents[self.direct]
            return None if t is None else _unspread(t, self.chain)
        file_tangents(out, tangents, sorted(self.diff))
        return None

    def vmap_value(self, args: Sequence[Any], dims: Sequence[Dim], size: int, rnd: str) -> tuple:
        return batched_value(self, args, dims, size)

    def batched(self, in_dims: tuple[Dim, ...], size: int) -> Any:
        return batched_rule(self, in_dims, size)
