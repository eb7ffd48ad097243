"""Every tensor op as a function: the public namespace over the ops_* modules, by concern."""

from . import numpy_names
from .ops_complex import (
    angle,
    complex,
    conj,
    conj_physical,
    imag,
    is_complex,
    polar,
    real,
    resolve_conj,
    view_as_complex,
    view_as_real,
)
from .ops_diagonal import (
    diag,
    diag_embed,
    diagflat,
    diagonal,
    tril,
    tril_indices,
    triu,
    triu_indices,
)
from .ops_elementwise import (
    abs,
    add,
    addcdiv,
    addcmul,
    clamp,
    clamp_max,
    clamp_min,
    clip,
    clone,
    cos,
    div,
    divide,
    eq,
    erf,
    exp,
    floor,
    ge,
    gt,
    isfinite,
    isinf,
    isnan,
    le,
    lerp,
    log,
    log1p,
    lt,
    masked_fill,
    maximum,
    minimum,
    mul,
    nan_to_num,
    ne,
    neg,
    pow,
    reciprocal,
    relu,
    rsqrt,
    rsub,
    sigmoid,
    sign,
    sin,
    sqrt,
    square,
    sub,
    tanh,
    true_divide,
    trunc,
    where,
)
from .ops_index import argwhere, index_add, index_fill, masked_select
from .ops_integer import (
    bitwise_and,
    bitwise_left_shift,
    bitwise_not,
    bitwise_or,
    bitwise_right_shift,
    bitwise_xor,
    floor_divide,
    fmod,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    remainder,
)
from .ops_linalg import (
    bmm,
    dot,
    matmul,
    mm,
    mv,
    outer,
)
from .ops_math import (
    acos,
    acosh,
    arccos,
    arccosh,
    arcsin,
    arcsinh,
    arctan,
    arctan2,
    arctanh,
    asin,
    asinh,
    atan,
    atan2,
    atanh,
    ceil,
    copysign,
    cosh,
    exp2,
    expm1,
    float_power,
    frac,
    hypot,
    isneginf,
    isposinf,
    log2,
    log10,
    logaddexp,
    logaddexp2,
    round,
    sgn,
    signbit,
    sinh,
    tan,
    xlogy,
)
from .ops_movement import (
    broadcast_to,
    cat,
    chunk,
    concat,
    concatenate,
    expand,
    expand_as,
    flatten,
    flip,
    gather,
    getitem,
    index_select,
    narrow,
    nonzero,
    permute,
    repeat,
    reshape,
    scatter_add,
    split,
    squeeze,
    stack,
    swapaxes,
    swapdims,
    t,
    transpose,
    unbind,
    unflatten,
    unsqueeze,
    view,
)
from .ops_reduce import (
    all,
    amax,
    amin,
    any,
    argmax,
    argmin,
    cumsum,
    log_softmax,
    logsumexp,
    max,
    mean,
    min,
    norm,
    softmax,
    std,
    sum,
    values_indices,
    var,
)
from .ops_scan import cummax, cummin, cumprod, logcumsumexp
from .ops_scatter import index_copy, index_put, masked_scatter, scatter, scatter_reduce
from .ops_select import kthvalue, median, mode, nanmedian, nanquantile, quantile
from .ops_shape import (
    atleast_1d,
    atleast_2d,
    atleast_3d,
    broadcast_shapes,
    broadcast_tensors,
    column_stack,
    dstack,
    fliplr,
    flipud,
    hstack,
    meshgrid,
    moveaxis,
    movedim,
    roll,
    rot90,
    row_stack,
    select,
    tensor_split,
    tile,
    vstack,
)
from .ops_stats import (
    aminmax,
    count_nonzero,
    dist,
    nanmean,
    nansum,
    prod,
    std_mean,
    trace,
    var_mean,
)
from .ops_take import repeat_interleave, take, take_along_dim

