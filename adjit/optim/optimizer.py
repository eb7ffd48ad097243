"""``Optimizer``: parameter groups, per-parameter state, hooks, zero_grad and (de)serialization."""

from __future__ import annotations

import functools
import warnings
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from copy import deepcopy
from itertools import chain
from typing import Any

from adjit.nn._module_state import RemovableHandle
from adjit.runtime import trace_state
from adjit.runtime.grad_mode import enable_grad, set_grad_enabled
from adjit.runtime.tensor import Tensor
from adjit.runtime.trace_state import TracingError


class _RequiredParameter:
    """Marks a default that every parameter group must set (e.g. a required ``lr``)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()

_global_pre_hooks: OrderedDict[int, Callable[..., Any]] = OrderedDict()
_global_post_hooks: OrderedDict[int, Callable[..., Any]] = OrderedDict()


def register_optimizer_step_pre_hook(hook: Callable[..., Any]) -> RemovableHandle:
    """A pre hook run before every optimizer's ``step``: ``hook(opt, args, kwargs)``."""
    handle = RemovableHandle(_global_pre_hooks)
    _global_pre_hooks[handle.id] = hook
    return handle


def register_optimizer_step_post_hook(hook: Callable[..., Any]) -> RemovableHandle:
    """A post hook run after every optimizer's ``step``: ``hook(opt, args, kwargs)``."""
    handle = RemovableHandle(_global_post_hooks)
    _global_post_hooks[handle.id] = hook
    return handle


def _typename(obj: Any) -> str:
    from adjit.nn.module import typename

    return typename(obj)


