"""Common torch.* names programs use beyond the op tables, side by side with PyTorch: constants,
layouts, storages, DLPack and buffers, settings, view copies' odd members, torch.Size."""

from __future__ import annotations

import array
import math
import pickle
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")


def _error(fn: Callable[[Any], Any], T: Any) -> BaseException:
    with pytest.raises(Exception) as info:  # noqa: PT011 - the type is compared with torch's
        fn(T)
    return info.value


def _same_error(fn: Callable[[Any], Any]) -> None:
    got, want = _error(fn, adjit), _error(fn, torch)
    assert type(got) is type(want), (got, want)
    assert str(got) == str(want)


# ---- constants and layouts -------------------------------------------------------------------
def test_constants_as_torch() -> None:
    for name in ("inf", "pi", "e"):
        assert type(getattr(adjit, name)) is type(getattr(torch, name)) is float
        assert getattr(adjit, name) == getattr(torch, name)
    assert math.isnan(adjit.nan) and type(adjit.nan) is float
    assert adjit.newaxis is None is torch.newaxis
    assert adjit.ones(3)[adjit.newaxis].shape == (1, 3)


LAYOUTS = ["strided", "sparse_coo", "sparse_csr", "sparse_csc", "sparse_bsr", "sparse_bsc"]
LAYOUTS += ["_mkldnn", "jagged"]


@pytest.mark.parametrize("name", LAYOUTS)
def test_layout_objects_print_as_torch(name: str) -> None:
    ours, theirs = getattr(adjit, name), getattr(torch, name)
    assert isinstance(ours, adjit.layout)
    assert repr(ours) == repr(theirs) and str(ours) == str(theirs)
    assert pickle.loads(pickle.dumps(ours)) is ours


def test_layout_cannot_be_made_and_tensors_are_strided() -> None:
    _same_error(lambda T: T.layout())
    assert adjit.ones(2, 3).layout is adjit.strided
    assert adjit.ones(2, 3).t().layout is adjit.strided


FACTORIES: list[Callable[[Any, Any], Any]] = [
    lambda T, lay: T.zeros(2, 3, layout=lay),
    lambda T, lay: T.ones((2,), layout=lay),
    lambda T, lay: T.empty(2, layout=lay),
    lambda T, lay: T.full((2,), 1.5, layout=lay),
    lambda T, lay: T.zeros_like(T.ones(2), layout=lay),
    lambda T, lay: T.ones_like(T.ones(2), layout=lay),
    lambda T, lay: T.full_like(T.ones(2), 3, layout=lay),
    lambda T, lay: T.arange(3, layout=lay),
    lambda T, lay: T.linspace(0, 1, 3, layout=lay),
    lambda T, lay: T.logspace(0, 1, 3, layout=lay),
    lambda T, lay: T.eye(2, layout=lay),
    lambda T, lay: T.hann_window(4, layout=lay),
    lambda T, lay: T.bartlett_window(5, layout=lay),
    lambda T, lay: T.empty_strided((2, 2), (1, 2), layout=lay),
    lambda T, lay: T.empty_permuted((2, 2), (1, 0), layout=lay),
]
# draws: compared by shape (the values are tests/runtime/test_random_vs_torch.py's)
DRAWS: list[Callable[[Any, Any], Any]] = [
    lambda T, lay: T.rand(2, 3, layout=lay),
    lambda T, lay: T.randn(2, layout=lay),
    lambda T, lay: T.randint(0, 5, (3,), layout=lay),
    lambda T, lay: T.randperm(4, layout=lay),
    lambda T, lay: T.rand_like(T.ones(2), layout=lay),
    lambda T, lay: T.randn_like(T.ones(2), layout=lay),
    lambda T, lay: T.randint_like(T.ones(2), 3, layout=lay),
    lambda T, lay: T.normal(0.0, 1.0, (2,), layout=lay),
]


@pytest.mark.parametrize("make", FACTORIES)
def test_factories_take_layout(make: Callable[[Any, Any], Any]) -> None:
    for lay in ("strided", None):
        got = make(adjit, getattr(adjit, lay) if lay else None)
        want = make(torch, getattr(torch, lay) if lay else None)
        assert got.layout is adjit.strided and want.layout is torch.strided
        assert got.shape == want.shape and str(got.dtype) == str(want.dtype)
        if make not in (FACTORIES[2], FACTORIES[13], FACTORIES[14]):  # (empty's: unspecified)
            np.testing.assert_array_equal(got.numpy(), want.numpy())
    with pytest.raises(NotImplementedError, match="'SparseCPU' backend"):
        make(adjit, adjit.sparse_coo)
    with pytest.raises(NotImplementedError, match="'MkldnnCPU' backend"):
        make(adjit, adjit._mkldnn)


