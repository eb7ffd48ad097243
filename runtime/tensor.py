"""The Tensor users hold: NumPy-backed data, PyTorch's API, and autograd state."""

from __future__ import annotations

import builtins
import weakref
from collections.abc import Callable, Sequence
from math import prod
from typing import Any

import numpy as np

from ..ir import dtypes as D
from ..ir.aval import Aval
from ..ir.dtypes import DType
from ..ir.ops import Op
from ..ir.shapes import norm_axis
from ..ir.sizes import SymbolicSize, as_size
from . import trace_state
from .grad_access import check_assigned_grad, warn_non_leaf_grad
from .grad_mode import InferenceBox, is_inference, outside_inference
from .grad_mode import _state as _grad_state

_LEGACY_NAMES = {  # PyTorch's legacy tensor type names (Tensor.type())
    "float32": "torch.FloatTensor",
    "float64": "torch.DoubleTensor",
    "int64": "torch.LongTensor",
    "bool": "torch.BoolTensor",
    "int32": "torch.IntTensor",
    "uint8": "torch.ByteTensor",
    "int8": "torch.CharTensor",
    "int16": "torch.ShortTensor",
    "float16": "torch.HalfTensor",
    "bfloat16": "torch.BFloat16Tensor",
    "complex64": "torch.ComplexFloatTensor",
    "complex128": "torch.ComplexDoubleTensor",
}


class Size(tuple):
    """A tensor's shape: a tuple that prints as ``torch.Size([2, 3])``."""

    def __new__(cls, sizes: Any = ()) -> Size:
        items = tuple(sizes)
        if all(type(v) is int for v in items):
            return tuple.__new__(cls, items)
        return tuple.__new__(cls, tuple(_size_item(v, k) for k, v in enumerate(items)))

    def __repr__(self) -> str:
        items = [v if type(v) is int or isinstance(v, SymbolicSize) else int(v) for v in self]
        return f"torch.Size({items})"

    def numel(self) -> int:
        return prod(self)

    # slices, sums and repeats stay Sizes, as PyTorch's (tuple's own would be plain tuples)
    def __getitem__(self, index: Any) -> Any:
        out = tuple.__getitem__(self, index)
        return tuple.__new__(Size, out) if isinstance(index, slice) else out

    def __add__(self, other: Any) -> Size:
        if not isinstance(other, tuple):
            raise TypeError(
                f"can only concatenate tuple (not {type(other).__name__}) to torch.Size"
            )
        return Size(tuple.__add__(self, other))  # (other's items checked)

    def __radd__(self, other: Any) -> Size:
        if not isinstance(other, tuple):
            return NotImplemented
        return Size(tuple.__add__(other, self))

    def __mul__(self, n: Any) -> Any:
        if not hasattr(n, "__index__"):
            raise TypeError(f"can't multiply sequence by non-int of type '{type(n).__name__}'")
        return tuple.__new__(Size, tuple.__mul__(self, n.__index__()))

    __rmul__ = __mul__


def _size_item(v: Any, k: int) -> Any:
    """One entry of ``Size(...)`` as PyTorch takes it: an int (bools and one-element integer
    tensors become ints), a symbolic size, or another integer type (kept, as a NumPy int is)."""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, Tensor) and v.dtype.category <= 1 and v.numel() == 1 and not v._is_tracer:
        return int(v.item())
    if isinstance(v, SymbolicSize) or (not isinstance(v, Tensor) and hasattr(v, "__index__")):
        return v
    raise TypeError(f"torch.Size() takes an iterable of 'int' (item {k} is '{type(v).__name__}')")


def _dims(args: tuple) -> tuple[int, ...]:
    """``f(2, 3)`` and ``f((2, 3))`` both mean the tuple (2, 3)."""
    if len(args) == 1 and isinstance(args[0], tuple | list | Size):
        return tuple(as_size(a) for a in args[0])
    return tuple(as_size(a) for a in args)


