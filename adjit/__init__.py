"""adjit: PyTorch's API, eager autograd, and a compiler that builds gradients ahead of time."""

from __future__ import annotations

from math import e, inf, nan, pi  # noqa: E402 - PyTorch's constants (floats), as torch's

import adjit.runtime.blas as _blas  # noqa: F401 - first: Note [OpenBLAS's idle threads]
from adjit import (  # noqa: E402, I001  (after the names they use)
    _dynamo,
    accelerator,
    amp,
    autograd,
    backends,
    compiler,  # noqa: E402  (needs compile)
    cpu,
    cuda,
    distributed,
    distributions,
    fft,
    func,
    hub,
    jit,
    linalg,
    models,
    multiprocessing,
    nn,
    optim,
    overrides,
    profiler,
    quasirandom,
    random,
    signal,
    sparse,
    special,
    testing,
    types,
    utils,
)
from adjit._custom_rules import custom_jvp, custom_vjp
from adjit._lobpcg import lobpcg
from adjit._lowrank import pca_lowrank, svd_lowrank
from adjit._segment_reduce import segment_reduce
from adjit.accelerator import get_device_module
from adjit.amp.autocast_legacy import (
    get_autocast_ipu_dtype,
    get_autocast_xla_dtype,
    is_autocast_ipu_enabled,
    is_autocast_xla_enabled,
    set_autocast_cpu_dtype,
    set_autocast_cpu_enabled,
    set_autocast_gpu_dtype,
    set_autocast_ipu_dtype,
    set_autocast_ipu_enabled,
    set_autocast_xla_dtype,
    set_autocast_xla_enabled,
)
from adjit.amp.autocast_mode import (
    autocast,
    autocast_decrement_nesting,
    autocast_increment_nesting,
    clear_autocast_cache,
    get_autocast_cpu_dtype,
    get_autocast_dtype,
    get_autocast_gpu_dtype,
    is_autocast_cache_enabled,
    is_autocast_cpu_enabled,
    is_autocast_enabled,
    set_autocast_cache_enabled,
    set_autocast_dtype,
    set_autocast_enabled,
)
from adjit.amp.grad_scaler import GradScaler
from adjit.backends.deprecated import module_getattr as __getattr__  # torch.has_cuda, ...
from adjit.frontend.compile import CompiledFunction, compile  # noqa: A004
from adjit.frontend.control import cond, fori_loop, scan, while_loop
from adjit.frontend.dynamic import mark_dynamic, mark_static
from adjit.frontend.explain import explain
from adjit.frontend.transforms import grad, value_and_grad
from adjit.frontend.vmap import vmap
from adjit.io import load, save
from adjit.ir import dtypes as _dtypes
from adjit.ir.dtypes import (
    DType as dtype,
)
from adjit.ir.dtypes import (
    bfloat16,
    complex32,
    complex64,
    complex128,
    float4_e2m1fn_x2,
    float8_e4m3fn,
    float8_e4m3fnuz,
    float8_e5m2,
    float8_e5m2fnuz,
    float8_e8m0fnu,
    float16,
    float32,
    float64,
    get_default_dtype,
    int8,
    int16,
    int32,
    int64,
    set_default_dtype,
    uint8,
    uint16,
    uint32,
    uint64,
)
from adjit.ir.errors import ShapeError
from adjit.nn._module_state import typename
from adjit.nn.aten_aliases import *  # noqa: F403 - torch.dropout, torch.layer_norm, ...
from adjit.nn.aten_grid import (
    affine_grid_generator,
    grid_sampler,
    grid_sampler_2d,
    grid_sampler_3d,
)
from adjit.nn.aten_native import (
    embedding_bag,
    frobenius_norm,
    native_batch_norm,
    native_channel_shuffle,
    native_dropout,
    native_group_norm,
    native_layer_norm,
    native_norm,
    nuclear_norm,
    unsafe_split_with_sizes,
)
from adjit.nn.aten_rnn import (
    gru,
    gru_cell,
    lstm,
    lstm_cell,
    rnn_relu,
    rnn_relu_cell,
    rnn_tanh,
    rnn_tanh_cell,
)
from adjit.nn.functional_convnd import (
    conv1d,
    conv2d,
    conv3d,
    conv_tbc,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
    convolution,
)
from adjit.nn.functional_embedding import embedding_renorm_
from adjit.nn.pool_aliases import (
    adaptive_avg_pool1d,
    adaptive_max_pool1d,
    avg_pool1d,
    max_pool1d,
    max_pool1d_with_indices,
    max_pool2d,
    max_pool3d,
)
from adjit.nn.utils._norms import _weight_norm, norm_except_dim
from adjit.runtime.creation import (
    arange,
    as_tensor,
    device,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    logspace,
    ones,
    ones_like,
    tensor,
    zeros,
    zeros_like,
)
from adjit.runtime.device import (
    OutOfMemoryError,
    channels_last,
    channels_last_3d,
    contiguous_format,
    get_device,
    is_nonzero,
    memory_format,
    preserve_format,
)
from adjit.runtime.dirichlet_grad import _dirichlet_grad
from adjit.runtime.dtype_info import can_cast, finfo, iinfo, promote_types, result_type
from adjit.runtime.functional import *  # noqa: F403 - every op, as torch.<op>
from adjit.runtime.generator import (
    Generator,
    default_generator,
    get_rng_state,
    initial_seed,
    manual_seed,
    seed,
    set_rng_state,
)
from adjit.runtime.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from adjit.runtime.interop import from_dlpack, frombuffer, to_dlpack
from adjit.runtime.layout import (
    _mkldnn,
    empty_permuted,
    jagged,
    layout,
    sparse_bsc,
    sparse_bsr,
    sparse_coo,
    sparse_csc,
    sparse_csr,
    strided,
)
from adjit.runtime.legacy_types import (
    BFloat16Tensor,
    BoolTensor,
    ByteTensor,
    CharTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
    ShortTensor,
    set_default_tensor_type,
)
from adjit.runtime.method_functions import *  # noqa: F403 - torch.relu_, torch.fill, ...
from adjit.runtime.ops_gamma import (
    _sample_dirichlet,
    _standard_gamma,
    _standard_gamma_grad,
    binomial,
)
from adjit.runtime.predicates import (
    allclose,
    equal,
    is_floating_point,
    is_tensor,
    isclose,
    numel,
)
from adjit.runtime.printing import get_printoptions, set_printoptions
from adjit.runtime.removed_api import eig, lstsq, matrix_rank, solve, symeig
from adjit.runtime.settings import (
    are_deterministic_algorithms_enabled,
    compiled_with_cxx11_abi,
    get_deterministic_debug_mode,
    get_float32_matmul_precision,
    get_num_interop_threads,
    get_num_threads,
    init_num_threads,
    is_anomaly_check_nan_enabled,
    is_anomaly_enabled,
    is_deterministic_algorithms_warn_only_enabled,
    is_warn_always_enabled,
    set_anomaly_enabled,
    set_deterministic_debug_mode,
    set_float32_matmul_precision,
    set_flush_denormal,
    set_num_interop_threads,
    set_num_threads,
    set_warn_always,
    use_deterministic_algorithms,
)
from adjit.runtime.sparse_ops import dsmm, sparse_coo_tensor, sparse_csr_tensor, spmm
from adjit.runtime.storage import (
    BFloat16Storage,
    BoolStorage,
    ByteStorage,
    CharStorage,
    ComplexDoubleStorage,
    ComplexFloatStorage,
    DoubleStorage,
    FloatStorage,
    HalfStorage,
    IntStorage,
    LongStorage,
    ShortStorage,
    Storage,
    TypedStorage,
    UntypedStorage,
    is_storage,
)
from adjit.runtime.streams import Event, Stream
from adjit.runtime.sym_functions import (
    SymBool,
    SymFloat,
    SymInt,
    sym_constrain_range,
    sym_constrain_range_for_size,
    sym_float,
    sym_fresh_size,
    sym_int,
    sym_ite,
    sym_max,
    sym_min,
    sym_not,
    sym_sqrt,
    sym_sum,
)
from adjit.runtime.tensor import Size, Tensor
from adjit.runtime.tensor_extras import from_file, is_distributed
from adjit.runtime.trace_state import TracingError
from adjit.torch_version import __version__  # noqa: E402 - a TorchVersion, as torch's

newaxis = None
has_lapack = has_mkl = has_openmp = has_spectral = True  # as PyTorch's CPU build reports

double = float64
long = int64
cfloat = complex64
cdouble = complex128
chalf = complex32
half = float16
short = int16

from adjit.runtime.out_arguments import install as _install_out  # noqa: E402

_install_out(globals())  # out= on the functions PyTorch gives it (Note [out= arguments])

from adjit import functional, return_types, storage, torch_version, version  # noqa: E402

# Note [builtins in the namespace]
# PyTorch's names ``torch.bool``, ``torch.float`` and ``torch.int`` are dtypes, so this module
# rebinds three builtins. Code in this file would then call a dtype where it meant the builtin
# (``allclose`` once crashed with "'DType' object is not callable"), so this file only imports
# and binds names: it defines no function or class (tests/test_namespace.py holds it to that),
# and the rebinding comes last.
bool = _dtypes.bool_  # noqa: A001
float = float32  # noqa: A001
int = int32  # noqa: A001
