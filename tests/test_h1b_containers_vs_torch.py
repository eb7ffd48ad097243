"""nn.Sequential, ModuleList, ModuleDict, ParameterList and ParameterDict side by side with
PyTorch: operators, dict/list methods, update orders, printing and refusal texts."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import pytest

import adjit

torch = pytest.importorskip("torch")


def _outcome(T: Any, fn: Callable[[Any], Any]) -> str:
    """What ``fn(T)`` printed (its result's repr) or raised, with torch's class paths."""
    try:
        out = fn(T)
    except Exception as e:  # noqa: BLE001  (the exception is what is compared)
        out = f"{type(e).__name__}: {e}"
    return repr(out) if not isinstance(out, str) else out


def _seq(T: Any) -> Any:
    return T.nn.Sequential(T.nn.Linear(2, 3), T.nn.ReLU(), T.nn.Linear(3, 1))


def _mutated(T: Any, steps: Callable[[Any], None], make: Callable[[Any], Any]) -> str:
    obj = make(T)
    steps(obj)
    return repr(obj)


SEQUENTIAL: dict[str, Callable[[Any], Any]] = {
    "add": lambda T: _seq(T) + T.nn.Sequential(T.nn.Tanh()),
    "mul": lambda T: _seq(T) * 2,
    "rmul": lambda T: 2 * _seq(T),
    "imul": lambda T: _mutated(T, lambda s: s.__imul__(3), lambda T: T.nn.Sequential(T.nn.ReLU())),
    "iadd": lambda T: _mutated(T, lambda s: s.__iadd__(T.nn.Sequential(T.nn.Tanh())), _seq),
    "slice": lambda T: (_seq(T)[1:], _seq(T)[::2], _seq(T)[-1]),
    "del": lambda T: _mutated(T, lambda s: s.__delitem__(1), _seq),
    "del_slice": lambda T: _mutated(T, lambda s: s.__delitem__(slice(0, 2)), _seq),
    "insert": lambda T: _mutated(T, lambda s: s.insert(1, T.nn.Sigmoid()), _seq),
    "insert_neg": lambda T: _mutated(T, lambda s: s.insert(-1, T.nn.ELU()), _seq),
    "insert_end": lambda T: _mutated(T, lambda s: s.insert(3, T.nn.ELU()), _seq),
    "pop": lambda T: (_seq(T).pop(0), _mutated(T, lambda s: s.pop(-1), _seq)),
    "extend": lambda T: _mutated(T, lambda s: s.extend([T.nn.Tanh()]), _seq),
    "setitem": lambda T: _mutated(T, lambda s: s.__setitem__(-1, T.nn.GELU()), _seq),
    "ordered": lambda T: T.nn.Sequential(OrderedDict(a=T.nn.ReLU(), b=T.nn.Tanh())),
    "dir_digits": lambda T: "0" in dir(_seq(T)),
    "index_range": lambda T: _seq(T)[5],
    "index_str": lambda T: _seq(T)["a"],
    "insert_range": lambda T: _seq(T).insert(5, T.nn.ReLU()),
    "insert_int": lambda T: _seq(T).insert(0, 3),
    "mul_zero": lambda T: _seq(T) * 0,
    "mul_neg": lambda T: _seq(T) * -1,
    "mul_float": lambda T: _seq(T) * 1.5,
    "add_int": lambda T: _seq(T) + 2,
    "iadd_list": lambda T: _mutated(T, lambda s: s.__iadd__([T.nn.ReLU()]), _seq),
}


def _ml(T: Any) -> Any:
    return T.nn.ModuleList([T.nn.Linear(1, 1), T.nn.Linear(1, 1), T.nn.ReLU()])


MODULE_LIST: dict[str, Callable[[Any], Any]] = {
    "repr": _ml,
    "empty": lambda T: T.nn.ModuleList(),
    "slice": lambda T: (_ml(T)[1:], _ml(T)[-1]),
    "insert": lambda T: _mutated(T, lambda m: m.insert(0, T.nn.Tanh()), _ml),
    "insert_neg": lambda T: _mutated(T, lambda m: m.insert(-1, T.nn.Tanh()), _ml),
    "insert_past": lambda T: _mutated(T, lambda m: m.insert(10, T.nn.Tanh()), _ml),
    "add": lambda T: _ml(T) + T.nn.ModuleList([T.nn.ReLU()]),
    "add_list": lambda T: _ml(T) + [T.nn.ReLU()],
    "del": lambda T: _mutated(T, lambda m: m.__delitem__(0), _ml),
    "del_slice": lambda T: _mutated(T, lambda m: m.__delitem__(slice(None, None, 2)), _ml),
    "pop": lambda T: (_ml(T).pop(-1), _mutated(T, lambda m: m.pop(0), _ml)),
    "setitem": lambda T: _mutated(T, lambda m: m.__setitem__(0, T.nn.GELU()), _ml),
    "index_range": lambda T: _ml(T)[10],
    "call": lambda T: _ml(T)(T.ones(1)),
    "extend_module": lambda T: _ml(T).extend(T.nn.Linear(1, 1)),
    "extend_int": lambda T: _ml(T).extend(3),
}


def _md(T: Any) -> Any:
    return T.nn.ModuleDict({"b": T.nn.ReLU(), "a": T.nn.Tanh()})


MODULE_DICT: dict[str, Callable[[Any], Any]] = {
    "repr": lambda T: (_md(T), list(_md(T).keys())),
    "update_pairs": lambda T: _mutated(T, lambda m: m.update([("c", T.nn.ELU())]), _md),
    "update_ordered": lambda T: _mutated(T, lambda m: m.update(OrderedDict(z=T.nn.ReLU())), _md),
    "pop": lambda T: (_md(T).pop("a"), _mutated(T, lambda m: m.pop("b"), _md)),
    "contains": lambda T: ("a" in _md(T), "q" in _md(T), len(_md(T))),
    "clear": lambda T: _mutated(T, lambda m: m.clear(), _md),
    "missing": lambda T: _md(T)["x"],
    "update_int": lambda T: _md(T).update(3),
    "update_short": lambda T: _md(T).update([("a",)]),
    "update_module": lambda T: _md(T).update([T.nn.ReLU()]),
}


def _pl(T: Any) -> Any:
    return T.nn.ParameterList([T.nn.Parameter(T.ones(2)), T.zeros(3), "text"])


PARAMETER_LIST: dict[str, Callable[[Any], Any]] = {
    "repr": lambda T: (_pl(T), type(_pl(T)[1]).__name__, _pl(T)[1].requires_grad),
    "dtypes": lambda T: T.nn.ParameterList([T.ones(1, dtype=T.float64), T.ones(2, 2).half()]),
    "append": lambda T: _mutated(T, lambda p: p.append(T.ones(4)), _pl),
    "slice": lambda T: _pl(T)[1:],
    "names": lambda T: [n for n, _ in _pl(T).named_parameters()],
    "index_range": lambda T: _pl(T)[10],
    "call": lambda T: _pl(T)(1),
    "extend_tensor": lambda T: _pl(T).extend(T.ones(3)),
    "extend_int": lambda T: _pl(T).extend(3),
}


def _pd(T: Any) -> Any:
    return T.nn.ParameterDict({"b": T.nn.Parameter(T.ones(2)), "a": T.zeros(3)})


PARAMETER_DICT: dict[str, Callable[[Any], Any]] = {
    "repr_sorted": lambda T: (_pd(T), list(_pd(T)), list(reversed(_pd(T)))),
    "dtypes": lambda T: T.nn.ParameterDict(
        OrderedDict(
            d=T.ones(2, 3, dtype=T.float64),
            h=T.ones(1).half(),
            z=T.ones(()),
            c=T.ones(2, dtype=T.complex64),
            b=T.nn.Parameter(T.ones(2).bfloat16()),
            i=T.nn.Parameter(T.ones(2, dtype=T.int64), requires_grad=False),
            s="x",
        )
    ),  # fmt: skip
    "copy": lambda T: _pd(T).copy(),
    "setdefault": lambda T: (_pd(T).setdefault("c", T.ones(1)), _pd(T).setdefault("a")),
    "get": lambda T: (_pd(T).get("zz"), _pd(T).get("zz", 4), _pd(T).get("a")),
    "pop": lambda T: (_pd(T).pop("a"), _mutated(T, lambda p: p.pop("b"), _pd)),
    "popitem": lambda T: (_pd(T).popitem(), _mutated(T, lambda p: p.popitem(), _pd)),
    "update_pairs": lambda T: _mutated(T, lambda p: p.update([("x", T.ones(2))]), _pd),
    "update_ordered": lambda T: _mutated(
        T, lambda p: p.update(OrderedDict(z=T.ones(1), y=T.ones(2))), _pd
    ),
    "or": lambda T: _pd(T) | T.nn.ParameterDict({"q": T.ones(1)}),
    "ior": lambda T: _mutated(T, lambda p: p.__ior__(T.nn.ParameterDict({"w": T.ones(1)})), _pd),
    "fromkeys": lambda T: _pd(T).fromkeys(["m", "n"], T.ones(1)),
    "clear": lambda T: _mutated(T, lambda p: p.clear(), _pd),
    "int_key": lambda T: _pd(T).__setitem__(3, T.ones(1)),
    "missing": lambda T: _pd(T)["nope"],
    "call": lambda T: _pd(T)(1),
    "update_int": lambda T: _pd(T).update(3),
    "update_short": lambda T: _pd(T).update([("a",)]),
    "update_int_item": lambda T: _pd(T).update([3]),
}

CASES = {
    f"{group}-{name}": fn
    for group, table in [
        ("Sequential", SEQUENTIAL),
        ("ModuleList", MODULE_LIST),
        ("ModuleDict", MODULE_DICT),
        ("ParameterList", PARAMETER_LIST),
        ("ParameterDict", PARAMETER_DICT),
    ]  # fmt: skip
    for name, fn in table.items()
}


@pytest.mark.parametrize("case", CASES)
def test_container_as_pytorch(case: str) -> None:
    adjit.manual_seed(0)
    torch.manual_seed(0)
    got, want = _outcome(adjit, CASES[case]), _outcome(torch, CASES[case])
    assert got == want


def test_containers_train_a_model_as_pytorch() -> None:
    """A ModuleDict of ModuleLists and a ParameterDict, trained one step, same values."""
    outs = []
    for T in (torch, adjit):
        T.manual_seed(0)
        blocks = T.nn.ModuleDict(
            {"enc": T.nn.ModuleList([T.nn.Linear(3, 3) for _ in range(2)]), "act": T.nn.Tanh()}
        )
        extra = T.nn.ParameterDict({"scale": T.nn.Parameter(T.full((3,), 0.5))})
        params = [*blocks.parameters(), *extra.parameters()]
        opt = T.optim.SGD(params, lr=0.1)
        x = T.linspace(-1, 1, 6).reshape(2, 3)
        for layer in blocks["enc"]:
            x = blocks["act"](layer(x))
        loss = (x * extra["scale"]).pow(2).sum()
        loss.backward()
        opt.step()
        outs.append([p.detach().numpy().copy() for p in params])
    for a, b in zip(*outs, strict=True):
        assert a.shape == b.shape and abs(a - b).max() < 1e-6
