"""Custom autograd.Functions side by side with PyTorch: eager behaviour (values, gradients,
requires_grad, grad_fn names, error types and texts), then gradients under adjit.compile,
adjit.grad and adjit.value_and_grad on both backends, vs torch and float64 finite
differences, and higher order where the backward is itself differentiable."""

from __future__ import annotations

import types
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import adjit
from adjit.autograd import traced

torch = pytest.importorskip("torch")

BACKENDS = ["llvm", "interpreter"]


def classes(L: Any) -> types.SimpleNamespace:
    """The same Functions written for torch and for adjit (``L`` is the library)."""
    once = L.autograd.function.once_differentiable

    class Exp(L.autograd.Function):  # classic style, saves its output
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y

    class MulAdd(L.autograd.Function):  # setup_context style, defaults, two outputs
        @staticmethod
        def forward(x, y, k=2.0):
            return x * y * k, x + y

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, y, k = inputs
            ctx.k = k
            ctx.save_for_backward(x, y)

        @staticmethod
        def backward(ctx, g, h):
            x, y = ctx.saved_tensors
            return g * y * ctx.k + h, g * x * ctx.k + h, None

    class SinSq(L.autograd.Function):  # saves an intermediate, stores a tensor on ctx
        @staticmethod
        def forward(ctx, x):
            s = x.sin()
            ctx.save_for_backward(s)
            ctx.x = x
            return s * s

        @staticmethod
        def backward(ctx, g):
            (s,) = ctx.saved_tensors
            return g * 2 * s * ctx.x.cos()

    class Cube(L.autograd.Function):  # differentiable backward through a saved input
        @staticmethod
        def forward(x):
            return x * x * x

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x * x * g

    class Floor(L.autograd.Function):  # straight-through: not the forward's derivative
        @staticmethod
        def forward(ctx, x):
            return x.floor()

        @staticmethod
        def backward(ctx, g):
            return g

    class Argmax(L.autograd.Function):  # an integer output marked non-differentiable
        @staticmethod
        def forward(ctx, x):
            i = x.argmax()
            mask = x == x.max()
            ctx.mark_non_differentiable(i, mask)
            ctx.save_for_backward(mask)
            return x.max() * 2, i, mask

        @staticmethod
        def backward(ctx, g, gi, gm):
            (mask,) = ctx.saved_tensors
            return mask.to(g.dtype) * g * 2

    class Split(L.autograd.Function):  # set_materialize_grads(False): None for unused
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g2, g3):
            total = 0
            if g2 is not None:
                total = total + 2 * g2
            if g3 is not None:
                total = total + 3 * g3
            return total

    class ClipGrad(L.autograd.Function):  # a backward not linear in its cotangents
        @staticmethod
        def forward(ctx, x):
            return x.clone(), x * 2

        @staticmethod
        def backward(ctx, ga, gb):
            return (ga + 2 * gb).clamp(-1.0, 1.0)

    class Needs(L.autograd.Function):  # needs_input_grad per input, a number in between
        @staticmethod
        def forward(ctx, x, n, y):
            ctx.save_for_backward(x, y)
            ctx.n = n
            return x * y * n

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_tensors
            gx = g * y * ctx.n if ctx.needs_input_grad[0] else None
            gy = g * x * ctx.n if ctx.needs_input_grad[2] else None
            return gx, None, gy

    class Twice(L.autograd.Function):  # @once_differentiable
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @once
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    class Double_(L.autograd.Function):  # in place, mark_dirty
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 2

    class Vjp(L.autograd.Function):  # vjp instead of backward (PyTorch's alias)
        @staticmethod
        def forward(ctx, x):
            return x * 3

        @staticmethod
        def vjp(ctx, g):
            return g * 3

    class Boxed(L.autograd.Function):  # boxed_grads_call: the cotangents as one list
        boxed_grads_call = True

        @staticmethod
        def forward(ctx, x):
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, grads):
            return grads[0] * 2 + grads[1] * 3

    class Outer(L.autograd.Function):  # nested: a Function inside forward and backward
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return Exp.apply(x) * 2

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return Exp.apply(x) * 2 * g

    class SinDouble(L.autograd.Function):  # tensors kept on ctx inside a dict and a tuple
        @staticmethod
        def forward(ctx, x):
            ctx.kept = {"x": x, "pair": (x * 2, 3)}
            return (x * 2).sin()

        @staticmethod
        def backward(ctx, g):
            doubled, k = ctx.kept["pair"]
            return g * doubled.cos() * (k - 1)

    class Identity(L.autograd.Function):  # returns its input unchanged (not dirty)
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 5

    return types.SimpleNamespace(**{k: v for k, v in locals().items() if isinstance(v, type)})


