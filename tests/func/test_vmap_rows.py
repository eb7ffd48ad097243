"""Every row of the op tables under vmap (in_dims 0, and mixed for binary rows) against a
Python loop over the examples stacked: the batching rule of every primitive they use."""

from __future__ import annotations

import sys
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import adjit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))

import linalg_op_cases  # noqa: E402
import math_op_cases  # noqa: E402
import misc_op_cases  # noqa: E402
import reduction_op_cases  # noqa: E402
import shape_op_cases  # noqa: E402
import sort_op_cases  # noqa: E402
import test_ops_table  # noqa: E402

B = 3  # examples

# rows whose output shape depends on the values (nonzero, masks, unique...): vmap refuses them
# with its error, as PyTorch's does ("vmap: We do not support batching operators that can
# output dynamic shape"); the test checks that error
DYNAMIC = {
    "nonzero",
    "where-nonzero",
    "getitem-mask",
    "getitem-mask-row",
    "nonzero-0dim",
    "nonzero-0dim-tuple",
    *shape_op_cases.DATA_DEPENDENT,
    *misc_op_cases.EAGER_ONLY,
    *(f"sort:{c.name}" for c in sort_op_cases.CASES if not c.compiles),
    *(f"reduction:{c.name}" for c in reduction_op_cases.CASES if not c.compiles),
}

Row = tuple[str, Callable[..., Any], list[np.ndarray]]


def _rows() -> list[Row]:
    rows: list[Row] = []
    for table in (test_ops_table, math_op_cases, shape_op_cases, misc_op_cases):
        for c in table.CASES:
            rows.append((c.name, c.fn, c.arrays()))
    for c in reduction_op_cases.CASES:
        rows.append(("reduction:" + c.name, c.fn, [np.asarray(c.x)]))
    for c in sort_op_cases.CASES:
        rows.append(("sort:" + c.name, c.fn, [np.asarray(x) for x in c.xs]))
    for c in linalg_op_cases.CASES:
        rng = np.random.default_rng(zlib.crc32(c.name.encode()))
        arrays = [rng.standard_normal(s) for s in c.shapes]
        kinds = c.prep or "n" * len(arrays)
        rows.append(("linalg:" + c.name, c.fn, [
            linalg_op_cases.prep_input(k, a) for k, a in zip(kinds, arrays, strict=True)
        ]))  # fmt: skip
    return rows


ROWS = _rows()


