"""``adjit.func``: torch.func's composable transforms, eager and compiled (Note [reverse mode as
torch.func sees it] in frontend/func_transforms.py)."""

from __future__ import annotations

from adjit.frontend.func_transforms import (
    grad,
    grad_and_value,
    hessian,
    jacfwd,
    jacrev,
    vjp,
)
from adjit.frontend.jvp import jvp, linearize
from adjit.frontend.vmap import vmap
from adjit.func.functional_call import functional_call, stack_module_state

__all__ = [
    "functional_call",
    "grad",
    "grad_and_value",
    "hessian",
    "jacfwd",
    "jacrev",
    "jvp",
    "linearize",
    "stack_module_state",
    "vjp",
    "vmap",
]