@pytest.mark.parametrize("make", DRAWS)
def test_draws_take_layout(make: Callable[[Any, Any], Any]) -> None:
    got, want = make(adjit, adjit.strided), make(torch, torch.strided)
    assert got.shape == want.shape and str(got.dtype) == str(want.dtype)
    with pytest.raises(NotImplementedError, match="'SparseCPU' backend"):
        make(adjit, adjit.sparse_coo)


def test_layout_argument_type_error_as_torch() -> None:
    _same_error(lambda T: T.zeros(2, layout=3))


# ---- Tensor queries ---------------------------------------------------------------------------
def test_tensor_queries_as_torch() -> None:
    for T in (adjit, torch):
        x = T.arange(6.0).reshape(2, 3)
        assert x.name is None and x.output_nr == 0
        assert x.is_same_size(T.ones(2, 3)) and not x.is_same_size(T.ones(3, 2))
        assert x.get_device() == T.get_device(x) == -1
    _same_error(lambda T: T.get_device(3))


DIM_ORDERS: list[Callable[[Any], Any]] = [
    lambda T: T.zeros(2, 3, 5, 7),
    lambda T: T.zeros(2, 3, 5, 7).transpose(1, 2),
    lambda T: T.zeros(2, 3, 5, 7).permute(0, 2, 3, 1),
    lambda T: T.zeros(2, 3, 5, 7).permute(3, 1, 0, 2),
    lambda T: T.zeros(1, 2, 3, 4),
    lambda T: T.zeros(4, 3)[:, ::2],
    lambda T: T.zeros(5),
    lambda T: T.tensor(1.0),
]


@pytest.mark.parametrize("make", DIM_ORDERS)
@pytest.mark.parametrize("check", [False, True, [], "formats"])
def test_dim_order_as_torch(make: Callable[[Any], Any], check: Any) -> None:
    def run(T: Any) -> Any:
        arg = [T.contiguous_format, T.channels_last] if check == "formats" else check
        try:
            return make(T).dim_order(ambiguity_check=arg)
        except (RuntimeError, TypeError) as e:
            return type(e), str(e)

    assert run(adjit) == run(torch)


def test_dim_order_bad_check_as_torch() -> None:
    _same_error(lambda T: T.zeros(2, 3).dim_order(ambiguity_check="ILLEGAL"))
    _same_error(lambda T: T.zeros(2, 3).dim_order(ambiguity_check=[1]))


