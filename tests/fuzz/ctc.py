"""ctc_loss vs PyTorch on random problems: padded or concatenated targets, tensor or list
lengths, unbatched, every reduction, zero_infinity, blanks anywhere, repeated labels and
impossible alignments; values and the gradient of the logits (or of raw log_probs)."""

# Data: logits normal at scale 0.5-3, passed through log_softmax (the usual use) or given as
# they are (PyTorch's gradient is w.r.t. log_probs as given, no softmax assumed). Targets draw
# from few classes (repeats and adjacent equal labels are common); input lengths from 0 to T,
# so some samples cannot be aligned (infinite loss; NaN gradient unless zero_infinity). The
# lengths are data: compiled, ctc_loss must refuse with a TracingError.

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from . import cases
from .cases import Case


@st.composite
def ctc_cases(draw: Callable[..., Any]) -> Case:
    dtype = draw(st.sampled_from(["float64", "float32"]))
    steps, classes = draw(st.integers(1, 10)), draw(st.integers(2, 6))
    unbatched = draw(st.integers(0, 4)) == 0
    batch = 1 if unbatched else draw(st.integers(1, 4))
    blank = draw(st.integers(0, classes - 1))
    labels = [c for c in range(classes) if c != blank]
    s_max = draw(st.integers(0, 5))
    tl = [draw(st.integers(0, s_max)) for _ in range(batch)]
    il = [draw(st.integers(0, steps)) for _ in range(batch)]
    targets = [[draw(st.sampled_from(labels)) for _ in range(s_max)] for _ in range(batch)]
    layout = draw(st.sampled_from(["padded", "concat"]))
    if layout == "concat" or unbatched:
        flat = [v for row, n in zip(targets, tl, strict=True) for v in row[:n]]
        tg = f"T.tensor({flat}, dtype=T.long)"
    else:
        tg = f"T.tensor({targets}, dtype=T.long).reshape({batch}, {s_max})"
    lengths = draw(st.sampled_from(["list", "tensor"]))
    lens = f"{il}, {tl}" if lengths == "list" else f"T.tensor({il}), T.tensor({tl})"
    reduction = draw(st.sampled_from(["none", "mean", "sum"]))
    zero_inf = draw(st.booleans())
    normalized = draw(st.booleans())
    scale = draw(st.sampled_from([0.5, 1.0, 3.0]))
    seed = draw(st.integers(0, 2**20))
    shape = (steps, classes) if unbatched else (steps, batch, classes)
    lp = "T.log_softmax(x0, -1)" if normalized else "x0"
    body = [
        f"loss = T.nn.functional.ctc_loss({lp}, {tg}, {lens}, blank={blank}, "
        f"reduction={reduction!r}, zero_infinity={zero_inf})",
        "return loss * T.cos(T.arange(loss.numel(), dtype=loss.dtype).reshape(loss.shape))",
    ]
    array = f"(np.random.default_rng({seed}).standard_normal({shape}) * {scale}).astype(np.{dtype})"
    tag = f"ctc {dtype} {layout} {lengths} {reduction}"
    return Case(tag, body, [array], [True])


def check_ctc(case: Case) -> None:
    # float64: the same recursion in another order (vectorized log-sum-exp per class), ~1e-15;
    # float32: the gradient is exp(log(alpha beta) + nll - lp), whose exponent carries the
    # rounding of up to 10 float32 log-sum-exp steps (measured over 400 cases: 1.1e-6)
    dtype = case.kind.split()[1]
    rtol = {"float64": 1e-12, "float32": 1e-5}[dtype]
    cases.check_eager_then_compiled(case, rtol, data_dependent=True)
