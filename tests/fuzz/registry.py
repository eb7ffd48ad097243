"""Every fuzz strategy by name with its check, for tests/test_fuzz.py and fuzz.collect."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import Phase, assume
from hypothesis import strategies as st

from . import (
    attention,
    breaks,
    checks,
    complex_grads,
    complexes,
    control,
    convolution,
    ctc,
    custom_transforms,
    custom_wrap,
    dtypes,
    dynamic,
    edges,
    functions,
    integer,
    jvps,
    linalg,
    long_reductions,
    mathfuncs,
    miscops,
    nested_grads,
    nnmath,
    parametrizations,
    pooling,
    randoms,
    recurrent,
    resample,
    sorting,
    specialfuncs,
    specialmore,
    specials,
    stability,
    tensor_methods,
    vmaps,
)
from .programs import Program
from .strategies import ALL, programs

GENERATE = [Phase.explicit, Phase.generate]


def check_core(p: Program) -> None:
    """The original differential check (near-kink inputs rejected)."""
    assume(not checks.near_kink(p))
    checks.check_program(p)


STRATEGIES: dict[str, tuple[st.SearchStrategy[Any], Callable[[Any], None]]] = {
    "core": (programs(ALL), check_core),
    "integer": (integer.integer_cases(), integer.check_integer),
    "specials": (specials.special_cases(), specials.check_specials),
    "math": (mathfuncs.math_cases(), mathfuncs.check_math),
    "special": (specialfuncs.special_cases(), specialfuncs.check_special),
    "special-more": (specialmore.special_more_cases(), specialmore.check_special_more),
    "long": (long_reductions.long_cases(), long_reductions.check_long),
    "functions": (functions.function_cases(), functions.check_functions),
    "custom-wrap": (custom_wrap.custom_wrap_cases(), custom_wrap.check_custom_wrap),
    "custom-transforms": (
        custom_transforms.custom_transform_cases(),
        custom_transforms.check_custom_transforms,
    ),
    "nested-grad": (nested_grads.nested_grad_cases(), nested_grads.check_nested_grads),
    "breaks": (breaks.break_cases(), breaks.check_breaks),
    "edges": (edges.edge_cases(), edges.check_edges),
    "linalg": (linalg.linalg_cases(), linalg.check_linalg),
    "sorting": (sorting.sorting_cases(), sorting.check_sorting),
    "misc": (miscops.misc_cases(), miscops.check_misc),
    "dtypes": (dtypes.dtype_cases(), dtypes.check_dtypes),
    "methods": (tensor_methods.method_cases(), tensor_methods.check_methods),
    "nnmath": (nnmath.nnmath_cases(), nnmath.check_nnmath),
    "complex": (complexes.complex_cases(), complexes.check_complex),
    "recurrent": (recurrent.recurrent_cases(), recurrent.check_recurrent),
    "complex_grad": (complex_grads.complex_grad_cases(), complex_grads.check_complex_grad),
    "convolution": (convolution.convolution_cases(), convolution.check_convolution),
    "resample": (resample.resample_cases(), resample.check_resample),
    "pooling": (pooling.pooling_cases(), pooling.check_pooling),
    "ctc": (ctc.ctc_cases(), ctc.check_ctc),
    "attention": (attention.attention_cases(), attention.check_attention),
    "parametrizations": (
        parametrizations.parametrization_cases(),
        parametrizations.check_parametrizations,
    ),
    "randoms": (randoms.random_cases(), randoms.check_randoms),
    "control": (control.control_cases(), control.check_control),
    "dynamic": (dynamic.dynamic_cases(), dynamic.check_dynamic),
    "vmap": (vmaps.vmap_cases(), vmaps.check_vmap),
    "jvp": (jvps.jvp_cases(), jvps.check_jvp),
    "stability": (stability.stability_cases(), stability.check_stability),
}
