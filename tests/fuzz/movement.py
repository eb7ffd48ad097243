"""Movement, indexing and matmul ops for the program builder."""

from __future__ import annotations

from hypothesis import strategies as st

from .builder import MAX_BOUND, MAX_RANK, Builder, Value, fits, numel


def _value(b: Builder, min_rank: int = 0) -> Value:
    v = b.pick(lambda v: len(v.shape) >= min_rank)
    return v if v is not None else b.new_input(tuple(range(2, 2 + min_rank)))


def _factorizations(n: int) -> list[tuple[int, ...]]:
    divisors = [d for d in range(1, n + 1) if n % d == 0]
    out: list[tuple[int, ...]] = [(n,)] + [(d, n // d) for d in divisors]
    out += [(d, e, n // (d * e)) for d in divisors for e in divisors if (n // d) % e == 0]
    return ([()] if n == 1 else []) + out


def reshape(b: Builder) -> None:
    v = _value(b)
    shape = b.draw(st.sampled_from(_factorizations(numel(v.shape))))
    dims = list(shape)
    if dims and b.draw(st.booleans()):
        dims[b.draw(st.integers(0, len(dims) - 1))] = -1
    # no .view: PyTorch refuses views of non-contiguous tensors, adjit allows them
    style = b.draw(st.sampled_from(["{0}.reshape(%s)", "T.reshape({0}, (%s,))"]))
    if not dims:
        style = "{0}.reshape(())"
    b.emit(style.replace("%s", ", ".join(map(str, dims))), [v], shape, v.bound)


def permute(b: Builder) -> None:
    v = _value(b, min_rank=2)
    rank = len(v.shape)
    kind = b.draw(st.sampled_from(["permute", "transpose", "mT", "t"]))
    if kind == "t" and rank != 2:
        kind = "mT"
    if kind == "permute":
        perm = b.draw(st.permutations(range(rank)))
        expr, shape = f"{{0}}.permute({', '.join(map(str, perm))})", [v.shape[p] for p in perm]
    else:
        d0, d1 = (-2, -1)
        if kind == "transpose":
            d0, d1 = b.draw(st.integers(-rank, rank - 1)), b.draw(st.integers(-rank, rank - 1))
        shape = list(v.shape)
        shape[d0], shape[d1] = shape[d1], shape[d0]
        expr = {"transpose": f"{{0}}.transpose({d0}, {d1})", "mT": "{0}.mT", "t": "{0}.t()"}[kind]
    b.emit(expr, [v], tuple(shape), v.bound)


def squeeze_unsqueeze(b: Builder) -> None:
    v = _value(b)
    rank = len(v.shape)
    ones = [i for i, n in enumerate(v.shape) if n == 1]
    if ones and b.draw(st.booleans()):
        if b.draw(st.booleans()):
            b.emit("{0}.squeeze()", [v], tuple(n for n in v.shape if n != 1), v.bound)
            return
        d = b.draw(st.sampled_from(ones))
        shape = v.shape[:d] + v.shape[d + 1 :]
        b.emit(f"{{0}}.squeeze({d - rank if b.draw(st.booleans()) else d})", [v], shape, v.bound)
        return
    if rank >= MAX_RANK:
        b.emit("{0}.squeeze()", [v], tuple(n for n in v.shape if n != 1), v.bound)
        return
    d = b.draw(st.integers(-rank - 1, rank))
    at = d % (rank + 1)
    style = b.draw(st.sampled_from(["{0}.unsqueeze(%d)", "T.unsqueeze({0}, %d)"]))
    b.emit(style % d, [v], v.shape[:at] + (1,) + v.shape[at:], v.bound)


def expand(b: Builder) -> None:
    v = _value(b)
    sizes = [b.draw(st.integers(1, 4)) if n == 1 else n for n in v.shape]
    grow = not sizes or (len(sizes) < 3 and b.draw(st.booleans()))
    lead = [b.draw(st.integers(1, 3))] if grow else []
    shape = tuple(lead + sizes)
    if not fits(shape):
        shape, sizes, lead = (2, *v.shape), list(v.shape), [2]
    shown = [
        str(n) if n != v.shape[i] or b.draw(st.booleans()) else "-1" for i, n in enumerate(sizes)
    ]
    b.emit(f"{{0}}.expand({', '.join(map(str, lead + shown))})", [v], shape, v.bound)


def _slice(b: Builder, n: int) -> tuple[str, int]:
    """A slice of a dim of size n that keeps at least one element: its text and length."""
    start = b.draw(st.integers(-n, n - 1))
    stop = b.draw(st.integers(-n, n))
    step = b.draw(st.integers(1, 3))
    length = len(range(n)[start:stop:step])
    if length == 0:
        start, stop = 0, n
        length = len(range(n)[::step])
    return (f"{start}:{stop}" if step == 1 else f"{start}:{stop}:{step}"), length


def index(b: Builder) -> None:
    """``v[...]`` with a slice, an int, None, or a tensor of (repeating) int indices."""
    v = _value(b, min_rank=1)
    rank = len(v.shape)
    d = b.draw(st.integers(0, rank - 1))
    n = v.shape[d]
    kind = b.draw(st.sampled_from(["slice", "int", "tensor", "none"]))
    shape = list(v.shape)
    if kind == "slice":
        item, shape[d] = _slice(b, n)
    elif kind == "int":
        i = b.draw(st.integers(-n, n - 1))
        item = str(i)
        del shape[d]
    elif kind == "tensor":
        idx = b.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=4))
        item, shape[d] = f"T.tensor({idx})", len(idx)
    else:
        item = "None"
        shape.insert(d, 1)
    if b.draw(st.booleans()):
        expr = "{0}[" + ", ".join([":"] * d + [item]) + "]"
    else:  # the same position counted from the end, after an ellipsis (None adds a dim)
        after = rank - d - (0 if kind == "none" else 1)
        expr = "{0}[" + ", ".join(["...", item] + [":"] * after) + "]"
    b.emit(expr, [v], tuple(shape), v.bound)


def matmul(b: Builder) -> None:
    """``v @ w`` for a fresh (or the transposed same) operand of a fitting shape."""
    v = _value(b, min_rank=1)
    k = v.shape[-1]
    if len(v.shape) >= 2 and b.draw(st.integers(0, 2)) == 0:
        shape = v.shape[:-1] + (v.shape[-2],)
        if fits(shape) and v.bound * v.bound * k <= MAX_BOUND:
            b.emit("{0} @ {0}.mT", [v], shape, v.bound * v.bound * k)
            return
    m = b.draw(st.integers(1, 4))
    batch = v.shape[:-2] if len(v.shape) >= 3 and b.draw(st.booleans()) else ()
    vector = not batch and b.draw(st.integers(0, 3)) == 0
    w = b.new_input(batch + ((k,) if vector else (k, m)))
    shape = v.shape[:-1] + (() if vector else (m,))
    bound = v.bound * w.bound * k
    if not fits(shape) or bound > MAX_BOUND:
        b.emit("T.tanh({0}).mean() * {1}.mean()", [v, w], (), 1.5)
        return
    style = b.draw(st.sampled_from(["{0} @ {1}", "T.matmul({0}, {1})"]))
    b.emit(style, [v, w], shape, bound)
