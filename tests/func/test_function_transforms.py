"""Custom rules under vmap and forward mode: autograd.Function (generate_vmap_rule, a vmap
staticmethod, jvp with save_for_forward) side by side with torch.func, eager and compiled,
and adjit.custom_vjp / custom_jvp under vmap and jvp side by side with jax."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import adjit
from adjit.func import grad, jvp, vmap


def exp_function(lib):
    """exp with a backward and a jvp that are deliberately not exp's (3x, 5x): only a
    transform that calls them gets these numbers."""

    class MyExp(lib.autograd.Function):
        generate_vmap_rule = True

        @staticmethod
        def forward(x):
            return x.exp()

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(output)
            ctx.save_for_forward(output)

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return 3 * g * y

        @staticmethod
        def jvp(ctx, t):
            (y,) = ctx.saved_tensors
            return 5 * t * y

    return MyExp


def cube_with_vmap_rule(lib):
    class MyCube(lib.autograd.Function):
        @staticmethod
        def forward(x):
            return x**3

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * g * x  # deliberately not 3 x^2

        @staticmethod
        def vmap(info, in_dims, x):
            return MyCube.apply(x), in_dims[0]

    return MyCube


def tagged_vmap_rule(lib):
    """A vmap staticmethod that is deliberately not the batched forward (plus the batch size,
    results batched at dims 1 and 0): only a vmap that calls it gets these numbers."""

    class Tagged(lib.autograd.Function):
        @staticmethod
        def forward(x, scale):
            return x.sin() * scale, x.cos()

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])
            ctx.scale = inputs[1]

        @staticmethod
        def backward(ctx, ga, gb):
            (x,) = ctx.saved_tensors
            return 10 * ga * x.cos() * ctx.scale - gb * x.sin(), None

        @staticmethod
        def vmap(info, in_dims, x, scale):
            assert in_dims[1] is None and info.randomness == "error"
            x = x.movedim(in_dims[0], 0)
            a = (x.sin() * scale + info.batch_size).movedim(0, 1)
            return (a, x.cos() * 2), (1, 0)

    return Tagged


def two_outputs(lib):
    class SinCos(lib.autograd.Function):
        generate_vmap_rule = True

        @staticmethod
        def forward(x, w):
            return x.sin() * w, x.cos()

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, w = inputs
            ctx.save_for_backward(x, w)
            ctx.save_for_forward(x, w)

        @staticmethod
        def backward(ctx, g_sin, g_cos):
            x, w = ctx.saved_tensors
            gx = g_sin * x.cos() * w - 2 * g_cos * x.sin()  # (2: only the rule gives it)
            return gx, g_sin * x.sin()

        @staticmethod
        def jvp(ctx, tx, tw):
            x, w = ctx.saved_tensors
            return tx * x.cos() * w + x.sin() * tw, -2 * tx * x.sin()

    return SinCos


def shared_outputs(lib):
    """Outputs the batch shares (they depend only on the unbatched w) whose backward reads a
    batched input: PyTorch gives each example the shared output's whole cotangent."""

    class Shared(lib.autograd.Function):
        generate_vmap_rule = True

        @staticmethod
        def forward(x, w):
            return x * w, w.exp()

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(*inputs)

        @staticmethod
        def backward(ctx, ga, gb):
            x, w = ctx.saved_tensors
            return ga * w, ga * x + gb.clamp(-0.3, 0.3) * w.exp() * x.sum()

    return Shared


ADJ_EXP, TORCH_EXP = exp_function(adjit), exp_function(torch)
ADJ_CUBE, TORCH_CUBE = cube_with_vmap_rule(adjit), cube_with_vmap_rule(torch)
ADJ_SC, TORCH_SC = two_outputs(adjit), two_outputs(torch)

X = np.array([[0.1, 0.2, 0.3], [1.0, -2.0, 0.5]], np.float32)
W = np.array([1.5, -0.5, 2.0], np.float32)
T = np.array([[1.0, -1.0, 0.5], [0.25, 2.0, -3.0]], np.float32)


