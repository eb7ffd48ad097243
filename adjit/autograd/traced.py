"""A custom ``autograd.Function`` called while tracing: its backward becomes a derivative rule.

See Note [custom functions traced] in ir/custom.py, Note [one backward call per Function
call] below, and Note [custom rules under vmap and jvp] in batched.py (the rules' ``jvp`` and
``vmap_value``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from adjit.autograd import custom
from adjit.autograd.backward_checks import call_backward, checked_gradients, input_metas
from adjit.ir.ops import Op
from adjit.runtime.dispatch import apply
from adjit.runtime.tensor import Tensor
from adjit.runtime.trace_state import TracingError

# Note [one backward call per Function call]
# ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
# PyTorch calls a Function's backward once per backward pass, with the cotangents of all of
# its outputs together; a backward need not be linear in them (it may clip them, or add a
# term of its own), so calling it once per output and summing would be wrong. Traced, a call
# becomes one *anchor* equation, a scalar zero whose inputs are everything the backward may
# read (the tensor inputs, the saved tensors, the tensors stored on ctx), and per
# differentiable output ``y_k`` one equation ``custom_vjp[rule=Cls.output[k]] y_k anchor``,
# the identity on ``y_k``. All uses of the outputs come after all of these, so a reverse walk
# (the adjoint pass, or the eager engine on traced values) reaches every output's rule before
# the anchor's: an output's rule only files its cotangent under the anchor's value (and sends
# the anchor a zero, so it is always reached), and the anchor's rule calls the backward once
# with what was filed (zeros, or None under set_materialize_grads(False), for outputs that got
# no cotangent). A saved output is given to the backward as a new output equation on the
# anchor: differentiating the backward again (higher order) files that path's cotangent under
# the anchor of that pass, as PyTorch unpacks a saved output with its grad_fn. A call with one
# differentiable output (the common case) needs no filing: that output's equation is the
# anchor itself (``custom_vjp[rule=Cls.backward] y inputs..``), and a saved output is the
# equation's own value.

_FILED: dict[int, tuple[Any, dict[int, Any]]] = {}  # _key(anchor) -> (it, {k: cotangent})


def _key(anchor: Tensor) -> int:
    """Which anchor value: its version counter, shared by every handle on it (the eager
    engine unpacks a saved output as a new tensor object on the same counter)."""
    return id(anchor._version_box)


class OutputRule:
    """The rule of output ``k``: file its cotangent for the anchor's rule."""

    def __init__(self, call: CallRule, k: int) -> None:
        self.call, self.k = call, k

    def __repr__(self) -> str:
        return f"{self.call.cls.__name__}.output[{self.k}]"

    def vjp(self, g: Any, out: Any, inputs: Sequence[Any], needs: tuple[bool, ...]) -> tuple:
        anchor = inputs[1]
        filed = _FILED.setdefault(_key(anchor), (anchor, {}))[1]
        filed[self.k] = filed[self.k] + g if self.k in filed else g
        return None, anchor.new_zeros(tuple(anchor.shape))

    def jvp(self, inputs: Sequence[Any], ts: Sequence[Any], out: Any) -> Any:
        """Output ``k``'s tangent, computed by the anchor's rule (which ran before)."""
        return _tangent_filed(inputs[1], self.k)

    def vmap_value(self, args: Sequence[Any], dims: Sequence[Any], size: int, rnd: str) -> tuple:
        """This equation for a batch (the batching row asks: Note [custom rules under vmap
        and jvp]): output ``k`` of the anchor's vmap staticmethod call (filed by the
        anchor), or this equation with its batched rule."""
        if not self.call.own_vmap():
            from adjit.autograd.batched import batched_value

            return batched_value(self, args, dims, size)
        key = _key(args[1])
        outs = _VMAPPED[key][1]
        found = outs.pop(self.k)
        if not outs:
            del _VMAPPED[key]
        return found

    def batched(self, in_dims: tuple[Any, ...], size: int) -> Any:
        self.call.check_vmap()
        from adjit.autograd.batched import batched_rule

        return batched_rule(self, in_dims, size)


