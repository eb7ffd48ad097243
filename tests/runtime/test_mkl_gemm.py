"""Note [MKL products]: compiled products through MKL's CBLAS, as np.matmul computes them."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable

import numpy as np
import pytest
from adjit.passes.pipeline import FLAGS
from adjit.runtime import column_grads, mkl_gemm, native_pool, split_gemm

import adjit
import adjit.nn as nn

try:  # before MKL's first call, as the suite's other files do (Note [MKL products])
    import torch
except ImportError:  # pragma: no cover (torch is the tests' oracle, optional)
    torch = None

FOUND = mkl_gemm.library_path() is not None  # (not loaded here: Note [MKL products])
needs_mkl = pytest.mark.skipif(not FOUND, reason="the mkl extra is not installed")


@pytest.fixture
def mkl(monkeypatch: pytest.MonkeyPatch) -> mkl_gemm.Library:
    if mkl_gemm.library() is None:
        pytest.skip("MKL is not usable in this process")
    monkeypatch.setenv("ADJIT_BLAS", "mkl")
    return mkl_gemm.library()  # type: ignore[return-value]


@pytest.fixture
def used(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each product went to MKL (True) or to np.matmul (False)."""
    seen: list[bool] = []
    real = mkl_gemm._mkl_matmul
    monkeypatch.setattr(
        mkl_gemm, "_mkl_matmul", lambda *a: seen.append(real(*a)) or seen[-1]
    )  # fmt: skip
    return seen


