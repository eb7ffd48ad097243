"""Every torch.optim optimizer x flag combination: adjit's trajectory equals PyTorch's step for
step (float64 to ~1e-12, float32 to float tolerance), and state_dicts round-trip both ways."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")

CONFIGS: list[tuple[str, dict[str, Any]]] = [
    ("Adadelta", {}),
    ("Adadelta", {"lr": 0.5, "rho": 0.8, "eps": 1e-5, "weight_decay": 0.1}),
    ("Adadelta", {"maximize": True, "foreach": True}),
    ("Adamax", {}),
    ("Adamax", {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.1}),
    ("Adamax", {"maximize": True, "foreach": False}),
    ("NAdam", {}),
    ("NAdam", {"lr": 0.01, "momentum_decay": 0.01, "weight_decay": 0.1}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("NAdam", {"maximize": True, "foreach": True}),
    ("RAdam", {}),
    ("RAdam", {"lr": 0.01, "betas": (0.5, 0.8), "weight_decay": 0.1}),  # rectified from step 5
    (
        "RAdam",
        {"lr": 0.01, "betas": (0.5, 0.8), "decoupled_weight_decay": True, "weight_decay": 0.1},
    ),
    ("RAdam", {"maximize": True, "foreach": True}),
    ("ASGD", {}),
    ("ASGD", {"lr": 0.05, "lambd": 0.01, "alpha": 0.5, "t0": 3, "weight_decay": 0.1}),
    ("ASGD", {"lr": 0.05, "t0": 2, "maximize": True, "foreach": True}),
    ("Rprop", {}),
    ("Rprop", {"lr": 0.05, "etas": (0.3, 1.5), "step_sizes": (1e-3, 0.2)}),
    ("Rprop", {"maximize": True, "foreach": True}),
    ("Adafactor", {}),
    (
        "Adafactor",
        {"lr": 0.05, "beta2_decay": -0.5, "eps": (1e-20, 1e-3), "d": 2.0, "weight_decay": 0.1},
    ),
    ("Adafactor", {"maximize": True, "foreach": False}),
    ("Adagrad", {"lr": 0.1, "fused": True}),
    ("Adagrad", {"lr": 0.1, "foreach": True, "lr_decay": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "fused": True}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "foreach": True}),
    ("Adam", {"lr": 0.01, "fused": True, "amsgrad": True}),
    ("Adam", {"lr": 0.01, "foreach": True, "decoupled_weight_decay": True, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.01, "fused": True}),
    ("RMSprop", {"lr": 0.01, "foreach": True, "centered": True, "momentum": 0.5}),
]
SHAPES = [(3, 4), (4,), (2,)]  # the last parameter never gets a gradient
STEPS = 12
TOL = {"float64": {"rtol": 1e-12, "atol": 1e-14}, "float32": {"rtol": 2e-5, "atol": 2e-6}}


def _init(dtype: str) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [rng.standard_normal(s).astype(dtype) for s in SHAPES]


def _grads(step: int, dtype: str) -> list[np.ndarray]:
    rng = np.random.default_rng(100 + step)
    # a shared sign pattern now and then, so Rprop sees both sign changes and repeats
    return [(rng.standard_normal(s) + (step % 3 == 0)).astype(dtype) for s in SHAPES[:-1]]


def _make(lib: Any, name: str, kwargs: dict[str, Any], init: list[np.ndarray]) -> Any:
    params = [lib.nn.Parameter(lib.tensor(w.copy())) for w in init]
    groups = [{"params": params[:1]}, {"params": params[1:], "lr": kwargs.get("lr", 0.01) / 2}]
    return params, getattr(lib.optim, name)(groups, **kwargs)


def _steps(lib: Any, params: list[Any], opt: Any, steps: range, dtype: str) -> None:
    for k in steps:
        opt.zero_grad()
        for p, g in zip(params, _grads(k, dtype), strict=False):
            p.grad = lib.tensor(g)
        opt.step()


def _to(lib: Any, value: Any) -> Any:
    """A state_dict rebuilt in ``lib``, tensor by tensor (same dtypes and values)."""
    if isinstance(value, (adjit.Tensor, torch.Tensor)):
        return lib.tensor(value.detach().numpy().copy())
    if isinstance(value, dict):
        return {k: _to(lib, v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to(lib, v) for v in value)
    return value


def _assert_same_state(sa: dict[str, Any], st: dict[str, Any], dtype: str) -> None:
    assert sa["param_groups"] == st["param_groups"]
    assert sa["state"].keys() == st["state"].keys()
    for i, state in st["state"].items():
        assert list(sa["state"][i]) == list(state)
        for key, value in state.items():
            got = sa["state"][i][key]
            assert str(got.dtype) == str(value.dtype), key
            assert got.shape == value.shape, key
            np.testing.assert_allclose(got.numpy(), value.numpy(), err_msg=key, **TOL[dtype])


def _assert_same_params(pa: list[Any], pt: list[Any], dtype: str) -> None:
    for a, t in zip(pa, pt, strict=True):
        assert str(a.dtype) == str(t.dtype)
        np.testing.assert_allclose(a.detach().numpy(), t.detach().numpy(), **TOL[dtype])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(("name", "kwargs"), CONFIGS, ids=str)
def test_trajectory_and_state_match_torch(name: str, kwargs: dict[str, Any], dtype: str) -> None:
    init = _init(dtype)
    pa, oa = _make(adjit, name, kwargs, init)
    pt, ot = _make(torch, name, kwargs, init)
    _steps(adjit, pa, oa, range(STEPS), dtype)
    _steps(torch, pt, ot, range(STEPS), dtype)
    _assert_same_params(pa, pt, dtype)
    np.testing.assert_array_equal(pa[-1].detach().numpy(), init[-1])  # grad None: untouched
    _assert_same_state(oa.state_dict(), ot.state_dict(), dtype)
    assert repr(oa) == repr(ot)


def _resume(src: Any, dst: Any, name: str, kwargs: dict[str, Any], dtype: str) -> list[Any]:
    """Run half the steps in ``src``, carry params and optimizer state to ``dst`` (tensor by
    tensor), run the other half there."""
    init = _init(dtype)
    p_src, o_src = _make(src, name, kwargs, init)
    _steps(src, p_src, o_src, range(STEPS // 2), dtype)
    p_dst, o_dst = _make(dst, name, kwargs, [p.detach().numpy() for p in p_src])
    o_dst.load_state_dict(_to(dst, o_src.state_dict()))
    _steps(dst, p_dst, o_dst, range(STEPS // 2, STEPS), dtype)
    step = o_dst.state_dict()["state"][0].get("step")
    if step is not None:  # kept as saved: a float32 0-d tensor counting every step
        assert str(step.dtype) == "torch.float32" and step.item() == STEPS
    return p_dst


@pytest.mark.parametrize(
    ("direction", "dtype"),
    [("torch->adjit", "float64"), ("adjit->torch", "float64"), ("adjit->adjit", "float64"),
     ("torch->adjit", "float32")],
)  # fmt: skip
@pytest.mark.parametrize(("name", "kwargs"), CONFIGS, ids=str)
def test_state_dict_resumes_across_libraries(
    name: str, kwargs: dict[str, Any], direction: str, dtype: str
) -> None:
    """A resumed run continues exactly as PyTorch's own resumed run does. (That can differ from
    never stopping: PyTorch's load casts 0-d state such as NAdam's ``mu_product`` and ASGD's
    ``eta``/``mu`` to the parameter dtype.)"""
    src, dst = {"torch->adjit": (torch, adjit), "adjit->torch": (adjit, torch)}.get(
        direction, (adjit, adjit)
    )
    _assert_same_params(
        _resume(src, dst, name, kwargs, dtype), _resume(torch, torch, name, kwargs, dtype), dtype
    )


def test_state_dict_layout_is_pytorchs() -> None:
    """Indices for params, groups without tensors, the step a float32 0-d tensor."""
    init = _init("float32")
    pa, oa = _make(adjit, "NAdam", {}, init)
    _steps(adjit, pa, oa, range(2), "float32")
    sd = oa.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1, 2]]
    assert sorted(sd["state"]) == [0, 1]
    assert sd["state"][0]["step"].shape == () and str(sd["state"][0]["step"].dtype) == (
        "torch.float32"
    )
    assert sd["state"][0]["mu_product"].shape == ()


FLAG_ERRORS = [
    ("Adam", {"fused": True, "foreach": True}),
    ("SGD", {"fused": True, "differentiable": True}),
    ("Adagrad", {"fused": True, "foreach": True}),
    ("Adadelta", {"rho": 1.5}),
    ("Adamax", {"betas": (0.9, 1.0)}),
    ("NAdam", {"momentum_decay": -1.0}),
    ("RAdam", {"eps": -1.0}),
    ("ASGD", {"weight_decay": -0.1}),
    ("Rprop", {"etas": (1.5, 1.2)}),
    ("LBFGS", {"lr": -1.0}),
    ("Adam", {"lr": "tensor", "foreach": True}),
    ("AdamW", {"lr": "tensor", "foreach": True}),
    ("Adam", {"betas": ("tensor", 0.99)}),
    ("SGD", {"lr": "tensor2"}),
    ("RMSprop", {"lr": "tensor2"}),
    ("Adagrad", {"lr": float("nan")}),
    ("RMSprop", {"eps": float("nan")}),
    ("SparseAdam", {"lr": 0.0}),
    ("Adafactor", {"d": 0.5}),
    ("Adafactor", {"beta2_decay": 0.5}),
    ("Adafactor", {"eps": (-1.0, 1e-3)}),
]


def _arg(lib: Any, value: Any) -> Any:
    """``"tensor"`` / ``"tensor2"`` stand for a 0-d / 2-element tensor of the library."""
    if isinstance(value, tuple):
        return tuple(_arg(lib, v) for v in value)
    if isinstance(value, str):
        return {"tensor": lib.tensor(0.5), "tensor2": lib.tensor([0.1, 0.2])}[value]
    return value


def _error(fn: Any) -> tuple[str, str]:
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the exception itself is the result compared
        return type(e).__name__, str(e)
    return "", ""


@pytest.mark.parametrize(("name", "kwargs"), FLAG_ERRORS, ids=str)
def test_constructor_errors_match_torch(name: str, kwargs: dict[str, Any]) -> None:
    errs = [
        _error(
            lambda lib=lib: getattr(lib.optim, name)(
                [lib.nn.Parameter(lib.ones(2))], **{k: _arg(lib, v) for k, v in kwargs.items()}
            )
        )
        for lib in (adjit, torch)
    ]
    assert errs[0] == errs[1] and errs[0][0]


STEP_ERRORS = [
    (name, {flag: True})
    for name in (
        "Adam",
        "AdamW",
        "RMSprop",
        "Adadelta",
        "Adamax",
        "NAdam",
        "RAdam",
        "ASGD",
        "Rprop",
    )
    for flag in ("capturable", "differentiable")
]


@pytest.mark.parametrize(("name", "kwargs"), STEP_ERRORS, ids=str)
def test_step_errors_match_torch(name: str, kwargs: dict[str, Any]) -> None:
    """capturable=True needs an accelerator; differentiable=True runs the step with grad mode on,
    so updating a leaf that requires grad in place fails, as in PyTorch."""

    def run(lib: Any) -> None:
        p = lib.nn.Parameter(lib.ones(2))
        opt = getattr(lib.optim, name)([p], **kwargs)
        p.grad = lib.ones(2)
        opt.step()

    errs = [_error(lambda lib=lib: run(lib)) for lib in (adjit, torch)]
    assert errs[0] == errs[1] and errs[0][0]


DIFFERENTIABLE = [
    ("SGD", {}),
    ("SGD", {"weight_decay": 0.1}),
    ("SGD", {"momentum": 0.9, "nesterov": True}),
    ("Adam", {}),
    ("Adam", {"weight_decay": 0.1}),
    ("Adam", {"amsgrad": True}),
    ("AdamW", {"weight_decay": 0.1}),
    ("NAdam", {}),
    ("NAdam", {"weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("RAdam", {}),
    ("Adadelta", {"weight_decay": 0.1}),
    ("Adagrad", {}),
    ("RMSprop", {"centered": True}),
    ("ASGD", {"weight_decay": 0.1, "t0": 1}),
    ("Rprop", {}),
]


@pytest.mark.parametrize(("name", "kwargs"), DIFFERENTIABLE, ids=str)
def test_differentiable_steps_match_torch(name: str, kwargs: dict[str, Any]) -> None:
    """differentiable=True: the step is recorded (a non-leaf parameter is updated in place) and
    backpropagating through three steps gives PyTorch's gradient and grad_fn; Adam and NAdam
    use PyTorch's tensor-valued bias corrections there."""
    out = []
    for lib in (adjit, torch):
        w0 = lib.tensor([1.0, -2.0, 3.0], dtype=lib.float64, requires_grad=True)
        p = w0 * 2
        opt = getattr(lib.optim, name)([p], lr=0.1, differentiable=True, **kwargs)
        for _ in range(3):
            p.grad = (p * p - 1).detach()
            opt.step()
        (p * p).sum().backward()
        out.append((w0.grad.numpy().copy(), type(p.grad_fn).__name__, p.detach().numpy().copy()))
    (ga, fa, pa), (gt, ft, pt) = out
    assert fa == ft
    np.testing.assert_allclose(pa, pt, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ga, gt, rtol=1e-12, atol=1e-14)


