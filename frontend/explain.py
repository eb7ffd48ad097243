"""``adjit.explain``: every stage the compiler built for one call, as attributes and as text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..ir.graph import Graph
from ..ir.printer import print_graph
from . import guards
from .compile import CompiledFunction, compile


@dataclass
class Explanation:
    """Sections of what adjit built for a function and these arguments."""

    name: str
    graph: Graph | None
    guards: list[str]
    lifted: list[str]
    eager_reason: str | None = None
    sections: dict[str, str] = field(default_factory=dict)

    @property
    def graph_text(self) -> str:
        return print_graph(self.graph, source=True) if self.graph is not None else ""

    def __str__(self) -> str:
        parts = [f"adjit.explain: {self.name}"]
        if self.eager_reason:
            parts.append(f"== runs eagerly (fallback)\n{self.eager_reason}")
        parts.append("== guards\n" + "\n".join(self.guards))
        if self.lifted:
            parts.append("== lifted tensors (read afresh at every call)\n" + "\n".join(self.lifted))
        if self.graph is not None:
            parts.append("== graph IR\n" + self.graph_text)
        parts.extend(f"== {k}\n{v}" for k, v in self.sections.items())
        return "\n\n".join(parts)

    __repr__ = __str__


def explain(fn: Any, *args: Any, **kwargs: Any) -> Explanation:
    """Trace (or reuse) ``fn`` for these arguments and describe what was built."""
    cf = fn if isinstance(fn, CompiledFunction) else compile(fn)
    entry, _ = cf.graph_for(*args, **kwargs)
    lifted = [
        f"{type(t).__name__} shape={list(t.shape)} dtype={t.dtype.name} "
        f"requires_grad={t.requires_grad}"
        for t in entry.lifted
    ]
    return Explanation(
        getattr(cf, "__qualname__", repr(cf)),
        entry.graph,
        guards.describe(entry.sig),
        lifted,
        entry.eager_reason,
    )
