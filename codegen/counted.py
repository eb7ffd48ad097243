"""The counted loop every generated loop nest is built from (llvmlite.ir only: cheap to import)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from llvmlite import ir

I64 = ir.IntType(64)


def i64(v: int) -> ir.Constant:
    """The i64 constant ``v``."""
    return ir.Constant(I64, v)


@contextmanager
def for_range(b: ir.IRBuilder, start: ir.Value, stop: ir.Value, name: str) -> Iterator[ir.Value]:
    """``for i in range(start, stop)``; the body is emitted inside the ``with`` block."""
    pre = b.block
    head = b.append_basic_block(f"{name}.head")
    body = b.append_basic_block(f"{name}.body")
    end = b.append_basic_block(f"{name}.end")
    b.branch(head)
    b.position_at_end(head)
    i = b.phi(I64, name)
    i.add_incoming(start, pre)
    b.cbranch(b.icmp_signed("<", i, stop), body, end)
    b.position_at_end(body)
    yield i
    i.add_incoming(b.add(i, ir.Constant(I64, 1), flags=("nsw",)), b.block)
    b.branch(head)
    b.position_at_end(end)
