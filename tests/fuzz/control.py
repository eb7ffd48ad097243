"""adjit.scan and adjit.cond on random recurrent bodies vs the same Python loop in PyTorch:
values and gradients of every input, eager (the Python loop of adjit.scan) and compiled (one
scan equation, its adjoint a reverse scan).

Data: a carry ``h`` (batch 1-3, hidden 2-4), optionally a second carry ``c``, xs of 1-5 steps,
weights ``W`` (input x hidden) and ``U`` (hidden x hidden) closed over by the body, normal at a
random scale. The body is ``h' = act(x W + h U * a + b)`` with an activation drawn from tanh,
sigmoid, sin; the second carry (when drawn) adds ``c' = c * 0.5 + h'.sum``; the y is ``h'``,
its row sums, or ``h' * c'`` ; the step is optionally wrapped in ``cond(h.sum() > 0, ...)``
(torch.cond in PyTorch) choosing between two activations. Scan direction, checkpoint (False,
True, 2) and nested scans (an inner scan over a split of the hidden units) are drawn too."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from . import cases
from .cases import Case

HEADER = [
    "def scan(T, f, init, xs, reverse, checkpoint):",
    "    if T.__name__ == 'adjit':",
    "        return T.scan(f, init, xs, reverse=reverse, checkpoint=checkpoint)",
    "    carry, ys = init, []",
    "    steps = range(xs.shape[0] - 1, -1, -1) if reverse else range(xs.shape[0])",
    "    for i in steps:",
    "        carry, y = f(carry, xs[i])",
    "        ys.append(y)",
    "    if reverse:",
    "        ys.reverse()",
    "    return carry, T.stack(ys)",
    "",
    "",
]

ACTS = ["T.tanh({})", "T.sigmoid({})", "T.sin({})"]


@st.composite
def control_cases(draw: Callable[..., Any]) -> Case:
    dtype = draw(st.sampled_from(["float64", "float32"]))
    batch, hidden, inp = draw(st.integers(1, 3)), draw(st.integers(2, 4)), draw(st.integers(1, 3))
    steps = draw(st.integers(1, 5))
    two = draw(st.booleans())
    reverse = draw(st.booleans())
    checkpoint = draw(st.sampled_from([False, True, 2]))
    branch = draw(st.booleans())
    nested = draw(st.booleans())
    a = draw(st.sampled_from([0.5, 1.0, -0.7]))
    act, other = draw(st.permutations(ACTS))[:2]
    y_kind = draw(st.sampled_from(["h", "rows", "hc"] if two else ["h", "rows"]))
    seed = draw(st.integers(0, 2**20))
    rng = "np.random.default_rng"
    scale = draw(st.sampled_from([0.3, 1.0]))
    arrays = [
        f"{rng}({seed}).standard_normal({(steps, batch, inp)})",
        f"{rng}({seed + 1}).standard_normal({(inp, hidden)}) * {scale}",
        f"{rng}({seed + 2}).standard_normal({(hidden, hidden)}) * {scale}",
        f"{rng}({seed + 3}).standard_normal({(hidden,)})",
        f"{rng}({seed + 4}).standard_normal({(batch, hidden)})",
    ]
    arrays = [f"({x}).astype(np.{dtype})" for x in arrays]
    pre = f"x @ x1 + h @ x2 * {a} + x3"
    body = ["def step(carry, x):", "    h, c = carry" if two else "    h = carry"]
    if branch:
        body += [
            f"    def yes(h, x): return {act.format(pre)}",
            f"    def no(h, x): return {other.format(pre)}",
            "    h2 = T.cond(h.sum() > 0, yes, no, (h, x))",
        ]
    else:
        body.append(f"    h2 = {act.format(pre)}")
    if nested:  # an inner scan over the hidden units (each a step), carrying a row vector
        body += [
            "    def inner(r, u):",
            "        return T.sin(r + u), r * u",
            "    r, rs = scan(T, inner, h2[:, 0] * 0.0, h2.transpose(0, 1), False, False)",
            "    h2 = h2 + rs.transpose(0, 1) * 0.5 + r.unsqueeze(1)",
        ]
    if two:
        body.append("    c2 = c * 0.5 + h2.sum(-1, keepdim=True)")
    y = {"h": "h2", "rows": "h2.sum(-1)", "hc": "h2 * c2"}[y_kind]
    body.append(f"    return ({'(h2, c2)' if two else 'h2'}, {y})")
    init = "(x4, x4[:, :1] * 0.3)" if two else "x4"
    program = [
        *body,
        f"carry, ys = scan(T, step, {init}, x0, {reverse}, {checkpoint})",
        "h = carry[0] if isinstance(carry, tuple) else carry",
        "return T.cat([ys.flatten(), h.flatten()]) * 1.0",
    ]
    tag = f"control {dtype} {'two' if two else 'one'} {'cond' if branch else 'plain'}"
    return Case(tag, program, arrays, [True] * len(arrays), header=HEADER)


def check_control(case: Case) -> None:
    # float64: the same loop in the same order, a few ulp per step; float32: 5 steps of
    # matmuls and activations (and a nested loop), each a few ulp, against PyTorch's kernels
    rtol = {"float64": 1e-10, "float32": 2e-4}[case.kind.split()[1]]
    cases.check_eager_then_compiled(case, rtol)
