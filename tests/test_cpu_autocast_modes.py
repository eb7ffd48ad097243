"""CPU autocast side by side with PyTorch (Note [CPU autocast] in runtime/autocast.py): a train
step's loss and gradients, nesting, enabled=False, the decorator and deprecated forms, the state
queries and weight-cast cache, compiled programs against eager, and a plain install without
ml_dtypes (ops one by one: tests/test_cpu_autocast.py)."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")
pytest.importorskip("ml_dtypes")

BF16_EPS = 2.0**-7  # one unit in the last place of bfloat16 at 1 (8 significant bits)


def _a(*shape: int) -> np.ndarray:
    seed = int(np.prod(shape)) * 31 + len(shape)
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


A, B = _a(4, 6), _a(6, 5)


# ---- a train step -----------------------------------------------------------------------------
XB, YB = _a(8, 3, 6, 6), np.array([0, 1, 2, 1, 0, 2, 1, 0])


def _train_step(lib: Any, dtype: str) -> dict[str, Any]:
    """Conv, ReLU, Linear under autocast, the loss outside it, one SGD step."""
    gen = np.random.default_rng(3)
    conv = lib.nn.Conv2d(3, 4, 3)
    fc = lib.nn.Linear(4 * 4 * 4, 3)
    with lib.no_grad():
        for p in (*conv.parameters(), *fc.parameters()):
            p.copy_(lib.tensor(gen.standard_normal(tuple(p.shape)).astype(np.float32) * 0.3))
    params = [*conv.parameters(), *fc.parameters()]
    opt = lib.optim.SGD(params, lr=0.1)
    with lib.autocast(device_type="cpu", dtype=getattr(lib, dtype)):
        hidden = lib.relu(conv(lib.tensor(XB)))
        logits = fc(hidden.flatten(1))
        inner = lib.nn.functional.cross_entropy(logits, lib.tensor(YB))
    loss = inner * 1.0
    loss.backward()
    grads = [p.grad.clone() for p in params]
    opt.step()
    return {
        "dtypes": [str(t.dtype) for t in (hidden, logits, inner, loss, *grads)],
        "loss": loss.item(),
        "grads": [g.numpy() for g in grads],
        "params": [p.detach().numpy().copy() for p in params],
    }


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_train_step_matches_torch(dtype: str) -> None:
    ours, theirs = _train_step(adjit, dtype), _train_step(torch, dtype)
    assert ours["dtypes"] == theirs["dtypes"]
    assert ours["dtypes"][:4] == [f"torch.{dtype}"] * 2 + ["torch.float32"] * 2
    eps = BF16_EPS if dtype == "bfloat16" else 2.0**-10
    # the forward rounds to the autocast type at each of conv, linear (two roundings feed the
    # loss); each gradient is a product of one such rounded factor with another: 2 units
    assert ours["loss"] == pytest.approx(theirs["loss"], rel=2 * eps)
    for a, b in zip(ours["grads"], theirs["grads"], strict=True):
        np.testing.assert_allclose(a, b, rtol=2 * eps, atol=2 * eps * np.abs(b).max())


# ---- the state: nesting, enabled=False, the decorator, queries --------------------------------
def _mm(m: Any) -> str:
    return str(m.mm(m.ones(2, 2), m.ones(2, 2)).dtype)


def _nested(m: Any) -> list[Any]:
    seen = [m.is_autocast_enabled("cpu"), str(m.get_autocast_dtype("cpu"))]
    with m.autocast("cpu"):
        seen += [m.is_autocast_enabled("cpu"), m.is_autocast_enabled(), _mm(m)]
        with m.autocast("cpu", enabled=False):
            seen += [m.is_autocast_enabled("cpu"), _mm(m)]
        with m.autocast("cpu", dtype=m.float16):
            seen += [str(m.get_autocast_dtype("cpu")), _mm(m)]
        seen += [str(m.get_autocast_dtype("cpu")), _mm(m)]
    return [*seen, m.is_autocast_enabled("cpu"), _mm(m)]


def _decorated(m: Any) -> list[str]:
    @m.autocast(device_type="cpu", dtype=m.bfloat16)
    def f(x: Any) -> Any:
        return x @ x

    return [str(f(m.ones(2, 2)).dtype), _mm(m)]


def _deprecated(m: Any) -> list[str]:
    with m.cpu.amp.autocast():
        return [_mm(m), str(m.get_autocast_dtype("cpu"))]


def _unsupported(m: Any) -> list[Any]:
    with m.autocast("cpu", dtype=m.float64):
        return [m.is_autocast_enabled("cpu"), _mm(m)]


def _raises_inside(m: Any) -> list[Any]:
    try:
        with m.autocast("cpu"):
            raise ValueError("inside")
    except ValueError:
        pass
    return [m.is_autocast_enabled("cpu"), _mm(m)]


def _halves(m: Any) -> Any:
    with m.autocast("cpu"):
        return m.cat([m.ones(2, dtype=m.float16), m.ones(2, dtype=m.bfloat16)])


def _weight_cast_once(m: Any) -> list[Any]:
    w = m.ones(2, 2, requires_grad=True)
    with m.autocast("cpu"):
        a, b = m.mm(m.ones(2, 2), w), m.mm(m.ones(2, 2), w)
        cached = a.grad_fn.next_functions[1][0] is b.grad_fn.next_functions[1][0]
    with m.autocast("cpu", cache_enabled=False):
        a, b = m.mm(m.ones(2, 2), w), m.mm(m.ones(2, 2), w)
        uncached = a.grad_fn.next_functions[1][0] is b.grad_fn.next_functions[1][0]
    names = type(a.grad_fn.next_functions[1][0]).__name__
    return [cached, uncached, names, m.is_autocast_cache_enabled()]


def _custom_function(m: Any, cast_inputs: Any) -> list[Any]:
    seen: list[Any] = []

    class MyMM(m.autograd.Function):
        @staticmethod
        @m.amp.custom_fwd(device_type="cpu", cast_inputs=cast_inputs)
        def forward(ctx: Any, a: Any, b: Any) -> Any:
            seen.append(("fwd", str(a.dtype), m.is_autocast_enabled("cpu")))
            ctx.save_for_backward(a, b)
            return a.mm(b)

        @staticmethod
        @m.amp.custom_bwd(device_type="cpu")
        def backward(ctx: Any, grad: Any) -> Any:
            a, b = ctx.saved_tensors
            seen.append(("bwd", str(grad.dtype), m.is_autocast_enabled("cpu")))
            return grad.mm(b.t()), a.t().mm(grad)

    a = m.ones(2, 2, requires_grad=True)
    with m.autocast("cpu"):
        out = MyMM.apply(a, m.ones(2, 2))
    out.float().sum().backward()
    return [*seen, str(out.dtype), str(a.grad.dtype)]


def _loop_inside_region(m: Any) -> list[Any]:
    """Training steps all inside one region: the weight's cached cast is PyTorch's, stale after
    the first step (its documented reason to wrap only the forward pass)."""
    m.manual_seed(0)
    lin = m.nn.Linear(6, 3)
    opt = m.optim.SGD(lin.parameters(), lr=0.5)
    losses = []
    with m.autocast("cpu"):
        for _ in range(3):
            opt.zero_grad()
            loss = lin(m.tensor(A)).float().pow(2).mean()
            loss.backward()
            opt.step()
            losses.append(round(loss.item(), 5))
    return losses


STATE: dict[str, Callable[[Any], Any]] = {
    "loop_inside_region": _loop_inside_region,
    "custom_fwd_cast_inputs": lambda m: _custom_function(m, m.float32),
    "custom_fwd_plain": lambda m: _custom_function(m, None),
    "nested": _nested,
    "decorator": _decorated,
    "deprecated_cpu_amp": _deprecated,
    "unsupported_dtype": _unsupported,
    "exception_restores": _raises_inside,
    "two_half_types": _halves,
    "weight_cast_cache": _weight_cast_once,
}


def _outcome(fn: Callable[[Any], Any], lib: Any) -> str:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = f"ok {fn(lib)!r}"
        except Exception as e:  # the error's type and text are compared
            out = f"{type(e).__name__}: {e}"
    return f"{out} {[f'{w.category.__name__}: {w.message}' for w in caught]}"


@pytest.mark.parametrize("name", STATE)
def test_state_matches_torch(name: str) -> None:
    ours = _outcome(STATE[name], adjit).replace("adjit", "torch")
    assert ours == _outcome(STATE[name], torch)


# ---- compiled programs record the same casts ---------------------------------------------------
def _forward(x: Any, w: Any, k: Any) -> Any:
    h = adjit.relu(adjit.nn.functional.conv2d(x, k))
    y = adjit.nn.functional.linear(h.flatten(1), w)
    return adjit.nn.functional.cross_entropy(y, adjit.tensor(YB)), y


def _inside(x: Any, w: Any, k: Any) -> Any:
    with adjit.autocast("cpu"):
        return _forward(x, w, k)


def _grads_of(fn: Callable[..., Any], outer: bool) -> list[Any]:
    w = adjit.tensor(_a(3, 64) * 0.1, requires_grad=True)
    k = adjit.tensor(_a(4, 3, 3, 3) * 0.3, requires_grad=True)
    ctx = adjit.autocast("cpu") if outer else adjit.autocast("cpu", enabled=False)
    with ctx:
        loss, y = fn(adjit.tensor(XB), w, k)
    loss.backward()
    return [loss, y, w.grad, k.grad]


@pytest.mark.parametrize("outer", [False, True], ids=["autocast_inside", "autocast_around"])
def test_compiled_matches_eager_bits(outer: bool) -> None:
    fn = _forward if outer else _inside
    compiled = adjit.compile(fn)
    ours = _grads_of(compiled, outer)
    again = _grads_of(compiled, outer)  # (the second call takes the cached program)
    eager = _grads_of(fn, outer)
    assert [str(t.dtype) for t in ours] == [str(t.dtype) for t in eager]
    assert str(ours[1].dtype) == "torch.bfloat16"
    for a, b, c in zip(ours, again, eager, strict=True):
        np.testing.assert_array_equal(a.detach().float().numpy(), c.detach().float().numpy())
        np.testing.assert_array_equal(b.detach().float().numpy(), c.detach().float().numpy())


def test_compiled_retraces_when_autocast_changes() -> None:
    compiled = adjit.compile(lambda x, y: x @ y)
    x, y = adjit.tensor(A), adjit.tensor(B)
    before = compiled(x, y)
    with adjit.autocast("cpu"):
        inside = compiled(x, y)
        inside_again = compiled(x, y)
    after = compiled(x, y)
    assert [str(t.dtype) for t in (before, inside, inside_again, after)] == [
        "torch.float32",
        "torch.bfloat16",
        "torch.bfloat16",
        "torch.float32",
    ]
    np.testing.assert_array_equal(
        inside.float().numpy(), (x.bfloat16() @ y.bfloat16()).float().numpy()
    )


def test_compiled_module_inside_then_outside() -> None:
    """A compiled module's call under autocast, then without: each in its own dtype (the
    module templates of segment mode are keyed by autocast too)."""
    adjit.manual_seed(0)
    model = adjit.nn.Sequential(adjit.nn.Linear(6, 8), adjit.nn.ReLU(), adjit.nn.Linear(8, 3))
    compiled, x = adjit.compile(model), adjit.tensor(A)
    seen = []
    for on in (True, False, True, False):
        with adjit.autocast("cpu", enabled=on):
            out, ref = compiled(x), model(x)
        seen.append(str(out.dtype))
        # float32: compiled kernels may sum the 6 and 8 products in another order (a few units
        # of 2^-24 relative to the sums' terms, all below 4 here); bfloat16: the same bits
        tol = 8 * 2.0**-24 * 4 if out.dtype == adjit.float32 else 0.0
        np.testing.assert_allclose(
            out.detach().float().numpy(), ref.detach().float().numpy(), atol=tol, rtol=0
        )
    assert seen == ["torch.bfloat16", "torch.float32"] * 2


def _broken(x: Any, w: Any) -> Any:
    with adjit.autocast("cpu"):
        y = x @ w
        s = y.sum().item()  # (a graph break inside the autocast block)
        z = y @ w.t()
    return z, y.float() @ w.t() + s


def test_graph_break_inside_autocast() -> None:
    x, compiled = adjit.tensor(A), adjit.compile(_broken)
    for _ in range(2):
        w = adjit.tensor(B[:, :3].copy(), requires_grad=True)
        outs, refs = compiled(x, w), _broken(x, w)
        assert [str(t.dtype) for t in outs] == ["torch.bfloat16", "torch.float32"]
        for o, r in zip(outs, refs, strict=True):
            assert o.dtype == r.dtype
            # bfloat16: the same bits; float32: the compiled product's BLAS may sum in another
            # order than eager's NumPy (on a Zen 4 MKL and OpenBLAS differ by an ulp here)
            rtol = 8 * 2.0**-24 if o.dtype == adjit.float32 else 0.0
            np.testing.assert_allclose(
                o.detach().float().numpy(), r.detach().float().numpy(), rtol=rtol, atol=0
            )
        grads = [adjit.autograd.grad(z.float().sum() + v.sum(), w)[0] for z, v in (outs, refs)]
        np.testing.assert_allclose(grads[0].numpy(), grads[1].numpy(), rtol=8 * 2.0**-24, atol=0)
    assert not adjit.is_autocast_enabled("cpu")


def _transforms(m: Any) -> dict[str, Any]:
    x, w = m.tensor(A), m.tensor(B)
    out: dict[str, Any] = {}
    for k, on in enumerate((True, False, True)):
        with m.autocast("cpu", enabled=on):
            out[f"grad{k}"] = m.func.grad(lambda w: (x @ w).float().sum())(w).numpy().copy()
            out[f"vmap{k}"] = str(m.func.vmap(lambda r: r @ w)(x).dtype)
            out[f"jvp{k}"] = str(m.func.jvp(lambda w: x @ w, (w,), (m.ones_like(w),))[1].dtype)
    seen: list[Any] = []
    with m.autocast("cpu"):  # (the state is per thread)
        t = threading.Thread(
            target=lambda: seen.append((m.is_autocast_enabled("cpu"), str((x @ w).dtype)))
        )
        t.start()
        t.join()
    out["thread"] = seen
    return out


def test_func_transforms_and_threads_match_torch() -> None:
    ours, theirs = _transforms(adjit), _transforms(torch)
    assert ours.keys() == theirs.keys()
    for key, value in theirs.items():
        if isinstance(value, np.ndarray):  # (the same bfloat16 products, summed in float32)
            np.testing.assert_allclose(ours[key], value, rtol=BF16_EPS, atol=BF16_EPS)
        else:
            assert ours[key] == value, key


def test_explain_shows_the_casts_and_the_guard() -> None:
    def f(x: Any, w: Any) -> Any:
        return adjit.relu(x @ w).float().sum()

    x, w = adjit.tensor(A), adjit.tensor(B, requires_grad=True)
    with adjit.autocast("cpu"):
        text = str(adjit.explain(f, x, w))
    assert "grad mode enabled == True\nCPU autocast dtype == bfloat16\n" in text
    assert "c:bf16[4,6] = cast[dtype=bfloat16] a" in text
    assert "e:bf16[4,5] = matmul c d" in text
    assert "CPU autocast" not in str(adjit.explain(f, x, w))
    from adjit.frontend import guards

    with adjit.autocast("cpu"):
        inside = guards.signature([x, w], None)
    assert guards.diff(guards.signature([x, w], None), inside) == (
        "autocast changed from no CPU autocast to CPU autocast to bfloat16"
    )


PROGRAM = """
import sys
sys.modules["ml_dtypes"] = None  # as if not installed
import adjit
x = adjit.ones(2, 2)
with adjit.autocast("cpu", dtype=adjit.float16):
    print((x @ x).dtype, adjit.is_autocast_enabled("cpu"))