def _axes(dim: Any, ndim: int) -> tuple[int, ...] | None:
    if dim is None:
        return None
    dims = dim if isinstance(dim, tuple | list) else (dim,)
    axes = [norm_axis(int(d), ndim) for d in dims]
    for a in axes:
        if axes.count(a) > 1:
            raise RuntimeError(f"dim {a} appears multiple times in the list of dims")
    return tuple(sorted(axes))


_AVALS: dict[tuple, Aval] = {}


NON_LEAF_REQUIRES_GRAD = {  # PyTorch's texts for setting requires_grad of a computed tensor
    True: "you can only change requires_grad flags of leaf variables.",
    False: "you can only change requires_grad flags of leaf variables. If you want to use a "
    "computed variable in a subgraph that doesn't require differentiation use "
    "var_no_grad = var.detach().",
}


class Tensor:
    """A multi-dimensional array with PyTorch's semantics, eager or (later) traced."""

    __array_priority__ = 1000  # numpy scalars defer to Tensor's reflected operators
    # per-tensor state that most tensors never change lives on the class until first set
    # (``_make`` runs for every result: each attribute it sets costs)
    _requires_grad = False
    _version_box: list[int]  # set by _make: [version], shared with views
    _grad_fn: Any = None
    _weak = False
    _grad: Tensor | None = None  # (read through the grad property: Note [non-leaf .grad])
    _accumulate: Any = None
    _hooks: tuple | list = ()
    _post_accumulate_hooks: tuple | list = ()
    _retains_grad = False
    # a gradient array no one else holds, that no hook has seen: AccumulateGrad may make it
    # the new .grad without copying it (set by a compiled backward, see autograd._accumulate)
    _owned_grad = False
    _nograd_view = False  # a view made under no_grad of a tensor that requires grad
    _is_tracer = False  # frontend.tracer.Tracer says True
    _sparse = False  # runtime.sparse.SparseTensor says True (Note [sparse tensors])
    _born_in: Any = None  # the trace that was active when this tensor was made

    def __new__(cls, *args: Any, **kwargs: Any) -> Tensor:
        """PyTorch's legacy constructor: ``Tensor([1, 2])`` (float data) or ``Tensor(2, 3)``."""
        if len(args) == 1 and isinstance(args[0], Tensor) and args[0].dtype.category == 3:
            return cls._make(args[0]._data)  # (PyTorch: the same data, complex kept)
        if len(args) == 1 and not isinstance(args[0], int):
            data = args[0]._data if isinstance(args[0], Tensor) else args[0]
            if np.asarray(data).dtype.kind == "c":
                raise TypeError("must be real number, not complex")
            return cls._make(np.array(data, dtype=D.get_default_dtype().np))
        return cls._make(np.zeros(_dims(args), D.get_default_dtype().np))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    @classmethod
    def _make(
        cls,
        data: np.ndarray,
        *,
        requires_grad: bool = False,
        grad_fn: Any = None,
        version_box: list[int] | None = None,
        weak: bool = False,
    ) -> Tensor:
        t = object.__new__(cls)
        t._data = data
        if requires_grad:
            t._requires_grad = True
        if grad_fn is not None:
            t._grad_fn = grad_fn
        if version_box is None:
            version_box = InferenceBox([0]) if _grad_state.inference else [0]
        t._version_box = version_box
        if weak:
            t._weak = True
        trace = trace_state.current()
        if trace is not None:  # tensors made while tracing are trace constants
            t._born_in = trace
            trace.made.append(weakref.ref(t))  # (Note [writes into trace constants])
        return t

    # ---- metadata -------------------------------------------------------------------------
    _view_base: Tensor | None = None  # the tensor whose memory this one views, if any
    # recorded in-place writes to this (base) tensor, and, on a view, how many its base had
    # when the view was made (Note [stale views] in runtime/inplace.py)
    _rewrites = 0
    _rewrites_seen = 0
    _view_recipe: tuple | None = None  # (parent, view op, attrs): how it was made
    _output_nr = 0  # which output of its grad_fn this tensor is
    _data: np.ndarray

    @property
    def shape(self) -> Size:
        return tuple.__new__(Size, self._data.shape)

    def size(self, dim: int | None = None) -> Any:
        if dim is None:
            return self.shape
        if not self._data.ndim:
            raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
        return self._data.shape[norm_axis(dim, self.ndim)]

    @property
    def dtype(self) -> DType:
        return D.from_numpy_dtype(self._data.dtype)

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    def ndimension(self) -> int:  # through dim(): a traced tensor's comes from its aval
        return self.dim()

    def numel(self) -> int:
        return int(self._data.size)

    def nelement(self) -> int:
        return self.numel()

    def element_size(self) -> int:
        return self.dtype.itemsize

    @property
    def device(self) -> str:
        from .creation import device

        return device("cpu")

    @property
    def is_cuda(self) -> bool:
        return False

    def is_floating_point(self) -> bool:
        return self.dtype.is_floating_point

    def _aval(self) -> Aval:
        d = self._data
        key = (d.shape, d.dtype, self._weak)
        aval = _AVALS.get(key)
        if aval is None:  # one Aval per (shape, dtype, weak): eager ops ask for it every time
            if len(_AVALS) > 4096:
                _AVALS.clear()
            aval = _AVALS[key] = Aval(d.shape, D.from_numpy_dtype(d.dtype), self._weak)
        return aval

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    # ---- autograd state -------------------------------------------------------------------
    @property
    def grad_fn(self) -> Any:
        base = self._view_base
        if base is not None and base._rewrites != self._rewrites_seen:
            from .dispatch import stale_view

            stale_view(self)  # as PyTorch, a view's history follows its base's (Note [stale views])
        return self._grad_fn

    @property
    def requires_grad(self) -> bool:
        if self._requires_grad or self._grad_fn is not None:
            return True
        base = self._view_base  # a view whose base got a history since (Note [stale views])
        return (
            base is not None and base._rewrites != self._rewrites_seen and self.grad_fn is not None
        )

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if self._grad_fn is not None:
            raise RuntimeError(NON_LEAF_REQUIRES_GRAD[bool(value)])
        if value and self.dtype.category < 2:
            raise RuntimeError(
                "only Tensors of floating point and complex dtype can require gradients"
            )
        if value and outside_inference(self._version_box):
            raise RuntimeError(
                "Setting requires_grad=True on inference tensor outside InferenceMode is not "
                "allowed."
            )
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self.dtype.category < 2:  # PyTorch words this one apart
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None  # (a stale view's history first: Note [stale views])

    @property
    def grad(self) -> Tensor | None:
        g = self._grad
        if g is None and not self._retains_grad and not self.is_leaf:
            warn_non_leaf_grad()  # (Note [non-leaf .grad])
        elif g is not None and trace_state._local.trace is not None:
            read = getattr(trace_state._local.trace, "read_grad", None)
            if read is not None:  # (Note [.grad read while tracing] in frontend/tracer.py)
                read(self)
        return g

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        check_assigned_grad(self, value)
        self._grad = value

    @grad.deleter
    def grad(self) -> None:
        self._grad = None

    @property
    def _version(self) -> int:
        if self.is_inference():
            raise RuntimeError("Inference tensors do not track version counter.")
        return self._version_box[0]

    is_inference = is_inference  # (Note [inference tensors] in grad_mode.py)

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def retain_grad(self) -> None:
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.is_leaf or self._retains_grad:
            return
        self._retains_grad = True
        self._grad_fn.retain(self._output_nr, self)

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> Any:
        """``hook(grad)`` runs when this tensor's gradient is computed; may return a new one."""
        from .autograd import _Handle

        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.is_leaf:
            if not isinstance(self._hooks, list):
                self._hooks = []
            self._hooks.append(hook)
            return _Handle(self._hooks, hook)
        hooks = self._grad_fn.output_hooks(self._output_nr)
        hooks.append(hook)
        return _Handle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook: Callable[[Tensor], None]) -> Any:
        from .autograd import _Handle

        if not isinstance(self._post_accumulate_hooks, list):
            self._post_accumulate_hooks = []
        self._post_accumulate_hooks.append(hook)
        return _Handle(self._post_accumulate_hooks, hook)

    def detach(self) -> Tensor:
        """A tensor sharing this one's data (and version counter) with no history."""
        alias = self._alias()
        return Tensor._make(self._data, version_box=self._version_box) if alias is None else alias

    def _alias(self) -> Any:
        """While tracing, the detached alias of a tensor from outside the trace: its graph
        input (read at every call, never a constant of today's values, and as in-place ops
        on the tensor left it); a write through it is a write into the tensor (Note [writes
        through .data while tracing] in inplace.py)."""
        trace = self._outside_trace()
        if trace is None:
            return None
        out = trace.lift(self).detach()
        out._outside_alias = self
        return out

    def _outside_trace(self) -> Any:
        """The active trace when this (concrete) tensor comes from outside it, else None."""
        trace = trace_state.current()
        if trace is None or self._is_tracer or not trace.involves([self]):
            return None
        return trace

    def detach_(self) -> Tensor:
        self._grad_fn = None
        self._requires_grad = False
        return self

    @property
    def data(self) -> Tensor:
        if self._is_tracer:  # a traced value's data is its detached alias
            return self.detach()
        alias = self._alias()
        return Tensor._make(self._data) if alias is None else alias

    @data.setter
    def data(self, value: Tensor) -> None:
        self._data = value._data

    def backward(
        self,
        gradient: Tensor | None = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
        inputs: Sequence[Tensor] | None = None,
    ) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``."""
        if gradient is None and inputs is None and not create_graph:
            seeded = getattr(self._grad_fn, "seeded_backward", None)  # a compiled call's node
            if seeded is not None and seeded(bool(retain_graph)):
                return
        (_BACKWARD[0] if _BACKWARD else _bind_backward())(
            [self],
            None if gradient is None else [gradient],
            retain_graph,
            create_graph,
            inputs=inputs,
        )

    # ---- conversion -----------------------------------------------------------------------
    def _read_while_tracing(self, what: str) -> None:
        """Python reads the value of a tensor from outside the function being traced: a graph
        break (the segment so far runs, so the tensor holds its value at this point of the
        call), or with fullgraph=True an error; never a number frozen at trace time."""
        trace = trace_state.current()
        if trace is not None and not self._weak and self._born_in is not trace:
            trace.read_outside(self, what)

    def numpy(self, *, force: bool = False) -> np.ndarray:
        self._read_while_tracing("Tensor.numpy()")
        if self.requires_grad and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use "
                "tensor.detach().numpy() instead."
            )
        return self._data

    def item(self) -> Any:
        self._read_while_tracing("Tensor.item()")
        if self._data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self._data.size} elements cannot be converted to Scalar"
            )
        return self._data.reshape(()).item()  # (bfloat16 too gives a Python float)

    def tolist(self) -> Any:
        self._read_while_tracing("Tensor.tolist()")
        return self._data.tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self) -> bool:
        if self._data.size != 1:
            many = "more than one value" if self._data.size else "no values"
            raise RuntimeError(f"Boolean value of Tensor with {many} is ambiguous")
        return bool(self.item())

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self._data if dtype is None else self._data.astype(dtype)

    def __repr__(self) -> str:
        from .describe import tensor_repr

        return tensor_repr(self)

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        """PyTorch's: a 0-dim tensor formats as its Python number (``f"{t}"`` is ``1.5``)."""
        if self.ndim == 0:
            return format(self.detach().item(), spec)
        if spec:
            raise TypeError("unsupported format string passed to Tensor.__format__")
        return repr(self)

    def __hash__(self) -> int:
        return id(self)

    def __iter__(self) -> Any:
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __reduce_ex__(self, protocol: int) -> Any:
        from .creation import _rebuild

        return (_rebuild, (self._data, self._requires_grad))

    def __deepcopy__(self, memo: dict) -> Tensor:
        t = Tensor._make(self._data.copy(), requires_grad=self._requires_grad)
        if type(self) is not Tensor:
            t.__class__ = type(self)
        if self._grad is not None:
            t.grad = self._grad.__deepcopy__(memo)
        memo[id(self)] = t
        return t

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """``.to(dtype)``; device arguments ("cpu") are accepted and ignored."""
        dtype = kwargs.get("dtype")
        for a in args:
            if isinstance(a, DType):
                dtype = a
            elif isinstance(a, Tensor):
                dtype = a.dtype
        if dtype is None or dtype is self.dtype:
            return self
        from .dispatch import apply

        return apply(Op.CAST, self, dtype=dtype)

    def type(self, dtype: Any = None, non_blocking: bool = False) -> Any:
        """The legacy type name (``torch.FloatTensor``), or a copy converted to ``dtype`` (a
        dtype or such a name)."""
        if dtype is None:
            return _LEGACY_NAMES[self.dtype.name]
        if isinstance(dtype, type) and isinstance(getattr(dtype, "dtype", None), DType):
            dtype = dtype.dtype  # type: ignore[attr-defined]  # torch.LongTensor & co.
        if isinstance(dtype, str):
            by_name = {v: k for k, v in _LEGACY_NAMES.items()}
            name = dtype.replace("torch.sparse.", "torch.", 1)  # (the layout stays, as PyTorch)
            if name not in by_name:
                raise ValueError(f"invalid type: '{dtype}'")
            dtype = D.by_name(by_name[name])
        if dtype in (float, int, bool, complex):  # (.to takes them; .type does not)
            raise ValueError(f"invalid type: '{dtype.__name__}'")
        return self.to(dtype)

    def float(self) -> Tensor:
        return self.to(D.float32)

    def double(self) -> Tensor:
        return self.to(D.float64)

    def long(self) -> Tensor:
        return self.to(D.int64)

    def int(self) -> Tensor:
        return self.to(D.int32)

    def bool(self) -> Tensor:
        return self.to(D.bool_)

    def byte(self) -> Tensor:
        return self.to(D.uint8)

    def char(self) -> Tensor:
        return self.to(D.int8)

    def short(self) -> Tensor:
        return self.to(D.int16)

    def half(self) -> Tensor:
        return self.to(D.float16)

    def bfloat16(self) -> Tensor:
        return self.to(D.bfloat16)

    def cpu(self) -> Tensor:
        return self

    def cuda(self, *a: Any, **k: Any) -> Tensor:
        raise RuntimeError("adjit runs on the CPU only: CUDA is not available")

    def contiguous(self, *a: Any, **k: Any) -> Tensor:
        return self

    def is_contiguous(self, *a: Any, **k: Any) -> bool:
        return bool(self._data.flags.c_contiguous)

    def clone(self, *a: Any, **k: Any) -> Tensor:
        from .functional import clone

        return clone(self)

    def _clone_data(self) -> Tensor:
        return Tensor._make(np.array(self._data, copy=True))

    def stride(self, dim: int | None = None) -> Any:
        s = tuple(st // self._data.itemsize for st in self._data.strides)
        return s if dim is None else s[dim]

    def data_ptr(self) -> int:
        return int(self._data.ctypes.data)

    def storage_offset(self) -> int:
        return 0


_BACKWARD: list[Any] = []  # runtime.backward.backward (that module imports this one)


def eager_tensor(data: np.ndarray) -> Tensor:
    """``Tensor._make(data)`` when no trace is active (the caller knows): a fresh result of the
    eager fast paths (Note [lean eager path] in runtime/dispatch.py), one call cheaper."""
    t = _new_tensor(Tensor)
    t._data = data
    t._version_box = InferenceBox([0]) if _grad_state.inference else [0]
    return t


_new_tensor = object.__new__


def _bind_backward() -> Any:
    from .backward import backward

    _BACKWARD.append(backward)
    return backward


def _install_methods() -> None:
    """Ops become methods and operators; each is one line over a primitive or composite."""
    from . import methods

    methods.install(Tensor)


_ = builtins  # keep the builtins import for methods that shadow names (float, int, bool)


_install_methods()
