"""What scripts call in their first lines, side by side with PyTorch (a CPU build): cuda,
backends, devices, threads, determinism, tensor metadata, memory formats, torch.special."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from adjit.runtime import kernels, native_pool, workers

import adjit

torch = pytest.importorskip("torch")


def _outcome(fn: Callable[[Any], Any], T: Any) -> Any:
    """The result (as comparable Python values) or the error's type and text."""
    try:
        out = fn(T)
    except Exception as e:  # noqa: BLE001 - the error is what is compared
        return type(e).__name__, str(e)
    if isinstance(out, (adjit.Tensor, torch.Tensor)):
        return "tensor", str(out.dtype), tuple(out.shape), out.detach().numpy().tolist()
    if isinstance(out, (adjit.device, torch.device)):
        return "device", repr(out), str(out), out.type, out.index
    return out


SAME: list[tuple[str, Callable[[Any], Any]]] = [
    # torch.cuda
    ("cuda.is_available", lambda T: T.cuda.is_available()),
    ("cuda.device_count", lambda T: T.cuda.device_count()),
    ("cuda.manual_seed", lambda T: T.cuda.manual_seed(3)),
    ("cuda.manual_seed_all", lambda T: T.cuda.manual_seed_all(3)),
    ("cuda.empty_cache", lambda T: T.cuda.empty_cache()),
    ("cuda.is_initialized", lambda T: T.cuda.is_initialized()),
    ("cuda.memory_allocated", lambda T: T.cuda.memory_allocated()),
    ("cuda.current_device", lambda T: T.cuda.current_device()),
    ("cuda.synchronize", lambda T: T.cuda.synchronize()),
    ("cuda.is_bf16_supported", lambda T: T.cuda.is_bf16_supported()),
    # torch.backends
    ("cudnn flags", lambda T: (T.backends.cudnn.deterministic, T.backends.cudnn.benchmark,
                               T.backends.cudnn.enabled, T.backends.cudnn.is_available())),
    ("mps", lambda T: (T.backends.mps.is_available(), T.backends.mps.is_built())),
    ("mkldnn openmp mkl", lambda T: (T.backends.mkldnn.is_available(),
                                     T.backends.openmp.is_available(),
                                     T.backends.mkl.is_available())),
    ("backends.cuda", lambda T: (T.backends.cuda.is_built(), T.backends.cuda.matmul.allow_tf32)),
    ("cpu capability", lambda T: T.backends.cpu.get_cpu_capability()),
    # settings
    ("deterministic default", lambda T: T.are_deterministic_algorithms_enabled()),
    ("deterministic bad", lambda T: T.use_deterministic_algorithms("yes")),
    ("matmul precision", lambda T: T.get_float32_matmul_precision()),
    ("set_num_threads 0", lambda T: T.set_num_threads(0)),
    ("set_num_threads float", lambda T: T.set_num_threads(1.5)),
    ("interop threads", lambda T: T.get_num_interop_threads()),
    # devices
    ("device cpu", lambda T: T.device("cpu")),
    ("device cpu 0", lambda T: T.device("cpu", 0)),
    ("device cpu:0", lambda T: T.device("cpu:0")),
    ("device cuda", lambda T: T.device("cuda")),
    ("device cuda:1", lambda T: T.device("cuda:1")),
    ("device of device", lambda T: T.device(T.device("cpu", 0))),
    ("device meta", lambda T: T.device("meta")),
    ("device eq", lambda T: (T.device("cpu") == T.device("cpu"),
                             T.device("cpu") == T.device("cpu", 0), T.device("cpu") == "cpu")),
    ("device hash", lambda T: len({T.device("cpu"), T.device("cpu"), T.device("cpu", 0)})),
    ("device foo", lambda T: T.device("foo")),
    ("device cuda:x", lambda T: T.device("cuda:x")),
    ("device negative", lambda T: T.device("cpu", -1)),
    ("device int", lambda T: T.device(0)),
    ("tensor.device", lambda T: T.ones(2).device),
    ("device= cpu", lambda T: T.zeros(2, device="cpu")),
    ("device= cpu:1", lambda T: T.ones(2, device="cpu:1")),
    ("device= device", lambda T: T.arange(3, device=T.device("cpu"))),
    ("device= cuda", lambda T: T.ones(2, device="cuda")),
    ("tensor device= cuda", lambda T: T.tensor([1.0], device="cuda")),
    ("device= int", lambda T: T.ones(2, device=0)),
    ("to cuda", lambda T: T.ones(2).to("cuda")),
    ("to cuda device", lambda T: T.ones(2).to(T.device("cuda"))),
    (".cuda()", lambda T: T.ones(2).cuda()),
    ("to cpu dtype", lambda T: T.ones(2).to("cpu", T.float64)),
    ("to device= dtype=", lambda T: T.ones(2).to(device="cpu", dtype=T.int32)),
    ("to tensor", lambda T: T.ones(2).to(T.zeros(1, dtype=T.int64))),
    ("to copy flags", lambda T: [T.ones(2).to(*a, **k) is not None for a, k in [
        ((T.float32, True), {}), ((T.float32, False, True), {}), (("cpu",), {"copy": True})]]),
    ("to is self", lambda T: _to_identity(T)),
    ("pin_memory", lambda T: T.ones(2).pin_memory()),
    ("is_pinned", lambda T: T.ones(2).is_pinned()),
    # metadata
    ("is_cuda is_cpu get_device", lambda T: (T.ones(2).is_cuda, T.ones(2).is_cpu,
                                              T.ones(2).get_device())),
    ("nbytes itemsize", lambda T: (T.ones(2, 3).nbytes, T.ones(2, 3, dtype=T.float64).itemsize,
                                   T.ones(5, dtype=T.uint8).nbytes)),
    ("element_size", lambda T: T.ones(2, dtype=T.int16).element_size()),
    ("stride", lambda T: (T.ones(2, 3, 4).stride(), T.ones(2, 3, 4).stride(1),
                          T.ones(2, 3, 4).stride(-1))),
    ("stride out of range", lambda T: T.ones(2, 3).stride(2)),
    ("view strides", lambda T: (T.ones(2, 3).t().stride(), T.ones(4, 6)[:, ::2].stride())),
    ("storage_offset", lambda T: (T.ones(2, 3)[:, 1:].storage_offset(),
                                  T.ones(2, 3)[1].storage_offset(), T.ones(3).storage_offset(),
                                  T.arange(10)[3:7].storage_offset())),
    ("is_contiguous", lambda T: (T.ones(2, 3).is_contiguous(), T.ones(2, 3).t().is_contiguous(),
                                 T.ones(2, 3)[:, :1].is_contiguous())),
    ("contiguous copies", lambda T: T.ones(2, 3).t().contiguous().stride()),
    ("clone preserve", lambda T: T.ones(2, 3).t().clone().stride()),
    ("clone contiguous", lambda T: T.ones(2, 3).t().clone(memory_format=T.contiguous_format)
     .stride()),
    ("channels_last", lambda T: T.ones(2, 3, 4, 5).contiguous(memory_format=T.channels_last)
     .stride()),
    ("channels_last flags", lambda T: (
        T.ones(2, 3, 4, 5).contiguous(memory_format=T.channels_last).is_contiguous(),
        T.ones(2, 3, 4, 5).contiguous(memory_format=T.channels_last)
        .is_contiguous(memory_format=T.channels_last),
        T.ones(2, 3, 4, 5).is_contiguous(memory_format=T.channels_last))),
    ("channels_last clone keeps", lambda T: T.ones(2, 3, 4, 5)
     .contiguous(memory_format=T.channels_last).clone().stride()),
    ("channels_last rank 2", lambda T: T.ones(2, 3).contiguous(memory_format=T.channels_last)),
    ("contiguous preserve", lambda T: T.ones(2, 3).t().contiguous(
        memory_format=T.preserve_format)),
    ("to memory_format", lambda T: T.ones(2, 3, 4, 5).to(memory_format=T.channels_last)
     .stride()),
    ("memory format reprs", lambda T: (repr(T.preserve_format), repr(T.contiguous_format),
                                       repr(T.channels_last), repr(T.channels_last_3d))),
    ("is_tensor is_storage", lambda T: (T.is_tensor(T.ones(1)), T.is_tensor(3),
                                        T.is_storage(T.ones(1)), T.is_floating_point(T.ones(1)),
                                        T.is_floating_point(T.ones(1, dtype=T.int64)))),
    ("numel", lambda T: (T.numel(T.ones(2, 3)), T.ones(4, 5).numel(), T.ones(0, 3).nelement())),
    ("is_nonzero", lambda T: (T.tensor(0.0).is_nonzero(), T.tensor([2]).is_nonzero(),
                              T.is_nonzero(T.tensor([[True]])))),
    ("is_nonzero many", lambda T: T.ones(2).is_nonzero()),
    ("is_nonzero empty", lambda T: T.tensor([]).is_nonzero()),
    # grad modes
    ("grad enabled", lambda T: (T.is_grad_enabled(), T.ones(1, requires_grad=True).mul(2)
                                .requires_grad)),
    ("set_grad_enabled", lambda T: _set_grad_enabled(T)),
    ("inference_mode", lambda T: _inference_mode(T)),
    ("anomaly", lambda T: _anomaly(T)),
]  # fmt: skip