def _rosenbrock(lib: Any, x: Any) -> Any:
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


_A = np.random.default_rng(5).standard_normal((5, 5))
_A = _A @ _A.T / 5 + np.eye(5)


def _convex(lib: Any, x: Any) -> Any:
    """A well-conditioned quadratic plus a quartic term: rounding differences stay small."""
    a = lib.tensor(_A.astype(str(x.dtype).replace("torch.", "")))
    return 0.5 * (x @ (a @ x)) - x.sum() + 0.1 * (x**4).sum()


# Note [LBFGS on Rosenbrock]: PyTorch's CPU ``add_(other, alpha=)`` is one fused multiply-add,
# adjit's rounds the product first (1 ulp apart in ~40% of elements); Rosenbrock's valley
# amplifies such differences until the line search takes another branch. So Rosenbrock rows
# run in float64 to convergence, where both land on the same point; the history/tolerance and
# float32 rows use a well-conditioned problem, where the trajectories stay together.
LBFGS_ROWS = [
    ("rosenbrock", {"line_search_fn": "strong_wolfe"}, "float64", [-1.5, 2.0]),
    ("rosenbrock", {"line_search_fn": None, "lr": 0.1, "max_iter": 5}, "float64", [-1.5, 2.0]),
    ("rosenbrock", {"line_search_fn": "strong_wolfe"}, "float32", [-1.5, 2.0]),
    (
        "convex",
        {"line_search_fn": "strong_wolfe", "history_size": 2, "max_iter": 4},
        "float64",
        [1.0, -2.0, 0.5, 3.0, -1.0],
    ),
    (
        "convex",
        {"line_search_fn": "strong_wolfe", "tolerance_grad": 1e-3, "tolerance_change": 1e-4},
        "float64",
        [1.0, -2.0, 0.5, 3.0, -1.0],
    ),
    (
        "convex",
        {"line_search_fn": None, "lr": 0.5, "history_size": 3},
        "float64",
        [1.0, -2.0, 0.5, 3.0, -1.0],
    ),
    (
        "convex",
        {"line_search_fn": "strong_wolfe", "history_size": 2, "max_iter": 4},
        "float32",
        [1.0, -2.0, 0.5, 3.0, -1.0],
    ),
]


