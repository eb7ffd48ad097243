"""A traced custom Function call under vmap: its rules for a batch of examples.

Note [custom rules under vmap and jvp]
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
A traced Function call is its forward's equations (recorded under no_grad) plus CUSTOM_VJP
equations carrying its rules (Note [one backward call per Function call] in traced.py).

- vmap (passes/batching.py) batches the forward's equations like any others, and asks the
  rule for its batched form (``rule.batched(in_dims, size)``, after PyTorch's checks: the
  Function overrides setup_context, and has exactly one of a vmap staticmethod and
  ``generate_vmap_rule=True``). The batched rule runs the per-example backward (or jvp) under
  vmap (``frontend/vmap.py: batched_call``), as PyTorch's generated vmap rule does: each
  cotangent comes out batched first, and one of an operand the batch shares is summed over
  the batch.
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
    """``fn``'s tensor results for each example, batched first (dim 0), or unbatched (None)."""
    from adjit.frontend.pytree import flatten
    from adjit.frontend.vmap import batched_call

    args = list(args)
    dims = [d if isinstance(a, Tensor) else None for a, d in zip(args, dims, strict=True)]
    _, values, out_dims = batched_call(fn, args, dims, flatten(args)[1], {}, size, "error")
    return values, out_dims


def _fit_tangent(value: Any, d: Dim, want: Dim, size: int) -> Any:
    """A tangent batched first (or not, ``d``) as its output is batched (``want``): an
    output the batch shares has one tangent for every example."""
    if want is None and d is not None:
        return value[0]
    return _fit(value, d, want, size)


def _fit(value: Any, d: Dim, want: Dim, size: int) -> Any:
    """A cotangent batched first (or not, ``d``) as its operand is batched (``want``)."""
    if want is None:
        return value.sum(0) if d is not None else value
    if d is None:
        return value.unsqueeze(0).expand(size, *value.shape)
    return value


class BatchedOutput:
    """Output ``k``'s rule for a batch: files its (batched) cotangent for the anchor."""

    def __init__(self, base: OutputRule, in_dims: tuple[Dim, ...], size: int) -> None:
        self.base, self.in_dims, self.size = base, in_dims, size
        self.call = base.call  # (ir/jvp.py's is_user_rule looks for the call's class)

    def __repr__(self) -> str:
        return repr(self.base)

    def vjp(self, g: Any, out: Any, inputs: Sequence[Any], needs: tuple[bool, ...]) -> tuple:
        anchor = inputs[1]
        filed = _FILED.setdefault(_key(anchor), (anchor, {}))[1]
        d = self.in_dims[0]
        prior = filed.get(self.base.k)
        filed[self.base.k] = (g, d) if prior is None else _sum_batched(prior, (g, d), self.size)
        return None, anchor.new_zeros(tuple(anchor.shape))

    def jvp(self, inputs: Sequence[Any], ts: Sequence[Any], out: Any) -> Any:
        found = _tangent_filed(inputs[1], self.base.k)
        if found is None:
            return None
        t, d = found
        return _fit_tangent(t, d, self.in_dims[0], self.size)

    def batched(self, in_dims: tuple[Dim, ...], size: int) -> Any:
        raise NotImplementedError(
            f"vmap of vmap over the custom autograd.Function {self.call.cls.__name__} with "
            "several differentiable outputs is not supported yet"
        )


def _sum_batched(a: tuple[Any, Dim], b: tuple[Any, Dim], size: int) -> tuple[Any, Dim]:
    if a[1] == b[1]:
        return a[0] + b[0], a[1]
    return _fit(a[0], a[1], 0, size) + _fit(b[0], b[1], 0, size), 0