T, A = classes(torch), classes(adjit)


def _bad(L: Any, result: Callable[..., Any], n_inputs: int = 1) -> type:
    """A Function whose backward returns ``result(g)`` (for PyTorch's checks on it)."""

    def forward(ctx: Any, *xs: Any) -> Any:
        return xs[0] * 2

    def backward(ctx: Any, g: Any) -> Any:
        return result(g)

    return type(
        "Bad",
        (L.autograd.Function,),
        {"forward": staticmethod(forward), "backward": staticmethod(backward)},
    )


# ---- observations: what a snippet gives, comparable between the libraries ----


def observe(fn: Callable[[], Any]) -> Any:
    """``fn()``'s result with tensors as (values, dtype, requires_grad, grad_fn name), or the
    type and text of what it raised."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _plain(fn())
    except Exception as e:  # noqa: BLE001  (compared with what torch raised)
        return ("raised", type(e).__name__, str(e))


def _plain(v: Any) -> Any:
    if isinstance(v, torch.Tensor | adjit.Tensor):
        name = v.grad_fn.name() if v.grad_fn is not None else None
        return ("tensor", v.detach().numpy().tolist(), str(v.dtype), v.requires_grad, name)
    if isinstance(v, tuple | list):
        return type(v)(_plain(x) for x in v)
    if isinstance(v, torch.dtype | adjit.dtype):
        return str(v)
    return v


def _leaf(L: Any, values: list[float], dtype: str = "float64") -> Any:
    return L.tensor(values, dtype=getattr(L, dtype), requires_grad=True)


def _backward(out: Any, *leaves: Any) -> tuple:
    out.sum().backward()
    return tuple(x.grad for x in leaves)


def _mul_add(L: Any, C: Any) -> Any:
    x, y = _leaf(L, [1.0, 2.0]), _leaf(L, [3.0, -4.0])
    a, b = C.MulAdd.apply(x, y)
    return a, b, _backward(a + b, x, y)


def _mul_add_kwarg(L: Any, C: Any) -> Any:
    x, y = _leaf(L, [1.0, 2.0]), _leaf(L, [3.0, -4.0])
    a, b = C.MulAdd.apply(x, y=y, k=0.5)
    return a, _backward(a * b, x, y)


def _argmax(L: Any, C: Any) -> Any:
    x = _leaf(L, [1.0, 3.0, 2.0])
    v, i, m = C.Argmax.apply(x)
    return v, i, m, _backward(v, x)


def _materialize(L: Any, C: Any, which: int) -> Any:
    x = _leaf(L, [1.0, -2.0])
    return _backward(C.Split.apply(x)[which], x)


def _clip(L: Any, C: Any) -> Any:
    x = _leaf(L, [0.25, -0.125, 1.0])
    a, b = C.ClipGrad.apply(x)
    return _backward(a * 0.5 + b * 0.125, x)


def _needs(L: Any, C: Any, flags: tuple[bool, bool]) -> Any:
    seen = []

    class Spy(C.Needs):
        @staticmethod
        def backward(ctx, g):
            seen.append(ctx.needs_input_grad)
            return C.Needs.backward(ctx, g)

    x = L.tensor([1.0, 2.0], dtype=L.float64, requires_grad=flags[0])
    y = L.tensor([3.0, 5.0], dtype=L.float64, requires_grad=flags[1])
    out = Spy.apply(x, 4, y)
    out.sum().backward()
    return out, seen, x.grad, y.grad


def _once(L: Any, C: Any) -> Any:
    x = _leaf(L, [1.0, 3.0])
    (g,) = L.autograd.grad(C.Twice.apply(x).sum(), x, create_graph=True)
    first = (g, g.requires_grad)
    y = C.Twice.apply(x)
    v = L.ones(2, dtype=L.float64, requires_grad=True)
    (h,) = L.autograd.grad(y, x, v, create_graph=True)
    second = (h, h.requires_grad)
    return first, second, observe(lambda: h.sum().backward())  # differentiated twice


def _dirty(L: Any, C: Any) -> Any:
    x = _leaf(L, [1.0, 3.0])
    y = x.clone()
    z = C.Double_.apply(y)
    same = z is y
    return same, z, y._version if hasattr(y, "_version") else None, _backward(z, x)


def _dirty_leaf(L: Any, C: Any) -> Any:
    return C.Double_.apply(_leaf(L, [1.0]))


def _dirty_not_returned(L: Any, C: Any) -> Any:
    class Bad(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return g

    return Bad.apply(_leaf(L, [1.0]).clone())


def _identity(L: Any, C: Any) -> Any:
    x = _leaf(L, [1.0, 2.0])
    y = x * 1
    z = C.Identity.apply(y)
    return z is y, z, _backward(z, x)


def _saved_twice(L: Any, C: Any) -> Any:
    x = _leaf(L, [1.0, 2.0])
    y = C.Exp.apply(x)
    y.sum().backward()
    y.sum().backward()


def _saved_retained(L: Any, C: Any) -> Any:
    x = _leaf(L, [1.0, 2.0])
    y = C.Exp.apply(x)
    y.sum().backward(retain_graph=True)
    y.sum().backward()
    return x.grad


def _saved_modified(L: Any, C: Any) -> Any:
    x = _leaf(L, [1.0, 2.0])
    y = C.Exp.apply(x)
    y.mul_(2)
    y.sum().backward()


def _instantiate(L: Any, C: Any) -> Any:
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        f = C.Exp()
    return [(type(m.message).__name__, str(m.message).split(">", 1)[1]) for m in w], observe(
        lambda: f(1)
    )


def _no_backward(L: Any, C: Any) -> Any:
    class F(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

    x = _leaf(L, [1.0])
    return _backward(F.apply(x), x)


def _both(L: Any, C: Any) -> Any:
    class F(C.Vjp):
        @staticmethod
        def backward(ctx, g):
            return g

    x = _leaf(L, [1.0])
    return _backward(F.apply(x), x)


def _generate_vmap_rule(L: Any, C: Any) -> Any:
    class F(C.Cube):
        generate_vmap_rule = True

    x = _leaf(L, [2.0])
    return F.apply(x), _backward(F.apply(x), x), F.generate_vmap_rule


def _grad_fn(L: Any, C: Any) -> Any:
    x = _leaf(L, [1.0])
    y = C.Exp.apply(x)
    fn = y.grad_fn
    shown = repr(fn).split(" object at")[0]
    return repr(y), shown, type(fn).__name__, fn.name(), fn.needs_input_grad, len(fn.saved_tensors)


def _tuple_and_list(L: Any, C: Any) -> Any:
    class F(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return (x * 2,), [x * 3, x]

        @staticmethod
        def backward(ctx, g, h):
            return g

    class G(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return (x * 2,)

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = _leaf(L, [1.0])
    return F.apply(x), G.apply(x), type(G.apply(x)).__name__


def _nontensor_outputs(L: Any, C: Any) -> Any:
    got = []

    class F(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2, 3, None

        @staticmethod
        def backward(ctx, g, a, b):
            got.append((a, b))
            return g

    x = _leaf(L, [1.0])
    out = F.apply(x)
    return out, _backward(out[0], x), got


def _no_grad(L: Any, C: Any) -> Any:
    x = _leaf(L, [1.0])
    with L.no_grad():
        y = C.Exp.apply(x)
    return y, C.Exp.apply(L.tensor([1.0]))


def _nested(L: Any, C: Any) -> Any:
    x = _leaf(L, [0.5, -1.0])
    y = C.Outer.apply(x)
    return y, _backward(y, x)


def _int_grad(L: Any, C: Any) -> Any:
    x = _leaf(L, [1.0, 2.0], "float32")
    return _backward(_bad(L, lambda g: g.to(L.int64) * 0 + 1).apply(x), x)


# name -> (what the backward returns given (L, g), number of tensor inputs; with one tensor
# input the Function also takes a number)
BAD: dict[str, tuple[Callable[[Any, Any], Any], int]] = {
    "backward returns fewer": (lambda L, g: g, 2),
    "backward returns more": (lambda L, g: (g, None, g), 1),
    "backward returns extra Nones": (lambda L, g: (g * 2, None, None), 1),
    "gradient for a number": (lambda L, g: (g, g), 1),
    "gradient of a wrong shape": (lambda L, g: (g[:2], None), 1),
    "gradient that broadcasts": (lambda L, g: (g.expand(2, 3), None), 1),
    "gradient of a scalar": (lambda L, g: (g.sum(), None), 1),
    "gradient as a float": (lambda L, g: (2.0, None), 1),
    "gradient as a list": (lambda L, g: ([g], None), 1),
    "gradient of another dtype": (lambda L, g: (g.to(L.float32), None), 1),
    "backward returns None": (lambda L, g: (None, None), 1),
}


def _unchecked_for_a_constant(L: Any, C: Any) -> Any:
    """PyTorch checks a gradient's shape only for an input that requires grad."""
    x, y = _leaf(L, [1.0, 2.0, 3.0]), L.tensor([1.0, 2.0, 3.0], dtype=L.float64)
    return _backward(_bad(L, lambda g: (g, g[:1])).apply(x, y), x)