@pytest.mark.parametrize(("problem", "kwargs", "dtype", "x0"), LBFGS_ROWS, ids=str)
def test_lbfgs_matches_torch(
    problem: str, kwargs: dict[str, Any], dtype: str, x0: list[float]
) -> None:
    fn = {"rosenbrock": _rosenbrock, "convex": _convex}[problem]

    def run(lib: Any, dtype: str) -> tuple[np.ndarray, list[float], int, int]:
        x = lib.nn.Parameter(lib.tensor(np.array(x0, dtype)))
        opt = lib.optim.LBFGS([x], **kwargs)

        def closure() -> Any:
            opt.zero_grad()
            loss = fn(lib, x)
            loss.backward()
            return loss

        losses = [opt.step(closure).item() for _ in range(4)]
        state = opt.state[x]
        return x.detach().numpy().astype(np.float64), losses, state["func_evals"], state["n_iter"]

    xa, la, fa, na = run(adjit, dtype)
    xt, lt, ft, nt = run(torch, dtype)
    if dtype == "float64":
        np.testing.assert_allclose(xa, xt, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(la, lt, rtol=1e-10, atol=1e-12)
        assert (fa, na) == (ft, nt)
    else:  # float32: as close to the float64 answer as PyTorch's own float32 run is
        x64 = run(torch, "float64")[0]
        bound = 4 * np.abs(xt - x64).max() + 1e-5
        assert np.abs(xa - x64).max() <= bound
    if problem == "rosenbrock" and kwargs["line_search_fn"] == "strong_wolfe":
        np.testing.assert_allclose(xa, [1.0, 1.0], atol=1e-3)  # it does minimize


def test_lbfgs_state_dict_round_trip() -> None:
    """LBFGS state (history lists, 0-d tensors, Python numbers) loads into the other library."""
    out = []
    for src, dst in ((torch, adjit), (adjit, torch)):
        x = src.nn.Parameter(src.tensor([-1.5, 2.0], dtype=src.float64))
        opt = src.optim.LBFGS([x], line_search_fn="strong_wolfe", max_iter=3)

        def closure(lib: Any = src, x: Any = x, opt: Any = opt) -> Any:
            opt.zero_grad()
            loss = _rosenbrock(lib, x)
            loss.backward()
            return loss

        opt.step(closure)
        y = dst.nn.Parameter(dst.tensor(x.detach().numpy().copy()))
        opt2 = dst.optim.LBFGS([y], line_search_fn="strong_wolfe", max_iter=3)
        opt2.load_state_dict(_to(dst, opt.state_dict()))

        def closure2(lib: Any = dst, y: Any = y, opt: Any = opt2) -> Any:
            opt.zero_grad()
            loss = _rosenbrock(lib, y)
            loss.backward()
            return loss

        opt2.step(closure2)
        out.append(y.detach().numpy().copy())
    # reference: torch uninterrupted
    x = torch.nn.Parameter(torch.tensor([-1.5, 2.0], dtype=torch.float64))
    opt = torch.optim.LBFGS([x], line_search_fn="strong_wolfe", max_iter=3)

    def closure() -> Any:
        opt.zero_grad()
        loss = _rosenbrock(torch, x)
        loss.backward()
        return loss

    opt.step(closure)
    opt.step(closure)
    for got in out:
        np.testing.assert_allclose(got, x.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_param_groups_zero_grad_and_hooks() -> None:
    pa = [adjit.nn.Parameter(adjit.ones(2)), adjit.nn.Parameter(adjit.ones(3))]
    opt = adjit.optim.Adamax([pa[0]], lr=0.1)
    opt.add_param_group({"params": pa[1], "lr": 0.2})
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.2]
    assert opt.param_groups[1]["betas"] == (0.9, 0.999)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [pa[0]]})
    calls: list[str] = []
    h1 = opt.register_step_pre_hook(lambda o, a, k: calls.append("pre"))
    h2 = opt.register_step_post_hook(lambda o, a, k: calls.append("post"))
    for p in pa:
        p.grad = adjit.ones_like(p)
    opt.step()
    assert calls == ["pre", "post"]
    h1.remove()
    h2.remove()
    opt.zero_grad(set_to_none=False)
    assert all(p.grad is not None and p.grad.abs().sum().item() == 0 for p in pa)
    opt.zero_grad()
    assert all(p.grad is None for p in pa)


