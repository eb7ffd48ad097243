"""The grad_fn of a compiled call's outputs: runs the compiled backward graph."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..ir.graph import Var
from ..ir.ops import Op
from ..runtime import trace_state
from ..runtime.autograd import (
    FREED_MSG,
    AccumulateGrad,
    Node,
    accumulate_array,
    modified_error,
    node_class,
)
from ..runtime.grad_mode import set_grad_enabled
from ..runtime.streaming import stream
from ..runtime.tensor import Tensor
from ..runtime.trampoline import program_call
from .plans import TrainPlan
from .replay import replay

Program = Callable[[list[np.ndarray]], list[np.ndarray]]


class CompiledFunctionBackward(Node):
    """Backward of a compiled forward: one node for all of its differentiable outputs.

    What is the same for every call of one plan lives on a class made per plan
    (``node_type``); an instance holds only the call's inputs, residuals and edges."""

    streams = True  # Note [gradients as they are made]
    _plan: TrainPlan
    _run_backward: Program
    _run_donating: Program  # the same, free to write over the residuals
    _program: Program  # the backward program itself (``_run_backward`` may be a trampoline)
    _fresh: list[bool]  # which backward results nothing else holds (``Executable.fresh``)
    _read: tuple[int, ...]  # the inputs the backward program reads
    _cotangents: list[tuple[tuple[int, ...], type]]  # (shape, NumPy type) per output
    _seed: np.ndarray | None  # the implicit cotangent of ``.backward()``, for a scalar output
    _reach: list[int]  # per input, the cotangents it depends on (Note [gradients of outputs ...])

    def __init__(
        self,
        inputs: Sequence[Tensor],
        residuals: list[np.ndarray],
        edges: tuple[tuple[Node | None, int], ...],
    ) -> None:
        super().__init__()
        self._edges = edges
        # the inputs, with the versions they had: modifying one that the backward reads in
        # place before backward is an error, as in eager mode (the others are kept for
        # create_graph only)
        self._inputs = inputs
        self._versions = [t._version_box[0] for t in inputs]
        self._residuals: list[np.ndarray] | None = residuals

    def _unpack(self, everything: bool) -> list[Tensor]:
        """The inputs the backward program reads (or all of them), checked for changes."""
        for i in self._read:
            t, v = self._inputs[i], self._versions[i]
            if t._version_box[0] != v:
                raise modified_error(t, v)
        return list(self._inputs) if everything else [self._inputs[i] for i in self._read]

    def seeded_backward(self, retain_graph: bool) -> bool:
        """``out.backward()`` of this node's one scalar output when it feeds leaves directly and
        no hook is registered anywhere on the way: run the backward program and accumulate.
        False (having done nothing) when the engine's general walk must run. (Written for
        speed: this is most of a small compiled call's backward.)"""
        seed, residuals, edges = self._seed, self._residuals, self._edges
        if seed is None or residuals is None or self._tensor_hooks or self._retained or self._hooks:
            return False
        if trace_state.current() is not None:  # while tracing (segment mode: between graph
            return False  # breaks), backward() decides; gradients made here would be constants
        # of the running segment (Tensor._born_in), and an optimizer step after it would not
        # be traced
        posted = False  # a leaf has post-accumulate hooks: Note [gradients as they are made]
        for n, _ in edges:
            if n is not None:
                if (
                    type(n) is not AccumulateGrad
                    or n._tensor_hooks
                    or n._retained
                    or n._hooks
                    or n.variable._hooks  # type: ignore[attr-defined]
                ):
                    return False
                if n.variable._post_accumulate_hooks:  # type: ignore[attr-defined]
                    posted = True
        if len(edges) > 1:
            leaves = [n for n, _ in edges if n is not None]
            if len(set(leaves)) != len(leaves):
                return False
        arrays = residuals + [t._data for t in self._unpack(False)]
        arrays.append(seed)
        if posted:
            self._stream(arrays, [True] * len(edges), donate=not retain_graph)
            return True
        # (without retain_graph the residuals are dropped next: the backward may write over
        # them, Note [one arena for a training step])
        grads = (self._run_backward if retain_graph else self._run_donating)(arrays)
        if not retain_graph:
            self._residuals = None
        for (n, _), g, owned in zip(edges, grads, self._fresh, strict=True):
            if n is not None:
                accumulate_array(n.variable, g, owned)  # type: ignore[attr-defined]
        return True

    def _stream(
        self, arrays: list[np.ndarray], into: list[bool], donate: bool
    ) -> list[Tensor | None]:
        """Run the backward program, accumulating the gradient of each edge marked in
        ``into`` (a leaf this node alone feeds) as soon as it is final and then calling the
        leaf's post-accumulate hooks, with grad mode off as the engine runs them (Note
        [gradients as they are made]); the other edges' gradients are returned, None for
        those accumulated here."""
        edges, fresh = self._edges, self._fresh
        out: list[Tensor | None] = [None] * len(edges)
        hooked = bool(self._hooks)

        def ready(k: int, g: np.ndarray) -> None:
            n = edges[k][0]
            if n is None:
                return
            if into[k]:
                t = n.variable  # type: ignore[attr-defined]
                accumulate_array(t, g, fresh[k])
                for hook in t._post_accumulate_hooks:
                    hook(t)
                return
            out[k] = grad = Tensor._make(g)
            if fresh[k] and not hooked:  # as ``apply``
                grad._owned_grad = True

        with set_grad_enabled(False):
            stream(self._program, arrays, ready, donate)
        if donate:
            self._residuals = None
        return out

    def apply_streaming(self, grads: Any, alone: Callable[[Node], bool]) -> list[Tensor | None]:
        """``apply`` for the engine (no create_graph, no node hook), accumulating into the
        leaves ``alone`` says only this node feeds as their gradients become final (Note
        [gradients as they are made]); the plain ``apply`` when no such leaf has a
        post-accumulate hook."""
        into = [_streams_into(n, alone) for n, _ in self._edges]
        if (
            self._residuals is None
            or self._partial(grads)
            or not any(
                ok and n.variable._post_accumulate_hooks  # type: ignore[union-attr]
                for (n, _), ok in zip(self._edges, into, strict=True)
            )
        ):
            return self.apply(grads, False)
        leaves = [n for (n, _), ok in zip(self._edges, into, strict=True) if ok]
        if len(set(leaves)) != len(leaves):  # a leaf fed twice here: its sum goes first
            twice = {n for n in leaves if leaves.count(n) > 1}
            into = [ok and n not in twice for (n, _), ok in zip(self._edges, into, strict=True)]
        return self._stream(self._arrays(grads), into, donate=False)

    def _reached(self, grads: Any, out: Sequence[Tensor | None]) -> list[Tensor | None]:
        """``out`` with None for the inputs that no given cotangent reaches (Note [gradients
        of outputs not backpropagated])."""
        given = grads if isinstance(grads, list) else [grads]
        mask = sum(1 << j for j, g in enumerate(given) if g is not None)
        return [g if r & mask else None for g, r in zip(out, self._reach, strict=True)]

    def _cotangent_tensors(self, grads: Any) -> list[Tensor]:
        if self._residuals is None:
            raise RuntimeError(FREED_MSG)
        grads = grads if isinstance(grads, list) else [grads]
        return [
            Tensor._make(np.zeros(shape, dtype)) if ct is None else ct
            for (shape, dtype), ct in zip(self._cotangents, grads, strict=True)
        ]

    def _arrays(self, grads: Any) -> list[np.ndarray]:
        """The backward program's arguments: residuals, saved inputs, cotangents."""
        cts = self._cotangent_tensors(grads)
        return self._residuals + [t._data for t in self._unpack(False)] + [c._data for c in cts]  # type: ignore[operator]

    def _partial(self, grads: Any) -> bool:
        """Some output of this node gets no cotangent in this backward."""
        return isinstance(grads, list) and any(g is None for g in grads)

    def apply(self, grads: Any, create_graph: bool) -> list[Tensor | None]:
        if create_graph:  # differentiable: the joint graph, eagerly, on the real inputs
            cts = self._cotangent_tensors(grads)
            out = replay(self._plan.joint.graph, [*self._unpack(True), *cts])
            found: list[Tensor | None] = list(out[self._plan.joint.n_outputs :])
            return self._reached(grads, found) if self._partial(grads) else found
        make = Tensor._make
        made = [make(a) for a in self._run_backward(self._arrays(grads))]
        if not self._hooks:  # no node hook sees them: fresh arrays may become .grad uncopied
            for g, fresh in zip(made, self._fresh, strict=True):
                if fresh:
                    g._owned_grad = True
        return self._reached(grads, made) if self._partial(grads) else list(made)

    def release(self) -> None:
        self._residuals = None


