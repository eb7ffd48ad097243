"""Writes docs/api.md: every public adjit name, whether a sample call matches PyTorch eagerly
and compiled, and PyTorch's documented names adjit lacks (``python docs/gen_api.py``)."""

# Note [the API page]
# Each public name gets a *sample*: the first of a few generic argument patterns (one float
# tensor, two, a tensor and an int, a square matrix, integer tensors, ...) that PyTorch itself
# accepts, or an entry of SAMPLES where no generic pattern fits. "eager" is ✓ when adjit's
# result equals PyTorch's on that sample (same dtype, shape and values within float32
# rounding; random functions after the same manual_seed), ✗ with the error otherwise.
# "compiled" is ✓ when ``adjit.compile`` (interpreter backend: trace, adjoint and passes, no
# LLVM, which the test suite covers op by op) gives the eager result, "—" when the result is
# not a tensor (nothing to compile), ✗ with the reason otherwise. The page names the sample
# it ran, so every mark can be reproduced. tests/test_api_page.py regenerates the page and
# fails when the checked-in copy is stale.

from __future__ import annotations

import contextlib
import io
import pathlib
import re
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

import adjit

PAGE = pathlib.Path(__file__).with_name("api.md")
ROWS, COLS = 3, 4

VALUE_SHAPE = "data-dependent shape: a graph break when compiled (fullgraph=True: a clear error)"

# differences from PyTorch users should know about, by qualified name
KNOWN_DIFFERENCES: dict[str, str] = {
    "nonzero": VALUE_SHAPE,
    "argwhere": VALUE_SHAPE,
    "masked_select": VALUE_SHAPE,
    "unique": VALUE_SHAPE,
    "unique_consecutive": VALUE_SHAPE,
    "Tensor.nonzero": VALUE_SHAPE,
    "Tensor.masked_select": VALUE_SHAPE,
    "Tensor.unique": VALUE_SHAPE,
    "Tensor.item": "a graph break point: refused inside adjit.compile (issue 15)",
    "Tensor.tolist": "reads data: refused inside adjit.compile (issue 15)",
    "ldexp": "gradient 2**e also for e < 0 (PyTorch's is 0 there: an integer pow(2, e))",
    "linalg.eigh": "eigenvectors up to sign (NumPy LAPACK vs MKL): compared in absolute value",
    "linalg.svd": "singular vectors up to sign (NumPy LAPACK vs MKL): compared in absolute value",
    "linalg.qr": "Q and R up to sign (NumPy LAPACK vs MKL): compared in absolute value",
    "svd": "singular vectors up to sign (NumPy LAPACK vs MKL): compared in absolute value",
    "qr": "Q and R up to sign (NumPy LAPACK vs MKL): compared in absolute value",
}


def _data() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(13)
    a = rng.uniform(0.1, 0.9, (ROWS, COLS)).astype(np.float32)
    s = rng.uniform(-1, 1, (COLS, COLS))
    return {
        "x": a,
        "y": rng.uniform(0.1, 0.9, (ROWS, COLS)).astype(np.float32),
        "m": (s @ s.T + COLS * np.eye(COLS)).astype(np.float32),  # square, positive definite
        "v": rng.uniform(0.1, 0.9, COLS).astype(np.float32),
        "i": rng.integers(0, 5, (ROWS, COLS)).astype(np.int64),
        "j": rng.integers(1, 4, (ROWS, COLS)).astype(np.int64),
        "b": rng.integers(0, 2, (ROWS, COLS)).astype(np.bool_),
        "p": np.argsort(rng.uniform(size=(ROWS, COLS)), axis=1).astype(np.int64),  # no repeats
    }


