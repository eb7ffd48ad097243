"""Random tensor programs as data: statements that print as Python source and run with any T."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

INPUT_LOW, INPUT_HIGH = -1.5, 1.5  # every input element is drawn from this interval


@dataclass(frozen=True)
class Input:
    """One argument of a program: its shape and whether it requires grad (else frozen)."""

    shape: tuple[int, ...]
    requires_grad: bool


@dataclass(frozen=True)
class Stmt:
    """``name = expr`` where ``expr`` only names earlier values, ``T`` and Python literals."""

    name: str
    expr: str
    shape: tuple[int, ...]
    bound: float  # |value| <= bound for inputs in [INPUT_LOW, INPUT_HIGH]
    depth: int  # longest chain of statements from an input
    no_grad: bool = False  # evaluated under ``with T.no_grad():``
    detach: bool = False  # the expression stops gradients (``.detach()``)
    # expressions that must stay away from 0 (kinks and branch points); see Program.margin
    probes: tuple[str, ...] = ()


@dataclass
class Program:
    """A straight-line program over tensors ``x0, x1, ...``; returns its last statement."""

    dtype: str  # "float32" or "float64"
    inputs: list[Input]
    stmts: list[Stmt]
    seed: int  # the input values: uniform in [INPUT_LOW, INPUT_HIGH] from this seed
    _functions: dict[bool, Callable[..., Any]] = field(default_factory=dict, repr=False)

    @property
    def depth(self) -> int:
        return max(s.depth for s in self.stmts)

    @property
    def stops_gradients(self) -> bool:
        """Whether a no_grad region or a detach is part of the program."""
        return any(s.no_grad or s.detach for s in self.stmts)

    @property
    def bound(self) -> float:
        return max(s.bound for s in self.stmts)

    def source(self, probes: bool = False) -> str:
        """The program as Python: ``def program(T, probe, x0, ...)``; ``probe`` marks kinks."""
        args = ", ".join(f"x{i}" for i in range(len(self.inputs)))
        lines = [f"def program(T, probe, {args}):"]
        for i, inp in enumerate(self.inputs):
            flag = "requires_grad" if inp.requires_grad else "frozen"
            lines.append(f"    # x{i}: {self.dtype}{list(inp.shape)} {flag}")
        for s in self.stmts:
            indent = "    "
            if s.no_grad:
                lines.append("    with T.no_grad():")
                indent = "        "
            if probes:
                lines += [f"{indent}probe({p})" for p in s.probes]
            lines.append(f"{indent}{s.name} = {s.expr}")
        lines.append(f"    return {self.stmts[-1].name}")
        return "\n".join(lines)

    def function(self, probes: bool = False) -> Callable[..., Any]:
        """``program(T, probe, *xs)`` compiled from :meth:`source` (cached)."""
        if probes not in self._functions:
            namespace: dict[str, Any] = {}
            exec(compile(self.source(probes), "<fuzz program>", "exec"), namespace)  # noqa: S102
            self._functions[probes] = namespace["program"]
        return self._functions[probes]

    def bind(self, T: Any) -> Callable[..., Any]:
        """The program as ``f(*xs)`` for module ``T`` (adjit or torch), without probes."""
        fn = self.function()

        def program(*xs: Any) -> Any:
            return fn(T, _no_probe, *xs)

        return program

    def arrays(self) -> list[np.ndarray]:
        rng = np.random.default_rng(self.seed)
        return [rng.uniform(INPUT_LOW, INPUT_HIGH, inp.shape) for inp in self.inputs]

    def margin(self, T: Any, xs: list[Any]) -> float:
        """The smallest |probe| over one eager run: how far the inputs are from any kink."""
        seen = [math.inf]

        def probe(t: Any) -> None:
            a = np.abs(np.asarray(t.detach().numpy(), dtype=np.float64))
            if a.size:
                seen.append(float(a.min()))

        self.function(probes=True)(T, probe, *xs)
        return min(seen)

    def __repr__(self) -> str:
        return f"{self.source()}\n# dtype={self.dtype} seed={self.seed}"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # how hypothesis prints examples
        p.text("\n" + repr(self) + "\n")


def _no_probe(t: Any) -> None:
    return None