__all__ = [
    "sort",
    "cumsum",
    "nan_to_num",
    "isfinite",
    "isinf",
    "isnan",
    "abs",
    "add",
    "addcdiv",
    "addcmul",
    "clamp",
    "clamp_max",
    "clamp_min",
    "clip",
    "clone",
    "cos",
    "div",
    "divide",
    "eq",
    "erf",
    "exp",
    "floor",
    "ge",
    "gt",
    "le",
    "lerp",
    "log",
    "log1p",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "bitwise_and",
    "bitwise_or",
    "bitwise_xor",
    "bitwise_not",
    "bitwise_left_shift",
    "bitwise_right_shift",
    "remainder",
    "fmod",
    "floor_divide",
    "lt",
    "masked_fill",
    "maximum",
    "minimum",
    "mul",
    "ne",
    "neg",
    "pow",
    "reciprocal",
    "relu",
    "rsqrt",
    "rsub",
    "sigmoid",
    "sign",
    "sin",
    "sqrt",
    "square",
    "sub",
    "tanh",
    "true_divide",
    "trunc",
    "where",
    "all",
    "amax",
    "amin",
    "any",
    "argmax",
    "argmin",
    "log_softmax",
    "logsumexp",
    "max",
    "mean",
    "min",
    "norm",
    "softmax",
    "std",
    "sum",
    "values_indices",
    "var",
    "broadcast_to",
    "cat",
    "chunk",
    "concat",
    "concatenate",
    "expand",
    "expand_as",
    "flatten",
    "flip",
    "gather",
    "getitem",
    "index_select",
    "narrow",
    "nonzero",
    "permute",
    "repeat",
    "reshape",
    "scatter_add",
    "split",
    "squeeze",
    "stack",
    "swapaxes",
    "swapdims",
    "t",
    "transpose",
    "unbind",
    "unflatten",
    "unsqueeze",
    "view",
    "bmm",
    "dot",
    "matmul",
    "mm",
    "mv",
    "outer",
    "tril",
    "triu",
    "tril_indices",
    "triu_indices",
    "diag",
    "diagonal",
    "diag_embed",
    "diagflat",
    "roll",
    "fliplr",
    "flipud",
    "rot90",
    "tile",
    "repeat_interleave",
    "movedim",
    "moveaxis",
    "select",
    "tensor_split",
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "hstack",
    "vstack",
    "row_stack",
    "dstack",
    "column_stack",
    "meshgrid",
    "broadcast_tensors",
    "broadcast_shapes",
    "take",
    "take_along_dim",
    "index_add",
    "index_fill",
    "masked_select",
    "argwhere",
    "scatter",
    "index_copy",
    "scatter_reduce",
    "index_put",
    "masked_scatter",
    "prod",
    "nansum",
    "nanmean",
    "count_nonzero",
    "std_mean",
    "var_mean",
    "aminmax",
    "dist",
    "trace",
    "cumprod",
    "cummax",
    "cummin",
    "logcumsumexp",
    "median",
    "nanmedian",
    "kthvalue",
    "mode",
    "quantile",
    "nanquantile",
]

numpy_names.install(globals())  # axis=, keepdims=, input= on the reductions and scans
__all__ += [  # runtime/ops_math.py
    "tan",
    "atan",
    "atan2",
    "arctan",
    "arctan2",
    "asin",
    "arcsin",
    "acos",
    "arccos",
    "sinh",
    "cosh",
    "asinh",
    "arcsinh",
    "acosh",
    "arccosh",
    "atanh",
    "arctanh",
    "expm1",
    "exp2",
    "log2",
    "log10",
    "logaddexp",
    "logaddexp2",
    "xlogy",
    "hypot",
    "ceil",
    "round",
    "frac",
    "isposinf",
    "isneginf",
    "sgn",
    "float_power",
    "copysign",
    "signbit",
]
from .ops_contract import (  # noqa: E402
    addbmm,
    addmm,
    addmv,
    addr,
    baddbmm,
    cdist,
    cross,
    ger,
    kron,
    matrix_power,
    vdot,
)
from .ops_einsum import einsum, tensordot  # noqa: E402
from .ops_special import digamma, erfc, erfinv, lgamma, logit, mvlgamma, polygamma, sinc  # noqa: E402

__all__ += [  # runtime/ops_contract.py, ops_einsum.py
    "addbmm",
    "addmm",
    "addmv",
    "addr",
    "baddbmm",
    "cdist",
    "cross",
    "einsum",
    "ger",
    "kron",
    "matrix_power",
    "tensordot",
    "vdot",
]
from .ops_sort import argsort, bucketize, msort, searchsorted, sort, topk  # noqa: E402
from .ops_unique import unique, unique_consecutive  # noqa: E402

# axis= and input= as PyTorch's parser takes them (numpy_names.NAMED is installed above)
sort, argsort, msort, topk = map(numpy_names.numpy_names, (sort, argsort, msort, topk))

# runtime/ops_sort.py (and "sort", above), ops_unique.py
__all__ += ["argsort", "msort", "topk", "searchsorted", "bucketize", "unique", "unique_consecutive"]
__all__ += ["lgamma", "digamma", "polygamma", "mvlgamma", "erfc", "erfinv"]  # ops_special.py
__all__ += ["sinc", "logit"]  # ops_special_misc.py
from .ops_bessel import i0  # noqa: E402

__all__ += ["i0"]  # ops_bessel.py (i0e, i1, i1e: adjit.special)
from .ops_special_more import igamma, igammac  # noqa: E402

__all__ += ["igamma", "igammac"]  # ops_special_more.py (the rest: adjit.special)
from .ops_decomp_linalg import cholesky_legacy as cholesky  # noqa: E402
from .ops_decomp_linalg import det, inverse, logdet, matrix_exp  # noqa: E402
from .ops_decomp_linalg import qr_legacy as qr  # noqa: E402
from .ops_decomp_linalg import slogdet_legacy as slogdet  # noqa: E402
from .ops_decomp_linalg import svd_legacy as svd  # noqa: E402
from .ops_geqrf import geqrf, ormqr  # noqa: E402
from .ops_householder import orgqr  # noqa: E402
from .ops_lu import lu_legacy as lu  # noqa: E402
from .ops_lu import lu_solve_legacy as lu_solve  # noqa: E402
from .ops_lu import lu_unpack  # noqa: E402
from .ops_pinv import pinverse  # noqa: E402
from .ops_triangular import cholesky_inverse, cholesky_solve, triangular_solve  # noqa: E402