def _bad_call(L: Any, name: str, xs: list[Any]) -> Any:
    result, n = BAD[name]
    return _bad(L, lambda g: result(L, g)).apply(*xs, *([2.0] if n == 1 else []))


def _bad_row(name: str) -> Callable[[Any, Any], Any]:
    def row(L: Any, C: Any) -> Any:
        xs = [_leaf(L, [1.0, 2.0, 3.0]) for _ in range(BAD[name][1])]
        return _backward(_bad_call(L, name, xs), *xs)

    return row


EAGER_ROWS: dict[str, Callable[[Any, Any], Any]] = {
    "setup_context style": _mul_add,
    "setup_context with keywords and a default": _mul_add_kwarg,
    "mark_non_differentiable": _argmax,
    "set_materialize_grads(False) first used": lambda L, C: _materialize(L, C, 0),
    "set_materialize_grads(False) second used": lambda L, C: _materialize(L, C, 1),
    "backward nonlinear in its cotangents": _clip,
    "needs_input_grad both": lambda L, C: _needs(L, C, (True, True)),
    "needs_input_grad first": lambda L, C: _needs(L, C, (True, False)),
    "needs_input_grad second": lambda L, C: _needs(L, C, (False, True)),
    "once_differentiable": _once,
    "mark_dirty": _dirty,
    "mark_dirty on a leaf": _dirty_leaf,
    "mark_dirty not returned": _dirty_not_returned,
    "input returned unchanged": _identity,
    "backward twice": _saved_twice,
    "backward twice retain_graph": _saved_retained,
    "saved output modified in place": _saved_modified,
    "instantiated": _instantiate,
    "no backward": _no_backward,
    "both backward and vjp": _both,
    "vjp alias": lambda L, C: (lambda x: _backward(C.Vjp.apply(x), x))(_leaf(L, [1.0])),
    "boxed_grads_call": lambda L, C: (lambda x: _backward(sum(C.Boxed.apply(x)), x))(
        _leaf(L, [1.0, 2.0])
    ),
    "generate_vmap_rule": _generate_vmap_rule,
    "grad_fn": _grad_fn,
    "tuple and list outputs": _tuple_and_list,
    "non-tensor outputs": _nontensor_outputs,
    "no grad": _no_grad,
    "nested Functions": _nested,
    "integer gradient cast": _int_grad,
    "save_for_backward of a number": lambda L, C: _bad_save(L),
    "no forward": lambda L, C: type("F", (L.autograd.Function,), {}).apply(_leaf(L, [1.0])),
    "jvp not implemented": lambda L, C: C.Exp.jvp(None, 1),
    "vmap not implemented": lambda L, C: C.Exp.vmap(None, None, 1),
    "setup_context with a ctx forward": lambda L, C: _setup_with_ctx(L),
    "setup_context saves an input returned as-is": lambda L, C: _returned_and_saved(L, True),
    "... under no_grad": lambda L, C: _returned_and_saved(L, False),
    "clear_saved_tensors_on_access, read once": lambda L, C: _clear_on_access(L, 1),
    "clear_saved_tensors_on_access, read twice": lambda L, C: _clear_on_access(L, 2),
    "save_for_backward twice": lambda L, C: _save_twice(L, C),
    "classic style with a keyword tensor": lambda L, C: _classic_keyword(L, C),
    **{name: _bad_row(name) for name in BAD},
    "wrong shape for an input without grad": lambda L, C: _unchecked_for_a_constant(L, C),
}