def _examples(arrays: list[np.ndarray], name: str) -> list[list[np.ndarray]]:
    """B examples of a row's arguments: its own values, permuted (so in every row's domain:
    positive, away from 0, valid indices, SPD matrices stay what they were, permuted alike)."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    out = []
    for k in range(B):
        ex = []
        for a in arrays:
            if k == 0 or a.ndim == 0:
                ex.append(a)
            elif a.ndim >= 2 and a.shape[-1] == a.shape[-2]:  # a matrix: a similar one
                perm = rng.permutation(a.shape[-1])
                ex.append(a[..., perm, :][..., perm])
            else:
                flat = a.reshape(-1)
                ex.append(flat[rng.permutation(flat.size)].reshape(a.shape))
        out.append(ex)
    return out


def _leaves(v: Any) -> list[Any]:
    if isinstance(v, tuple | list):
        return [x for item in v for x in _leaves(item)]
    return [v]


def _tensor(a: np.ndarray) -> Any:
    return adjit.from_numpy(np.array(a))


def _compare(got: Any, want: list[Any], name: str) -> None:
    leaves = _leaves(got)
    per = [_leaves(w) for w in want]
    assert len(leaves) == len(per[0]), name
    for j, g in enumerate(leaves):
        if not isinstance(g, adjit.Tensor):
            continue
        w = np.stack([np.asarray(p[j].detach().numpy()) for p in per])
        gv = np.asarray(g.detach().numpy())
        assert gv.shape == w.shape, (name, j, gv.shape, w.shape)
        assert gv.dtype == w.dtype, (name, j, gv.dtype, w.dtype)
        if gv.dtype.kind in "fc":
            tol = 1e-5 if gv.dtype in (np.float32, np.complex64) else 1e-10
            np.testing.assert_allclose(gv, w, rtol=tol, atol=tol, err_msg=name)
        else:
            np.testing.assert_array_equal(gv, w, err_msg=name)


def _run(name: str, fn: Callable[..., Any], arrays: list[np.ndarray], in_dims: Any) -> None:
    examples = _examples(arrays, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = [fn(adjit, *[_tensor(a) for a in ex]) for ex in examples]
        dims = in_dims if isinstance(in_dims, tuple) else (in_dims,) * len(arrays)
        batched = []
        for j, d in enumerate(dims):
            stacked = np.stack([ex[j] for ex in examples]) if d is not None else examples[0][j]
            batched.append(_tensor(np.moveaxis(stacked, 0, d) if d is not None else stacked))
        if all(d is None for d in dims):
            return
        if any(d is None for d in dims):  # the unbatched argument is example 0's everywhere
            for ex in examples:
                for j, d in enumerate(dims):
                    if d is None:
                        ex[j] = examples[0][j]
            want = [fn(adjit, *[_tensor(a) for a in ex]) for ex in examples]
        got = adjit.vmap(lambda *xs: fn(adjit, *xs), in_dims=dims)(*batched)
    _compare(got, want, name)


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_row_in_dims_0(row: Row) -> None:
    name, fn, arrays = row
    if not arrays:
        pytest.skip("no tensor arguments")
    if name in DYNAMIC:  # refused with vmap's error, or right
        try:
            _run(name, fn, arrays, 0)
        except RuntimeError as e:
            assert str(e).startswith("vmap: "), e
        return
    _run(name, fn, arrays, 0)


BINARY = [r for r in ROWS if len(r[2]) == 2 and r[0] not in DYNAMIC]


@pytest.mark.parametrize("row", BINARY, ids=[r[0] for r in BINARY])
def test_binary_row_mixed_in_dims(row: Row) -> None:
    """One argument batched at its last dim, the other the same for every example."""
    name, fn, arrays = row
    _run(name, fn, arrays, (-1 if arrays[0].ndim else 0, None))
    _run(name, fn, arrays, (None, 0))


def _loss(outs: Any, cots: list[np.ndarray]) -> Any:
    total = None
    for o, c in zip(outs, cots, strict=True):
        term = (o * adjit.from_numpy(c)).sum()
        total = term if total is None else total + term
    return total


def _float_outputs(v: Any) -> list[Any]:
    return [o for o in _leaves(v) if isinstance(o, adjit.Tensor) and o.dtype.is_floating_point]


GRAD_ROWS = [
    r for r in ROWS
    if r[2] and r[0] not in DYNAMIC and any(a.dtype.kind == "f" for a in r[2])
    and not r[0].startswith(("sort:", "reduction:"))
]  # fmt: skip


@pytest.mark.parametrize("row", GRAD_ROWS, ids=[r[0] for r in GRAD_ROWS])
def test_row_gradients(row: Row) -> None:
    """Gradients through vmap (eager autograd of the replayed batched graph) equal the loop's,
    the last float argument unbatched (its gradient sums over the examples)."""
    name, fn, arrays = row
    examples = _examples(arrays, name)
    floats = [j for j, a in enumerate(arrays) if a.dtype.kind == "f"]
    shared = floats[-1] if len(floats) > 1 else None
    for ex in examples:
        if shared is not None:
            ex[shared] = examples[0][shared]
    rng = np.random.default_rng(zlib.crc32((name + "cot").encode()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # the loop: each example's loss backpropagated, gradients stacked (shared: summed)
        leaves = [[_tensor(a).requires_grad_(a.dtype.kind == "f") for a in ex] for ex in examples]
        outs = [_float_outputs(fn(adjit, *xs)) for xs in leaves]
        outs = [[o for o in os if o.requires_grad] for os in outs]
        if not outs[0]:
            pytest.skip("no differentiable output")
        cots = [[rng.uniform(0.5, 1.5, tuple(o.shape)) for o in os] for os in outs]
        try:
            for os, cs in zip(outs, cots, strict=True):
                _loss(os, cs).backward()
            refused = None
        except RuntimeError as e:  # (no derivative): vmap's backward must say the same
            refused = str(e)
        dims = tuple(None if j == shared else 0 for j in range(len(arrays)))
        batched = [
            _tensor(examples[0][j] if d is None else np.stack([ex[j] for ex in examples]))
            for j, d in enumerate(dims)
        ]
        for t in batched:
            if t.dtype.is_floating_point:
                t.requires_grad_()
        got = adjit.vmap(lambda *xs: fn(adjit, *xs), in_dims=dims)(*batched)
        gouts = [o for o in _float_outputs(got) if o.requires_grad]
        stacked = [np.stack([c[k] for c in cots]) for k in range(len(gouts))]
        if refused is not None:
            with pytest.raises(RuntimeError) as info:
                _loss(gouts, stacked).backward()
            assert str(info.value) == refused
            return
        _loss(gouts, stacked).backward()
    for j in floats:
        per = [xs[j].grad for xs in leaves]
        if per[0] is None:
            continue
        want = np.stack([p.numpy() for p in per])
        if j == shared:
            want = want.sum(0)
        got_grad = batched[j].grad
        assert got_grad is not None, (name, j)
        tol = 1e-5 if want.dtype == np.float32 else 1e-9
        np.testing.assert_allclose(got_grad.numpy(), want, rtol=tol, atol=tol, err_msg=name)
