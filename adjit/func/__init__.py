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
from adjit.func.helpers import debug_unwrap, functionalize, replace_all_batch_norm_modules_
from adjit.func.rearrange import rearrange

__all__ = [
    "debug_unwrap",
    "functionalize",
    "replace_all_batch_norm_modules_",
    "functional_call",
    "grad",
    "grad_and_value",
    "hessian",
    "jacfwd",
    "jacrev",
    "jvp",
    "linearize",
    "rearrange",
    "stack_module_state",
    "vjp",
    "vmap",
]
