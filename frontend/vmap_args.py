"""torch.func.vmap's argument handling: in_dims/out_dims over pytrees, the batch size, where
each output's batch dim goes, and PyTorch's error for each wrong use (texts as PyTorch's)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, NoReturn, cast

from ..ir.batching import Dim
from ..runtime.tensor import Tensor
from .pytree import LEAF, flatten


def func_name(func: Any) -> str:
    if hasattr(func, "__name__"):
        return func.__name__
    if isinstance(func, functools.partial):
        return f"functools.partial({func_name(func.func)}, ...)"
    return repr(func)


def spec_repr(spec: Any, indent: int = 0) -> str:
    """A tree spec as PyTorch's TreeSpec prints."""
    if spec == LEAF:
        return "*"
    kind, keys, children = spec
    if hasattr(kind, "_make") and kind not in (tuple, list):
        name, context = "namedtuple", repr(kind)
    else:
        name, context = kind.__name__, repr(keys)
    text = ""
    if children:
        indent += 2
        text = spec_repr(children[0], indent) + ("," if len(children) > 1 else "")
        text += ",".join("\n" + " " * indent + spec_repr(c, indent) for c in children[1:])
    return f"TreeSpec({name}, {context}, [{text}])"


def _count(spec: Any) -> int:
    return 1 if spec == LEAF else sum(_count(c) for c in spec[2])


def broadcast_prefix(prefix: Any, spec: Any) -> list[Any] | None:
    """PyTorch's ``_broadcast_to_and_flatten``: a leaf of ``prefix`` (an int, None or
    anything not a container) stands for every leaf of the matching subtree."""
    if not isinstance(prefix, tuple | list | dict):
        return [prefix] * _count(spec)
    if spec == LEAF:
        return None
    kind, keys, children = spec
    if type(prefix) is not kind and not (kind is tuple and type(prefix) is tuple):
        return None
    if isinstance(prefix, dict):
        if set(prefix) != set(keys):
            return None
        parts = [prefix[k] for k in keys]
    else:
        parts = list(prefix)
    if len(parts) != len(children):
        return None
    out: list[Any] = []
    for p, c in zip(parts, children, strict=True):
        sub = broadcast_prefix(p, c)
        if sub is None:
            return None
        out += sub
    return out


def _leaves_of(tree: Any) -> list[Any]:
    return flatten(tree)[0] if isinstance(tree, tuple | list | dict) else [tree]


def process_inputs(
    in_dims: Any, args: tuple[Any, ...], func: Any
) -> tuple[int, list[Dim], list[Any], Any]:
    name = func_name(func)
    if not isinstance(in_dims, int | tuple):
        raise ValueError(
            f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): expected `in_dims` to be int or a "
            f"(potentially nested) tuple matching the structure of inputs, got: {type(in_dims)}."
        )
    if len(args) == 0:
        raise ValueError(
            f"vmap({name})(<inputs>): got no inputs. Maybe you forgot to add inputs, or you are "
            "trying to vmap over a function with no inputs. The latter is unsupported."
        )
    flat_args, spec = flatten(args)
    flat_in_dims = broadcast_prefix(in_dims, spec)
    if flat_in_dims is None:
        in_spec = flatten(in_dims)[1] if isinstance(in_dims, tuple) else LEAF
        raise ValueError(
            f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): in_dims is not compatible with the "
            f"structure of `inputs`. in_dims has structure {spec_repr(in_spec)} but inputs has "
            f"structure {spec_repr(spec)}."
        )
    for i, (arg, d) in enumerate(zip(flat_args, flat_in_dims, strict=True)):
        if not isinstance(d, int) and d is not None:
            raise ValueError(
                f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={d} for an input "
                "but in_dim must be either an integer dimension or None."
            )
        if isinstance(d, int) and not isinstance(arg, Tensor):
            raise ValueError(
                f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={d} for an input "
                f"but the input is of type {type(arg)}. We cannot vmap over non-Tensor "
                "arguments, please use None as the respective in_dim"
            )
        if d is not None and (d < -arg.dim() or d >= arg.dim()):
            raise ValueError(
                f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={d} for some input, "
                f"but that input is a Tensor of dimensionality {arg.dim()} so expected in_dim to "
                f"satisfy -{arg.dim()} <= in_dim < {arg.dim()}."
            )
        if d is not None and d < 0:
            flat_in_dims[i] = d % arg.dim()
    return batch_size_of(flat_in_dims, flat_args), flat_in_dims, flat_args, spec


