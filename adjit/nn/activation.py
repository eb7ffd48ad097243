"""Activation modules: one table row each (functional, constructor arguments and defaults)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from adjit.nn import functional as F
from adjit.nn.module import Module
from adjit.runtime.tensor import Tensor

REQUIRED = inspect.Parameter.empty  # a constructor argument without a default


def _softmax2d(input: Tensor) -> Tensor:
    if input.dim() not in (3, 4):
        raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {input.dim()}D instead")
    return F.softmax(input, -3)


# name -> (functional, constructor parameters with defaults, in PyTorch's order); a module whose
# functional takes ``training`` (RReLU) passes its own mode, one of two inputs passes both
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
    "Hardshrink": (F.hardshrink, {"lambd": 0.5}),
    "Softshrink": (F.softshrink, {"lambd": 0.5}),
    "Hardsigmoid": (F.hardsigmoid, {"inplace": False}),
    "Hardswish": (F.hardswish, {"inplace": False}),
    "Softsign": (F.softsign, {}),
    "Tanhshrink": (F.tanhshrink, {}),
    "Threshold": (F.threshold, {"threshold": REQUIRED, "value": REQUIRED, "inplace": False}),
    "GLU": (F.glu, {"dim": -1}),
    "RReLU": (F.rrelu, {"lower": 1.0 / 8, "upper": 1.0 / 3, "inplace": False}),
    "Softmax2d": (_softmax2d, {}),
    "CosineSimilarity": (F.cosine_similarity, {"dim": 1, "eps": 1e-8}),
    "PairwiseDistance": (F.pairwise_distance, {"p": 2.0, "eps": 1e-6, "keepdim": False}),
}
TAKES_TRAINING = {"RReLU"}
ATTRIBUTES = {"PairwiseDistance": {"p": "norm"}}  # a constructor argument stored under another name


def _attribute(name: str, arg: str) -> str:
    """Where module ``name`` keeps its constructor argument ``arg``."""
    return ATTRIBUTES.get(name, {}).get(arg, arg)


TWO_INPUTS = {"CosineSimilarity", "PairwiseDistance"}
# PyTorch's extra_repr, where it is not ``k=v`` for each argument: the value alone, or nothing
VALUE_REPR = {"Hardshrink", "Softshrink"}
NO_REPR = {"Hardsigmoid", "Hardswish", "CosineSimilarity", "PairwiseDistance"}


def _extra_repr(self: Module) -> str:
    """``k=v`` for each argument; ``inplace`` only when True, as PyTorch prints it."""
    name = type(self).__name__
    spec = ACTIVATIONS[name][1]
    if name in NO_REPR:
        return ""
    if name in VALUE_REPR:
        return ", ".join(f"{getattr(self, k)!r}" for k in spec)
    parts = [f"{k}={getattr(self, _attribute(name, k))!r}" for k in spec if k != "inplace"]
    if getattr(self, "inplace", False):
        parts.append("inplace=True")
    return ", ".join(parts)


def _make(name: str) -> type[Module]:
    fn, spec = ACTIVATIONS[name]
    # generated source, as dataclasses and namedtuple do: Python's own argument errors
    # ("Threshold.__init__() missing 2 required positional arguments: ...") and signature
    params = ", ".join(k if v is REQUIRED else f"{k}=_defaults[{k!r}]" for k, v in spec.items())
    body = "".join(f"\n    self.{_attribute(name, k)} = {k}" for k in spec)
    namespace: dict[str, Any] = {"_defaults": spec, "Module": Module}
    exec(f"def __init__(self, {params}):\n    Module.__init__(self){body}", namespace)  # noqa: S102
    __init__ = namespace["__init__"]
    __init__.__qualname__ = f"{name}.__init__"

    def forward(self: Module, *inputs: Tensor) -> Tensor:
        kwargs = {k: getattr(self, _attribute(name, k)) for k in spec}
        if name in TAKES_TRAINING:
            kwargs["training"] = self.training
        return fn(*inputs, **kwargs)

    names = ("x1", "x2") if name in TWO_INPUTS else ("input",)
    forward.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in ("self", *names)]
    )

    doc = f"Applies ``adjit.nn.functional.{fn.__name__}`` (as ``torch.nn.{name}``)."
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
Hardshrink = _make("Hardshrink")
Softshrink = _make("Softshrink")
Hardsigmoid = _make("Hardsigmoid")
Hardswish = _make("Hardswish")
Softsign = _make("Softsign")
Tanhshrink = _make("Tanhshrink")
Threshold = _make("Threshold")
GLU = _make("GLU")
RReLU = _make("RReLU")
Softmax2d = _make("Softmax2d")
CosineSimilarity = _make("CosineSimilarity")
PairwiseDistance = _make("PairwiseDistance")


class PReLU(Module):
    """``max(0, x) + a * min(0, x)`` with a learned slope ``a`` per channel (or one)."""

    def __init__(
        self, num_parameters: int = 1, init: float = 0.25, device: Any = None, dtype: Any = None
    ) -> None:
        from adjit.nn.parameter import Parameter
        from adjit.runtime.creation import empty

        self.num_parameters = num_parameters
        super().__init__()
        self.init = init
        self.weight = Parameter(empty(num_parameters, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        from adjit.nn import init

        init.constant_(self.weight, self.init)

    def forward(self, input: Tensor) -> Tensor:
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"
