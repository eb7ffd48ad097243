"""Host programs: a lowered sympy result as data (whitelisted host operations on numbered values).

Note [host programs]: ``sympy_bridge.Lowering`` turns a cse'd sympy result into calls of the
Tensor API (operators, methods such as ``.sqrt()``) and of ``Host.ops`` (``where``, ``div``...).
``record`` runs that lowering once on ``Recorded`` stand-ins, which write each call down as a
step ``(name, arguments)``; ``replay`` makes exactly the same calls, in the same order, on real
values. Compiling always goes through a recording (a cache miss records, then replays; a hit
only replays), so a program loaded from the disk cache emits exactly the equations a fresh
sympy run would, and replaying needs no sympy. The form is data only: step names come from
``STEPS`` (a fixed table of operations), arguments are earlier values or numbers, and
``from_text`` rejects anything else, so a cache entry can never run code of its own.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

from .record import ValueRecord

Ref = tuple[str, Any]  # ("v", value index) | ("i", int) | ("f", float) | ("b", bool)


def _method(name: str) -> Callable[..., Any]:
    return lambda ops, x: getattr(x, name)()


def _host(name: str) -> Callable[..., Any]:
    return lambda ops, *args: getattr(ops, name)(*args)


def _operator(fn: Callable[..., Any]) -> Callable[..., Any]:
    return lambda ops, *args: fn(*args)


HOST_OPS = ("where", "div", "maximum", "minimum", "eq", "ne")  # called as Host.ops.<name>

# name -> (arity, how to apply it given the host's ops): everything a lowering may call
STEPS: dict[str, tuple[int, Callable[..., Any]]] = {
    **{n: (2, _operator(getattr(operator, n))) for n in ("add", "sub", "mul", "truediv", "pow")},
    **{n: (2, _operator(getattr(operator, n))) for n in ("and_", "or_", "gt", "ge", "lt", "le")},
    "neg": (1, _operator(operator.neg)),
    "invert": (1, _operator(operator.invert)),
    **{
        n: (1, _method(n))
        for n in ("sqrt", "exp", "log", "log1p", "sin", "cos", "tanh", "erf", "abs", "sign")
    },
    "floor": (1, _method("floor")),
    "sigmoid": (1, _method("sigmoid")),
    **{n: (3 if n == "where" else 2, _host(n)) for n in HOST_OPS},
}


class Program(ValueRecord):
    """``n_inputs`` input values, then one value per step; ``outputs`` refer to values or
    are numbers (e.g. a zero derivative)."""

    __slots__ = FIELDS = ("n_inputs", "steps", "outputs")
    n_inputs: int
    steps: tuple[tuple[str, tuple[Ref, ...]], ...]
    outputs: tuple[Ref, ...]


class ProgramError(ValueError):
    """A stored form that is not a valid host program (the cache entry is not used)."""


# ---------------------------------------------------------------- recording


class Recorder:
    """The steps recorded so far; ``ops`` stands in for ``Host.ops``."""

    def __init__(self, n_inputs: int) -> None:
        self.n_inputs = n_inputs
        self.steps: list[tuple[str, tuple[Ref, ...]]] = []
        self.ops = _RecordingOps(self)
        self.inputs = [Recorded(self, k) for k in range(n_inputs)]

    def emit(self, name: str, *args: Any) -> Recorded:
        self.steps.append((name, tuple(self.ref(a) for a in args)))
        return Recorded(self, self.n_inputs + len(self.steps) - 1)

    def ref(self, a: Any) -> Ref:
        if isinstance(a, Recorded):
            assert a.recorder is self, "a value of another recording"
            return ("v", a.index)
        if isinstance(a, bool):
            return ("b", a)
        if isinstance(a, int):
            return ("i", a)
        if isinstance(a, float):
            return ("f", a)
        raise TypeError(f"a host program cannot hold {type(a).__name__} {a!r}")

    def program(self, outputs: Sequence[Any]) -> Program:
        return Program(self.n_inputs, tuple(self.steps), tuple(self.ref(o) for o in outputs))


class _RecordingOps:
    def __init__(self, recorder: Recorder) -> None:
        self._r = recorder

    def __getattr__(self, name: str) -> Callable[..., Recorded]:
        if name not in HOST_OPS:
            raise AttributeError(name)
        return lambda *args: self._r.emit(name, *args)


def _binary(name: str, reflected: bool = False) -> Callable[[Recorded, Any], Recorded]:
    if reflected:  # ``2 - x``: the call replays as operator.sub(2, x), as it was made
        return lambda self, other: self.recorder.emit(name, other, self)
    return lambda self, other: self.recorder.emit(name, self, other)


def _unary(name: str) -> Callable[[Recorded], Recorded]:
    return lambda self: self.recorder.emit(name, self)


class Recorded:
    """A value being recorded: every Tensor-API call on it becomes a step."""

    __slots__ = ("recorder", "index")

    def __init__(self, recorder: Recorder, index: int) -> None:
        self.recorder, self.index = recorder, index

    def __bool__(self) -> bool:
        raise TypeError("a recorded value has no truth value (the lowering read data)")

    __add__, __radd__ = _binary("add"), _binary("add", True)
    __sub__, __rsub__ = _binary("sub"), _binary("sub", True)
    __mul__, __rmul__ = _binary("mul"), _binary("mul", True)
    __truediv__, __rtruediv__ = _binary("truediv"), _binary("truediv", True)
    __pow__, __rpow__ = _binary("pow"), _binary("pow", True)
    __and__, __rand__ = _binary("and_"), _binary("and_", True)
    __or__, __ror__ = _binary("or_"), _binary("or_", True)
    __gt__, __ge__ = _binary("gt"), _binary("ge")
    __lt__, __le__ = _binary("lt"), _binary("le")
    __neg__, __invert__ = _unary("neg"), _unary("invert")
    sqrt, exp, log, log1p = _unary("sqrt"), _unary("exp"), _unary("log"), _unary("log1p")
    sin, cos, tanh, erf = _unary("sin"), _unary("cos"), _unary("tanh"), _unary("erf")
    abs, sign, floor, sigmoid = _unary("abs"), _unary("sign"), _unary("floor"), _unary("sigmoid")


# ---------------------------------------------------------------- replaying


def replay(
    p: Program, inputs: Sequence[Any], ops: Any, wanted: Sequence[int] | None = None
) -> list[Any]:
    """The program's outputs (those at ``wanted`` positions, default all) computed from
    ``inputs`` with ``ops`` (Host.ops): the recorded calls, in order, skipping steps that no
    wanted output needs."""
    outs = [p.outputs[k] for k in (range(len(p.outputs)) if wanted is None else wanted)]
    needed = _needed(p, outs)
    values: list[Any] = [*inputs, *([None] * len(p.steps))]
    for j, (name, args) in enumerate(p.steps):
        i = p.n_inputs + j
        if i in needed:
            values[i] = STEPS[name][1](ops, *(_value(a, values) for a in args))
    return [_value(o, values) for o in outs]


def _value(ref: Ref, values: list[Any]) -> Any:
    return values[ref[1]] if ref[0] == "v" else ref[1]


def _needed(p: Program, outs: Sequence[Ref]) -> set[int]:
    need = {o[1] for o in outs if o[0] == "v"}
    for j in range(len(p.steps) - 1, -1, -1):
        if p.n_inputs + j in need:
            need.update(a[1] for a in p.steps[j][1] if a[0] == "v")
    return need


# ---------------------------------------------------------------- the stored form
# Note [host program text]: one line per step, ``<name> <ref> <ref>...``, after a line
# ``in <n_inputs>`` and before a line ``out <ref>...``; a ref is ``v<index>`` (an earlier
# value), ``i<int>``, ``f<float.hex()>`` (exact, nan and inf included) or ``bT``/``bF``. Plain
# text parsed by ``str.split``: readable, and nothing to import on a warm start.


def _ref_text(ref: Ref) -> str:
    tag, x = ref
    if tag == "f":
        return "f" + x.hex()
    if tag == "b":
        return "bT" if x else "bF"
    return f"{tag}{x}"


def to_text(p: Program) -> str:
    """The program as text (Note [host program text])."""
    lines = [f"in {p.n_inputs}"]
    lines += [" ".join([name, *map(_ref_text, args)]) for name, args in p.steps]
    lines.append(" ".join(["out", *map(_ref_text, p.outputs)]))
    return "\n".join(lines)


def from_text(text: str) -> Program:
    """A program from ``to_text``'s form, checked line by line; ProgramError if it is not one
    (an unknown step, a wrong arity, a reference forward, a malformed number)."""
    lines = text.split("\n")
    head, *body, tail = lines if len(lines) >= 2 else ["", ""]
    words = head.split(" ")
    if len(words) != 2 or words[0] != "in" or not words[1].isdigit() or len(words[1]) > 5:
        raise ProgramError("no input count")
    n = int(words[1])
    steps = []
    for k, line in enumerate(body):
        name, *args = line.split(" ")
        if name not in STEPS or len(args) != STEPS[name][0]:
            raise ProgramError(f"step {k}: not a host operation")
        steps.append((name, tuple(_ref(a, n + k) for a in args)))
    name, *outs = tail.split(" ")
    if name != "out":
        raise ProgramError("no outputs")
    return Program(n, tuple(steps), tuple(_ref(o, n + len(steps)) for o in outs))


_BOOLS = {"bT": True, "bF": False}


def _ref(a: str, defined: int) -> Ref:
    tag, x = a[:1], a[1:]
    try:
        if tag == "v" and x.isdigit() and int(x) < defined:
            return ("v", int(x))
        if tag == "i" and x.lstrip("-").isdigit() and -(1 << 63) <= int(x) < 1 << 63:
            return ("i", int(x))
        if tag == "f" and x:
            return ("f", float.fromhex(x))
    except ValueError:
        pass
    if a in _BOOLS:
        return ("b", _BOOLS[a])
    raise ProgramError(f"bad argument {a!r}")