def _classic_keyword(L: Any, C: Any) -> Any:
    seen = []

    class F(L.autograd.Function):
        @staticmethod
        def forward(ctx, x, k=1.0):
            seen.append(ctx.needs_input_grad)
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g * 2, g * 3

    x, k = _leaf(L, [1.0, 2.0]), _leaf(L, [3.0, 4.0])
    return F.apply(x, k=k), _backward(F.apply(x, k=k), x, k), seen


def _clear_on_access(L: Any, reads: int) -> Any:
    class F(L.autograd.Function):
        clear_saved_tensors_on_access = True

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            saved = [ctx.saved_tensors for _ in range(reads)]
            return g * saved[0][0]

    x = _leaf(L, [1.0, 3.0])
    return _backward(F.apply(x), x)


def _save_twice(L: Any, C: Any) -> Any:
    seen = []

    class F(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            seen.append(len(ctx.saved_tensors))  # readable in forward already
            ctx.save_for_backward(x, x * 2)  # the last call wins
            return x * 3

        @staticmethod
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            return g * (a + b)

    x = _leaf(L, [1.0, 2.0])
    return _backward(F.apply(x), x), seen


def _bad_save(L: Any) -> Any:
    class F(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x, 3)
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    return F.apply(_leaf(L, [1.0]))


def _returned_and_saved(L: Any, grad: bool) -> Any:
    class F(L.autograd.Function):
        @staticmethod
        def forward(a):
            return a, a * 2

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])

        @staticmethod
        def backward(ctx, g, h):
            return g

    with L.set_grad_enabled(grad):
        return F.apply(_leaf(L, [1.0]))