# runtime/ops_decomp_linalg.py, ops_pinv.py (torch.linalg's are in adjit/linalg.py)
__all__ += ["det", "logdet", "slogdet", "inverse", "cholesky", "pinverse", "svd", "qr"]
__all__ += ["cholesky_solve", "cholesky_inverse", "matrix_exp"]  # ops_triangular, matrix_exp
__all__ += ["lu", "lu_solve", "lu_unpack", "triangular_solve"]  # runtime/ops_lu.py, ops_triangular
__all__ += ["orgqr", "geqrf", "ormqr"]  # runtime/ops_householder.py, ops_geqrf.py
from .ops_random import (  # noqa: E402
    bernoulli,
    multinomial,
    normal,
    poisson,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
)

# runtime/ops_random.py (the generator itself: runtime/generator.py)
__all__ += ["rand", "randn", "randint", "randperm", "normal", "bernoulli", "multinomial"]
__all__ += ["poisson", "rand_like", "randn_like", "randint_like"]
from .ops_aliases import (  # noqa: E402
    absolute,
    adjoint,
    asarray,
    fix,
    greater,
    greater_equal,
    is_conj,
    isreal,
    less,
    less_equal,
    multiply,
    negative,
    not_equal,
    positive,
    range,
    ravel,
    resolve_neg,
    subtract,
    unsafe_chunk,
    unsafe_split,
)
from .ops_misc_math import (  # noqa: E402
    deg2rad,
    fmax,
    fmin,
    frexp,
    gcd,
    hardshrink,
    heaviside,
    lcm,
    ldexp,
    nextafter,
    rad2deg,
)

# runtime/ops_aliases.py, ops_misc_math.py
__all__ += ["absolute", "negative", "positive", "multiply", "subtract", "greater", "less"]
__all__ += ["greater_equal", "less_equal", "not_equal", "fix", "ravel", "range", "asarray"]
__all__ += ["deg2rad", "rad2deg", "fmax", "fmin", "gcd", "lcm", "heaviside", "ldexp", "frexp"]
__all__ += ["nextafter", "adjoint", "is_conj", "isreal", "resolve_neg", "unsafe_chunk"]
__all__ += ["hardshrink"]
__all__ += ["unsafe_split"]
from .ops_misc import (  # noqa: E402
    block_diag,
    cartesian_prod,
    chain_matmul,
    combinations,
    corrcoef,
    cov,
    cumulative_trapezoid,
    diff,
    gradient,
    index_reduce,
    inner,
    isin,
    renorm,
    trapezoid,
    trapz,
    unravel_index,
    vander,
)

# runtime/ops_misc.py
__all__ += ["diff", "cov", "corrcoef", "trapezoid", "trapz", "cumulative_trapezoid", "inner"]
__all__ += ["chain_matmul", "block_diag", "cartesian_prod", "combinations", "vander", "renorm"]
__all__ += ["unravel_index", "isin", "index_reduce", "gradient"]
from .ops_windows import (  # noqa: E402
    bartlett_window,
    blackman_window,
    hamming_window,
    hann_window,
    kaiser_window,
)

# runtime/ops_windows.py
__all__ += ["hann_window", "hamming_window", "bartlett_window", "blackman_window"]
__all__ += ["kaiser_window"]
from .ops_view_scatter import (  # noqa: E402
    as_strided,
    as_strided_scatter,
    diagonal_scatter,
    dsplit,
    empty_strided,
    hsplit,
    select_scatter,
    slice_scatter,
    vsplit,
)

# runtime/ops_view_scatter.py
__all__ += ["hsplit", "vsplit", "dsplit", "diagonal_scatter", "select_scatter", "slice_scatter"]
__all__ += ["as_strided_scatter"]
__all__ += ["as_strided", "empty_strided"]
from .grad_mode import is_inference, is_inference_mode_enabled  # noqa: E402
from .ops_histogram import bincount, histc, histogram, histogramdd  # noqa: E402

__all__ += ["histc", "histogram", "histogramdd", "bincount"]  # runtime/ops_histogram.py
__all__ += ["is_inference", "is_inference_mode_enabled"]
from .fft_stft import istft, stft  # noqa: E402

__all__ += ["stft", "istft"]  # runtime/fft_stft.py


__all__ += ["angle", "complex", "conj", "conj_physical", "imag", "is_complex", "polar", "real"]
__all__ += ["resolve_conj", "view_as_complex", "view_as_real"]  # runtime/ops_complex.py

from .ops_complex import guard_functions  # noqa: E402
from .ops_nonzero_static import nonzero_static  # noqa: E402
from .ops_view_copy import COPY_OPS, split_with_sizes  # noqa: E402

globals().update(COPY_OPS)  # permute_copy, split_copy, ... (runtime/ops_view_copy.py)
__all__ += [*COPY_OPS, "split_with_sizes", "nonzero_static"]

guard_functions(globals())  # complex refusals for functions that read data themselves