class CallRule:
    """The rule of one traced Function call's anchor: the user's backward, called once.

    The anchor's inputs: a zero, the Function's tensor inputs (at ``positions`` among its
    ``n_inputs`` inputs), the saved tensors (``None`` entries kept by ``saved_layout``; a
    saved output ``k`` is marked in ``saved_outputs``), then the tensors stored on ``ctx``
    (``stored``: the names of the attributes holding them, inside containers or not).
    """

    def __init__(
        self,
        cls: type,
        ctx: Any,
        inputs: Sequence[Any],
        positions: tuple[int, ...],
        saved_layout: tuple[bool, ...],
        saved_outputs: tuple[int | None, ...],
        stored: tuple[str, ...],
        outputs: tuple[tuple[tuple[int, ...], Any] | None, ...],
    ) -> None:
        self.cls, self.ctx = cls, ctx
        self.inputs = input_metas(inputs)
        self.positions = positions
        self.saved_layout, self.saved_outputs = saved_layout, saved_outputs
        self.stored, self.outputs = stored, outputs
        self.output_rules = [OutputRule(self, k) for k in range(len(outputs))]
        self.direct: int | None = None  # the one differentiable output, when its own anchor
        self.n_stored = 0  # how many tensors ``stored`` holds (operands after the saved ones)
        self.diff: set[int] = set()  # the differentiable outputs (each has its equation)
        self.forward_layout = tuple(isinstance(t, Tensor) for t in ctx._saved_for_forward)

    def __repr__(self) -> str:
        return f"{self.cls.__name__}.backward"

    def vjp(self, g: Any, out: Any, inputs: Sequence[Any], needs: tuple[bool, ...]) -> tuple:
        if self.direct is None:
            _, filed = _FILED.pop(_key(out), (None, {}))
        else:
            filed = {self.direct: g}
        return self.backward(filed, out, inputs, needs)

    def _layout(self) -> tuple[int, int, int]:
        """Where the operands after the value start: inputs, saved, stored on ctx."""
        k = len(self.positions)
        n_saved = sum(self.saved_layout)
        return 1 + k, 1 + k + n_saved, 1 + k + n_saved + self.n_stored

    def backward(
        self, filed: dict[int, Any], out: Any, inputs: Sequence[Any], needs: tuple[bool, ...]
    ) -> tuple:
        """The user's backward, once, on the cotangents ``filed`` per output (k -> g)."""
        k = len(self.positions)
        start_saved, start_stored, end_stored = self._layout()
        saved_values = list(inputs[start_saved:start_stored])
        saved_outs = [o for o, s in zip(self.saved_outputs, self.saved_layout, strict=True) if s]
        for i, o in enumerate(saved_outs):  # the output itself, as PyTorch unpacks it
            if o is not None and o == self.direct:
                saved_values[i] = out
            elif o is not None:
                rule = self.output_rules[o]
                saved_values[i] = apply(Op.CUSTOM_VJP, saved_values[i], out, rule=rule)
        saved = iter(saved_values)
        ctx = copy.copy(self.ctx)
        ctx._saved = tuple(next(saved) if s else None for s in self.saved_layout)
        ctx._packed = True
        _restore(ctx, self.stored, inputs[start_stored:end_stored])
        wants = dict(zip(self.positions, needs[1 : 1 + k], strict=True))
        ctx.needs_input_grad = tuple(wants.get(i, False) for i in range(len(self.inputs)))
        grads = [filed.get(j) for j in range(len(self.outputs))]
        if ctx.materialize_grads:
            grads = [
                out.new_zeros(spec[0], dtype=spec[1]) if g is None and spec is not None else g
                for g, spec in zip(grads, self.outputs, strict=True)
            ]
        try:
            returned = call_backward(self.cls, ctx, grads)
        except TracingError as e:
            raise TracingError(
                f"the backward of the custom autograd.Function {self.cls.__name__} is traced "
                "into the compiled gradient, where tensor values are not known: write it with "
                "tensor ops (adjit.where for value-dependent choices), or call the Function "
                f"outside the compiled function ({e})"
            ) from None
        result = checked_gradients(self.cls, returned, self.inputs, ctx.needs_input_grad)
        picked = [result[i] for i in self.positions]
        return (None, *picked, *[None] * (len(inputs) - 1 - k))

    def tangents(self, inputs: Sequence[Any], ts: Sequence[Any]) -> list[Any]:
        """The user's ``jvp(ctx, *tangents)``: one tangent (or None) per output. ``ctx``
        holds what the forward left on it, ``saved_tensors`` reading what it saved with
        ``save_for_forward``; an input without a tangent gets zeros, a non-tensor None."""
        if self.cls.jvp is custom.Function.jvp:
            raise NotImplementedError(JVP_MISSING)
        start_saved, start_stored, end_stored = self._layout()
        ctx = copy.copy(self.ctx)
        forward = iter(inputs[end_stored:])
        ctx._saved = tuple(next(forward) if f else None for f in self.forward_layout)
        ctx._packed, ctx._versions, ctx._freed = True, None, False
        _restore(ctx, self.stored, inputs[start_stored:end_stored])
        given = dict(zip(self.positions, range(1, start_saved), strict=True))
        tangents = []
        for i in range(len(self.inputs)):
            j = given.get(i)
            if j is None:
                tangents.append(None)
            else:
                t = ts[j]
                tangents.append(t if t is not None else inputs[j].new_zeros(inputs[j].shape))
        returned = self.cls.jvp(ctx, *tangents)
        outs = returned if isinstance(returned, tuple) else (returned,)
        if len(outs) != len(self.outputs):
            raise RuntimeError(
                f"{self.cls.__name__}.jvp returned {len(outs)} tangents, but the forward "
                f"returned {len(self.outputs)} outputs"
            )
        return list(outs)

    def jvp(self, inputs: Sequence[Any], ts: Sequence[Any], out: Any) -> Any:
        """The tangent of this equation's value: the one output's (Note [one backward call
        per Function call]); for the anchor of several outputs, none, their tangents filed
        for the outputs' rules."""
        if self.cls.setup_context is custom.Function.setup_context:  # as torch.func.jvp
            raise RuntimeError(SETUP_CONTEXT_MSG)
        tangents = self.tangents(inputs, ts)
        if self.direct is not None:
            return tangents[self.direct]
        file_tangents(out, tangents, [r.k for r in self.output_rules if r.k in self.diff])
        return None

    def check_vmap(self) -> None:
        """PyTorch's checks before it vmaps over a Function."""
        check_vmap(self.cls)

    def own_vmap(self) -> bool:
        """Whether vmap calls the Function's vmap staticmethod (else it batches the forward)."""
        overridden = self.cls.vmap is not custom.Function.vmap
        return overridden and not getattr(self.cls, "generate_vmap_rule", False)

    def vmap_value(self, args: Sequence[Any], dims: Sequence[Any], size: int, rnd: str) -> tuple:
        """This equation for a batch (the batching row asks: Note [custom rules under vmap
        and jvp]): from the user's ``vmap(info, in_dims, *args)`` (the direct output's
        value, or, for the anchor of several outputs, its zero, every output filed for the
        outputs' equations), or this equation with its batched rule."""
        self.check_vmap()
        from adjit.autograd.batched import batched_value, spread, vmap_staticmethod

        if not self.own_vmap():
            return batched_value(self, args, dims, size)
        tensors = dict(zip(self.positions, range(1, 1 + len(self.positions)), strict=True))
        call_args = [args[tensors[i]] if i in tensors else a for i, a in enumerate(self.inputs)]
        call_dims = [dims[tensors[i]] if i in tensors else None for i in range(len(self.inputs))]
        outs = vmap_staticmethod(self.cls, call_args, call_dims, size, rnd, len(self.outputs))
        if self.direct is not None:
            return outs[self.direct]
        anchor = spread(args[0], dims[0], size)  # (batched: every output's equation is asked)
        _VMAPPED[_key(anchor)] = (anchor, {k: outs[k] for k in self.diff})
        return anchor, 0

    def batched(self, in_dims: tuple[Any, ...], size: int) -> Any:
        self.check_vmap()
        from adjit.autograd.batched import batched_rule

        return batched_rule(self, in_dims, size)


