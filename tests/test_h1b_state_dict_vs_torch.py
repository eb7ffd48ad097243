"""Module.state_dict / load_state_dict side by side with PyTorch: ``_metadata`` versions,
overridden ``_save_to_state_dict``/``_load_from_state_dict``, extra state, ``assign``, the
batch/instance norm version upgrades, hooks, set_submodule and the refusal texts."""

from __future__ import annotations

import io
import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")


def _plain(value: Any) -> Any:
    """Tensors as (dtype, values, requires_grad, class name); containers recursively."""
    if isinstance(value, torch.Tensor | adjit.Tensor):
        return (str(value.dtype), value.detach().numpy().tolist(), value.requires_grad,
                type(value).__name__)  # fmt: skip
    if isinstance(value, dict):
        return (type(value).__name__, [(k, _plain(v)) for k, v in value.items()])
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _run(T: Any, program: Callable[[Any, list], Any]) -> list:
    """What ``program`` logged and returned, or the exception it raised."""
    T.manual_seed(0)
    log: list = []
    try:
        log.append(_plain(program(T, log)))
    except Exception as e:  # noqa: BLE001  (the exception is compared)
        log.append(f"{type(e).__name__}: {e}")
    return log


def _metadata(T: Any, log: list) -> Any:
    m = T.nn.Sequential(T.nn.Linear(3, 4), T.nn.BatchNorm1d(4), T.nn.InstanceNorm1d(4))
    sd = m.state_dict()
    return list(sd), sd._metadata, m.state_dict(prefix="p.", keep_vars=True)._metadata


class _Versioned:
    """A module with version 2 that upgrades old checkpoints and saves one extra entry."""

    @staticmethod
    def make(T: Any, log: list) -> Any:
        class Foo(T.nn.Module):
            _version = 2

            def __init__(self) -> None:
                super().__init__()
                self.lin = T.nn.Linear(2, 2)
                self.register_buffer("buf", T.zeros(1))
                self.register_buffer("tmp", T.zeros(1), persistent=False)

            def _load_from_state_dict(self, state_dict: Any, prefix: str, local_metadata: Any,
                                      strict: bool, *rest: Any) -> None:  # fmt: skip
                log.append(("load", prefix, dict(local_metadata), sorted(state_dict)))
                if local_metadata.get("version", None) is None:
                    state_dict[prefix + "buf"] = T.ones(1)
                super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, *rest)

            def _save_to_state_dict(self, destination: Any, prefix: str, keep_vars: bool) -> None:
                super()._save_to_state_dict(destination, prefix, keep_vars)
                destination[prefix + "extra"] = T.tensor(7)

        return Foo()


def _overrides(T: Any, log: list) -> Any:
    f = _Versioned.make(T, log)
    sd = f.state_dict()
    log.append((list(sd), sd._metadata))
    plain = {k: v for k, v in sd.items() if k not in ("buf", "extra")}
    log.append(repr(f.load_state_dict(plain, strict=False)))
    log.append(_plain(f.buf))
    return f.load_state_dict(sd)


def _wrapped_overrides(T: Any, log: list) -> Any:
    outer = T.nn.Sequential(_Versioned.make(T, log))
    return repr(outer.load_state_dict(outer.state_dict(), strict=True))