try:
    with adjit.autocast("cpu"):
        print("ran")
except TypeError as e:
    print(e)
print(adjit.is_autocast_enabled("cpu"), (x @ x).dtype)
"""


def test_without_ml_dtypes() -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out == [
        "torch.float16 True",
        "torch.autocast('cpu', dtype=torch.bfloat16) runs ops in torch.bfloat16, and needs the "
        "ml_dtypes package: pip install 'adjit[bfloat16]' (or ml_dtypes); or use "
        "dtype=torch.float16",
        "False torch.float32",
    ]


@pytest.mark.parametrize("enabled", [False, True])
def test_warnings_point_at_the_caller(enabled: bool) -> None:
    """A wrapped op's warnings name the user's line, through the wrapper's frames."""
    x = adjit.ones(3, 3)
    with warnings.catch_warnings(record=True) as caught, adjit.autocast("cpu", enabled=enabled):
        warnings.simplefilter("always")
        adjit.nn.functional.mse_loss(adjit.ones(3), adjit.ones(3, 1))
        adjit.cholesky(x @ x.T + adjit.eye(3))
        adjit.nn.functional.kl_div(adjit.ones(3), adjit.ones(3))
        adjit.stft(adjit.ones(20), 8, return_complex=True)
    assert len(caught) >= 3
    assert [w.filename for w in caught] == [__file__] * len(caught)


