"""The views of an Explanation for its page: traced, joint, forward and backward programs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..ir.graph import Eqn
from .explain_html import Roles, View, draw


def views(ex: Any) -> tuple[list[View], dict[str, Any]]:
    """The views of Note [explain as a page] for an Explanation, and the source lines."""
    sources: dict[str, Any] = {}
    found: list[View] = []
    names = list(ex.input_names)
    n_args = len(names) - (len(ex.entry.lifted) if ex.entry is not None else 0)

    def arg(i: int) -> tuple[str, str]:
        name = names[i] if i < len(names) else f"input {i}"
        return ("input" if i < n_args else "parameter"), name

    plan = ex.plan
    pruned: dict[int, str] = dict(plan.joint.pruned) if plan is not None else {}
    for k, g in enumerate(ex.segments):  # a function with graph breaks: each segment
        roles = Roles([], [], _plain)
        view = View(f"seg{k}", f"Segment {k + 1}", "a compiled segment between breaks", str(g))
        found.append(draw(view, g, roles, sources))
    g = ex.graph
    if g is not None:
        outs = _names("out", len(g.outputs))
        roles = Roles([arg(i) for i in range(len(g.inputs))], outs, _pruned_or(pruned))
        caption = "the graph the tracer recorded; grey: pruned by the adjoint (no gradient code)"
        found.append(
            draw(View("traced", "Traced graph", caption, ex.graph_text), g, roles, sources)
        )
    if plan is not None:
        found.append(_joint(ex, arg, pruned, sources))
    found += _programs(ex, arg, sources)
    return found, sources


def _plain(i: int, e: Eqn) -> tuple[str, str]:
    return "op", ""


def _pruned_or(pruned: dict[int, str]) -> Callable[[int, Eqn], tuple[str, str]]:
    return lambda i, e: ("pruned", f"pruned: {pruned[i]}") if i in pruned else ("op", "")


def _names(base: str, n: int) -> list[str]:
    return [base] if n == 1 else [f"{base}{k}" for k in range(n)]


def _joint(ex: Any, arg: Callable[[int], tuple[str, str]], pruned: dict[int, str],
           sources: dict[str, Any]) -> View:  # fmt: skip
    joint = ex.plan.joint
    g = joint.graph
    n_in = len(g.inputs) - len(joint.cotangent_of)
    cot = [("cotangent", n) for n in _names("g", len(joint.cotangent_of))]
    grads = [f"∂/∂{arg(w)[1]}" for w in joint.wrt]
    roles = Roles(
        [arg(i) for i in range(n_in)] + cot,
        _names("out", joint.n_outputs) + grads,
        lambda i, e: (
            ("gradient", "")
            if i >= joint.n_forward_eqns
            else ("pruned", f"pruned: {pruned[i]}")
            if i in pruned and joint.n_forward_eqns == len(ex.graph.eqns)
            else ("op", "")
        ),
    )
    wrt = [arg(w)[1] for w in joint.wrt]
    wrt_text = ", ".join(wrt) if len(wrt) <= 4 else f"{len(wrt)} inputs: {', '.join(wrt[:3])}, …"
    caption = f"the adjoint's forward+backward graph (wrt {wrt_text})"
    return draw(View("joint", "Joint graph", caption, str(g)), g, roles, sources)


def _programs(ex: Any, arg: Callable[[int], tuple[str, str]],
              sources: dict[str, Any]) -> list[View]:  # fmt: skip
    """The forward and backward programs, each kernel a box (Note [explain as a page])."""
    from .formulas import programs

    if ex.forward is None:
        return []
    formulas = _formulas(ex)
    llvm, asm = ex.llvm_ir, ex.asm
    plan = ex.plan
    split = plan.split if plan is not None else None
    residuals = (
        {v: r.name for v, r in zip(split.residuals, ex.saved, strict=False)} if split else {}
    )
    fwd_eqns = set(split.forward.eqns) if split else set()
    found = []
    for which, g, kernels in programs(ex):
        view = View(which, f"{which.capitalize()} program", "", str(g))
        kernel_of: dict[Eqn, str] = {}
        for k in kernels:
            head = f"{which}/{k.name}"
            eqns = _kernel_eqns(k)
            kernel_of.update((e, k.name) for e in eqns)
            locs = list(dict.fromkeys(e.loc for e in eqns if e.loc))
            ops = f"{len(k.eqns)} op{'s' if len(k.eqns) != 1 else ''} over {list(k.shape)}"
            detail = {
                "title": head,
                "aval": ops,
                "locs": locs,
                "formula": formulas.get(head, formulas.get("*", "")),
                "llvm": llvm.get(head, ""),
                "asm": asm.get(head, ""),
            }
            view.kernel(k.name, f"{k.name} · {ops}", detail)
        if which == "forward":
            n_out = len(g.outputs) - len(residuals)
            roles = Roles([arg(i) for i in range(len(g.inputs))], _names("out", n_out), _plain)
            roles.eqn_kind = lambda i, e: (
                ("saved", f"saved as {residuals[e.out]}") if e.out in residuals else ("op", "")
            )
            view.caption = (
                "what runs first: boxes are fused kernels; orange: saved for backward"
                if plan
                else "what runs: boxes are fused kernels, the rest runs as extern steps"
            )
        else:
            assert split is not None and plan is not None
            inputs = [("saved", residuals.get(v, "")) for v in split.residuals]
            inputs += [arg(i) for i in split.saved_inputs]
            n_cot = len(g.inputs) - len(inputs)
            inputs += [("cotangent", n) for n in _names("g", n_cot)]
            grads = [f"∂/∂{arg(w)[1]}" for w in plan.wrt]
            roles = Roles(inputs, grads, lambda i, e: (
                ("recomputed", "recomputed") if e in fwd_eqns else ("op", "")
            ))  # fmt: skip
            view.caption = "the gradient: orange inputs were saved; violet: recomputed"
        roles.kernel_of = kernel_of
        found.append(draw(view, g, roles, sources))
    return found


def _kernel_eqns(k: Any) -> list[Eqn]:
    """Every equation a Kernel or RowKernel computes."""
    eqns = [*getattr(k, "scalar_eqns", ()), *k.eqns, *getattr(k, "tail", ())]
    for p in getattr(k, "passes", ()):
        eqns += [*p.row_eqns, *p.eqns, *p.reductions]
    return list(dict.fromkeys(eqns))


def _formulas(ex: Any) -> dict[str, str]:
    """``program/kernel`` -> its formulas' text (a formula sympy cannot print: the error)."""
    try:
        found = list(ex.formulas)
    except Exception as e:  # (a drawing still helps; the panel says what failed)
        return {"*": f"(formulas not available: {type(e).__name__}: {e})"}
    out: dict[str, str] = {}
    for f in found:
        head = f"{f.program}/{f.kernel}"
        out[head] = (out[head] + "\n" if head in out else "") + f.text
    return out
