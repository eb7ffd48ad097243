"""torch.compile's surface side by side with PyTorch: signature, defaults, backends, modes,
options, disable, compiled modules (OptimizedModule, Module.compile) and adjit.compiler."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")


def test_signature_and_defaults_are_pytorchs() -> None:
    ours = inspect.signature(adjit.compile).parameters
    theirs = inspect.signature(torch.compile).parameters
    for name, p in theirs.items():
        assert name in ours, name
        assert ours[name].kind == p.kind, name
        assert ours[name].default == p.default, name
    assert list(ours)[: len(theirs)] == list(theirs)
    assert set(ours) - set(theirs) == {"fallback", "cache_size_limit"}  # adjit's own
    assert ours["fallback"].kind is inspect.Parameter.KEYWORD_ONLY
    assert ours["cache_size_limit"].kind is inspect.Parameter.KEYWORD_ONLY


def _error(lib, **kw):
    try:
        lib.compile(lambda x: x, **kw)
    except Exception as e:  # noqa: BLE001
        return e
    return None


@pytest.mark.parametrize(
    "kw",
    [
        {"backend": "no-such-backend"},
        {"mode": "fastest"},
        {"mode": "default", "options": {"max_autotune": True}},
        {"options": {"no_such_option": 1}},
    ],
    ids=["backend", "mode", "mode-and-options", "option"],
)
def test_bad_arguments_raise_as_pytorch(kw) -> None:
    ours, theirs = _error(adjit, **kw), _error(torch, **kw)
    assert isinstance(theirs, RuntimeError) and isinstance(ours, RuntimeError)
    first = str(theirs).split(",")[0].replace("torch._dynamo", "adjit.compiler")
    assert str(ours).startswith(first), (str(ours), str(theirs))


def test_inductor_options_pytorch_accepts_are_refused_not_ignored() -> None:
    with pytest.raises(RuntimeError, match="Unexpected optimization option max_autotune"):
        adjit.compile(lambda x: x, options={"max_autotune": True})


def test_a_callable_backend_is_a_clear_error() -> None:
    with pytest.raises(NotImplementedError, match="callable backend"):
        adjit.compile(lambda x: x, backend=lambda gm, inputs: gm)


@pytest.mark.parametrize("mode", ["default", "lite", "reduce-overhead", "max-autotune"])
@pytest.mark.parametrize("backend", ["inductor", "eager", "aot_eager", "llvm", "interpreter"])
def test_every_backend_and_mode_computes_the_same(backend: str, mode: str) -> None:
    x = adjit.tensor([0.5, -1.0, 2.0], requires_grad=True)
    f = adjit.compile(lambda t: (t.sin() * t).sum(), backend=backend, mode=mode)
    out = f(x)
    out.backward()
    t = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
    want = (t.sin() * t).sum()
    want.backward()
    assert out.item() == pytest.approx(want.item(), rel=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-6)
    node = "SumBackward0" if backend == "eager" else "CompiledFunctionBackward"
    assert type(out.grad_fn).__name__ == node  # eager: the graph replayed by eager autograd


def test_disable_returns_the_function_and_dynamic_is_checked() -> None:
    def f(x):
        return x + 1

    assert adjit.compile(f, disable=True) is f
    assert adjit.compile(disable=True)(f) is f
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        adjit.compile(f, dynamic=True)  # (tests/frontend/test_dynamic_shapes.py: what it does)
        adjit.compile(f, dynamic=False)
    with pytest.raises(TypeError, match="dynamic"):
        adjit.compile(f, dynamic="yes")


def test_recompile_limit_runs_new_signatures_eagerly() -> None:
    f = adjit.compile(lambda x: x * 2, recompile_limit=1)
    f(adjit.ones(2))
    with pytest.warns(UserWarning, match="recompile_limit=1"):
        assert f(adjit.ones(3)).tolist() == [2.0, 2.0, 2.0]
    g = adjit.compile(lambda x: x * 2, recompile_limit=1, fullgraph=True)
    g(adjit.ones(2))
    with pytest.raises(RuntimeError, match="recompile_limit"):
        g(adjit.ones(3))


def test_compiled_module_is_an_optimized_module_as_pytorchs() -> None:
    adjit.manual_seed(0)
    m = adjit.nn.Linear(3, 2)
    tm = torch.nn.Linear(3, 2)
    c, tc = adjit.compile(m), torch.compile(tm)
    assert type(c).__name__ == type(tc).__name__ == "OptimizedModule"
    assert list(c.state_dict()) == list(tc.state_dict())  # '_orig_mod.weight', ...
    assert [n for n, _ in c.named_parameters()] == [n for n, _ in tc.named_parameters()]
    assert c._orig_mod is m and c.weight is m.weight and c.in_features == 3
    assert repr(c) == repr(tc)
    x = adjit.randn(4, 3)
    calls = []
    m.register_forward_hook(lambda mod, args, out: calls.append(out.shape))
    # (float32 sums in another order: the hook's side effect runs the call in segment mode)
    np.testing.assert_allclose(c(x).detach().numpy(), m(x).detach().numpy(), rtol=1e-6, atol=1e-7)
    assert calls == [adjit.Size([4, 2])] * 2  # the original module's hooks run (traced)
    c(x)
    assert len(calls) == 3  # on every call, as eagerly (Note [Python side effects while tracing])
    c.eval()
    assert not m.training


def test_module_compile_in_place_as_pytorch() -> None:
    m = adjit.nn.Sequential(adjit.nn.Linear(3, 4), adjit.nn.ReLU())
    x = adjit.randn(2, 3)
    want = m(x)
    assert m.compile() is None and type(m) is adjit.nn.Sequential
    got = m(x)
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-6)
    assert type(got.grad_fn).__name__ == "CompiledFunctionBackward"
    assert list(m.state_dict()) == ["0.weight", "0.bias"]
    tm = torch.nn.Linear(2, 2)
    tm.compile(mode="reduce-overhead")
    m2 = adjit.nn.Linear(2, 2)
    m2.compile(mode="reduce-overhead")
    assert m2(adjit.ones(1, 2)).shape == (1, 2)


def test_compiler_module_names() -> None:
    for name in ("disable", "is_compiling", "is_dynamo_compiling", "reset", "allow_in_graph"):
        assert hasattr(torch.compiler, name) and callable(getattr(adjit.compiler, name))
    assert inspect.signature(adjit.compiler.disable).parameters.keys() == (
        inspect.signature(torch.compiler.disable).parameters.keys()
    )
    assert adjit.compiler.is_compiling() is torch.compiler.is_compiling() is False
    seen = []
    adjit.compile(lambda x: seen.append(adjit.compiler.is_dynamo_compiling()) or x)(adjit.ones(1))
    assert seen == [True]

    def f(x):
        return x * 2

    assert adjit.compiler.allow_in_graph(f) is f
    assert "inductor" in adjit.compiler.list_backends()
    assert "eager" in adjit.compiler.list_backends(None)


def test_reset_forgets_compiled_code() -> None:
    f = adjit.compile(lambda x: x + 1)
    f(adjit.ones(2))
    assert f.trace_count == 1
    adjit.compiler.reset()
    f(adjit.ones(2))
    assert f.trace_count == 1 and len(f._entries) == 1  # traced again after the reset
