"""What a traced training step stores outside itself: ``.grad`` and optimizer state, replayed
after every compiled call, and the guards that keep those writes valid.

Note [traced training steps]
~~~~~~~~~~~~~~~~~~~~~~~~~~~~
A compiled function may call ``opt.zero_grad()``, ``loss.backward()`` and ``opt.step()``. While
tracing, those write Python attributes of tensors from outside (``p.grad``) and entries of the
optimizer's ``state``; the trace records each write (``Trace.slots``, ``Trace.optimizers``) and
lets the function see the traced values. When tracing ends the outside objects are put back as
they were, and the writes become outputs of the graph that every call stores again:

- ``p.grad``: set to None (zero_grad), to a new tensor (the first backward after zero_grad), or
  updated in place (accumulated into the gradient the call found, which the graph read);
- an argument's ``.grad``: accumulated as the eager engine would; when the argument (or a
  lifted tensor) is not a leaf, its gradient is handed to the eager engine after the call,
  which carries it on through the argument's own history (across graph breaks, or into work
  done eagerly before the call);
- optimizer state made during the step (SGD's first momentum buffer): stored in ``state``.

In-place updates of existing state and parameters are ordinary mutations of outside tensors
(``Trace.mutate``). The guards: a gradient the function read must be None (or a tensor) again,
and is re-read from ``p.grad`` at each call (never a stale tensor); each optimizer's
hyper-parameters and state layout must be unchanged (``Optimizer._trace_signature``), else the
function is traced again. The learning rate is not baked in: during the traced step the group
holds a 0-d float64 input read from the group at each call (``Optimizer.RUN_TIME_HYPERS``), so a
schedule that changes it every step runs the same program (torch.compile recompiles there
unless the user makes the learning rate a tensor).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..runtime.backward import backward
from ..runtime.tensor import Tensor
from ..runtime.trace_state import TracingError
from .tracer import Trace, Tracer


class Writes:
    """The writes of one specialization (see the Note), in graph-output order."""

    def __init__(self) -> None:
        self.values: list[Tensor] = []  # traced values, appended to the graph's outputs
        self.grads: list[tuple[Tensor, str]] = []  # (owner, "none" | "set" | "inplace")
        self.arg_grads: list[int] = []  # argument positions whose .grad accumulates
        self.boundary: list[Tensor] = []  # non-leaf outside tensors eager backward starts from
        self.state: list[tuple[Any, Tensor, str]] = []  # (optimizer, parameter, key)
        self.none_guards: list[tuple[Tensor, bool]] = []  # (owner, grad was None)
        self.sources: list[tuple[int, Tensor]] = []  # (lifted index, owner of that .grad)
        self.optimizers: list[tuple[Any, tuple]] = []  # (optimizer, signature)
        self.hypers: list[tuple[int, dict[str, Any], str]] = []  # (lifted index, owner, key)

    @property
    def n_outputs(self) -> int:
        return len(self.values)

    def still_valid(self, lifted: list[Tensor]) -> bool:
        """The guards; re-reads each lifted gradient from its owner's ``.grad``."""
        for owner, was_none in self.none_guards:
            if (owner.grad is None) != was_none:
                return False
        for k, owner in self.sources:
            g = owner.grad
            if g is None:
                return False
            lifted[k] = g
        for k, group, key in self.hypers:
            value = group.get(key)
            if not isinstance(value, int | float) or isinstance(value, bool):
                return False
            lifted[k] = Tensor._make(np.array(value, np.float64))
        return all(opt._trace_signature() == sig for opt, sig in self.optimizers)

    def apply(self, values: Sequence[Any], inputs: Sequence[Tensor]) -> None:
        if any(isinstance(v, Tracer) for v in values):
            raise TracingError(
                "a compiled function that runs backward() or an optimizer step cannot be "
                "called inside another compiled function yet; call it at the top level"
            )
        it = iter(values)
        for owner, mode in self.grads:
            if mode == "none":
                owner.grad = None
            elif mode == "set":
                owner.grad = _fresh(next(it))
            else:
                assert owner.grad is not None  # (the guards: a gradient was found)
                store(owner.grad, next(it))
        for opt, p, key in self.state:
            opt.state[p][key] = _fresh(next(it))
        roots: list[tuple[Tensor, Tensor]] = [(t, next(it)) for t in self.boundary]
        for k in self.arg_grads:
            t, v = inputs[k], next(it)
            if t.grad_fn is not None:
                roots.append((t, v))
            elif t.grad is None:
                t.grad = _fresh(v)
            else:
                np.add(t.grad._data, v._data, out=t.grad._data)
                t.grad._version_box[0] += 1
        if roots:  # gradients of tensors computed outside: the eager engine takes them on
            backward([t for t, _ in roots], [_fresh(v) for _, v in roots])


