"""conv1d/2d/3d, conv_transpose1d/2d/3d, conv_tbc, convolution: 2-D UNFOLD + MATMUL (+ FOLD)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from operator import index
from typing import Any

from adjit.ir.ops import Op
from adjit.ir.shapes import C_NAMES
from adjit.ir.windows import Padding, Pair
from adjit.nn.functional_conv import _conv
from adjit.nn.functional_fold import im2col
from adjit.runtime import functional as R
from adjit.runtime.autocast import autocast_op
from adjit.runtime.device import contiguous
from adjit.runtime.dispatch import apply, composite
from adjit.runtime.tensor import Tensor

__all__ = [
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_tbc",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "convolution",
]

# Note [N-d convolution through 2-D windows]: every convolution here is conv2d's UNFOLD + MATMUL
# (Note [convolution as UNFOLD + MATMUL] in functional_conv.py), so there is one window
# machinery, compiled and differentiated once. A 1-D convolution is a 2-D one over a unit height
# axis. A 3-D one first unfolds depth alone: UNFOLD with a (kD, 1) kernel on the input viewed as
# (N, C, D, H W) gives (N, C kD, OD, H, W), rows ordered (channel, depth tap) like the weight's;
# with the OD positions moved into the batch it is a 2-D convolution of (N OD, C kD, H, W) with
# the weight viewed as (O, C/g kD, kH, kW). A transposed convolution is the adjoint of the
# convolution with the same arguments, so it runs that backward: one MATMUL with the weight's
# transpose, then FOLD (col2im) sums the columns onto the output, not a convolution of a
# zero-stuffed input; its 3-D form folds (kH, kW) per depth, then depth with a (kD, 1) FOLD.
# ``output_padding`` only lengthens the output at its far end: FOLD covers what the windows reach
# (its far-side padding shrinks by ``output_padding``), zeros fill the rest.

Ints = tuple[int, ...]
# the CPU kernel PyTorch names when it refuses a bool input, by (spatial dims, transposed)
_BOOL_KERNELS = {
    (1, False): "slow_conv2d_cpu",
    (2, False): "slow_conv2d_cpu",
    (3, False): "compute_columns3d",
    (1, True): "slow_conv_transpose2d_out_cpu",
    (2, True): "slow_conv_transpose2d_out_cpu",
    (3, True): "slow_conv_transpose3d_out_cpu",
}
_AXES = {1: ("width",), 2: ("height", "width"), 3: ("depth", "height", "width")}


def _ints(v: Any, dim: int, name: str, what: str) -> Ints:
    """An int as ``dim`` copies, a sequence as its ints (PyTorch's IntArrayRef[dim] parse)."""
    if hasattr(v, "__index__"):
        return (index(v),) * dim
    if isinstance(v, (list, tuple)) and all(hasattr(a, "__index__") for a in v):
        return tuple(index(a) for a in v)
    kind = "a tuple of non-ints" if isinstance(v, (list, tuple)) else type(v).__name__
    raise TypeError(f"{name}(): argument '{what}' must be tuple of ints, not {kind}")


def _expand(v: Ints, name: str, dim: int) -> Ints:
    """PyTorch's expand_param_if_needed: one value for every spatial dim of the weight."""
    if len(v) == 1:
        return v * dim
    if len(v) != dim:
        raise RuntimeError(
            f"expected {name} to be a single integer value or a list of {dim} values to match "
            f"the convolution dimensions, but got {name}={list(v)}"
        )
    return v


@dataclass(frozen=True)
class Geometry:
    """A convolution's parsed arguments: per spatial dim, stride, (before, after) padding,
    dilation and (transposed) output padding."""

    stride: Ints
    padding: tuple[Pair, ...]
    dilation: Ints
    output_padding: Ints
    groups: int


def _batched(input: Tensor, name: str, dim: int) -> tuple[Tensor, bool]:
    if input.ndim == dim + 1:
        return R.unsqueeze(input, 0), True
    if input.ndim != dim + 2:
        raise RuntimeError(
            f"Expected {dim + 1}D (unbatched) or {dim + 2}D (batched) input to {name}, but got "
            f"input of size: {list(input.shape)}"
        )
    return input, False


def _same(kernel: Ints, dilation: Ints) -> tuple[Pair, ...]:
    """'same' padding: an odd total puts the extra element after (PyTorch's right pad)."""
    return tuple(
        (d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2)
        for k, d in zip(kernel, dilation, strict=True)
    )


def _string_padding(padding: str, stride: Ints, kernel: Ints, dilation: Ints) -> tuple[Pair, ...]:
    if padding == "valid":
        return tuple((0, 0) for _ in kernel)
    if padding == "same":
        if any(s != 1 for s in stride):
            raise RuntimeError("padding='same' is not supported for strided convolutions")
        return _same(kernel, dilation)
    raise RuntimeError(f"Invalid padding string: '{padding}'")


def _check_dtypes(x: Tensor, weight: Tensor, bias: Tensor | None) -> None:
    if weight.dtype != x.dtype:
        raise RuntimeError(
            f"expected scalar type {x.dtype.type_name} but found {weight.dtype.type_name}"
        )
    if bias is not None and bias.dtype != x.dtype:
        a, b = (C_NAMES.get(t.dtype.name, t.dtype.name) for t in (x, bias))
        raise RuntimeError(f"Input type ({a}) and bias type ({b}) should be the same")


def _check_shapes(
    x: Tensor, weight: Tensor, bias: Tensor | None, g: Geometry, transposed: bool
) -> None:
    """PyTorch's check_shape_forward, in its order."""
    if any(lo < 0 for lo, _ in g.padding):
        raise RuntimeError("negative padding is not supported")
    if any(p < 0 for p in g.output_padding):
        raise RuntimeError("negative output_padding is not supported")
    if any(s <= 0 for s in g.stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d < 0 for d in g.dilation):
        raise RuntimeError("dilation should be greater than zero")
    ws, xs = list(weight.shape), list(x.shape)
    if weight.ndim != x.ndim:
        raise RuntimeError(
            f"Expected {weight.ndim}-dimensional input for {weight.ndim}-dimensional weight {ws}, "
            f"but got {x.ndim}-dimensional input of size {xs} instead"
        )
    groups = g.groups
    if ws[0] < groups:
        raise RuntimeError(
            f"Given groups={groups}, expected weight to be at least {groups} at dimension 0, but "
            f"got weight of size {ws} instead"
        )
    if ws[0] % groups:
        raise RuntimeError(
            f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
            f"but got weight of size [{ws}] instead"
        )
    channels, out = (ws[0], ws[1] * groups) if transposed else (ws[1] * groups, ws[0])
    given = (
        f"Given transposed=1, weight of size {ws}"
        if transposed
        else (f"Given groups={groups}, weight of size {ws}")
    )
    if xs[1] != channels:
        raise RuntimeError(
            f"{given}, expected input{xs} to have {channels} channels, but got {xs[1]} channels "
            "instead"
        )
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != out):
        given = given if transposed else f"Given weight of size {ws}"
        raise RuntimeError(
            f"{given}, expected bias to be 1-dimensional with {out} elements, but got bias of "
            f"size {list(bias.shape)} instead"
        )
    if not transposed:
        padded = [n + lo + hi for n, (lo, hi) in zip(xs[2:], g.padding, strict=True)]
        span = [d * (k - 1) + 1 for d, k in zip(g.dilation, ws[2:], strict=True)]
        if any(p < k for p, k in zip(padded, span, strict=True)):
            raise RuntimeError(
                f"Calculated padded input size per channel: ({' x '.join(map(str, padded))}). "
                f"Kernel size: ({' x '.join(map(str, span))}). Kernel size can't be greater than "
                "actual input size"
            )


