"""adjit.optim.swa_utils vs torch.optim.swa_utils: averaged weights, recomputed batch-norm
statistics and SWALR learning rates equal PyTorch's."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")


def _models() -> tuple[Any, Any]:
    def build(lib: Any) -> Any:
        nn = lib.nn
        return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))

    tm = build(torch).double()
    am = build(adjit).double()
    am.load_state_dict({k: adjit.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    return am, tm


def _train(lib: Any, model: Any, swa: Any, steps: int) -> None:
    opt = lib.optim.SGD(model.parameters(), lr=0.1)
    rng = np.random.default_rng(1)
    for _ in range(steps):
        x, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 2))
        opt.zero_grad()
        ((model(lib.tensor(x)) - lib.tensor(y)) ** 2).mean().backward()
        opt.step()
        swa.update_parameters(model)


def _same(a: Any, t: Any) -> None:
    sa, st = a.state_dict(), t.state_dict()
    assert list(sa) == list(st)
    for k, v in st.items():
        np.testing.assert_allclose(sa[k].numpy(), v.numpy(), rtol=1e-12, atol=1e-14, err_msg=k)


@pytest.mark.parametrize(
    "how",
    ["swa", "ema_multi", "ema_fn", "swa_multi", "use_buffers"],
)
def test_averaged_model_matches_torch(how: str) -> None:
    am, tm = _models()
    out = []
    for lib, model in ((adjit, am), (torch, tm)):
        u = lib.optim.swa_utils
        kwargs = {
            "swa": {},
            "ema_multi": {"multi_avg_fn": u.get_ema_multi_avg_fn(0.9)},
            "ema_fn": {"avg_fn": u.get_ema_avg_fn(0.8)},
            "swa_multi": {"multi_avg_fn": u.get_swa_multi_avg_fn()},
            "use_buffers": {"use_buffers": True, "multi_avg_fn": u.get_ema_multi_avg_fn(0.9)},
        }[how]
        swa = u.AveragedModel(model, **kwargs)
        _train(lib, model, swa, 5)
        out.append(swa)
    _same(*out)
    assert int(out[0].n_averaged) == int(out[1].n_averaged) == 5


def test_update_bn_matches_torch() -> None:
    am, tm = _models()
    rng = np.random.default_rng(2)
    batches = [rng.standard_normal((8, 3)) for _ in range(4)]
    for lib, model in ((adjit, am), (torch, tm)):
        swa = lib.optim.swa_utils.AveragedModel(model)
        _train(lib, model, swa, 3)
        lib.optim.swa_utils.update_bn([(lib.tensor(b), 0) for b in batches], swa)
    _same(am, tm)


@pytest.mark.parametrize(
    "kwargs",
    [{"swa_lr": 0.05}, {"swa_lr": [0.01, 0.2], "anneal_epochs": 4, "anneal_strategy": "linear"},
     {"swa_lr": 0.3, "anneal_epochs": 0}],
    ids=str,
)  # fmt: skip
def test_swalr_matches_torch(kwargs: dict[str, Any]) -> None:
    seqs = []
    for lib in (adjit, torch):
        params = [lib.nn.Parameter(lib.zeros(1)), lib.nn.Parameter(lib.zeros(1))]
        opt = lib.optim.SGD([{"params": params[:1]}, {"params": params[1:], "lr": 0.5}], lr=0.1)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sched = lib.optim.swa_utils.SWALR(opt, **kwargs)
            seq = []
            for _ in range(15):
                opt.step()
                sched.step()
                seq.append(sched.get_last_lr())
        seqs.append((seq, [str(w.message) for w in caught], sorted(sched.state_dict())))
    assert seqs[0] == seqs[1]


def test_swa_errors_match_torch() -> None:
    for make in (
        lambda lib, opt: lib.optim.swa_utils.SWALR(opt, 0.1, anneal_strategy="exp"),
        lambda lib, opt: lib.optim.swa_utils.SWALR(opt, 0.1, anneal_epochs=-1),
        lambda lib, opt: lib.optim.swa_utils.get_ema_avg_fn(1.5),
    ):
        errs = []
        for lib in (adjit, torch):
            opt = lib.optim.SGD([lib.nn.Parameter(lib.zeros(1))], lr=0.1)
            with pytest.raises(ValueError) as info:
                make(lib, opt)
            errs.append(str(info.value))
        assert errs[0] == errs[1]