def _setup_with_ctx(L: Any) -> Any:
    class F(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def setup_context(ctx, inputs, output):
            pass

        @staticmethod
        def backward(ctx, g):
            return g

    return F.apply(_leaf(L, [1.0]))


@pytest.mark.parametrize("name", list(EAGER_ROWS))
def test_eager_vs_torch(name: str) -> None:
    want = observe(lambda: EAGER_ROWS[name](torch, T))
    got = observe(lambda: EAGER_ROWS[name](adjit, A))
    assert _same(got, want), f"{name}:\n adjit {got}\n torch {want}"


def _same(a: Any, b: Any) -> bool:
    """Equal observations; float values to 1e-6 relative (float32 rows round alike)."""
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, str) and isinstance(b, str):
        return a.replace("adjit", "torch") == b
    if isinstance(a, float) and isinstance(b, float):
        return bool(np.isclose(a, b, rtol=1e-6, atol=0))
    return a == b


# ---- gradients under every entry point: rows of (loss of (L, C, x, y), rule is the true
# derivative so finite differences apply) ----


def _two_outputs(C: Any, x: Any, y: Any) -> Any:
    a, b = C.MulAdd.apply(x, y)
    return (a.sin() + b * b).sum()


def _in_place(L: Any, C: Any, x: Any, y: Any) -> Any:
    z = x * y
    return (C.Double_.apply(z) * y).sum()


LOSSES: dict[str, tuple[Callable[[Any, Any, Any, Any], Any], bool]] = {
    "saved output": (lambda L, C, x, y: (C.Exp.apply(x) * y).sum(), True),
    "setup_context, two outputs": (lambda L, C, x, y: _two_outputs(C, x, y), True),
    "one of two outputs used": (lambda L, C, x, y: (C.MulAdd.apply(x, y, 3.0)[1] ** 2).sum(), True),
    "saved intermediate and ctx tensor": (lambda L, C, x, y: (C.SinSq.apply(x * y)).sum(), True),
    "saved input": (lambda L, C, x, y: (C.Cube.apply(x) * y.cos()).sum(), True),
    "straight-through": (lambda L, C, x, y: (C.Floor.apply(x * 3) * y).sum(), False),
    "non-differentiable outputs": (lambda L, C, x, y: C.Argmax.apply(x * y)[0], True),
    "no materialize, one used": (lambda L, C, x, y: (C.Split.apply(x)[1] * y).sum(), True),
    "no materialize, both used": (
        lambda L, C, x, y: (lambda a, b: (a * y + b.exp()).sum())(*C.Split.apply(x)),
        True,
    ),
    "nonlinear in cotangents": (
        lambda L, C, x, y: (lambda a, b: (a * y + b * 0.25).sum())(*C.ClipGrad.apply(x)),
        False,
    ),
    "needs_input_grad, a number": (lambda L, C, x, y: C.Needs.apply(x, 2.5, y).sum(), True),
    "vjp alias": (lambda L, C, x, y: (C.Vjp.apply(x) * y).sum(), True),
    "boxed_grads_call": (lambda L, C, x, y: (sum(C.Boxed.apply(x)) * y).sum(), True),
    "nested Functions": (lambda L, C, x, y: (C.Outer.apply(x) * y).sum(), True),
    "input returned unchanged": (lambda L, C, x, y: (C.Identity.apply(x * y)).sum(), False),
    "mark_dirty": (_in_place, True),
    "tensors in ctx containers": (lambda L, C, x, y: (C.SinDouble.apply(x) * y).sum(), True),
    "once_differentiable": (lambda L, C, x, y: (C.Twice.apply(x) * y).sum(), True),
    "twice in one program": (lambda L, C, x, y: (C.Exp.apply(C.Exp.apply(x) * y)).sum(), True),
}

X = np.array([0.5, -1.25, 0.75], np.float64)
Y = np.array([1.5, -0.5, 0.25], np.float64)


def _torch_loss(name: str) -> tuple[float, list[np.ndarray]]:
    x, y = (torch.tensor(a, requires_grad=True) for a in (X, Y))
    out = LOSSES[name][0](torch, T, x, y)
    out.backward()
    return out.item(), [x.grad.numpy(), y.grad.numpy()]


