"""Self-contained fuzz cases: a program, its input arrays as NumPy source, and how to compare."""

# The newer strategies (integer, specials, math, long reductions, Functions, edges) need inputs
# that uniform(-1.5, 1.5) never draws: integer edges, NaN/inf/-0, subnormals, 1e7 elements.
# A Case keeps each input as a NumPy *expression* and builds its arrays by evaluating that
# same text, so the printed repro is exactly what ran: ``exec(case.source())`` defines
# ``program(T, x0, ...)`` and ``inputs(T)`` for ``T = adjit`` or ``T = torch``.

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import adjit

FLOAT_DTYPES = ("float32", "float64")


@dataclass
class Case:
    """``def program(T, x0, ...)`` as body lines; each input a NumPy expression and a flag."""

    kind: str  # the strategy that drew it, printed with the repro
    body: list[str]  # statements of the program body; the last one is a ``return``
    arrays: list[str]  # per input: NumPy source building its array (``np`` in scope)
    requires_grad: list[bool]
    header: list[str] = field(default_factory=list)  # lines before ``def program`` (classes)
    _namespace: dict[str, Any] = field(default_factory=dict, repr=False)

    def source(self) -> str:
        args = ", ".join(f"x{i}" for i in range(len(self.arrays)))
        lines = ["import numpy as np", "", "", *self.header, f"def program(T, {args}):"]
        lines += [f"    {line}" for line in self.body]
        lines += ["", "", "def inputs(T):"]
        for i, (a, rg) in enumerate(zip(self.arrays, self.requires_grad, strict=True)):
            lines.append(f"    x{i} = T.from_numpy({a})" + (".requires_grad_()" if rg else ""))
        lines.append(f"    return [{', '.join(f'x{i}' for i in range(len(self.arrays)))}]")
        return "\n".join(lines)

    def _ns(self) -> dict[str, Any]:
        if not self._namespace:
            exec(compile(self.source(), f"<fuzz {self.kind}>", "exec"), self._namespace)  # noqa: S102
        return self._namespace

    def numpy_inputs(self) -> list[np.ndarray]:
        ns: dict[str, Any] = {"np": np}
        with np.errstate(all="ignore"):  # exp2 of the largest exponents overflows to inf
            return [np.asarray(eval(a, ns)) for a in self.arrays]  # noqa: S307

    def inputs(self, T: Any) -> list[Any]:
        with np.errstate(all="ignore"):
            return list(self._ns()["inputs"](T))

    def bind(self, T: Any) -> Callable[..., Any]:
        fn = self._ns()["program"]

        def program(*xs: Any) -> Any:
            return fn(T, *xs)

        return program

    def __repr__(self) -> str:
        how = (
            "# run: import adjit as T (or torch as T); program(T, *inputs(T)); compiled: "
            "adjit.compile(lambda *xs: program(adjit, *xs))(*inputs(adjit))"
        )
        return f"# fuzz case: {self.kind}\n{self.source()}\n{how}"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # how hypothesis prints examples
        p.text("\n" + repr(self) + "\n")


def literal_scalar(v: Any) -> str:
    """Python source for a number, exact (floats by repr, non-finite ones by name)."""
    if isinstance(v, float) and not math.isfinite(v):
        return {"inf": "np.inf", "-inf": "-np.inf"}.get(repr(v), "np.nan")
    return repr(v)


def literal(a: np.ndarray) -> str:
    """NumPy source for a small array, exact."""

    def item(v: Any) -> str:
        if isinstance(v, list):
            return "[" + ", ".join(item(x) for x in v) + "]"
        return literal_scalar(v)

    return f"np.array({item(a.tolist())}, dtype=np.{a.dtype.name})"


# ---- outcomes ------------------------------------------------------------------------------
@dataclass
class Raised:
    """A call that raised: its exception, kept to compare with the other side's outcome."""

    error: BaseException

    def __str__(self) -> str:
        return f"{type(self.error).__name__}: {self.error}"


def outcome(call: Callable[[], Any]) -> Any:
    """The call's result, or Raised for an ordinary exception."""
    try:
        return call()
    except Exception as e:  # noqa: BLE001 - every ordinary error is an outcome to compare
        return Raised(e)


def to_numpy(t: Any) -> np.ndarray:
    return np.asarray(t.detach().numpy() if hasattr(t, "detach") else t)


def dtype_name(t: Any) -> str:
    return str(t.dtype).replace("torch.", "")


def same_raise(got: Any, want: Any, what: str) -> bool:
    """Whether both sides raised; fails when only one did. False when neither raised."""
    if isinstance(want, Raised) or isinstance(got, Raised):
        assert isinstance(got, Raised), f"{what}: PyTorch raised {want}, adjit returned {got!r}"
        assert isinstance(want, Raised), f"{what}: adjit raised {got}, PyTorch did not"
        return True
    return False


def assert_exact(got: Any, want: Any, what: str) -> None:
    """Same dtype, shape and values (integers and bools)."""
    assert dtype_name(got) == dtype_name(want), f"{what}: dtype {got.dtype} != {want.dtype}"
    g, w = to_numpy(got), to_numpy(want)
    assert g.shape == w.shape, f"{what}: shape {g.shape} != {w.shape}"
    bad = np.flatnonzero(g != w)
    assert not bad.size, (
        f"{what}: {bad.size} values differ, first at flat index {bad[0]}: "
        f"{g.flat[bad[0]]!r} != {w.flat[bad[0]]!r}"
    )


