"""Inference tensors (Note [inference tensors]) behave as PyTorch's, side by side."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

import adjit


def _made_inside(T: Any) -> tuple[Any, Any]:
    """(an inference tensor, a normal leaf that requires grad)."""
    with T.inference_mode():
        x = T.ones(3)
    return x, T.ones(3, requires_grad=True)


def _in_mode_facts(T: Any) -> list[Any]:
    normal = T.zeros(3)
    with T.inference_mode():
        x = T.ones(3)
        y = T.ones(2, requires_grad=True)
        facts = [T.is_inference_mode_enabled(), T.is_grad_enabled(), x.is_inference()]
        facts += [x[0:2].is_inference(), normal[1:].is_inference(), y.requires_grad]
        facts += [y.is_inference(), (y * 2).requires_grad, normal.add_(1).is_inference()]
        x.add_(1)  # in-place inside the mode is fine
        with T.inference_mode(False):
            facts += [T.is_inference_mode_enabled(), T.is_grad_enabled(), T.ones(1).is_inference()]
    facts += [T.is_inference_mode_enabled(), T.is_grad_enabled(), x.tolist()]
    return facts


def _decorated(T: Any) -> list[Any]:
    @T.inference_mode()
    def inside() -> Any:
        return T.is_inference_mode_enabled(), T.ones(1).is_inference()

    @T.inference_mode(False)
    def not_inside() -> Any:
        return T.is_inference_mode_enabled()

    return [*inside(), not_inside(), T.is_inference_mode_enabled()]


def _outside_facts(T: Any) -> list[Any]:
    x, w = _made_inside(T)
    facts = [T.is_inference(x), (x + 1).is_inference(), x.clone().is_inference()]
    facts += [x.view(3).is_inference(), x.detach().is_inference(), w.is_inference()]
    (w + x).sum().backward()  # nothing of x is saved for backward
    return [*facts, w.grad.tolist()]


CASES: dict[str, Callable[[Any], Any]] = {
    "in-mode": _in_mode_facts,
    "decorator": _decorated,
    "outside": _outside_facts,
    "version": lambda T: _made_inside(T)[0]._version,
    "inplace": lambda T: _made_inside(T)[0].add_(1),
    "inplace-view": lambda T: _made_inside(T)[0][0].fill_(2),
    "inplace-no-grad": lambda T: T.no_grad()(lambda: _made_inside(T)[0].mul_(2))(),
    "setitem": lambda T: _made_inside(T)[0].__setitem__(0, 5.0),
    "saved-right": lambda T: (lambda x, w: (w * x).sum().backward())(*_made_inside(T)),
    "saved-left": lambda T: (lambda x, w: (x * w).sum().backward())(*_made_inside(T)),
    "saved-exp": lambda T: (lambda x, w: T.exp(w * 1) * x)(*_made_inside(T)),
    "requires-grad": lambda T: _made_inside(T)[0].requires_grad_(),
    "requires-grad-attr": lambda T: setattr(_made_inside(T)[0], "requires_grad", True),
    "normal-version": lambda T: T.ones(2).add_(1).add_(1)._version,
}


def _outcome(fn: Callable[[Any], Any], T: Any) -> Any:
    try:
        out = fn(T)
    except Exception as e:  # noqa: BLE001 - the error is the outcome compared
        return type(e).__name__, str(e)
    return out.tolist() if isinstance(out, (torch.Tensor, adjit.Tensor)) else out


@pytest.mark.parametrize("name", list(CASES))
def test_inference_tensors_as_torch(name: str) -> None:
    assert _outcome(CASES[name], adjit) == _outcome(CASES[name], torch)