def _bound(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """k roundings of |x| @ |y|: float summation's error bound for k terms."""
    k = x.shape[-1] if x.ndim else 1
    eps = float(np.finfo(x.dtype).eps)
    return k * eps * np.matmul(np.abs(x).astype(np.float64), np.abs(y).astype(np.float64))


R = np.random.default_rng(0)


def _r(*shape: int) -> np.ndarray:
    return R.standard_normal(shape)


def _out(shape: tuple[int, ...], how: str, dtype: type) -> np.ndarray:
    if how == "transposed":  # column-major matrices
        return np.empty((*shape[:-2], shape[-1], shape[-2]), dtype).swapaxes(-1, -2)
    if how == "padded":  # a leading dimension wider than the row
        return np.empty((*shape[:-1], shape[-1] + 5), dtype)[..., : shape[-1]]
    if how == "interleaved":  # (m, b, n) seen as (b, m, n)
        return np.empty((shape[1], shape[0], shape[2]), dtype).swapaxes(0, 1)
    return np.empty(shape, dtype)


def _bcast(a: np.ndarray) -> np.ndarray:
    return np.broadcast_to(a, (4, *a.shape))  # a zero batch stride


Make = Callable[[type], np.ndarray]
# x, y (of a dtype), out's layout
CASES: list[tuple[Make, Make, str]] = [
    (lambda d: _r(37, 23).astype(d), lambda d: _r(23, 19).astype(d), "plain"),
    (lambda d: _r(23, 37).astype(d).T, lambda d: _r(23, 19).astype(d), "plain"),
    (lambda d: _r(37, 23).astype(d), lambda d: _r(19, 23).astype(d).T, "plain"),
    (lambda d: _r(23, 37).astype(d).T, lambda d: _r(19, 23).astype(d).T, "transposed"),
    (lambda d: _r(60, 50).astype(d)[::2, 3:26], lambda d: _r(23, 40).astype(d)[:, 7:26], "padded"),
    (lambda d: _r(37, 1).astype(d), lambda d: _r(1, 19).astype(d), "plain"),
    (lambda d: _r(1, 23).astype(d), lambda d: _r(23, 19).astype(d), "transposed"),
    (lambda d: _r(23).astype(d), lambda d: _r(23, 19).astype(d), "plain"),
    (lambda d: _r(5, 37, 23).astype(d), lambda d: _r(23).astype(d), "plain"),
    (lambda d: _r(5, 37, 23).astype(d), lambda d: _r(23, 19).astype(d), "plain"),  # broadcast y
    (lambda d: _r(5, 37, 23).astype(d), lambda d: _r(5, 23, 19).astype(d), "interleaved"),
    (lambda d: _r(3, 1, 37, 23).astype(d), lambda d: _r(4, 23, 19).astype(d), "plain"),
    (lambda d: _r(5, 23, 37).astype(d).mT, lambda d: _r(5, 19, 23).astype(d).mT, "transposed"),
    (lambda d: _r(4, 5, 37, 23).astype(d).swapaxes(0, 1), lambda d: _r(23, 19).astype(d), "plain"),
    (lambda d: _bcast(_r(37, 23).astype(d)), lambda d: _r(4, 23, 19).astype(d), "padded"),
    (lambda d: _r(3, 4, 37, 23).astype(d)[:, ::2], lambda d: _r(3, 2, 23, 19).astype(d), "plain"),
    (lambda d: _r(1, 37, 23).astype(d), lambda d: _r(1, 23, 19).astype(d), "plain"),
]  # fmt: skip


@needs_mkl
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_mkl_products_as_numpy_computes_them(
    mkl: mkl_gemm.Library, used: list[bool], dtype: type, case: int
) -> None:
    # transposed, sliced, padded, batched, broadcast operands by BLAS's flags and strides
    make_x, make_y, how = CASES[case]
    x, y = make_x(dtype), make_y(dtype)
    out = _out(np.matmul(x, y).shape, how, dtype)
    errors = len(mkl.errors)
    mkl_gemm.matmul(x, y, out)
    assert used == [True] and len(mkl.errors) == errors  # no parameter refused
    exact = np.matmul(x.astype(np.float64), y.astype(np.float64))
    assert (np.abs(out - exact) <= _bound(x, y)).all()


def _typed(dtype: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return _r(4, 3).astype(dtype), _r(3, 2).astype(dtype), np.empty((4, 2), dtype)


def _overlapping() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    b = _r(8, 8)
    return b[:4, :4], b[:4, 4:], b[:4, 4:]  # out is y


FALLBACKS: dict[str, Callable[[], tuple[np.ndarray, np.ndarray, np.ndarray]]] = {
    "float16": lambda: _typed("float16"),
    "int64": lambda: _typed("int64"),
    "complex64": lambda: _typed("complex64"),
    "big-endian": lambda: _typed(">f8"),
    "mixed": lambda: (_r(4, 3).astype(np.float32), _r(3, 2), np.empty((4, 2))),
    "empty sum": lambda: (_r(4, 0), _r(0, 2), np.full((4, 2), np.nan)),
    "no rows": lambda: (_r(0, 3), _r(3, 2), np.empty((0, 2))),
    "column stride": lambda: (_r(4, 3), _r(3, 4)[:, ::2], np.empty((4, 2))),
    "negative stride": lambda: (_r(4, 3)[::-1], _r(3, 2), np.empty((4, 2))),
    "dot": lambda: (_r(3), _r(3), np.empty(())),
    "overlapping out": _overlapping,
}  # fmt: skip


@needs_mkl
@pytest.mark.parametrize("name", FALLBACKS)
def test_what_blas_cannot_take_goes_to_numpy(mkl: object, used: list[bool], name: str) -> None:
    x, y, out = FALLBACKS[name]()
    want = np.matmul(x.copy(), y.copy())
    mkl_gemm.matmul(x, y, out)
    assert used == [False]
    np.testing.assert_array_equal(out, want)  # np.matmul's own result


@needs_mkl
def test_bad_operands_raise_numpys_errors(mkl: object) -> None:
    for x, y, out in [
        (_r(4, 3), _r(2, 2), np.empty((4, 2))),
        (_r(4, 3), _r(3, 2), np.empty((4, 3))),
    ]:
        with pytest.raises(ValueError) as want:
            np.matmul(x, y, out=out)
        with pytest.raises(ValueError, match="matmul") as got:
            mkl_gemm.matmul(x, y, out)
        assert str(got.value) == str(want.value)


def _unaligned(a: np.ndarray, offset: int) -> np.ndarray:
    """A copy of ``a`` ``offset`` elements past a 64-byte boundary."""
    raw = np.empty(a.size + 64, a.dtype)
    start = (-raw.ctypes.data // a.itemsize) % (64 // a.itemsize) + offset
    out = raw[start : start + a.size].reshape(a.shape)
    out[...] = a
    return out


@needs_mkl
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_same_bits_whatever_the_alignment(mkl: object, dtype: type) -> None:
    # Conditional Numerical Reproducibility (AUTO): kernels do not depend on the alignment
    for m, k, n in [(128, 784, 256), (64, 576, 200), (37, 53, 29)]:
        x, y = _r(m, k).astype(dtype), _r(k, n).astype(dtype)
        want = np.empty((m, n), dtype)
        mkl_gemm.matmul(x, y, want)
        for offset in (1, 2, 3):
            out = _unaligned(np.zeros((m, n), dtype), offset)
            mkl_gemm.matmul(_unaligned(x, offset), _unaligned(y, 5 - offset), out)
            np.testing.assert_array_equal(out, want)


@pytest.fixture
def threads() -> object:
    before = adjit.get_num_threads()
    yield adjit.set_num_threads
    adjit.set_num_threads(before)


@needs_mkl
@pytest.mark.parametrize(
    ("xs", "ys"), [((16, 4, 128, 64), (16, 4, 64, 128)), ((6, 128, 192), (192, 128))]
)
def test_batches_split_by_whole_products_keep_the_bits(
    mkl: object, used: list[bool], threads: Callable[[int], None], xs: tuple[int, ...],
    ys: tuple[int, ...],
) -> None:  # fmt: skip
    x, y = _r(*xs).astype(np.float32), _r(*ys).astype(np.float32)
    shape = np.broadcast_shapes(xs[:-2], ys[:-2]) + (xs[-2], ys[-1])
    threads(1)
    want = np.empty(shape, np.float32)
    split_gemm.matmul_into(x, y, want)
    assert used == [True]
    pool = native_pool.get()
    for count in (2, 3):
        threads(count)
        for _ in range(2):
            out = np.full(shape, np.nan, np.float32)
            calls, tasks = len(used), pool.counter("tasks") if pool else 0
            split_gemm.matmul_into(x, y, out)
            np.testing.assert_array_equal(out, want)
            # one MKL call a block, or the whole batch one task of the native pool (Note
            # [batches on the native pool])
            native = pool is not None and pool.counter("tasks") == tasks + 1
            assert len(used) == calls + (0 if native else count)
    assert all(used)


@needs_mkl
def test_row_blocks_run_at_once_without_the_gil(mkl: object) -> None:
    # ctypes lets go of the GIL for the call: Python runs meanwhile (run_split's blocks too)
    x, y = _r(1024, 1024), _r(1024, 1024)
    out = np.empty((1024, 1024))
    mkl_gemm.matmul(x, y, out)
    done = threading.Event()
    count = 0

    def product() -> None:
        for _ in range(3):
            mkl_gemm.matmul(x, y, out)
        done.set()

    worker = threading.Thread(target=product)
    start = time.thread_time()
    worker.start()
    while not done.is_set():
        count += 1
    worker.join()
    assert count > 1000 and time.thread_time() - start > 0.005  # the loop ran during the products
    np.testing.assert_allclose(out, x @ y, rtol=0, atol=float(_bound(x, y).max()))


@needs_mkl
def test_other_dtypes_keep_the_numpy_split(mkl: object, used: list[bool]) -> None:
    # complex products: OpenBLAS's, split as before with its threads set (Note [split products])
    x = (_r(128, 300) + 1j * _r(128, 300)).astype(np.complex64)
    y = (_r(300, 200) + 1j * _r(300, 200)).astype(np.complex64)
    out = np.empty((128, 200), np.complex64)
    split_gemm.matmul_into(x, y, out)
    assert used == []
    exact = x.astype(np.complex128) @ y.astype(np.complex128)
    bound = 2 * 300 * float(np.finfo(np.float32).eps) * (np.abs(x) @ np.abs(y))
    assert (np.abs(out - exact) <= bound).all()


def test_the_flag(monkeypatch: pytest.MonkeyPatch, used: list[bool]) -> None:
    assert "ADJIT_BLAS" in FLAGS
    monkeypatch.setenv("ADJIT_BLAS", "numpy")
    assert mkl_gemm.active() is None
    x, y = _r(64, 32).astype(np.float32), _r(32, 48).astype(np.float32)
    out = np.empty((64, 48), np.float32)
    split_gemm.matmul_into(x, y, out)
    column_grads.matmul_into(x, y, out)
    assert used == []  # not even asked
    np.testing.assert_array_equal(out, np.matmul(x, y))
    monkeypatch.setenv("ADJIT_BLAS", "openblas")
    must = "ADJIT_BLAS must be one of auto, mkl, numpy, adjit, not 'openblas'"
    with pytest.raises(RuntimeError, match=must):
        split_gemm.matmul_into(x, y, out)
    monkeypatch.setenv("ADJIT_BLAS", "mkl")
    monkeypatch.setattr(mkl_gemm, "library", lambda: None)
    with pytest.raises(RuntimeError, match=r"pip install 'adjit\[mkl\]'"):
        split_gemm.matmul_into(x, y, out)
    monkeypatch.delenv("ADJIT_BLAS")
    split_gemm.matmul_into(x, y, out)  # unset, MKL absent: NumPy's
    assert used == []


WITHOUT_MKL = """
import importlib.metadata, sys, tempfile
real = importlib.metadata.distribution
def distribution(name):
    if name == "mkl":
        raise importlib.metadata.PackageNotFoundError(name)
    return real(name)
importlib.metadata.distribution = distribution
sys.prefix = tempfile.mkdtemp()  # as if not installed
import adjit
from adjit.runtime import mkl_gemm
x = adjit.ones(40, 30, requires_grad=True)
y = adjit.compile(lambda x: (x @ x.T).sum())(x)
y.backward()
print(mkl_gemm.active(), y.item(), x.grad[0, 0].item())
"""


def test_without_mkl_products_are_numpys() -> None:
    out = subprocess.run(
        [sys.executable, "-c", WITHOUT_MKL], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["None", "48000.0", "80.0"]


def test_mkl_is_loaded_once_whoever_asks_first(monkeypatch: pytest.MonkeyPatch) -> None:
    # adjit's threads may ask at once (resnet18's column steps at 2 threads); a second load
    # after a product has run finds MKL refusing the CBWR setting: it must not happen
    calls: list[int] = []

    def load() -> object:
        calls.append(1)
        time.sleep(0.05)  # the others ask meanwhile
        return "MKL"

    monkeypatch.setattr(mkl_gemm, "_LOADED", [])
    monkeypatch.setattr(mkl_gemm, "_load", load)
    start, got = threading.Barrier(3), []

    def ask() -> None:
        start.wait()
        got.append(mkl_gemm.library())

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1] and got == ["MKL"] * 3


def _mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 96), nn.Tanh(), nn.Linear(96, 10))


def _convnet() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2), nn.Tanh(),
        nn.Flatten(), nn.Linear(8 * 7 * 7, 10),
    )  # fmt: skip


