"""Text views of ``adjit.explain``: per-kernel LLVM/assembly listings and the one-screen summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class KernelTexts(dict[str, str]):
    """``{"forward/k0": text, ...}`` (indexing as before); ``str()`` lists every kernel's
    text under a ``-- forward/k0`` header, in execution order."""

    def __init__(self, items: dict[str, str], what: str = "text") -> None:
        super().__init__(items)
        self.what = what

    def __str__(self) -> str:
        if not self:
            return f"(no fused kernels, so no {self.what}: the llvm backend compiles them)"
        return "\n\n".join(f"-- {name}\n{text.rstrip()}" for name, text in self.items())

    __repr__ = __str__


# Note [explain summary]
# ~~~~~~~~~~~~~~~~~~~~~~
# ``explain(fn, *args).summary()`` (and ``.brief``, its text; the CLI's default view) is the
# one screen a reader wants first: how many equations each stage has (traced graph, adjoint's
# joint graph, after the optimizing passes, the split forward and backward, or the inference
# graph without grad), how many bytes the forward keeps for the backward and the peak, how
# many fused kernels and extern steps run, the compile time (adjoint + optimize + split, as
# ``timings`` has them, with a gradient; tracing and kernel code generation are not
# counted), how many forward equations were pruned (no gradient code), how many stability
# rewrites fired, guards and breaks.
# Every number is read from the Explanation's own attributes, so the two cannot disagree.


@dataclass
class Summary:
    """Counts of Note [explain summary]; ``str()`` is the brief text."""

    name: str
    eqns: dict[str, int] = field(default_factory=dict)  # stage -> equations
    saved_count: int = 0
    saved_bytes: int = 0
    peak_bytes: int = 0
    kernels: dict[str, int] = field(default_factory=dict)  # program -> fused kernels
    externs: dict[str, int] = field(default_factory=dict)  # program -> extern steps
    compile_seconds: float = 0.0
    pruned: int = 0
    recomputed: int = 0
    rewrites: list[str] = field(default_factory=list)
    guards: int = 0
    breaks: int = 0
    share: str = ""
    eager_reason: str | None = None
    wrt: list[str] | None = None  # the inputs differentiated, by the user's names

    @property
    def kernel_count(self) -> int:
        return sum(self.kernels.values())

    def __str__(self) -> str:
        lines = [f"adjit.explain: {self.name} (brief: str(explain) or --section all shows all)"]
        if self.eager_reason:
            lines.append(f"runs eagerly: {self.eager_reason}")
        lines.append(f"compiled share: {self.share}")
        if self.breaks:
            lines.append(f"graph breaks: {self.breaks}")
        if self.eqns:
            lines.append("equations: " + ", ".join(f"{k} {v}" for k, v in self.eqns.items()))
        if self.wrt is not None:
            lines.append(f"gradient with respect to: {', '.join(self.wrt)}")
            lines.append(
                f"saved for backward: {self.saved_count} residuals, {self.saved_bytes} bytes "
                f"(peak activation memory {self.peak_bytes} bytes); "
                f"recomputed in backward: {self.recomputed}"
            )
            lines.append(f"pruned (no gradient code): {self.pruned} equations")
        if self.kernels or self.externs:
            for what, counts in [("fused kernels", self.kernels), ("extern steps", self.externs)]:
                each = ", ".join(f"{p} {n}" for p, n in counts.items())
                lines.append(f"{what}: {sum(counts.values())} ({each})")
        elif self.breaks:
            lines.append("fused kernels: per segment (--section all lists the segments)")
        else:
            lines.append("fused kernels: 0 (the llvm backend compiles them)")
        if self.wrt is not None:
            lines.append(
                f"compile time (adjoint + optimize + split): {self.compile_seconds * 1e3:.2f} ms"
            )
        fired = ", ".join(self.rewrites)
        lines.append(
            f"stability rewrites fired: {len(self.rewrites)}" + (f" ({fired})" if fired else "")
        )
        lines.append(f"guards: {self.guards}")
        return "\n".join(lines)

    __repr__ = __str__


def summary(ex: Any) -> Summary:
    """The Summary of an Explanation (Note [explain summary])."""
    s = Summary(ex.name, share=ex.share, eager_reason=ex.eager_reason)
    s.guards, s.breaks = len(ex.guards), len(ex.breaks)
    if ex.graph is not None:
        s.eqns["graph"] = len(ex.graph.eqns)
    for i, g in enumerate(ex.segments):
        s.eqns[f"segment {i + 1}"] = len(g.eqns)
    if ex.plan is not None:
        names = ex.input_names
        s.wrt = [names[i] if i < len(names) else f"input {i}" for i in ex.plan.wrt]
        stages = [("adjoint", ex.adjoint), ("optimized", ex.optimized)]
        stages += [("forward", ex.forward), ("backward", ex.backward)]
        s.eqns |= {k: len(g.eqns) for k, g in stages if g is not None}
        saved = ex.saved
        s.saved_count, s.saved_bytes, s.peak_bytes = len(saved), saved.bytes, saved.peak_bytes
        s.pruned, s.recomputed = len(ex.pruned), len(ex.recomputed)
        s.compile_seconds = sum(ex.plan.timings.values())
    elif ex.inference is not None:
        s.eqns["inference"] = len(ex.inference.eqns)
    for program, run in ex._executables():
        steps = run.program.steps
        s.kernels[program] = len(run.program.kernels)
        s.externs[program] = sum(1 for st in steps if not hasattr(st, "formula"))
    s.rewrites = [rule for rule, _, _ in ex.rewrites]
    return s