COMPLEX = [
    ("SGD", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.1}),
    ("Adam", {"amsgrad": True, "weight_decay": 0.1}),
    ("AdamW", {}),
    ("NAdam", {}),
    ("RAdam", {}),
    ("Adamax", {}),
    ("Adadelta", {}),
    ("Adagrad", {"initial_accumulator_value": 0.1}),
    ("RMSprop", {"centered": True, "momentum": 0.5}),
    ("ASGD", {"t0": 2}),
    ("Rprop", {}),
]


@pytest.mark.parametrize(("name", "kwargs"), COMPLEX, ids=str)
def test_complex_parameters_step_as_real_views(name: str, kwargs: dict[str, Any]) -> None:
    """A complex parameter steps as ``view_as_real`` of itself and its state, as in PyTorch;
    the state stays complex."""
    rng = np.random.default_rng(0)
    init = rng.standard_normal((3, 2)) + 1j * rng.standard_normal((3, 2))
    out = []
    for lib in (adjit, torch):
        p = lib.nn.Parameter(lib.tensor(init.copy()))
        opt = getattr(lib.optim, name)([p], **kwargs)
        for k in range(6):
            g = np.random.default_rng(k)
            p.grad = lib.tensor(g.standard_normal((3, 2)) + 1j * g.standard_normal((3, 2)))
            opt.step()
        state = opt.state_dict()["state"][0]
        layout = {k: (str(v.dtype), tuple(v.shape)) for k, v in state.items()}
        out.append((p.detach().numpy().copy(), layout))
    np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-12, atol=1e-14)
    assert out[0][1] == out[1][1]


