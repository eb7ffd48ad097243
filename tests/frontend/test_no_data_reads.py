"""No library code reads tensor data while tracing: every public name's sample call (the API
page's, docs/gen_api.py, plus the data-sensitive variants below) and every nn module's forward
traces on Tracer inputs without a data read, or is listed here with the reason."""

# Note [the data-read sweep]
# Issue 15: whatever runs eagerly must compile, so the library may never look at a traced
# value (``Tracer._data``, ``item()``, ``tolist()``, ``bool()``, ``int()``, ``float()``,
# ``__index__``, ``numpy()``, ``__array__``), nor at the values of a tensor from outside the
# trace (a closure, a module's parameter or buffer: a graph input read afresh at every call,
# whose values at trace time would be frozen into the program). A value check becomes a
# run-time check (runtime/checks.py ``check``); a value that decides an output's *shape*
# goes through ``checks.value_dependent`` before anything is read: a graph break there
# (frontend/breaks.py; the op then runs on the values), or with ``fullgraph=True`` a
# TracingError naming the op. The sweep traces each sample three ways on a bare Trace (no
# session, so no break: the refusal shows; no passes, no codegen): tracer inputs with and
# without requires_grad, and concrete tensors from outside the trace (their reads watched
# by ``_Outside``), with those entry points wrapped, so a read is seen even where library
# code catches the TracingError it raises. A sample that raises anything else must raise
# what eager raises on the same arguments. The samples are the API page's (docs/gen_api.py's
# SAMPLES and generic patterns: a name added to the page is swept without an edit here),
# EXTRA's variants that reach the value-sensitive paths (tensor counts, fill values, bounds,
# ranges), and the module rows of tests/nn/test_modules_compile.py (parameters as traced
# inputs, or with the buffers as tensors from outside).

from __future__ import annotations

import contextlib
import functools
import importlib.util
import inspect
import os
import pathlib
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from adjit.frontend.tracer import Trace, Tracer, tracing
from adjit.ir.aval import Aval
from adjit.runtime import trace_state

import adjit