def _adjit_fn(name: str) -> Callable[[Any, Any], Any]:
    loss = LOSSES[name][0]
    return lambda x, y: loss(adjit, A, x, y)


def _leaves(requires_grad: bool) -> list[Any]:
    return [adjit.tensor(a, requires_grad=requires_grad) for a in (X, Y)]


def _close(got: Any, want: Any, what: str) -> None:
    got = got.numpy() if hasattr(got, "numpy") else got
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14, err_msg=what)


@pytest.mark.parametrize("name", list(LOSSES))
def test_eager_gradients_vs_torch_and_finite_differences(name: str) -> None:
    value, want = _torch_loss(name)
    args = _leaves(True)
    out = _adjit_fn(name)(*args)
    out.backward()
    _close(out.item(), value, "value")
    for a, w in zip(args, want, strict=True):
        _close(a.grad, w, "gradient vs torch")
    if LOSSES[name][1]:  # the user's rule is the true derivative
        for i, g in enumerate(_finite_differences(name)):
            np.testing.assert_allclose(want[i], g, rtol=1e-6, atol=1e-8)


def _finite_differences(name: str) -> list[np.ndarray]:
    """Central differences of the loss (float64, eager adjit), one gradient per argument."""
    fn, eps = _adjit_fn(name), 1e-6
    grads = []
    for i in range(2):
        g = np.zeros(3)
        for j in range(3):
            vals = []
            for s in (eps, -eps):
                arrays = [X.copy(), Y.copy()]
                arrays[i][j] += s
                vals.append(fn(*(adjit.tensor(a) for a in arrays)).item())
            g[j] = (vals[0] - vals[1]) / (2 * eps)
        grads.append(g)
    return grads


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(LOSSES))
def test_compiled_backward(name: str, backend: str) -> None:
    value, want = _torch_loss(name)
    compiled = adjit.compile(_adjit_fn(name), backend=backend)
    for call in ("first", "cached"):
        args = _leaves(True)
        out = compiled(*args)
        _close(out.item(), value, f"{call} value")
        out.backward()
        for a, w in zip(args, want, strict=True):
            _close(a.grad, w, f"{call} call gradient")
    assert compiled.trace_count == 1


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(LOSSES))
def test_grad_and_value_and_grad(name: str, backend: str) -> None:
    value, want = _torch_loss(name)
    grads = adjit.grad(_adjit_fn(name), argnums=(0, 1), backend=backend)(*_leaves(False))
    for g, w in zip(grads, want, strict=True):
        _close(g, w, "adjit.grad")
    v, grads = adjit.value_and_grad(_adjit_fn(name), argnums=(0, 1), backend=backend)(
        *_leaves(False)
    )
    _close(v.item(), value, "adjit.value_and_grad value")
    for g, w in zip(grads, want, strict=True):
        _close(g, w, "adjit.value_and_grad")


@pytest.mark.parametrize("argnums", [(0,), (1,), (0, 1)])
def test_needs_input_grad_traced(argnums: tuple[int, ...]) -> None:
    seen = []

    class Spy(A.Needs):
        @staticmethod
        def backward(ctx, g):
            seen.append(ctx.needs_input_grad)
            return A.Needs.backward(ctx, g)

    grads = adjit.grad(lambda x, y: Spy.apply(x, 4, y).sum(), argnums=argnums)(*_leaves(False))
    want = {0: 4 * Y, 1: 4 * X}
    for i, g in zip(argnums, grads, strict=True):
        _close(g, want[i], f"gradient {i}")
    assert seen == [(0 in argnums, False, 1 in argnums)]


def test_backward_called_once_per_call_under_compile() -> None:
    calls = []

    class Count(adjit.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g2, g3):
            calls.append(1)
            return 2 * g2 + 3 * g3

    def f(x: Any) -> Any:
        a, b = Count.apply(x)
        return (a * b).sum()

    g = adjit.grad(f)(adjit.tensor(X))
    _close(g, 12 * X, "gradient")
    assert len(calls) == 1
    assert not traced._FILED  # every output's filed cotangent was taken by its call's rule


# ---- higher order: a backward made of differentiable ops is differentiated again ----

SECOND: dict[str, tuple[Callable[[Any, Any, Any], Any], bool]] = {
    "saved input": (lambda L, C, x: (C.Cube.apply(x) * x).sum(), True),
    "saved output": (lambda L, C, x: C.Exp.apply(x * 2).sum(), True),
    "two outputs": (
        lambda L, C, x: (lambda a, b: (a * b).sum())(*C.MulAdd.apply(x, x.sin())),
        True,
    ),
    "saved intermediate (no second-order path, as PyTorch)": (
        lambda L, C, x: C.SinSq.apply(x).sum(),
        False,
    ),
    "nested Functions": (lambda L, C, x: C.Outer.apply(x).sum(), True),
}