# the longest chain of float32 sums behind a gradient: the forward's dot products (64 + 96 + 10
# terms; 27 + 72 + 392 + 10), then the weight gradient's sum over the batch (and cells)
TERMS = {"mlp": 64 + 96 + 10 + 32, "convnet": 27 + 72 + 392 + 10 + 6 * 16 * 16}


@needs_mkl
@pytest.mark.parametrize(
    ("make", "shape", "terms"),
    [(_mlp, (32, 64), TERMS["mlp"]), (_convnet, (6, 3, 16, 16), TERMS["convnet"])],
)
def test_train_step_gradients_mkl_numpy_and_torch(
    monkeypatch: pytest.MonkeyPatch, used: list[bool], make: Callable[[], nn.Module],
    shape: tuple[int, ...], terms: int,
) -> None:  # fmt: skip
    if torch is None:
        pytest.skip("torch is not installed")
    monkeypatch.setattr(column_grads, "CHUNK_BYTES", 1 << 12)  # the conv's column steps
    adjit.manual_seed(0)
    model = make()
    x = adjit.randn(*shape)
    target = adjit.randint(0, 10, (shape[0],))

    def loss_of(m: nn.Module, x: adjit.Tensor, t: adjit.Tensor) -> adjit.Tensor:
        return nn.functional.cross_entropy(m(x), t)

    step = adjit.compile(loss_of)
    grads = {}
    for blas in ("mkl", "numpy"):
        monkeypatch.setenv("ADJIT_BLAS", blas)
        model.zero_grad()
        step(model, x, target).backward()
        grads[blas] = [p.grad.numpy().copy() for p in model.parameters()]
    assert used and all(used)  # the compiled step's products went to MKL
    ref = torch.nn.Sequential(*[_torch_layer(m) for m in model])
    ref = ref.double()  # the reference in float64
    loss = torch.nn.functional.cross_entropy(
        ref(torch.tensor(x.numpy(), dtype=torch.float64)), torch.tensor(target.numpy())
    )
    loss.backward()
    eps = float(np.finfo(np.float32).eps)
    for a, b, p in zip(grads["mkl"], grads["numpy"], ref.parameters(), strict=True):
        want = p.grad.numpy()
        tol = terms * eps * np.abs(want).max()
        np.testing.assert_allclose(a, want, rtol=0, atol=tol)
        np.testing.assert_allclose(b, want, rtol=0, atol=tol)
        np.testing.assert_allclose(a, b, rtol=0, atol=tol)