SETUP_CONTEXT_MSG = (
    "In order to use an autograd.Function with functorch transforms (vmap, grad, jvp, jacrev, "
    "...), it must override the setup_context staticmethod. For more details, please see "
    "https://pytorch.org/docs/main/notes/extending.func.html"
)
JVP_MISSING = (
    "You must implement the jvp function for custom autograd.Function to use it with forward "
    "mode AD."
)


def check_vmap(cls: type) -> None:
    """PyTorch's errors for a Function vmap cannot batch: no setup_context, or not exactly
    one of a vmap staticmethod and ``generate_vmap_rule=True``."""
    name = cls.__name__
    link = "For more details, please see https://pytorch.org/docs/main/notes/extending.func.html"
    if cls.setup_context is custom.Function.setup_context:  # type: ignore[attr-defined]
        raise RuntimeError(SETUP_CONTEXT_MSG)
    overridden = cls.vmap is not custom.Function.vmap  # type: ignore[attr-defined]
    if getattr(cls, "generate_vmap_rule", False) and overridden:
        raise RuntimeError(
            f"You tried to vmap over {name}, but it has both generate_vmap_rule=True and an "
            "overridden vmap staticmethod. Please set generate_vmap_rule=False or delete the "
            f"overridden vmap staticmethod to avoid ambiguity. {link}"
        )
    if not getattr(cls, "generate_vmap_rule", False) and not overridden:
        raise RuntimeError(
            f"You tried to vmap over {name}, but it does not have vmap support. Please override "
            f"and implement the vmap staticmethod or set generate_vmap_rule=True. {link}"
        )


