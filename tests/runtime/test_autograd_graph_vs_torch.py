"""autograd.graph's edges and multi-grad hooks, allow_mutation_on_saved_tensors, leaf hooks
under autograd.grad and the multithreading switch, side by side with PyTorch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import adjit

LIBS = [adjit, torch]


def _np(t: Any) -> Any:
    return None if t is None else t.detach().numpy()


def _both(fn: Callable[[Any], Any]) -> tuple[Any, Any]:
    return fn(adjit), fn(torch)


def _same(a: Any, b: Any) -> None:
    if isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same(x, y)
    elif a is None or b is None:
        assert a is None and b is None
    elif isinstance(a, adjit.Tensor):
        np.testing.assert_array_equal(_np(a), _np(b))
    else:
        assert a == b


def _leaves(lib: Any) -> tuple[Any, Any]:
    a = lib.tensor([1.0, -2.0, 3.0], requires_grad=True)
    b = lib.tensor([0.5, 4.0, -1.5], requires_grad=True)
    return a, b


def test_gradient_edge_of_leaf_and_of_result() -> None:
    def run(lib: Any) -> Any:
        g = lib.autograd.graph
        a, _ = _leaves(lib)
        b = a * 2
        ea, eb = g.get_gradient_edge(a), g.get_gradient_edge(b)
        assert isinstance(ea, g.GradientEdge) and ea.output_nr == 0 and ea.ownership_token is None
        assert type(ea.node).__name__ == "AccumulateGrad" and eb.node.name() == "MulBackward0"
        assert eb.node is b.grad_fn
        loss = (b * 3).sum()
        return lib.autograd.grad(loss, eb, retain_graph=True), lib.autograd.grad(loss, ea)

    _same(*_both(run))


def test_gradient_edge_of_second_output_and_errors() -> None:
    def run(lib: Any) -> Any:
        g = lib.autograd.graph
        a, _ = _leaves(lib)
        vals, idx = a.sort()
        e = g.get_gradient_edge(vals)
        assert e.node is vals.grad_fn and e.output_nr == vals.output_nr
        with pytest.raises(RuntimeError) as info:
            g.get_gradient_edge(lib.ones(2))
        return lib.autograd.grad((vals**2).sum(), [e, a]), str(info.value)

    _same(*_both(run))
    assert repr(adjit.autograd.graph.GradientEdge(None, 0)) == repr(
        torch.autograd.graph.GradientEdge(None, 0)
    )


def test_leaf_hooks_run_on_autograd_grad() -> None:
    def run(lib: Any) -> Any:
        a, b = _leaves(lib)
        seen = []
        a.register_hook(lambda g: seen.append(g.clone()) or g * 2)
        first = lib.autograd.grad((a * b).sum(), a)
        (a * b).sum().backward(inputs=[a])  # once, not twice
        return first, seen, a.grad

    _same(*_both(run))


def _multi(lib: Any, mode: str) -> list[Any]:
    a, b = _leaves(lib)
    c, d = a * b, a * b
    log: list[Any] = []
    fn = (lambda grads: log.append(list(grads))) if mode == "all" else log.append
    lib.autograd.graph.register_multi_grad_hook((a, b, c, d), fn, mode=mode)
    c.sum().backward(retain_graph=True)
    c.sum().backward(inputs=(a,), retain_graph=True)
    (c * 0 + d).sum().backward(retain_graph=True)
    if mode == "any":
        lib.autograd.grad((c + d).sum(), (b,))
    else:  # (PyTorch cannot tell whether autograd.grad runs a leaf's node: it refuses)
        with pytest.raises(RuntimeError, match="A leaf node was passed"):
            lib.autograd.grad((c + d).sum(), (b,))
    return log


@pytest.mark.parametrize("mode", ["all", "any"])
def test_register_multi_grad_hook(mode: str) -> None:
    ours, theirs = _multi(adjit, mode), _multi(torch, mode)
    _same(ours, theirs)
    assert ours  # the hook ran


def test_multi_grad_hook_bad_mode_and_remove() -> None:
    def run(lib: Any) -> Any:
        a, b = _leaves(lib)
        with pytest.raises(ValueError) as info:
            lib.autograd.graph.register_multi_grad_hook((a, b), print, mode="some")
        log: list[Any] = []
        h = lib.autograd.graph.register_multi_grad_hook((a, b), log.append)
        h.remove()
        (a * b).sum().backward()
        return str(info.value), log

    _same(*_both(run))


def test_allow_mutation_on_saved_tensors() -> None:
    def run(lib: Any) -> Any:
        with lib.autograd.graph.allow_mutation_on_saved_tensors() as ctx:
            a = lib.ones(2, 3, requires_grad=True)
            b = a.clone()
            out = (b**2).sum()
            b.mul_(3)
            out.sum().backward()
            assert ctx is not None
        return a.grad, b

    _same(*_both(run))


def test_allow_mutation_on_saved_tensors_errors() -> None:
    def run(lib: Any) -> Any:
        graph = lib.autograd.graph
        with graph.allow_mutation_on_saved_tensors():
            a = lib.ones(3, requires_grad=True)
            out = (a.clone() ** 2).sum()
        with pytest.raises(AssertionError) as outside:
            out.backward()
        allow = graph.allow_mutation_on_saved_tensors
        with pytest.raises(RuntimeError) as nested, allow(), allow():
            pass
        return str(outside.value), str(nested.value)

    _same(*_both(run))


def test_saved_tensor_hooks_skip_the_version_check() -> None:
    """PyTorch checks no version when a pack hook saved the value (its copy is what is read)."""

    def run(lib: Any) -> Any:
        with lib.autograd.graph.saved_tensors_hooks(lambda x: x.clone(), lambda x: x):
            a = lib.tensor([0.5, 1.0, 2.0], requires_grad=True)
            b = a.clone()
            out = (b**2).sum()
            b.mul_(10)
        out.backward()
        return a.grad

    _same(*_both(run))


def test_multithreading_switch() -> None:
    def run(lib: Any) -> Any:
        ag = lib.autograd
        states = [ag.is_multithreading_enabled()]
        with ag.set_multithreading_enabled(False):
            states.append(ag.is_multithreading_enabled())
        states.append(ag.is_multithreading_enabled())

        @ag.set_multithreading_enabled(False)
        def inside() -> bool:
            return bool(ag.is_multithreading_enabled())

        states.append(inside())
        states.append(ag.is_multithreading_enabled())
        states.append(ag.grad_mode.set_multithreading_enabled is ag.set_multithreading_enabled)
        return states

    _same(*_both(run))


EDGE_OUTPUTS = {
    "grad-given": lambda T, ge, a, b, c: T.autograd.grad(ge(b), a, T.ones(3), retain_graph=True),
    "grad-scalar": lambda T, ge, a, b, c: T.autograd.grad(ge(c), a, retain_graph=True),
    "grad-implicit": lambda T, ge, a, b, c: T.autograd.grad(ge(b), a, retain_graph=True),
    "grad-shape": lambda T, ge, a, b, c: T.autograd.grad(ge(b), a, T.ones(2), retain_graph=True),
    "backward": lambda T, ge, a, b, c: (T.autograd.backward(ge(b), T.ones(3)), a.grad)[1],
    "backward-scalar": lambda T, ge, a, b, c: (T.autograd.backward([ge(c)]), a.grad)[1],
}


@pytest.mark.parametrize("name", list(EDGE_OUTPUTS))
def test_gradient_edges_as_outputs(name: str) -> None:
    def run(lib: Any) -> Any:
        a, _ = _leaves(lib)
        b = a * 2
        c = (b * 3).sum()
        try:
            return EDGE_OUTPUTS[name](lib, lib.autograd.graph.get_gradient_edge, a, b, c)
        except RuntimeError as e:
            return str(e)

    _same(*_both(run))


def test_an_edge_made_by_hand_needs_grad_outputs() -> None:
    a, _ = _leaves(adjit)
    b = a * 2
    edge = adjit.autograd.graph.GradientEdge(b.grad_fn, 0)
    _same(adjit.autograd.grad(edge, a, adjit.ones(3), retain_graph=True), (adjit.full((3,), 2.0),))
    with pytest.raises(RuntimeError, match="grad_outputs must be given for a GradientEdge"):
        adjit.autograd.grad(edge, a)