DATA = _data()
# generic argument patterns, tried in order; letters name DATA entries, others are literals
PATTERNS: list[str] = [
    "x",
    "x, y",
    "x, 1",
    "x, 0",
    "x, y, y",
    "m",
    "v",
    "v, v",
    "i",
    "i, j",
    "b",
    "b, b",
    "x, 2, 1",
    "3",
    "3, 4",
    "",
    "[1.0, 2.0]",
]
# the same for Tensor methods (self is x)
METHOD_PATTERNS: list[str] = ["", "y", "1", "0", "y, y", "2, 1", "(1, 0)", "b", "p", "m", "v"]
# names whose generic patterns do not fit or mislead (the call is written out)
SAMPLES: dict[str, str] = {
    "sparse_coo_tensor": "[[0, 1], [1, 0]], [1.0, 2.0], (2, 2)",
    "sparse_csr_tensor": "[0, 1, 2], [1, 0], [1.0, 2.0], (2, 2)",
    # issue 14's nn.functional (and their torch.* forms); a qualified key is one surface's
    "nn.functional.channel_shuffle": "x.reshape(1, 4, 3), 2",
    "nn.functional.cosine_embedding_loss": "x, y, torch.tensor([1.0, -1.0, 1.0])",
    "nn.functional.instance_norm": "x[None]",
    "nn.functional.local_response_norm": "x[None], 2",
    "nn.functional.multi_margin_loss": "x, torch.tensor([0, 3, 1])",
    "nn.functional.multilabel_margin_loss": (
        "x, torch.tensor([[3, 0, -1, 1], [1, 2, -1, 0], [0, -1, 2, 2]])"
    ),
    "nn.functional.pixel_shuffle": "x.reshape(1, 4, 3, 1), 2",
    "nn.functional.pixel_unshuffle": "x.reshape(1, 1, 2, 6), 2",
    "nn.functional.prelu": "x, v[:1]",
    "nn.functional.multi_head_attention_forward": (
        "x, x, x, 4, 2, torch.randn(12, 4), torch.zeros(12), None, None, False, 0.0, "
        "torch.randn(4, 4), torch.zeros(4)"
    ),
    "nn.functional.rms_norm": "x, (4,)",
    "linalg.lu_solve": "*torch.linalg.lu_factor(m), x.mT",
    "linalg.solve": "m, x.mT",
    "linalg.solve_ex": "m, x.mT",
    "linalg.solve_triangular": "m.triu(), x.mT, upper=True",
    "linalg.tensorinv": "m, ind=1",
    "linalg.tensorsolve": "m, v",
    "as_strided_scatter": "x, v[:3], (3,), (2,)",
    "orgqr": "x.mT, v[:3]",
    "householder_product": "x.mT, v[:3]",
    "ldl_solve": "*torch.linalg.ldl_factor(m), x.mT",
    "conv1d": "x[None], x[:, :3, None], padding=1",
    "conv3d": "x[None, None, None], x[None, None, None, :2, :2], padding=1",
    "conv_tbc": "x[:, None], y[:2, :, None], v[:1], 1",
    "conv_transpose1d": "x[None], x[:, :3, None], stride=2",
    "conv_transpose2d": "x[None, None], x[None, None, :2, :2], stride=2, output_padding=1",
    "conv_transpose3d": "x[None, None, None], x[None, None, None, :2, :2], stride=2",
    "convolution": "x[None], x[:, :3, None], None, [1], [0], [1], False, [0], 1",
    "max_pool3d": "x[None, None], (1, 2, 2)",
    "max_pool3d_with_indices": "x[None, None], (1, 2, 2)",
    "max_pool2d_with_indices": "x[None], 2",
    "avg_pool3d": "x[None, None], (1, 2, 2)",
    "adaptive_avg_pool3d": "x[None, None], (1, 2, 2)",
    "adaptive_max_pool2d": "x[None], (2, 3), True",
    "adaptive_max_pool2d_with_indices": "x[None], (2, 3)",
    "adaptive_max_pool3d": "x[None, None], (1, 2, 2), True",
    "adaptive_max_pool3d_with_indices": "x[None, None], (1, 2, 2)",
    "lp_pool2d": "x[None], 2, 2",
    "lp_pool3d": "x[None, None], 2, (1, 2, 2)",
    "max_unpool1d": "*torch.nn.functional.max_pool1d(x[None], 2, return_indices=True), 2",
    "max_unpool2d": "*torch.nn.functional.max_pool2d(x[None], 2, return_indices=True), 2",
    "max_unpool3d": (
        "*torch.nn.functional.max_pool3d(x[None, None], (1, 2, 2), return_indices=True), (1, 2, 2)"
    ),
    "fractional_max_pool2d": (
        "x[None], 2, output_size=2, _random_samples=v[None, :1, None].expand(1, 1, 2) / 10"
    ),
    "fractional_max_pool2d_with_indices": (
        "x[None], 2, output_size=2, _random_samples=v[None, :1, None].expand(1, 1, 2) / 10"
    ),
    "fractional_max_pool3d": (
        "x[None, None].expand(1, 3, 3, 4), (1, 1, 2), output_size=(1, 2, 2), "
        "_random_samples=v[None, :1, None].expand(1, 1, 3) / 10"
    ),
    "fractional_max_pool3d_with_indices": (
        "x[None, None].expand(1, 3, 3, 4), (1, 1, 2), output_size=(1, 2, 2), "
        "_random_samples=v[None, :1, None].expand(1, 1, 3) / 10"
    ),
    "affine_grid": "x[:2, :3].reshape(1, 2, 3), (1, 1, 3, 4), align_corners=False",
    "grid_sample": "x.reshape(1, 1, 3, 4), y.reshape(1, 3, 2, 2) * 0.5, align_corners=False",
    "interpolate": "x.reshape(1, 1, 3, 4), size=(5, 7), mode='bicubic', align_corners=False",
    "upsample": "x.reshape(1, 1, 3, 4), scale_factor=2",
    "upsample_nearest": "x.reshape(1, 1, 3, 4), scale_factor=2",
    "upsample_bilinear": "x.reshape(1, 1, 3, 4), size=(5, 7)",
    "ctc_loss": "x.T[:, None].log_softmax(-1), torch.tensor([[1, 2]]), [4], [2]",
    "embedding_bag": "i % 3, x, mode='max'",
    "einsum": '"ij,kj->ik", x, y',
    "where": "b, x, y",
    "cat": "[x, y]",
    "concat": "[x, y]",
    "cond": "x.sum() > 0, lambda a: a.sin(), lambda a: a.cos(), (x,)",
    "linalg.cond": "x",
    "while_loop": "lambda n, c: n < 4, lambda n, c: (n + 2, c * 2), (i[0, 0] * 0, v)",  # (no 1: the
    # error sweep mutates a 1 into -7, and a loop that never ends hangs PyTorch too)
    "concatenate": "[x, y]",
    "stack": "[x, y]",
    "hstack": "[x, y]",
    "vstack": "[x, y]",
    "dstack": "[x, y]",
    "column_stack": "[x, y]",
    "row_stack": "[x, y]",
    "meshgrid": "v, v, indexing='ij'",
    "reshape": "x, (COLS, ROWS)",
    "view": "(COLS, ROWS)",
    "permute": "x, (1, 0)",
    "gather": "x, 1, p",
    "take_along_dim": "x, p, 1",
    "index_select": "x, 1, p[0]",
    "matmul": "x, m",
    "mm": "x, m",
    "mv": "m, v",
    "bmm": "x[None], m[None]",
    "baddbmm": "x[None], x[None], m[None]",
    "addmm": "x, x, m",
    "addmv": "v, m, v",
    "chain_matmul": "m, m",
    "tensordot": "x, m, dims=1",
    "full": "(ROWS, COLS), 2.5",
    "full_like": "x, 2.5",
    "linspace": "0, 1, 5",
    "logspace": "0, 1, 5",
    "arange": "5",
    "clamp": "x, 0.2, 0.6",
    "clip": "x, 0.2, 0.6",
    "lerp": "x, y, 0.3",
    "masked_fill": "x, b, 0.5",
    "repeat_interleave": "x, 2, 1",
    "narrow": "x, 1, 1, 2",
    "select": "x, 1, 2",
    "roll": "x, 1, 1",
    "tile": "x, (2, 1)",
    "split": "x, 2, 1",
    "chunk": "x, 2, 1",
    "unflatten": "x, 1, (2, 2)",
    "movedim": "x, 0, 1",
    "moveaxis": "x, 0, 1",
    "swapaxes": "x, 0, 1",
    "swapdims": "x, 0, 1",
    "transpose": "x, 0, 1",
    "scatter": "x, 1, p, y",
    "scatter_add": "x, 1, p, y",
    "index_add": "x, 1, p[0], y[:, :4]",
    "kthvalue": "x, 2, 1",
    "topk": "x, 2",
    "quantile": "x, 0.3",
    "nanquantile": "x, 0.3",
    "normal": "x, y",
    "multinomial": "x, 2",
    "searchsorted": "v.sort().values, x",
    "bucketize": "x, v.sort().values",
    "histc": "x, 4",
    "tril_indices": "3, 3",
    "triu_indices": "3, 3",
    "randint": "0, 5, (ROWS, COLS)",
    "randperm": "6",
    "manual_seed": "0",
    "cdist": "x, y",
    "dist": "x, y",
    "cross": "x[:, :3], y[:, :3], dim=1",
    "diagonal_scatter": "m, v",
    "select_scatter": "x, v[:ROWS] * 0 + 1, 1, 0",
    "slice_scatter": "x, y[:, :2], 1, 0, 2",
    "index_fill": "x, 1, p[0], 0.5",
    "index_copy": "x, 1, p[0, :1], y[:, :1]",
    "masked_scatter": "x, b, y",
    "as_strided": "x, (2, 2), (1, 2)",
    "expand": "x[:1], (ROWS, COLS)",
    "broadcast_to": "x[:1], (ROWS, COLS)",
    "pow": "x, 2.5",
    "float_power": "x, 2",
    "polygamma": "1, x",
    "mvlgamma": "x + 1, 2",
    "addcmul": "x, x, y, value=0.5",
    "addcdiv": "x, x, y, value=0.5",
    "addr": "x, x[:, 0], v",
    "addbmm": "m, x[None].transpose(1, 2), x[None]",
    "ger": "v, v",
    "outer": "v, v",
    "kron": "x, m",
    "block_diag": "x, m",
    "cartesian_prod": "v, v",
    "combinations": "v",
    "trapezoid": "x",
    "diff": "x",
    "histogram": "x, 4",
    "flip": "x, (1,)",
    "index_put": "x, (torch.tensor([2, 0]),), y[:2]",
    "matrix_power": "m, 3",
    "scatter_reduce": "x, 1, p, y, 'amax'",
    "bitwise_and": "i, j",
    "bitwise_or": "i, j",
    "bitwise_xor": "i, j",
    "bitwise_not": "i",
    "bitwise_left_shift": "i, j",
    "bitwise_right_shift": "i, j",
    "cummax": "x, 1",
    "cummin": "x, 1",
    "cumprod": "x, 1",
    "cumsum": "x, 1",
    "logcumsumexp": "x, 1",
    "logsumexp": "x, 1",
    "softmax": "x, 1",
    "log_softmax": "x, 1",
    "dot": "v, v",
    "vdot": "v, v",
    "unsqueeze": "x, 1",
    "multi_dot": "[x, m, m]",
    "avg_pool2d": "x[None, None], 2",
    "max_pool2d": "x[None, None], 2",
    "adaptive_avg_pool2d": "x[None, None], 1",
    "conv2d": "x[None, None], m[None, None, :2, :2]",
    "nn.functional.batch_norm": "x, v[:4] * 0, v[:4] * 0 + 1",
    "layer_norm": "x, (COLS,)",
    "nn.functional.embedding": "p, m",
    # ATen's spellings in torch (adjit/nn/aten_aliases.py): the schema's positional flags
    "batch_norm": "x, None, None, v * 0, v * 0 + 1, False, 0.1, 1e-5, False",
    "instance_norm": "x[None], None, None, None, None, True, 0.1, 1e-5, False",
    "embedding": "m, p",
    "dropout": "x, 0.5, True",
    "dropout_": "x, 0.5, True",
    "alpha_dropout": "x, 0.5, True",
    "alpha_dropout_": "x, 0.5, True",
    "feature_dropout": "x, 0.5, True",
    "feature_dropout_": "x, 0.5, True",
    "feature_alpha_dropout": "x, 0.5, True",
    "feature_alpha_dropout_": "x, 0.5, True",
    "channel_shuffle": "x.reshape(1, 4, 3), 2",
    "constant_pad_nd": "x, [1, 2], 0.5",
    "cosine_embedding_loss": "x, y, torch.tensor([1.0, -1.0, 1.0]), 0.1, 1",
    "pixel_shuffle": "x.reshape(1, 4, 3, 1), 2",
    "pixel_unshuffle": "x.reshape(1, 1, 2, 6), 2",
    "poisson_nll_loss": "x, y.abs(), True, False, 1e-8, 1",
    "prelu": "x, v",
    "rms_norm": "x, [4], v",
    "addmv_": "v, m, v",
    "index_put_": "x, (torch.tensor([2, 0]),), y[:2]",
    "put": "x, p[0], y[0]",
    "nll_loss": "x.log_softmax(1), p[:, 0]",
    "pad": "x, (1, 1)",
    "unfold": "x[None, None], 2",
    "bilinear": "x, y, m[None]",
    "one_hot": "p, 4",
    # view copies, layouts (tests/test_breadth_toplevel.py)
    "as_strided_copy": "x, (3,), (2,)",
    "expand_copy": "x[:1], (3, 4)",
    "narrow_copy": "x, 1, 1, 2",
    "permute_copy": "x, (1, 0)",
    "select_copy": "x, 1, 2",
    "split_with_sizes": "x, [1, 3], 1",
    "split_with_sizes_copy": "x, [1, 3], 1",
    "transpose_copy": "x, 0, 1",
    "unfold_copy": "x, 1, 2, 1",
    "view_copy": "x, (12,)",
    "nonzero_static": "x, size=5",
    "empty_permuted": "(3, 4), (1, 0)",
}
TENSOR_SAMPLES: dict[str, str] = {
    "module_load": "y, assign=True",  # (without assign it copies into self: an argument here)
    "narrow_copy": "1, 1, 2",
    "nonzero_static": "size=5",
    "resize": "12",
    "split_with_sizes": "[1, 3], 1",
    "as_strided_scatter": "v[:3], (3,), (2,)",
    "orgqr": "x.mT | v[:3]",
    "view": "(COLS, ROWS)",
    "reshape": "(COLS, ROWS)",
    "permute": "(1, 0)",
    "expand": "(2, ROWS, COLS)",
    "repeat": "(2, 1)",
    "to": "adjit.float64",
    "type": "adjit.float64",
    "masked_fill": "b, 0.5",
    "masked_fill_": "b, 0.5",
    "gather": "1, p",
    "scatter": "1, p, y",
    "scatter_": "1, p, y",
    "scatter_add": "1, p, y",
    "scatter_add_": "1, p, y",
    "index_select": "1, p[0]",
    "clamp": "0.2, 0.6",
    "clamp_": "0.2, 0.6",
    "clip": "0.2, 0.6",
    "lerp": "y, 0.3",
    "narrow": "1, 1, 2",
    "select": "1, 2",
    "split": "2, 1",
    "chunk": "2, 1",
    "unfold": "1, 2, 1",
    "new_full": "(2, 2), 1.5",
    "new_zeros": "(2, 2)",
    "new_ones": "(2, 2)",
    "new_empty": "(0,)",
    "new_tensor": "[1.0, 2.0]",
    "fill_": "1.5",
    "index_fill": "1, p[0], 0.5",
    "index_fill_": "1, p[0], 0.5",
    "index_add": "1, p[0], y[:, :4]",
    "index_add_": "1, p[0], y[:, :4]",
    "topk": "2",
    "kthvalue": "2, 1",
    "quantile": "0.3",
    "transpose": "0, 1",
    "swapaxes": "0, 1",
    "movedim": "0, 1",
    "matmul": "m",
    "mm": "m",
    "unflatten": "1, (2, 2)",
    "sum_to_size": "(1, COLS)",
    "expand_as": "x[None].expand(2, ROWS, COLS)",
    "view_as": "y",
    "reshape_as": "y",
    "type_as": "i",
    "pow": "2.5",
    "where": "b, y",
    "addcmul": "x, y",
    "addcdiv": "x, y",
    "random_": "0, 5",
    "uniform_": "",
    "normal_": "",
    "bernoulli_": "0.5",
    "exponential_": "",
    "geometric_": "0.5",
    "cauchy_": "",
    "log_normal_": "",
    "addmm": "x, m",
    "addmm_": "x, m",
    "addmv": "v | m, v",
    "addmv_": "v | m, v",
    "baddbmm": "x[None], m[None]",
    "addr": "x[:, 0], v",
    "bitwise_not": "i | ",
    "dot": "v | v",
    "flip": "(1,)",
    "index_copy": "1, p[0, :1], y[:, :1]",
    "index_copy_": "1, p[0, :1], y[:, :1]",
    "index_put": "(torch.tensor([2, 0]),), y[:2]",
    "index_put_": "(torch.tensor([2, 0]),), y[:2]",
    "bitwise_and": "i | j",
    "bitwise_and_": "i | j",
    "bitwise_or": "i | j",
    "bitwise_or_": "i | j",
    "bitwise_xor": "i | j",
    "bitwise_xor_": "i | j",
    "bitwise_not_": "i | ",
    "bitwise_left_shift": "i | j",
    "bitwise_left_shift_": "i | j",
    "bitwise_right_shift": "i | j",
    "bitwise_right_shift_": "i | j",
    "vdot": "v | v",
    "bmm": "x[None] | m[None]",
    "baddbmm_": "x[None] | x[None], m[None]",
    "addbmm": "m | x[None].transpose(1, 2), x[None]",
    "addbmm_": "m | x[None].transpose(1, 2), x[None]",
    "item": "v[:1] | ",
    "matrix_power": "m | 3",
    "broadcast_to": "x[:1] | (ROWS, COLS)",
    "moveaxis": "0, 1",
    "swapdims": "0, 1",
    "float_power_": "x.double() | 2",
    "addr_": "x[:, 0], v",
    "masked_scatter": "b, y",
    "masked_scatter_": "b, y",
    "scatter_reduce": "1, p, y, 'amax'",
    "scatter_reduce_": "1, p, y, 'amax'",
    "outer": "v | v",
    "ger": "v | v",
}
# names that are not callables to sample (modules, types, constants) or cannot run generically
NOT_SAMPLED = {"Tensor", "Size", "dtype", "device", "Generator", "autograd", "nn", "optim"}
# functions that change process-wide state (threads, default dtype, seeds, printing) or touch
# files: a sample would change every later row, so they are listed, not run
STATEFUL = re.compile(r"^set_|^use_|manual_seed|^seed$|^save$|^load$|^compile$|_enabled$")
# process-wide settings: a sample would change them for the rest of the process (PyTorch's
# set_num_interop_threads even refuses a second call)
NOT_SAMPLED |= {"set_num_threads", "set_num_interop_threads", "use_deterministic_algorithms",
                "set_deterministic_debug_mode", "set_float32_matmul_precision"}  # fmt: skip
