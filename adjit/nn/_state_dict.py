"""``Module.state_dict`` and ``load_state_dict`` as PyTorch's: the ``_metadata`` versions, the
per-module ``_save_to_state_dict``/``_load_from_state_dict`` a subclass may override, extra
state, ``assign`` and the refusal texts."""

from __future__ import annotations

import itertools
import warnings
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from adjit.nn._module_state import _IncompatibleKeys
from adjit.nn.parameter import Parameter, is_lazy
from adjit.runtime.grad_mode import no_grad
from adjit.runtime.tensor import Tensor

if TYPE_CHECKING:
    from adjit.nn.module import Module

EXTRA_STATE_KEY_SUFFIX = "_extra_state"
_POSITIONAL = (
    "Positional args are being deprecated, use kwargs instead. Refer to "
    "https://pytorch.org/docs/main/generated/torch.nn.Module.html#torch.nn.Module.state_dict "
    "for details."
)
_POST_HOOK_RETURNED = (
    "Hooks registered with ``register_load_state_dict_post_hook`` are not expected to return "
    "new values, if incompatible_keys need to be modified, it should be done inplace."
)


def state_dict(module: Module, args: tuple, destination: Any, prefix: str, keep_vars: bool) -> Any:
    """PyTorch's recursion: metadata, pre-hooks, ``_save_to_state_dict``, children, post-hooks
    (a private post-hook's result replaces the destination; a public one must return None)."""
    if args:
        warnings.warn(_POSITIONAL, FutureWarning, stacklevel=3)
        destination = args[0] if destination is None else destination
        prefix = args[1] if len(args) > 1 and prefix == "" else prefix
        keep_vars = args[2] if len(args) > 2 and keep_vars is False else keep_vars
    if destination is None:
        destination = OrderedDict()
        destination._metadata = OrderedDict()  # type: ignore[attr-defined]
    local_metadata = {"version": module._version}
    if hasattr(destination, "_metadata"):
        destination._metadata[prefix[:-1]] = local_metadata
    for pre_hook in module._state_dict_pre_hooks.values():
        pre_hook(module, prefix, keep_vars)
    module._save_to_state_dict(destination, prefix, keep_vars)
    for name, child in module._modules.items():
        if child is not None:
            child.state_dict(
                destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars
            )
    for hook in module._state_dict_hooks.values():
        result = hook(module, destination, prefix, local_metadata)
        if not getattr(hook, "_from_public_api", False):
            destination = destination if result is None else result
        elif result is not None:
            raise RuntimeError("state_dict post-hook must return None")
    return destination


def overrides(module: Module, name: str) -> bool:
    """Whether ``module``'s class defines its own ``get_extra_state``/``set_extra_state``."""
    from adjit.nn.module import Module

    return getattr(type(module), name, None) is not getattr(Module, name)


def save_to_state_dict(module: Module, destination: Any, prefix: str, keep_vars: bool) -> None:
    """Own parameters, persistent buffers and extra state (a lazy placeholder is kept as is)."""
    for name, param in module._parameters.items():
        if param is not None:
            destination[prefix + name] = param if keep_vars or is_lazy(param) else param.detach()
    for name, buf in module._buffers.items():
        if buf is not None and name not in module._non_persistent_buffers_set:
            destination[prefix + name] = buf if keep_vars or is_lazy(buf) else buf.detach()
    if overrides(module, "get_extra_state"):
        destination[prefix + EXTRA_STATE_KEY_SUFFIX] = module.get_extra_state()


def load_from_state_dict(
    module: Module,
    state_dict: Any,
    prefix: str,
    local_metadata: dict[str, Any],
    strict: bool,
    missing_keys: list[str],
    unexpected_keys: list[str],
    error_msgs: list[str],
) -> None:
    """Copy (or assign) this module's own entries; note missing and unexpected keys."""
    for hook in module._load_state_dict_pre_hooks.values():
        hook(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)
    persistent = {
        k: v for k, v in module._buffers.items() if k not in module._non_persistent_buffers_set
    }
    local_state = {
        k: v
        for k, v in itertools.chain(module._parameters.items(), persistent.items())
        if v is not None
    }
    assign = local_metadata.get("assign_to_params_buffers", False)
    for name, param in local_state.items():
        key = prefix + name
        if key in state_dict:
            _load_entry(module, name, key, param, state_dict[key], assign, error_msgs)
        elif strict:
            missing_keys.append(key)
    extra_key = prefix + EXTRA_STATE_KEY_SUFFIX
    if overrides(module, "set_extra_state"):
        if extra_key in state_dict:
            module.set_extra_state(state_dict[extra_key])
        elif strict:
            missing_keys.append(extra_key)
    elif strict and extra_key in state_dict:
        unexpected_keys.append(extra_key)
    if strict:
        for key in state_dict:
            if key.startswith(prefix) and key != extra_key:
                first, *rest = key[len(prefix) :].split(".", 1)
                if first not in (module._modules if rest else local_state):
                    unexpected_keys.append(key)