def test_sparse_adam_refuses_dense_gradients_as_torch() -> None:
    errs = []
    for lib in (adjit, torch):
        p = lib.nn.Parameter(lib.ones(2))
        opt = lib.optim.SparseAdam([p], lr=0.1)
        p.grad = lib.ones(2)
        errs.append(_error(opt.step))
        errs.append(
            _error(lambda lib=lib: lib.optim.SparseAdam([lib.nn.Parameter(lib.ones(1))], lr=0))
        )
        z = lib.nn.Parameter(lib.ones(1, dtype=lib.complex64))
        errs.append(_error(lambda lib=lib, z=z: lib.optim.SparseAdam([z])))
    assert errs[:3] == errs[3:] and all(e[0] for e in errs)


def test_plain_number_step_in_a_checkpoint_becomes_a_tensor() -> None:
    """Older checkpoints hold ``step`` as a number; loading makes it a 0-d tensor again."""
    init = _init("float64")
    pt, ot = _make(torch, "NAdam", {}, init)
    _steps(torch, pt, ot, range(3), "float64")
    sd = _to(adjit, ot.state_dict())
    for state in sd["state"].values():
        state["step"] = int(state["step"].item())
        state["mu_product"] = state["mu_product"].item()
    pa, oa = _make(adjit, "NAdam", {}, [p.detach().numpy() for p in pt])
    oa.load_state_dict(sd)
    step = oa.state[pa[0]]["step"]
    assert isinstance(step, adjit.Tensor) and str(step.dtype) == "torch.float32"
    _steps(adjit, pa, oa, range(3, 6), "float64")
    assert oa.state[pa[0]]["step"].item() == 6


