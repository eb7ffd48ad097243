"""Model training steps (transformer block, resnet18 full and fine-tune, VGG-11) and eager
per-op overhead, each contender with the same weights, checked against the others first."""

# Note [model workloads]
# Every contender builds its model from the same seeded weights (PyTorch's init, copied into
# adjit through load_state_dict) and returns the loss and gradients of its first step, taken
# before the optimizer moves anything: that is what is compared (harness.check) before timing.
# The transformer returns its first and last parameters' gradients; the convolutional nets
# their head's (the last layer's): in float32 a few ReLU inputs within rounding of 0 flip sides
# between any two summation orders, and each flip moves a first-layer gradient by ~1/sqrt(numel)
# (Note [float32 through a ResNet] in tests/models/test_models.py; measured here, relative to
# adjit compiled's: resnet18's conv1 gradient differs by 4e-3 in torch.compile, 9e-3 in adjit
# eager, below 1e-3 in PyTorch eager). benchmarks/resnet_bench.py checks every gradient in
# float64. There is no float64 NumPy reference here; adjit compiled is checked against PyTorch
# eager as one more contender (a disagreement shows in the table). The images are 64x64 (as in
# benchmarks/resnet_bench.py) and VGG-11 has its 8 convs and a 512->10 head (CIFAR-style):
# torchvision's 25088x4096 classifier alone would be 400 MB of weights and dwarf the
# convolutions. Heavy: opt-in (``adjit bench --only models``).

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import checkpoint_memory, peers
from .harness import BASELINE, Case, Setup, Step, Workload

VGG11 = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]


def _transformer(lib: Any, size: dict[str, int]) -> tuple[Any, list[Any], Callable[..., Any]]:
    """The block of checkpoint_memory (pre-norm attention + GELU MLP), (x**2).mean() loss."""
    a = argparse.Namespace(**size, layers=1)
    data = checkpoint_memory._data(a)
    params = {k: lib.tensor(v, requires_grad=True) for k, v in data.items() if k != "x"}
    block = checkpoint_memory._block(lib, params, a)
    x = lib.tensor(data["x"])
    return (x,), [params[k] for k in checkpoint_memory.NAMES], lambda x: (block(x) ** 2).mean()


def _vgg11(nn: Any) -> Any:
    layers: list[Any] = []
    c = 3
    for v in VGG11:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU(inplace=True)]
            c = v
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 10))


def _torch_reference() -> Any:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.models import torch_reference

    return torch_reference


def _torch_model(kind: str) -> Any:
    """The PyTorch model of ``kind`` with PyTorch's seeded init."""
    torch = peers.torch()
    torch.manual_seed(0)
    if kind == "vgg11":
        return _vgg11(torch.nn)
    t = _torch_reference().resnet18()
    if kind == "resnet18 fine-tune":
        t.fc = torch.nn.Linear(512, 10)
    return t


def _torch_state(kind: str) -> dict[str, np.ndarray]:
    """``_torch_model(kind)``'s weights as arrays."""
    return {k: v.detach().numpy() for k, v in _torch_model(kind).state_dict().items()}


def _initial_state(kind: str) -> dict[str, np.ndarray]:
    """PyTorch's seeded weights for adjit's model, made in a process of its own unless this one
    has PyTorch already: loading PyTorch would keep adjit's MKL sequential (Note [MKL's own
    threads] in runtime/mkl_threads.py)."""
    if "torch" in sys.modules:
        return _torch_state(kind)
    import pickle
    import subprocess

    code = "import pickle, sys; from adjit.benchmarks import models; "
    code += f"sys.stdout.buffer.write(pickle.dumps(models._torch_state({kind!r})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=False)
    if out.returncode:
        raise RuntimeError(f"PyTorch's initial weights: {out.stderr.decode().strip()[-300:]}")
    state: dict[str, np.ndarray] = pickle.loads(out.stdout)  # (our own child's output)
    return state


def _conv_net(lib: Any, size: dict[str, Any]) -> tuple[Any, list[Any], Callable[..., Any]]:
    """resnet18 (full or fine-tune) or VGG-11 with PyTorch's seeded init, copied into adjit."""
    kind = size["model"]
    if lib.__name__ == "torch":
        model = _torch_model(kind)
    else:
        model = _vgg11(lib.nn) if kind == "vgg11" else lib.models.resnet18()
        if kind == "resnet18 fine-tune":
            model.fc = lib.nn.Linear(512, 10)
        model.load_state_dict({k: lib.tensor(v) for k, v in _initial_state(kind).items()})
    if kind == "resnet18 fine-tune":
        for p in model.parameters():
            p.requires_grad_(False)
        for p in model.fc.parameters():
            p.requires_grad_(True)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((size["batch"], 3, 64, 64)).astype(np.float32)
    y = rng.integers(0, 10 if kind != "resnet18" else 1000, size["batch"])
    params = [p for p in model.parameters() if p.requires_grad]
    loss = lambda xb, yb: lib.nn.functional.cross_entropy(model(xb), yb)
    return (lib.tensor(x), lib.tensor(y)), params, loss