def _to_identity(T: Any) -> tuple:
    x = T.ones(2)
    return (x.to(T.float32, True) is x, x.to(T.float32, False, True) is x,
            x.to(x, copy=True) is x, x.to("cpu") is x, x.cpu() is x)  # fmt: skip


def _set_grad_enabled(T: Any) -> tuple:
    with T.set_grad_enabled(False):
        inside = (T.is_grad_enabled(), T.ones(1, requires_grad=True).mul(2).requires_grad)
    return inside, T.is_grad_enabled()


def _inference_mode(T: Any) -> tuple:
    with T.inference_mode():
        inside = (T.is_grad_enabled(), T.ones(1, requires_grad=True).mul(2).requires_grad)
    return inside, T.is_grad_enabled()


def _anomaly(T: Any) -> tuple:
    before = T.is_anomaly_enabled()
    with T.autograd.set_detect_anomaly(True):
        inside = T.is_anomaly_enabled()
    T.autograd.set_detect_anomaly(True)
    called = T.is_anomaly_enabled()
    T.autograd.set_detect_anomaly(False)
    with pytest.warns(UserWarning, match="Anomaly Detection has been enabled"):
        guard = T.autograd.detect_anomaly()
    with guard:
        in_detect = T.is_anomaly_enabled()
    return before, inside, called, in_detect, T.is_anomaly_enabled()


