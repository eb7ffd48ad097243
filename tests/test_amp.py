"""torch.amp side by side with PyTorch: GradScaler's training loop (scales, skipped steps,
growth), its state and errors; autocast's disabled forms, warnings and errors (Note [autocast];
CPU autocast itself: tests/test_cpu_autocast.py)."""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(11)
W1 = RNG.standard_normal((8, 5)).astype(np.float32) * 0.5
W2 = RNG.standard_normal((1, 8)).astype(np.float32) * 0.5
XS = RNG.standard_normal((6, 4, 5)).astype(np.float32)
BLOWUP = {2, 3}  # steps whose loss is multiplied by 1e35: the scaled gradients overflow


def _train(lib: Any, optimizer: str, init_scale: float) -> dict[str, Any]:
    w1 = lib.tensor(W1, requires_grad=True)
    w2 = lib.tensor(W2, requires_grad=True)
    opt = getattr(lib.optim, optimizer)([w1, w2], lr=0.05)
    scaler = lib.amp.GradScaler("cpu", init_scale=init_scale, growth_interval=2)
    scales, trackers, skipped = [], [], []
    for i, x in enumerate(XS):
        opt.zero_grad()
        loss = (lib.tanh(lib.tensor(x) @ w1.t()) @ w2.t()).pow(2).mean()
        if i in BLOWUP:
            loss = loss * 1e35
        scaler.scale(loss).backward()
        before = w1.detach().clone()
        scaler.step(opt)
        skipped.append(bool((w1.detach() == before).all()))
        scaler.update()
        scales.append(scaler.get_scale())
        trackers.append(scaler._get_growth_tracker())
    return {
        "w1": w1.detach().numpy(),
        "w2": w2.detach().numpy(),
        "scales": scales,
        "trackers": trackers,
        "skipped": skipped,
        "state": scaler.state_dict(),
    }


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
@pytest.mark.parametrize("init_scale", [2.0**16, 3.0e38])
def test_training_loop_matches_torch(optimizer: str, init_scale: float) -> None:
    ours, theirs = _train(adjit, optimizer, init_scale), _train(torch, optimizer, init_scale)
    for key in ("scales", "trackers", "skipped", "state"):
        assert ours[key] == theirs[key], key
    assert any(ours["skipped"]) and not all(ours["skipped"])
    for key in ("w1", "w2"):  # (float32 model arithmetic: rounding-level differences)
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-5, atol=1e-6)


def test_unscale_before_clipping_matches_torch() -> None:
    def run(lib: Any) -> tuple[Any, ...]:
        w = lib.tensor(W1, requires_grad=True)
        opt = lib.optim.SGD([w], lr=0.1)
        scaler = lib.amp.GradScaler("cpu", init_scale=1024.0)
        scaler.scale((w * lib.tensor(XS[0, 0])).sum()).backward()
        scaler.unscale_(opt)
        unscaled = w.grad.clone()
        norm = lib.nn.utils.clip_grad_norm_([w], 0.5)
        scaler.step(opt)
        scaler.update()
        return unscaled.numpy(), float(norm), w.detach().numpy(), scaler.get_scale()

    ours, theirs = run(adjit), run(torch)
    np.testing.assert_array_equal(ours[0], theirs[0])
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-6)
    np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-6, atol=1e-7)
    assert ours[3] == theirs[3]


def _outcome(fn: Callable[[Any], Any], lib: Any) -> str:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = fn(lib)
            out = f"ok {value!r}"
        except Exception as e:  # the error's type and text are compared
            out = f"{type(e).__name__}: {e}"
    texts = [f"{w.category.__name__}: {w.message}" for w in caught]
    return f"{out} {texts}"


def _loop_error(step: Callable[[Any, Any, Any], Any]) -> Callable[[Any], Any]:
    def run(lib: Any) -> Any:
        w = lib.ones(3, requires_grad=True)
        opt = lib.optim.SGD([w], lr=0.1)
        scaler = lib.amp.GradScaler("cpu")
        return step(lib, scaler, (opt, w))

    return run


def _scaled(scaler: Any, opt: Any, w: Any) -> None:
    scaler.scale(w.sum()).backward()