def _load_entry(
    module: Module, name: str, key: str, param: Tensor, value: Any, assign: bool, errors: list[str]
) -> None:
    if not _tensor_like(value):
        errors.append(
            f'While copying the parameter named "{key}", expected torch.Tensor or Tensor-like '
            f"object from checkpoint but received {type(value)}"
        )
        return
    lazy = is_lazy(param)
    if not lazy and param.ndim == 0 and tuple(value.shape) == (1,):
        value = value[0]
    if not lazy and tuple(value.shape) != tuple(param.shape):
        errors.append(
            f"size mismatch for {key}: copying a param with shape {value.shape} from checkpoint, "
            f"the shape in current model is {param.shape}."
        )
        return
    try:
        with no_grad():
            if assign:
                if isinstance(param, Parameter):
                    if isinstance(value, Parameter):
                        value.requires_grad_(param.requires_grad)
                    else:
                        value = Parameter(value, requires_grad=param.requires_grad)
                setattr(module, name, value)
            else:
                param.copy_(value)
    except Exception as ex:  # noqa: BLE001  (PyTorch reports any failure of the copy)
        errors.append(
            f'While copying the parameter named "{key}", whose dimensions in the model are '
            f"{param.size()} and whose dimensions in the checkpoint are {value.size()}, an "
            f"exception occurred : {ex.args}."
        )


def _tensor_like(value: Any) -> bool:
    from adjit.overrides import is_tensor_like

    return is_tensor_like(value)


def load_state_dict(
    module: Module, state_dict: Any, strict: bool, assign: bool
) -> _IncompatibleKeys:
    """PyTorch's walk: each module loads the entries under its prefix, then its post-hooks."""
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
    missing: list[str] = []
    unexpected: list[str] = []
    errors: list[str] = []
    metadata = getattr(state_dict, "_metadata", None)
    state_dict = OrderedDict(state_dict)
    if metadata is not None:
        state_dict._metadata = metadata  # type: ignore[attr-defined]

    def load(mod: Module, local: Any, prefix: str = "") -> None:
        local_metadata = {} if metadata is None else metadata.get(prefix[:-1], {})
        if assign:
            local_metadata["assign_to_params_buffers"] = assign
        mod._load_from_state_dict(local, prefix, local_metadata, True, missing, unexpected, errors)
        for name, child in mod._modules.items():
            if child is not None:
                child_prefix = prefix + name + "."
                load(
                    child,
                    {k: v for k, v in local.items() if k.startswith(child_prefix)},
                    child_prefix,
                )
        keys = _IncompatibleKeys(missing, unexpected)
        for hook in mod._load_state_dict_post_hooks.values():
            if hook(mod, keys) is not None:
                raise AssertionError(_POST_HOOK_RETURNED)

    load(module, state_dict)
    if strict and unexpected:
        errors.insert(
            0,
            "Unexpected key(s) in state_dict: {}. ".format(", ".join(f'"{k}"' for k in unexpected)),
        )
    if strict and missing:
        errors.insert(
            0, "Missing key(s) in state_dict: {}. ".format(", ".join(f'"{k}"' for k in missing))
        )
    if errors:
        raise RuntimeError(
            "Error(s) in loading state_dict for {}:\n\t{}".format(
                type(module).__name__, "\n\t".join(errors)
            )
        )
    return _IncompatibleKeys(missing, unexpected)


def _never(what: str) -> RuntimeError:
    return RuntimeError(
        f"Reached a code path in Module.{what}() that should never be called. Please file an "
        "issue at https://github.com/pytorch/pytorch/issues/new?template=bug-report.yml to "
        "report this bug."
    )
