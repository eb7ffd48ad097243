"""``torch.jit.script`` and ``freeze``: objects that run the original code eagerly."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

from adjit.jit._state import deprecated, no_program, running
from adjit.nn.module import Module

__all__ = ["RecursiveScriptModule", "ScriptFunction", "ScriptModule", "freeze", "script"]


class ScriptModule(Module):
    """The base of scripted and traced modules: an ``nn.Module`` whose TorchScript program
    adjit does not have (``.graph``, ``.code``, ``save`` refuse)."""

    @property
    def graph(self) -> Any:
        raise no_program("ScriptModule.graph")

    @property
    def inlined_graph(self) -> Any:
        raise no_program("ScriptModule.inlined_graph")

    @property
    def code(self) -> Any:
        raise no_program("ScriptModule.code")

    @property
    def code_with_constants(self) -> Any:
        raise no_program("ScriptModule.code_with_constants")

    def save(self, f: Any, **kwargs: Any) -> None:
        raise no_program("ScriptModule.save")

    def _save_for_lite_interpreter(self, *args: Any, **kwargs: Any) -> None:
        raise no_program("ScriptModule._save_for_lite_interpreter")


class RecursiveScriptModule(ScriptModule):
    """What ``torch.jit.script(module)`` returns: the module's parameters and buffers (shared,
    as PyTorch shares them), its attributes, and its children scripted in turn; calls run the
    original class's ``forward`` with ``is_scripting()`` True."""

    original_name: str

    def extra_repr(self) -> str:
        return f"original_name={self.original_name}"

    def __repr__(self) -> str:
        if self.__dict__.get("_frozen", False):  # PyTorch inlines a frozen module's children
            return f"RecursiveScriptModule({self.extra_repr()})"
        return super().__repr__()

    def _call_impl(self, *args: Any, **kwargs: Any) -> Any:
        with running("scripting"):
            return super()._call_impl(*args, **kwargs)


@functools.cache
def _script_class(base: type, cls: type) -> type:
    """``base`` before the original class in the MRO: its methods (``super()`` included) run
    on the wrapper, its printing and the missing-program refusals come from ``base``."""
    return type(base.__name__, (base, cls), {"__module__": base.__module__})


_TABLES = ("_parameters", "_buffers", "_non_persistent_buffers_set")


def _wrap(module: Module, base: type, children: Callable[[Module], Module]) -> Module:
    """A ``base`` wrapper of ``module``: its tables shared, other attributes copied, hook tables
    copied (hooks registered later are the wrapper's own), children through ``children``."""
    cls = type(module) if isinstance(module, base) else _script_class(base, type(module))
    out = object.__new__(cls)
    d = out.__dict__
    for key, value in module.__dict__.items():
        shared = key in _TABLES or not isinstance(value, dict)
        d[key] = value if shared else type(value)(value)
    d["_modules"] = {k: None if m is None else children(m) for k, m in module._modules.items()}
    d.setdefault("original_name", type(module).__name__)
    d["_compiled_call_impl"] = None
    return out


def _script_module(module: Module) -> Module:
    if isinstance(module, ScriptModule):
        return module
    return _wrap(module, RecursiveScriptModule, _script_module)


class ScriptFunction:
    """What ``torch.jit.script(fn)`` and ``torch.jit.trace(fn, ...)`` return: calls run ``fn``
    with ``is_scripting()`` (or ``is_tracing()``) True (Note [jit runs eagerly])."""

    def __init__(self, fn: Callable[..., Any], flag: str = "scripting") -> None:
        self._fn = fn
        self._flag = flag
        self.name = getattr(fn, "__name__", type(fn).__name__)
        module = getattr(fn, "__module__", None)
        prefix = "" if module in (None, "__main__") else f"{module}."
        self.qualified_name = f"__torch__.{prefix}{self.name}"
        functools.update_wrapper(self, fn, assigned=("__doc__",), updated=())

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with running(self._flag):
            return self._fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<torch.jit.torch.jit.ScriptFunction object at {hex(id(self))}>"  # (sic)

    @property
    def graph(self) -> Any:
        raise no_program("ScriptFunction.graph")

    @property
    def inlined_graph(self) -> Any:
        raise no_program("ScriptFunction.inlined_graph")

    @property
    def code(self) -> Any:
        raise no_program("ScriptFunction.code")

    @property
    def schema(self) -> Any:
        raise no_program("ScriptFunction.schema")

    def save(self, f: Any, **kwargs: Any) -> None:
        raise no_program("ScriptFunction.save")