def _labelled(name: str, values: Ints) -> str:
    return " ".join(
        f"{name}_{axis}: {v}" for axis, v in zip(_AXES[len(values)], values, strict=True)
    )


def _check_transposed(x: Tensor, weight: Tensor, g: Geometry) -> Ints:
    """PyTorch's slow_conv_transpose shape checks (1-D as 2-D with a unit height); the output's
    spatial size."""
    one = len(g.stride) == 1
    lift = (lambda v, u: (u, *v)) if one else (lambda v, u: v)
    d, s, op = lift(g.dilation, 1), lift(g.stride, 1), lift(g.output_padding, 0)
    if any(v <= 0 for v in d):
        text = _labelled("dilation", d).replace(" dilation_", ", dilation_")
        raise RuntimeError(f"dilation should be greater than zero, but got {text}")
    if any(o >= a and o >= b for o, a, b in zip(op, s, d, strict=True)):
        raise RuntimeError(
            "output padding must be smaller than either stride or dilation, but got "
            f"{_labelled('output_padding', op)} {_labelled('stride', s)} "
            f"{_labelled('dilation', d)}"
        )
    size = tuple(
        (n - 1) * st - 2 * lo + dl * (k - 1) + o + 1
        for n, st, (lo, _), dl, k, o in zip(
            x.shape[2:],
            g.stride,
            g.padding,
            g.dilation,
            weight.shape[2:],
            g.output_padding,
            strict=True,
        )
    )
    if min(size) < 1:
        given = lift(tuple(x.shape[2:]), 1)
        raise RuntimeError(
            f"Given input size per channel: ({' x '.join(map(str, given))}). Calculated output "
            f"size per channel: ({' x '.join(map(str, lift(size, 1)))}). Output size is too small"
        )
    return size


