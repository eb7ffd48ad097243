"""ctc_loss / CTCLoss side by side with PyTorch: losses, gradients, layouts, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from adjit.runtime.trace_state import TracingError

import adjit

TOL = {torch.float64: 1e-12, torch.float32: 2e-5}


def _a(t: torch.Tensor) -> adjit.Tensor:
    return adjit.tensor(t.detach().numpy())


def _problem(seed: int, t_max: int, n: int, c: int, s: int, blank: int, dtype: torch.dtype):
    """Random log_probs and targets (labels != blank, repeats likely when c is small); input
    lengths sometimes too short for the targets (infinite losses)."""
    g = torch.Generator().manual_seed(seed)
    lp = torch.randn(t_max, n, c, generator=g, dtype=torch.float64).mul(2).log_softmax(2)
    labels = [k for k in range(c) if k != blank]
    pick = torch.randint(0, len(labels), (n, s), generator=g)
    targets = torch.tensor(labels)[pick]
    tl = torch.randint(0, s + 1, (n,), generator=g)
    il = torch.randint(max(1, t_max // 3), t_max + 1, (n,), generator=g)
    il[0] = t_max
    return lp.to(dtype), targets, il, tl


PROBLEMS = [
    # seed, T, N, C, S, blank
    (0, 8, 3, 5, 3, 0),
    (1, 12, 4, 3, 5, 0),  # few classes: repeated labels
    (2, 6, 5, 4, 4, 2),  # blank in the middle; many impossible alignments
    (3, 20, 2, 7, 6, 6),  # blank last
    (4, 1, 3, 3, 1, 1),  # one time step
    (5, 15, 6, 2, 4, 1),  # one non-blank label: every target a run of repeats
]


def _run(lib, nnf, lp, targets, il, tl, **kw):
    x = lp.clone().detach().requires_grad_() if lib is torch else _a(lp).requires_grad_()
    loss = nnf.ctc_loss(x, targets, il, tl, **kw)
    weights = torch.linspace(0.5, 1.5, max(loss.numel(), 1), dtype=torch.float64)
    w = weights.reshape(loss.shape).to(lp.dtype)
    (loss * (w if lib is torch else _a(w))).sum().backward()
    return loss.detach().numpy(), x.grad.numpy()


def _compare(lp, targets, il, tl, layout, lengths, **kw):
    if layout == "concat":
        targets = torch.cat([targets[b, : int(tl[b])] for b in range(targets.shape[0])])
    t_il, t_tl = (il, tl) if lengths == "tensor" else (tuple(il.tolist()), tuple(tl.tolist()))
    a_il, a_tl = (_a(il), _a(tl)) if lengths == "tensor" else (t_il, t_tl)
    want = _run(torch, torch.nn.functional, lp, targets, t_il, t_tl, **kw)
    got = _run(adjit, adjit.nn.functional, lp, _a(targets), a_il, a_tl, **kw)
    tol = TOL[lp.dtype]
    for w, g in zip(want, got, strict=True):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w))
        np.testing.assert_array_equal(np.isinf(g), np.isinf(w))
        fin = np.isfinite(w)
        np.testing.assert_allclose(g[fin], w[fin], rtol=tol, atol=tol)
    return want


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("zero_infinity", [False, True])
def test_loss_and_grad_vs_torch(dtype, problem, reduction, zero_infinity):
    seed, t_max, n, c, s, blank = problem
    lp, targets, il, tl = _problem(seed, t_max, n, c, s, blank, dtype)
    for layout, lengths in (("padded", "tensor"), ("concat", "tuple")):
        _compare(
            lp,
            targets,
            il,
            tl,
            layout,
            lengths,
            blank=blank,
            reduction=reduction,
            zero_infinity=zero_infinity,
        )


def test_problems_cover_infinite_losses():
    """The table reaches impossible alignments (inf, NaN gradients) and finite ones."""
    lp, targets, il, tl = _problem(*PROBLEMS[2][:6], torch.float64)
    loss, grad = _run(torch, torch.nn.functional, lp, targets, il, tl, blank=2, reduction="none")
    assert np.isinf(loss).any() and np.isfinite(loss).any() and np.isnan(grad).any()


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_unbatched(dtype, reduction):
    lp, targets, il, tl = _problem(7, 9, 1, 4, 3, 0, dtype)
    for targ in (targets[0], targets):  # (S,) and (1, S)
        for lens in ((il, tl), (tuple(il.tolist()), tuple(tl.tolist()))):
            want = _run(torch, torch.nn.functional, lp[:, 0], targ, *lens, reduction=reduction)
            a_lens = tuple(_a(v) if isinstance(v, torch.Tensor) else v for v in lens)
            got = _run(adjit, adjit.nn.functional, lp[:, 0], _a(targ), *a_lens, reduction=reduction)
            for w, g in zip(want, got, strict=True):
                assert g.shape == w.shape
                np.testing.assert_allclose(g, w, rtol=TOL[dtype], atol=TOL[dtype])


def test_zero_lengths_and_length_dtypes():
    lp, targets, _, _ = _problem(8, 6, 3, 5, 3, 0, torch.float64)
    for il, tl in (([0, 6, 3], [0, 2, 1]), ([0, 6, 2], [1, 0, 3]), ([6, 6, 6], [0, 0, 0])):
        for dt in (torch.int32, torch.int64, torch.uint8):
            _compare(
                lp,
                targets,
                torch.tensor(il, dtype=dt),
                torch.tensor(tl, dtype=dt),
                "padded",
                "tensor",
                reduction="none",
            )
    # int32 targets, an empty concatenated target tensor
    _compare(
        lp,
        targets.int(),
        torch.tensor([6, 5, 4]),
        torch.tensor([3, 1, 2]),
        "padded",
        "tensor",
        reduction="mean",
    )
    want = torch.nn.functional.ctc_loss(
        lp, torch.tensor([], dtype=torch.long), [6, 5, 4], [0, 0, 0], reduction="none"
    )
    got = adjit.nn.functional.ctc_loss(
        _a(lp), adjit.tensor([], dtype=adjit.long), [6, 5, 4], [0, 0, 0], reduction="none"
    )
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)


def test_grad_fn_names_and_no_double_backward():
    lp, targets, il, tl = _problem(9, 7, 2, 4, 3, 0, torch.float64)
    cases = [
        ({"reduction": "none"}, "CtcLossBackward0"),
        ({"reduction": "none", "zero_infinity": True}, "WhereBackward0"),
        ({"reduction": "mean"}, "MeanBackward0"),
        ({"reduction": "sum"}, "SumBackward0"),
    ]
    x = _a(lp).requires_grad_()
    for kw, name in cases:
        out = adjit.nn.functional.ctc_loss(x, _a(targets), _a(il), _a(tl), **kw)
        assert type(out.grad_fn).__name__ == name
    unb = adjit.nn.functional.ctc_loss(x[:, 0], _a(targets[0]), (7,), (3,), reduction="none")
    assert type(unb.grad_fn).__name__ == "SqueezeBackward1"
    loss = adjit.nn.functional.ctc_loss(x, _a(targets), _a(il), _a(tl))
    (g,) = adjit.autograd.grad(loss, x, create_graph=True)
    with pytest.raises(RuntimeError, match=r"derivative for aten::_ctc_loss_backward is not"):
        g.sum().backward()


def test_module():
    lp, targets, il, tl = _problem(10, 8, 3, 5, 3, 4, torch.float64)
    want = torch.nn.CTCLoss(blank=4, reduction="sum", zero_infinity=True)
    got = adjit.nn.CTCLoss(blank=4, reduction="sum", zero_infinity=True)
    assert repr(got) == repr(want) == "CTCLoss()"
    assert (got.blank, got.reduction, got.zero_infinity) == (4, "sum", True)
    np.testing.assert_allclose(
        got(_a(lp), _a(targets), _a(il), _a(tl)).numpy(),
        want(lp, targets, il, tl).numpy(),
        rtol=1e-12,
    )


def test_compiled_refuses_with_a_clear_error():
    fn = lambda x: adjit.nn.functional.ctc_loss(x, adjit.tensor([[1, 2]]), [4], [2])  # noqa: E731
    x = adjit.randn(4, 1, 3).log_softmax(2)
    with pytest.raises(TracingError, match="ctc_loss"):
        adjit.compile(fn, fullgraph=True)(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the warning that the function was split)
        assert adjit.compile(fn)(x).item() == fn(x).item()  # by default a graph break


_LP = torch.randn(6, 2, 5, generator=torch.Generator().manual_seed(0)).log_softmax(2)
_TG = torch.tensor([[1, 2, 2], [3, 1, 0]])
_IL, _TL = torch.tensor([6, 5]), torch.tensor([3, 2])
ERRORS = [
    (_LP, _TG, _IL, _TL, {"reduction": "foo"}),
    (_LP, _TG, _IL, (3, 2), {}),
    (_LP, _TG, (6, 5), _TL, {}),
    (_LP, _TG, [6.0, 5.0], [3, 2], {}),
    (_LP, _TG, "a", _TL, {}),
    (_LP, _TG, _IL.float(), _TL, {}),
    (_LP, _TG, _IL, _TL.bool(), {}),
    (_LP, _TG, _IL, _TL, {"blank": 5}),
    (_LP, _TG, _IL, _TL, {"blank": -1}),
    (_LP, _TG, torch.tensor([7, 5]), _TL, {}),
    (_LP, _TG, torch.tensor([-1, 5]), _TL, {}),
    (_LP, _TG, _IL, torch.tensor([4, 2]), {}),
    (_LP, _TG, _IL, torch.tensor([-1, 2]), {}),
    (_LP, _TG, torch.tensor([7, 6]), torch.tensor([4, 2]), {}),
    (_LP, _TG, torch.tensor([6, 5, 4]), _TL, {}),
    (_LP, _TG, _IL, torch.tensor([3]), {}),
    (_LP, _TG, torch.tensor(6), _TL, {}),
    (_LP.half(), _TG, _IL, _TL, {}),
    (_LP.bfloat16(), _TG, _IL, _TL, {}),
    (_LP.to(torch.complex64), _TG, _IL, _TL, {}),
    (_LP.unsqueeze(0), _TG, _IL, _TL, {}),
    (_LP[0, 0], _TG, _IL, _TL, {}),
    (_LP, _TG.unsqueeze(0), _IL, _TL, {}),
    (_LP, _TG[:1], _IL, _TL, {}),
    (_LP, torch.tensor([1, 2, 2, 3]), _IL, _TL, {}),
    (_LP, torch.tensor([1, 2, 2, 3, 1, 4]), _IL, _TL, {}),
    (_LP[:0], _TG, [0, 0], [0, 0], {}),
    (_LP[:, :0], _TG[:0], [], [], {}),
    (_LP, [1, 2], [6, 5], [1, 1], {}),
    ([1.0], _TG, _IL, _TL, {}),
]


@pytest.mark.parametrize("case", range(len(ERRORS)))
def test_error_texts_vs_torch(case):
    lp, tg, il, tl, kw = ERRORS[case]
    with pytest.raises(Exception) as want:
        torch.nn.functional.ctc_loss(lp, tg, il, tl, **kw)

    def conv(v):
        return _a(v) if isinstance(v, torch.Tensor) and v.dtype != torch.bfloat16 else v

    bf16 = isinstance(lp, torch.Tensor) and lp.dtype == torch.bfloat16
    a_lp = _a(lp.float()).to(adjit.bfloat16) if bf16 else conv(lp)
    with pytest.raises(Exception) as got:
        adjit.nn.functional.ctc_loss(a_lp, conv(tg), conv(il), conv(tl), **kw)
    assert type(got.value) is type(want.value)
    assert str(got.value) == str(want.value)


def test_out_of_range_target_refused():
    """PyTorch reads out of bounds for a label >= C (a garbage loss); we raise."""
    with pytest.raises(IndexError, match="ctc_loss: target 9 is out of bounds for 5 classes"):
        adjit.nn.functional.ctc_loss(_a(_LP), adjit.tensor([[1, 2, 9], [3, 1, 0]]), [6, 5], [3, 2])


def test_transposed_log_probs_through_log_softmax_twice():
    """log_probs as a (T, N, C) view of (N, T, C) logits' log_softmax, backward run twice."""
    logits = torch.randn(3, 7, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(11))
    targets, il, tl = torch.tensor([[1, 1, 2], [4, 3, 0], [2, 0, 0]]), (7, 6, 5), (3, 2, 1)
    grads = []
    for lib, x in ((torch, logits.clone().requires_grad_()), (adjit, _a(logits).requires_grad_())):
        lp = lib.nn.functional.log_softmax(x, dim=2).transpose(0, 1)
        tg = targets if lib is torch else _a(targets)
        loss = lib.nn.functional.ctc_loss(lp, tg, il, tl, reduction="sum")
        loss.backward(retain_graph=True)
        loss.backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12, atol=1e-12)
