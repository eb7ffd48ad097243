"""Kernel steps that may write an output over a dying input (Note [kernels in place])."""

from __future__ import annotations

from typing import Any

from ..codegen.kernel_cache import kernel_code
from ..passes.fusion import Kernel
from ..passes.size_facts import is_scalar_shape
from .buffer_plan import StepIO
from .executor import STEP_IO, KernelStep
from .kernels import KernelRunner

Pairs = tuple[tuple[int, int], ...]  # (output position, input position)

# Note [kernel steps in place]
# The buffer planner decides which output takes its input's bytes (Note [buffer planning]),
# per plan: a training step's backward has two (its own, and the donating call's over the
# forward's arena), and only the second may write over a residual. So the step decides at
# each call from the addresses it is given: a pair at one address runs the kernel compiled
# in place for exactly those pairs (codegen's Note [kernels in place], compiled on first
# use), anything else the plain kernel, whose ``noalias`` arguments then hold. The planner
# never places two values of one step partly over each other, so equal addresses are the
# only overlap there is.


def in_place_pairs(k: Any) -> Pairs:
    """The (output, input) positions of plain Kernel ``k`` that may share a buffer: a
    full-shape output and an input of the kernel's shape and dtype (Note [kernels in place])."""
    if type(k) is not Kernel or not all(isinstance(n, int) for n in k.shape):
        return ()
    if is_scalar_shape(k.shape):
        return ()
    shape, reduced = tuple(k.shape), {e.out for e in k.reductions}
    return tuple(
        (o, i)
        for o, out in enumerate(k.outputs)
        if out not in reduced and tuple(out.aval.shape) == shape
        for i, x in enumerate(k.inputs)
        if tuple(x.aval.shape) == shape and x.aval.dtype == out.aval.dtype
    )


class InPlaceKernelStep(KernelStep):
    """A KernelStep whose ``pairs`` may be given one buffer (Note [kernel steps in place])."""

    __slots__ = ("pairs", "threshold", "use_vecmath", "variants")
    FIELDS = ("kernel", "runner", "pairs", "threshold", "use_vecmath", "variants")
    pairs: Pairs
    threshold: int | None
    use_vecmath: bool
    variants: dict[Pairs, KernelRunner]  # compiled in place, per set of pairs

    def runner_for(self, addresses: list[int]) -> KernelRunner:
        """The runner for these addresses (outputs', then inputs'): compiled in place for the
        pairs at one address. (It compiles wherever the plain kernel did: ``in_place_pairs``
        offers only what codegen's ``_check_shared`` accepts.)"""
        n = len(self.kernel.outputs)
        same = tuple(
            (o, i) for o, i in self.pairs if addresses[o] == addresses[n + i] and addresses[o]
        )
        if not same:
            return self.runner
        runner = self.variants.get(same)
        if runner is None:
            info, compiled = kernel_code(self.kernel, self.use_vecmath, same)
            runner = self.variants[same] = KernelRunner(info, compiled, self.threshold)
        return runner


def _io(s: InPlaceKernelStep) -> StepIO:
    k = s.kernel
    pairs = [(k.outputs[o], k.inputs[i]) for o, i in s.pairs]
    return StepIO(k.inputs, k.outputs, (), pairs)


STEP_IO[InPlaceKernelStep] = _io


def with_in_place_kernels(steps: list[Any], threshold: int | None, use_vecmath: bool) -> list[Any]:
    """``steps`` with each kernel step that has pairs to offer as an InPlaceKernelStep."""
    out = []
    for s in steps:
        pairs = in_place_pairs(s.kernel) if type(s) is KernelStep else ()
        out.append(
            InPlaceKernelStep(s.kernel, s.runner, pairs, threshold, use_vecmath, {}) if pairs else s
        )
    return out
