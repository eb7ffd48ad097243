"""nn.functional vs PyTorch: values, gradients and grad_fn names, in float32 and float64."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

import adjit
import adjit.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

IGNORED = np.array([0, 2, -100, 4, 1, -100])  # class targets with ignore_index entries
CLASS6 = np.array([0, 2, 1, 4, 3, 2])


@dataclass
class Case:
    """Call ``F.<fn>(*args, **kwargs)``; specs become arrays (see ``make``)."""

    id: str
    fn: str
    args: tuple
    kwargs: dict[str, Any] = field(default_factory=dict)
    name: str | None = None  # expected grad_fn name when it differs from torch's (never, ideally)
    fd: bool = True  # False where PyTorch's gradient is not the true derivative by design


def make(spec: Any, rng: np.random.Generator) -> Any:
    """("x", shape): normal; ("p", shape): in (0.05, 0.95); ("pos", shape); arrays stay as-is."""
    if isinstance(spec, np.ndarray):
        return spec
    if not (isinstance(spec, tuple) and spec and isinstance(spec[0], str)):
        return spec
    kind, shape = spec[0], spec[1]
    draw = {
        "x": lambda: rng.standard_normal(shape) * 2,
        "p": lambda: rng.uniform(0.05, 0.95, shape),
        "pos": lambda: rng.uniform(0.5, 2.0, shape),
    }
    return draw[kind]()


REDUCED = [
    Case(f"{fn}-{r}", fn, (("x", (4, 5)), ("x", (4, 5))), {"reduction": r})
    for fn in ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss")
    for r in ("mean", "sum", "none")
]
CASES = REDUCED + [
    *[
        Case(
            f"{fn}-weight-{r}",
            fn,
            (("x", (4, 5)), ("x", (4, 5))),
            {"weight": ("pos", (4, 5)), "reduction": r},
        )
        for fn in ("mse_loss", "l1_loss", "huber_loss")
        for r in ("mean", "none")
    ],
    Case("smooth_l1-beta", "smooth_l1_loss", (("x", (6,)), ("x", (6,))), {"beta": 0.5}),
    Case("huber-delta", "huber_loss", (("x", (6,)), ("x", (6,))), {"delta": 2.0}),
    *[
        Case(f"ce-{r}", "cross_entropy", (("x", (6, 5)), CLASS6), {"reduction": r})
        for r in ("mean", "sum", "none")
    ],
    Case("ce-1d", "cross_entropy", (("x", (5,)), np.array(3))),
    Case("ce-3d", "cross_entropy", (("x", (2, 5, 3)), np.array([[0, 1, 4], [2, 2, 3]]))),
    Case("ce-weight", "cross_entropy", (("x", (6, 5)), CLASS6), {"weight": ("pos", (5,))}),
    Case("ce-ignore", "cross_entropy", (("x", (6, 5)), IGNORED)),
    Case("ce-ignore-w", "cross_entropy", (("x", (6, 5)), IGNORED), {"weight": ("pos", (5,))}),
    *[
        Case(
            f"ce-ls-{r}",
            "cross_entropy",
            (("x", (6, 5)), IGNORED),
            {"label_smoothing": 0.2, "reduction": r},
        )
        for r in ("mean", "sum", "none")
    ],
    Case(
        "ce-ls-w",
        "cross_entropy",
        (("x", (6, 5)), CLASS6),
        {"label_smoothing": 0.1, "weight": ("pos", (5,))},
    ),
    *[
        Case(f"ce-prob-{r}", "cross_entropy", (("x", (4, 5)), ("p", (4, 5))), {"reduction": r})
        for r in ("mean", "sum", "none")
    ],
    Case(
        "ce-prob-ls-w",
        "cross_entropy",
        (("x", (4, 5)), ("p", (4, 5))),
        {"label_smoothing": 0.3, "weight": ("pos", (5,))},
    ),
    *[
        Case(f"nll-{r}", "nll_loss", (("x", (6, 5)), IGNORED), {"reduction": r})
        for r in ("mean", "sum", "none")
    ],
    Case("nll-w", "nll_loss", (("x", (6, 5)), CLASS6), {"weight": ("pos", (5,))}),
    *[
        Case(f"bce-{r}", "binary_cross_entropy", (("p", (4, 3)), ("p", (4, 3))), {"reduction": r})
        for r in ("mean", "sum", "none")
    ],
    Case(
        "bce-w", "binary_cross_entropy", (("p", (4, 3)), ("p", (4, 3))), {"weight": ("pos", (4, 3))}
    ),
    *[
        Case(
            f"bcel-{r}",
            "binary_cross_entropy_with_logits",
            (("x", (4, 3)), ("p", (4, 3))),
            {"reduction": r},
        )
        for r in ("mean", "sum", "none")
    ],
    Case(
        "bcel-pos",
        "binary_cross_entropy_with_logits",
        (("x", (4, 3)), ("p", (4, 3))),
        {"pos_weight": ("pos", (3,)), "weight": ("pos", (4, 3))},
    ),
    Case("linear-2d", "linear", (("x", (4, 3)), ("x", (5, 3)), ("x", (5,)))),
    Case("linear-2d-nobias", "linear", (("x", (4, 3)), ("x", (5, 3)))),
    Case("linear-1d", "linear", (("x", (3,)), ("x", (5, 3)), ("x", (5,)))),
    Case("linear-1d-nobias", "linear", (("x", (3,)), ("x", (5, 3)))),
    Case("linear-3d", "linear", (("x", (2, 4, 3)), ("x", (5, 3)), ("x", (5,)))),
    Case("linear-3d-nobias", "linear", (("x", (2, 4, 3)), ("x", (5, 3)))),
    Case("bilinear", "bilinear", (("x", (4, 3)), ("x", (4, 2)), ("x", (5, 3, 2)), ("x", (5,)))),
    Case("relu", "relu", (("x", (4, 5)),)),
    Case("relu6", "relu6", (("x", (4, 5)),)),
    Case("leaky_relu", "leaky_relu", (("x", (4, 5)),), {"negative_slope": 0.1}),
    Case("elu", "elu", (("x", (4, 5)),), {"alpha": 0.7}),
    Case("selu", "selu", (("x", (4, 5)),)),
    Case("celu", "celu", (("x", (4, 5)),), {"alpha": 1.5}),
    Case("gelu", "gelu", (("x", (4, 5)),)),
    Case("gelu-tanh", "gelu", (("x", (4, 5)),), {"approximate": "tanh"}),
    Case("silu", "silu", (("x", (4, 5)),)),
    Case("mish", "mish", (("x", (4, 5)),)),
    Case("softplus", "softplus", (("x", (4, 5)),)),
    Case("softplus-beta", "softplus", (("x", (4, 5)),), {"beta": 2.0, "threshold": 3.0}),
    Case("logsigmoid", "logsigmoid", (("x", (4, 5)),)),
    Case("hardtanh", "hardtanh", (("x", (4, 5)),), {"min_val": -0.5, "max_val": 1.5}),
    Case("tanh", "tanh", (("x", (4, 5)),)),
    Case("sigmoid", "sigmoid", (("x", (4, 5)),)),
    Case("softmax", "softmax", (("x", (4, 5)),), {"dim": 1}),
    Case("log_softmax", "log_softmax", (("x", (4, 5)),), {"dim": 0}),
    Case("softmin", "softmin", (("x", (4, 5)),), {"dim": 1}),
    Case("layer_norm", "layer_norm", (("x", (4, 5)), (5,), ("x", (5,)), ("x", (5,)))),
    Case("layer_norm-2d", "layer_norm", (("x", (2, 3, 4)), (3, 4))),
    Case("normalize", "normalize", (("x", (4, 5)),)),
    Case("normalize-p1", "normalize", (("x", (4, 5)),), {"p": 1.0, "dim": 0}),
    Case("pad", "pad", (("x", (2, 3)), (1, 2)), {"value": 0.5}),
    Case("pad-2d", "pad", (("x", (2, 3)), (1, 0, 0, 2))),
    Case("pad-crop", "pad", (("x", (2, 4)), (-1, 1))),
    Case("embedding", "embedding", (np.array([[0, 3], [3, 1]]), ("x", (5, 2)))),
    Case(
        "embedding-pad",
        "embedding",
        (np.array([[0, 3], [3, 1]]), ("x", (5, 2))),
        {"padding_idx": 3},
        fd=False,
    ),
]

DTYPES = {"float32": (np.float32, 1e-4, 1e-5), "float64": (np.float64, 1e-9, 1e-10)}


def _inputs(case: Case, dtype: Any) -> tuple[list[Any], dict[str, Any]]:
    rng = np.random.default_rng(zlib.crc32(case.id.encode()))  # (hash() varies by process)
    conv = lambda v: v.astype(dtype) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v
    args = [conv(make(a, rng)) for a in case.args]
    kwargs = {k: conv(make(v, rng)) for k, v in case.kwargs.items()}
    return args, kwargs


def _run(lib: Any, fmod: Any, case: Case, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """Call the op in ``lib`` with float arrays as leaf tensors requiring grad."""
    wrap = lambda v: lib.tensor(v) if isinstance(v, np.ndarray) else v
    ins = [wrap(a) for a in args]
    for t in ins:
        if isinstance(t, lib.Tensor) and t.is_floating_point():
            t.requires_grad_(True)
    kw = {k: wrap(v) for k, v in kwargs.items()}
    out = getattr(fmod, case.fn)(*ins, **kw)
    return ins, out


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_value_grad_and_name_match_torch(case: Case, dtype: str) -> None:
    np_dtype, rtol, atol = DTYPES[dtype]
    args, kwargs = _inputs(case, np_dtype)
    a_ins, a_out = _run(adjit, F, case, args, kwargs)
    t_ins, t_out = _run(torch, TF, case, args, kwargs)
    assert str(a_out.dtype) == str(t_out.dtype)
    np.testing.assert_allclose(a_out.detach().numpy(), t_out.detach().numpy(), rtol, atol)
    assert type(a_out.grad_fn).__name__ == (case.name or type(t_out.grad_fn).__name__)
    seed = np.random.default_rng(0).standard_normal(tuple(t_out.shape)).astype(np_dtype)
    a_out.backward(adjit.tensor(seed))
    t_out.backward(torch.tensor(seed))
    for a, t in zip(a_ins, t_ins, strict=True):
        if isinstance(t, torch.Tensor) and t.requires_grad:
            np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol, atol)


def _fd_grad(f: Any, x: np.ndarray, eps: float) -> np.ndarray:
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        hi = f()
        x[i] = old - eps
        lo = f()
        x[i] = old
        g[i] = (hi - lo) / (2 * eps)
    return g


@pytest.mark.parametrize("case", [c for c in CASES if c.fd], ids=lambda c: c.id)
def test_gradient_matches_central_differences(case: Case) -> None:
    """Float64 central differences: truncation error ~eps^2 * f''' ~ 1e-12 and round-off
    ~1e-16 / eps ~ 1e-10 per unit of |f|, so atol/rtol of 1e-6 leaves a wide margin while still
    catching any wrong derivative (those are off by O(1)). Random inputs land on a kink
    (relu, abs, clamp) with probability ~1e-6, so piecewise ops are safe to check too."""
    args, kwargs = _inputs(case, np.float64)
    ins, out = _run(adjit, F, case, args, kwargs)
    w = np.random.default_rng(1).standard_normal(tuple(out.shape))
    (out * adjit.tensor(w)).sum().backward()
    for arr, t in zip(args, ins, strict=True):
        if not (isinstance(t, adjit.Tensor) and t.requires_grad):
            continue

        def f() -> float:
            with adjit.no_grad():
                _, o = _run(adjit, F, case, args, kwargs)
            return float((o.detach().numpy() * w).sum())

        np.testing.assert_allclose(t.grad.numpy(), _fd_grad(f, arr, 1e-6), rtol=1e-6, atol=1e-6)


EXTREME = np.array([-1000.0, -50.0, -20.5, -6.0, -1.0, 0.0, 1e-3, 1.0, 6.0, 20.5, 50.0, 1000.0])
UNARY = [
    ("logsigmoid", {}),
    ("softplus", {}),
    ("softplus", {"beta": 2.0}),
    ("elu", {}),
    ("selu", {}),
    ("silu", {}),
    ("mish", {}),
    ("gelu", {}),
    ("gelu", {"approximate": "tanh"}),
    ("leaky_relu", {}),
    ("relu", {}),
    ("hardtanh", {}),
    ("relu6", {}),
    ("sigmoid", {}),
    ("tanh", {}),
]


@pytest.mark.parametrize(("fn", "kwargs"), UNARY, ids=lambda v: str(v))
def test_extreme_inputs_and_kinks_match_torch(fn: str, kwargs: dict[str, Any]) -> None:
    """Saturated inputs give finite gradients, and subgradients at kinks are PyTorch's."""
    x = EXTREME.astype(np.float32)
    a, t = adjit.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    oa, ot = getattr(F, fn)(a, **kwargs), getattr(TF, fn)(t, **kwargs)
    oa.sum().backward()
    ot.sum().backward()
    np.testing.assert_allclose(oa.detach().numpy(), ot.detach().numpy(), 1e-5, 1e-6)
    np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), 1e-5, 1e-6)


def test_saturated_losses_have_finite_gradients() -> None:
    p = adjit.tensor([0.0, 1e-8, 0.5, 1.0], requires_grad=True)
    F.binary_cross_entropy(p, adjit.tensor([0.0, 1.0, 0.5, 1.0])).backward()
    assert np.isfinite(p.grad.numpy()).all()
    x = adjit.tensor([[1000.0, 0.0, -1000.0]], requires_grad=True)
    loss = F.cross_entropy(x, adjit.tensor([2]))
    loss.backward()
    assert loss.item() == 2000.0 and np.isfinite(x.grad.numpy()).all()
    z = adjit.tensor([-1000.0, 1000.0], requires_grad=True)
    F.binary_cross_entropy_with_logits(z, adjit.tensor([1.0, 0.0])).backward()
    np.testing.assert_allclose(z.grad.numpy(), [-0.5, 0.5])