class BatchedCall:
    """A Function call's rule for a batch: its backward and jvp, per example, under vmap."""

    def __init__(self, base: CallRule | BatchedCall, in_dims: tuple[Dim, ...], size: int) -> None:
        self.base, self.in_dims, self.size = base, in_dims, size
        self.cls = base.cls  # (ir/jvp.py's is_user_rule)
        self.direct = base.direct

    def __repr__(self) -> str:
        return repr(self.base)

    def vjp(self, g: Any, out: Any, inputs: Sequence[Any], needs: tuple[bool, ...]) -> tuple:
        if self.direct is None:
            _, filed = _FILED.pop(_key(out), (None, {}))
        else:
            filed = {self.direct: (g, self.in_dims[0])}
        return self.backward(filed, out, inputs, needs)

    def backward(
        self,
        filed: dict[int, tuple[Any, Dim]],
        out: Any,
        inputs: Sequence[Any],
        needs: tuple[bool, ...],
    ) -> tuple:
        keys = sorted(filed)
        base = self.base
        wanted: list[int] = []

        def per_example(*args: Any) -> list[Any]:
            gs, rest = args[: len(keys)], args[len(keys) :]
            each = dict(zip(keys, gs, strict=True))
            if isinstance(base, BatchedCall):  # (vmap of vmap: its own cotangents' dims)
                each = {k: (g, base.in_dims[0]) for k, g in each.items()}
            cts = base.backward(each, rest[0], rest[1:], needs)  # type: ignore[arg-type]
            wanted[:] = [i for i, c in enumerate(cts) if c is not None]
            return [cts[i] for i in wanted]

        args = [*(filed[k][0] for k in keys), out, *inputs]
        dims = [*(filed[k][1] for k in keys), self.in_dims[0], *self.in_dims]
        values, out_dims = _vmapped(per_example, args, dims, self.size)
        found: list[Any] = [None] * len(inputs)
        for i, v, d in zip(wanted, values, out_dims, strict=True):
            found[i] = _fit(v, d, self.in_dims[i], self.size)
        return tuple(found)

    def tangents(self, inputs: Sequence[Any], ts: Sequence[Any]) -> list[tuple[Any, Dim] | None]:
        """Each output's tangent for the batch, batched first or not: (tangent, dim)."""
        base = self.base
        given = [j for j, t in enumerate(ts) if t is not None]
        produced: list[int] = []

        def per_example(*args: Any) -> list[Any]:
            ins, tangent_values = args[: len(inputs)], args[len(inputs) :]
            each: list[Any] = [None] * len(inputs)
            for j, t in zip(given, tangent_values, strict=True):
                each[j] = t
            outs = base.tangents(ins, each)
            if isinstance(base, BatchedCall):  # (vmap of vmap: as its output is batched)
                d0 = base.in_dims[0]
                outs = [o if o is None else _fit_tangent(o[0], o[1], d0, base.size) for o in outs]
            produced[:] = [k for k, o in enumerate(outs) if o is not None]
            return [outs[k] for k in produced]

        args = [*inputs, *(ts[j] for j in given)]
        dims = [*self.in_dims, *(self.in_dims[j] for j in given)]
        values, out_dims = _vmapped(per_example, args, dims, self.size)
        result: list[tuple[Any, Dim] | None] = [None] * len(base.outputs)
        for k, v, d in zip(produced, values, out_dims, strict=True):
            result[k] = (v, d)
        return result

    @property
    def outputs(self) -> Any:
        return self.base.outputs

    def jvp(self, inputs: Sequence[Any], ts: Sequence[Any], out: Any) -> Any:
        tangents = self.tangents(inputs, ts)
        if self.direct is not None:
            found = tangents[self.direct]
            if found is None:
                return None
            return _fit_tangent(found[0], found[1], self.in_dims[0], self.size)
        ks = [k for k in sorted(self.base.diff)]  # type: ignore[union-attr]
        file_tangents(out, tangents, ks)
        return None

    def batched(self, in_dims: tuple[Dim, ...], size: int) -> Any:
        if self.direct is None:
            raise NotImplementedError(
                f"vmap of vmap over the custom autograd.Function {self.cls.__name__} with "
                "several differentiable outputs is not supported yet"
            )
        return BatchedCall(self, in_dims, size)