MODELS: dict[str, Callable[[Any, dict[str, Any]], tuple[Any, list[Any], Callable[..., Any]]]] = {
    "transformer": _transformer,
    "resnet18": _conv_net,
    "resnet18 fine-tune": _conv_net,
    "vgg11": _conv_net,
}


def _train(lib_name: str, size: dict[str, Any], compiled: bool) -> Setup:
    """One training step of ``size["model"]``: forward, backward, optimizer step."""

    def setup() -> Step:
        if lib_name == "torch":
            lib = peers.torch()
            wrap = (lambda f: lib.compile(f, dynamic=False)) if compiled else (lambda f: f)
        else:
            import adjit as lib

            wrap = lib.compile if compiled else (lambda f: f)
        inputs, params, loss_fn = MODELS[size["model"]](lib, size)
        if size["model"] == "transformer":
            opt = lib.optim.AdamW(params, lr=1e-3)
        else:
            opt = lib.optim.SGD(params, lr=1e-2, momentum=0.9)
        run = wrap(loss_fn)
        checked = [params[0], params[-1]] if size["model"] == "transformer" else params[-1:]

        def step() -> tuple[Any, ...]:
            opt.zero_grad()
            loss = run(*inputs)
            loss.backward()
            out = (loss.detach(), *(p.grad.clone() for p in checked))
            opt.step()
            return out

        return step

    return setup


# Note [GEMM floor]
# These steps are mostly matrix products, so how fast any contender can be is bounded by how
# fast BLAS runs the step's products alone. The floors are those products and nothing else:
# the shapes (and axis orders: a transposed operand stays a transposed view) of every MATMUL
# adjit's compiled step runs, recorded from one step, each run into a preallocated result by
# OpenBLAS (NumPy's, which adjit calls) and by MKL (PyTorch's), with the same threads; a stack
# times a matrix runs as one GEMM over the stack's rows, as adjit runs it; a convolution's
# products are recorded chunk by chunk as they run (Note [weight gradient by chunks]), and a
# Winograd convolution's batched products as it calls them (runtime/winograd.py). They
# are timed like contenders but not checked (Case.floors). A third floor runs them as adjit's
# steps do: each by the library or adjit's own GEMM (Note [our own GEMM] in codegen/sgemm.py)
# its timed choice picked, split across threads as they are; a convolution read by windows
# (Note [convolutions by windows]) is recorded as the product of its weight and its columns.
# At more than one thread a column step runs its chunks in slots, one a thread, each chunk's
# product on that thread (Note [column steps on threads]); this floor runs them one after
# another, each as a lone product would run, so there it overstates the step's products
# (resnet18 b8 at 2 threads: 100 ms against OpenBLAS's 67 on its own threads).
# A contender at 1.2x a floor spends a sixth of its step outside the products; none can beat
# the fastest floor by more than its non-GEMM work, which is why a ratio target over PyTorch
# eager may be out of reach.


def _dense_like(a: np.ndarray) -> np.ndarray:
    """A new array of ``a``'s shape whose axes are laid out in ``a``'s stride order."""
    order = sorted(range(a.ndim), key=lambda i: -abs(a.strides[i]))
    base = np.random.default_rng(0).standard_normal([a.shape[i] for i in order])
    return base.astype(a.dtype).transpose(np.argsort(order))


Products = list[tuple[np.ndarray, np.ndarray]]
_RECORDED: dict[str, Products] = {}


def recorded_products(setup: Setup) -> Products:
    """Operands shaped like every MATMUL of one step of ``setup`` (an adjit compiled
    contender), run once first to trace and compile (Note [GEMM floor])."""
    from adjit.ir.ops import Op
    from adjit.runtime import column_grads, executor, mkl_gemm, own_gemm, winograd

    seen: Products = []
    run = executor.ExternStep.run
    chunk_product = column_grads.matmul_into  # the convolutions' GEMMs, chunk by chunk
    by_windows = own_gemm.conv_into  # a convolution's GEMM reading its windows

    def recording_chunk(a: Any, b: Any, out: Any) -> None:
        seen.append((_dense_like(a), _dense_like(b)))
        chunk_product(a, b, out)

    def recording_windows(x: Any, w: Any, out: Any, **attrs: Any) -> None:
        seen.append((_dense_like(w), np.zeros((w.shape[1], out.shape[1]), w.dtype)))
        by_windows(x, w, out, **attrs)

    class Winograd:  # the Winograd steps' products: transforms of the weights, 16 per tile
        def __getattr__(self, name: str) -> Any:
            return getattr(mkl_gemm, name)

        def fastest(self, a: Any, b: Any, out: Any) -> Any:
            seen.append((_dense_like(a), _dense_like(b)))
            return mkl_gemm.fastest(a, b, out)

    def recording(self: Any, env: Any, ptrs: Any, bufs: Any) -> None:
        if self.eqn.op is Op.MATMUL:
            a, b = (env[v] for v in self.eqn.inputs)
            if a.ndim > 2 and b.ndim == 2:  # a stack times a matrix: one GEMM, as adjit
                a = a.reshape(-1, a.shape[-1])  # runs it (Note [one GEMM over the batch])
            seen.append((_dense_like(a), _dense_like(b)))
        run(self, env, ptrs, bufs)

    step = setup()
    step()  # traces and compiles
    executor.ExternStep.run = recording  # type: ignore[method-assign]
    column_grads.matmul_into = recording_chunk
    own_gemm.conv_into = recording_windows
    winograd.mkl_gemm = Winograd()  # type: ignore[assignment]
    try:
        step()
    finally:
        executor.ExternStep.run = run  # type: ignore[method-assign]
        column_grads.matmul_into = chunk_product
        own_gemm.conv_into = by_windows
        winograd.mkl_gemm = mkl_gemm
    return seen


