"""The failure messages of ``assert_close``, worded as in PyTorch's testing/_comparison.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from adjit.ir import dtypes as D
from adjit.runtime.tensor import Tensor

Identifier = str | Callable[[str], str] | None


class ErrorMeta(Exception):
    """A comparison failure: the exception type to raise, its message and the item it concerns
    (a path through nested sequences and mappings)."""

    def __init__(self, type: type[Exception], msg: str, *, id: tuple[Any, ...] = ()) -> None:
        super().__init__(msg)
        self.type = type
        self.msg = msg
        self.id = id

    def to_error(self, msg: Identifier = None) -> Exception:
        """The user-facing exception: ``msg`` replaces the message (a str) or rewrites it (a
        callable); otherwise the message names the failing item, as PyTorch's does."""
        if isinstance(msg, str):
            return self.type(msg)
        generated = self.msg
        if self.id:
            generated += f"\n\nThe failure occurred for item {item_path(self.id)}"
        return self.type(msg(generated) if callable(msg) else generated)


def item_path(id: tuple[Any, ...]) -> str:
    """``[0]['a']``: an item's position in nested sequences and mappings."""
    return "".join(str([item]) for item in id)


# adjit's own classes are PyTorch's in messages: `<class 'torch.Tensor'>`, not adjit.runtime...
_TORCH_TYPE_NAMES = {
    "adjit.runtime.tensor.Tensor": "torch.Tensor",
    "adjit.nn.parameter.Parameter": "torch.nn.parameter.Parameter",
    "adjit.nn.parameter.Buffer": "torch.nn.parameter.Buffer",
}


def type_name(cls: type) -> str:
    """``str(cls)`` with adjit's tensor classes spelt as PyTorch's."""
    qual = f"{cls.__module__}.{cls.__qualname__}"
    return f"<class '{_TORCH_TYPE_NAMES[qual]}'>" if qual in _TORCH_TYPE_NAMES else str(cls)


def _diff_line(kind: str, diff: Any, idx: Any, tol: float, equality: bool) -> str:
    head = (
        f"{kind.title()} difference: {diff}"
        if idx is None
        else f"Greatest {kind} difference: {diff} at index {idx}"
    )
    return head + ("" if equality else f" (up to {tol} allowed)") + "\n"


def mismatch_msg(
    *,
    default_identifier: str,
    identifier: Identifier,
    extra: str | None,
    abs_diff: Any,
    abs_diff_idx: tuple[int, ...] | None = None,
    atol: float,
    rel_diff: Any,
    rel_diff_idx: tuple[int, ...] | None = None,
    rtol: float,
) -> str:
    """ "Tensor-likes are not close!" and the greatest differences (no tolerances when both are
    zero: "are not equal!")."""
    equality = rtol == 0 and atol == 0
    if identifier is None:
        identifier = default_identifier
    elif callable(identifier):
        identifier = identifier(default_identifier)
    msg = f"{identifier} are not {'equal' if equality else 'close'}!\n\n"
    if extra:
        msg += f"{extra.strip()}\n"
    msg += _diff_line("absolute", abs_diff, abs_diff_idx, atol, equality)
    msg += _diff_line("relative", rel_diff, rel_diff_idx, rtol, equality)
    return msg.strip()


def scalar_mismatch_msg(
    actual: Any, expected: Any, *, rtol: float, atol: float, identifier: Identifier = None
) -> str:
    """Two Python numbers (or 0-d tensors' items) that are not close."""
    abs_diff = abs(actual - expected)
    rel_diff = float("inf") if expected == 0 else abs_diff / abs(expected)
    return mismatch_msg(
        default_identifier="Scalars",
        identifier=identifier,
        extra=f"Expected {expected} but got {actual}.",
        abs_diff=abs_diff,
        atol=atol,
        rel_diff=rel_diff,
        rtol=rtol,
    )


def _unravel(flat_index: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    out = []
    for size in shape[::-1]:
        flat_index, mod = divmod(flat_index, size)
        out.append(mod)
    return tuple(out[::-1])


def tensor_mismatch_msg(
    actual: Tensor,
    expected: Tensor,
    matches: Tensor,
    *,
    rtol: float,
    atol: float,
    identifier: Identifier = None,
) -> str:
    """The count of mismatches and the greatest absolute and relative differences among them,
    computed as PyTorch's (integers and bools as int64, each step in the tensors' dtype)."""
    n = matches.numel()
    bad = n - int(matches.sum().item())
    extra = f"Mismatched elements: {bad} / {n} ({bad / n:.1%})"
    a, e, m = actual.flatten(), expected.flatten(), matches.flatten()
    if not (actual.dtype.is_floating_point or actual.dtype.is_complex):
        a, e = a.to(D.int64), e.to(D.int64)
    abs_diff = (a - e).abs()
    abs_diff[m] = 0  # only mismatches count
    max_abs, abs_idx = abs_diff.max(0)
    rel_diff = abs_diff / e.abs()
    rel_diff[m] = 0
    max_rel, rel_idx = rel_diff.max(0)
    shape = tuple(matches.shape)
    return mismatch_msg(
        default_identifier="Tensor-likes",
        identifier=identifier,
        extra=extra,
        abs_diff=max_abs.item(),
        abs_diff_idx=_unravel(int(abs_idx.item()), shape),
        atol=atol,
        rel_diff=max_rel.item(),
        rel_diff_idx=_unravel(int(rel_idx.item()), shape),
        rtol=rtol,
    )