def batch_size_of(flat_in_dims: Sequence[Dim], flat_args: Sequence[Any]) -> int:
    sizes = [a.size(d) for d, a in zip(flat_in_dims, flat_args, strict=True) if d is not None]
    if not sizes:
        raise ValueError("vmap: Expected at least one Tensor to vmap over")
    if any(s != sizes[0] for s in sizes):
        raise ValueError(
            "vmap: Expected all tensors to have the same size in the mapped dimension, got "
            f"sizes {sizes} for the mapped dimension"
        )
    return int(sizes[0])


def check_out_dims(out_dims: Any, func: Any) -> None:
    if isinstance(out_dims, int):
        return
    for d in _leaves_of(out_dims):
        if not (isinstance(d, int) or d is None):
            raise ValueError(
                f"vmap({func_name(func)}, ..., out_dims={out_dims}): `out_dims` must be an int, "
                "None or a python collection of ints representing where in the outputs the "
                "vmapped dimension should appear."
            )


def flat_out_dims(out_dims: Any, outputs: Any, spec: Any, func: Any) -> list[Dim]:
    def incompatible() -> NoReturn:
        dims_spec = flatten(out_dims)[1] if isinstance(out_dims, tuple | list | dict) else LEAF
        raise ValueError(
            f"vmap({func_name(func)}, ..., out_dims={out_dims})(<inputs>): out_dims is not "
            "compatible with the structure of `outputs`. out_dims has structure "
            f"{spec_repr(dims_spec)} but outputs has structure {spec_repr(spec)}."
        )

    if isinstance(outputs, Tensor):  # (PyTorch's edge case: a 1-tuple of out_dims is fine)
        if isinstance(out_dims, int) or out_dims is None:
            return [out_dims]
        if isinstance(out_dims, tuple) and len(out_dims) == 1:
            return list(out_dims)
        incompatible()
    found = broadcast_prefix(out_dims, spec)
    if found is None:
        incompatible()
    return found


def unbatch(name: str, value: Any, d: Dim, out_dim: Dim, size: int) -> Any:
    """An output with its batch dim at ``out_dim`` (PyTorch's ``_maybe_remove_batch_dim``)."""
    if out_dim is None:
        if isinstance(value, Tensor) and d is not None:
            raise ValueError(
                f"vmap({name}, ...): `{name}` can not return a BatchedTensor when out_dim is None"
            )
        return value
    if not isinstance(value, Tensor):
        raise ValueError(
            f"vmap({name}, ...): `{name}` must only return Tensors, got type {type(value)}. "
            "Did you mean to set out_dims= to None for output?"
        )
    if d is not None:
        return value if out_dim == 0 else cast(Any, value).movedim(0, out_dim)
    rank = value.ndim + 1  # the same for every example: expanded (PyTorch's sizes, inserted)
    if not -rank <= out_dim < rank:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-rank}, {rank - 1}], but got "
            f"{out_dim})"
        )
    sizes = list(value.shape)
    sizes.insert(out_dim % rank, size)
    lead = len(sizes) - value.ndim  # PyTorch expands to these sizes: right-aligned
    for i, n in enumerate(value.shape):
        if n != sizes[lead + i] and n != 1:
            raise RuntimeError(
                f"The expanded size of the tensor ({sizes[lead + i]}) must match the existing "
                f"size ({n}) at non-singleton dimension {lead + i}.  Target sizes: {sizes}.  "
                f"Tensor sizes: {list(value.shape)}"
            )
    return cast(Any, value).expand(sizes)
