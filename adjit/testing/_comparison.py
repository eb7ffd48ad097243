"""``torch.testing.assert_close`` (and the deprecated ``assert_allclose``) with PyTorch's semantics.

Follows ``torch/testing/_comparison.py``: nested sequences and mappings are walked into pairs of
leaves; each leaf pair is the first of :data:`PAIR_TYPES` that accepts it; the first mismatch is
raised with PyTorch's exception type and message.
"""

from __future__ import annotations

import collections.abc
import contextlib
import warnings
from collections.abc import Callable, Collection
from typing import Any

from adjit.ir import dtypes as D
from adjit.runtime.creation import tensor
from adjit.runtime.tensor import Tensor

from ._messages import ErrorMeta, item_path, type_name
from ._pairs import PAIR_TYPES, Pair, UnsupportedInputs, default_tolerances


def _is_sequence(x: Any) -> bool:
    # str excluded: "a"[0][0]... would never end
    return isinstance(x, collections.abc.Sequence) and not isinstance(x, str)


def originate_pairs(
    actual: Any, expected: Any, *, id: tuple[Any, ...] = (), **options: Any
) -> list[Pair]:
    """The leaf pairs of two (possibly nested) inputs; structure mismatches raise ErrorMeta."""
    if _is_sequence(actual) and _is_sequence(expected):
        if len(actual) != len(expected):
            raise ErrorMeta(
                AssertionError,
                f"The length of the sequences mismatch: {len(actual)} != {len(expected)}",
                id=id,
            )
        pairs: list[Pair] = []
        for i in range(len(actual)):
            pairs += originate_pairs(actual[i], expected[i], id=(*id, i), **options)
        return pairs
    if isinstance(actual, collections.abc.Mapping) and isinstance(
        expected, collections.abc.Mapping
    ):
        return _mapping_pairs(actual, expected, id, options)
    return [_leaf_pair(actual, expected, id, options)]


def _mapping_pairs(
    actual: collections.abc.Mapping,
    expected: collections.abc.Mapping,
    id: tuple[Any, ...],
    options: dict[str, Any],
) -> list[Pair]:
    actual_keys, expected_keys = set(actual.keys()), set(expected.keys())
    if actual_keys != expected_keys:
        raise ErrorMeta(
            AssertionError,
            f"The keys of the mappings do not match:\n"
            f"Missing keys in the actual mapping: {sorted(expected_keys - actual_keys)}\n"
            f"Additional keys in the actual mapping: {sorted(actual_keys - expected_keys)}",
            id=id,
        )
    keys: Collection = actual_keys
    with contextlib.suppress(Exception):  # the first failure ends the walk: be deterministic
        keys = sorted(keys)
    pairs: list[Pair] = []
    for key in keys:
        pairs += originate_pairs(actual[key], expected[key], id=(*id, key), **options)
    return pairs


def _leaf_pair(actual: Any, expected: Any, id: tuple[Any, ...], options: dict[str, Any]) -> Pair:
    for pair_type in PAIR_TYPES:
        try:
            return pair_type(actual, expected, id=id, **options)
        except UnsupportedInputs:
            continue
        except ErrorMeta:
            raise
        except Exception as error:
            raise RuntimeError(
                f"Originating a {pair_type.__name__}() at item {item_path(id)} with\n\n"
                f"{type(actual).__name__}(): {actual}\n\n"
                f"and\n\n"
                f"{type(expected).__name__}(): {expected}\n\n"
                f"resulted in the unexpected exception above."
            ) from error
    raise ErrorMeta(
        TypeError,
        f"No comparison pair was able to handle inputs of type {type_name(type(actual))} "
        f"and {type_name(type(expected))}.",
        id=id,
    )


def assert_close(
    actual: Any,
    expected: Any,
    *,
    allow_subclasses: bool = True,
    rtol: float | None = None,
    atol: float | None = None,
    equal_nan: bool = False,
    check_device: bool = True,
    check_dtype: bool = True,
    check_layout: bool = True,
    check_stride: bool = False,
    msg: str | Callable[[str], str] | None = None,
) -> None:
    """Asserts that ``actual`` and ``expected`` are close: ``|actual - expected| <= atol + rtol *
    |expected|`` elementwise, with the same shape (and dtype, device, stride as asked), as
    ``torch.testing.assert_close``; ``msg`` replaces (a str) or rewrites (a callable) the
    generated message."""
    __tracebackhide__ = True  # pytest shows the caller's line
    try:
        pairs = originate_pairs(
            actual,
            expected,
            allow_subclasses=allow_subclasses,
            rtol=rtol,
            atol=atol,
            equal_nan=equal_nan,
            check_device=check_device,
            check_dtype=check_dtype,
            check_layout=check_layout,
            check_stride=check_stride,
            msg=msg,
        )
    except ErrorMeta as meta:
        raise meta.to_error() from None  # (PyTorch ignores msg for structure errors too)
    error = _first_mismatch(pairs)
    if error is not None:
        raise error.to_error(msg)


def _first_mismatch(pairs: list[Pair]) -> ErrorMeta | None:
    for pair in pairs:
        try:
            pair.compare()
        except ErrorMeta as meta:
            return meta.with_traceback(None)
        except Exception as error:
            raise RuntimeError(
                f"Comparing\n\n{pair}\n\nresulted in the unexpected exception above."
            ) from error
    return None


# assert_allclose's own defaults: looser than assert_close's
_ALLCLOSE_PRECISIONS = {D.float16: (1e-3, 1e-3), D.float32: (1e-4, 1e-5), D.float64: (1e-5, 1e-8)}


def assert_allclose(
    actual: Any,
    expected: Any,
    rtol: float | None = None,
    atol: float | None = None,
    equal_nan: bool = True,
    msg: str = "",
) -> None:
    """Deprecated: :func:`assert_close` with NaN equal to NaN, dtypes promoted and looser
    defaults."""
    __tracebackhide__ = True
    warnings.warn(
        "`torch.testing.assert_allclose()` is deprecated since 1.12 and will be removed in a "
        "future release. Please use `torch.testing.assert_close()` instead. You can find "
        "detailed upgrade instructions in https://github.com/pytorch/pytorch/issues/61844.",
        FutureWarning,
        stacklevel=2,
    )
    if not isinstance(actual, Tensor):
        actual = tensor(actual)
    if not isinstance(expected, Tensor):
        expected = tensor(expected, dtype=actual.dtype)
    if rtol is None and atol is None:
        rtol, atol = default_tolerances(actual, expected, dtype_precisions=_ALLCLOSE_PRECISIONS)
    assert_close(
        actual,
        expected,
        rtol=rtol,
        atol=atol,
        equal_nan=equal_nan,
        check_device=True,
        check_dtype=False,
        check_stride=False,
        msg=msg or None,
    )
