"""Every torch.optim.lr_scheduler scheduler: 60 steps of learning rates (and cycled momenta)
equal to PyTorch's float for float, state_dicts that resume, and PyTorch's warnings."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import adjit
from tests.conftest import stable_id

torch = pytest.importorskip("torch")

STEPS = 60


def _triangle(x: float) -> float:
    return 0.5 * (1 + np.cos(x))


# (scheduler, kwargs, optimizer, optimizer kwargs); kwargs may hold ("sub", name, kwargs)
# tuples for schedulers built from other schedulers.
ROWS: list[tuple[str, dict[str, Any], str, dict[str, Any]]] = [
    ("LambdaLR", {"lr_lambda": lambda e: 0.95**e}, "SGD", {}),
    ("LambdaLR", {"lr_lambda": [lambda e: 1 / (e + 1), lambda e: 0.9**e]}, "SGD", {}),
    ("MultiplicativeLR", {"lr_lambda": lambda e: 0.97}, "SGD", {}),
    ("StepLR", {"step_size": 7, "gamma": 0.5}, "SGD", {}),
    ("MultiStepLR", {"milestones": [5, 12, 12, 30], "gamma": 0.3}, "SGD", {}),
    ("ConstantLR", {"factor": 0.3, "total_iters": 9}, "SGD", {}),
    ("LinearLR", {"start_factor": 0.1, "end_factor": 0.9, "total_iters": 17}, "SGD", {}),
    ("LinearLR", {}, "Adam", {}),
    ("ExponentialLR", {"gamma": 0.93}, "SGD", {}),
    ("PolynomialLR", {"total_iters": 25, "power": 2.0}, "SGD", {}),
    ("PolynomialLR", {"total_iters": 40, "power": 0.7}, "SGD", {}),
    ("CosineAnnealingLR", {"T_max": 13, "eta_min": 0.001}, "SGD", {}),  # past T_max: back up
    ("CosineAnnealingLR", {"T_max": 50}, "Adam", {}),
    ("CosineAnnealingWarmRestarts", {"T_0": 7}, "SGD", {}),
    ("CosineAnnealingWarmRestarts", {"T_0": 3, "T_mult": 2, "eta_min": 0.01}, "SGD", {}),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 5}, "SGD", {"momentum": 0.9}),
    (
        "CyclicLR",
        {"base_lr": [0.01, 0.02], "max_lr": 0.2, "step_size_up": 4, "step_size_down": 7,
         "mode": "triangular2"},
        "SGD",
        {"momentum": 0.9},
    ),
    (
        "CyclicLR",
        {"base_lr": 0.001, "max_lr": 0.01, "step_size_up": 6, "mode": "exp_range",
         "gamma": 0.97, "base_momentum": 0.7, "max_momentum": 0.95},
        "Adam",
        {},
    ),
    (
        "CyclicLR",
        {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 3, "scale_fn": _triangle,
         "scale_mode": "iterations", "cycle_momentum": False},
        "Adagrad",
        {},
    ),
    ("OneCycleLR", {"max_lr": 0.1, "total_steps": STEPS}, "SGD", {"momentum": 0.9}),
    (
        "OneCycleLR",
        {"max_lr": [0.1, 0.05], "epochs": 6, "steps_per_epoch": 10, "anneal_strategy": "linear",
         "three_phase": True},
        "Adam",
        {},
    ),
    (
        "OneCycleLR",
        {"max_lr": 0.01, "total_steps": STEPS + 5, "pct_start": 0.25, "div_factor": 10.0,
         "final_div_factor": 100.0, "cycle_momentum": False},
        "RMSprop",
        {},
    ),
    (
        "SequentialLR",
        {"schedulers": [("LinearLR", {"start_factor": 0.1, "total_iters": 5}),
                        ("ExponentialLR", {"gamma": 0.9}),
                        ("CosineAnnealingLR", {"T_max": 20})],
         "milestones": [5, 30]},
        "SGD",
        {},
    ),
    (
        "ChainedScheduler",
        {"schedulers": [("ConstantLR", {"factor": 0.5, "total_iters": 4}),
                        ("ExponentialLR", {"gamma": 0.95}),
                        ("StepLR", {"step_size": 11, "gamma": 0.5})]},
        "SGD",
        {},
    ),
]  # fmt: skip


def _build(lib: Any, row: tuple[str, dict[str, Any], str, dict[str, Any]]) -> tuple[Any, Any]:
    name, kwargs, opt_name, opt_kwargs = row
    params = [lib.nn.Parameter(lib.zeros(2)), lib.nn.Parameter(lib.zeros(3))]
    groups = [{"params": params[:1]}, {"params": params[1:], "lr": 0.05}]
    opt = getattr(lib.optim, opt_name)(groups, lr=0.1, **opt_kwargs)
    kwargs = dict(kwargs)
    if "schedulers" in kwargs:
        kwargs["schedulers"] = [
            getattr(lib.optim.lr_scheduler, n)(opt, **k) for n, k in kwargs["schedulers"]
        ]
    if name == "ChainedScheduler":
        return opt, lib.optim.lr_scheduler.ChainedScheduler(**kwargs)
    return opt, getattr(lib.optim.lr_scheduler, name)(opt, **kwargs)


def _snapshot(opt: Any, sched: Any) -> list[Any]:
    """What a step sets: each group's lr, momentum/betas, and the scheduler's last lrs."""
    keys = ("lr", "momentum", "betas")
    return [[g.get(k) for k in keys] for g in opt.param_groups] + [list(sched.get_last_lr())]


def _run(lib: Any, row: Any, steps: int) -> tuple[list[Any], Any, Any]:
    opt, sched = _build(lib, row)
    seq = [_snapshot(opt, sched)]
    for _ in range(steps):
        opt.step()
        sched.step()
        seq.append(_snapshot(opt, sched))
    return seq, opt, sched


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r[0]}-{r[2]}-{sorted(r[1])}")
def test_learning_rates_equal_torch(row: Any) -> None:
    with warnings.catch_warnings(record=True) as caught_a:
        warnings.simplefilter("always")
        got, _, sa = _run(adjit, row, STEPS)
    with warnings.catch_warnings(record=True) as caught_t:
        warnings.simplefilter("always")
        want, _, st = _run(torch, row, STEPS)
    assert got == want  # exactly: the same recurrences in the same order
    assert [str(w.message) for w in caught_a] == [str(w.message) for w in caught_t]
    assert sa.state_dict().keys() == st.state_dict().keys()
    assert getattr(sa, "last_epoch", None) == getattr(st, "last_epoch", None)


def _to_adjit(value: Any) -> Any:
    """A torch optimizer state_dict rebuilt with adjit tensors."""
    if isinstance(value, torch.Tensor):
        return adjit.tensor(value.numpy().copy())
    if isinstance(value, dict):
        return {k: _to_adjit(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_to_adjit(v) for v in value)
    return value


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r[0]}-{r[2]}-{sorted(r[1])}")
def test_state_dict_resumes_from_torch(row: Any) -> None:
    """Half a schedule in PyTorch; its optimizer and scheduler state_dicts load into fresh
    adjit objects, which finish the schedule with PyTorch's numbers."""
    want, _, _ = _run(torch, row, STEPS)
    _, opt_t, sched_t = _run(torch, row, STEPS // 2)
    opt_a, sched_a = _build(adjit, row)
    sd = sched_t.state_dict()
    sa = sched_a.state_dict()
    assert sd.keys() == sa.keys()
    sched_a.load_state_dict(sd)
    opt_a.load_state_dict(_to_adjit(opt_t.state_dict()))
    got = []
    for _ in range(STEPS - STEPS // 2):
        opt_a.step()
        sched_a.step()
        got.append(_snapshot(opt_a, sched_a))
    assert got == want[STEPS // 2 + 1 :]


CLOSED_FORM = ["StepLR", "MultiStepLR", "ConstantLR", "LinearLR", "ExponentialLR",
               "PolynomialLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts"]  # fmt: skip


@pytest.mark.parametrize("row", [r for r in ROWS if r[0] in CLOSED_FORM], ids=lambda r: r[0])
def test_step_with_epoch_uses_the_closed_form(row: Any) -> None:
    out = []
    for lib in (adjit, torch):
        opt, sched = _build(lib, row)
        seq = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for epoch in (3, 10, 4, 27, 0, 45, 13):
                opt.step()
                sched.step(epoch)
                seq.append(sched.get_last_lr())
        out.append((seq, [str(w.message) for w in caught]))
    assert out[0] == out[1]
    if row[0] != "CosineAnnealingWarmRestarts":  # whose step(epoch) is not deprecated
        assert out[0][1]  # the epoch deprecation warning


def test_reduce_lr_on_plateau_equals_torch() -> None:
    rng = np.random.default_rng(0)
    metrics = np.cumsum(rng.standard_normal(80)) + 50
    for kwargs in (
        {},
        {"mode": "max", "factor": 0.5, "patience": 2, "threshold": 0.05, "cooldown": 3},
        {"threshold_mode": "abs", "patience": 0, "min_lr": [0.02, 0.001], "eps": 1e-3},
    ):
        seqs = []
        for lib in (adjit, torch):
            opt, _ = _build(lib, ROWS[0])
            sched = lib.optim.lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
            seq = []
            for m in metrics:
                opt.step()
                sched.step(float(m))
                seq.append((sched.get_last_lr(), sched.num_bad_epochs, sched.best))
            seqs.append((seq, sorted(sched.state_dict())))
        assert seqs[0] == seqs[1], kwargs


def _warnings_of(fn: Any) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn()
    return [str(w.message) for w in caught]


def test_warnings_match_torch() -> None:
    def scheduler_first(lib: Any) -> None:
        opt, sched = _build(lib, ROWS[3])
        sched.step()  # before optimizer.step()

    def get_lr_outside_step(lib: Any) -> None:
        _, sched = _build(lib, ROWS[3])
        sched.get_lr()

    def in_order(lib: Any) -> None:
        opt, sched = _build(lib, ROWS[3])
        opt.step()
        sched.step()

    for case in (scheduler_first, get_lr_outside_step, in_order):
        got = _warnings_of(lambda case=case: case(adjit))
        want = _warnings_of(lambda case=case: case(torch))
        assert got == want, case.__name__
    assert _warnings_of(lambda: scheduler_first(adjit))  # there is one


ERRORS = [
    ("ConstantLR", {"factor": 1.5}),
    ("LinearLR", {"start_factor": 0.0}),
    ("LinearLR", {"end_factor": 2.0}),
    ("CosineAnnealingWarmRestarts", {"T_0": 0}),
    ("CosineAnnealingWarmRestarts", {"T_0": 3, "T_mult": 0}),
    ("OneCycleLR", {"max_lr": 0.1}),
    ("OneCycleLR", {"max_lr": 0.1, "total_steps": 10, "pct_start": 1}),
    ("OneCycleLR", {"max_lr": 0.1, "total_steps": 10, "anneal_strategy": "exp"}),
    ("OneCycleLR", {"max_lr": [0.1, 0.2], "total_steps": 10}),
    ("CyclicLR", {"base_lr": 0.1, "max_lr": 1.0, "mode": "square"}),
    ("ReduceLROnPlateau", {"factor": 1.0}),
    ("ReduceLROnPlateau", {"mode": "up"}),
    ("LambdaLR", {"lr_lambda": [lambda e: 1.0, lambda e: 2.0]}),
    ("MultiplicativeLR", {"lr_lambda": 0.5}),
    ("StepLR", {"step_size": 2, "last_epoch": 3}),
]


@pytest.mark.parametrize(("name", "kwargs"), ERRORS, ids=stable_id)
def test_errors_match_torch(name: str, kwargs: dict[str, Any]) -> None:
    errs = []
    for lib in (adjit, torch):
        opt = lib.optim.SGD([lib.nn.Parameter(lib.zeros(2))], lr=0.1, momentum=0.9)
        try:
            getattr(lib.optim.lr_scheduler, name)(opt, **kwargs)
        except Exception as e:  # noqa: BLE001 - the exception itself is compared
            errs.append((type(e).__name__, str(e)))
        else:
            errs.append(("", ""))
    assert errs[0] == errs[1] and errs[0][0]


def test_cycle_momentum_needs_a_momentum() -> None:
    errs = []
    for lib in (adjit, torch):
        opt = lib.optim.Rprop([lib.nn.Parameter(lib.zeros(1))])
        with pytest.raises(ValueError) as info:
            lib.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=5)
        errs.append(str(info.value))
    assert errs[0] == errs[1]


def test_one_cycle_past_total_steps_raises_as_torch() -> None:
    errs = []
    for lib in (adjit, torch):
        opt, sched = _build(lib, ROWS[19])
        with pytest.raises(ValueError) as info:
            for _ in range(STEPS + 1):
                opt.step()
                sched.step()
        errs.append(str(info.value))
    assert errs[0] == errs[1]


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [("CosineAnnealingLR", {"T_max": 10}), ("StepLR", {"step_size": 3}),
     ("LinearLR", {"total_iters": 8}), ("PolynomialLR", {"total_iters": 9, "power": 1.5}),
     ("ExponentialLR", {"gamma": 0.9}), ("OneCycleLR", {"max_lr": 0.2, "total_steps": 30})],
    ids=str,
)  # fmt: skip
def test_resuming_with_last_epoch_matches_torch(name: str, kwargs: dict[str, Any]) -> None:
    """A scheduler built with ``last_epoch=k`` on groups that hold ``initial_lr`` (a resumed
    run) starts from PyTorch's value (CosineAnnealingLR's closed form on its first step)."""
    seqs = []
    for lib in (adjit, torch):
        opt = lib.optim.SGD([lib.nn.Parameter(lib.zeros(1))], lr=0.1, momentum=0.9)
        first = getattr(lib.optim.lr_scheduler, name)(opt, **kwargs)
        for _ in range(4):
            opt.step()
            first.step()
        sched = getattr(lib.optim.lr_scheduler, name)(opt, last_epoch=4, **kwargs)
        seq = [sched.get_last_lr()]
        for _ in range(12):
            opt.step()
            sched.step()
            seq.append(sched.get_last_lr())
        seqs.append(seq)
    assert seqs[0] == seqs[1]