ERRORS: dict[str, Callable[[Any], Any]] = {
    "unscale_twice": _loop_error(
        lambda m, s, ow: (_scaled(s, *ow), s.unscale_(ow[0]), s.unscale_(ow[0]))
    ),
    "unscale_after_step": _loop_error(
        lambda m, s, ow: (_scaled(s, *ow), s.step(ow[0]), s.unscale_(ow[0]))
    ),
    "step_twice": _loop_error(lambda m, s, ow: (_scaled(s, *ow), s.step(ow[0]), s.step(ow[0]))),
    "step_without_scale": _loop_error(lambda m, s, ow: s.step(ow[0])),
    "update_without_scale": _loop_error(lambda m, s, ow: s.update()),
    "update_without_step": _loop_error(lambda m, s, ow: (_scaled(s, *ow), s.update())),
    "closure": _loop_error(lambda m, s, ow: s.step(ow[0], closure=lambda: 0)),
    "scale_bad_output": _loop_error(lambda m, s, ow: s.scale([ow[1], 3])),
    "scale_list": _loop_error(
        lambda m, s, ow: [t.tolist() for t in s.scale([ow[1], (ow[1],)][:1])]
    ),
    "update_new_scale": _loop_error(
        lambda m, s, ow: (_scaled(s, *ow), s.step(ow[0]), s.update(8.0), s.get_scale())[-1]
    ),
    "growth_factor": lambda m: m.amp.GradScaler("cpu", growth_factor=0.5),
    "backoff_factor": lambda m: m.amp.GradScaler("cpu", backoff_factor=1.5),
    "load_empty": lambda m: m.amp.GradScaler("cpu").load_state_dict({}),
    "cuda_scaler": lambda m: m.amp.GradScaler().is_enabled(),
    "cuda_scaler_passes_through": lambda m: (
        lambda s, w: (s.scale(w) is w, s.get_scale(), s.state_dict(), s.unscale_(None))
    )(m.amp.GradScaler(), m.ones(2)),
    "deprecated_cuda_scaler": lambda m: m.cuda.amp.GradScaler().is_enabled(),
    "fresh_state": lambda m: m.amp.GradScaler("cpu", init_scale=4.0).state_dict(),
    "autocast_cuda": lambda m: _in(m.autocast("cuda"), lambda: m.is_autocast_enabled("cuda")),
    "autocast_cuda_amp": lambda m: _in(m.cuda.amp.autocast(), lambda: m.is_autocast_enabled()),
    "autocast_disabled": lambda m: _in(
        m.autocast("cpu", enabled=False), lambda: m.is_autocast_enabled("cpu")
    ),
    "autocast_float32": lambda m: _in(
        m.autocast("cpu", dtype=m.float32), lambda: m.is_autocast_enabled("cpu")
    ),
    "autocast_not_str": lambda m: m.autocast(3),
    "autocast_bad_device": lambda m: m.autocast("foo"),
    "autocast_not_callable": lambda m: m.autocast("cuda", enabled=False)(3),
    "autocast_decorator": lambda m: m.autocast("cuda", enabled=False)(lambda x: x + 1)(2),
    "autocast_dtypes": lambda m: (m.get_autocast_dtype("cpu"), m.get_autocast_dtype("cuda")),
    "is_enabled_default": lambda m: (m.is_autocast_enabled(), m.is_autocast_enabled("cpu")),
    "is_enabled_bad_device": lambda m: m.is_autocast_enabled("foo"),
    "custom_fwd_device_type": lambda m: m.amp.custom_fwd(lambda x: x, device_type=3),
}


def _in(ctx: Any, probe: Callable[[], Any]) -> Any:
    with ctx:
        return probe()


@pytest.mark.parametrize("name", ERRORS)
def test_outcomes_match_torch(name: str) -> None:
    ours = _outcome(ERRORS[name], adjit).replace("adjit", "torch")
    theirs = _outcome(ERRORS[name], torch)
    assert ours == theirs


def test_pickle_and_state_dict_round_trip() -> None:
    w = adjit.ones(3, requires_grad=True)
    opt = adjit.optim.SGD([w], lr=0.1)
    scaler = adjit.amp.GradScaler("cpu", init_scale=8.0, growth_interval=1)
    scaler.scale(w.sum()).backward()
    scaler.step(opt)
    scaler.update()
    again = pickle.loads(pickle.dumps(scaler))
    assert again.get_scale() == scaler.get_scale() == 16.0
    other = adjit.amp.GradScaler("cpu")
    other.load_state_dict(scaler.state_dict())
    assert other.state_dict() == scaler.state_dict()
    scaler.scale(w.sum())
    with pytest.raises(AssertionError, match="may only be pickled at the beginning"):
        scaler.scale(w.sum()).backward()
        scaler.step(opt)
        pickle.dumps(scaler)
