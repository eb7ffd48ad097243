"""CUSTOM_VJP: a value whose derivative rule is given by the program (a custom Function).

Note [custom functions traced]
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
A user's ``autograd.Function`` has a forward made of ordinary ops and a backward written by
hand. Traced, its forward is recorded as it runs (under no_grad: those equations get no
adjoint of their own), and each differentiable output ``y`` is passed through one equation

    y' = custom_vjp[rule=Exp.backward] y arg_1 .. arg_n saved_1 .. saved_m

the identity on ``y`` whose inputs also name everything the backward may read (the
Function's tensor arguments, the tensors it saved with ``save_for_backward`` or stored on
``ctx``). Its derivative rule is ``rule.vjp(g, inputs, needs)``: the user's backward, called
on the values the adjoint pass (or the eager engine) holds for those inputs, so the backward
is traced into the adjoint graph like any derivative rule, and its cotangents flow to the
arguments. ``rule`` is an object of the frontend's (adjit.autograd), opaque to the IR: it prints
as the Function's name, never merges in CSE and never reaches generated code (the equation
runs as an extern identity step). A call with several differentiable outputs shares one such
equation (an anchor) so that the backward runs once with every output's cotangent (Note [one
backward call per Function call] in adjit/autograd/traced.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .aval import Aval


def custom_vjp_shape(y: Aval, *saved: Aval, rule: Any) -> Aval:
    """The identity on the first input; the others only feed the derivative rule."""
    return Aval(y.shape, y.dtype)


def custom_vjp_reference(y: np.ndarray, *saved: np.ndarray, rule: Any) -> np.ndarray:
    return y


def custom_vjp_rule(g: Any, out: Any, inputs: Any, needs: tuple[bool, ...], rule: Any) -> tuple:
    """One cotangent per input, from the program's own rule (None for the first)."""
    return tuple(rule.vjp(g, out, inputs, needs))
