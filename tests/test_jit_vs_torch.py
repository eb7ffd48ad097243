"""``torch.jit`` over eager execution (Note [jit runs eagerly] in adjit/jit/_state.py), side by
side with PyTorch: scripted and traced modules and functions give PyTorch's results, print as
PyTorch prints them, share parameters as PyTorch does; freeze, fork/wait, the decorators; the
TorchScript program itself (graph, code, save, load) is refused by name."""

from __future__ import annotations

import typing
import warnings
from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _net_class(T: Any) -> Any:
    nn = T.nn

    class Scaled(nn.Linear):
        def forward(self, x):
            return T.nn.functional.linear(x, self.weight, self.bias) * 2

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 4)
            self.seq = nn.Sequential(nn.ReLU(), Scaled(4, 2))
            self.bn = nn.BatchNorm1d(2)
            self.k = 3

        def forward(self, x):
            return self.helper(self.bn(self.seq(self.fc(x)))) * self.k

        def helper(self, x):
            return x + 1

    return Net


def _pair() -> tuple[Any, Any]:
    torch.manual_seed(0)
    theirs = _net_class(torch)()
    ours = _net_class(adjit)()
    ours.load_state_dict({k: adjit.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    return ours, theirs


X = np.linspace(-1, 1, 15, dtype=np.float32).reshape(5, 3)


def _close(a: Any, b: Any) -> None:
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_scripted_module_as_pytorch() -> None:
    ours, theirs = _pair()
    s_ours, s_theirs = adjit.jit.script(ours), torch.jit.script(theirs)
    assert repr(s_ours) == repr(s_theirs)
    assert isinstance(s_ours, adjit.jit.ScriptModule)
    assert isinstance(s_ours, adjit.jit.RecursiveScriptModule) and isinstance(
        s_ours, adjit.nn.Module
    )
    assert list(s_ours.state_dict()) == list(s_theirs.state_dict())
    assert s_ours.fc.weight is ours.fc.weight and s_theirs.fc.weight is theirs.fc.weight
    assert (s_ours.original_name, s_ours.seq.original_name, s_ours.k) == ("Net", "Sequential", 3)
    _close(s_ours(adjit.tensor(X)), s_theirs(torch.tensor(X)))
    _close(s_ours.helper(adjit.tensor(X)), s_theirs.helper(torch.tensor(X)))
    for m, s in ((ours, s_ours), (theirs, s_theirs)):
        s.eval()  # the script's flags are its own
        assert (m.training, m.bn.training, s.training, s.bn.training) == (True, True, False, False)
    _close(s_ours(adjit.tensor(X)), s_theirs(torch.tensor(X)))
    assert adjit.jit.script(s_ours) is s_ours


def test_super_in_a_scripted_method_runs() -> None:
    """TorchScript refuses ``super()``; adjit runs the Python (Note [jit runs eagerly])."""

    class Scaled(adjit.nn.Linear):
        def forward(self, x: Any) -> Any:
            return super().forward(x) * 2

    m = Scaled(2, 2)
    s = adjit.jit.script(m)
    assert s(adjit.ones(1, 2)).tolist() == (m(adjit.ones(1, 2))).tolist()


def test_training_through_a_scripted_module_updates_the_original() -> None:
    """A step through the script is the step on the original (same code, same numbers)."""
    ours, _ = _pair()
    plain = _net_class(adjit)()
    plain.load_state_dict(ours.state_dict())
    for m in (adjit.jit.script(ours), plain):
        opt = adjit.optim.SGD(m.parameters(), lr=0.1)
        m(adjit.tensor(X)).square().mean().backward()
        opt.step()
    for (name, a), b in zip(ours.state_dict().items(), plain.state_dict().values(), strict=True):
        assert a.tolist() == b.tolist(), name
    assert ours.fc.weight.grad is not None


def test_traced_module_as_pytorch() -> None:
    ours, theirs = _pair()
    ours.eval(), theirs.eval()  # (PyTorch's check_trace runs forward again: no stats updates)
    t_ours = adjit.jit.trace(ours, adjit.tensor(X))
    t_theirs = torch.jit.trace(theirs, torch.tensor(X))
    assert repr(t_ours) == repr(t_theirs)
    assert isinstance(t_ours, adjit.jit.TopLevelTracedModule)
    assert isinstance(t_ours.fc, adjit.jit.TracedModule)
    assert list(t_ours.state_dict()) == list(t_theirs.state_dict())
    x = np.linspace(-2, 3, 6, dtype=np.float32).reshape(2, 3)
    _close(t_ours(adjit.tensor(x)), t_theirs(torch.tensor(x)))


def test_trace_runs_the_function_once_on_the_examples() -> None:
    calls: list[Any] = []

    def f(a: Any, b: Any) -> Any:
        calls.append((a.shape, adjit.jit.is_tracing()))
        return a * b

    traced = adjit.jit.trace(f, (adjit.ones(2), adjit.full((2,), 3.0)))
    assert calls == [((2,), True)]
    assert traced(adjit.ones(3), adjit.ones(3)).tolist() == [1.0, 1.0, 1.0]
    assert calls[-1] == ((3,), True) and not adjit.jit.is_tracing()
    kw = adjit.jit.trace(f, example_kwarg_inputs={"a": adjit.ones(1), "b": adjit.ones(1)})
    assert kw(adjit.ones(1), adjit.ones(1)).tolist() == [1.0]


def _branchy(T: Any) -> Any:
    def f(x):  # (unannotated: a Tensor to TorchScript)
        if T.jit.is_scripting():
            return x + 1
        if T.jit.is_tracing():
            return x + 2
        return x + 3

    return f


def test_the_flags_take_pytorch_branches() -> None:
    for T in (adjit, torch):
        f = _branchy(T)
        scripted, traced = T.jit.script(f), T.jit.trace(f, T.zeros(1))
        got = [float(g(T.zeros(1))) for g in (f, scripted, traced)]
        assert got == [3.0, 1.0, 2.0], T.__name__
        assert not T.jit.is_scripting() and not T.jit.is_tracing()


def test_script_function() -> None:
    def double(x):
        return x * 2

    for T in (adjit, torch):
        s = T.jit.script(double)
        assert repr(s).startswith("<torch.jit.torch.jit.ScriptFunction object at 0x")
        assert (s.name, s.qualified_name) == ("double", f"__torch__.{__name__}.double")
        assert s(T.ones(2)).tolist() == [2.0, 2.0]
        assert isinstance(s, T.jit.ScriptFunction)


def _outcome(fn: Any) -> Any:
    try:
        fn()
    except Exception as e:  # the type and text are the API
        return type(e).__name__, str(e)
    return "ok"


def _trace_cases(T: Any) -> list[Any]:
    one = T.ones(1)
    return [
        lambda: T.jit.trace(lambda x: x, None),
        lambda: T.jit.trace(lambda x: x, 1),
        lambda: T.jit.trace(lambda x: x, ()),
        lambda: T.jit.trace(lambda x, y: x, (one, 2)),
        lambda: T.jit.trace(lambda x: x, ("a",)),
        lambda: T.jit.trace(lambda x: x, (1.5,)),
        lambda: T.jit.trace(lambda x: x, ([one, 2],)),
        lambda: T.jit.trace(lambda x: 3, one),
        lambda: T.jit.trace(lambda x: None, one),
        lambda: T.jit.trace(lambda x: {"a": x}, one),
        lambda: T.jit.trace(lambda x: {"a": x}, one, strict=False),
        lambda: T.jit.trace(lambda x: (x, 1), one),
        lambda: T.jit.trace(lambda x: [x, x], one),
        lambda: T.jit.script(_net_class(T)),
        lambda: T.jit.script(int),
        lambda: T.jit.script(3),
        lambda: T.jit.script("abc"),
        lambda: T.jit.freeze(T.nn.Linear(1, 1)),
        lambda: T.jit.freeze(T.jit.script(T.nn.Linear(1, 1))),
        lambda: T.jit.optimize_for_inference(T.nn.Linear(1, 1)),
    ]


@pytest.mark.parametrize("i", range(len(_trace_cases(torch))))
def test_checks_and_errors_as_pytorch(i: int) -> None:
    got = _outcome(_trace_cases(adjit)[i])
    want = _outcome(_trace_cases(torch)[i])
    assert got == want


def test_freeze_as_pytorch() -> None:
    ours, theirs = _pair()
    frozen = []
    for T, m in ((adjit, ours), (torch, theirs)):
        s = T.jit.script(m).eval()
        before = s(T.tensor(X))
        f = T.jit.freeze(s)
        assert list(f.parameters()) == [] and list(f.state_dict()) == []
        assert isinstance(f, T.jit.ScriptModule)
        _close(f(T.tensor(X)), before)
        assert not f(T.tensor(X)).requires_grad
        with T.no_grad():
            m.fc.weight.add_(1.0)  # the constants alias the weights' storage
        _close(f(T.tensor(X)), s(T.tensor(X)))
        assert (f(T.tensor(X)) - before).abs().max() > 0.1
        frozen.append(repr(f))
        opt = T.jit.optimize_for_inference(T.jit.script(T.nn.Linear(2, 2)))
        assert list(opt.parameters()) == [] and T.jit.optimize_for_inference(opt) is opt
    assert frozen[0] == frozen[1] == "RecursiveScriptModule(original_name=Net)"


class Iface:
    def one(self, x: torch.Tensor) -> torch.Tensor:
        pass


def test_decorators_and_annotations() -> None:
    def h(x: Any) -> Any:
        return x

    for T in (adjit, torch):
        assert T.jit.ignore(h) is h and T.jit.unused(h) is h and T.jit.export(h) is h
        assert T.jit.ignore(drop=True)(h) is h
        assert T.jit.annotate(typing.List[int], []) == []  # noqa: UP006
        assert T.jit.Final is typing.Final
        assert repr(T.jit.Attribute(3, int)) == "Attribute(value=3, type=<class 'int'>)"
        assert T.jit.interface(Iface) is Iface
        assert T.jit.script_if_tracing(h)(5) == 5
        with T.jit.optimized_execution(False):
            pass


def test_fork_wait_as_pytorch() -> None:
    def boom(x: Any) -> Any:
        raise ValueError("boom")

    for T in (adjit, torch):
        fut = T.jit.fork(lambda a, b=1: a + b, 2, b=3)
        assert fut.done() and fut.wait() == 5 and T.jit.wait(fut) == 5 and fut.value() == 5
        assert fut.then(lambda f: f.wait() * 2).wait() == 10
        with pytest.raises(ValueError, match="boom"):
            T.jit.fork(boom, 1)
        assert repr(fut).startswith("<torch.Future object at 0x")
        assert repr(T.jit.Future()).startswith("<torch.jit.Future object at 0x")


def test_the_program_itself_is_refused_by_name() -> None:
    s = adjit.jit.script(adjit.nn.Linear(2, 2))
    f = adjit.jit.script(lambda x: x)
    refusals = {
        "ScriptModule.graph": lambda: s.graph,
        "ScriptModule.code": lambda: s.code,
        "ScriptModule.save": lambda: s.save("m.pt"),
        "ScriptFunction.graph": lambda: f.graph,
        "ScriptFunction.code": lambda: f.code,
        "torch.jit.save": lambda: adjit.jit.save(s, "m.pt"),
        "torch.jit.load": lambda: adjit.jit.load("m.pt"),
    }
    for name, use in refusals.items():
        with pytest.raises(NotImplementedError, match=f"{name}: adjit has no TorchScript"):
            use()


def _ident(x):
    return x


def test_deprecation_warnings_as_pytorch() -> None:
    texts = []
    for T in (adjit, torch):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            T.jit.script(_ident)
            T.jit.freeze(T.jit.script(T.nn.Linear(1, 1)).eval())
            T.jit.wait(T.jit.fork(abs, 1))
            T.jit.interface(Iface)
            T.jit.optimize_for_inference(T.jit.script(T.nn.Linear(1, 1)).eval())
        texts.append([(w.category, str(w.message)) for w in seen])
    assert texts[0] == texts[1] and len(texts[0]) == 9


def _isinstance_cases(T: Any) -> list[Any]:
    from typing import Dict, List, Optional, Tuple  # noqa: UP035 - TorchScript's spellings

    one = T.ones(1)
    return [
        ([1, 2], List[int]),  # noqa: UP006
        ([1, "a"], List[int]),  # noqa: UP006
        ([[1], [2, 3]], List[List[int]]),  # noqa: UP006
        ({"a": one}, Dict[str, T.Tensor]),  # noqa: UP006
        ({"a": 1}, Dict[str, T.Tensor]),  # noqa: UP006
        ((1, "a"), Tuple[int, str]),  # noqa: UP006
        ((1, "a"), Tuple[int]),  # noqa: UP006
        (None, Optional[int]),  # noqa: UP045
        (3, Optional[int]),  # noqa: UP045
        ("3", int | None),
        ([], List[int]),  # noqa: UP006
        (one, T.Tensor),
        (3, (str, int)),
        ([1], list),
        ({}, dict),
        (1, [int]),
    ]


def test_jit_isinstance_as_pytorch() -> None:
    for (obj, kind), (t_obj, t_kind) in zip(
        _isinstance_cases(adjit), _isinstance_cases(torch), strict=True
    ):
        got, want = [], []
        for out, T, o, k in ((got, adjit, obj, kind), (want, torch, t_obj, t_kind)):
            with warnings.catch_warnings(record=True) as seen:
                warnings.simplefilter("always")
                out.append(_outcome_value(lambda T=T, o=o, k=k: T.jit.isinstance(o, k)))
            out.append([str(w.message) for w in seen])
        assert got == want, (obj, kind)


def _outcome_value(fn: Any) -> Any:
    try:
        return fn()
    except Exception as e:  # the type and text are the API
        return type(e).__name__, str(e)


def test_fusion_knobs_as_pytorch() -> None:
    for T in (adjit, torch):
        assert T.jit.set_fusion_strategy([("DYNAMIC", 3)]) == [("STATIC", 2), ("DYNAMIC", 10)]
        assert T.jit.set_fusion_strategy([("STATIC", 2), ("DYNAMIC", 10)]) == [("DYNAMIC", 3)]
        with pytest.raises(ValueError, match="FusionBehavior only supported 'STATIC' or"):
            T.jit.set_fusion_strategy([("X", 1)])
        assert T.jit.onednn_fusion_enabled() is False
        with pytest.warns(UserWarning, match="Only works in script mode"), T.jit.strict_fusion():
            pass
    assert sorted(n for n in torch.jit.__all__ if not hasattr(adjit.jit, n)) == []
    scripted = adjit.jit.script(adjit.nn.Linear(1, 1))
    for use in (lambda: adjit.jit.CompilationUnit("def f(x): return x"),
                lambda: adjit.jit.export_opnames(scripted)):  # fmt: skip
        with pytest.raises(NotImplementedError, match="adjit has no TorchScript"):
            use()