torch = pytest.importorskip("torch")

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _load(name: str, path: pathlib.Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PAGE = _load("_adjit_gen_api", ROOT / "docs" / "gen_api.py")
MODULES = _load("_adjit_modules_compile", ROOT / "tests" / "nn" / "test_modules_compile.py")

# sample key ("name", "Tensor.name", "nn.functional.name", ... and "key:variant") -> sample
# text in the page's letters (x, y float32 [3, 4]; m 4x4; v [4]; i, j int64; b bool; p a
# permutation per row); "self | args" for Tensor methods. Calls the page's samples do not
# reach: tensors where a Python number is usual, counts and bounds given as tensors.
EXTRA: dict[str, str] = {
    # names the page has no sample for
    "sym_ite": "True, x, y",
    "embedding_bag": "x.T, p[0], torch.tensor([0, 2])",
    "embedding_bag:mean": "x.T, p[0], torch.tensor([0, 2]), False, 1",
    "embedding_bag:max": "x.T, p[0], torch.tensor([0, 2, 4]), False, 2, False, None, True, 1",
    "native_layer_norm": "x, [4], None, None, 1e-5",
    "native_batch_norm": "x, None, None, None, None, True, 0.1, 1e-5",
    "native_group_norm": "x, None, None, 3, 4, 1, 2, 1e-5",
    "native_dropout": "x, 0.5, True",
    "native_channel_shuffle": "x[None], 2",
    "unsafe_split_with_sizes": "x, [1, 2]",
    "Tensor.unsafe_split_with_sizes": "[1, 2]",
    "segment_reduce": "x, 'max', lengths=torch.tensor([1, 0, 2])",
    "segment_reduce:offsets": "x, 'mean', offsets=torch.tensor([0, 2, 3]), initial=1.0",
    "lstm": "x[:, None], (y[:1, :1][None], y[:1, 1:2][None]), [m, v[:, None], v, v], True, 1, "
    "0.0, False, False, False",
    "gru": "x[:, None], y[:1, :1][None], [x, x[:, :1], x[:, 0], x[:, 1]], True, 1, 0.0, False, "
    "False, False",
    "rnn_tanh": "x[:, None], v[None, None], [m, m, v, v], True, 1, 0.0, False, False, False",
    "rnn_relu": "x[None], v[None, None], [m, m], False, 1, 0.0, False, False, True",
    "lstm_cell": "x, (y[:, :1], y[:, 1:2]), m, v[:, None], v, v",
    "gru_cell": "x, y[:, :1], x, x[:, :1]",
    "rnn_tanh_cell": "x, y, m, m, v, v",
    "rnn_relu_cell": "x, y, m, m",
    "bincount": "i[0]",
    "bincount:minlength": "i[0], minlength=6",
    "Tensor.bincount": "i[0] | ",
    "stft": "x, 4, 1, window=torch.ones(4), return_complex=True",
    "Tensor.stft": "x | 4, 1, window=torch.ones(4), return_complex=True",
    "istft": "torch.stft(x, 4, 1, window=torch.ones(4), return_complex=True), 4, 1",
    "Tensor.istft": "torch.stft(x, 4, 1, window=torch.ones(4), return_complex=True) | 4, 1",
    "repeat_interleave:tensor": "x, j[0], 1",
    "repeat_interleave:output_size": "x, j[0], 1, output_size=int(j[0].sum())",
    "repeat_interleave:counts": "j[0]",
    "Tensor.repeat_interleave:tensor": "x | j[0], 1",
    "spmm": "x.to_sparse(), y.T",  # sparse ops: graph breaks (Note [sparse tensors])
    "dsmm": "x.to_sparse(), y.T",
    "sparse_csr_tensor": "torch.tensor([0, 2, 3]), torch.tensor([0, 2, 1]), x[0, :3]",
    "index_reduce": "x, 1, p[0], y, 'prod'",
    "Tensor.index_reduce": "1, p[0], y, 'amax'",
    "Tensor.index_reduce_": "1, p[0], y, 'mean'",
    "unravel_index": "i, (5, 5)",
    "cond": "x.sum() > 0, lambda a, b: a.sin() * b, lambda a, b: a.cos() + b, (x, y)",
    "while_loop": "lambda n, a: n < 3, lambda n, a: (n + 1, a * 2), (i[0, 0] * 0, x)",
    "Tensor.put": "p[0], y[0]",
    "Tensor.put_": "p, y, accumulate=True",
    "Tensor.put_:unique": "p[0], y[0]",
    "Tensor.gcd": "i | j",
    "Tensor.gcd_": "i | j",
    "Tensor.lcm": "i | j",
    "Tensor.lcm_": "i | j",
    "Tensor.renorm": "2, 0, 1.0",
    "Tensor.renorm_": "2, 0, 1.0",
    "renorm": "x, 2, 0, 1.0",
    "Tensor.diagonal_scatter": "m | v",
    "Tensor.select_scatter": "y[0], 0, 1",
    "Tensor.det": "m | ",
    "Tensor.logdet": "m | ",
    "Tensor.slogdet": "m | ",
    "Tensor.inverse": "m | ",
    "Tensor.matrix_exp": "m | ",
    "Tensor.cholesky": "m | ",
    "Tensor.cholesky_inverse": "m.cholesky() | ",
    "cholesky_solve": "x.mT, m.cholesky()",
    "Tensor.cholesky_solve": "x.mT | m.cholesky()",
    "triangular_solve": "x.mT, m.triu()",
    "Tensor.triangular_solve": "x.mT | m.triu()",
    "lu_unpack": "*torch.linalg.lu_factor(m)",
    "lu_solve": "x.mT, *torch.linalg.lu_factor(m)",
    "Tensor.lu_solve": "x.mT | *torch.linalg.lu_factor(m)",
    "is_nonzero": "v[:1]",
    "Tensor.is_nonzero": "v[:1] | ",
    "Tensor.as_strided": "(2, 2), (1, 2)",
    "Tensor.as_strided_": "(2, 2), (1, 2)",
    "Tensor.swapaxes_": "0, 1",
    "Tensor.swapdims_": "0, 1",
    "Tensor.transpose_": "0, 1",
    "dsplit": "x[None], 2",
    "Tensor.dsplit": "x[None] | 2",
    "empty_strided": "(2, 3), (3, 1)",
    "Tensor.new_empty_strided": "(2, 3), (3, 1)",
    "Tensor.apply_": "lambda a: a",
    "Tensor.map_": "y, lambda a, b: a",
    "Tensor.map2_": "y, x, lambda a, b, c: a",
    # tensors where a Python number is usual
    "full:tensor": "(2, 2), torch.tensor(1.5)",
    "full_like:tensor": "x, torch.tensor(1.5)",
    "Tensor.new_full:tensor": "(2, 2), torch.tensor(1.5)",
    "Tensor.fill_:tensor": "torch.tensor(1.5)",
    "Tensor.masked_fill:tensor": "b, torch.tensor(0.5)",
    "Tensor.index_fill:tensor": "1, p[0], torch.tensor(0.5)",
    "Tensor.fill_diagonal_:tensor": "torch.tensor(0.5)",
    "clamp:tensor": "x, v, y",
    "linspace:tensor": "torch.tensor(0.0), torch.tensor(1.0), 5",
    "logspace:tensor": "torch.tensor(0.0), torch.tensor(1.0), 5",
    "arange:tensor": "torch.tensor(3)",
    "range:tensor": "torch.tensor(0.0), torch.tensor(3.0)",
    "tensor:list": "[v[0], v[1]]",
    "as_tensor": "x",
    "asarray": "x",
    "Tensor.new_tensor:tensor": "y",
    "narrow:tensor": "x, 1, torch.tensor(1), 2",
    "tensordot:tensor": "x, m, dims=torch.tensor(1)",
    "tensor_split:tensor": "x, torch.tensor([1, 2]), 1",
    "pow:negative": "i, -1",
    "pow:tensor": "i, j",
    "quantile:tensor": "x, v[:2]",
    "nanquantile:tensor": "x, v[:2]",
    "cov:weights": "x, fweights=j[0], aweights=v",
    "histc:range": "x, 4, 0.0, 1.0",
    "histc:narrow-range": "x * 3 - 1, 7, -0.5, 0.75",
    "histc:data-range": "x, 4, 0.5, 0.5",
    "histogram:range": "x, 4, range=(0.0, 1.0)",
    "histogram:edges": "x, v.sort().values",
    "histogramdd:range": "x, 2, range=[0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0]",
    "searchsorted": "v.sort().values, x",
    "bucketize": "x, v.sort().values",
    "where:condition": "b",
    "take": "x, p",
    "take_along_dim": "x, p, 1",
    "Tensor.index_put:accumulate": "(torch.tensor([2, 0]),), y[:2], accumulate=True",
    "Tensor.index_put:mask": "(b,), torch.tensor(0.5)",
    "Tensor.masked_scatter": "b, y",
    "Tensor.index_copy": "1, p[0], y",
    "Tensor.index_add": "1, p[0], y",
    "Tensor.scatter": "1, p, y",
    "Tensor.scatter_reduce": "1, p, y, 'prod', include_self=False",
    "Tensor.__getitem__:int-tensor": "torch.tensor(1)",
    "Tensor.__getitem__:index": "(p[0] % 3, 1)",
    "Tensor.__getitem__:mask": "b",
    "Tensor.__setitem__:index": "p[0] % 3, torch.tensor(0.5)",
    "Tensor.__setitem__:mask": "b, 0.5",
    "Tensor.__setitem__:mask-tensor": "b, torch.tensor(0.5)",
    "Tensor.__len__": "",
    "Tensor.__bool__": "v[:1] | ",
    "Tensor.__float__": "v[:1] | ",
    "Tensor.__int__": "i[0, :1] | ",
    "Tensor.__index__": "i[0, :1] | ",
    "div:int": "i, j, rounding_mode='floor'",
    "floor_divide:int": "i, j",
    "remainder:int": "i, j",
    "fmod:int": "i, 2",
    "gcd": "i, j",
    # nn.functional values and bounds
    "nn.functional.one_hot:no-classes": "p",
    "nn.functional.native_channel_shuffle": "x[None], 2",
    "nn.functional.has_torch_function": "(x, y)",
    "nn.functional.embedding:padding": "p, m, padding_idx=0",
    "nn.functional.embedding:max_norm": "p, m.clone(), max_norm=1.0",
    "nn.functional.embedding_bag:offsets": "p[0], m, torch.tensor([0, 2])",
    "nn.functional.embedding_bag:weights": (
        "p[0], m, torch.tensor([0, 2]), mode='sum', per_sample_weights=v"
    ),
    "nn.functional.cross_entropy:weight": "x, p[:, 0], weight=v, ignore_index=1",
    "nn.functional.cross_entropy:probs": "x, y.softmax(1)",
    "nn.functional.nll_loss:weight": "x.log_softmax(1), p[:, 0], weight=v",
    "nn.functional.gaussian_nll_loss:var": "x, y, y",
    "nn.functional.max_unpool1d": "x[None], p[None], 2",
    "nn.functional.max_unpool2d": "x[None, None], p[None, None], 2",
    "nn.functional.ctc_loss:tensors": (
        "x.T[:, None].log_softmax(-1), torch.tensor([[1, 2]]), torch.tensor([4]), torch.tensor([2])"
    ),
    "nn.functional.multi_margin_loss:weight": "x, p[:, 0], weight=v",
    "nn.functional.multilabel_margin_loss": "x, p",
    "nn.functional.interpolate:scale": "x[None], scale_factor=2.0",
    "nn.functional.kl_div:log_target": "x.log(), y.log(), log_target=True",
    "linalg.matrix_rank:tol": "m, atol=v[0], rtol=v[1]",
    "linalg.pinv:tol": "m, atol=v[0]",
    # ATen spellings: integer mode codes, in-place renorm and strides
    "grid_sampler": "x.reshape(1, 1, 3, 4), y.reshape(1, 3, 2, 2) * 0.5, 1, 2, False",
    "grid_sampler_2d": "x.reshape(1, 1, 3, 4), y.reshape(1, 3, 2, 2) * 0.5, 0, 1, True",
    "grid_sampler_3d": "x.reshape(1, 1, 1, 3, 4), y.reshape(1, 1, 2, 2, 3) * 0.5, 0, 0, False",
    "affine_grid_generator": "x[:2, :3].reshape(1, 2, 3), (1, 1, 3, 4), False",
    "embedding_renorm_": "m.clone(), p, 1.0, 2.0",
    "as_strided_": "x.clone(), (2, 2), (1, 2)",
    # removed from PyTorch: its RuntimeError, traced or not
    **dict.fromkeys(["eig", "symeig", "matrix_rank"], "m"),
    **dict.fromkeys(["lstsq", "solve"], "m, m"),
    **dict.fromkeys(["Tensor.eig", "Tensor.symeig"], "m | "),
    **dict.fromkeys(["Tensor.lstsq", "Tensor.solve"], "m | m"),
    "Tensor.reinforce": "x | 1.0",
    "ormqr": "*torch.geqrf(m), x.mT",
    "ormqr:right": "*torch.geqrf(m), x, False, True",
    "Tensor.ormqr": "torch.geqrf(m)[0] | torch.geqrf(m)[1], x.mT",
}

# Returns a Python value by definition (a bool, a number, a list, an address): it must read
# the value, which is where a compiled function breaks (issue 15's graph breaks).
PYTHON_VALUE: dict[str, str] = {
    "Tensor.item": "returns a Python number",
    "Tensor.tolist": "returns Python lists",
    "Tensor.numpy": "returns a NumPy array of the values",
    "Tensor.__bool__": "a Python bool of the value (if tensor: ...)",
    "Tensor.__float__": "a Python float of the value",
    "Tensor.__int__": "a Python int of the value",
    "Tensor.__index__": "a Python int of the value (an index)",
    "equal": "returns a Python bool of the values",
    "Tensor.equal": "returns a Python bool of the values",
    "allclose": "returns a Python bool of the values",
    "Tensor.allclose": "returns a Python bool of the values",
    "is_nonzero": "returns a Python bool of the value",
    "Tensor.is_nonzero": "returns a Python bool of the value",
    "Tensor.data_ptr": "an address of memory a traced value does not have",
    "Tensor.const_data_ptr": "an address of memory a traced value does not have",
}

# The output's shape depends on the values: refused before reading, by a TracingError that
# names the op (PyTorch's torch.compile cannot give these a static shape either).
SHAPE_FROM_VALUES: dict[str, str] = {
    "nonzero": "one row per nonzero element",
    "Tensor.nonzero": "one row per nonzero element",
    "argwhere": "one row per nonzero element",
    "Tensor.argwhere": "one row per nonzero element",
    "where:condition": "where(cond) is nonzero(cond, as_tuple=True)",
    "masked_select": "one element per true mask element",
    "Tensor.masked_select": "one element per true mask element",
    "Tensor.__getitem__:mask": "one element per true mask element",
    "unique": "one element per distinct value",
    "Tensor.unique": "one element per distinct value",
    "unique_consecutive": "one element per run of equal values",
    "Tensor.unique_consecutive": "one element per run of equal values",
    "bincount": "length max(input) + 1",
    "bincount:minlength": "length max(minlength, max(input) + 1)",
    "Tensor.bincount": "length max(input) + 1",
    "repeat_interleave:tensor": "length sum(repeats) (output_size= makes it traceable)",
    "repeat_interleave:counts": "length sum(repeats)",
    "Tensor.repeat_interleave:tensor": "length sum(repeats)",
    "nn.functional.one_hot:no-classes": "num_classes=-1 is max(input) + 1",
    "arange:tensor": "the length is the end's value",
    "range:tensor": "the length is computed from the bounds' values",
    "tensor_split:tensor": "the split points are the indices' values",
    "tensordot:tensor": "the contracted dimensions are the dims tensor's value",
    "histc": "min=max=0 takes the range from the data (the bins' edges)",
    "histc:data-range": "min == max takes the range from the data (the bins' edges)",
    "Tensor.histc": "min=max=0 takes the range from the data (the bins' edges)",
    "histogram": "the default range is the data's",
    "Tensor.histogram": "the default range is the data's",
    "histogramdd": "the default range is the data's",
    "nn.functional.ctc_loss": "the recursion's length is the lengths' values",
    "ctc_loss": "the recursion's length is the lengths' values",
    "nn.functional.ctc_loss:tensors": "the recursion's length is the lengths' values",
    "nn.AdaptiveLogSoftmaxWithLoss": "each cluster's rows are chosen by the targets",
    "nn.CTCLoss": "the recursion's length is the lengths' values",
}

# Refused for a reason other than the values (complex dtypes, LAPACK routines with no traced
# form, storage tricks, per-element Python callables): must not read the data either.
# storage and DLPack: the memory itself, which a traced value has not got (refused)
_MEMORY = ["Tensor.untyped_storage", "Tensor.storage", "Tensor.is_shared", "Tensor.share_memory_"]
_MEMORY += ["to_dlpack", "Tensor.is_set_to"]
NOT_TRACEABLE: dict[str, str] = {
    "lobpcg": "iterates until converged: one graph break, run eagerly",
    "angle": "complex tensors are not compiled yet",
    "Tensor.angle": "complex tensors are not compiled yet",
    "complex": "complex tensors are not compiled yet",
    "polar": "complex tensors are not compiled yet",
    "Tensor.cdouble": "complex tensors are not compiled yet",
    "Tensor.cfloat": "complex tensors are not compiled yet",
    "linalg.eig": "complex tensors are not compiled yet",
    "linalg.eigvals": "complex tensors are not compiled yet",
    **dict.fromkeys(["stft", "Tensor.stft", "istft", "Tensor.istft"], "fft: a graph break"),
    **dict.fromkeys(_MEMORY, "a traced value has no memory until the program runs"),
    **dict.fromkeys(
        ["Tensor.to_sparse", "Tensor.to_sparse_coo", "Tensor.to_sparse_csr", "spmm", "dsmm"]
        + ["sparse_csr_tensor", "sparse_coo_tensor"],
        "sparse tensors: eager, a graph break (Note [sparse tensors] in runtime/sparse.py)",
    ),
    "linalg.ldl_factor": "LAPACK's pivoted LDL runs eagerly",
    "geqrf": "LAPACK's geqrf runs eagerly",
    "Tensor.geqrf": "LAPACK's geqrf runs eagerly",
    "linalg.ldl_factor_ex": "LAPACK's pivoted LDL runs eagerly",
    "linalg.ldl_solve": "LAPACK's pivoted LDL runs eagerly",
    "Tensor.resize_": "changes the storage's size",
    "Tensor.resize_as_": "changes the storage's size",
    "resize_as_": "changes the storage's size",
    "Tensor.set_": "swaps the storage",
    "Tensor.as_strided_": "gives the tensor new sizes and strides over its storage",
    "Tensor.apply_": "a Python callable per element",
    "Tensor.map_": "a Python callable per element",
    "Tensor.map2_": "a Python callable per element",
    "histogramdd:range": "binning with a given range has no traced form yet",
    "nn.functional.embedding:max_norm": "max_norm rescales weight rows from the index values",
    "embedding_renorm_": "rescales weight rows from the index values",
    "as_strided_": "gives the tensor new sizes and strides over its storage",
    "nn.Embedding-max_norm": "max_norm rescales weight rows from the index values",
    "nn.EmbeddingBag-max_norm": "max_norm rescales weight rows from the index values",
}

# Read the memory layout (strides, offset) of a tensor from outside the trace: a real
# tensor's layout, which a compiled call's lifted input keeps; not its values.
OUTSIDE_LAYOUT: dict[str, str] = {
    n: "reads the strides of a tensor from outside the trace, not its values"
    for n in [
        "Tensor.stride",
        "Tensor.storage_offset",
        "Tensor.contiguous",
        "as_strided",
        "Tensor.as_strided",
        "as_strided_scatter",
        "Tensor.as_strided_scatter",
        "Tensor.dim_order",
        "as_strided_copy",
    ]
}
OUTSIDE_LAYOUT |= dict.fromkeys(_MEMORY, "shares the memory of a tensor from outside the trace")

# issue 15 RNG: random ops were refused (drawn once and frozen) until the counter-based
# generator landed; every random op now traces with no read, so this temporary table is
# empty. Rows here pass whatever happens (a new random op waiting for its traced form).
RNG_ISSUE_15: dict[str, str] = {}

READS = ("item", "tolist", "numpy", "__bool__", "__float__", "__int__", "__index__", "__array__")


class _Outside:
    """Mixed into a concrete tensor from outside the trace (a closure, a module's parameter or
    buffer: a graph input read afresh at every call): a read of its values while tracing is
    recorded, its metadata is not."""

    _log: list[str] | None = None  # set by _watch

    @property
    def _data(self) -> Any:
        if _Outside._log is not None and trace_state.current() is not None:
            caller = sys._getframe(1).f_code
            aliasing = caller.co_name in _ALIASING and caller.co_filename.endswith("tensor.py")
            machinery = caller.co_filename.startswith(_FRONTEND)
            if not (aliasing or machinery):  # (detach() and .data share the memory, and the
                # tracer compares memory to find aliases of what it lifts: no value is read)
                _Outside._log.append(f"_data of a tensor from outside at {_library_frame()}")
        return self.__dict__["_data"]

    @_data.setter
    def _data(self, value: Any) -> None:
        self.__dict__["_data"] = value

    def _array(self) -> Any:
        return self.__dict__["_data"]

    @property
    def shape(self) -> Any:
        return adjit.Size(self._array().shape)

    @property
    def dtype(self) -> Any:
        return adjit.Tensor.dtype.fget(_Array(self._array()))  # type: ignore[attr-defined]

    @property
    def ndim(self) -> int:
        return self._array().ndim

    def dim(self) -> int:
        return self._array().ndim

    def numel(self) -> int:
        return int(self._array().size)

    def size(self, dim: int | None = None) -> Any:
        return self.shape if dim is None else self.shape[dim]

    def __len__(self) -> int:
        return len(self._array())

    def _aval(self) -> Any:
        return adjit.Tensor._aval(_Array(self._array(), self._weak))  # type: ignore[arg-type]

    def is_contiguous(self, *a: Any, **k: Any) -> bool:  # layout, not values
        return bool(self._array().flags.c_contiguous)


_ALIASING = ("detach", "data")
_FRONTEND = os.path.dirname(adjit.frontend.__file__) + os.sep  # the tracing machinery


class _Array:
    """Just an array, to ask Tensor's metadata code about it."""

    def __init__(self, data: Any, weak: bool = False) -> None:
        self._data, self._weak = data, weak


_OUTSIDE_CLASSES: dict[type, type] = {}


def _outside(t: Any) -> Any:
    """``t`` (in place) as a watched tensor from outside the trace."""
    cls = type(t)
    if cls not in _OUTSIDE_CLASSES:
        _OUTSIDE_CLASSES[cls] = type(f"Outside{cls.__name__}", (_Outside, cls), {})
    t.__class__ = _OUTSIDE_CLASSES[cls]
    return t


@contextlib.contextmanager
def _watch(log: list[str]) -> Iterator[None]:
    """Record every read of a Tracer's value (then raise as before), even one caught later."""
    saved = {n: Tracer.__dict__[n] for n in (*READS, "_data")}

    def wrap(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def read(self: Any, *a: Any, **k: Any) -> Any:
            log.append(f"{name} at {_library_frame()}")
            return fn(self, *a, **k)

        return read

    try:
        for n in READS:
            setattr(Tracer, n, wrap(n, saved[n]))
        Tracer._data = property(wrap("_data", saved["_data"].fget))  # type: ignore[assignment]
        _Outside._log = log
        yield
    finally:
        _Outside._log = None
        for n, v in saved.items():
            setattr(Tracer, n, v)


def _library_frame() -> str:
    """file:line of the innermost frame in adjit's own code outside the tracer."""
    f: Any = sys._getframe(2)
    while f is not None:
        path = pathlib.Path(f.f_code.co_filename)
        ours = ROOT in path.parents and path.parent != ROOT / "docs" and "tests" not in path.parts
        if ours and path.name != "tracer.py":
            return f"{path.relative_to(ROOT)}:{f.f_lineno} ({f.f_code.co_name})"
        f = f.f_back
    return "?"


# ---- the samples --------------------------------------------------------------------------
Sample = tuple[Callable[..., Any], Callable[[Any], tuple[tuple[Any, ...], dict[str, Any]]]]


def _split(qual: str) -> tuple[str, str]:
    surface, _, name = qual.rpartition(".")
    return surface, name


def _page_samples() -> dict[str, Sample]:
    found: dict[str, Sample] = {}
    for surface, _ in PAGE.SURFACES:
        for name in PAGE._adjit_names(surface):
            with PAGE._quiet():
                sample = PAGE.sample_for(surface, name, torch)
            if sample is not None:
                qual = f"{surface}.{name}" if surface else name
                _, text, a_fn, _ = sample
                found[qual] = (a_fn, functools.partial(PAGE._args, text))
    return found


def _extra_sample(key: str) -> tuple[Sample, Sample]:
    """(adjit's, PyTorch's) call of an EXTRA row."""
    qual = key.partition(":")[0]
    surface, name = _split(qual)
    text = EXTRA[key]
    if surface == "Tensor":
        own, _, rest = text.rpartition(" | ")
        text = f"{own or 'x'}, {rest}" if rest.strip() else own or "x"
        return (
            (PAGE._method(name), functools.partial(PAGE._args, text)),
            (PAGE._method(name), functools.partial(PAGE._args, text)),
        )
    a_fn, t_fn = PAGE._resolve(adjit, qual), PAGE._resolve(torch, qual)
    return (a_fn, functools.partial(PAGE._args, text)), (t_fn, functools.partial(PAGE._args, text))


def _module_sample(key: str) -> Sample:
    make, build = {**MODULES.ROWS, **MODULES.REFUSES}[key][:2]

    def call(module: Any, *inputs: Any) -> Any:
        return module(*inputs)

    def args(T: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
        module, inputs = MODULES._setup(make, build)
        return (module, *inputs), {}

    return call, args


PAGE_SAMPLES = _page_samples()
MODULE_KEYS = [f"nn.{k}" for k in [*MODULES.ROWS, *MODULES.REFUSES]]
ALL_KEYS = sorted({*PAGE_SAMPLES, *EXTRA}) + MODULE_KEYS


def _sample(key: str) -> Sample:
    if key in EXTRA:
        return _extra_sample(key)[0]
    if key in PAGE_SAMPLES:
        return PAGE_SAMPLES[key]
    return _module_sample(key.removeprefix("nn."))


# ---- tracing a sample ---------------------------------------------------------------------
def _traced(value: Any, trace: Trace, grad: bool) -> Any:
    """Every tensor in the arguments (nested in lists and tuples, and an nn.Module's
    parameters) as a traced input."""
    if isinstance(value, adjit.Tensor):
        wants = grad and value.dtype.is_floating_point
        return trace.new_input(Aval(tuple(value.shape), value.dtype), wants)
    if type(value) in (list, tuple):
        return type(value)(_traced(v, trace, grad) for v in value)
    if isinstance(value, adjit.nn.Module):
        for m in value.modules():
            for k, p in list(m._parameters.items()):
                if p is not None:  # an argument's own, not a lifted parameter (issue 15)
                    m._parameters[k] = trace.new_input(Aval(tuple(p.shape), p.dtype), grad)
    return value


def _grad_inputs(value: Any, grad: bool, outside: bool = False) -> Any:
    """The eager twin of ``_traced``: floating tensors require grad when ``grad``; as tensors
    from outside the trace (watched) if ``outside``, with an nn.Module's parameters and
    buffers."""
    if isinstance(value, adjit.Tensor):
        fresh = value.detach().clone()
        fresh = fresh.requires_grad_(grad and value.dtype.is_floating_point)
        return _outside(fresh) if outside else fresh
    if type(value) in (list, tuple):
        return type(value)(_grad_inputs(v, grad, outside) for v in value)
    if outside and isinstance(value, adjit.nn.Module):
        for t in [*value.parameters(), *value.buffers()]:
            _outside(t)
    return value


# how a sample's tensors are given: traced inputs, tensors from outside the trace, or eagerly
HOW = ("traced", "outside", "eager")


def _run(key: str, grad: bool, how: str) -> tuple[list[str], BaseException | None]:
    """(the data reads seen, the exception raised) of one sample."""
    fn, make_args = _sample(key)
    adjit.manual_seed(0)
    with PAGE._quiet():
        args, kwargs = make_args(adjit)
    reads: list[str] = []
    trace = Trace()
    if how == "traced":
        convert: Callable[[Any], Any] = lambda v: _traced(v, trace, grad)  # noqa: E731
    else:
        convert = lambda v: _grad_inputs(v, grad, how == "outside")  # noqa: E731
    args, kwargs = convert(args), {k: convert(v) for k, v in kwargs.items()}
    try:
        with _watch(reads), PAGE._quiet():
            if how != "eager":
                with tracing(trace):
                    fn(*args, **kwargs)
            else:
                fn(*args, **kwargs)
    except Exception as e:
        return reads, e
    return reads, None


def _row(key: str) -> str | None:
    """The table a key is listed in."""
    for k in (key,):
        for table, rows in [
            ("PYTHON_VALUE", PYTHON_VALUE),
            ("SHAPE_FROM_VALUES", SHAPE_FROM_VALUES),
            ("NOT_TRACEABLE", NOT_TRACEABLE),
            ("RNG_ISSUE_15", RNG_ISSUE_15),
        ]:
            if k in rows:
                return table
    return None


def _message(e: BaseException) -> str:
    """An error's text without the user-location prefix TracingError adds."""
    text = str(e)
    loc = getattr(e, "loc", None)
    return text.removeprefix(f"{loc}: ") if loc else text


def _op_name(key: str) -> str:
    """How the refusal names the op: its name, "index" for indexing."""
    name = key.partition(":")[0].rpartition(".")[2]
    if name in ("__getitem__", "__setitem__", "index_put"):
        return "index"
    return name.split("-")[0].replace("_", "")


@pytest.mark.parametrize(
    "grad, how",
    [(False, "traced"), (True, "traced"), (False, "outside")],
    ids=["plain", "grad", "outside"],
)
@pytest.mark.parametrize("key", ALL_KEYS)
def test_traces_without_reading_data(key: str, grad: bool, how: str) -> None:
    reads, error = _run(key, grad, how)
    table = _row(key)
    if how == "outside" and key in OUTSIDE_LAYOUT:
        return
    if table == "RNG_ISSUE_15":
        return
    if table == "PYTHON_VALUE":
        assert reads or isinstance(error, adjit.TracingError), "traces now: remove the row"
        return
    assert not reads, f"{key} read a traced value: {reads} ({error!r})"
    if table == "SHAPE_FROM_VALUES":
        assert isinstance(error, adjit.TracingError), f"{key} traces now: remove the row"
        assert _op_name(key).lower() in str(error).lower().replace("_", ""), (
            f"the error names the op: {error}"
        )
        return
    if table == "NOT_TRACEABLE":
        assert error is not None, f"{key} traces now: remove the row"
        return
    if error is not None:  # refused as eager refuses the same call, or a failure
        _, eager = _run(key, grad, "eager")
        assert eager is not None, f"{key} runs eagerly but tracing raised {error!r}"
        assert (type(error), _message(error)) == (type(eager), str(eager)), (error, eager)


def _outcome(fn: Callable[..., Any], make_args: Callable[..., Any], T: Any) -> Any:
    T.manual_seed(0)
    try:
        with PAGE._quiet():
            args, kwargs = make_args(T)
            fn(*args, **kwargs)
    except Exception as e:
        return type(e).__name__, str(e)
    return None


@pytest.mark.parametrize("key", sorted(EXTRA))
def test_extra_samples_run_eagerly_as_in_pytorch(key: str) -> None:
    """An EXTRA row runs eagerly as in PyTorch (or raises PyTorch's error): the traced
    call is compared with this eager one."""
    ours, theirs = _extra_sample(key)
    assert _outcome(*ours, adjit) == _outcome(*theirs, torch)


def test_tables_name_swept_samples() -> None:
    keys = set(ALL_KEYS)
    for rows in (PYTHON_VALUE, SHAPE_FROM_VALUES, NOT_TRACEABLE, OUTSIDE_LAYOUT):
        assert sorted(k for k in rows if k not in keys) == []


def _callables(surface: str) -> list[str]:
    obj = adjit.Tensor if surface == "Tensor" else PAGE._resolve(adjit, surface) or adjit
    t_obj = torch.Tensor if surface == "Tensor" else PAGE._resolve(torch, surface) or torch
    names = []
    for name in PAGE._adjit_names(surface):
        value = getattr(obj, name)
        if not callable(value) or inspect.isclass(value) or inspect.ismodule(value):
            continue
        if getattr(t_obj, name, None) is None or name in PAGE.NOT_SAMPLED:
            continue  # adjit's own names (compile, explain, grad) are not ops
        if surface != "Tensor" and PAGE.STATEFUL.search(name):
            continue
        names.append(name)
    return names


# public callables with no sample to trace, and why
UNSAMPLED: dict[str, str] = {
    "nn.functional.handle_torch_function": "dispatches to __torch_function__ overrides, no op",
    "Tensor.backward": "the autograd entry point (issue 15: backward inside compile)",
    "Tensor.register_hook": "a hook, no op (issue 15: hooks inside compile)",
    "Tensor.register_post_accumulate_grad_hook": "a hook, no op",
    "Tensor.retain_grad": "autograd bookkeeping, no op",
    "Tensor.cuda": "no CUDA device",
    "Tensor.pin_memory": "no accelerator",
    "Tensor.as_subclass": "takes a Tensor subclass",
    "view_as_complex": "complex tensors are not compiled yet",
    "view_as_real": "complex tensors are not compiled yet",
    "imag": "complex tensors are not compiled yet",
    "promote_types": "dtypes, no tensor",
    "can_cast": "dtypes, no tensor",
    "from_numpy": "takes a NumPy array",
    "get_printoptions": "printing options",
    "finfo": "dtype information",
    "iinfo": "dtype information",
    "is_anomaly_enabled": "a mode flag",
    "is_grad_enabled": "a mode flag",
    "get_autocast_dtype": "a mode flag",
    "is_inference_mode_enabled": "a mode flag",
    "is_deterministic_algorithms_warn_only_enabled": "a mode flag",
    "are_deterministic_algorithms_enabled": "a mode flag",
    "enable_grad": "a mode",
    "inference_mode": "a mode",
    "no_grad": "a mode",
    "set_grad_enabled": "a mode",
    "view_as_complex_copy": "complex tensors are not compiled yet",
    "view_as_real_copy": "complex tensors are not compiled yet",
    "frombuffer": "takes a Python buffer",
    "from_file": "reads a file, no tensor",
    "native_norm": "sparse tensors only: PyTorch's CPU has no dense kernel (NotImplementedError)",
    **dict.fromkeys(
        [f"{n}_copy" for n in ("values", "indices", "crow_indices", "col_indices")]
        + ["ccol_indices_copy", "row_indices_copy"],
        "sparse tensors only: PyTorch's error on a dense one (tests/test_breadth_toplevel.py)",
    ),
    **dict.fromkeys(
        [f"Tensor.{n}" for n in ("indices", "values", "coalesce", "is_coalesced", "sparse_mask")]
        + [f"Tensor.{n}_indices" for n in ("crow", "col", "ccol", "row")],
        "sparse tensors (eager only, tests/runtime/test_sparse_vs_torch.py); PyTorch's error on a "
        "dense one",
    ),
}


@pytest.mark.parametrize("surface", [s for s, _ in PAGE.SURFACES])
def test_every_public_callable_is_swept(surface: str) -> None:
    """A name with neither a page sample nor an EXTRA row must be listed in UNSAMPLED."""
    swept = {k.partition(":")[0] for k in ALL_KEYS}
    missing = []
    for name in _callables(surface):
        qual = f"{surface}.{name}" if surface else name
        if qual not in swept and qual not in UNSAMPLED:
            missing.append(qual)
    assert missing == [], f"public names with no sample: add an EXTRA row: {missing}"


def test_a_data_read_is_seen() -> None:
    """The watch sees a read even when library code catches the error it raises."""

    def sneaky(t: Any) -> Any:
        with contextlib.suppress(Exception):
            bool(t.sum() > 0)
        return t + 1

    trace, reads = Trace(), []
    x = trace.new_input(Aval((2,), adjit.float32), False)
    with _watch(reads), tracing(trace):
        sneaky(x)
    assert len(reads) == 1 and reads[0].startswith("__bool__")


def test_a_read_of_a_tensor_from_outside_is_seen() -> None:
    """... and a read of a watched tensor from outside the trace, not its metadata."""
    t, trace, reads = _outside(adjit.ones(2)), Trace(), []
    with _watch(reads), tracing(trace):
        assert t.shape == (2,) and t.dtype == adjit.float32 and t.ndim == 1
        assert not reads
        t.sum()  # an eager sum would read the values; traced, it is lifted
        assert not reads
        t._data.sum()
    assert len(reads) == 1 and reads[0].startswith("_data of a tensor from outside")


# ---- tensors from outside the trace are read at every call ----------------------------------
def _outside_cases() -> dict[str, tuple[Callable[..., Any], list[Any]]]:
    """name -> (function of x closing over the tensors, those tensors), each changed in place
    between calls: a compiled call must see their new values, as eager code does."""
    w, idx, col = adjit.tensor([1.0, -2.0, 3.0]), adjit.tensor([0, 2]), adjit.tensor([0.5, 0.1])
    return {
        "detach": (lambda x: x * w.detach(), [w]),
        "data": (lambda x: x + w.data, [w]),
        "index": (lambda x: x[idx], [idx]),
        "setitem-index": (lambda x: x.clone().index_fill(0, idx, 7.0), [idx]),
        "cummax": (lambda x: (x + w).cummax(0).indices, [w]),
        "narrow": (lambda x: x.narrow(0, idx[0], 1), [idx]),
        "full": (lambda x: x + adjit.full((3,), col[0]), [col]),
    }


@pytest.mark.parametrize("name", list(_outside_cases()))
def test_tensors_from_outside_are_read_at_every_call(name: str) -> None:
    fn, closed = _outside_cases()[name]
    compiled = adjit.compile(fn, backend="interpreter")
    x = adjit.tensor([0.5, 1.5, -1.0])
    for _ in range(3):
        got, want = compiled(x), fn(x)
        assert got.dtype == want.dtype and got.tolist() == want.tolist()
        with adjit.no_grad():
            for t in closed:  # new values, same tensors
                t.copy_(t.flip(0) if t.dtype == adjit.int64 else t * -1.5)
    assert compiled.trace_count == 1


def test_an_outside_alias_reads_the_tensor_as_modified() -> None:
    w = adjit.ones(3)

    def step(x: Any) -> Any:
        with adjit.no_grad():
            w.mul_(2)
        return x + w.detach() + w.data

    compiled = adjit.compile(step, backend="interpreter")
    assert [compiled(adjit.zeros(3)).tolist() for _ in range(2)] == [[4.0] * 3, [8.0] * 3]
    assert w.tolist() == [4.0, 4.0, 4.0]


@pytest.mark.parametrize("alias", ["data", "detach"])
def test_writing_through_an_outside_alias_writes_the_tensor(alias: str) -> None:
    """As eagerly, a write through ``w.data`` (``w.detach()``) is a write into ``w`` at every
    call, read back through the alias (Note [writes through .data while tracing])."""
    w = adjit.ones(3)

    def step(x: Any) -> Any:
        view = w.data if alias == "data" else w.detach()
        view.mul_(2)
        return x + view

    compiled = adjit.compile(step, backend="interpreter")
    assert [compiled(adjit.zeros(3)).tolist() for _ in range(2)] == [[2.0] * 3, [4.0] * 3]
    assert w.tolist() == [4.0, 4.0, 4.0]


@pytest.mark.parametrize("backend", ["interpreter", "llvm"])
def test_batchnorm_cumulative_average_compiles(backend: str) -> None:
    """momentum=None divides by the batch count: each compiled call reads its own count."""
    eager, bn = adjit.nn.BatchNorm1d(3, momentum=None), adjit.nn.BatchNorm1d(3, momentum=None)
    step = adjit.compile(lambda x: bn(x).sum(), backend=backend)
    rng = np.random.default_rng(0)
    for _ in range(4):
        x = adjit.tensor(rng.standard_normal((5, 3)).astype(np.float32))
        eager(x), step(x)
    assert step.trace_count == 1 and int(bn.num_batches_tracked) == 4
    for got, want in [(bn.running_mean, eager.running_mean), (bn.running_var, eager.running_var)]:
        if backend == "interpreter":  # the same float32 operations, in the same order
            assert got.tolist() == want.tolist()
        else:  # fused kernels sum in another order: float32 rounding
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, atol=1e-7)


def test_histogram_has_no_derivative() -> None:
    """As PyTorch: eagerly the forward runs and a backward through the counts raises; a
    compiled call builds its backward with the forward, so the call raises that error."""
    fn = lambda x: adjit.histogram(x, 3, range=(0.0, 1.0)).hist.sum()  # noqa: E731
    x = adjit.tensor([0.1, 0.5, 0.7, 0.9], requires_grad=True)
    out = fn(x)
    assert out.item() == 4.0
    message = "derivative for aten::histogram is not implemented"
    with pytest.raises(RuntimeError, match=message):
        out.backward()
    with pytest.raises(RuntimeError, match=message):
        adjit.compile(fn, backend="interpreter")(x)
    assert adjit.compile(fn, backend="interpreter")(x.detach()).item() == 4.0


# ---- a value-dependent shape is a graph break (fullgraph=True: the error naming the op) ------
BREAKS: dict[str, tuple[Callable[[Any, Any], Any], str]] = {
    "nonzero": (lambda x, i: x.nonzero() * 2, "nonzero"),
    "argwhere": (lambda x, i: adjit.argwhere(x > 0.5) + 1, "argwhere"),
    "where": (lambda x, i: adjit.where(x > 0.5)[1] + 1, "where"),
    "masked_select": (lambda x, i: x.masked_select(x > 0.5) * 2, "masked_select"),
    "mask-index": (lambda x, i: x[x > 0.5] * 2, "boolean mask"),
    "unique": (lambda x, i: adjit.unique(i) + 1, "unique"),
    "bincount": (lambda x, i: adjit.bincount(i.flatten()) * 2, "bincount"),
    "one_hot": (lambda x, i: adjit.nn.functional.one_hot(i) * 2, "one_hot"),
    "arange": (lambda x, i: adjit.arange(i.max()) * 2, "arange"),
    "repeat_interleave": (lambda x, i: x.repeat_interleave(i[0], 1) * 2, "repeat_interleave"),
    "tensor_split": (lambda x, i: x.tensor_split(i[0, :2], 1)[1] * 2, "tensor_split"),
    "histc": (lambda x, i: x.histc(3) * 2, "histc"),
}


@pytest.mark.parametrize("name", list(BREAKS))
def test_a_value_dependent_shape_is_a_graph_break(name: str) -> None:
    fn, op = BREAKS[name]
    x = adjit.tensor([[0.25, 0.75, 1.0], [0.5, 0.9, 0.1]])
    i = adjit.tensor([[2, 0, 1], [1, 1, 3]])
    with pytest.raises(adjit.TracingError, match=op):
        adjit.compile(fn, backend="interpreter", fullgraph=True)(x, i)
    compiled = adjit.compile(fn, backend="interpreter")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the warning that the function was split)
        for _ in range(2):
            got, want = compiled(x, i), fn(x, i)
            assert got.dtype == want.dtype and got.tolist() == want.tolist()
            x, i = x.flip(0), i.flip(1)


@pytest.mark.parametrize("name", list(MODULES.REFUSES))
def test_modules_that_read_values_break_the_graph(name: str) -> None:
    """The layers fullgraph=True refuses (tests/nn/test_modules_compile.py) compile with a
    graph break, forward and backward equal to eager (fresh modules: max_norm writes the
    weight)."""
    make, build = MODULES.REFUSES[name][:2]
    module, inputs = MODULES._setup(make, build)
    eager = MODULES._run(name, MODULES._step(module), module, inputs)
    module, inputs = MODULES._setup(make, build)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the warning that the function was split)
        compiled = MODULES._run(name, adjit.compile(MODULES._step(module)), module, inputs)
    assert len(compiled) == len(eager) > 2
    for c, e in zip(compiled, eager, strict=True):
        np.testing.assert_allclose(c, e, rtol=1e-12, atol=1e-12)
