"""The IR text reads back: non-finite literals and constants (inf, -inf, nan) included."""

from __future__ import annotations

import numpy as np
from adjit.ir.interpreter import interpret
from adjit.ir.parser import _value, parse_graph

import adjit
import adjit.nn.functional as F


def test_nonfinite_literals_and_constants_round_trip() -> None:
    x = adjit.randn(1, 1, 5, 5)

    def f(a):  # max pool with padding prints a -inf literal; the rest, inf and nan ones
        return F.max_pool2d(a, 2, padding=1) + a.sum() * float("nan") + float("inf")

    g = adjit.explain(f, x).graph
    text = str(g)
    assert "-inf" in text and "nan" in text
    back = parse_graph(text)
    assert str(back) == text
    for u, v in zip(interpret(g, [x.numpy()]), interpret(back, [x.numpy()]), strict=True):
        np.testing.assert_array_equal(u, v)


def test_values_keep_strings_and_spell_nonfinite_floats() -> None:
    got = _value("[1.0, -inf, nan, inf]")
    assert got[:2] == [1.0, -np.inf] and np.isnan(got[2]) and got[3] == np.inf
    assert _value("'nan'") == "nan" and _value("'inf'") == "inf"  # strings stay strings
    assert _value("((1, 1), (0, 2))") == ((1, 1), (0, 2))