def assert_floats(
    got: Any, want: Any, rtol: float, what: str, skip: np.ndarray | None = None
) -> None:
    """Elementwise: NaN where NaN, the same infinities, finite |g - w| <= rtol * max(1, |w|);
    elements where ``skip`` is true are not compared."""
    g = to_numpy(got).astype(np.float64)
    w = to_numpy(want).astype(np.float64)
    assert g.shape == w.shape, f"{what}: shape {g.shape} != {w.shape}"
    if skip is not None and skip.any():
        g, w = np.where(skip, 0.0, g), np.where(skip, 0.0, w)
    for name, mask in (("NaN", np.isnan), ("+inf", np.isposinf), ("-inf", np.isneginf)):
        bad = np.flatnonzero(mask(g) != mask(w))
        assert not bad.size, (
            f"{what}: {name} positions differ at flat index {bad[0]}: "
            f"got {g.flat[bad[0]]!r}, PyTorch {w.flat[bad[0]]!r}"
        )
    fin = np.isfinite(w)
    err = np.abs(g[fin] - w[fin]) / np.maximum(1.0, np.abs(w[fin]))
    if err.size:
        i = int(np.argmax(err))
        assert err[i] <= rtol, (
            f"{what}: relative error {err[i]:.3g} > {rtol:.3g} "
            f"(got {g[fin][i]!r}, PyTorch {w[fin][i]!r})"
        )


def assert_same_grads(
    got: list[Any],
    want: list[Any],
    rtol: float,
    what: str,
    skips: list[np.ndarray | None] | None = None,
) -> None:
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        said = {True: "None", False: "a tensor"}
        assert (g is None) == (w is None), (
            f"{what}: x{i}.grad is {said[g is None]}, PyTorch's is {said[w is None]}"
        )
        if w is not None:
            assert_floats(g, w, rtol, f"{what} x{i}.grad", None if skips is None else skips[i])


def leaf_grads(T: Any, case: Case, fn: Callable[..., Any], backward: bool) -> tuple[Any, list[Any]]:
    """``out = fn(*inputs)`` and, when asked and possible, ``out.sum().backward()``."""
    xs = case.inputs(T)
    out = fn(*xs)
    if backward and getattr(out, "requires_grad", False):
        out.sum().backward()
    return out, [x.grad if x.requires_grad else None for x in xs]


def grad_transform(case: Case) -> Any:
    """``adjit.grad`` of ``program(...).sum()`` wrt the inputs that require grad (or Raised)."""
    wrt = tuple(i for i, rg in enumerate(case.requires_grad) if rg)
    fn = case.bind(adjit)

    def loss(*xs: Any) -> Any:
        return fn(*xs).sum()

    xs = [x.detach() for x in case.inputs(adjit)]
    return outcome(lambda: adjit.grad(loss, argnums=wrt)(*xs)), wrt


def compiled(case: Case) -> Callable[..., Any]:
    return adjit.compile(case.bind(adjit))


def compare_with_torch(got: Any, want: Any, rtol: float, what: str) -> None:
    """adjit's (value, gradients) against PyTorch's, or the same error: the same exception type
    with PyTorch's message inside adjit's; integer results exact, floats within ``rtol``."""
    if same_raise(got, want, what):
        g, w = got.error, want.error
        assert type(g).__name__ == type(w).__name__ and str(w) in str(g), (
            f"{what}: raised {type(g).__name__}: {g}; PyTorch {type(w).__name__}: {w}"
        )
        return
    if not want[0].dtype.is_floating_point:
        assert_exact(got[0], want[0], f"{what} value")
        return
    assert dtype_name(got[0]) == dtype_name(want[0]), f"{what}: dtype"
    assert_floats(got[0], want[0], rtol, f"{what} value")
    assert_same_grads(got[1], want[1], rtol, what)


def check_eager_then_compiled(case: Case, rtol: float, data_dependent: bool = False) -> None:
    """PyTorch, adjit eager and adjit compiled on one case (values and leaf gradients); a
    data-dependent case is refused with a TracingError when compiled with fullgraph=True, and
    is a graph break (the op runs on the values) otherwise."""
    import warnings

    import torch

    want = outcome(lambda: leaf_grads(torch, case, case.bind(torch), True))
    got = outcome(lambda: leaf_grads(adjit, case, case.bind(adjit), True))
    compare_with_torch(got, want, rtol, "adjit eager")
    if data_dependent:
        whole = adjit.compile(case.bind(adjit), fullgraph=True)
        raised = outcome(lambda: whole(*case.inputs(adjit)))
        assert isinstance(raised, Raised), "compiled: a data-dependent op was traced"
        assert isinstance(raised.error, adjit.TracingError), f"compiled: {raised}"
    if isinstance(want, Raised):
        return
    fn = compiled(case)
    if data_dependent:  # a graph break: one warning saying so
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = outcome(lambda: leaf_grads(adjit, case, fn, True))
        compare_with_torch(got, want, rtol, "compiled (split by a graph break)")
        return
    got = outcome(lambda: leaf_grads(adjit, case, fn, True))
    compare_with_torch(got, want, rtol, "compiled")