def test_resize_deprecated_as_torch() -> None:
    outs = []
    for T in (adjit, torch):
        x = T.arange(6.0, requires_grad=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            y = x.resize(2, 3)
            z = x.resize_as(T.ones(3, 2))
        assert [str(w.message) for w in caught] == [
            "non-inplace resize is deprecated",
            "non-inplace resize_as is deprecated",
        ]
        assert caught[0].filename == __file__
        assert type(y.grad_fn).__name__ == "ResizeBackward"
        (y.sum() * 2 + (z * T.arange(6.0).reshape(3, 2)).sum()).backward()
        outs.append((y.detach().numpy(), z.detach().numpy(), x.grad.numpy()))
    for a, b in zip(*outs, strict=True):
        np.testing.assert_array_equal(a, b)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _same_error(lambda T: T.arange(6.0).resize(4))
        _same_error(lambda T: T.arange(6.0).resize((3, 2)))  # (PyTorch's tuple-size error)


def test_prelu_method_as_torch() -> None:
    outs = []
    for T in (adjit, torch):
        x = T.tensor([[-1.0, 2.0], [3.0, -4.0]], requires_grad=True)
        w = T.tensor([0.25, 0.5], requires_grad=True)
        y = x.prelu(w)
        y.sum().backward()
        outs.append((y.detach().numpy(), x.grad.numpy(), w.grad.numpy(), y.grad_fn.name()))
    assert outs[0][3] == outs[1][3]
    for a, b in zip(outs[0][:3], outs[1][:3], strict=True):
        np.testing.assert_array_equal(a, b)


# ---- storages ---------------------------------------------------------------------------------
def test_untyped_storage_as_torch() -> None:
    a, t = adjit.arange(6.0).reshape(2, 3), torch.arange(6.0).reshape(2, 3)
    ua, ut = a.untyped_storage(), t.untyped_storage()
    assert ua.data_ptr() == a.data_ptr()
    assert (ua.nbytes(), ua.size(), len(ua), ua.element_size()) == (
        ut.nbytes(), ut.size(), len(ut), ut.element_size()
    )  # fmt: skip
    assert ua.tolist() == ut.tolist() and ua[4] == ut[4]
    assert str(ua.device) == str(ut.device) == "cpu"
    assert str(ua) == str(ut) and repr(ua) == repr(ut)
    # views share the storage (checkpoint and dedup code key on its data_ptr)
    for x in (a, t):
        for v in (x[1:], x.t(), x.view(-1), x[:, 1]):
            assert v.untyped_storage().data_ptr() == x.untyped_storage().data_ptr()
            assert v.untyped_storage() is x.untyped_storage()
        assert x.clone().untyped_storage().data_ptr() != x.untyped_storage().data_ptr()
    assert [v.storage_offset() for v in (a[1:], a[:, 1], a.t()[2])] == [
        v.storage_offset() for v in (t[1:], t[:, 1], t.t()[2])
    ]


def test_typed_storage_as_torch() -> None:
    import torch.storage as ts
    from adjit.runtime import storage

    ts._reset_warn_typed_storage_removal()  # both warn once per process: from now on
    storage._WARNED[0] = False
    got, want = [], []
    for T, out in ((adjit, got), (torch, want)):
        x = T.arange(6.0).reshape(2, 3)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            s = x[1:].storage()
            out.append(
                (s.size(), len(s), s.nbytes(), s.element_size(), str(s.dtype), s.tolist(), s[1])
            )
            out.append((str(s), s.type(), s.data_ptr() == x.data_ptr(), s.is_shared()))
            out.append(type(s.untyped()).__name__)
        out.append([str(w.message) for w in caught][:1])
    assert got == want


def test_storage_classes_as_torch() -> None:
    assert adjit.Storage is adjit.FloatStorage
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in ("FloatStorage", "DoubleStorage", "LongStorage", "BoolStorage"):
            ours, theirs = getattr(adjit, name)([1, 0, 2]), getattr(torch, name)([1, 0, 2])
            assert (str(ours.dtype), ours.tolist()) == (str(theirs.dtype), theirs.tolist())
        assert adjit.UntypedStorage(3).tolist() == [0, 0, 0]  # (PyTorch's are unspecified)
        assert len(adjit.UntypedStorage(3)) == len(torch.UntypedStorage(3))
        assert adjit.UntypedStorage([1, 255]).tolist() == torch.UntypedStorage([1, 255]).tolist()
        ours = adjit.TypedStorage(2, dtype=adjit.float64)
        assert str(ours.dtype) == "torch.float64" and ours.tolist() == [0.0, 0.0]
    x = adjit.ones(2)
    assert adjit.is_storage(x.untyped_storage()) and not adjit.is_storage(x)


def test_share_memory_as_torch() -> None:
    for T in (adjit, torch):
        x = T.arange(4.0)
        assert not x.is_shared()
        assert x.share_memory_() is x
        assert x.is_shared() and x[1:].is_shared()


def test_storage_of_a_traced_tensor_refused() -> None:
    with pytest.raises(RuntimeError, match="Cannot access storage of a tensor being traced"):
        adjit.compile(lambda x: x.untyped_storage(), fullgraph=True)(adjit.ones(2))


# ---- DLPack and buffers ----------------------------------------------------------------------
def test_dlpack_round_trips_with_numpy_and_torch() -> None:
    x = adjit.arange(6.0).reshape(2, 3)
    n = np.from_dlpack(x)  # NumPy reads adjit's __dlpack__
    assert n.ctypes.data == x.data_ptr() and n.tolist() == x.tolist()
    t = torch.from_dlpack(x)  # so does PyTorch
    assert t.data_ptr() == x.data_ptr()
    t[0, 0] = 7.0  # shared memory
    assert x[0, 0].item() == 7.0
    back = adjit.from_dlpack(t)
    assert back.data_ptr() == t.data_ptr() and back.tolist() == t.tolist()
    a = np.arange(4, dtype=np.int32)
    y = adjit.from_dlpack(a)
    assert y.dtype is adjit.int32 and y.data_ptr() == a.ctypes.data
    z = adjit.from_dlpack(adjit.to_dlpack(adjit.arange(3)))
    assert z.tolist() == [0, 1, 2] and z.dtype is adjit.int64
    assert x.__dlpack_device__() == torch.ones(1).__dlpack_device__() == (1, 0)


def test_dlpack_errors_as_torch() -> None:
    _same_error(lambda T: T.ones(2, requires_grad=True).__dlpack__())
    _same_error(lambda T: np.from_dlpack(T.ones(2, requires_grad=True)))
    _same_error(lambda T: T.from_dlpack([1, 2]))
    for T in (adjit, torch):  # a capsule is consumed once
        capsule = T.to_dlpack(T.ones(2))
        T.from_dlpack(capsule)
    _same_error(lambda T: T.to_dlpack(3))


BUFFERS: list[Callable[[Any], Any]] = [
    lambda T: T.frombuffer(bytearray(b"\x01\x00\x00\x00\x02\x00\x00\x00"), dtype=T.int32),
    lambda T: T.frombuffer(bytearray(8), dtype=T.int32, offset=4, count=1),
    lambda T: T.frombuffer(array.array("d", [1.5, 2.5, 3.5]), dtype=T.float64, offset=8),
    lambda T: T.frombuffer(bytearray(8), dtype=T.float32, requires_grad=True),
    lambda T: T.frombuffer(bytearray(7), dtype=T.int32),
    lambda T: T.frombuffer(bytearray(8), dtype=T.int32, count=3),
    lambda T: T.frombuffer(bytearray(8), dtype=T.int32, offset=9),
    lambda T: T.frombuffer(bytearray(0), dtype=T.int32),
    lambda T: T.frombuffer(3, dtype=T.int32),
]


@pytest.mark.parametrize("make", BUFFERS)
def test_frombuffer_as_torch(make: Callable[[Any], Any]) -> None:
    def run(T: Any) -> Any:
        try:
            t = make(T)
        except Exception as e:
            return type(e), str(e)
        return t.tolist(), str(t.dtype), t.requires_grad

    assert run(adjit) == run(torch)


def test_frombuffer_shares_memory() -> None:
    buf = bytearray(8)
    x = adjit.frombuffer(buf, dtype=adjit.int32)
    x.fill_(3)
    assert buf == bytearray(b"\x03\x00\x00\x00\x03\x00\x00\x00")


# ---- settings --------------------------------------------------------------------------------
def test_settings_as_torch() -> None:
    for T in (adjit, torch):
        assert T.compiled_with_cxx11_abi() is True
        assert T.init_num_threads() is None
        assert T.is_warn_always_enabled() is False
        T.set_warn_always(True)
        assert T.is_warn_always_enabled() is True
        T.set_warn_always(False)
        assert T.is_anomaly_check_nan_enabled() is True
        T.set_anomaly_enabled(True, False)
        assert T.is_anomaly_enabled() and not T.is_anomaly_check_nan_enabled()
        T.set_anomaly_enabled(False)
        assert not T.is_anomaly_enabled() and T.is_anomaly_check_nan_enabled()
        assert T.set_flush_denormal(False) is True
        assert (T.has_lapack, T.has_mkl, T.has_openmp, T.has_spectral) == (True,) * 4
    _same_error(lambda T: T.set_warn_always(1))
    _same_error(lambda T: T.set_flush_denormal(1))


def test_flush_denormal_is_refused_not_faked() -> None:
    # adjit keeps denormals: asking to flush them answers False (unsupported), and they stay
    assert adjit.set_flush_denormal(True) is False
    assert (adjit.tensor([1e-323], dtype=adjit.float64) * 1).item() != 0.0
    torch.set_flush_denormal(False)


def test_out_of_memory_error_is_a_runtime_error() -> None:
    assert issubclass(adjit.OutOfMemoryError, RuntimeError)
    with pytest.raises(RuntimeError):
        raise adjit.OutOfMemoryError("out of memory")


# ---- view copies not in the op table ---------------------------------------------------------
def test_detach_copy_as_torch() -> None:
    for T in (adjit, torch):
        x = T.arange(3.0, requires_grad=True)
        y = T.detach_copy(x)
        assert y.requires_grad and y.tolist() == [0.0, 1.0, 2.0]
        assert type(y.grad_fn).__name__ == "NotImplemented" or T is torch
        assert y.data_ptr() != x.data_ptr()
    _same_error(lambda T: T.detach_copy(T.ones(2, requires_grad=True)).sum().backward())


SPARSE_ONLY = ["values_copy", "indices_copy", "crow_indices_copy", "col_indices_copy"]
SPARSE_ONLY += ["ccol_indices_copy", "row_indices_copy"]


@pytest.mark.parametrize("name", SPARSE_ONLY)
def test_sparse_view_copies_refuse_dense_as_torch(name: str) -> None:
    _same_error(lambda T: getattr(T, name)(T.ones(2)))


def test_complex_view_copies_as_torch() -> None:
    got, want = [], []
    for T, out in ((adjit, got), (torch, want)):
        z = T.tensor([1 + 2j, 3 - 4j], requires_grad=True)
        r = T.view_as_real_copy(z)
        c = T.view_as_complex_copy(T.tensor([[1.0, 2.0], [3.0, 4.0]]))
        out.append((r.tolist(), r.grad_fn.name(), r.data_ptr() != z.data_ptr(), c.tolist()))
    assert got == want


def test_view_copy_dtype_as_torch() -> None:
    got = adjit.view_copy(adjit.arange(4.0), adjit.int32)
    want = torch.view_copy(torch.arange(4.0), torch.int32)
    assert got.tolist() == want.tolist() and got.dtype is adjit.int32


ERRORS: list[Callable[[Any], Any]] = [
    lambda T: T.split_with_sizes(T.ones(3), 2),
    lambda T: T.split_with_sizes(T.ones(3), [1, 1]),
    lambda T: T.ones(3).split_with_sizes([1, -1, 3]),
    lambda T: T.permute_copy(T.ones(2, 3), (0, 0)),
    lambda T: T.select_copy(T.ones(2, 3), 1, 3),
    lambda T: T.narrow_copy(T.ones(2, 3), 1, 2, 2),
    lambda T: T.narrow_copy(T.ones(2, 3), 7, 0, 1),
    lambda T: T.ones(2, 3).narrow_copy(-7, 0, 1),
    lambda T: T.t_copy(T.ones(2, 3, 4)),
    lambda T: T.view_copy(T.ones(2, 3), (4,)),
    lambda T: T.nonzero_static(T.ones(3), size=-1),
    lambda T: T.empty_permuted((2, 3), (0, 0)),
    lambda T: T.empty_permuted((2, 3), (0,)),
]


@pytest.mark.parametrize("fn", ERRORS)
def test_errors_as_torch(fn: Callable[[Any], Any]) -> None:
    got, want = _error(fn, adjit), _error(fn, torch)
    assert isinstance(got, type(want)), (got, want)
    assert type(got).__name__ == type(want).__name__ and str(got) == str(want)


def test_copies_own_their_memory() -> None:
    x = adjit.arange(12.0).reshape(3, 4)
    for y in (adjit.alias_copy(x), adjit.t_copy(x), adjit.narrow_copy(x, 1, 0, 2)):
        assert y.untyped_storage().data_ptr() != x.untyped_storage().data_ptr()
        assert y.is_contiguous()
    parts = adjit.split_with_sizes(x, [1, 2])  # a view, as PyTorch's
    assert parts[1].untyped_storage().data_ptr() == x.untyped_storage().data_ptr()


# ---- empty_permuted, nonzero_static ---------------------------------------------------------
@pytest.mark.parametrize("order", [(0, 1, 2), (0, 2, 1), (2, 0, 1)])
def test_empty_permuted_strides_as_torch(order: tuple[int, ...]) -> None:
    got = adjit.empty_permuted((2, 3, 4), order, dtype=adjit.float64)
    want = torch.empty_permuted((2, 3, 4), order, dtype=torch.float64)
    assert got.stride() == want.stride() and got.shape == want.shape
    assert got.dtype is adjit.float64 and got.dim_order() == want.dim_order()


@pytest.mark.parametrize("size", [0, 2, 5, 9])
def test_nonzero_static_compiled_as_torch(size: int) -> None:
    data = np.array([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0], [0.0, 0.0, 3.0]])
    want = torch.nonzero_static(torch.from_numpy(data), size=size, fill_value=-7).numpy()
    f = adjit.compile(lambda x: adjit.nonzero_static(x, size=size, fill_value=-7), fullgraph=True)
    np.testing.assert_array_equal(f(adjit.from_numpy(data)).numpy(), want)
    eager = adjit.nonzero_static(adjit.from_numpy(data), size=size, fill_value=-7)
    np.testing.assert_array_equal(eager.numpy(), want)
    for zero_dim in (0.0, 3.0):
        got = adjit.nonzero_static(adjit.tensor(zero_dim), size=size)
        assert got.shape == torch.nonzero_static(torch.tensor(zero_dim), size=size).shape