def _torch_layer(m: nn.Module) -> object:
    """``m`` as PyTorch's module with the same parameters."""
    layer = getattr(torch.nn, type(m).__name__)  # type: ignore[attr-defined]
    if isinstance(m, nn.Linear):
        out = layer(m.in_features, m.out_features)
    elif isinstance(m, nn.Conv2d):
        out = layer(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding)
    else:
        return layer()
    with torch.no_grad():  # type: ignore[attr-defined]
        out.weight.copy_(torch.tensor(m.weight.detach().numpy()))  # type: ignore[attr-defined]
        out.bias.copy_(torch.tensor(m.bias.detach().numpy()))  # type: ignore[attr-defined]
    return out


TORCH_FIRST = """
import numpy as np, torch
g = torch.Generator().manual_seed(0)
a, b = torch.randn(300, 200, generator=g), torch.randn(200, 100, generator=g)
threads, before = torch.get_num_threads(), (a @ b).numpy().copy()
from adjit.runtime import mkl_gemm
out = np.empty((300, 100), np.float32)
mkl_gemm.matmul(a.numpy(), b.numpy(), out)
print(mkl_gemm.library() is not None, torch.get_num_threads() == threads,
      np.array_equal((a @ b).numpy(), before), np.abs(out - before).max() < 1e-4)
"""


