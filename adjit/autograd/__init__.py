"""``adjit.autograd``: grad, backward and custom differentiable functions, as in PyTorch."""

from __future__ import annotations

from adjit.runtime.autograd import Node
from adjit.runtime.backward import backward, grad
from adjit.runtime.grad_mode import enable_grad, inference_mode, no_grad, set_grad_enabled
from adjit.runtime.settings import detect_anomaly, is_anomaly_enabled, set_detect_anomaly

__all__ = ["Function", "Node", "backward", "enable_grad", "grad", "no_grad", "set_grad_enabled"]
__all__ += ["detect_anomaly", "is_anomaly_enabled", "set_detect_anomaly"]
__all__ += ["Variable", "inference_mode"]
__all__ += ["is_multithreading_enabled", "set_multithreading_enabled"]

from adjit.autograd import (  # noqa: E402,F401
    forward_ad,
    function,
    functional,
    grad_mode,
    graph,
    profiler,
)
from adjit.autograd.custom import Function, FunctionCtx  # noqa: E402,F401
from adjit.autograd.grad_mode import (  # noqa: E402
    is_multithreading_enabled,
    set_multithreading_enabled,
)
from adjit.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck  # noqa: E402,F401
from adjit.autograd.variable import Variable  # noqa: E402
from adjit.overrides import (  # noqa: E402, F401  (PyTorch's autograd imports them)
    handle_torch_function,
    has_torch_function,
    is_tensor_like,
)
