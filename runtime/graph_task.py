"""The backward call running now (its id, and which nodes it will run) and gradient edges."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

# Note [graph tasks]
# ~~~~~~~~~~~~~~~~~~
# PyTorch's engine calls one backward()/autograd.grad() a graph task: hooks may ask for its id
# (``torch._C._current_graph_task_id()``, -1 outside a backward) and whether it will run a
# given node (``torch._C._will_engine_execute_node``): autograd.graph.register_multi_grad_hook
# is built on both. run_backward pushes a task for each call (nested calls from hooks push
# their own); the set of nodes it runs is worked out only when a hook first asks: every node
# reachable from the roots, or, when the call names ``inputs``, only the nodes from which an
# input's node is reachable (the inputs' own nodes included), as PyTorch's exec_info says.


class GradientEdge(NamedTuple):
    """Where the gradient of a tensor flows in: a node and the number of its output."""

    node: Any
    output_nr: int
    ownership_token: Any = None


class _Task:
    __slots__ = ("id", "_roots", "_targets", "_runs", "_grad_call")

    def __init__(
        self,
        roots: Callable[[], list[Any]],
        targets: Callable[[], set[Any]] | None,
        grad_call: bool,
    ) -> None:
        self.id = next(_ids)
        self._roots, self._targets, self._grad_call = roots, targets, grad_call
        self._runs: set[Any] | None = None

    def will_execute(self, node: Any) -> bool:
        if self._grad_call and type(node).__name__ == "AccumulateGrad":
            raise RuntimeError(
                "A leaf node was passed to _will_engine_execute_node but we are currently "
                "running autograd.grad(). This is currently not supported."
            )
        if self._runs is None:
            from .autograd import _discover, _needed

            roots = [n for n in self._roots() if n is not None]
            if self._targets is None:
                self._runs = set(_discover(roots)) | set(roots)
            else:
                self._runs = _needed(roots, self._targets())
        return node in self._runs


_ids = itertools.count()


class _State(threading.local):
    def __init__(self) -> None:
        self.stack: list[_Task] = []


_state = _State()


def push(
    roots: Callable[[], list[Any]], targets: Callable[[], set[Any]] | None, grad_call: bool
) -> _Task:
    task = _Task(roots, targets, grad_call)
    _state.stack.append(task)
    return task


def pop() -> None:
    _state.stack.pop()


def current_id() -> int:
    """The running backward call's id, -1 outside one (``torch._C._current_graph_task_id``)."""
    return _state.stack[-1].id if _state.stack else -1


def will_execute(node: Any) -> bool:
    """Whether the running backward call runs ``node`` (``torch._C._will_engine_execute_node``)."""
    if not _state.stack:
        raise RuntimeError(
            "_will_engine_execute_node should only be called during the backward pass"
        )
    return _state.stack[-1].will_execute(node)