@needs_mkl
def test_torch_imported_first_keeps_its_own_mkl() -> None:
    if torch is None:
        pytest.skip("torch is not installed")
    out = subprocess.run(
        [sys.executable, "-c", TORCH_FIRST], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["True"] * 4


@needs_mkl
def test_interleaved_results_go_to_batched_calls(mkl: mkl_gemm.Library) -> None:
    """Note [batch of a call]: a result whose heads interleave (stride below one product's
    span) is written by gemm_batch_strided over the other batch dim, not a call a product."""
    x, y = _r(4, 3, 8, 6).astype(np.float32), _r(4, 3, 6, 5).astype(np.float32)
    whole = np.zeros((4, 8, 7, 5), np.float32)
    out = whole[:, :, 2:5].transpose(0, 2, 1, 3)  # (4, 3, 8, 5), the heads' stride 5
    one, many = mkl.gemm[np.dtype(np.float32)]
    calls: list[str] = []
    spied = (lambda *a: calls.append("one") or one(*a), lambda *a: calls.append("many") or many(*a))
    mkl.gemm[np.dtype(np.float32)] = spied
    try:
        errors = len(mkl.errors)
        assert mkl_gemm._mkl_matmul(mkl, x, y, out)
        assert len(mkl.errors) == errors
    finally:
        mkl.gemm[np.dtype(np.float32)] = (one, many)
    assert calls == ["many"] * 3  # a call per head, batched over the 4
    exact = np.matmul(x.astype(np.float64), y.astype(np.float64))
    assert (np.abs(out - exact) <= _bound(x, y)).all()
    assert not whole[:, :, :2].any() and not whole[:, :, 5:].any()  # nothing written outside