def _no_grad(lib, fn):
    def run(*args):
        with lib.no_grad():  # (forward mode is not stopped by no_grad)
            return fn(*args)

    return run


def _sc_loss(F):
    return lambda x, w: sum(o.sum() for o in F.apply(x, w))


def _programs(lib, exp, cube, sc, tagged, shared):
    f = lib.func
    return {
        "tagged_vmap": lambda x: f.vmap(lambda v: tagged.apply(v, 3.0))(x),
        "tagged_vmap_in_dim_1": lambda x: f.vmap(lambda v: tagged.apply(v, 3.0), 1)(x),
        "tagged_grad_vmap": lambda x: f.grad(
            lambda v: sum(o.sum() for o in f.vmap(lambda u: tagged.apply(u, 3.0))(v))
        )(x),
        "tagged_vmap_grad": lambda x: f.vmap(
            f.grad(lambda v: sum(o.sum() for o in tagged.apply(v, 3.0)))
        )(x),
        "vmap": lambda x: f.vmap(exp.apply)(x),
        "vmap_grad": lambda x: f.vmap(f.grad(lambda v: exp.apply(v).sum()))(x),
        "grad_vmap": lambda x: f.grad(lambda v: f.vmap(exp.apply)(v).sum())(x),
        "jvp": lambda x, t: f.jvp(exp.apply, (x,), (t,))[1],
        "vmap_jvp": lambda x, t: f.vmap(lambda v, s: f.jvp(exp.apply, (v,), (s,))[1])(x, t),
        "jvp_vmap": lambda x, t: f.jvp(f.vmap(exp.apply), (x,), (t,))[1],
        "jvp_grad": lambda x, t: f.jvp(f.grad(lambda v: exp.apply(v).sum()), (x,), (t,))[1],
        "vmap_rule": lambda x: f.vmap(cube.apply)(x),
        "vmap_rule_grad": lambda x: f.vmap(f.grad(lambda v: cube.apply(v).sum()))(x),
        "grad_vmap_rule": lambda x: f.grad(lambda v: f.vmap(cube.apply)(v).sum())(x),
        "two_vmap_grad": lambda x, w: f.vmap(f.grad(_sc_loss(sc), argnums=(0, 1)), (0, None))(x, w),
        "two_jvp": lambda x, t: f.jvp(lambda v: sc.apply(v, v[0]), (x,), (t,))[1],
        "jacrev": lambda x: f.jacrev(exp.apply)(x),
        "jacfwd": lambda x: f.jacfwd(exp.apply)(x),
        "hessian": lambda x: f.hessian(lambda v: exp.apply(v).sum())(x[0]),
        "shared_grad_vmap": lambda x, w: f.grad(
            lambda x, w: sum((o * x).sum() for o in f.vmap(shared.apply, (0, None))(x, w)),
            argnums=(0, 1),
        )(x, w),
        "shared_vmap_grad": lambda x, w: f.vmap(
            f.grad(lambda x, w: sum((o * x).sum() for o in shared.apply(x, w)), argnums=(0, 1)),
            (0, None),
        )(x, w),
        "vmap_vmap_grad": lambda x3: f.vmap(f.vmap(f.grad(lambda v: exp.apply(v).sum())))(x3),
        "vmap_vmap_jvp": lambda x3, t3: f.vmap(
            f.vmap(lambda x, t: f.jvp(exp.apply, (x,), (t,))[1])
        )(x3, t3),
        "two_vmap_vmap_grad": lambda x3, w: f.vmap(
            f.vmap(f.grad(_sc_loss(sc), argnums=(0, 1)), (0, None)), (0, None)
        )(x3, w),
        "two_grad_vmap_vmap": lambda x3, w: f.grad(
            lambda x, w: sum(
                (o * o).sum() for o in f.vmap(f.vmap(sc.apply, (0, None)), (0, None))(x, w)
            ),
            argnums=(0, 1),
        )(x3, w),
        "jvp_under_no_grad": lambda x, t: f.jvp(_no_grad(lib, exp.apply), (x,), (t,))[1],
        "two_vmap_jvp": lambda x, t: f.vmap(
            lambda v, s: f.jvp(lambda u: sc.apply(u, u * 2), (v,), (s,))[1]
        )(x, t),  # fmt: skip
    }


