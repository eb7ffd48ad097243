"""``functional_call``: run a module with some parameters/buffers swapped for given tensors."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from adjit.nn.module import Module
from adjit.runtime.tensor import Tensor


def _tables(module: Module, name: str) -> tuple[dict[str, Any] | None, str, Module]:
    path, _, leaf = name.rpartition(".")
    mod = module.get_submodule(path)
    for table in (mod._parameters, mod._buffers):
        if leaf in table:
            return table, leaf, mod
    return None, leaf, mod


def _tied_names(module: Module, given: dict[str, Tensor]) -> dict[str, Tensor]:
    """Extend ``given`` to every other name of the same (tied) tensor, as PyTorch does."""
    names: dict[int, list[str]] = {}
    members = [
        *module.named_parameters(remove_duplicate=False),
        *module.named_buffers(remove_duplicate=False),
    ]
    for name, t in members:
        names.setdefault(id(t), []).append(name)
    out = dict(given)
    for aliases in names.values():
        values = {id(given[n]): given[n] for n in aliases if n in given}
        if len(values) > 1:
            raise ValueError(
                f"functional_call got multiple values for keys {sorted(aliases)}, "
                "which are tied. Consider using tie_weights=False"
            )
        for n in aliases:
            if values:
                out.setdefault(n, next(iter(values.values())))
    return out


@contextmanager
def _reparametrize_module(
    module: Module, values: dict[str, Tensor], tie_weights: bool, strict: bool
) -> Iterator[None]:
    if tie_weights:
        values = _tied_names(module, values)
    if strict:
        own = {n for n, _ in module.named_parameters(remove_duplicate=False)}
        own |= {n for n, _ in module.named_buffers(remove_duplicate=False)}
        unexpected = sorted(set(values) - own)
        missing = sorted(own - set(values))
        msgs = []
        if unexpected:
            msgs.append(f"Unexpected key(s): {', '.join(map(repr, unexpected))}.")
        if missing:
            msgs.append(f"Missing key(s): {', '.join(map(repr, missing))}.")
        if msgs:
            raise RuntimeError(
                "Error(s) in reparametrizing for {}:\n\t{}".format(
                    module._get_name(), "\n\t".join(msgs)
                )
            )
    saved: list[tuple[Any, str, Any, Module]] = []
    try:
        for name, value in values.items():
            table, leaf, mod = _tables(module, name)
            if table is None:
                saved.append((None, leaf, mod.__dict__.get(leaf, _MISSING), mod))
                object.__setattr__(mod, leaf, value)
            else:
                saved.append((table, leaf, table[leaf], mod))
                table[leaf] = value
        yield
    finally:
        for table, leaf, old, mod in reversed(saved):
            if table is not None:
                table[leaf] = old
            elif old is _MISSING:
                mod.__dict__.pop(leaf, None)
            else:
                object.__setattr__(mod, leaf, old)


_MISSING = object()


def functional_call(
    module: Module,
    parameters_and_buffers: dict[str, Tensor],
    args: Any = None,
    kwargs: dict[str, Any] | None = None,
    *,
    tie_weights: bool = True,
    strict: bool = False,
) -> Any:
    """``module(*args, **kwargs)`` with the named parameters/buffers replaced for this call."""
    warnings.warn(
        "`torch.nn.utils.stateless.functional_call` is deprecated as of PyTorch 2.0 "
        "and will be removed in a future version of PyTorch. "
        "Please use `torch.func.functional_call` instead which is a drop-in replacement.",
        FutureWarning,
        stacklevel=2,
    )
    kwargs = {} if kwargs is None else kwargs
    args = () if args is None else args if isinstance(args, tuple) else (args,)
    with _reparametrize_module(module, parameters_and_buffers, tie_weights, strict):
        return module(*args, **kwargs)
