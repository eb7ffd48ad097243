"""``torch.jit.trace``: run once on the example inputs, then run the code on every call."""

from __future__ import annotations

import warnings
from typing import Any

from adjit.jit._script import ScriptFunction, ScriptModule, _wrap
from adjit.jit._state import deprecated, running
from adjit.nn.module import Module
from adjit.runtime.tensor import Tensor

__all__ = ["TopLevelTracedModule", "TracedModule", "TracerWarning", "trace", "trace_module"]


class TracerWarning(Warning):
    """PyTorch's warning about a trace that may not generalize (adjit recomputes eagerly)."""

    @staticmethod
    def ignore_lib_warnings() -> None:
        warnings.filterwarnings("ignore", category=TracerWarning, module="torch.(?!jit)")


class TracedModule(ScriptModule):
    """A traced submodule: its parameters and buffers shared, calls run ``forward`` with
    ``is_tracing()`` True (Note [jit runs eagerly])."""

    original_name: str

    def extra_repr(self) -> str:
        return f"original_name={self.original_name}"

    def _get_name(self) -> str:
        return self.original_name

    def _call_impl(self, *args: Any, **kwargs: Any) -> Any:
        with running("tracing"):
            return super()._call_impl(*args, **kwargs)


class TopLevelTracedModule(TracedModule):
    """What ``torch.jit.trace(module, ...)`` returns."""


_CANNOT = "Only Tensors and (possibly nested) Lists, Dicts, and Tuples of Tensors can be traced"


def _type_name(value: Any) -> str:
    """TorchScript's name of an input's type: ``Tensor``, ``Tuple[Tensor, int]``, ..."""
    if isinstance(value, Tensor):
        return "Tensor"
    if isinstance(value, tuple):
        return f"Tuple[{', '.join(_type_name(v) for v in value)}]"
    if isinstance(value, list):
        names = list(dict.fromkeys(_type_name(v) for v in value))
        if len(names) > 1:
            raise _InconsistentList(names)
        return f"List[{names[0] if names else 'Tensor'}]"
    if isinstance(value, dict):
        values = [_type_name(v) for v in value.values()]
        keys = [_type_name(k) for k in value]
        return f"Dict[{keys[0] if keys else 'str'}, {values[0] if values else 'Tensor'}]"
    return type(value).__name__


class _InconsistentList(Exception):
    def __init__(self, names: list[str]) -> None:
        self.names = names


def _traceable(value: Any) -> bool:
    if isinstance(value, Tensor):
        return True
    if isinstance(value, tuple | list):
        return all(_traceable(v) for v in value)
    if isinstance(value, dict):
        return all(_traceable(v) for v in value.values())
    return False


def _check_inputs(inputs: tuple[Any, ...]) -> None:
    try:
        name = _type_name(inputs)
    except _InconsistentList as e:
        found = " and ".join(e.names[:2])
        raise RuntimeError(
            f"Tracer cannot infer type of {inputs}\n:List inputs to traced functions must have "
            f"consistent element type. Found {found}"
        ) from None
    if not _traceable(inputs):
        raise RuntimeError(f"Type '{name}' cannot be traced. {_CANNOT}")


def _check_output(out: Any, strict: bool) -> None:
    if out is None:
        raise RuntimeError(
            "The traced function didn't return any values! Side-effects are not captured in "
            "traces, so it would be a no-op."
        )
    if isinstance(out, dict) and strict:
        raise RuntimeError(
            "Encountering a dict at the output of the tracer might cause the trace to be "
            "incorrect, this is only valid if the container structure does not change based "
            "on the module's inputs. Consider using a constant container instead (e.g. for "
            "`list`, use a `tuple` instead. for `dict`, use a `NamedTuple` instead). If you "
            "absolutely need this and know the side effects, pass strict=False to trace() to "
            "allow this behavior."
        )
    if not _traceable(out):
        raise RuntimeError(
            "Only tensors, lists, tuples of tensors, or dictionary of tensors can be output "
            "from traced functions"
        )


def _as_tuple(example_inputs: Any) -> tuple[Any, ...]:
    return (example_inputs,) if isinstance(example_inputs, Tensor) else tuple(example_inputs)


def _traced_child(module: Module) -> Module:
    if isinstance(module, ScriptModule):
        return module
    return _wrap(module, TracedModule, _traced_child)


def trace_module(
    mod: Module,
    inputs: dict[str, Any],
    optimize: Any = None,
    check_trace: bool = True,
    check_inputs: Any = None,
    check_tolerance: float = 1e-5,
    strict: bool = True,
    _force_outplace: bool = False,
    _module_class: Any = None,
    _compilation_unit: Any = None,
    example_inputs_is_kwarg: bool = False,
    _store_inputs: bool = True,
) -> Module:
    """Run each named method of ``mod`` once on its example inputs; return the traced module."""
    deprecated("trace_method", switch=True)  # (sic: PyTorch's name in this warning)
    if not isinstance(mod, Module):
        raise AttributeError("expected torch.nn.Module as the first argument")
    if not isinstance(inputs, dict):
        raise AttributeError("expected a dictionary of (method_name, input) pairs")
    traced = _wrap(mod, TopLevelTracedModule, _traced_child)
    for method, example in inputs.items():
        with running("tracing"):
            if example_inputs_is_kwarg:
                _check_inputs(tuple(example.values()))
                out = getattr(traced, method)(**example)
            else:
                args = _as_tuple(example)
                _check_inputs(args)
                out = getattr(traced, method)(*args)
        _check_output(out, strict)
    return traced


def trace(
    func: Any,
    example_inputs: Any = None,
    optimize: Any = None,
    check_trace: bool = True,
    check_inputs: Any = None,
    check_tolerance: float = 1e-5,
    strict: bool = True,
    _force_outplace: bool = False,
    _module_class: Any = None,
    _compilation_unit: Any = None,
    example_kwarg_inputs: dict[str, Any] | None = None,
    _store_inputs: bool = True,
) -> Any:
    """Run ``func`` once on ``example_inputs`` (checked as PyTorch checks them) and return a
    traced module or function that runs the code on every call (Note [jit runs eagerly])."""
    deprecated("trace", switch=True)
    if isinstance(func, ScriptModule | ScriptFunction):
        warnings.warn(
            "The input to trace is already a ScriptModule, tracing it is a no-op. Returning the "
            "object as is.",
            stacklevel=2,
        )
        return func
    kwarg = example_kwarg_inputs is not None
    if isinstance(func, Module):
        example = example_kwarg_inputs if kwarg else example_inputs
        return trace_module(func, {"forward": example}, None, check_trace, check_inputs,
                            check_tolerance, strict, example_inputs_is_kwarg=kwarg)  # fmt: skip
    if kwarg and not isinstance(example_kwarg_inputs, dict):
        raise TypeError("example_kwarg_inputs should be a dict")
    with running("tracing"):
        if kwarg:
            assert example_kwarg_inputs is not None
            _check_inputs(tuple(example_kwarg_inputs.values()))
            out = func(**example_kwarg_inputs)
        else:
            args = _as_tuple(example_inputs)
            _check_inputs(args)
            out = func(*args)
    _check_output(out, strict)
    return ScriptFunction(func, flag="tracing")