@pytest.mark.parametrize("name, fn", SAME, ids=[s[0] for s in SAME])
def test_same_as_pytorch(name: str, fn: Callable[[Any], Any]) -> None:
    want = _outcome(fn, torch)
    got = _outcome(fn, adjit)
    if isinstance(want, tuple) and want and want[0] == "NotImplementedError":
        assert got[0] == want[0]  # (PyTorch's text lists its dispatch table)
    else:
        assert got == want


def test_settable_flags_read_back() -> None:
    for T in (adjit, torch):
        T.backends.cudnn.deterministic, T.backends.cudnn.benchmark = True, True
        assert T.backends.cudnn.deterministic and T.backends.cudnn.benchmark
        T.backends.cudnn.deterministic, T.backends.cudnn.benchmark = False, False
        T.use_deterministic_algorithms(True, warn_only=True)
        assert T.are_deterministic_algorithms_enabled()
        assert T.is_deterministic_algorithms_warn_only_enabled()
        assert T.get_deterministic_debug_mode() == 1
        T.use_deterministic_algorithms(False)
        assert not T.are_deterministic_algorithms_enabled()
        T.set_float32_matmul_precision("high")
        assert T.get_float32_matmul_precision() == "high"
        T.set_float32_matmul_precision("highest")
    with pytest.warns(UserWarning, match="bad is not one of 'highest', 'high', or 'medium'"):
        adjit.set_float32_matmul_precision("bad")
    assert adjit.get_float32_matmul_precision() == "highest"