def test_state_dict_hooks() -> None:
    p = adjit.nn.Parameter(adjit.ones(2))
    opt = adjit.optim.RAdam([p])
    seen: list[str] = []
    opt.register_state_dict_pre_hook(lambda o: seen.append("pre"))
    opt.register_state_dict_post_hook(lambda o, sd: {**sd, "extra": 1})
    opt.register_load_state_dict_pre_hook(lambda o, sd: seen.append("load-pre"))
    opt.register_load_state_dict_post_hook(lambda o: seen.append("load-post"))
    sd = opt.state_dict()
    assert sd["extra"] == 1
    opt.load_state_dict(sd)
    assert seen == ["pre", "load-pre", "load-post"]


TENSOR_LR = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam",
             "RAdam", "ASGD", "Rprop"]  # fmt: skip


@pytest.mark.parametrize("name", TENSOR_LR)
def test_tensor_lr_with_a_scheduler_matches_torch(name: str) -> None:
    """``lr`` as a 0-d float32 tensor: PyTorch keeps it a tensor in the update arithmetic (so
    some coefficients round to float32) and schedulers fill it in place."""
    out = []
    for lib in (adjit, torch):
        p = lib.nn.Parameter(lib.tensor([1.0, -2.0], dtype=lib.float64))
        kwargs: dict[str, Any] = {} if name == "Rprop" else {"weight_decay": 0.1}
        kwargs.update(
            {"SGD": {"momentum": 0.9}, "NAdam": {"decoupled_weight_decay": True}}.get(name, {})
        )
        lr = lib.tensor(0.01)
        opt = getattr(lib.optim, name)([p], lr=lr, **kwargs)
        sched = lib.optim.lr_scheduler.StepLR(opt, 2, 0.5)
        for k in range(5):
            p.grad = lib.tensor([0.3 * k - 0.5, 1.0], dtype=lib.float64)
            opt.step()
            sched.step()
        assert opt.param_groups[0]["lr"] is lr  # filled in place
        out.append((p.detach().numpy().copy(), lr.item()))
    assert out[0][1] == out[1][1]
    np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-14, atol=1e-16)