def _geometry(
    name: str,
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    args: tuple[Any, Any, Any, Any, int],
    dim: int,
    transposed: bool,
) -> Geometry:
    """Parse and check (stride, padding, dilation, output_padding, groups) as PyTorch does."""
    stride, padding, dilation, output_padding, groups = args
    if weight.ndim < 3:
        raise RuntimeError("weight should have at least three dimensions")
    wdim = weight.ndim - 2
    s = _expand(_ints(stride, dim, name, "stride"), "stride", wdim)
    string = isinstance(padding, str)
    p = () if string else _expand(_ints(padding, dim, name, "padding"), "padding", wdim)
    d = _expand(_ints(dilation, dim, name, "dilation"), "dilation", wdim)
    op = (0,) * wdim
    if transposed:
        op = _expand(_ints(output_padding, dim, name, "output_padding"), "output_padding", wdim)
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    pads = (
        _string_padding(padding, s, tuple(weight.shape[2:]), d)
        if string
        else tuple((v, v) for v in p)
    )
    g = Geometry(s, pads, d, op, groups)
    _check_shapes(x, weight, bias, g, transposed)
    if not transposed and any(v == 0 for v in d):
        shown = (1, *d) if wdim == 1 else d
        raise RuntimeError(f"dilation should be greater than zero, but got {list(shown)}")
    kernel = _BOOL_KERNELS.get((wdim, transposed))
    if x.dtype.name == "bool" and kernel is not None:
        raise NotImplementedError(f"\"{kernel}\" not implemented for 'Bool'")
    _check_dtypes(x, weight, bias)
    return g


# ---- convolution ---------------------------------------------------------------------------
def _depth_unfold(x: Tensor, k: int, s: int, pads: Pair, d: int) -> tuple[Tensor, int]:
    """(N, C, D, H, W) -> (N OD, C kD, H, W) (Note [N-d convolution through 2-D windows])."""
    n, c, depth, h, w = x.shape
    if (k, s, pads) == (1, 1, (0, 0)):
        return R.reshape(R.permute(x, (0, 2, 1, 3, 4)), (n * depth, c, h, w)), depth
    od = (depth + pads[0] + pads[1] - d * (k - 1) - 1) // s + 1
    cols = im2col(R.reshape(x, (n, c, depth, h * w)), (k, 1), (d, 1), (pads, (0, 0)), (s, 1))
    cols = R.permute(R.reshape(cols, (n, c * k, od, h, w)), (0, 2, 1, 3, 4))
    return R.reshape(cols, (n * od, c * k, h, w)), od


def _conv_nd(x: Tensor, w: Tensor, *b: Tensor, g: Geometry) -> Tensor:
    """A batched N-d convolution (N = 1, 2, 3) through conv2d's ``_conv``."""
    dim, groups = x.ndim - 2, g.groups
    if dim == 2:
        pads: Padding = (g.padding[0], g.padding[1])
        s2: Pair = (g.stride[0], g.stride[1])
        return _conv(x, w, *b, s=s2, pads=pads, d=(g.dilation[0], g.dilation[1]), groups=groups)
    if dim == 1:
        y = _conv(
            R.unsqueeze(x, 2),
            R.unsqueeze(w, 2),
            *b,
            s=(1, g.stride[0]),
            pads=((0, 0), g.padding[0]),
            d=(1, g.dilation[0]),
            groups=groups,
        )
        return R.squeeze(y, 2)
    n = x.shape[0]
    o, cg, kd, kh, kw = w.shape
    x2, od = _depth_unfold(x, kd, g.stride[0], g.padding[0], g.dilation[0])
    y = _conv(
        x2,
        R.reshape(w, (o, cg * kd, kh, kw)),
        *b,
        s=(g.stride[1], g.stride[2]),
        pads=(g.padding[1], g.padding[2]),
        d=(g.dilation[1], g.dilation[2]),
        groups=groups,
    )
    oh, ow = y.shape[2:]
    return R.permute(R.reshape(y, (n, od, o, oh, ow)), (0, 2, 1, 3, 4))