# results that are not reproducible (addresses, fresh seeds) or unspecified (empty's values)
NOT_COMPARED = {"seed", "initial_seed", "data_ptr", "const_data_ptr", "untyped_storage"}
SHAPE_ONLY = {"empty", "empty_like", "new_empty", "empty_strided", "empty_permuted"}
# factorizations whose vectors LAPACK builds may flip in sign: compared in absolute value
SIGN_FREE = {"eigh", "svd", "qr", "pca_lowrank", "svd_lowrank"}


def _args(text: str, T: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    env = {k: T.tensor(v) for k, v in DATA.items()}
    env.update(ROWS=ROWS, COLS=COLS, adjit=T, torch=T)
    args, kwargs = eval(f"(lambda *a, **k: (a, k))({text})", {}, env)  # noqa: S307
    return args, kwargs


def _flat(r: Any) -> list[Any]:
    if isinstance(r, list | tuple):
        return [y for x in r for y in _flat(x)]
    return [r]


def _numpy(t: Any) -> np.ndarray:
    t = t.detach()
    if str(t.layout) != "torch.strided":  # sparse results (compared with layout checked)
        t = t.to_dense()
    return t.numpy() if str(t.dtype) != "torch.bfloat16" else t.float().numpy()


def _same(a: Any, t: Any, values: bool = True, sign_free: bool = False) -> str | None:
    """None when adjit's result ``a`` matches PyTorch's ``t``, else why not."""
    fa, ft = _flat(a), _flat(t)
    if len(fa) != len(ft):
        return f"{len(fa)} results, PyTorch {len(ft)}"
    for x, y in zip(fa, ft, strict=True):
        if type(y).__name__ == "Tensor":
            if type(x).__name__ != "Tensor":
                return f"returns {type(x).__name__}, PyTorch a Tensor"
            if str(x.dtype) != str(y.dtype):
                return f"dtype {x.dtype}, PyTorch {y.dtype}"
            if str(x.layout) != str(y.layout):
                return f"layout {x.layout}, PyTorch {y.layout}"
            xa, ya = _numpy(x), _numpy(y)
            if xa.shape != ya.shape:
                return f"shape {xa.shape}, PyTorch {ya.shape}"
            if sign_free:
                xa, ya = np.abs(xa), np.abs(ya)
            if values and not np.allclose(xa, ya, rtol=1e-5, atol=1e-6, equal_nan=True):
                return "values differ"
        elif isinstance(y, bool | int | float) and x != y and not (y != y and x != x):
            return f"{x!r}, PyTorch {y!r}"
    return None


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def _call(fn: Callable[..., Any], text: str, T: Any) -> Any:
    T.default_generator.manual_seed(0)  # (PyTorch's manual_seed also queues seeds for CUDA,
    # XPU and MTIA, 0.15 ms a call: ~2 of the page's 22 s; the samples run on the CPU)
    args, kwargs = _args(text, T)
    with _quiet():
        return fn(*args, **kwargs)


def _short(e: BaseException) -> str:
    msg = str(e).splitlines()[0] if str(e) else ""
    msg = re.sub(r"\S*/([\w.]+\.py):\d+", r"\1", msg)  # no machine's paths on the page
    msg = re.sub(r"\s+", " ", msg)[:70].replace("|", "\\|")
    return f"{type(e).__name__}: {msg}"


def _has_tensor(r: Any) -> bool:
    return any(type(v).__name__ == "Tensor" for v in _flat(r))


def _compiled(fn: Callable[..., Any], text: str, eager: Any) -> str:
    if not _has_tensor(eager):
        return "—"
    adjit.manual_seed(0)  # the arguments as the eager call drew them (a sample may draw)
    args, kwargs = _args(text, adjit)
    tensors = [i for i, a in enumerate(args) if isinstance(a, adjit.Tensor)]

    def program(*ts: Any) -> Any:
        full = list(args)
        for i, t in zip(tensors, ts, strict=True):
            full[i] = t
        return fn(*full, **kwargs)

    try:
        adjit.manual_seed(0)
        with _quiet():
            got = adjit.compile(program, backend="interpreter")(*(args[i] for i in tensors))
    except Exception as e:  # the reason goes on the page
        return "✗ " + _short(e)
    why = _same(got, eager, values=False) or _same(got, eager)
    return "✓" if why is None else f"✗ {why}"


def _resolve(root: Any, qual: str) -> Any:
    for part in qual.split("."):
        root = getattr(root, part, None)
    return root


def sample_for(
    surface: str, name: str, torch: Any
) -> tuple[str, str, Callable[..., Any], Callable[..., Any]] | None:
    """(shown call, argument text, adjit's callable, PyTorch's) of the first pattern PyTorch
    accepts for ``name``; None for names with nothing to call (types, modules, adjit-only)."""
    qual = f"{surface}.{name}" if surface else name
    method = surface == "Tensor"
    a_obj = getattr(adjit.Tensor, name) if method else _resolve(adjit, qual)
    t_obj = getattr(torch.Tensor, name, None) if method else _resolve(torch, qual)
    if name in NOT_SAMPLED or not callable(a_obj) or isinstance(a_obj, type) or t_obj is None:
        return None
    if not method and STATEFUL.search(name):
        return None
    table = TENSOR_SAMPLES if method else SAMPLES
    generic = METHOD_PATTERNS if method else PATTERNS
    own = table.get(qual, table.get(name))  # a qualified key wins: "linalg.solve"
    for text in [own] if own is not None else generic:
        shown = f"{name}({text})"
        t_fn, a_fn = t_obj, a_obj
        if method:  # self is x (or the sample's "self | args"), a traced input when compiled
            own, _, text = text.rpartition(" | ")
            shown = f"{own or 'x'}.{name}({text})"
            text = f"{own or 'x'}, {text}" if text else own or "x"
            t_fn = a_fn = _method(name)
        elif name.endswith("_"):  # F.relu_(x) and friends: on a copy (an intermediate)
            t_fn, a_fn = _on_copy(t_obj), _on_copy(a_obj)
        try:
            _call(t_fn, text, torch)
        except Exception:  # PyTorch refuses this pattern: try the next
            continue
        return shown, text, a_fn, t_fn
    return None


def _row(surface: str, name: str, torch: Any) -> tuple[str, str, str, str]:
    """(sample, eager, compiled, note) for one public name of ``surface``."""
    qual = f"{surface}.{name}" if surface else name
    note = KNOWN_DIFFERENCES.get(qual, "")
    method = surface == "Tensor"
    a_obj = getattr(adjit.Tensor, name) if method else _resolve(adjit, qual)
    t_obj = getattr(torch.Tensor, name, None) if method else _resolve(torch, qual)
    if name in NOT_SAMPLED or not callable(a_obj) or isinstance(a_obj, type):
        return "", "", "", note
    if t_obj is None:
        return "", "adjit only", "", note
    if not method and STATEFUL.search(name):
        return "", "not sampled (global state)", "", note
    found = sample_for(surface, name, torch)
    if found is None:
        return "", "no sample", "", note
    shown, text, a_fn, t_fn = found
    want = _call(t_fn, text, torch)
    try:
        got = _call(a_fn, text, adjit)
    except Exception as e:
        return f"`{shown}`", "✗ " + _short(e), "", note
    if name in NOT_COMPARED:
        return f"`{shown}`", "runs", "", note
    why = _same(got, want, values=name not in SHAPE_ONLY, sign_free=name in SIGN_FREE)
    if why is not None:
        return f"`{shown}`", f"✗ {why}", "", note
    return f"`{shown}`", "✓", _compiled(a_fn, text, got), note


def _on_copy(fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(first: Any, *args: Any, **kwargs: Any) -> Any:
        return fn(first.clone() if hasattr(first, "clone") else first, *args, **kwargs)

    return call


def _method(name: str) -> Callable[..., Any]:
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        if name.endswith("_") and not name.startswith("requires_grad"):
            self = self.clone()  # in-place on an intermediate, as compiled code may do
        return getattr(self, name)(*args, **kwargs)

    return call


def _public(obj: Any) -> list[str]:
    return sorted(n for n in dir(obj) if not n.startswith("_"))


def _pytorch_names(torch: Any) -> dict[str, set[str]]:
    """PyTorch's documented names per surface: the survey adjit is measured against."""
    root = pathlib.Path(torch.__file__).parent
    docs = (root / "_torch_docs.py").read_text()
    tensor_docs = (root / "_tensor_docs.py").read_text()
    fns = set(re.findall(r"add_docstr\(\s*torch\.(\w+)", docs))
    fns |= set(torch.functional.__all__)
    methods = set(re.findall(r'add_docstr_all\(\s*"(\w+)"', tensor_docs))
    nnf = {n for n in _public(torch.nn.functional) if callable(getattr(torch.nn.functional, n))}
    nnf = {n for n in nnf if not isinstance(getattr(torch.nn.functional, n), type)}
    return {
        "": {n for n in fns if not n.startswith("_")},
        "Tensor": {n for n in methods if not n.startswith("_")},
        "nn.functional": {n for n in nnf if getattr(torch.nn.functional, n).__module__ != "typing"},
        "linalg": set(_public(torch.linalg)),
        "special": set(_public(torch.special)),
    }


# PyTorch names outside general tensor programming (sparse and quantized tensors, the *_copy
# variants of views, streams and accelerators, signal transforms, dispatcher internals, the
# deprecated upsample*): listed on the page, but not counted as "common"
SPECIALIZED = re.compile(
    r"sparse|quantiz|_copy$|mkldnn|^q_|qscheme|int_repr|fake_quant|stft$|^Event$|^Stream$|"
    r"hspmm|^smm$|sspaddmm|segment_reduce|from_file|frombuffer|hash_tensor|nonzero_static|"
    r"^indices$|^values$|crow_indices|col_indices|coalesce|to_padded_tensor|record_stream|"
    r"ipu|xpu|mtia|is_mps|is_meta|is_set_to|^common_|common_args|multi_dim_common|^torch$|"
    r"^Tensor$|empty_permuted|geqrf|orgqr|ormqr|lowrank|set_flush_denormal|boolean_dispatch|"
    r"torch_function|assert_int_or_pair|grouped_mm|scaled_mm|linear_cross_entropy|"
    r"native_channel_shuffle|^upsample|dequantize|dense_dim|sparse_dim|to_dense|to_mkldnn"
)

SURFACES: list[tuple[str, str]] = [
    ("", "adjit.* (torch.*)"),
    ("Tensor", "Tensor methods"),
    ("nn.functional", "adjit.nn.functional"),
    ("linalg", "adjit.linalg"),
    ("special", "adjit.special"),
]


def _adjit_names(surface: str) -> list[str]:
    obj = adjit.Tensor if surface == "Tensor" else _resolve(adjit, surface) if surface else adjit
    if obj is None:
        return []
    return _public(obj)


# Note [name surveys]: the surfaces of classes and helpers (nn modules, optimizers, schedulers,
# data loading, nn.utils, autograd extras) have no one-call sample: each is tested side by side
# in its own test file. The page lists which of PyTorch's public names adjit has.
NAME_SURVEYS: list[tuple[str, str]] = [
    ("nn", "module classes of torch.nn"),
    ("nn.init", "torch.nn.init"),
    ("nn.utils", "torch.nn.utils"),
    ("nn.utils.rnn", "torch.nn.utils.rnn"),
    ("nn.utils.parametrize", "torch.nn.utils.parametrize"),
    ("nn.utils.parametrizations", "torch.nn.utils.parametrizations"),
    ("optim", "optimizer classes of torch.optim"),
    ("optim.lr_scheduler", "scheduler classes of torch.optim.lr_scheduler"),
    ("utils.data", "torch.utils.data.__all__"),
    ("utils.checkpoint", "torch.utils.checkpoint.__all__"),
    ("autograd", "torch.autograd"),
    ("autograd.graph", "torch.autograd.graph"),
    ("autograd.forward_ad", "torch.autograd.forward_ad.__all__"),
    ("func", "torch.func.__all__"),
    ("serialization", "torch.serialization.__all__"),
    ("compiler", "torch.compiler.__all__"),
    ("distributed", "torch.distributed"),
    ("nn.parallel", "torch.nn.parallel"),
]
# names of those surfaces outside everyday training code (distributed/quantized/internal
# helpers, lazy and deprecated modules): listed, not counted as common
SURVEY_SPECIALIZED = re.compile(
    r"^Lazy|DataParallelCPU|SyncBatchNorm|^Container$|CrossMapLRN2d|NLLLoss2d|"
    r"LinearCrossEntropyLoss|memory_format|convert_conv|^stateless$|^fusion$|^init$|^rnn$|"
    r"^parametriz|^SparseAdam$|^Muon$|^DefaultDeviceType$|^SAC_|Selective|CheckpointPolicy|"
    r"GraphExecGroup|device_states|early_stop|debug_enabled|^detach_variable$|"
    r"check_backward_validity|^DataChunk$|^DFIterDataPipe$|^IterDataPipe$|^MapDataPipe$|"
    r"^functional_datapipe$|^Sampler$|^argument_validation$|"
    r"^runtime_validation|^guaranteed_datapipes_determinism$|^non_deterministic$|"
    r"^forward_ad$|^profiler|^graph$|^function$|^functional$|^anomaly_mode$|^grad_mode$|"
    r"^variable$|^Variable$|^gradcheck$|^gradgradcheck$|^kineto|^emit_|^record_function$|"
    r"^enable_grad$|^no_grad$|^set_grad_enabled$|^inference_mode$|^is_|^set_multithreading|"
    r"^Node$|^increment_version$|^GradientEdge$|^get_gradient_edge$|^allow_mutation_on|"
    r"^register_multi_grad_hook$|^disable_saved_tensors_hooks$|^set_warn_on_accumulate|"
    r"^register_package$|^location_tag$|^normalize_storage_type$|^storage_to_tensor_type$|"
    r"^default_restore_location$|^mkdtemp$|^SourceChangeWarning$|^LoadEndianness$|"
    r"endianness|^get_crc32|^set_crc32|^get_default_load|^set_default_load|^skip_data$|"
    r"^StorageType$|^check_module_version|^validate_|^create_selective|^NestedIOFunction$|"
    r"enforce_grad_layout|region_activation|override_stale|mmap_options|"
    # torch.distributed's stores, option structs, device meshes, RPC, comm hooks and logging
    r"Options$|Store$|^DeviceMesh$|device_mesh$|^rpc$|^rendezvous$|^register_rendezvous|"
    r"CommHook|^GradBucket$|^Reducer$|^Logger$|^log$|logging|c10d_logger|debug_level|"
    r"^DebugLevel$|^ProcessGroupGloo$|^QueueEmptyError$|^RankType$|^GroupName$|"
    r"[Bb]ackend_?[Cc]onfig|^algorithms$|^breakpoint$|^config$|^constants$|_c10d$|"
    r"_coalesced$|^all_gather_single$|^reduce_scatter_single$|^reduce_op$|^remote_device$|"
    r"^record_comm$|^shrink_group$|^split_group$|^supports_complex$|^is_ucc_available$|"
    r"^is_xccl_available$|^get_default_backend_for_device$|^get_pg_count$|"
    r"^is_torchelastic_launched$|^get_node_local_rank$|^new_subgroups|^is_nccl_available$"
)


def _survey_names(torch: Any, path: str) -> set[str]:
    """PyTorch's public names of one name-survey surface."""
    import importlib

    module = importlib.import_module(f"torch.{path}")
    names = {n for n in getattr(module, "__all__", None) or _public(module) if n[0] != "_"}
    if path == "nn":
        return {
            n
            for n in _public(module)
            if isinstance(getattr(module, n), type)
            and issubclass(getattr(module, n), module.Module)
        }
    if path == "optim":
        return {n for n in _public(module) if isinstance(getattr(module, n), type)}
    if path == "nn.parallel":  # classes of torch's own (its functions are multi-GPU helpers)
        return {
            n
            for n in _public(module)
            if isinstance(getattr(module, n), type)
            and getattr(module, n).__module__.startswith("torch")
        }
    if path == "optim.lr_scheduler":
        base = (module.LRScheduler, module.ReduceLROnPlateau)
        return {
            n
            for n in _public(module)
            if isinstance(getattr(module, n), type) and issubclass(getattr(module, n), base)
        }
    submodule = type(sys)  # rnn, parametrize, ...: surveyed on their own
    with warnings.catch_warnings():  # (torch.distributed.reduce_op warns it is deprecated)
        warnings.simplefilter("ignore", FutureWarning)
        objs = {n: getattr(module, n, None) for n in names}
    return {n for n, obj in objs.items() if not isinstance(obj, submodule)}


def _survey_section(torch: Any, path: str, title: str) -> tuple[str, list[str]]:
    import importlib

    try:
        ours = importlib.import_module(f"adjit.{path}")
    except ImportError:
        ours = None
    want = _survey_names(torch, path)
    have = {n for n in want if ours is not None and hasattr(ours, n)}
    common = {n for n in want if not SURVEY_SPECIALIZED.search(n)}
    row = f"| adjit.{path} | {len(want)} | {len(have)} | {len(common)} | {len(common & have)} |"
    lines = [f"### adjit.{path} ({title})", ""]
    lines += ["In adjit: " + (", ".join(f"`{n}`" for n in sorted(have)) or "none"), ""]
    missing, rare = sorted(common - have), sorted(want - common - have)
    lines += [f"Common PyTorch names not in adjit ({len(missing)}): "]
    lines += [", ".join(f"`{n}`" for n in missing) or "none", ""]
    lines += [f"Specialized PyTorch names not in adjit ({len(rare)}): "]
    lines += [", ".join(f"`{n}`" for n in rare) or "none", ""]
    return row, lines


def render(torch: Any) -> str:
    survey = _pytorch_names(torch)
    out = [
        "# adjit's public API",
        "",
        "Generated by `python docs/gen_api.py` (Note [the API page]); "
        "`tests/test_api_page.py` fails when this page is stale. Every row ran its sample "
        "on adjit and on PyTorch "
        f"{torch.__version__.split('+')[0]}: **eager** ✓ means the same dtype, shape and values; "
        "**compiled** ✓ means `adjit.compile` (interpreter backend) gives the eager result; "
        "— means the result is not a tensor. The sample's letters: `x`, `y` float32 "
        f"[{ROWS}, {COLS}] in (0.1, 0.9), `m` a float32 [{COLS}, {COLS}] positive definite "
        f"matrix, `v` float32 [{COLS}], `i`, `j` int64 [{ROWS}, {COLS}], `b` bool.",
        "",
        "## Counts",
        "",
        "PyTorch's documented names are those with a docstring in `torch/_torch_docs.py` and "
        "`torch/_tensor_docs.py`, `torch.functional.__all__` and the public callables of "
        "`torch.nn.functional`, `torch.linalg` and `torch.special`; *common* leaves out the "
        "specialized ones (sparse and quantized tensors, `*_copy` view variants, accelerators "
        "and streams, STFT, dispatcher internals, deprecated `upsample*`: `SPECIALIZED` in the "
        "generator).",
        "",
        "| surface | adjit public names | PyTorch documented | in adjit | PyTorch common "
        "| in adjit |",
        "|---|---|---|---|---|---|",
    ]
    sections: list[str] = []
    for surface, title in SURFACES:
        names = _adjit_names(surface)
        want = survey[surface]
        have = want & set(names)
        common = {n for n in want if not SPECIALIZED.search(n)}
        row = f"| {title} | {len(names)} | {len(want)} | {len(have)} | {len(common)} "
        out.append(row + f"| {len(common & set(names))} |")
        sections += [f"## {title}", "", "| name | sample | eager | compiled | note |"]
        sections.append("|---|---|---|---|---|")
        for name in names:
            sample, eager, compiled, note = _row(surface, name, torch)
            sections.append(f"| `{name}` | {sample} | {eager} | {compiled} | {note} |")
        missing = sorted(common - set(names))
        rare = sorted((want - common) - set(names))
        sections += ["", f"Common PyTorch names not in adjit ({len(missing)}): "]
        sections += [", ".join(f"`{n}`" for n in missing) or "none", ""]
        sections += [f"Specialized PyTorch names not in adjit ({len(rare)}): "]
        sections += [", ".join(f"`{n}`" for n in rare) or "none", ""]
    out += ["", "### Modules, optimizers, data loading (Note [name surveys])", ""]
    out += ["Each name here is tested side by side with PyTorch in its own test file; "]
    out[-1] += "*common* leaves out `SURVEY_SPECIALIZED` (lazy, distributed, internal helpers)."
    out += ["", "| surface | PyTorch names | in adjit | PyTorch common | in adjit |"]
    out += ["|---|---|---|---|---|"]
    surveys: list[str] = ["## Name surveys", ""]
    for path, title in NAME_SURVEYS:
        row, lines = _survey_section(torch, path, title)
        out.append(row)
        surveys += lines
    return "\n".join([*out, "", *sections, *surveys])


def main() -> int:
    """Write the page, or print it with ``--stdout`` (tests/test_api_page.py: a fresh process,
    so no other test's global state (seeds, print options, threads) reaches the samples)."""
    import torch

    page = render(torch)
    if "--stdout" in sys.argv:
        sys.stdout.write(page)
        return 0
    PAGE.write_text(page)
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
