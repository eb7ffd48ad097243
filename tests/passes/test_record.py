"""Records (Note [records]): the schedule types behave as the frozen dataclasses they were."""

from __future__ import annotations

import copy
import pickle

import pytest
from adjit.codegen.cache_store import Entry
from adjit.codegen.kernel_cache import KernelInfo
from adjit.ir.aval import Aval
from adjit.ir.dtypes import float32
from adjit.ir.graph import Eqn, Var
from adjit.ir.ops import Op
from adjit.passes.fusion import Extern, Kernel
from adjit.passes.record import Record
from adjit.passes.rows import Operand


def _kernel() -> Kernel:
    x, y = Var(Aval((3,), float32)), Var(Aval((3,), float32))
    return Kernel("k0", (3,), (x,), (y,), (Eqn(Op.SIN, (x,), {}, y),))


def test_fields_in_order_and_a_dataclass_repr() -> None:
    k = _kernel()
    assert Kernel.FIELDS == ("name", "shape", "inputs", "outputs", "eqns")
    assert (k.name, k.shape) == ("k0", (3,))
    assert repr(Operand(2, 1)) == "Operand(row=2, col=1)"
    assert repr(k).startswith("Kernel(name='k0', shape=(3,), inputs=(Var(f32[3]),)")


def test_frozen_and_complete() -> None:
    k = _kernel()
    with pytest.raises(AttributeError, match="frozen"):
        k.name = "k1"  # type: ignore[misc]
    with pytest.raises(AttributeError, match="frozen"):
        del k.shape
    with pytest.raises(AttributeError):
        k.other = 1  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="5 fields"):
        Kernel("k0", (3,))


def test_kernels_compare_by_identity_value_records_by_fields() -> None:
    a, b = _kernel(), _kernel()
    assert a != b and a == a and len({a, b}) == 2
    assert Extern(a.eqns[0]) != Extern(a.eqns[0])
    assert Operand(1, 0) == Operand(1, 0) and hash(Operand(1, 0)) == hash(Operand(1, 0))
    assert Operand(1, 0) != Operand(0, 1) and Operand(1, 0) != (1, 0)
    info = KernelInfo("f", "ir", 1, 1, 8, False, (), 8)
    assert (
        info
        == KernelInfo("f", "ir", 1, 1, 8, False, (), 8)
        != info.__class__("f", "ir", 1, 1, 9, False, (), 8)
    )
    assert Entry({"a": 1}, {}) == Entry({"a": 1}, {}) and Entry({}, {}).meta == {}


def test_copy_and_pickle_rebuild_by_fields() -> None:
    op = Operand(4, 1)
    assert copy.copy(op) == op and pickle.loads(pickle.dumps(op)) == op
    k = copy.deepcopy(_kernel())
    assert isinstance(k, Kernel) and isinstance(k, Record) and k.name == "k0"