def _torch_second(name: str) -> tuple[np.ndarray, np.ndarray]:
    x = torch.tensor(X, requires_grad=True)
    (g,) = torch.autograd.grad(SECOND[name][0](torch, T, x), x, create_graph=True)
    (h,) = torch.autograd.grad((g * g).sum(), x)
    return g.detach().numpy(), h.numpy()


@pytest.mark.parametrize("name", list(SECOND))
def test_second_order_eager(name: str) -> None:
    want_g, want_h = _torch_second(name)
    x = adjit.tensor(X, requires_grad=True)
    (g,) = adjit.autograd.grad(SECOND[name][0](adjit, A, x), x, create_graph=True)
    (h,) = adjit.autograd.grad((g * g).sum(), x)
    _close(g.detach(), want_g, "first")
    _close(h, want_h, "second")
    if SECOND[name][1]:
        x = adjit.tensor(X, requires_grad=True)
        assert adjit.autograd.gradgradcheck(lambda t: SECOND[name][0](adjit, A, t), (x,))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(SECOND))
def test_second_order_compiled(name: str, backend: str) -> None:
    _, want_h = _torch_second(name)
    loss = SECOND[name][0]
    inner = adjit.grad(lambda t: loss(adjit, A, t), backend=backend)
    h = adjit.grad(lambda t: (inner(t) ** 2).sum(), backend=backend)(adjit.tensor(X))
    _close(h, want_h, "adjit.grad(adjit.grad)")


def test_second_order_of_once_differentiable_raises_pytorchs_error() -> None:
    inner = adjit.grad(lambda t: A.Twice.apply(t).sum())
    _close(inner(adjit.tensor(X)), 2 * X, "first order")
    with pytest.raises(RuntimeError, match="differentiate twice a function that was marked"):
        adjit.grad(lambda t: (inner(t) ** 2).sum())(adjit.tensor(X))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(BAD))
def test_backward_checks_under_grad(name: str, backend: str) -> None:
    """PyTorch's checks on what the backward returns hold when it is traced, too."""

    def grads(L: Any, xs: list[Any]) -> Any:
        if L is torch:
            out = _bad_call(L, name, xs).sum()  # (adjit.grad gives zeros where none reached)
            return torch.autograd.grad(out, xs, allow_unused=True, materialize_grads=True)
        fn = adjit.grad(
            lambda *ts: _bad_call(L, name, list(ts)).sum(),
            argnums=(0, 1)[: len(xs)],
            backend=backend,
        )
        return fn(*xs)

    n = BAD[name][1]
    want = observe(lambda: grads(torch, [_leaf(torch, [1.0, 2.0, 3.0]) for _ in range(n)]))
    got = observe(lambda: grads(adjit, [adjit.tensor([1.0, 2.0, 3.0], dtype=adjit.float64)] * n))
    assert _same(got, want), f"{name}:\n adjit {got}\n torch {want}"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(SECOND))
def test_create_graph_inside_compile(name: str, backend: str) -> None:
    """A gradient penalty: autograd.grad(create_graph=True) through the Function, compiled."""
    _, want_h = _torch_second(name)
    loss = SECOND[name][0]

    def penalty(t: Any) -> Any:
        (g,) = adjit.autograd.grad(loss(adjit, A, t), t, create_graph=True)
        return (g * g).sum()

    compiled = adjit.compile(penalty, backend=backend)
    for call in ("first", "cached"):
        x = adjit.tensor(X, requires_grad=True)
        compiled(x).backward()
        _close(x.grad, want_h, f"{call} call")