def test_set_num_threads_sizes_kernels_and_blas(monkeypatch) -> None:
    """The count splits compiled kernels (already compiled ones too) and sets OpenBLAS's."""
    monkeypatch.setattr(kernels, "PROBES", 0)  # no timed serial calls (Note [split threshold])
    before = adjit.get_num_threads()
    assert before == kernels.THREADS  # the machine's cores by default (as PyTorch's default;
    # other tests, the benchmarks', set PyTorch's own count, so it is not compared here)
    f = adjit.compile(lambda x: (x * 2.0 + 1.0).exp())
    x = adjit.ones(1 << 20)
    f(x)
    try:
        for n in (1, 3, 2):
            adjit.set_num_threads(n)
            assert adjit.get_num_threads() == n
            out = f(x)
            np.testing.assert_allclose(out.numpy(), np.exp(3.0), rtol=1e-6)
            runners = [r for r in _runners(f, x) if r._parallel and r._split_across is None]
            assert runners and all(
                len(r.ranges) == kernels.pieces(n) for r in runners if r.lowered.extent >= n
            )
            native = native_pool.get()  # the split kernels' threads (Note [native thread pool])
            made = native.counter("workers") if native else workers._WORKERS[0].size
            assert made >= n - 1
            from adjit.runtime import blas

            if blas._openblas() is not None:
                assert blas._SET[0] == n
            a = adjit.ones(300, 300)
            np.testing.assert_allclose((a @ a).numpy(), 300.0)  # eager BLAS with n threads
    finally:
        adjit.set_num_threads(before)


def _runners(f: object, x: object) -> list[kernels.KernelRunner]:
    """The kernel runners of compiled ``f``'s programs (not every runner alive: the process
    keeps some of its own, e.g. Note [eager erf]'s, which run only when they are called)."""
    runs = adjit.explain(f, x)._executables()
    return [s.runner for _, ex in runs for s in ex.steps if hasattr(s, "runner")]


def test_printoptions_as_pytorch() -> None:
    x = np.array([[1.123456789, -2.5e-5, 300.0], [4.0, 5.5, 6.25]])
    try:
        for kwargs in [{"precision": 2}, {"sci_mode": True}, {"sci_mode": False},
                       {"threshold": 5, "edgeitems": 1}, {"linewidth": 30}, {"profile": "full"},
                       {"profile": "short"}]:  # fmt: skip
            for T in (adjit, torch):
                T.set_printoptions(profile="default")
                T.set_printoptions(**kwargs)
            assert str(adjit.from_numpy(x)) == str(torch.from_numpy(x)), kwargs
            big = np.arange(30.0)
            assert str(adjit.from_numpy(big)) == str(torch.from_numpy(big)), kwargs
    finally:
        for T in (adjit, torch):
            T.set_printoptions(profile="default")
            T.set_printoptions(sci_mode=None)


def test_version_and_compile() -> None:
    assert isinstance(adjit.__version__, str) and adjit.__version__
    model = adjit.nn.Linear(3, 2)
    compiled = adjit.compile(model)
    x = adjit.ones(4, 3)
    np.testing.assert_allclose(compiled(x).detach().numpy(), model(x).detach().numpy(), 1e-6)


SPECIAL_NAMES = """digamma entr erf erfc erfinv exp2 expit expm1 gammaln i0 i0e i1 i1e log1p
log_ndtr log_softmax logit logsumexp multigammaln ndtr ndtri polygamma psi round sinc softmax
xlog1py xlogy""".split()  # noqa: SIM905


@pytest.mark.parametrize("name", SPECIAL_NAMES)
def test_special_module_as_pytorch(name: str) -> None:
    """adjit.special's names compute what torch.special's do (values, dtype, grad_fn)."""
    data = np.array([[0.25, 0.5, 0.75], [0.1, 0.9, 0.6]])
    calls = {
        "polygamma": lambda S, x: S.polygamma(2, x),
        "multigammaln": lambda S, x: S.multigammaln(x + 2, 2),
        "softmax": lambda S, x: S.softmax(x, 1),
        "log_softmax": lambda S, x: S.log_softmax(x, 0),
        "logsumexp": lambda S, x: S.logsumexp(x, 1),
        "xlogy": lambda S, x: S.xlogy(x, x + 1),
        "xlog1py": lambda S, x: S.xlog1py(x, x),
        "round": lambda S, x: S.round(x * 10, decimals=1),
        "logit": lambda S, x: S.logit(x, eps=0.2),
    }
    call = calls.get(name, lambda S, x: getattr(S, name)(x))
    a = adjit.from_numpy(data.copy()).requires_grad_()
    t = torch.from_numpy(data.copy()).requires_grad_()
    got, want = call(adjit.special, a), call(torch.special, t)
    assert str(got.dtype) == str(want.dtype)
    assert type(got.grad_fn).__name__ == type(want.grad_fn).__name__
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-14)
    (ga,) = adjit.autograd.grad(got.sum(), a)
    (gt,) = torch.autograd.grad(want.sum(), t)
    np.testing.assert_allclose(ga.numpy(), gt.numpy(), rtol=1e-9, atol=1e-15)