def _hooked(node: Node) -> bool:
    return bool(node._tensor_hooks or node._retained or node._hooks)


def _streams_into(n: Node | None, alone: Callable[[Node], bool]) -> bool:
    """Whether a gradient along an edge to ``n`` may be accumulated by the node itself: a
    leaf with no hook but post-accumulate ones, which no other node feeds in this backward."""
    return (
        type(n) is AccumulateGrad
        and not _hooked(n)
        and not n.variable._hooks  # type: ignore[attr-defined]
        and alone(n)
    )


# Note [gradients of outputs not backpropagated]
# One node stands for all the differentiable outputs of a compiled call, with an edge to every
# input some output reaches. A backward from some outputs only (``a, b = f(w, u)``, then
# ``a.backward()``) runs the backward program with zero cotangents for the others, so an input
# that only those reach (``u``, used only for ``b``) would get a zero gradient, where eagerly
# its node is never reached: ``u.grad`` stays None, ``autograd.grad(a, u)`` refuses unless
# allow_unused, and an optimizer skips ``u``. So each input's gradient is None when none of
# the outputs given a cotangent depends on it in the forward graph (``_reach``: per input, a
# bit per cotangent, found once per plan; paths through DETACH or no_grad equations do not
# count, as they record no autograd edge). A path with a zero derivative (``y.eq_(z)``) does
# count: eagerly its node is reached and the gradient is zeros.