class _ReadsInBackward(adjit.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * (2.0 if g.sum().item() > -1e9 else 0.0)


class _ReadsInForward(adjit.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        x.sum().item()
        return x / 2

    @staticmethod
    def backward(ctx, g):
        return g / 2


def test_a_backward_that_reads_data_refuses_clearly() -> None:
    """The backward is traced into the compiled gradient: no graph break can happen there."""
    with pytest.raises(adjit.TracingError, match="backward of the custom autograd.Function"):
        adjit.grad(lambda t: _ReadsInBackward.apply(t).sum())(adjit.tensor(X))
    x = adjit.tensor(X, requires_grad=True)
    with pytest.raises(adjit.TracingError, match="_ReadsInBackward is traced"):
        adjit.compile(lambda t: (_ReadsInBackward.apply(t) * t).sum())(x)


def test_graph_break_inside_forward() -> None:
    fn = lambda t: (_ReadsInForward.apply(t * 3) * t.sin()).sum()  # noqa: E731
    x, y = adjit.tensor(X, requires_grad=True), adjit.tensor(X, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        adjit.compile(fn)(x).backward()
    fn(y).backward()
    _close(x.grad, y.grad.numpy(), "gradient across a break inside the forward")


def _linear_model(L: Any) -> Any:
    """PyTorch's documented LinearFunction (setup_context, needs_input_grad, an optional
    bias) inside a module."""

    class LinearFunction(L.autograd.Function):
        @staticmethod
        def forward(input, weight, bias):
            output = input.mm(weight.t())
            if bias is not None:
                output += bias.unsqueeze(0).expand_as(output)
            return output

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(*inputs)

        @staticmethod
        def backward(ctx, grad_output):
            input, weight, bias = ctx.saved_tensors
            grad_input = grad_weight = grad_bias = None
            if ctx.needs_input_grad[0]:
                grad_input = grad_output.mm(weight)
            if ctx.needs_input_grad[1]:
                grad_weight = grad_output.t().mm(input)
            if bias is not None and ctx.needs_input_grad[2]:
                grad_bias = grad_output.sum(0)
            return grad_input, grad_weight, grad_bias

    class Linear(L.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = L.nn.Parameter(L.tensor(np.linspace(-1, 1, 12).reshape(3, 4)))
            self.bias = L.nn.Parameter(L.tensor([0.1, -0.2, 0.3], dtype=L.float64))

        def forward(self, x: Any) -> Any:
            return LinearFunction.apply(x, self.weight, self.bias)

    return Linear()


def _train(L: Any, backend: str | None) -> tuple[list[float], np.ndarray]:
    model = _linear_model(L)
    opt = L.optim.SGD(model.parameters(), lr=0.1)

    def step(x: Any) -> Any:
        opt.zero_grad()
        loss = (model(x).tanh() ** 2).sum()
        loss.backward()
        opt.step()
        return loss

    run = step if backend is None else adjit.compile(step, backend=backend)
    x = np.linspace(-2, 2, 20).reshape(5, 4)
    losses = [run(L.tensor(x)).item() for _ in range(3)]
    return losses, model.weight.detach().numpy()


@pytest.mark.parametrize("backend", [None, *BACKENDS])
def test_training_step_with_a_custom_linear_function(backend: str | None) -> None:
    """Forward, the user's backward and the optimizer update as one compiled step."""
    want_losses, want_weight = _train(torch, None)
    losses, weight = _train(adjit, backend)
    _close(np.array(losses), np.array(want_losses), "losses")
    _close(weight, want_weight, "trained weight")


def test_autograd_functional_through_functions() -> None:
    """hessian, jvp and hvp (double-backward tricks) differentiate the user's backward."""

    def results(L: Any, C: Any) -> list[np.ndarray]:
        x, v = L.tensor(X), L.tensor(Y)
        f = lambda t: (C.Cube.apply(t) * t.sin()).sum()  # noqa: E731
        h = L.autograd.functional.hessian(f, x)
        _, j = L.autograd.functional.jvp(lambda t: C.Exp.apply(t) * 2, x, v)
        _, hv = L.autograd.functional.hvp(f, x, v)
        return [h.numpy(), j.numpy(), hv.numpy()]

    for got, want in zip(results(adjit, A), results(torch, T), strict=True):
        _close(got, want, "autograd.functional")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(SECOND))
def test_double_backward_of_a_compiled_call(name: str, backend: str) -> None:
    """autograd.grad(create_graph=True) of a compiled call's output, then again, eagerly."""
    _, want_h = _torch_second(name)
    loss = SECOND[name][0]
    compiled = adjit.compile(lambda t: loss(adjit, A, t), backend=backend)
    x = adjit.tensor(X, requires_grad=True)
    (g,) = adjit.autograd.grad(compiled(x), x, create_graph=True)
    (h,) = adjit.autograd.grad((g * g).sum(), x)
    _close(h, want_h, "second derivative")


@pytest.mark.parametrize("backend", BACKENDS)
def test_graph_break_inside_forward_chains_gradients(backend: str) -> None:
    """A value read inside the forward splits the program there; the user's backward still
    gives the gradient (its call is traced in the segment after the break)."""
    fn = lambda t: (_ReadsInForward.apply(t * 3) * 2).sum()  # noqa: E731
    x = adjit.tensor(X, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = adjit.compile(fn, backend=backend)(x)
    out.backward()
    _close(out.item(), 3 * X.sum(), "value")
    _close(x.grad, np.full(3, 3.0), "gradient: d/dt 2 * (3t / 2) by the user's rule")
