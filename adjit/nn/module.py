"""``Module``: the base of every layer; registers parameters, buffers and submodules."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from adjit.ir.dtypes import bfloat16, float16, float32, float64
from adjit.nn import _module_hooks as _hooks
from adjit.nn import _state_dict as _sd
from adjit.nn._module_hooks import _WithModule
from adjit.nn._module_state import (
    RemovableHandle,
    _addindent,
    _floating_to,
    _IncompatibleKeys,
    convert,
    target_dtype,
    typename,
)
from adjit.nn.parameter import Parameter
from adjit.runtime import trace_state  # noqa: I001
from adjit.runtime.tensor import Tensor

_NAMES_CHECKS = (
    (
        lambda self, name, table: not isinstance(name, str),
        TypeError,
        "{kind} name should be a string. Got {type}",
    ),
    (lambda self, name, table: "." in name, KeyError, '{kind} name can\'t contain "."'),
    (lambda self, name, table: name == "", KeyError, '{kind} name can\'t be empty string ""'),
    (
        lambda self, name, table: hasattr(self, name) and name not in table,
        KeyError,
        "attribute '{name}' already exists",
    ),
)


_PLAIN = frozenset((bool, int, float, str, type(None)))


def _note_varying(module: Any, d: dict[str, Any], name: str, value: Any) -> None:
    """Remember ``name`` as a Python number attribute set again to another value (see
    ``_compile_guard``); the first set (in ``__init__``) is not a change, nor ``training``
    and the names a module class guards otherwise (``_compile_unguarded``)."""
    old = d.get(name, _PLAIN)
    if type(value) not in _PLAIN or old is _PLAIN or old == value:
        return
    if name == "training" or name in module._compile_unguarded:
        return
    varying = d.get("_plain_varying", ())
    if name not in varying:
        d["_plain_varying"] = (*varying, name)


_HOOK_TABLES = (
    "_forward_hooks",
    "_forward_pre_hooks",
    "_backward_hooks",
    "_backward_pre_hooks",
    "_state_dict_hooks",
    "_state_dict_pre_hooks",
    "_load_state_dict_pre_hooks",
    "_load_state_dict_post_hooks",
)
_HOOK_FLAGS = (
    "_forward_hooks_with_kwargs",
    "_forward_hooks_always_called",
    "_forward_pre_hooks_with_kwargs",
)


def _forward(module: Module, args: tuple, kwargs: dict) -> Any:
    """A module call after the tracing hook: forward, with the hooks when there are any."""
    if not (module._forward_hooks or module._forward_pre_hooks or _hooks.any_hooks(module)):
        return module.forward(*args, **kwargs)
    return _hooks.call_with_hooks(module, args, kwargs)


class Module:
    """Base class for all neural network modules, as ``torch.nn.Module``."""

    training: bool
    _version: int = 1
    call_super_init: bool = False
    forward: Callable[..., Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args or kwargs:
            raise TypeError(
                f"{type(self).__name__}.__init__() got an unexpected keyword "
                f"argument '{next(iter(kwargs))}'"
                if kwargs
                else f"{type(self).__name__}.__init__() takes 1 positional argument but "
                f"{len(args) + 1} were given"
            )
        setter = super().__setattr__
        setter("training", True)
        setter("_parameters", {})
        setter("_buffers", {})
        setter("_non_persistent_buffers_set", set())
        setter("_modules", {})
        for table in _HOOK_TABLES:
            setter(table, OrderedDict())
        for table in _HOOK_FLAGS:
            setter(table, {})

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle, adding the hook tables a module pickled before they existed lacks."""
        self.__dict__.update(state)
        for table in _HOOK_TABLES:
            self.__dict__.setdefault(table, OrderedDict())
        for table in _HOOK_FLAGS:
            self.__dict__.setdefault(table, {})

    # ---- registration -----------------------------------------------------------------------
    def _check_name(self, kind: str, name: Any, table: dict[str, Any]) -> None:
        if f"_{kind}s" not in self.__dict__ and kind != "module":
            raise AttributeError(f"cannot assign {kind} before Module.__init__() call")
        for check, err, msg in _NAMES_CHECKS:
            if check(self, name, table):
                raise err(msg.format(kind=kind, name=name, type=typename(name)))

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        self._check_name("parameter", name, self._parameters)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{typename(param)}' object to parameter '{name}' "
                "(torch.nn.Parameter or None required)"
            )
        if param is not None and param.grad_fn is not None:
            raise ValueError(
                f"Cannot assign non-leaf Tensor to parameter '{name}'. Model "
                f"parameters must be created explicitly. To express '{name}' as a "
                "function of another Tensor, compute the value in the forward() "
                "method."
            )
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        self._check_name("buffer", name, self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign '{typename(tensor)}' object to buffer '{name}' "
                "(torch Tensor or None required)"
            )
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        if not isinstance(module, Module) and module is not None:
            raise TypeError(f"{typename(module)} is not a Module subclass")
        if not isinstance(name, str):
            raise TypeError(f"module name should be a string. Got {typename(name)}")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        if "." in name:
            raise KeyError(f'module name can\'t contain ".", got: {name}')
        if name == "":
            raise KeyError('module name can\'t be empty string ""')
        self._modules[name] = module

    register_module = add_module

    def __getattr__(self, name: str) -> Any:
        for table in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(table)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        params, modules, buffers = d.get("_parameters"), d.get("_modules"), d.get("_buffers")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._forget(name, d, buffers, modules, d.get("_non_persistent_buffers_set"))
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{typename(value)}' as parameter '{name}' "
                    "(torch.nn.Parameter or None expected)"
                )
            self.register_parameter(name, value)
        elif isinstance(value, Module):
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._forget(name, d, params, buffers, d.get("_non_persistent_buffers_set"))
            modules[name] = value
        elif modules is not None and name in modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{typename(value)}' as child module '{name}' "
                    "(torch.nn.Module or None expected)"
                )
            modules[name] = value
        elif buffers is not None and (name in buffers or hasattr(value, "_buffer_persistent")):
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign '{typename(value)}' as buffer '{name}' "
                    "(torch.nn.Buffer, torch.Tensor or None expected)"
                )
            persistent = getattr(
                value, "_buffer_persistent", name not in self._non_persistent_buffers_set
            )
            self._forget(name, d, params, modules)
            self.register_buffer(name, value, persistent)
        else:
            _note_varying(self, d, name, value)
            object.__setattr__(self, name, value)

    @staticmethod
    def _forget(name: str, *tables: Any) -> None:
        for table in tables:
            if table is not None and name in table:
                table.remove(name) if isinstance(table, set) else table.pop(name)

    def __delattr__(self, name: str) -> None:
        if name in self._parameters:
            del self._parameters[name]
        elif name in self._buffers:
            del self._buffers[name]
            self._non_persistent_buffers_set.discard(name)
        elif name in self._modules:
            del self._modules[name]
        else:
            object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        attrs = set(dir(type(self))) | set(self.__dict__)
        keys = attrs | set(self._parameters) | set(self._modules) | set(self._buffers)
        return sorted(k for k in keys if not k[0].isdigit())

    # ---- traversal --------------------------------------------------------------------------
    def named_modules(
        self, memo: set[Module] | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        memo = set() if memo is None else memo
        if remove_duplicate and self in memo:
            return
        if remove_duplicate:
            memo.add(self)
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                sub = prefix + ("." if prefix else "") + name
                yield from module.named_modules(memo, sub, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen: set[int] = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def _named_members(
        self, table: str, prefix: str, recurse: bool, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Any]]:
        seen: set[int] = set()
        mods = (
            self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
            if recurse
            else [(prefix, self)]
        )
        for mod_prefix, mod in mods:
            for name, value in getattr(mod, table).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield mod_prefix + ("." if mod_prefix else "") + name, value

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> Module:
        mod = self
        for item in target.split(".") if target else []:
            if not hasattr(mod, item):
                raise AttributeError(mod._get_name() + " has no attribute `" + item + "`")
            mod = getattr(mod, item)
            if not isinstance(mod, Module):
                raise AttributeError("`" + item + "` is not an nn.Module")
        return mod

    def _get_leaf(self, target: str, table: str, what: str) -> Any:
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if not hasattr(mod, name):
            raise AttributeError(mod._get_name() + " has no attribute `" + name + "`")
        if name not in getattr(mod, table):
            raise AttributeError("`" + name + "` is not " + what)
        return getattr(mod, name)

    def get_parameter(self, target: str) -> Parameter:
        return self._get_leaf(target, "_parameters", "an nn.Parameter")

    def get_buffer(self, target: str) -> Tensor:
        return self._get_leaf(target, "_buffers", "a buffer")

    def set_submodule(self, target: str, module: Module, strict: bool = False) -> None:
        """Replace (or, unless ``strict``, add) the submodule at a dotted path."""
        if target == "":
            raise ValueError("Cannot set the submodule without a target name!")
        parent_path, _, name = target.rpartition(".")
        if not isinstance(module, Module):
            raise ValueError(f"`module` is not an nn.Module, found {type(module)}")
        parent = self.get_submodule(parent_path)
        if strict and not hasattr(parent, name):
            raise AttributeError(parent._get_name() + " has no attribute `" + name + "`")
        if hasattr(parent, name) and not isinstance(getattr(parent, name), Module):
            raise AttributeError("`" + name + "` is not an nn.Module")
        setattr(parent, name, module)

    # ---- modes and bulk updates -------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for m in self.children():
            m.train(mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if p.grad is None:
                if set_to_none and trace_state.current() is not None:
                    trace_state.set_grad(p, None)  # recorded: the call then starts from None
                continue
            if set_to_none:
                trace_state.set_grad(p, None)
            else:
                p.grad = p.grad.detach()
                p.grad.zero_()

    def apply(self, fn: Callable[[Module], None]) -> Module:
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def _apply(self, fn: Callable[[Tensor], Tensor]) -> Module:
        """Convert every parameter and buffer in place (parameters keep their identity)."""
        return convert(self, fn)

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """``.to(dtype)`` converts floating point state; devices other than the CPU fail."""
        dtype = target_dtype(args, kwargs)
        return self if dtype is None else self._apply(_floating_to(dtype))

    def float(self) -> Module:
        return self._apply(_floating_to(float32))

    def double(self) -> Module:
        return self._apply(_floating_to(float64))

    def half(self) -> Module:
        return self._apply(_floating_to(float16))

    def bfloat16(self) -> Module:
        return self._apply(_floating_to(bfloat16))

    def cpu(self) -> Module:
        return self

    def share_memory(self) -> Module:
        return self._apply(lambda t: t.share_memory_())

    def to_empty(self, *, device: Any, recurse: bool = True) -> Module:
        """Parameters and buffers replaced by uninitialized ones (on the CPU, adjit's only
        device; ``recurse=False`` leaves the submodules' own)."""
        from adjit.runtime.creation import empty_like

        if not recurse:
            raise NotImplementedError("adjit: Module.to_empty(recurse=False) is not supported")
        return self._apply(lambda t: empty_like(t, device=device))

    def cuda(self, device: Any = None) -> Module:
        raise RuntimeError("adjit runs on the CPU only: CUDA is not available")

    def type(self, dst_type: Any) -> Module:
        return self._apply(lambda t: t.to(dst_type))

    # ---- calling ----------------------------------------------------------------------------
    def register_forward_pre_hook(
        self, hook: Callable[..., Any], *, prepend: bool = False, with_kwargs: bool = False
    ) -> RemovableHandle:
        handle = self._add_hook(self._forward_pre_hooks, hook, prepend)
        if with_kwargs:
            self._forward_pre_hooks_with_kwargs[handle.id] = True
        handle._tables = (self._forward_pre_hooks, self._forward_pre_hooks_with_kwargs)
        return handle

    def register_forward_hook(
        self,
        hook: Callable[..., Any],
        *,
        prepend: bool = False,
        with_kwargs: bool = False,
        always_call: bool = False,
    ) -> RemovableHandle:
        handle = self._add_hook(self._forward_hooks, hook, prepend)
        for flag, table in ((with_kwargs, "with_kwargs"), (always_call, "always_called")):
            if flag:
                getattr(self, "_forward_hooks_" + table)[handle.id] = True
        handle._tables = (
            self._forward_hooks,
            self._forward_hooks_with_kwargs,
            self._forward_hooks_always_called,
        )
        return handle

    def register_full_backward_pre_hook(
        self, hook: Callable[..., Any], prepend: bool = False
    ) -> RemovableHandle:
        return self._add_hook(self._backward_pre_hooks, hook, prepend)

    def register_full_backward_hook(
        self, hook: Callable[..., Any], prepend: bool = False
    ) -> RemovableHandle:
        return self._add_hook(self._backward_hooks, hook, prepend)

    def register_state_dict_pre_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        return self._add_hook(self._state_dict_pre_hooks, hook, False)

    def register_state_dict_post_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """``hook(module, state_dict, prefix, local_metadata)``, which must return None."""
        hook._from_public_api = True  # type: ignore[attr-defined]
        return self._add_hook(self._state_dict_hooks, hook, False)

    def _register_state_dict_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """The private post-hook: a result other than None replaces the state dict."""
        if getattr(hook, "_from_public_api", False):
            raise RuntimeError(
                "Cannot register the same function as the state dict post hook that was "
                "previously registered via register_state_dict_post_hook"
            )
        return self._add_hook(self._state_dict_hooks, hook, False)

    def register_load_state_dict_pre_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """``hook(module, state_dict, prefix, metadata, strict, missing, unexpected, errors)``."""
        return self._add_hook(self._load_state_dict_pre_hooks, _WithModule(self, hook), False)

    def _register_load_state_dict_pre_hook(
        self, hook: Callable[..., Any], with_module: bool = False
    ) -> RemovableHandle:
        entry = _WithModule(self, hook) if with_module else hook
        return self._add_hook(self._load_state_dict_pre_hooks, entry, False)

    def register_load_state_dict_post_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        return self._add_hook(self._load_state_dict_post_hooks, hook, False)

    @staticmethod
    def _add_hook(table: OrderedDict, entry: Any, prepend: bool) -> RemovableHandle:
        handle = RemovableHandle(table)
        table[handle.id] = entry
        if prepend:
            table.move_to_end(handle.id, last=False)
        return handle

    def _call_impl(self, *args: Any, **kwargs: Any) -> Any:
        trace = trace_state.current()
        if trace is not None:
            trace.note_module(self)  # its ``training`` flag becomes a guard of the compiled code
            call = getattr(trace, "call_module", None)  # Note [module call templates]
            if call is not None:
                return call(self, args, kwargs, _forward)
        return _forward(self, args, kwargs)

    _compile_unguarded: frozenset[str] = frozenset()  # (see _compile_guard)

    def _compile_guard(self) -> tuple:
        """What a compiled call of this module assumes (frontend/compile.py module_guard):
        the training flag and the hooks, its own and the global ones; and the values of the
        Python number (bool, string, None) attributes ever set to another value: a trace read
        them as constants (``self.scale``, a Dropout's ``p``), so ``m.scale = 3.0`` traces
        again instead of computing with the old value (and setting it back finds the first
        trace)."""
        return (
            self.training,
            tuple(self._forward_pre_hooks),
            tuple(self._forward_hooks),
            tuple(self._backward_pre_hooks),
            tuple(self._backward_hooks),
            _hooks.global_hook_ids(),
            tuple(map(id, self._parameters.values())),  # a parameter or buffer swapped in
            tuple(map(id, self._buffers.values())),  # (m.weight = ...) traces again
            tuple(self.__dict__[n] for n in self.__dict__.get("_plain_varying", ())),
        )

    _compiled_call_impl: Any = None  # set by compile(): calls run it instead

    def _wrapped_call_impl(self, *args: Any, **kwargs: Any) -> Any:
        compiled = self._compiled_call_impl
        if compiled is not None:
            return compiled(*args, **kwargs)
        return self._call_impl(*args, **kwargs)

    __call__ = _wrapped_call_impl

    def compile(self, *args: Any, **kwargs: Any) -> None:
        """Compile this module's ``__call__`` in place with ``adjit.compile(*args, **kwargs)``."""
        from adjit.frontend.surface import compile

        self._compiled_call_impl = compile(self._call_impl, *args, **kwargs)

    def _forward_unimplemented(self, *input: Any) -> None:
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function'
        )

    forward = _forward_unimplemented

    # ---- state_dict (adjit/nn/_state_dict.py) -----------------------------------------------
    T_destination = TypeVar("T_destination", bound=dict[str, Any])
    dump_patches: bool = False

    def state_dict(
        self, *args: Any, destination: Any = None, prefix: str = "", keep_vars: bool = False
    ) -> Any:
        """Parameters, persistent buffers and extra state by dotted name, with ``_metadata``."""
        return _sd.state_dict(self, args, destination, prefix, keep_vars)

    def _save_to_state_dict(self, destination: Any, prefix: str, keep_vars: bool) -> None:
        _sd.save_to_state_dict(self, destination, prefix, keep_vars)

    def _load_from_state_dict(
        self,
        state_dict: Any,
        prefix: str,
        local_metadata: dict[str, Any],
        strict: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        _sd.load_from_state_dict(
            self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
            error_msgs,
        )  # fmt: skip

    def load_state_dict(
        self, state_dict: Any, strict: bool = True, assign: bool = False
    ) -> _IncompatibleKeys:
        """Copy (or with ``assign`` set) matching entries; report (or, if ``strict``, raise
        on) mismatches."""
        return _sd.load_state_dict(self, state_dict, strict, assign)

    def get_extra_state(self) -> Any:
        raise _sd._never("get_extra_state")

    def set_extra_state(self, state: Any) -> None:
        raise _sd._never("set_extra_state")

    # ---- printing ---------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({key}): " + _addindent(repr(m), 2) for key, m in self._modules.items()]
        lines = extra_lines + child_lines
        body = ""
        if len(extra_lines) == 1 and not child_lines:
            body = extra_lines[0]
        elif lines:
            body = "\n  " + "\n  ".join(lines) + "\n"
        return self._get_name() + "(" + body + ")"