def _reach(plan: TrainPlan) -> list[int]:
    """Per ``wrt`` input, a bit mask of the cotangents whose outputs depend on it."""
    joint = plan.joint
    g = joint.graph
    deps: dict[Var, int] = {g.inputs[i]: 1 << k for k, i in enumerate(joint.wrt)}
    for e in g.eqns[: joint.n_forward_eqns]:
        if e.no_grad or e.op is Op.DETACH:
            continue
        mask = 0
        for a in e.inputs:
            if isinstance(a, Var):
                mask |= deps.get(a, 0)
        if mask:
            deps[e.out] = mask
    reach = [0] * len(joint.wrt)
    for j, k in enumerate(joint.cotangent_of):
        o = g.outputs[k]
        mask = deps.get(o, 0) if isinstance(o, Var) else 0
        for i in range(len(reach)):
            if mask >> i & 1:
                reach[i] |= 1 << j
    return reach


def _cotangent_avals(plan: TrainPlan) -> list[tuple[tuple[int, ...], type]]:
    """(shape, NumPy type) of each cotangent input of the joint graph."""
    g = plan.joint.graph
    n = len(plan.joint.cotangent_of)
    return [(v.aval.shape, v.aval.dtype.np) for v in g.inputs[len(g.inputs) - n :]]


_NODE = node_class("CompiledFunctionBackward", CompiledFunctionBackward)


def node_type(plan: TrainPlan, run_backward: Program) -> type[CompiledFunctionBackward]:
    """The grad_fn class of ``plan``'s calls (PyTorch's name), holding what they share."""
    avals = _cotangent_avals(plan)
    seed: np.ndarray | None = None
    if len(avals) == 1 and np.prod(avals[0][0], dtype=int) == 1:
        seed = np.ones(*avals[0])  # only ever read by the backward program
        seed.flags.writeable = False
    attrs = {
        "__module__": _NODE.__module__,
        "__qualname__": _NODE.__qualname__,
        "_plan": plan,
        "num_outputs": len(plan.joint.cotangent_of),
        "_run_backward": staticmethod(program_call(run_backward)),
        "_program": staticmethod(run_backward),  # step by step: Note [gradients as they are made]
        "_run_donating": staticmethod(
            run_backward.donating  # type: ignore[attr-defined]
            if getattr(run_backward, "donor", None) is not None
            else program_call(run_backward)
        ),
        "_fresh": getattr(run_backward, "fresh", None) or [False] * len(plan.wrt),
        "_read": tuple(plan.split.saved_inputs),
        "_cotangents": avals,
        "_seed": seed,
        "_reach": _reach(plan),
    }
    return type(_NODE.__name__, (_NODE,), attrs)