@pytest.mark.parametrize(
    ("name", "kwargs", "schedule"),
    [
        ("NAdam", {"lr": 0.01}, ("OneCycleLR", {"max_lr": 0.05, "total_steps": 10})),
        ("RAdam", {"lr": 0.01}, ("CosineAnnealingWarmRestarts", {"T_0": 3})),
        ("Adamax", {"lr": 0.01}, ("LinearLR", {"total_iters": 4})),
        ("Adadelta", {}, ("ExponentialLR", {"gamma": 0.9})),
        ("ASGD", {"lr": 0.05, "t0": 4}, ("StepLR", {"step_size": 3})),
        ("Rprop", {"lr": 0.01}, ("PolynomialLR", {"total_iters": 8})),
        ("SGD", {"lr": 0.05, "momentum": 0.9}, ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1,
                                                            "step_size_up": 3})),
    ],
    ids=lambda v: v if isinstance(v, str) else v[0] if isinstance(v, tuple) else "",
)  # fmt: skip
def test_training_loop_with_scheduler_matches_torch(
    name: str, kwargs: dict[str, Any], schedule: tuple[str, dict[str, Any]]
) -> None:
    """A real float64 loop: each library's own autograd, optimizer and scheduler."""
    ta = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    ta = ta.double()
    aa = adjit.nn.Sequential(adjit.nn.Linear(4, 8), adjit.nn.Tanh(), adjit.nn.Linear(8, 3))
    aa = aa.double()
    aa.load_state_dict({k: adjit.tensor(v.numpy()) for k, v in ta.state_dict().items()})
    rng = np.random.default_rng(3)
    x = rng.standard_normal((16, 4))
    y = rng.integers(0, 3, 16)
    for model, lib in ((aa, adjit), (ta, torch)):
        opt = getattr(lib.optim, name)(model.parameters(), **kwargs)
        sched = getattr(lib.optim.lr_scheduler, schedule[0])(opt, **schedule[1])
        for _ in range(10):
            opt.zero_grad()
            lib.nn.functional.cross_entropy(model(lib.tensor(x)), lib.tensor(y)).backward()
            opt.step()
            sched.step()
    for (k, a), t in zip(aa.state_dict().items(), ta.state_dict().values(), strict=True):
        np.testing.assert_allclose(a.numpy(), t.numpy(), rtol=1e-10, atol=1e-12, err_msg=k)


def test_lbfgs_on_a_module_matches_torch() -> None:
    """LBFGS over several parameters (flattened together), strong Wolfe, float64."""
    ta = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    ta = ta.double()
    aa = adjit.nn.Sequential(adjit.nn.Linear(3, 4), adjit.nn.Tanh(), adjit.nn.Linear(4, 1))
    aa = aa.double()
    aa.load_state_dict({k: adjit.tensor(v.numpy()) for k, v in ta.state_dict().items()})
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((20, 3)), rng.standard_normal((20, 1))
    for model, lib in ((aa, adjit), (ta, torch)):
        opt = lib.optim.LBFGS(model.parameters(), line_search_fn="strong_wolfe", max_iter=5)

        def closure(model: Any = model, lib: Any = lib, opt: Any = opt) -> Any:
            opt.zero_grad()
            loss = ((model(lib.tensor(x)) - lib.tensor(y)) ** 2).mean()
            loss.backward()
            return loss

        for _ in range(2):
            opt.step(closure)
    for (k, a), t in zip(aa.state_dict().items(), ta.state_dict().values(), strict=True):
        np.testing.assert_allclose(a.numpy(), t.numpy(), rtol=1e-9, atol=1e-11, err_msg=k)


