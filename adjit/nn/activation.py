"""Activation modules: one table row each (functional, constructor arguments and defaults)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from adjit.nn import functional as F
from adjit.nn.module import Module
from adjit.runtime.tensor import Tensor

# name -> (functional, constructor parameters with defaults, in PyTorch's order)
ACTIVATIONS: dict[str, tuple[Callable[..., Tensor], dict[str, Any]]] = {
    "ReLU": (F.relu, {"inplace": False}),
    "ReLU6": (F.relu6, {"inplace": False}),
    "LeakyReLU": (F.leaky_relu, {"negative_slope": 0.01, "inplace": False}),
    "ELU": (F.elu, {"alpha": 1.0, "inplace": False}),
    "CELU": (F.celu, {"alpha": 1.0, "inplace": False}),
    "SELU": (F.selu, {"inplace": False}),
    "GELU": (F.gelu, {"approximate": "none"}),
    "SiLU": (F.silu, {"inplace": False}),
    "Mish": (F.mish, {"inplace": False}),
    "Softplus": (F.softplus, {"beta": 1.0, "threshold": 20.0}),
    "LogSigmoid": (F.logsigmoid, {}),
    "Hardtanh": (F.hardtanh, {"min_val": -1.0, "max_val": 1.0, "inplace": False}),
    "Sigmoid": (F.sigmoid, {}),
    "Tanh": (F.tanh, {}),
    "Softmax": (F.softmax, {"dim": None}),
    "LogSoftmax": (F.log_softmax, {"dim": None}),
    "Softmin": (F.softmin, {"dim": None}),
}


def _extra_repr(self: Module) -> str:
    """``k=v`` for each argument; ``inplace`` only when True, as PyTorch prints it."""
    spec = ACTIVATIONS[type(self).__name__][1]
    parts = [f"{k}={getattr(self, k)!r}" for k in spec if k != "inplace"]
    if getattr(self, "inplace", False):
        parts.append("inplace=True")
    return ", ".join(parts)


def _make(name: str) -> type[Module]:
    fn, spec = ACTIVATIONS[name]
    signature = inspect.Signature(
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        + [
            inspect.Parameter(k, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=v)
            for k, v in spec.items()
        ]
    )

    def __init__(self: Module, *args: Any, **kwargs: Any) -> None:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        Module.__init__(self)
        for k in spec:
            setattr(self, k, bound.arguments[k])

    def forward(self: Module, input: Tensor) -> Tensor:
        return fn(input, **{k: getattr(self, k) for k in spec})

    __init__.__signature__ = signature  # type: ignore[attr-defined]
    doc = f"Applies ``adjit.nn.functional.{fn.__name__}`` elementwise (as ``torch.nn.{name}``)."
    return type(
        name,
        (Module,),
        {
            "__init__": __init__,
            "forward": forward,
            "extra_repr": _extra_repr,
            "__doc__": doc,
            "__module__": __name__,
        },
    )


ReLU = _make("ReLU")
ReLU6 = _make("ReLU6")
LeakyReLU = _make("LeakyReLU")
ELU = _make("ELU")
CELU = _make("CELU")
SELU = _make("SELU")
GELU = _make("GELU")
SiLU = _make("SiLU")
Mish = _make("Mish")
Softplus = _make("Softplus")
LogSigmoid = _make("LogSigmoid")
Hardtanh = _make("Hardtanh")
Sigmoid = _make("Sigmoid")
Tanh = _make("Tanh")
Softmax = _make("Softmax")
LogSoftmax = _make("LogSoftmax")
Softmin = _make("Softmin")