# the outputs an anchor's vmap staticmethod made for its outputs' equations (as _TANGENTS)
_VMAPPED: dict[int, tuple[Any, dict[int, Any]]] = {}

# the tangents an anchor's JVP computed for its outputs' rules: _key(anchor) -> (anchor,
# {k: tangent}); an entry goes once every output took its tangent
_TANGENTS: dict[int, tuple[Any, dict[int, Any]]] = {}


def file_tangents(anchor: Any, tangents: Sequence[Any], ks: Sequence[int]) -> None:
    _TANGENTS[_key(anchor)] = (anchor, {k: tangents[k] for k in ks})


def _tangent_filed(anchor: Any, k: int) -> Any:
    entry = _TANGENTS.get(_key(anchor))
    if entry is None:
        return None
    tangents = entry[1]
    t = tangents.pop(k, None)
    if not tangents:
        _TANGENTS.pop(_key(anchor), None)
    return t


def _stored(ctx: Any) -> tuple[tuple[str, ...], list[Tensor]]:
    """The ``ctx`` attributes holding tensors (directly, or inside tuples, lists, dicts), and
    those tensors in order."""
    names, values = [], []
    for name, v in vars(ctx).items():
        found = tensors_in(v)
        if not name.startswith("_") and found:
            names.append(name)
            values += found
    return tuple(names), values


def tensors_in(v: Any) -> list[Tensor]:
    if isinstance(v, Tensor):
        return [v]
    if isinstance(v, tuple | list):
        return [t for item in v for t in tensors_in(item)]
    if isinstance(v, dict):
        return [t for item in v.values() for t in tensors_in(item)]
    return []


def _rebuilt(v: Any, values: Iterator[Any]) -> Any:
    """``v`` with its tensors (in ``_tensors_in`` order) replaced by the next ``values``."""
    if isinstance(v, Tensor):
        return next(values)
    if isinstance(v, tuple | list):
        items = [_rebuilt(item, values) for item in v]
        return type(v)(*items) if hasattr(v, "_fields") else type(v)(items)
    if isinstance(v, dict):
        return type(v)((k, _rebuilt(item, values)) for k, item in v.items())
    return v