def test_special_functions_edges_as_pytorch() -> None:
    """entr, ndtr, sinc, logit, xlog1py at 0, -0, +-inf, NaN and negatives: values and
    gradients as PyTorch's float64 kernels."""
    x = np.array([0.0, -0.0, 1e-20, 0.5, 3.0, -2.5, np.nan, np.inf, -np.inf, 0.05, 0.97, 1.0])
    fns = [
        lambda S, v: S.special.entr(v),
        lambda S, v: S.special.ndtr(v),
        lambda S, v: S.sinc(v),
        lambda S, v: S.logit(v),
        lambda S, v: S.logit(v, eps=0.1),
        lambda S, v: S.special.xlog1py(v, v),
        lambda S, v: S.special.xlog1py(2.0, v),
        lambda S, v: S.special.xlog1py(v, 0.5),
    ]
    for k, fn in enumerate(fns):
        a = adjit.from_numpy(x.copy()).requires_grad_()
        t = torch.from_numpy(x.copy()).requires_grad_()
        got, want = fn(adjit, a), fn(torch, t)
        assert type(got.grad_fn).__name__ == type(want.grad_fn).__name__, k
        np.testing.assert_array_equal(got.detach().numpy(), want.detach().numpy(), err_msg=str(k))
        (ga,) = adjit.autograd.grad(got.sum(), a)
        (gt,) = torch.autograd.grad(want.sum(), t)
        np.testing.assert_allclose(ga.numpy(), gt.numpy(), rtol=1e-15, err_msg=str(k))


def test_layout_methods_compile() -> None:
    """contiguous/clone/to with devices and memory formats trace (no data read), values as
    eager, and the rank check still raises."""

    def f(x: Any) -> Any:
        y = x.t().contiguous() * 2 + x.t().clone(memory_format=adjit.contiguous_format)
        return y + x.t().to("cpu", adjit.float32).cpu()

    x = adjit.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(adjit.compile(f)(x).numpy(), f(x).numpy())
    g = adjit.compile(lambda v: v.contiguous(memory_format=adjit.channels_last) * 2)
    np.testing.assert_array_equal(g(adjit.ones(1, 2, 2, 2)).numpy(), np.full((1, 2, 2, 2), 2.0))
    with pytest.raises(RuntimeError, match="required rank 4 tensor to use channels_last format"):
        g(adjit.ones(2, 2))
    leaf = adjit.ones(1, 2, 2, 2, requires_grad=True)
    out = leaf.contiguous(memory_format=adjit.channels_last)
    assert out.stride() == (8, 1, 4, 2)
    (out * 3).sum().backward()
    np.testing.assert_array_equal(leaf.grad.numpy(), np.full((1, 2, 2, 2), 3.0))


def test_anomaly_mode_names_the_node_that_returned_nan() -> None:
    """autograd.detect_anomaly: the backward raises at the first node whose gradient is NaN,
    with PyTorch's message; without it the NaN gradient goes through silently, as in PyTorch."""
    for T in (torch, adjit):
        x = T.tensor([0.0, 1.0], requires_grad=True)
        with pytest.warns(UserWarning, match="Anomaly Detection has been enabled"):
            mode = T.autograd.detect_anomaly()
        with mode, pytest.raises(RuntimeError) as err:
            (x.sqrt() * 0).sum().backward()
        assert str(err.value) == "Function 'SqrtBackward0' returned nan values in its 0th output."
        x.grad = None
        (x.sqrt() * 0).sum().backward()
        assert T.isnan(x.grad[0])
