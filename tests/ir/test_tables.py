"""Every op has an entry in every table its group needs, and the entries agree on names."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from adjit.ir.derivatives import DEFAULT_INPUT_NAMES, DERIVATIVES, INPUT_NAMES, rule_params
from adjit.ir.ops import GroupOp, Op
from adjit.ir.reference import REFERENCE
from adjit.ir.shapes import SHAPE_RULES
from adjit.ir.symbolic import SYMPY_FORMS

# context names every rule may ask for, besides the op's inputs and attributes
_COMMON = {"out", "inputs", "shapes", "needs"}


def _attr_names(op: Op) -> set[str]:
    """An op's attributes: the keyword-only parameters of its shape rule."""
    params = inspect.signature(SHAPE_RULES[op]).parameters.values()
    return {p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}


@pytest.mark.parametrize("op", list(Op), ids=lambda op: op.name)
def test_shape_and_reference_rules(op: Op) -> None:
    assert op in SHAPE_RULES, f"{op!r} has no shape rule"
    assert op in REFERENCE, f"{op!r} has no reference rule"


# control ops are differentiated by the adjoint driver itself, not by a rule of the table:
# their VJP is a loop or a branch built with the adjoint pass (passes/adjoint_control.py)
_DRIVER = GroupOp.CONTROL


@pytest.mark.parametrize(
    "op", sorted(set(Op) - GroupOp.NONDIFF - _DRIVER, key=lambda o: o.value), ids=lambda op: op.name
)
def test_derivative_rule(op: Op) -> None:
    assert op in DERIVATIVES, f"{op!r} is differentiable but has no derivative rule"


@pytest.mark.parametrize(
    "op", sorted(GroupOp.SYMBOLIC, key=lambda o: o.value), ids=lambda op: op.name
)
def test_sympy_form(op: Op) -> None:
    assert op in SYMPY_FORMS, f"{op!r} is elementwise but has no sympy form"


def test_no_stray_entries() -> None:
    assert set(DERIVATIVES) <= set(Op) - GroupOp.NONDIFF - _DRIVER
    assert set(SYMPY_FORMS) == GroupOp.SYMBOLIC


@pytest.mark.parametrize("op", sorted(DERIVATIVES, key=lambda o: o.value), ids=lambda op: op.name)
def test_derivative_params_are_context_names(op: Op) -> None:
    params = list(inspect.signature(DERIVATIVES[op]).parameters)
    assert params[0] == "g", f"{op!r}: the cotangent comes first and is called g"
    names = set(INPUT_NAMES.get(op, DEFAULT_INPUT_NAMES))
    valid = _COMMON | names | {f"{n}_shape" for n in names} | _attr_names(op)
    bad = [p for p in params[1:] if p not in valid]
    assert not bad, f"{op!r}: derivative rule asks for unknown context names {bad}"


@pytest.mark.parametrize("op", sorted(DERIVATIVES, key=lambda o: o.value), ids=lambda op: op.name)
def test_rule_params_are_the_signature(op: Op) -> None:
    # rule_params reads the code object: a rule must be a plain function of named parameters
    params = list(inspect.signature(DERIVATIVES[op]).parameters.values())
    assert all(p.kind is p.POSITIONAL_OR_KEYWORD for p in params), f"{op!r}: plain params only"
    assert rule_params(op) == tuple(p.name for p in params[1:])


@pytest.mark.parametrize("op", sorted(DERIVATIVES, key=lambda o: o.value), ids=lambda op: op.name)
def test_shape_params_resolve_in_engine(op: Op) -> None:
    # the eager engine finds ``<name>_shape`` by position in DEFAULT_INPUT_NAMES
    names = INPUT_NAMES.get(op, DEFAULT_INPUT_NAMES)
    for p in inspect.signature(DERIVATIVES[op]).parameters:
        if p.endswith("_shape"):
            assert names.index(p[:-6]) == DEFAULT_INPUT_NAMES.index(p[:-6])


@pytest.mark.parametrize("op", list(Op), ids=lambda op: op.name)
def test_reference_accepts_the_shape_rule_attrs(op: Op) -> None:
    attrs = _attr_names(op)
    ref = REFERENCE[op]
    if isinstance(ref, np.ufunc | type(np.where)):  # NumPy's own functions take no attributes
        assert not attrs
        return
    params = inspect.signature(ref).parameters.values()
    ref_attrs = {p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert attrs == ref_attrs, f"{op!r}: shape rule attrs {attrs} != reference attrs {ref_attrs}"


def test_groups_partition() -> None:
    assert (
        GroupOp.ELEMENTWISE
        | GroupOp.REDUCE
        | GroupOp.SORT
        | GroupOp.MOVEMENT
        | {Op.MATMUL}
        | GroupOp.LINALG
        | GroupOp.SPECIAL
        | GroupOp.RANDOM
        | GroupOp.COMMUNICATION
        | GroupOp.CONTROL
        | GroupOp.CREATION
        == set(Op)
    )
    assert not GroupOp.UNARY & GroupOp.BINARY
    assert GroupOp.SYMBOLIC <= GroupOp.ELEMENTWISE