@pytest.mark.parametrize("name", ["NAdam", "Adafactor", "Rprop", "ASGD"])
def test_checkpoint_file_resumes_in_torch(name: str, tmp_path: Any) -> None:
    """``adjit.save`` of optimizer and scheduler state_dicts loads with
    ``torch.load(weights_only=True)``; PyTorch continues exactly as PyTorch's own resume."""
    init = _init("float64")
    pa, oa = _make(adjit, name, {}, init)
    sa = adjit.optim.lr_scheduler.ExponentialLR(oa, gamma=0.9)
    pt, ot = _make(torch, name, {}, init)
    st = torch.optim.lr_scheduler.ExponentialLR(ot, gamma=0.9)
    for k in range(STEPS // 2):
        _steps(adjit, pa, oa, range(k, k + 1), "float64")
        _steps(torch, pt, ot, range(k, k + 1), "float64")
        sa.step()
        st.step()
    path = tmp_path / "ckpt.pt"
    adjit.save({"optim": oa.state_dict(), "sched": sa.state_dict(), "epoch": 6}, path)
    ckpt = torch.load(path, weights_only=True)
    p2, o2 = _make(torch, name, {}, [p.detach().numpy() for p in pa])
    s2 = torch.optim.lr_scheduler.ExponentialLR(o2, gamma=0.9)
    o2.load_state_dict(ckpt["optim"])
    s2.load_state_dict(ckpt["sched"])
    torch.save({"optim": ot.state_dict(), "sched": st.state_dict()}, tmp_path / "t.pt")
    ref = torch.load(tmp_path / "t.pt", weights_only=True)
    p3, o3 = _make(torch, name, {}, [p.detach().numpy() for p in pt])
    s3 = torch.optim.lr_scheduler.ExponentialLR(o3, gamma=0.9)
    o3.load_state_dict(ref["optim"])
    s3.load_state_dict(ref["sched"])
    for k in range(STEPS // 2, STEPS):
        for params, opt, sched in ((p2, o2, s2), (p3, o3, s3)):
            _steps(torch, params, opt, range(k, k + 1), "float64")
            sched.step()
    assert ckpt["epoch"] == 6 and s2.get_last_lr() == s3.get_last_lr()
    _assert_same_params(p2, p3, "float64")


def test_swap_in_optimizer_params_and_state_matches_torch() -> None:
    """Inside the context the step updates the swap-in parameters and state (as PyTorch's);
    outside, the live parameters, state and groups are as before."""
    out = []
    for lib in (adjit, torch):
        init = _init("float64")
        params, opt = _make(lib, "Adam", {"lr": 0.1}, init)
        _steps(lib, params, opt, range(2), "float64")
        live_before = [p.detach().numpy().copy() for p in params]
        sd = _to(lib, opt.state_dict())
        sd["param_groups"][0]["lr"] = 0.3
        swap = {f"p{i}": lib.tensor(w + 1.0) for i, w in enumerate(init)}
        for i, g in enumerate(_grads(5, "float64")):
            swap[f"p{i}"].grad = lib.tensor(g)
        with lib.optim.swap_in_optimizer_params_and_state(opt, swap, sd):
            assert opt.param_groups[0]["lr"] == 0.3
            opt.step()
        assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[0]["params"][0] is params[0]
        for p, before in zip(params, live_before, strict=True):
            np.testing.assert_array_equal(p.detach().numpy(), before)
        out.append([t.detach().numpy().copy() for t in swap.values()])
        out.append(sd["state"][0]["exp_avg"].numpy().copy())
        swap_in = lib.optim.swap_in_optimizer_params_and_state
        bad_dicts = ({"state": [], "param_groups": []}, {"state": {}, "param_groups": [{}]})
        errs = [_error(swap_in(opt, swap, bad).__enter__) for bad in bad_dicts]
        out.append(errs)
    (pa, ea, errs_a), (pt, et, errs_t) = out[:3], out[3:]
    for a, t in zip(pa, pt, strict=True):
        np.testing.assert_allclose(a, t, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ea, et, rtol=1e-12, atol=1e-14)
    assert errs_a == errs_t and all(e[0] for e in errs_a)
