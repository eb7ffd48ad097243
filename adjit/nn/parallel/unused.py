"""find_unused_parameters: the parameters a forward's outputs do not depend on, found by
walking the autograd graph back from the outputs (PyTorch's ``search_unused_parameters``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any

from adjit.runtime.tensor import Tensor


def find_tensors(obj: Any) -> Iterator[Tensor]:
    """The tensors in a forward's output: through lists, tuples, dicts and dataclasses."""
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, list | tuple):
        for x in obj:
            yield from find_tensors(x)
    elif isinstance(obj, dict):
        for x in obj.values():
            yield from find_tensors(x)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            yield from find_tensors(getattr(obj, f.name))


def unused_parameters(params: Sequence[Tensor], outputs: Sequence[Tensor]) -> list[int]:
    """Indices of the ``params`` no output's ``grad_fn`` graph reaches (through
    ``next_functions`` to the ``AccumulateGrad`` nodes' ``.variable``), in index order."""
    reached: set[int] = set()
    seen: set[int] = set()
    stack: list[Any] = []
    for t in outputs:
        if t.grad_fn is not None:
            stack.append(t.grad_fn)
        elif t.requires_grad:  # an output that is itself a leaf (a parameter returned as is)
            reached.add(id(t))
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        variable = getattr(node, "variable", None)
        if variable is not None:
            reached.add(id(variable))
        stack.extend(nxt for nxt, _ in node.next_functions if nxt is not None)
    return [i for i, p in enumerate(params) if id(p) not in reached]