def _step_products(size: dict[str, Any]) -> Products:
    """Operands shaped like every MATMUL of one compiled ``size`` step (Note [GEMM floor])."""
    key = repr(sorted(size.items()))
    if key not in _RECORDED:
        _RECORDED[key] = recorded_products(_train("adjit", size, compiled=True))
    return _RECORDED[key]


def gemm_floor(products: Callable[[], Products], lib_name: str) -> Setup:
    """The products ``products()`` gives, alone, through NumPy's BLAS or PyTorch's."""

    def setup() -> Step:
        pairs: list[tuple[Any, Any]] = list(products())
        if lib_name == "torch":
            torch = peers.torch()
            pairs = [(torch.from_numpy(a), torch.from_numpy(b)) for a, b in pairs]
            mm: Callable[..., Any] = torch.matmul
        elif lib_name == "adjit":
            mm = _adjit_product
        else:
            mm = np.matmul
        outs = [mm(a, b) for a, b in pairs]

        def step() -> tuple[Any, ...]:
            for (a, b), out in zip(pairs, outs, strict=True):
                mm(a, b, out=out)
            return ()

        return step

    return setup


def _adjit_product(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``np.matmul`` as adjit's compiled steps run it: by the library or adjit's own GEMM its
    timed choice picked for the geometry (Note [BLAS by measurement]), split as they split,
    a 2-D product by its kept choice in one call (Note [one product, one call])."""
    from adjit.runtime import executor

    if out is None:  # (the floor's first call, which only makes its result arrays)
        return np.matmul(a, b)
    executor.product_into(a, b, out)
    return out


GEMM_FLOORS = {
    "GEMMs alone (OpenBLAS)": "numpy",
    "GEMMs alone (MKL)": "torch",
    "GEMMs alone (adjit's choice)": "adjit",
}


def build_model(size: dict[str, Any]) -> Case:
    contenders = {
        BASELINE: _train("adjit", size, compiled=True),
        "adjit eager": _train("adjit", size, compiled=False),
        "torch eager": _train("torch", size, compiled=False),
        "torch.compile": _train("torch", size, compiled=True),
    }
    floors = {
        name: gemm_floor(lambda: _step_products(size), lib) for name, lib in GEMM_FLOORS.items()
    }
    label = size["model"] + ("" if size["model"] == "transformer" else f" b{size['batch']}")
    return Case(
        "models",
        label,
        dict(size),
        contenders,
        floors=floors,
        tolerance=size.get("tolerance", 1e-3),
    )


TRANSFORMER = {"model": "transformer", "dim": 256, "heads": 4, "seq": 128, "batch": 16}
MODEL_SIZES = {
    "full": [
        TRANSFORMER,
        {"model": "resnet18", "batch": 8},
        {"model": "resnet18 fine-tune", "batch": 8},
        {"model": "vgg11", "batch": 8},
    ],
    "quick": [TRANSFORMER, {"model": "resnet18 fine-tune", "batch": 8}],
    "tiny": [{"model": "transformer", "dim": 32, "heads": 4, "seq": 8, "batch": 2}],
}

MODELS_WORKLOAD = Workload(
    "models",
    "train steps: transformer block (d=256, 4 heads, seq 128, batch 16, AdamW), resnet18 "
    "(full, fine-tune) and VGG-11 (64x64 images, SGD momentum)",
    MODEL_SIZES,
    build_model,
)

# ---- eager per-op overhead --------------------------------------------------------------------
N_OPS = 20  # 5 x (sin, mul, add, tanh), then a sum


def chain(x: Any, w: Any) -> Any:
    y = x
    for _ in range(5):
        y = (y.sin() * w + w).tanh()
    return y.sum()


def build_eager(n: int) -> Case:
    from . import contenders as c

    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(n).astype(np.float32) for _ in range(2)]
    setups = {
        BASELINE: c.adjit_compiled(chain, arrays, (0, 1)),
        "adjit eager": c.adjit_eager(chain, arrays, (0, 1)),
        "torch eager": c.torch_autograd(chain, arrays, (0, 1)),
    }
    return Case("eager", f"{N_OPS} ops on {n}", {"n": n, "ops": N_OPS}, setups)


EAGER_WORKLOAD = Workload(
    "eager",
    f"per-op eager overhead: a {N_OPS}-op chain forward+backward (µs per op: median / {N_OPS})",
    {"full": [100], "quick": [100], "tiny": [100]},
    build_eager,
)