def _with_step_hooks(step: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a ``step`` so the global and per-optimizer pre/post hooks run around it."""

    @functools.wraps(step)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        self = args[0]
        if trace_state.current() is not None:
            _refuse_traced_hooks(self)
            _refuse_custom_step(self, step)
        for pre_hook in chain(_global_pre_hooks.values(), self._optimizer_step_pre_hooks.values()):
            result = pre_hook(self, args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError(
                        f"{step} must return None or a tuple of (new_args, new_kwargs), "
                        f"but got {result}."
                    )
                args, kwargs = result
        out = step(*args, **kwargs)
        for post_hook in chain(
            self._optimizer_step_post_hooks.values(), _global_post_hooks.values()
        ):
            post_hook(self, args, kwargs)
        return out

    wrapper.hooked = True  # type: ignore[attr-defined]
    return wrapper


def _refuse_traced_hooks(opt: Any) -> None:
    """Note [step hooks while tracing]: a pre/post step hook is arbitrary Python (a counter, a
    log line, a gradient rescale); traced, it would run once while tracing and never again on
    the later calls, while its tensor work would replay. Neither half alone is the hook, so a
    step inside a compiled function refuses when any hook is registered."""
    hooks = chain(
        _global_pre_hooks.values(),
        _global_post_hooks.values(),
        opt._optimizer_step_pre_hooks.values(),
        opt._optimizer_step_post_hooks.values(),
    )
    if next(hooks, None) is not None:
        raise TracingError(
            f"{type(opt).__name__}.step() inside a compiled function with step hooks "
            "registered is not supported: the hooks would run only once, while tracing; "
            "call opt.step() outside the compiled function, or remove the hooks"
        )


def _refuse_custom_step(opt: Any, step: Callable[..., Any]) -> None:
    """A ``step`` written outside adjit (the usual custom optimizer) traced inside a compiled
    function would keep what its first call saw: the learning rate, Python counters in
    ``state``, and state tensors it makes (left holding traced values). adjit's own step
    guards and replays those (Note [traced training steps] in frontend/writes.py); a custom
    one refuses instead."""
    if not step.__module__.startswith("adjit."):
        raise TracingError(
            f"{type(opt).__name__}.step() inside a compiled function is not supported: it "
            "overrides Optimizer.step, so its learning rate, Python state and new state "
            "tensors would keep the values of the traced call; call it outside the compiled "
            "function, or define the per-parameter _init_state/_update_eager/_update_traced "
            "instead of step"
        )


_HOOK_TABLES = (
    "_optimizer_step_pre_hooks",
    "_optimizer_step_post_hooks",
    "_optimizer_state_dict_pre_hooks",
    "_optimizer_state_dict_post_hooks",
    "_optimizer_load_state_dict_pre_hooks",
    "_optimizer_load_state_dict_post_hooks",
)


_NO_SPARSE = "does not support sparse gradients"
_SPARSE_REFUSALS = {  # PyTorch's words where they differ from "<name> does not support ..."
    "Adam": f"Adam {_NO_SPARSE}, please consider SparseAdam instead",
    "AdamW": f"Adam {_NO_SPARSE}, please consider SparseAdam instead",
}


class Optimizer:
    """Base class: subclasses define ``_update`` (one parameter) or override ``step``."""

    # Note [capturable on CPU]: PyTorch accepts ``capturable=True`` at construction and fails
    # in ``step`` because CPU tensors cannot be graph-captured; these name what its message lists.
    _capturable_what = "params and state_steps"
    _capturable_devices = "['cuda', 'xpu', 'hpu', 'privateuseone', 'xla']"
    _sparse_grads = False  # whether ``_update`` takes sparse gradients (SGD's does)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "step" in cls.__dict__ and not getattr(cls.__dict__["step"], "hooked", False):
            cls.step = _with_step_hooks(cls.__dict__["step"])  # type: ignore[method-assign]

    def __init__(self, params: Any, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        for name in _HOOK_TABLES:
            setattr(self, name, OrderedDict())
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of "
                f"Tensors or dicts, but got {_typename(params)}"
            )
        self.state: defaultdict[Any, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        groups = list(params)
        if len(groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __getstate__(self) -> dict[str, Any]:
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    # 0-d state that PyTorch's ``__setstate__`` turns back into tensors when a checkpoint holds
    # a plain number (older PyTorch saved ``step`` as an int)
    _scalar_state: tuple[str, ...] = ("step",)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        for name in _HOOK_TABLES:
            self.__dict__.setdefault(name, OrderedDict())
        self.defaults.setdefault("differentiable", False)
        from adjit.optim._ops import scalar

        for group in self.param_groups:
            fused = group.get("fused") or group.get("capturable")
            for p in group["params"]:
                p_state = self.state.get(p, {})
                for key in self._scalar_state if p_state else ():
                    if key in p_state and not isinstance(p_state[key], Tensor):
                        p_state[key] = scalar(float(p_state[key]), fused and key == "step")

    def __repr__(self) -> str:
        s = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            s += f"\nParameter Group {i}\n"
            for key in sorted(group):
                if key != "params":
                    s += f"    {key}: {group[key]}\n"
        return s + ")"

    # ---- parameter groups -------------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, "
                "but the ordering of tensors in sets will change between runs. Please "
                "use a list instead."
            )
        params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        param_group["params"] = params
        if names:
            if len(names) != len(params):
                raise ValueError(
                    "all optimizer params should be with/without names. Some param names are "
                    "missing"
                )
            param_group["param_names"] = names
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(
                    "optimizer can only optimize Tensors, but one of the params is " + _typename(p)
                )
            if not self.defaults.get("differentiable", None) and not (p.is_leaf or p.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(
                    "parameter group didn't specify a value of required "
                    f"optimization parameter {name}"
                )
            param_group.setdefault(name, default)
        if len({id(p) for p in params}) != len(params):
            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters; "
                "in future, this will cause an error; "
                "see github.com/pytorch/pytorch/issues/40967 for more information",
                stacklevel=3,
            )
        for group in self.param_groups:
            if ("param_names" in param_group) != ("param_names" in group):
                txt = "with names" if "param_names" in param_group else "without names"
                raise ValueError(
                    "all optimizer param groups should be with/without names. "
                    f"cannot add param group {txt} to the optimizer"
                )
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if existing & {id(p) for p in params}:
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    if set_to_none and trace_state.current() is not None:
                        trace_state.set_grad(p, None)  # recorded: the call then starts from None
                    continue
                if set_to_none:
                    trace_state.set_grad(p, None)
                else:
                    if p.grad.grad_fn is not None:
                        p.grad = p.grad.detach()
                    else:
                        p.grad.requires_grad_(False)
                    p.grad.zero_()

    # ---- hooks ------------------------------------------------------------------------------
    def _register(self, table: str, hook: Callable[..., Any], prepend: bool = False) -> Any:
        hooks: OrderedDict[int, Any] = getattr(self, table)
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        return handle

    def register_step_pre_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        return self._register("_optimizer_step_pre_hooks", hook)

    def register_step_post_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        return self._register("_optimizer_step_post_hooks", hook)

    def register_state_dict_pre_hook(self, hook: Any, prepend: bool = False) -> RemovableHandle:
        return self._register("_optimizer_state_dict_pre_hooks", hook, prepend)

    def register_state_dict_post_hook(self, hook: Any, prepend: bool = False) -> RemovableHandle:
        return self._register("_optimizer_state_dict_post_hooks", hook, prepend)

    def register_load_state_dict_pre_hook(
        self, hook: Any, prepend: bool = False
    ) -> RemovableHandle:
        return self._register("_optimizer_load_state_dict_pre_hooks", hook, prepend)

    def register_load_state_dict_post_hook(
        self, hook: Any, prepend: bool = False
    ) -> RemovableHandle:
        return self._register("_optimizer_load_state_dict_post_hooks", hook, prepend)

    # ---- the step ---------------------------------------------------------------------------
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Evaluate ``closure`` (if any) with grad enabled, then update every parameter (with
        grad mode on only for ``differentiable=True``, as PyTorch)."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        hypers = self._begin_traced_step() if trace_state.current() is not None else []
        try:
            self._step_groups()
        finally:
            for group, key, value in hypers:
                group[key] = value
        return loss

    def _step_groups(self) -> None:
        with set_grad_enabled(bool(self.defaults.get("differentiable", False))):
            for group in self.param_groups:
                with_grad = [p for p in group["params"] if p.grad is not None]
                self._begin_group(group, with_grad)
                for p in with_grad:
                    if getattr(p.grad, "is_sparse", False) and not self._sparse_grads:
                        name = type(self).__name__
                        raise RuntimeError(_SPARSE_REFUSALS.get(name, f"{name} {_NO_SPARSE}"))
                    self._init_state(p, group, self.state[p])
                if group.get("capturable") and with_grad:
                    raise AssertionError(
                        f"If capturable=True, {self._capturable_what} must be on supported "
                        f"devices: {self._capturable_devices}."
                    )
                for p in with_grad:
                    self._step_param(p, group)

    def _step_param(self, p: Tensor, group: dict[str, Any]) -> None:
        """One parameter's update, its state made first (``_init_state``, by the caller)."""
        state = self.state[p]
        if p.is_complex():
            self._update_complex(p, group, state)
        else:
            self._update(p, p.grad, group, state)
        if not state:  # keep ``state`` free of empty entries, as PyTorch's is
            del self.state[p]

    # hyper-parameters a traced step reads at run time (a schedule changes them every step):
    # during the traced step the group holds a 0-d float64 tensor read afresh at each call
    RUN_TIME_HYPERS = ("lr",)

    def _begin_traced_step(self) -> list[tuple[dict[str, Any], str, Any]]:
        """A step inside a compiled function (Note [traced training steps] in
        frontend/writes.py): first-step state is made eagerly, once, exactly as the eager step
        would make it; the trace then guards this optimizer's other hyper-parameters and its
        state. Returns the swapped-in run-time hyper-parameters, to put back afterwards."""
        with trace_state.paused():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None and not p.is_complex():
                        self._init_state(p, group, self.state[p])
        trace = trace_state.current()
        trace.note_optimizer(self, self._trace_signature())
        swapped = []
        for group in self.param_groups:
            for key in self.RUN_TIME_HYPERS:
                value = group.get(key)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    swapped.append((group, key, value))
                    group[key] = trace.lift_hyper(group, key)
        return swapped

    def _trace_signature(self) -> tuple:
        """What a traced step bakes in: each group's Python hyper-parameters, and which state
        each parameter has (tensors by identity, Python values by value)."""
        skip = ("params", *self.RUN_TIME_HYPERS)
        groups = tuple(
            tuple((k, id(v) if isinstance(v, Tensor) else v) for k, v in g.items() if k not in skip)
            for g in self.param_groups
        )
        state = tuple(
            (id(p), tuple((k, id(v) if isinstance(v, Tensor) else v) for k, v in s.items()))
            for p, s in self.state.items()
            if s  # (a traced step's first pass may leave empty entries the step removes)
        )
        return groups, state

    def _update_complex(self, p: Tensor, group: dict[str, Any], state: dict[str, Any]) -> None:
        """A complex parameter steps as its real view (``torch.view_as_real``), state included,
        as PyTorch's optimizers do; state made during the step is stored complex again."""
        from adjit.runtime.functional import view_as_complex, view_as_real

        views = {
            k: view_as_real(v) if isinstance(v, Tensor) and v.is_complex() else v
            for k, v in state.items()
        }
        before = dict(views)
        self._update(view_as_real(p), view_as_real(p.grad), group, views)
        for k, v in views.items():
            if before.get(k) is not v:
                made_real = isinstance(v, Tensor) and v.shape == (*p.shape, 2)
                state[k] = view_as_complex(v) if made_real else v

    def _begin_group(self, group: dict[str, Any], with_grad: list[Tensor]) -> None:
        """Per-group set-up before the parameters' updates (none by default)."""

    def _init_state(self, p: Tensor, group: dict[str, Any], state: dict[str, Any]) -> None:
        """Create a parameter's state on its first step (PyTorch's ``_init_group``)."""

    def _update(
        self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        """One parameter's step: on its arrays in place when they allow it (Note [in-place
        updates] in sgd.py), else through eager ops. Optimizers define both forms, or
        override this."""
        if trace_state.current() is not None:
            return self._update_traced(p, grad, group, state)
        arrays = (
            not group.get("differentiable")
            and not isinstance(group["lr"], Tensor)
            and grad._data.dtype == p._data.dtype
            and p._data.flags.writeable
        )
        (self._update_arrays if arrays else self._update_eager)(p, grad, group, state)

    def _update_arrays(
        self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        raise NotImplementedError

    def _update_eager(
        self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        raise NotImplementedError

    def _update_traced(
        self, p: Tensor, grad: Tensor, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        """The step inside a compiled function: tensor ops only (no ``.item()`` of state).
        Optimizers whose eager step reads no data use it as is."""
        raise TracingError(
            f"{type(self).__name__}.step() inside a compiled function is not supported: it "
            "defines no traced update (_update_traced); call it outside the compiled function"
        )

    # ---- serialization ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """PyTorch's format: ``{"state": {index: state}, "param_groups": [...]}`` with each
        group's parameters as indices (state tensors are shared, not copied)."""
        for pre_hook in self._optimizer_state_dict_pre_hooks.values():
            pre_hook(self)
        mapping: dict[int, int] = {}
        start = 0
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                mapping.setdefault(id(p), i)
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            start += len(packed["params"])
            groups.append(packed)
        state = {(mapping[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        state_dict: dict[str, Any] = {"state": state, "param_groups": groups}
        for post_hook in self._optimizer_state_dict_post_hooks.values():
            result = post_hook(self, state_dict)
            if result is not None:
                state_dict = result
        return state_dict

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state_dict = state_dict.copy()
        for pre_hook in self._optimizer_load_state_dict_pre_hooks.values():
            result = pre_hook(self, state_dict)
            if result is not None:
                state_dict = result
        groups = self.param_groups
        saved = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved, strict=True)):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match "
                "the size of optimizer's group"
            )
        id_map = dict(
            zip(
                chain.from_iterable(s["params"] for s in saved),
                chain.from_iterable(g["params"] for g in groups),
                strict=True,
            )
        )
        state: defaultdict[Any, dict[str, Any]] = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                flags = _group_flags(k, state_dict["param_groups"])
                state[id_map[k]] = _cast(id_map[k], v, flags)
            else:
                state[k] = v
        for g, s in zip(groups, saved, strict=True):
            s["params"] = g["params"]
            if "param_names" in g and "param_names" not in s:
                s["param_names"] = g["param_names"]
        self.__setstate__({"state": state, "param_groups": saved})
        for post_hook in self._optimizer_load_state_dict_post_hooks.values():
            post_hook(self)


def _group_flags(param_id: int, groups: list[dict[str, Any]]) -> bool:
    """Whether the saved group holding ``param_id`` is fused or capturable."""
    for g in groups:
        if param_id in g["params"]:
            return bool(g.get("fused", False) or g.get("capturable", False))
    return False


def _cast(param: Tensor, value: Any, fused_or_capturable: bool, key: Any = None) -> Any:
    """PyTorch's load policy: floating state follows the parameter's dtype, except ``step``
    (kept as saved unless fused/capturable, then float32); containers are rebuilt."""
    if isinstance(value, Tensor):
        if key == "step":
            return value.to(dtype=_float32()) if fused_or_capturable else value
        return value.to(dtype=param.dtype) if param.is_floating_point() else value
    if isinstance(value, dict):
        return {k: _cast(param, v, fused_or_capturable, k) for k, v in value.items()}
    if isinstance(value, Iterable) and not isinstance(value, str):
        return type(value)(_cast(param, v, fused_or_capturable) for v in value)  # type: ignore[call-arg]
    return value


def _float32() -> Any:
    from adjit.ir.dtypes import float32

    return float32


Optimizer.step = _with_step_hooks(Optimizer.step)  # type: ignore[method-assign]