# ---- gradients through view copies, compiled vs eager vs torch ------------------------------
def _chain(T: Any, x: Any) -> Any:
    a = T.permute_copy(x, (1, 0))
    b, c = T.split_with_sizes_copy(a, [1, 2], 0)
    d = T.unsqueeze_copy(T.select_copy(c, 1, 1), 0)
    return (
        (T.t_copy(b) * 2).sum()
        + (d * T.expand_copy(d, (3, 2))).sum()
        + T.narrow_copy(x, 0, 1, 1).sum()
    )


def test_view_copy_chain_gradients_compiled_eager_torch() -> None:
    data = np.arange(1.0, 10.0).reshape(3, 3) / 7
    t = torch.from_numpy(data.copy()).requires_grad_()
    _chain(torch, t).backward()
    for run in (lambda f: f, adjit.compile):
        x = adjit.from_numpy(data.copy()).requires_grad_()
        out = run(lambda x: _chain(adjit, x))(x)
        out.backward()
        np.testing.assert_allclose(out.item(), _chain(torch, t).item(), rtol=1e-15)
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-15)


# ---- torch.Size ------------------------------------------------------------------------------
SIZE_OPS: list[Callable[[Any], Any]] = [
    lambda s: s[1:],
    lambda s: s[::-1],
    lambda s: s[0],
    lambda s: s[-1:],
    lambda s: s + (5,),
    lambda s: (5,) + s,
    lambda s: s + s,
    lambda s: s * 2,
    lambda s: 2 * s,
    lambda s: s * 0,
    lambda s: s * True,
    lambda s: s + [1],
    lambda s: s * 2.5,
]