# Note [PyTorch's layouts]: the GEMM leaves the output channel-major; PyTorch's convolutions
# return it contiguous. The layout is visible: stride(), view(), and dropout after a conv
# draws its mask in memory order (runtime/ops_random.dropout_noise), so the result is copied
# into PyTorch's layout (free when compiled: traced values have no layout).


@autocast_op("_convolution")
def _convolution(
    name: str, dim: int, input: Tensor, weight: Tensor, bias: Tensor | None, *args: Any
) -> Tensor:
    x, unbatched = _batched(input, name, dim)
    g = _geometry(name, x, weight, bias, (args[0], args[1], args[2], 0, args[3]), dim, False)
    return _run(_conv_nd, g, x, weight, bias, unbatched)


def _run(
    conv: Callable[..., Tensor],
    g: Geometry,
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    unbatched: bool,
) -> Tensor:
    """``conv`` as one ConvolutionBackward0 node, in PyTorch's layout, unbatched again."""
    extra = () if bias is None else (bias,)
    out = composite(
        "ConvolutionBackward0",
        lambda a, w, *b: contiguous(conv(a, w, *b, g=g)),  # (Note [PyTorch's layouts])
        x,
        weight,
        *extra,
    )
    return R.squeeze(out, 0) if unbatched else out


@autocast_op("conv1d")
def conv1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """1-D cross-correlation of (N, C, L) or (C, L) (a 2-D one over a unit height)."""
    return _convolution("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


@autocast_op("conv2d")
def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """2-D cross-correlation (Note [convolution as UNFOLD + MATMUL] in functional_conv.py)."""
    return _convolution("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


@autocast_op("conv3d")
def conv3d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """3-D cross-correlation (Note [N-d convolution through 2-D windows])."""
    return _convolution("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


# ---- transposed convolution ----------------------------------------------------------------
def _col2im(cols: Tensor, blocks: Pair, k: Pair, s: Pair, p: Pair, d: Pair, op: Pair) -> Tensor:
    """FOLD (N, C kh kw, L) onto the transposed convolution's (N, C, OH, OW): symmetric padding
    ``p``, ``op`` more positions at the far end (Note [N-d convolution through 2-D windows])."""
    natural = [
        (b - 1) * st + dl * (kk - 1) + 1 for b, st, dl, kk in zip(blocks, s, d, k, strict=True)
    ]
    after = [max(pp - o, 0) for pp, o in zip(p, op, strict=True)]
    size = [nat - pp - a for nat, pp, a in zip(natural, p, after, strict=True)]
    if min(size) < 1:
        return _crop_fill(cols, natural, k, s, p, d, op)
    n, c = cols.shape[0], cols.shape[1] // (k[0] * k[1])
    if (k, s, p, after) == ((1, 1), (1, 1), (0, 0), [0, 0]):
        out = R.reshape(cols, (n, c, *blocks))  # FOLD of a 1x1 stride-1 kernel is the identity
    else:
        out = apply(
            Op.FOLD,
            cols,
            output_size=(size[0], size[1]),
            kernel_size=k,
            dilation=d,
            padding=((p[0], after[0]), (p[1], after[1])),
            stride=s,
        )
    extra = [max(o - pp, 0) for pp, o in zip(p, op, strict=True)]
    if any(extra):
        from adjit.nn.functional import pad

        out = pad(out, (0, extra[1], 0, extra[0]))
    return out


def _crop_fill(
    cols: Tensor, natural: list[int], k: Pair, s: Pair, p: Pair, d: Pair, op: Pair
) -> Tensor:
    """``_col2im`` when no window reaches the output along an axis (an output_padding beyond
    the padding): FOLD onto every position the windows reach, keep the output's part, fill the
    rest with zeros."""
    from adjit.nn.functional import pad

    out = apply(
        Op.FOLD,
        cols,
        output_size=(natural[0], natural[1]),
        kernel_size=k,
        dilation=d,
        padding=((0, 0), (0, 0)),
        stride=s,
    )
    fill = []
    for axis, (nat, pp, o) in enumerate(zip(natural, p, op, strict=True), start=2):
        start, size = min(pp, nat), nat - 2 * pp + o
        kept = max(0, min(nat, pp + size) - start)
        out = R.narrow(out, axis, start, kept)
        fill.append(size - kept)
    return pad(out, (0, fill[1], 0, fill[0]))


def _conv_t2(x: Tensor, w: Tensor, s: Pair, p: Pair, d: Pair, op: Pair, groups: int) -> Tensor:
    """conv2d's input gradient: columns = weight^T @ input, then FOLD (no bias)."""
    n, cin, h, wd = x.shape
    _, cog, kh, kw = w.shape
    ckk = cog * kh * kw
    if groups == 1:  # Note [one GEMM for the batch] (functional_conv.py)
        xs = R.reshape(R.permute(x, (1, 0, 2, 3)), (cin, n * h * wd))
        cols = R.matmul(R.transpose(R.reshape(w, (cin, ckk)), 0, 1), xs)
        cols = R.permute(R.reshape(cols, (ckk, n, h * wd)), (1, 0, 2))
    else:
        wg = R.transpose(R.reshape(w, (groups, cin // groups, ckk)), 1, 2)
        cols = R.matmul(wg, R.reshape(x, (n, groups, cin // groups, h * wd)))
        cols = R.reshape(cols, (n, groups * ckk, h * wd))
    return _col2im(cols, (h, wd), (kh, kw), s, p, d, op)


def _last2(v: Ints, unit: int) -> Pair:
    """The last two spatial values; a 1-D geometry gets a unit height first."""
    return (unit, v[0]) if len(v) == 1 else (v[-2], v[-1])


def _conv_t_nd(x: Tensor, w: Tensor, *b: Tensor, g: Geometry) -> Tensor:
    dim, groups = x.ndim - 2, g.groups
    p = tuple(lo for lo, _ in g.padding)
    s2, p2, d2 = _last2(g.stride, 1), _last2(p, 0), _last2(g.dilation, 1)
    geometry = (s2, p2, d2, _last2(g.output_padding, 0), groups)
    if dim == 1:
        y = R.squeeze(_conv_t2(R.unsqueeze(x, 2), R.unsqueeze(w, 2), *geometry), 2)
    elif dim == 2:
        y = _conv_t2(x, w, *geometry)
    else:
        n, cin, depth, h, wd = x.shape
        _, cog, kd, kh, kw = w.shape
        x2 = R.reshape(R.permute(x, (0, 2, 1, 3, 4)), (n * depth, cin, h, wd))
        hw = _conv_t2(x2, R.reshape(w, (cin, cog * kd, kh, kw)), *geometry)
        oh, ow = hw.shape[2:]
        cols = R.permute(R.reshape(hw, (n, depth, cog * groups * kd, oh * ow)), (0, 2, 1, 3))
        cols = R.reshape(cols, (n, cog * groups * kd, depth * oh * ow))
        depth_geometry = ((kd, 1), (g.stride[0], 1), (p[0], 0), (g.dilation[0], 1))
        y = _col2im(cols, (depth, oh * ow), *depth_geometry, (g.output_padding[0], 0))
        y = R.reshape(y, (n, cog * groups, y.shape[2], oh, ow))
    if b:
        y = y + R.reshape(b[0], (b[0].shape[0],) + (1,) * dim)
    return y


def _transposed(
    name: str, dim: int, input: Tensor, weight: Tensor, bias: Tensor | None, *args: Any
) -> Tensor:
    stride, padding, output_padding, groups, dilation = args
    if isinstance(padding, str):
        raise TypeError(f"{name}(): argument 'padding' must be tuple of ints, not str")
    x, unbatched = _batched(input, name, dim)
    g = _geometry(
        name, x, weight, bias, (stride, padding, dilation, output_padding, groups), dim, True
    )
    _check_transposed(x, weight, g)
    return _run(_conv_t_nd, g, x, weight, bias, unbatched)


@autocast_op("conv_transpose1d")
def conv_transpose1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Tensor:
    """1-D transposed convolution: the adjoint of conv1d (weight (C_in, C_out / groups, k))."""
    args = (stride, padding, output_padding, groups, dilation)
    return _transposed("conv_transpose1d", 1, input, weight, bias, *args)


@autocast_op("conv_transpose2d")
def conv_transpose2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Tensor:
    """2-D transposed convolution: MATMUL with the weight's transpose, then FOLD (col2im)."""
    args = (stride, padding, output_padding, groups, dilation)
    return _transposed("conv_transpose2d", 2, input, weight, bias, *args)


@autocast_op("conv_transpose3d")
def conv_transpose3d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Tensor:
    """3-D transposed convolution (Note [N-d convolution through 2-D windows])."""
    args = (stride, padding, output_padding, groups, dilation)
    return _transposed("conv_transpose3d", 3, input, weight, bias, *args)


# ---- torch.convolution --------------------------------------------------------------------
_LIST_ARGS = (("stride", 4), ("padding", 5), ("dilation", 6), ("output_padding", 8))


def convolution(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    stride: Any,
    padding: Any,
    dilation: Any,
    transposed: bool,
    output_padding: Any,
    groups: int,
) -> Tensor:
    """``torch.convolution``: a (transposed) convolution of a batched input, its spatial rank
    the weight's; every argument given, the int-list ones as lists."""
    values = (stride, padding, dilation, output_padding)
    for (what, position), v in zip(_LIST_ARGS, values, strict=True):
        if not isinstance(v, (list, tuple)):
            raise TypeError(
                f"convolution(): argument '{what}' (position {position}) must be tuple of ints, "
                f"not {type(v).__name__}"
            )
    dim = max(weight.ndim - 2, 1)
    args = (stride, padding, dilation, output_padding, groups)
    g = _geometry("convolution", input, weight, bias, args, dim, bool(transposed))
    if dim > 3:
        raise RuntimeError("unsupported ConvNd parameters")  # (PyTorch's CPU text)
    if transposed:
        _check_transposed(input, weight, g)
    body = _conv_t_nd if transposed else _conv_nd
    extra = () if bias is None else (bias,)
    return composite(
        "ConvolutionBackward0", lambda a, w, *b: body(a, w, *b, g=g), input, weight, *extra
    )


# ---- conv_tbc ------------------------------------------------------------------------------
def _tbc(x: Tensor, w: Tensor, b: Tensor, pad: int) -> Tensor:
    if pad < 0:  # PyTorch crops the time axis by -pad at both ends
        x = R.narrow(x, 0, -pad, x.shape[0] + 2 * pad)
        pad = 0
    empty = x.shape[0] + 2 * pad < w.shape[0]  # no time step: one past the end, then none
    g = Geometry((1,), ((pad, pad + empty),), (1,), (0,), 1)
    y = _conv_nd(R.permute(x, (1, 2, 0)), R.permute(w, (2, 1, 0)), b, g=g)
    y = R.permute(y, (2, 0, 1))
    return R.narrow(y, 0, 0, 0) if empty else y


@autocast_op("conv_tbc")
def conv_tbc(input: Tensor, weight: Tensor, bias: Tensor, pad: int = 0) -> Tensor:
    """1-D convolution of a (time, batch, channel) input with a (width, in, out) weight."""
    if input.ndim != 3:
        raise RuntimeError("Input must have 3 dims: time, batch, in_channel")
    if weight.ndim != 3:
        raise RuntimeError(
            "Weight tensor must have 3 dims: kernel_width, in_channels, out_channels."
        )
    if bias.ndim != 1:
        raise RuntimeError("Bias must be 1-D")
    if input.shape[2] != weight.shape[1]:
        raise RuntimeError("Input dim 2 (input channels) is not == dim 1 in the weight tensor")
    if weight.shape[2] != bias.shape[0]:
        raise RuntimeError("Bias size must equal dim 2 in the weight tensor (output channels).")
    t, batch = input.shape[:2]
    length = t - weight.shape[0] + 1 + 2 * pad
    if length < 0:
        raise RuntimeError(
            f"Trying to create tensor with negative dimension {length}: "
            f"[{length}, {batch}, {weight.shape[2]}]"
        )
    _check_dtypes(input, weight, bias)
    return composite("ConvTbcBackward0", _tbc, input, weight, bias, pad)