def script(
    obj: Any,
    optimize: Any = None,
    _frames_up: int = 0,
    _rcb: Any = None,
    example_inputs: Any = None,
) -> Any:
    """A module becomes a RecursiveScriptModule, a function a ScriptFunction; a plain class or
    an enum is returned as it is (it runs as Python). Nothing is compiled: TorchScript's
    static checks are not made (Note [jit runs eagerly])."""
    deprecated("script", switch=True)
    if optimize is not None:
        warnings.warn(
            "`optimize` is deprecated and has no effect. "
            "Use `with torch.jit.optimized_execution()` instead",
            FutureWarning,
            stacklevel=2,
        )
    if isinstance(obj, ScriptModule | ScriptFunction):
        return obj
    if isinstance(obj, Module):
        return _script_module(obj)
    if isinstance(obj, type):
        if issubclass(obj, Module):
            raise RuntimeError(
                f"Type '{obj}' cannot be compiled since it inherits from nn.Module, "
                "pass an instance instead"
            )
        if obj.__module__ == "builtins":
            raise RuntimeError(
                "TorchScript classes must be new-style classes. Please inherit from 'object'."
            )
        return obj
    if not callable(obj):
        raise TypeError(f"{type(obj)} is a built-in class")
    return ScriptFunction(obj)


def _freeze_module(module: Module) -> Module:
    """Parameters and buffers as detached aliases (constants): no parameters, no state_dict,
    as PyTorch's frozen module (whose children are inlined; here they stay, unprinted, since
    containers such as Sequential iterate them)."""
    out = _wrap(module, RecursiveScriptModule, _freeze_module)
    d = out.__dict__
    for name, t in (*module._parameters.items(), *module._buffers.items()):
        d[name] = None if t is None else t.detach()  # PyTorch's constants alias the weights
    d["_parameters"], d["_buffers"] = {}, {}
    d["_non_persistent_buffers_set"] = set()
    d["_frozen"] = True
    return out


def freeze(
    mod: Any, preserved_attrs: list[str] | None = None, optimize_numerics: bool = True
) -> Any:
    """A frozen copy of a scripted module in eval mode: its weights become constants that
    still alias the original's storage (an in-place update reaches it, as in PyTorch)."""
    deprecated("freeze")
    if not isinstance(mod, ScriptModule):
        raise RuntimeError(
            "Freezing expects a ScriptModule as input. "
            "Please use torch.jit.script or torch.jit.trace to script your 'nn.Module'."
        )
    if mod.training:
        raise RuntimeError(
            "Freezing is currently only implemented for modules in eval mode. "
            "Please call .eval() on your module before freezing."
        )
    return _freeze_module(mod)


def optimize_for_inference(mod: Any, other_methods: list[str] | None = None) -> Any:
    """``freeze`` (in eval mode); the graph optimizations it would run have no eager meaning."""
    deprecated("optimize_for_inference")
    if not isinstance(mod, ScriptModule):
        raise RuntimeError(
            "optimize_for_inference expects a ScriptModule as input. "
            "Please use torch.jit.script or torch.jit.trace to script your 'nn.Module'."
        )
    if not mod.__dict__.get("_frozen", False):
        mod = freeze(mod.eval())
    return mod


def script_method(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The legacy ``ScriptModule`` subclass decorator: the method runs as written."""
    return fn