# ---- norms of a narrow input with float32 parameters (Note [mixed-dtype norms]; rms_norm) ------
NORM_TYPES = [
    ("bfloat16", "float32", "float32"),
    ("float16", "float32", None),
    ("bfloat16", None, None),
    ("float32", "bfloat16", "bfloat16"),
    ("float64", "float32", "float32"),
    ("bfloat16", "float32", "bfloat16"),
    ("float32", "float64", "float64"),
]


def _norms(m: Any, types: tuple[str, str | None, str | None]) -> Any:
    x = m.tensor(_a(2, 4, 3)).to(getattr(m, types[0])).requires_grad_()
    w, b = (
        m.tensor(_a(4) if k == 0 else _a(4) * 0.5).to(getattr(m, t)).requires_grad_() if t else None
        for k, t in enumerate(types[1:])
    )
    out = []
    for f in (
        lambda: m.nn.functional.layer_norm(x.transpose(1, 2), (4,), w, b),
        lambda: m.nn.functional.group_norm(x, 2, w, b),
        lambda: m.nn.functional.rms_norm(x.transpose(1, 2), (4,), w),
    ):
        try:
            y = f()
        except RuntimeError as e:
            out.append(str(e))
            continue
        upstream = _a(*y.shape, 1).reshape(tuple(y.shape))  # (not x's own values)
        (y.float() * m.tensor(upstream)).sum().backward()
        grads = [t.grad for t in (x, w, b) if t is not None and t.grad is not None]
        out.append((str(y.dtype), [str(g.dtype) for g in grads], y.detach().float().numpy()))
        out.append([g.float().numpy() for g in grads])
        for t in (x, w, b):
            if t is not None:
                t.grad = None
    return out


@pytest.mark.parametrize("types", NORM_TYPES, ids=lambda t: "-".join(map(str, t)))
def test_mixed_dtype_norms_match_torch(types: tuple[str, str | None, str | None]) -> None:
    ours, theirs = _norms(adjit, types), _norms(torch, types)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        if isinstance(b, str):
            assert a == b
        elif isinstance(b, tuple):
            assert a[:2] == b[:2]
            # computed in float32 by both, rounded once to the input's type
            eps = {"bfloat16": BF16_EPS, "float16": 2.0**-10}.get(types[0], 2.0**-20)
            np.testing.assert_allclose(a[2], b[2], rtol=eps, atol=eps)
        else:  # gradients: float32 sums of products of rounded values, rounded once
            for ga, gb in zip(a, b, strict=True):
                eps = {"bfloat16": BF16_EPS, "float16": 2.0**-10}.get(types[0], 2.0**-20)
                np.testing.assert_allclose(ga, gb, rtol=2 * eps, atol=2 * eps * np.abs(gb).max())