def _extra_state(T: Any, log: list) -> Any:
    class Bar(T.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = T.nn.Parameter(T.ones(2))
            self.k = 3

        def get_extra_state(self) -> Any:
            return {"k": self.k}

        def set_extra_state(self, state: Any) -> None:
            self.k = state["k"]

    sd = Bar().state_dict()
    b = Bar()
    b.k = 0
    log.append((repr(b.load_state_dict(sd)), b.k))
    log.append(repr(b.load_state_dict({"w": T.ones(2)}, strict=False)))
    return b.load_state_dict({"w": T.ones(2)})


def _unexpected_extra(T: Any, log: list) -> Any:
    return T.nn.Linear(1, 1).load_state_dict(
        {"weight": T.ones(1, 1), "bias": T.ones(1), "_extra_state": 1}
    )


def _never_called(T: Any, log: list) -> Any:
    m = T.nn.Linear(1, 1)
    for call in (m.get_extra_state, lambda: m.set_extra_state(1)):
        try:
            call()
        except RuntimeError as e:
            log.append(str(e))


def _batchnorm_upgrade(T: Any, log: list) -> Any:
    bn = T.nn.BatchNorm1d(3)
    bn.num_batches_tracked.fill_(5)
    sd = {k: v for k, v in bn.state_dict().items() if k != "num_batches_tracked"}
    log.append(repr(bn.load_state_dict(sd)))  # (no metadata: version None, upgraded)
    log.append(_plain(bn.num_batches_tracked))
    fresh = T.nn.BatchNorm1d(3)
    old = OrderedDict(sd)
    old._metadata = OrderedDict({"": {"version": 1}})  # type: ignore[attr-defined]
    log.append(repr(fresh.load_state_dict(old)))
    new = OrderedDict(sd)
    new._metadata = OrderedDict({"": {"version": 2}})  # type: ignore[attr-defined]
    return fresh.load_state_dict(new)


def _instancenorm_stats(T: Any, log: list) -> Any:
    m = T.nn.InstanceNorm1d(2)
    return m.load_state_dict({"running_mean": T.zeros(2), "running_var": T.ones(2)})


def _assign(T: Any, log: list) -> Any:
    lin = T.nn.Linear(2, 2)
    w, b = T.zeros(2, 2, dtype=T.float64), T.zeros(2)
    log.append(repr(lin.load_state_dict({"weight": w, "bias": b}, assign=True)))
    log.append((type(lin.weight).__name__, str(lin.weight.dtype), lin.weight.requires_grad))
    lin.weight.requires_grad_(False)
    lin.load_state_dict({"weight": T.nn.Parameter(T.ones(2, 2)), "bias": b}, assign=True)
    log.append(lin.weight.requires_grad)
    lin2 = T.nn.Linear(2, 2)
    lin2.load_state_dict({"weight": w, "bias": b})  # (copied: the dtype stays)
    return str(lin2.weight.dtype)


def _errors(T: Any, log: list) -> Any:
    lin = T.nn.Linear(2, 2)
    cases: list[Any] = [
        {"weight": T.zeros(3, 2), "bias": T.zeros(2)},
        {"weight": T.zeros(2, 2)},
        {"weight": [[1, 2], [3, 4]], "bias": T.zeros(2)},
        {"weight": np.zeros((2, 2)), "bias": T.zeros(2), "junk": T.ones(1), "x.y": T.ones(1)},
        [1],
    ]
    for sd in cases:
        try:
            lin.load_state_dict(sd)
        except (RuntimeError, TypeError) as e:
            log.append(f"{type(e).__name__}: {e}".replace("torch.", "T.").replace("adjit.", "T."))
    return repr(lin.load_state_dict({"weight": T.zeros(2, 2), "junk": 1}, strict=False))


def _scalar_from_one(T: Any, log: list) -> Any:
    m = T.nn.Module()
    m.register_buffer("s", T.tensor(0.0))
    m.load_state_dict({"s": T.tensor([4.0])})
    return m.s


def _hooks(T: Any, log: list) -> Any:
    m = T.nn.Sequential(T.nn.Linear(1, 1))
    m.register_state_dict_pre_hook(lambda mod, prefix, keep: log.append(("pre", prefix, keep)))
    m[0].register_state_dict_post_hook(
        lambda mod, sd, prefix, meta: log.append(("post", prefix, dict(meta), list(sd)))
    )
    m._register_state_dict_hook(lambda mod, sd, prefix, meta: {"replaced": T.ones(1)})
    log.append(list(m.state_dict(prefix="q.")))
    m2 = T.nn.Linear(1, 1)
    m2.register_state_dict_post_hook(lambda *a: 1)
    try:
        m2.state_dict()
    except RuntimeError as e:
        log.append(str(e))
    m3 = T.nn.Linear(1, 1)
    m3.register_load_state_dict_post_hook(lambda mod, keys: log.append(repr(keys)))
    m3.load_state_dict({"weight": T.ones(1, 1), "x": T.ones(1)}, strict=False)
    m3.register_load_state_dict_post_hook(lambda mod, keys: 5)
    return m3.load_state_dict(m3.state_dict())


def _positional(T: Any, log: list) -> Any:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = T.nn.Linear(1, 1).state_dict(None, "pre.", True)
    log.append([(w.category.__name__, str(w.message)) for w in caught])
    return list(out)


def _round_trip(T: Any, log: list) -> Any:
    m = T.nn.Sequential(T.nn.Conv2d(1, 2, 3), T.nn.BatchNorm2d(2))
    buf = io.BytesIO()
    T.save(m.state_dict(), buf)
    buf.seek(0)
    sd = T.load(buf)
    log.append((type(sd).__name__, getattr(sd, "_metadata", None)))
    stripped = {"module." + k: v for k, v in sd.items()}
    m2 = T.nn.Sequential(T.nn.Conv2d(1, 2, 3), T.nn.BatchNorm2d(2))
    log.append(repr(m2.load_state_dict({k[7:]: v for k, v in stripped.items()})))
    return m2.load_state_dict(stripped)


def _set_submodule(T: Any, log: list) -> Any:
    net = T.nn.Sequential(T.nn.Linear(2, 2), T.nn.Sequential(T.nn.ReLU(), T.nn.Linear(2, 1)))
    net.set_submodule("1.0", T.nn.Tanh())
    net.set_submodule("1.extra", T.nn.ReLU())
    log.append(repr(net))
    net.share_memory()
    cases = [("", T.nn.ReLU(), False), ("1.0", 3, False), ("1.zzz", T.nn.ReLU(), True),
             ("5.a", T.nn.ReLU(), False)]  # fmt: skip
    for target, module, strict in cases:
        try:
            net.set_submodule(target, module, strict=strict)
        except (ValueError, AttributeError) as e:
            log.append(f"{type(e).__name__}: {e}")
    net.register_buffer("b", T.ones(1))
    net.set_submodule("b", T.nn.ReLU())


PROGRAMS = {
    f.__name__: f
    for f in [_metadata, _overrides, _wrapped_overrides, _extra_state, _unexpected_extra,
              _never_called, _batchnorm_upgrade, _instancenorm_stats, _assign, _errors,
              _scalar_from_one, _hooks, _positional, _round_trip, _set_submodule]
}  # fmt: skip


@pytest.mark.parametrize("name", PROGRAMS)
def test_state_dict_program_as_pytorch(name: str) -> None:
    got, want = _run(adjit, PROGRAMS[name]), _run(torch, PROGRAMS[name])
    assert got == want


def test_is_tensor_like_as_pytorch() -> None:
    for T in (torch, adjit):
        values = (T.ones(1), T.nn.Parameter(T.ones(1)), T.nn.Buffer(T.ones(1)), [1], 1.0)
        got = [T.overrides.is_tensor_like(v) for v in values]
        assert got == [True, True, True, False, False]


def test_module_has_pytorch_state_dict_names() -> None:
    for name in ("T_destination", "dump_patches", "_save_to_state_dict", "_load_from_state_dict",
                 "get_extra_state", "set_extra_state", "set_submodule", "share_memory",
                 "to_empty", "_register_state_dict_hook"):  # fmt: skip
        assert hasattr(torch.nn.Module, name) and hasattr(adjit.nn.Module, name), name
    assert adjit.nn.BatchNorm2d._version == torch.nn.BatchNorm2d._version == 2
    assert adjit.nn.Module.dump_patches is torch.nn.Module.dump_patches is False