def _fresh(v: Tensor) -> Tensor:
    return Tensor._make(v._data)


def store(target: Tensor, v: Tensor) -> None:
    """``v``'s value into ``target`` in place, as an in-place op (its version moves on), and
    its history when it has one (Note [writes into earlier values] in frontend/tracer.py)."""
    if v.requires_grad:
        _keep_input(v._grad_fn, target)
    np.copyto(target._data, v._data)
    target._version_box[0] += 1
    if v.requires_grad:
        target._grad_fn, target._output_nr = v._grad_fn, v._output_nr


def _keep_input(node: Any, target: Tensor) -> None:
    """Before the write back into ``target``, an input of the call that made the value: the
    call's backward reads it as it was (as eager in-place ops save the original), so the node
    keeps a copy with its history in its place, instead of failing the version check."""
    inputs = getattr(node, "_inputs", None)
    if inputs is None or all(t is not target for t in inputs):
        return
    copy = Tensor._make(
        target._data.copy(), requires_grad=target._requires_grad, grad_fn=target._grad_fn
    )
    copy._output_nr = target._output_nr
    node._inputs = [copy if t is target else t for t in inputs]
    node._versions = [
        0 if t is target else version for t, version in zip(inputs, node._versions, strict=True)
    ]


def collect_writes(trace: Trace, restore_only: bool = False) -> Writes | None:
    """Put the outside objects back as they were before tracing and, unless ``restore_only``,
    return the writes to replay after each call (None when there are none)."""
    w = Writes()
    lifted_at = {id(t): k for k, t in enumerate(trace.lifted)}
    for s in trace.slots.values():
        now = s.owner._grad  # (not the getter: no read of the enclosing trace)
        if now is not s.value and (now is None or isinstance(now, Tensor)):
            s.value = now  # ``p.grad = value`` (a plain attribute: set_grad did not see it)
        if not restore_only:
            _grad_write(w, s, lifted_at)
        s.owner.grad = s.start
    for note in trace.optimizers.values():
        opt = note.opt
        for p in list(opt.state):
            state = opt.state[p]
            if not restore_only:
                for key, v in state.items():
                    if isinstance(v, Tracer):
                        w.values.append(v)
                        w.state.append((opt, p, key))
            before = note.before.get(id(p))
            if before is None:
                del opt.state[p]
            else:
                state.clear()
                state.update(before[1])
        w.optimizers.append((opt, note.signature))
    for t, g in trace.boundary.values():
        if not restore_only:
            w.values.append(g)
            w.boundary.append(t)
    for holder, owner, key in trace.hypers:
        w.hypers.append((lifted_at[id(holder)], owner, key))
    for k, g in sorted(trace.arg_grads.items()):
        if not restore_only:
            w.values.append(g)
            w.arg_grads.append(k)
    if restore_only or not (
        w.values or w.grads or w.none_guards or w.sources or w.optimizers or w.hypers
    ):
        return None
    return w


def _grad_write(w: Writes, s: Any, lifted_at: dict[int, int]) -> None:
    read = s.start is not None and id(s.start) in lifted_at
    if s.first == "read":
        w.none_guards.append((s.owner, s.start is None))
    if read:
        w.sources.append((lifted_at[id(s.start)], s.owner))
    if s.value is s.start:
        return
    if s.value is None:
        w.grads.append((s.owner, "none"))
    else:
        w.values.append(s.value)
        w.grads.append((s.owner, "inplace" if read else "set"))
