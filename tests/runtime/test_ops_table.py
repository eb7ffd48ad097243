"""The op table shared by the gradient and PyTorch tests: one row per public op and variant."""

from __future__ import annotations

import pathlib
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from adjit.runtime import functional as F

import adjit


@dataclass(frozen=True)
class In:
    """How to build one argument: a shape and the kind of values it holds."""

    shape: tuple[int, ...]
    kind: str = "real"  # see _SAMPLERS
    high: int = 3  # exclusive bound for "int"

    @property
    def differentiable(self) -> bool:
        return self.kind not in ("int", "bool")


def R(*shape: int) -> In:  # noqa: N802 - reads like a type in the table
    return In(shape)


def P(*shape: int) -> In:  # noqa: N802
    return In(shape, "pos")


def A(*shape: int) -> In:  # noqa: N802
    return In(shape, "away")


def D(*shape: int) -> In:  # noqa: N802
    return In(shape, "distinct")


def G(*shape: int) -> In:  # noqa: N802
    return In(shape, "grid")


def I(*shape: int, high: int = 3) -> In:  # noqa: N802, E743
    return In(shape, "int", high)


def B(*shape: int) -> In:  # noqa: N802
    return In(shape, "bool")


def _distinct(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    # no ties, and neighbours 0.1 apart: finite differences never swap an argmax
    n = int(np.prod(shape))
    return (rng.permutation(n) * 0.1 - n * 0.05 + rng.uniform(0, 0.02, n)).reshape(shape)


_SAMPLERS: dict[str, Callable[[np.random.Generator, tuple[int, ...], In], np.ndarray]] = {
    "real": lambda rng, s, _: rng.uniform(-1.5, 1.5, s),
    "pos": lambda rng, s, _: rng.uniform(0.5, 2.0, s),
    "away": lambda rng, s, _: rng.uniform(0.3, 1.5, s) * rng.choice([-1.0, 1.0], s),
    "distinct": lambda rng, s, _: _distinct(rng, s),
    "int": lambda rng, s, spec: rng.integers(0, spec.high, s).astype(np.int64),
    "bool": lambda rng, s, _: rng.random(s) < 0.5,
    # few distinct values: ties and kinks on purpose (compared with PyTorch, not differenced)
    "grid": lambda rng, s, _: rng.choice([-1.0, -0.5, 0.0, 0.5, 1.0], s),
}


@dataclass(frozen=True)
class Case:
    """One row: ``fn(T, *args)`` runs with T = adjit or torch on arguments built from ``args``."""

    name: str
    op: str  # the public function of runtime/functional.py it exercises
    fn: Callable[..., Any]
    args: tuple[In, ...]
    second: bool = False  # also check second derivatives

    def arrays(self) -> list[np.ndarray]:
        rng = np.random.default_rng(zlib.crc32(self.name.encode()))
        return [_SAMPLERS[a.kind](rng, a.shape, a) for a in self.args]


def C(
    name: str,
    fn: Callable[..., Any],
    *args: In,
    op: str | None = None,  # noqa: N802
    second: bool = False,
) -> Case:
    return Case(name, op or name.split("-")[0], fn, args, second)


def fn_of(T: Any, name: str) -> Any:
    """``T.name``; for adjit, functions not (yet) exported at top level come from functional."""
    return getattr(T, name) if hasattr(T, name) else getattr(F, name)


def _unary(name: str, kind: Callable[..., In] = R) -> Case:
    return C(name, lambda T, x: getattr(T, name)(x), kind(2, 3), second=True)


UNARY = [
    _unary("neg"),
    _unary("abs", A),
    _unary("exp"),
    _unary("log", P),
    _unary("log1p", P),
    _unary("sqrt", P),
    _unary("sin"),
    _unary("cos"),
    _unary("tanh"),
    _unary("sigmoid"),
    _unary("relu", A),
    _unary("erf"),
    _unary("reciprocal", A),
    _unary("rsqrt", P),
    _unary("square"),
    C("sign", lambda T, x: T.sign(x) * x, A(2, 3)),
    C("clone", lambda T, x: T.clone(x), R(2, 3)),
    C("floor", lambda T, x: fn_of(T, "floor")(x * 3) + x, R(2, 3)),
    C("trunc", lambda T, x: fn_of(T, "trunc")(x * 3) * x, R(2, 3)),
    C("logical_not", lambda T, x: T.logical_not(x), R(2, 3)),
]

BINARY = [
    C("add", lambda T, x, y: T.add(x, y), R(2, 3), R(2, 3), second=True),
    C("add-alpha", lambda T, x, y: T.add(x, y, alpha=2.5), R(2, 3), R(2, 3)),
    C("add-bcast", lambda T, x, y: x + y, R(3, 1), R(4)),
    C("add-bcast3", lambda T, x, y: x + y, R(2, 1, 3), R(4, 1)),
    C("add-0dim", lambda T, x, y: x + y, R(2, 3), R()),
    C("add-scalar", lambda T, x: x + 2.5, R(2, 3)),
    C("add-rscalar", lambda T, x: 2.5 + x, R(2, 3)),
    C("add-int-tensor", lambda T, x, i: x + i, R(2, 3), I(2, 3)),
    C("sub", lambda T, x, y: T.sub(x, y), R(2, 3), R(3), second=True),
    C("sub-alpha", lambda T, x, y: T.sub(x, y, alpha=0.5), R(2, 3), R(2, 3)),
    C("sub-rscalar", lambda T, x: 1.5 - x, R(2, 3)),
    C("sub-op", lambda T, x, y: x - y, R(3, 1), R(4)),
    C("rsub", lambda T, x, y: T.rsub(x, y), R(2, 3), R(2, 3)),
    C("rsub-scalar", lambda T, x: T.rsub(x, 2.0), R(2, 3)),
    C("mul", lambda T, x, y: T.mul(x, y), R(2, 3), R(2, 3), second=True),
    C("mul-bcast", lambda T, x, y: x * y, R(3, 1), R(4), second=True),
    C("mul-rscalar", lambda T, x: 3 * x, R(2, 3)),
    C("mul-bool", lambda T, x, b: x * b, R(2, 3), B(2, 3)),
    C("div", lambda T, x, y: T.div(x, y), R(2, 3), A(2, 3), second=True),
    C("div-bcast", lambda T, x, y: x / y, R(3, 1), A(4), second=True),
    C("div-rscalar", lambda T, x: 2.0 / x, A(2, 3), second=True),
    C("div-int", lambda T, x: x / 3, R(2, 3)),
    C("div-floor", lambda T, x, y: T.div(x, y, rounding_mode="floor"), R(2, 3), A(2, 3)),
    C("div-trunc", lambda T, x, y: T.div(x, y, rounding_mode="trunc"), R(2, 3), A(2, 3)),
    C("true_divide", lambda T, x, y: T.true_divide(x, y), R(2, 3), A(2, 3)),
    C("divide", lambda T, x, y: T.divide(x, y), R(2, 3), A(2, 3)),
    C("pow", lambda T, x, y: T.pow(x, y), P(2, 3), R(2, 3), second=True),
    C("pow-scalar", lambda T, x: x**3, R(2, 3), second=True),
    C("pow-frac", lambda T, x: x**1.5, P(2, 3), second=True),
    C("pow-rscalar", lambda T, x: 2.0**x, R(2, 3), second=True),
    C("pow-bcast", lambda T, x, y: x**y, P(3, 1), R(4)),
    C("maximum", lambda T, x, y: T.maximum(x, y), D(2, 3), D(2, 3), second=True),
    C("maximum-bcast", lambda T, x, y: T.maximum(x, y), D(3, 1), D(4)),
    C("minimum", lambda T, x, y: T.minimum(x, y), D(2, 3), D(2, 3), second=True),
    C("eq", lambda T, x, y: T.eq(x, y), I(2, 3), I(2, 3)),
    C("ne", lambda T, x, y: T.ne(x, y), I(3, 1), I(4)),
    C("lt", lambda T, x, y: T.lt(x, y), R(2, 3), R(3)),
    C("le", lambda T, x, y: T.le(x, y), I(2, 3), I(2, 3)),
    C("gt", lambda T, x: T.gt(x, 0.5), R(2, 3)),
    C("ge", lambda T, x: x >= 0, R(2, 3)),
    C("logical_and", lambda T, a, b: T.logical_and(a, b), B(2, 3), B(3)),
    C("logical_or", lambda T, a, b: a | b, B(2, 3), B(2, 3)),
    C("logical_xor", lambda T, x, b: T.logical_xor(x, b), R(2, 3), B(3)),
    C("bitwise_and", lambda T, i, j: T.bitwise_and(i, j), I(2, 3, high=8), I(3, high=8)),
    C("bitwise_or", lambda T, i, b: T.bitwise_or(i, b), I(2, 3, high=8), B(2, 3)),
    C("bitwise_xor", lambda T, i: T.bitwise_xor(i, 5), I(2, 3, high=8)),
    C("bitwise_not", lambda T, i: T.bitwise_not(i), I(2, 3, high=8)),
    C("bitwise_left_shift", lambda T, i, j: T.bitwise_left_shift(i, j), I(2, 3), I(3, high=9)),
    C("bitwise_right_shift", lambda T, i: T.bitwise_right_shift(-i, 1), I(2, 3, high=9)),
    C("remainder", lambda T, x, y: T.remainder(x, y), R(2, 3), A(2, 3), second=True),
    C("remainder-scalar", lambda T, x: x % -0.7, R(2, 3)),
    C("remainder-int", lambda T, i, j: (i - 4) % (j + 1), I(2, 3, high=9), I(3)),
    C("fmod", lambda T, x, y: T.fmod(x, y), R(2, 3), A(3), second=True),
    C("fmod-scalar", lambda T, x: T.fmod(x, 0.7), R(2, 3)),
    C("floor_divide", lambda T, i, j: T.floor_divide(i - 4, j + 1), I(2, 3, high=9), I(3)),
    C("div-floor-int", lambda T, x, i: T.div(x, i + 1, rounding_mode="floor"), R(2, 3), I(3)),
    C("where", lambda T, c, x, y: T.where(c, x, y), B(2, 3), R(2, 3), R(2, 3), second=True),
    C("where-bcast", lambda T, c, x, y: T.where(c, x, y), B(3, 1), R(4), R(3, 4)),
    C("where-scalar", lambda T, x: T.where(x > 0, x, 0.0), A(2, 3)),
    C("where-method", lambda T, x, y: x.where(x > y, y), D(2, 3), D(2, 3)),
    C("clamp", lambda T, x: T.clamp(x, -0.5, 0.5), D(3, 4)),
    C("clamp-min", lambda T, x: T.clamp(x, min=-0.25), D(3, 4)),
    C("clamp-max", lambda T, x: T.clamp(x, max=0.25), D(3, 4)),
    C("clamp-tensor", lambda T, x, lo: T.clamp(x, lo), D(3, 4), D(4)),
    C("clip", lambda T, x: T.clip(x, -0.5, 0.5), D(3, 4)),
]


def _reductions() -> list[Case]:
    rows: list[Case] = []
    for dim in (0, 1, -1, (0, 1)):
        for keep in (False, True):
            tag = f"dim={dim}-keep={keep}"
            rows += [
                C(f"sum-{tag}", lambda T, x, d=dim, k=keep: T.sum(x, d, keepdim=k), R(3, 4)),
                C(f"mean-{tag}", lambda T, x, d=dim, k=keep: T.mean(x, d, keepdim=k), R(3, 4)),
                C(f"var-{tag}", lambda T, x, d=dim, k=keep: T.var(x, d, keepdim=k), R(3, 4)),
                C(f"std-{tag}", lambda T, x, d=dim, k=keep: T.std(x, d, keepdim=k), R(3, 4)),
                C(f"amax-{tag}", lambda T, x, d=dim, k=keep: T.amax(x, d, keepdim=k), D(3, 4)),
                C(f"amin-{tag}", lambda T, x, d=dim, k=keep: T.amin(x, d, keepdim=k), D(3, 4)),
                C(
                    f"logsumexp-{tag}",
                    lambda T, x, d=dim, k=keep: T.logsumexp(x, d, keepdim=k),
                    R(3, 4),
                ),
            ]
        if isinstance(dim, int):
            for keep in (False, True):
                tag = f"dim={dim}-keep={keep}"
                rows += [
                    C(f"max-{tag}", lambda T, x, d=dim, k=keep: T.max(x, d, keepdim=k), D(3, 4)),
                    C(f"min-{tag}", lambda T, x, d=dim, k=keep: T.min(x, d, keepdim=k), D(3, 4)),
                    C(
                        f"argmax-{tag}",
                        lambda T, x, d=dim, k=keep: T.argmax(x, d, keepdim=k),
                        D(3, 4),
                    ),
                    C(
                        f"argmin-{tag}",
                        lambda T, x, d=dim, k=keep: T.argmin(x, d, keepdim=k),
                        D(3, 4),
                    ),
                ]
            rows += [
                C(f"softmax-dim={dim}", lambda T, x, d=dim: T.softmax(x, d), R(3, 4), second=True),
                C(
                    f"log_softmax-dim={dim}",
                    lambda T, x, d=dim: T.log_softmax(x, d),
                    R(3, 4),
                    second=True,
                ),
            ]
    return rows + [
        C("sum-all", lambda T, x: T.sum(x), R(2, 3, 2)),
        C("sum-3d", lambda T, x: x.sum((0, 2), keepdim=True), R(2, 3, 2)),
        C("sum-int", lambda T, i: T.sum(i), I(2, 3)),
        C("sum-bool", lambda T, b: b.sum(1), B(2, 3)),
        C("mean-all", lambda T, x: T.mean(x), R(2, 3, 2)),
        C("var-all", lambda T, x: T.var(x), R(2, 3), second=True),
        C("var-unbiased=False", lambda T, x: T.var(x, 1, unbiased=False), R(2, 3)),
        C("var-correction=0", lambda T, x: T.var(x, 0, correction=0), R(2, 3)),
        C("std-all", lambda T, x: T.std(x), R(2, 3), second=True),
        C("amax-all", lambda T, x: T.amax(x), D(2, 3)),
        C("amin-all", lambda T, x: T.amin(x), D(2, 3)),
        C("max-all", lambda T, x: T.max(x), D(2, 3)),
        C("min-all", lambda T, x: T.min(x), D(2, 3)),
        C("max-other", lambda T, x, y: T.max(x, y), D(2, 3), D(2, 3)),
        C("min-other", lambda T, x, y: T.min(x, y), D(2, 3), D(2, 3)),
        C("argmax-all", lambda T, x: T.argmax(x), D(2, 3)),
        C("argmin-all", lambda T, x: T.argmin(x), D(2, 3)),
        C("logsumexp-3d", lambda T, x: T.logsumexp(x, (0, 2)), R(2, 3, 2), second=True),
        C("softmax-3d", lambda T, x: T.softmax(x, 1), R(2, 3, 2)),
        C("log_softmax-3d", lambda T, x: T.log_softmax(x, -1), R(2, 3, 2)),
    ]


MOVEMENT = [
    C("reshape", lambda T, x: T.reshape(x, (3, 2)), R(2, 3)),
    C("reshape-infer", lambda T, x: x.reshape(-1, 2), R(2, 3)),
    C("view", lambda T, x: x.view(6), R(2, 3)),
    C("flatten", lambda T, x: T.flatten(x, 1), R(2, 3, 2)),
    C("flatten-0dim", lambda T, x: T.flatten(x), R()),
    C("unflatten", lambda T, x: x.unflatten(1, (2, 3)), R(2, 6)),
    C("permute", lambda T, x: T.permute(x, (2, 0, 1)), R(2, 3, 4)),
    C("permute-neg", lambda T, x: x.permute(-1, 0, 1), R(2, 3, 4)),
    C("transpose", lambda T, x: T.transpose(x, 0, 2), R(2, 3, 4)),
    C("swapaxes", lambda T, x: T.swapaxes(x, 0, 1), R(2, 3)),
    C("swapdims", lambda T, x: x.swapdims(0, 1), R(2, 3)),
    C("t", lambda T, x: T.t(x), R(2, 3)),
    C("t-1d", lambda T, x: x.t(), R(3)),
    C("T", lambda T, x: x.T, R(2, 3), op="permute"),
    C("mT", lambda T, x: x.mT, R(2, 3, 4), op="transpose"),
    C("squeeze", lambda T, x: T.squeeze(x), R(2, 1, 3, 1)),
    C("squeeze-dim", lambda T, x: T.squeeze(x, 1), R(2, 1, 3)),
    C("unsqueeze", lambda T, x: T.unsqueeze(x, 1), R(2, 3)),
    C("unsqueeze-neg", lambda T, x: x.unsqueeze(-1), R(2, 3)),
    C("expand", lambda T, x: x.expand(4, 2, 3), R(2, 1)),
    C("expand-minus1", lambda T, x: x.expand(-1, 3), R(2, 1)),
    C("broadcast_to", lambda T, x: T.broadcast_to(x, (3, 2, 4)), R(2, 1)),
    C("expand_as", lambda T, x, y: x.expand_as(y), R(2, 1), R(2, 3)),
    C("narrow", lambda T, x: T.narrow(x, 1, 1, 2), R(2, 4)),
    C("cat", lambda T, x, y: T.cat([x, y], 1), R(2, 3), R(2, 2)),
    C("cat-neg", lambda T, x, y: T.cat((x, y), -2), R(2, 3), R(1, 3)),
    C("concat", lambda T, x, y: T.concat([x, y]), R(2, 3), R(1, 3)),
    C("concatenate", lambda T, x, y: T.concatenate([x, y]), R(2), R(3)),
    C("stack", lambda T, x, y: T.stack([x, y]), R(2, 3), R(2, 3)),
    C("stack-dim", lambda T, x, y: T.stack([x, y], -1), R(2, 3), R(2, 3)),
    C("split", lambda T, x: T.split(x, 2, 1), R(2, 5)),
    C("split-sizes", lambda T, x: T.split(x, [1, 3], 1), R(2, 4)),
    C("chunk", lambda T, x: T.chunk(x, 2, 0), R(5, 2)),
    C("unbind", lambda T, x: T.unbind(x, 1), R(2, 3)),
    C("gather", lambda T, x, i: T.gather(x, 1, i), R(3, 4), I(3, 2, high=4)),
    C("gather-0", lambda T, x, i: T.gather(x, 0, i), R(3, 4), I(2, 4, high=3)),
    C(
        "scatter_add",
        lambda T, x, i, s: T.scatter_add(x, 1, i, s),
        R(3, 4),
        I(3, 2, high=4),
        R(3, 2),
    ),
    C("repeat", lambda T, x: x.repeat(2, 1, 3), R(2, 3)),
    C("flip", lambda T, x: T.flip(x, (0, 1)), R(2, 3)),
    C("nonzero", lambda T, b: T.nonzero(b), B(3, 4)),
    C("where-nonzero", lambda T, b: T.where(b), B(3, 4), op="where"),
    C("getitem-int", lambda T, x: x[1], R(3, 4), op="getitem"),
    C("getitem-slice", lambda T, x: x[:, 1:3], R(3, 4), op="getitem"),
    C("getitem-step", lambda T, x: x[::2, 1::2], R(5, 4), op="getitem"),
    C("getitem-none", lambda T, x: x[None, 1], R(3, 4), op="getitem"),
    C("getitem-ellipsis", lambda T, x: x[..., 0], R(2, 3, 4), op="getitem"),
    C("getitem-tensor", lambda T, x, i: x[i], R(3, 4), I(5, high=3), op="getitem"),
    C("getitem-tensor-dup", lambda T, x, i: x[:, i], R(2, 3), I(2, 2, high=3), op="getitem"),
    C("getitem-mask", lambda T, x, b: x[b], R(3, 4), B(3, 4), op="getitem"),
    C("getitem-mask-row", lambda T, x, b: x[b], R(3, 4), B(3), op="getitem"),
    C("getitem-mixed", lambda T, x, i: x[1:, i, None], R(3, 4, 2), I(3, high=4), op="getitem"),
    C(
        "getitem-two-tensors",
        lambda T, x, i, j: x[i, :, j],
        R(3, 4, 2),
        I(5, high=3),
        I(5, high=2),
        op="getitem",
    ),
]

CONTRACTION = [
    C("matmul", lambda T, x, y: T.matmul(x, y), R(2, 3), R(3, 4), second=True),
    C("matmul-1d1d", lambda T, x, y: x @ y, R(3), R(3), op="matmul", second=True),
    C("matmul-2d1d", lambda T, x, y: x @ y, R(2, 3), R(3), op="matmul"),
    C("matmul-1d2d", lambda T, x, y: x @ y, R(3), R(3, 2), op="matmul"),
    C("matmul-batched", lambda T, x, y: x @ y, R(2, 2, 3), R(2, 3, 2), op="matmul"),
    C("matmul-bcast", lambda T, x, y: x @ y, R(2, 2, 3), R(3, 2), op="matmul"),
    C("matmul-bcast-batch", lambda T, x, y: x @ y, R(2, 1, 2, 3), R(3, 3, 2), op="matmul"),
    C("matmul-3d1d", lambda T, x, y: x @ y, R(2, 2, 3), R(3), op="matmul"),
    C("matmul-1d3d", lambda T, x, y: x @ y, R(3), R(2, 3, 2), op="matmul"),
    C("mm", lambda T, x, y: T.mm(x, y), R(2, 3), R(3, 2)),
    C("bmm", lambda T, x, y: T.bmm(x, y), R(2, 2, 3), R(2, 3, 2)),
    C("mv", lambda T, x, y: T.mv(x, y), R(2, 3), R(3)),
    C("dot", lambda T, x, y: T.dot(x, y), R(3), R(3)),
    C("outer", lambda T, x, y: T.outer(x, y), R(3), R(2)),
]

# 0-dim and empty tensors, ties and kinks (compared with PyTorch; differenced where smooth)
EDGES = [
    C("erf-0dim", lambda T, x: T.erf(x), R()),
    C("sigmoid-0dim", lambda T, x: T.sigmoid(x) * x, R()),
    C("sum-0dim-dim", lambda T, x: x.sum(0), R()),
    C("sum-0dim-keep", lambda T, x: x.sum(-1, keepdim=True), R()),
    C("softmax-0dim", lambda T, x: x.softmax(0) * x, R()),
    C("max-0dim-dim", lambda T, x: x.max(0), R(), op="max"),
    C("argmax-0dim", lambda T, x: x.argmax(), R(), op="argmax"),
    C("sum-empty", lambda T, x: x.sum(0), R(0, 3)),
    C("amax-empty-rows", lambda T, x: x.amax(1), R(0, 3)),
    C("cat-empty-1d", lambda T, x, y: T.cat([x, y]), R(0), R(2)),
    # the skipped legacy empty input gets no gradient here, an empty one in PyTorch
    C("cat-legacy-empty", lambda T, x, y: T.cat([x.detach(), y]), R(0), R(2, 2)),
    C("squeeze-tuple", lambda T, x: x.squeeze((0, 2)), R(1, 2, 1)),
    C("nonzero-0dim", lambda T, b: T.nonzero(b), B()),
    C("nonzero-0dim-tuple", lambda T, x: T.nonzero(x, as_tuple=True), R(), op="nonzero"),
    C("getitem-list-of-lists", lambda T, x: x[[[0, 1], [1, 0]]], R(2, 3), op="getitem"),
    C("clamp-ties", lambda T, x: T.clamp(x, -0.5, 0.5), G(3, 4), op="clamp"),
    C(
        "clamp-tensor-ties",
        lambda T, x, lo, hi: T.clamp(x, lo, hi),
        G(3, 4),
        G(4),
        G(3, 1),
        op="clamp",
    ),
    C("relu-kink", lambda T, x: T.relu(x), G(3, 4), op="relu"),
    C("abs-kink", lambda T, x: T.abs(x), G(3, 4), op="abs"),
    C("maximum-ties", lambda T, x, y: T.maximum(x, y), G(3, 4), G(3, 4), op="maximum"),
    C("amax-ties", lambda T, x: x.amax(1), G(3, 4), op="amax"),
    C("max-dim-ties", lambda T, x: x.max(1), G(3, 4), op="max"),
    C("pow-zero-base", lambda T, x, y: x.relu() ** y, G(3, 4), G(3, 4), op="pow"),
    C("where-untaken-nan", lambda T, x: T.where(x > 0, x.sqrt(), 0.0), G(3, 4), op="where"),
    C("flip-no-dims", lambda T, x: T.flip(x, ()), R(2, 3), op="flip"),
    C("sign-grad", lambda T, x: T.sign(x), A(2, 3), op="sign"),
    C("std-one-element", lambda T, x: x.std(1, correction=0), R(3, 1), op="std"),
]

COMPOSED = [
    C(
        "mlp",
        lambda T, x, w, b: T.tanh(x @ w + b).sigmoid().mean(),
        R(2, 3),
        R(3, 2),
        R(2),
        op="matmul",
        second=True,
    ),
    C(
        "softmax-ce",
        lambda T, x, i: -T.log_softmax(x, 1).gather(1, i).mean(),
        R(3, 4),
        I(3, 1, high=4),
        op="log_softmax",
        second=True,
    ),
]

MORE = [
    C("addcdiv", lambda T, x, y, z: T.addcdiv(x, y, z, value=0.5), R(2, 3), R(3), P(2, 3)),
    C("addcmul", lambda T, x, y, z: T.addcmul(x, y, z, value=2), R(2, 3), R(2, 1), R(3)),
    C("all", lambda T, x: T.all(x > 0, 1), R(2, 3)),
    C("any", lambda T, x: T.any(x > 0), R(2, 3)),
    C("clamp_max", lambda T, x: T.clamp_max(x, 0.3), A(2, 3)),
    C("clamp_min", lambda T, x: T.clamp_min(x, -0.3), A(2, 3)),
    C("cumsum", lambda T, x: T.cumsum(x, 1), R(2, 5), second=True),
    C("cumsum-0", lambda T, x: x.cumsum(0), R(7)),
    C("index_select", lambda T, x, i: T.index_select(x, 1, i), R(2, 4), I(3, high=4)),
    C("isfinite", lambda T, x: T.isfinite(x / x), R(2, 3)),
    C("isinf", lambda T, x: T.isinf(1 / (x * 0)), R(2, 3)),
    C("isnan", lambda T, x: T.isnan(x.log()), R(2, 3)),
    C("lerp", lambda T, x, y: T.lerp(x, y, 0.25), R(2, 3), R(3)),
    C("masked_fill", lambda T, x, m: x.masked_fill(m, 0.5), R(2, 3), B(2, 3)),
    C("nan_to_num", lambda T, x: T.nan_to_num(x.log(), nan=0.0), R(2, 3)),
    C("norm", lambda T, x: T.norm(x), A(2, 3)),
    C("norm-dim", lambda T, x: x.norm(dim=1, keepdim=True), A(2, 3)),
    C("sort", lambda T, x: T.sort(x, 1, descending=True), D(2, 4)),
]

CASES: list[Case] = (
    UNARY + BINARY + _reductions() + MOVEMENT + CONTRACTION + EDGES + COMPOSED + MORE
)
BY_NAME = {c.name: c for c in CASES}


# ---- running a case ------------------------------------------------------------------------
def make_args(case: Case, T: Any, arrays: Sequence[np.ndarray] | None = None) -> list[Any]:
    """The case's arguments as T tensors; float ones require grad."""
    arrays = case.arrays() if arrays is None else arrays
    args = []
    for spec, a in zip(case.args, arrays, strict=True):
        t = T.from_numpy(np.array(a))
        args.append(t.requires_grad_() if spec.differentiable else t)
    return args


def outputs(result: Any) -> list[Any]:
    """The tensors a case returned, flattened (tuples, lists, namedtuples)."""
    if isinstance(result, tuple | list):
        return [t for r in result for t in outputs(r)]
    return [result]


def differentiable(outs: list[Any]) -> list[Any]:
    return [o for o in outs if o.dtype.is_floating_point and o.grad_fn is not None]


def cotangents(case: Case, outs: list[Any], salt: str = "g") -> list[np.ndarray]:
    rng = np.random.default_rng(zlib.crc32((case.name + salt).encode()))
    return [rng.uniform(0.5, 1.5, tuple(o.shape)) for o in outs]


def public_functions() -> list[str]:
    """Every function runtime/functional.py exports (its ``__all__``, over the ops_* modules)."""
    names = set(F.__all__)
    assert names, "functional exports nothing: this check would pass vacuously"
    return sorted(n for n in names if callable(getattr(F, n)) and n != "values_indices")


ROOT = pathlib.Path(__file__).resolve().parents[2]
# functions whose results cannot be rows of this table, with the side-by-side file that tests
# them: random draws (PyTorch's stream, compared bit for bit after the same seed) and complex
# tensors (eager only: the table's rows compile and differentiate)
_RANDOM = "bernoulli multinomial normal poisson rand rand_like randint randint_like randn"
_COMPLEX = "angle complex conj conj_physical imag is_complex polar real resolve_conj"
TESTED_ELSEWHERE = {n: "tests/runtime/test_random_vs_torch.py" for n in _RANDOM.split()}
TESTED_ELSEWHERE |= {n: "tests/runtime/test_random_vs_torch.py" for n in ("randn_like", "randperm")}
TESTED_ELSEWHERE |= {n: "tests/runtime/test_complex_vs_torch.py" for n in _COMPLEX.split()}
TESTED_ELSEWHERE |= {
    n: "tests/runtime/test_complex_vs_torch.py" for n in ("view_as_complex", "view_as_real")
}
TESTED_ELSEWHERE["orgqr"] = "tests/runtime/test_householder_vs_torch.py"
TESTED_ELSEWHERE |= {n: "tests/test_h1_geqrf_ormqr_vs_torch.py" for n in ("geqrf", "ormqr")}
TESTED_ELSEWHERE |= {n: "tests/fft/test_fft_stft.py" for n in ("stft", "istft")}  # (complex)
TESTED_ELSEWHERE |= {
    n: "tests/runtime/test_special_more_vs_torch.py" for n in ("igamma", "igammac")
}
TESTED_ELSEWHERE |= {
    n: "tests/runtime/test_inference_mode_vs_torch.py"
    for n in ("is_inference", "is_inference_mode_enabled")
}

_BREADTH = "detach_copy values_copy indices_copy crow_indices_copy col_indices_copy"
_BREADTH += " ccol_indices_copy row_indices_copy view_as_real_copy view_as_complex_copy"
TESTED_ELSEWHERE |= {n: "tests/test_breadth_toplevel.py" for n in _BREADTH.split()}


def test_every_public_function_has_a_row() -> None:
    from linalg_op_cases import CASES as LINALG_CASES  # issue 13's linear algebra
    from math_op_cases import CASES as MATH_CASES  # issue 13's math functions, own test file
    from misc_op_cases import CASES as MISC_CASES  # issue 13's odds and ends (aliases, diff...)
    from reduction_op_cases import CASES as REDUCTION_CASES  # issue 13's reductions
    from shape_op_cases import CASES as SHAPE_CASES  # issue 13's shape ops, own test file
    from sort_op_cases import CASES as SORT_CASES  # issue 13's sorting and selection

    covered = {c.op for c in CASES} | {c.op for c in SHAPE_CASES} | {c.op for c in MATH_CASES}
    covered |= {c.op for c in REDUCTION_CASES} | {c.op for c in LINALG_CASES}
    covered |= {c.op for c in MISC_CASES}
    covered |= {c.op for c in SORT_CASES}
    for name, path in TESTED_ELSEWHERE.items():  # the file must really exercise the name
        assert re.search(rf"[.\"']{name}[(\"']", (ROOT / path).read_text()), (name, path)
    covered |= set(TESTED_ELSEWHERE)
    missing = [n for n in public_functions() if n not in covered]
    assert not missing, f"functions without a row in the op table: {missing}"


def test_case_names_unique() -> None:
    assert len(BY_NAME) == len(CASES)


def test_rows_run_on_adjit() -> None:
    for case in CASES:
        case.fn(adjit, *make_args(case, adjit))