def _restore(ctx: Any, stored: tuple[str, ...], values: Sequence[Any]) -> None:
    """Put the values the rule is given back where ``_stored`` found the tensors."""
    it = iter(values)
    for name in stored:
        setattr(ctx, name, _rebuilt(getattr(ctx, name), it))


def _alias(t: Tensor, var: Any) -> Tensor:
    """Another handle on a tracer, for its value ``var`` (before an in-place forward)."""
    alias = object.__new__(type(t))
    alias.__dict__.update(vars(t))
    alias._var = var  # type: ignore[attr-defined]
    return alias


def traced_apply(cls: type, ctx: Any, inputs: tuple[Any, ...], forward: Callable[[], Any]) -> Any:
    """``cls.apply`` while tracing: the forward recorded under no_grad, then the anchor and
    one output equation per differentiable output (Note [one backward call per Function
    call]). An input the forward modified in place (mark_dirty) is rebound to its output."""
    vars_before = [
        getattr(a, "_var", None) if getattr(a, "_is_tracer", False) else None for a in inputs
    ]
    out = forward()
    before = [  # a tracer the forward rebound in place (mark_dirty): its value before
        _alias(a, v) if v is not None and getattr(a, "_var", v) is not v else a
        for a, v in zip(inputs, vars_before, strict=True)
    ]
    # (under no_grad too: the equations then get no adjoint, but forward mode, which no_grad
    # does not stop, still finds the Function's jvp on them)
    outs = out if isinstance(out, tuple) else (out,)
    diff = [
        isinstance(o, Tensor) and o.dtype.is_floating_point and id(o) not in ctx._non_differentiable
        for o in outs
    ]
    if not any(diff):
        return custom.unaliased(ctx, inputs, out)
    positions = tuple(i for i, a in enumerate(before) if isinstance(a, Tensor))
    saved = tuple(ctx._saved)
    index_of = {id(o): k for k, (o, d) in enumerate(zip(outs, diff, strict=True)) if d}
    stored, stored_values = _stored(ctx)
    specs = tuple((tuple(o.shape), o.dtype) if isinstance(o, Tensor) else None for o in outs)
    rule = CallRule(
        cls,
        ctx,
        before,
        positions,
        tuple(s is not None for s in saved),
        tuple(index_of.get(id(s)) for s in saved),
        stored,
        specs,
    )
    rule.n_stored = len(stored_values)
    rule.diff = {k for k, d in enumerate(diff) if d}
    forward_saved = [t for t in ctx._saved_for_forward if isinstance(t, Tensor)]
    operands = [
        *(before[i] for i in positions),
        *(s for s in saved if s is not None),
        *stored_values,
        *forward_saved,  # (what a jvp reads: Note [custom rules under vmap and jvp] in batched.py)
    ]
    if sum(diff) == 1:  # the output is its own anchor: one equation, no filing
        rule.direct = diff.index(True)
        anchor = apply(Op.CUSTOM_VJP, outs[rule.direct], *operands, rule=rule)
    else:
        first = next(o for o, d in zip(outs, diff, strict=True) if d)
        anchor = apply(Op.CUSTOM_VJP, first.new_zeros(()), *operands, rule=rule)
    dirty = {id(t) for t in ctx._dirty}
    results: list[Any] = []
    for k, (o, d) in enumerate(zip(outs, diff, strict=True)):
        if d:
            y = (
                anchor
                if k == rule.direct
                else apply(Op.CUSTOM_VJP, o, anchor, rule=rule.output_rules[k])
            )
            if id(o) in dirty:  # in place: the input itself now holds the output
                o._var, o._requires_grad = y._var, y.requires_grad  # type: ignore[attr-defined]
                y = o
            o = y
        results.append(o)
    return tuple(results) if isinstance(out, tuple) else results[0]