@pytest.mark.parametrize("op", SIZE_OPS)
def test_size_ops_as_torch(op: Callable[[Any], Any]) -> None:
    def run(T: Any) -> Any:
        try:
            r = op(T.Size([2, 3, 4]))
        except TypeError as e:
            return str(e)
        return type(r).__name__, repr(r)

    assert run(adjit) == run(torch)


def test_size_of_a_tensor_slices_to_a_size() -> None:
    s = adjit.ones(2, 3, 4).shape
    assert isinstance(s[1:], adjit.Size) and s[1:].numel() == 12
    assert repr(s[:-1] + (7,)) == "torch.Size([2, 3, 7])"


@pytest.mark.parametrize("name", ["has_cuda", "has_mps", "has_cudnn", "has_mkldnn"])
def test_deprecated_has_flags_warn_as_torch(name: str) -> None:
    seen = []
    for T in (adjit, torch):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            value = getattr(T, name)
        assert caught[0].filename == __file__
        seen.append((value, [str(w.message) for w in caught]))
    assert seen[0] == seen[1]
    with pytest.raises(AttributeError, match="has no attribute 'has_nothing'"):
        _ = adjit.has_nothing


SIZE_MADE: list[Callable[[Any], Any]] = [
    lambda T: T.Size([True, 2]),
    lambda T: T.Size([T.tensor(3), 2]),
    lambda T: T.Size([T.tensor([3, 4])]),
    lambda T: T.Size([T.tensor(2.0)]),
    lambda T: T.Size([None]),
    lambda T: T.Size([1.5]),
    lambda T: T.Size(3),
    lambda T: T.Size(),
    lambda T: T.Size(x for x in (1, 2)),
    lambda T: T.Size([np.int64(3), 4]),
]


@pytest.mark.parametrize("make", SIZE_MADE)
def test_size_constructor_as_torch(make: Callable[[Any], Any]) -> None:
    def run(T: Any) -> Any:
        try:
            s = make(T)
        except TypeError as e:
            return str(e)
        return repr(s), [type(v).__name__ for v in s], s == tuple(s)

    assert run(adjit) == run(torch)


def test_dlpack_with_jax() -> None:
    jnp = pytest.importorskip("jax.numpy")
    x = adjit.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(np.asarray(jnp.from_dlpack(x)), x.numpy())
    back = adjit.from_dlpack(jnp.arange(4.0))
    assert back.dtype is adjit.float32 and back.tolist() == [0.0, 1.0, 2.0, 3.0]