ADJ = _programs(adjit, ADJ_EXP, ADJ_CUBE, ADJ_SC, tagged_vmap_rule(adjit), shared_outputs(adjit))
TORCH = _programs(
    torch, TORCH_EXP, TORCH_CUBE, TORCH_SC, tagged_vmap_rule(torch), shared_outputs(torch)
)
ARGS = {name: ("x", "t") if "jvp" in name else ("x",) for name in ADJ}
ARGS.update(two_vmap_grad=("x", "w"), shared_grad_vmap=("x", "w"), shared_vmap_grad=("x", "w"))
ARGS.update(vmap_vmap_grad=("x3",), vmap_vmap_jvp=("x3", "t3"))
ARGS.update(two_vmap_vmap_grad=("x3", "w"), two_grad_vmap_vmap=("x3", "w"))
X3 = np.random.RandomState(0).randn(2, 4, 3).astype(np.float32)
VALUES = {"x": X, "t": T, "w": W, "x3": X3, "t3": np.cos(X3)}


def _run(fn, lib, names):
    return fn(*(lib.tensor(VALUES[n]) for n in names))


def _numpy(tree):
    if isinstance(tree, tuple | list):
        return [_numpy(t) for t in tree]
    return np.asarray(tree.detach().numpy())


def _close(got, expected):
    if isinstance(expected, list):
        assert len(got) == len(expected)
        for g, e in zip(got, expected, strict=True):
            _close(g, e)
        return
    np.testing.assert_allclose(got, expected, rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("name", sorted(ADJ))
def test_function_transforms_match_torch_func(name, compiled):
    expected = _numpy(_run(TORCH[name], torch, ARGS[name]))
    fn = adjit.compile(ADJ[name]) if compiled else ADJ[name]
    _close(_numpy(_run(fn, adjit, ARGS[name])), expected)


def test_backward_through_vmap_of_a_function_uses_its_backward():
    x = adjit.tensor(X, requires_grad=True)
    vmap(ADJ_EXP.apply)(x).sum().backward()
    tx = torch.tensor(X, requires_grad=True)
    torch.func.vmap(TORCH_EXP.apply)(tx).sum().backward()
    _close(x.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("name", ["exp", "two outputs", "log1pexp"])
def test_eager_forward_ad_uses_the_jvp_rule(name):
    def run(lib, fn, *args):
        fw = lib.autograd.forward_ad
        x, t, *rest = (lib.tensor(a) for a in args)
        with fw.dual_level():
            out = fn(fw.make_dual(x, t), *rest)
            outs = out if isinstance(out, tuple) else (out,)
            return [fw.unpack_dual(o).tangent.numpy() for o in outs]

    if name == "log1pexp":
        got = run(adjit, A_L1PE, XS, 2 * np.ones_like(XS))
        expected = jax.jvp(J_L1PE, (jnp.array(XS),), (2 * jnp.ones_like(XS),))[1]
        _close(got, [np.asarray(expected)])
        return
    adj, ref = (ADJ_EXP, TORCH_EXP) if name == "exp" else (ADJ_SC, TORCH_SC)
    args = (X, T) if name == "exp" else (X, T, W)
    _close(run(adjit, adj.apply, *args), run(torch, ref.apply, *args))


def test_jvp_float64_finite_differences():
    class Sq(adjit.autograd.Function):
        generate_vmap_rule = True

        @staticmethod
        def forward(x, y):
            return x * x * y

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_forward(*inputs)

        @staticmethod
        def jvp(ctx, tx, ty):
            x, y = ctx.saved_tensors
            return 2 * x * tx * y + x * x * ty

    x = adjit.tensor([0.3, -1.2, 2.0], dtype=adjit.float64)
    y = adjit.tensor([1.5, 0.7, -0.4], dtype=adjit.float64)
    tx = adjit.tensor([1.0, 0.5, -2.0], dtype=adjit.float64)
    ty = adjit.tensor([0.2, -1.0, 0.3], dtype=adjit.float64)
    _, tangent = jvp(Sq.apply, (x, y), (tx, ty))
    eps = 1e-6
    fd = (Sq.apply(x + eps * tx, y + eps * ty) - Sq.apply(x - eps * tx, y - eps * ty)) / (2 * eps)
    np.testing.assert_allclose(tangent.numpy(), fd.numpy(), rtol=1e-8, atol=1e-9)
    _, batched = vmap(lambda a, b, c, d: jvp(Sq.apply, (a, b), (c, d)))(
        *(v.expand(2, 3) for v in (x, y, tx, ty))
    )
    np.testing.assert_allclose(batched.numpy(), np.stack([fd.numpy()] * 2), rtol=1e-8, atol=1e-9)


def _errors(lib):
    class NoVmap(lib.autograd.Function):
        @staticmethod
        def forward(x):
            return x.sin()

        @staticmethod
        def setup_context(ctx, inputs, output):
            pass

        @staticmethod
        def backward(ctx, g):
            return g

    class Both(NoVmap):
        generate_vmap_rule = True

        @staticmethod
        def vmap(info, in_dims, x):
            return x, 0

    class NoSetup(lib.autograd.Function):
        generate_vmap_rule = True

        @staticmethod
        def forward(ctx, x):
            return x.sin()

        @staticmethod
        def backward(ctx, g):
            return g

    f = lib.func
    x = lib.ones(2, 3)
    return {
        "no vmap": lambda: f.vmap(NoVmap.apply)(x),
        "both": lambda: f.vmap(Both.apply)(x),
        "no setup_context": lambda: f.vmap(NoSetup.apply)(x),
        "no jvp": lambda: f.jvp(NoVmap.apply, (x,), (x,)),
        "no setup_context jvp": lambda: f.jvp(NoSetup.apply, (x,), (x,)),
        "no jvp, forward_ad": lambda: _dual_call(lib, NoVmap.apply, x),
    }


def _dual_call(lib, fn, x):
    fw = lib.autograd.forward_ad
    with fw.dual_level():
        return fn(fw.make_dual(x, lib.ones_like(x)))


@pytest.mark.parametrize("case", sorted(_errors(torch)))
def test_errors_match_torch(case):
    with pytest.raises(Exception) as expected:
        _errors(torch)[case]()
    with pytest.raises(type(expected.value)) as got:
        _errors(adjit)[case]()
    assert str(got.value) == str(expected.value)


# -- adjit.custom_vjp / custom_jvp under vmap and jvp, side by side with jax -------------------

jax = pytest.importorskip("jax")
jnp = jax.numpy


def _clip(lib, custom_vjp):
    @custom_vjp
    def clip_gradient(lo, hi, x):
        return x

    clip_gradient.defvjp(
        lambda lo, hi, x: (x, (lo, hi)), lambda res, g: (None, None, lib.clip(g, *res))
    )
    return clip_gradient


def _log1pexp(lib, custom_jvp):
    @custom_jvp
    def log1pexp(x):
        return lib.log(1.0 + lib.exp(x))

    @log1pexp.defjvp
    def rule(primals, tangents):
        (x,), (t,) = primals, tangents
        return log1pexp(x), t * (1 - 1 / (1 + lib.exp(x)))

    return log1pexp


A_CLIP, J_CLIP = _clip(adjit, adjit.custom_vjp), _clip(jnp, jax.custom_vjp)
A_L1PE, J_L1PE = _log1pexp(adjit, adjit.custom_jvp), _log1pexp(jnp, jax.custom_jvp)
XS = np.array([[0.0, 10.0, 100.0], [1.0, -3.0, 50.0]], np.float32)
WS = np.array([3.0, -0.1, 1.0], np.float32)


def _jax_cases():
    return {
        "clip_vmap_grad": jax.vmap(jax.grad(lambda x: (J_CLIP(-0.5, 0.5, x) * WS).sum())),
        "l1pe_vmap_grad": jax.vmap(jax.grad(lambda x: J_L1PE(x).sum())),
        "l1pe_jvp": lambda x: jax.jvp(J_L1PE, (x,), (jnp.ones_like(x) * 2,))[1],
        "l1pe_vmap_jvp": jax.vmap(lambda x: jax.jvp(J_L1PE, (x,), (jnp.ones_like(x),))[1]),
        "l1pe_jvp_grad": lambda x: jax.jvp(
            jax.grad(lambda v: J_L1PE(v).sum()), (x,), (jnp.ones_like(x),)
        )[1],
        "l1pe_jvp_no_grad": lambda x: jax.jvp(J_L1PE, (x,), (jnp.ones_like(x) * 2,))[1],
        "l1pe_jacrev": jax.jacrev(J_L1PE),
        "l1pe_jacfwd": jax.jacfwd(J_L1PE),
        "l1pe_hessian": jax.hessian(lambda v: J_L1PE(v).sum()),
        "clip_jacrev": jax.jacrev(lambda x: J_CLIP(-0.5, 0.5, x) * WS),
    }


def _adjit_cases():
    w = adjit.tensor(WS)
    return {
        "clip_vmap_grad": vmap(grad(lambda x: (A_CLIP(-0.5, 0.5, x) * w).sum())),
        "l1pe_vmap_grad": vmap(grad(lambda x: A_L1PE(x).sum())),
        "l1pe_jvp": lambda x: jvp(A_L1PE, (x,), (adjit.ones_like(x) * 2,))[1],
        "l1pe_vmap_jvp": vmap(lambda x: jvp(A_L1PE, (x,), (adjit.ones_like(x),))[1]),
        "l1pe_jvp_grad": lambda x: jvp(
            grad(lambda v: A_L1PE(v).sum()), (x,), (adjit.ones_like(x),)
        )[1],
        "l1pe_jvp_no_grad": lambda x: jvp(_no_grad(adjit, A_L1PE), (x,), (2 * adjit.ones_like(x),))[
            1
        ],
        "l1pe_jacrev": adjit.func.jacrev(A_L1PE),
        "l1pe_jacfwd": adjit.func.jacfwd(A_L1PE),
        "l1pe_hessian": adjit.func.hessian(lambda v: A_L1PE(v).sum()),
        "clip_jacrev": adjit.func.jacrev(lambda x: A_CLIP(-0.5, 0.5, x) * w),
    }


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("case", sorted(_jax_cases()))
def test_custom_rules_under_transforms_match_jax(case, compiled):
    expected = np.asarray(_jax_cases()[case](jnp.array(XS)))
    fn = _adjit_cases()[case]
    got = (adjit.compile(fn) if compiled else fn)(adjit.tensor(XS)).numpy()
    # finite where jax is (the second derivative of log1pexp's rule at 100 is inf/inf in both)
    np.testing.assert_array_equal(np.isfinite(got), np.isfinite(expected))
    np.testing.assert_allclose(got, expected, rtol=2e-6, atol=1e-6)


def test_custom_vjp_refuses_forward_mode_as_jax():
    with pytest.raises(TypeError) as expected:
        jax.jvp(lambda x: J_CLIP(-0.5, 0.5, x), (jnp.ones(3),), (jnp.ones(3),))
    with pytest.raises(TypeError) as got:
        jvp(lambda x: A_CLIP(-0.5, 0.5, x), (adjit.ones(3),), (adjit.ones(3),))
    assert str(got.value) == str(expected.value)
