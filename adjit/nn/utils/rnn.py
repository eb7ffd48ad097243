"""``adjit.nn.utils.rnn``: PackedSequence and padding/packing of variable-length sequences."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

import numpy as np

from adjit.ir import dtypes as D
from adjit.runtime import functional as R
from adjit.runtime.creation import empty_like, full, full_like
from adjit.runtime.dispatch import composite
from adjit.runtime.tensor import Tensor
from adjit.runtime.trace_state import TracingError

__all__ = [
    "PackedSequence",
    "invert_permutation",
    "pack_padded_sequence",
    "pad_packed_sequence",
    "pad_sequence",
    "unpad_sequence",
    "pack_sequence",
    "unpack_sequence",
]


def _const(values: Any, dtype: Any = D.int64) -> Tensor:
    return Tensor._make(np.asarray(values, dtype=dtype.np))


class PackedSequence_(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None
    unsorted_indices: Tensor | None


class PackedSequence(PackedSequence_):
    """The data of a batch of sequences, time step after time step, with each step's batch
    size (``batch_sizes``, int64) and the permutation that sorted the batch by length."""

    def __new__(
        cls,
        data: Any,
        batch_sizes: Tensor | None = None,
        sorted_indices: Tensor | None = None,
        unsorted_indices: Tensor | None = None,
    ) -> PackedSequence:
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise AssertionError("Expected data to be a list or tuple of length 2")
            data, batch_sizes = data
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args: Any, **kwargs: Any) -> PackedSequence:
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        return type(self)(data, self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    def cpu(self, *args: Any, **kwargs: Any) -> PackedSequence:
        return self

    def double(self) -> PackedSequence:
        return self.to(dtype=D.float64)

    def float(self) -> PackedSequence:
        return self.to(dtype=D.float32)

    def half(self) -> PackedSequence:
        return self.to(dtype=D.float16)

    def long(self) -> PackedSequence:
        return self.to(dtype=D.int64)

    def int(self) -> PackedSequence:
        return self.to(dtype=D.int32)

    def short(self) -> PackedSequence:
        return self.to(dtype=D.int16)

    def char(self) -> PackedSequence:
        return self.to(dtype=D.int8)

    def byte(self) -> PackedSequence:
        return self.to(dtype=D.uint8)

    @property
    def is_cuda(self) -> bool:
        return False

    def is_pinned(self) -> bool:
        return False


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The permutation ``q`` with ``q[p[i]] = i``."""
    if permutation is None:
        return None
    n = permutation.numel()
    return R.scatter(empty_like(permutation), 0, permutation, _const(np.arange(n)))


def _host_ints(t: Tensor, what: str) -> np.ndarray:
    if t._is_tracer:
        raise TracingError(
            f"{what} decide the shapes of a packed sequence, which must be known while "
            "tracing; pass them as a Python list (constants) or pack outside adjit.compile"
        )
    return np.asarray(t._data)


def _pack_rows(batch_sizes: np.ndarray, batch: int) -> np.ndarray:
    """Row ``t * batch + b`` of the flattened (T, B) input for each packed row."""
    return np.concatenate([t * batch + np.arange(b) for t, b in enumerate(batch_sizes)])


def pack_padded_sequence(
    input: Tensor, lengths: Any, batch_first: bool = False, enforce_sorted: bool = True
) -> PackedSequence:
    """Pack a padded ``(T, B, *)`` batch (``(B, T, *)`` if ``batch_first``) of sequences of
    ``lengths``; unless ``enforce_sorted``, the batch is sorted by decreasing length first."""
    if isinstance(lengths, Tensor):
        lengths = lengths.to(dtype=D.int64)
    else:
        lengths = _const(np.asarray(lengths).astype(np.int64))
    sorted_indices = None
    if not enforce_sorted:
        lengths, sorted_indices = R.sort(lengths, descending=True)
        input = R.index_select(input, 0 if batch_first else 1, sorted_indices)
    data, batch_sizes = _pack(input, lengths, batch_first)
    return PackedSequence(data, batch_sizes, sorted_indices, None)


def _pack(input: Tensor, lengths: Tensor, batch_first: bool) -> tuple[Tensor, Tensor]:
    """``_VF._pack_padded_sequence``: its checks, then one gather of the packed rows."""
    if input.numel() == 0:
        raise RuntimeError("Cannot pack empty tensors.")
    if lengths.ndim != 1:
        raise RuntimeError(
            "'lengths' argument should be a 1D CPU int64 tensor, but got "
            f"{lengths.ndim}D cpu Long tensor"
        )
    x = R.transpose(input, 0, 1) if batch_first else input
    steps, batch = x.shape[0], x.shape[1]
    n = _host_ints(lengths, "the lengths")
    if n.shape[0] != batch:
        raise RuntimeError(
            f"Expected `len(lengths)` to be equal to batch_size, but got {n.shape[0]} "
            f"(batch_size={batch})"
        )
    if n[-1] <= 0:
        raise RuntimeError(
            "Length of all samples has to be greater than 0, but found an element in "
            "'lengths' that is <= 0"
        )
    if np.any(n[1:] > n[:-1]):
        raise RuntimeError(
            "`lengths` array must be sorted in decreasing order when `enforce_sorted` is "
            "True. You can pass `enforce_sorted=False` to pack_padded_sequence and/or "
            "pack_sequence to sidestep this requirement if you do not need ONNX "
            "exportability."
        )
    if n[0] > steps:  # PyTorch reads past the input here; we refuse
        raise RuntimeError(
            f"pack_padded_sequence: a sequence length ({n[0]}) exceeds the padded input's "
            f"{steps} time steps"
        )
    batch_sizes = (n[None, :] > np.arange(n[0])[:, None]).sum(1).astype(np.int64)
    rows = _const(_pack_rows(batch_sizes, batch))

    def gather(a: Tensor) -> Tensor:
        a = R.transpose(a, 0, 1) if batch_first else a
        return R.index_select(R.flatten(a, 0, 1), 0, rows)

    return composite("PackPaddedSequenceBackward0", gather, input), _const(batch_sizes)


def pad_packed_sequence(
    sequence: PackedSequence,
    batch_first: bool = False,
    padding_value: float = 0.0,
    total_length: int | None = None,
) -> tuple[Tensor, Tensor]:
    """The inverse of ``pack_padded_sequence``: the padded batch (in the original order) and
    the lengths; ``total_length`` pads to that many time steps."""
    sizes = _host_ints(sequence.batch_sizes, "a PackedSequence's batch_sizes")
    steps = sizes.shape[0]
    if total_length is not None:
        if total_length < steps:
            raise ValueError(
                "Expected total_length to be at least the length of the longest sequence in "
                f"input, but got total_length={total_length} and max sequence length being "
                f"{steps}"
            )
        steps = total_length
    batch = int(sizes[0])
    data = sequence.data
    # Each (t, b) of the padded result takes a packed row, or the padding row after them.
    where = np.full((steps, batch), data.shape[0], np.int64)
    offset = 0
    for t, b in enumerate(sizes):
        where[t, :b] = np.arange(offset, offset + b)
        offset += b
    lengths = (where < data.shape[0]).sum(0).astype(np.int64)
    index = _const(where.reshape(-1))

    def scatter(d: Tensor) -> Tensor:
        pad = full_like(R.narrow(d, 0, 0, 1), padding_value)
        rows = R.index_select(R.cat([d, pad], 0), 0, index)
        out = R.reshape(rows, (steps, batch, *d.shape[1:]))
        return R.transpose(out, 0, 1) if batch_first else out

    name = "TransposeBackward0" if batch_first else "CopySlices"
    padded = composite(name, scatter, data)
    out_lengths = _const(lengths)
    if sequence.unsorted_indices is not None:
        padded = R.index_select(padded, 0 if batch_first else 1, sequence.unsorted_indices)
        out_lengths = R.index_select(out_lengths, 0, sequence.unsorted_indices)
    return padded, out_lengths


def pad_sequence(
    sequences: Any,
    batch_first: bool = False,
    padding_value: float = 0.0,
    padding_side: str = "right",
) -> Tensor:
    """Stack ``sequences`` (each ``(L_i, *)``) into ``(max L, B, *)`` (``(B, max L, *)`` if
    ``batch_first``), padded with ``padding_value`` on ``padding_side``."""
    if not isinstance(sequences, Iterable):
        raise RuntimeError(
            "pad_sequence: Expected iterable for input sequences, but got arg of type: "
            f"{type(sequences)}"
        )
    seqs = list(R.unbind(sequences, 0)) if isinstance(sequences, Tensor) else list(sequences)
    if not seqs:
        raise RuntimeError("received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise RuntimeError(
            f"Expected padding_side to be one of left or right, but got {padding_side}."
        )
    first = seqs[0]
    longest = max(s.shape[0] for s in seqs)
    trailing = tuple(first.shape[1:])
    for s in seqs:
        if tuple(s.shape[1:]) != trailing:
            _size_mismatch(trailing, tuple(s.shape[1:]))

    def stack(*ts: Tensor) -> Tensor:
        rows = []
        for s in ts:
            s = s.to(first.dtype)
            pad = full((longest - s.shape[0], *trailing), padding_value, dtype=first.dtype)
            rows.append(R.cat([s, pad] if padding_side == "right" else [pad, s], 0))
        return R.stack(rows, 0 if batch_first else 1)

    return composite("CopySlices", stack, *seqs)


def _size_mismatch(want: tuple[int, ...], got: tuple[int, ...]) -> None:
    """copy_'s broadcast error, which PyTorch's pad_sequence raises for unequal trailing dims."""
    if len(got) != len(want):
        raise RuntimeError(
            f"pad_sequence: every sequence must have {len(want)} dims after the first, but "
            f"one has {len(got)}"
        )
    for k in range(len(want) - 1, -1, -1):
        if got[k] != want[k] and got[k] != 1:
            raise RuntimeError(
                f"The size of tensor a ({want[k]}) must match the size of tensor b ({got[k]}) "
                f"at non-singleton dimension {k + 1}"
            )


def unpad_sequence(
    padded_sequences: Tensor, lengths: Tensor, batch_first: bool = False
) -> list[Tensor]:
    """The list of sequences of a padded batch, each cut to its length (PyTorch transposes
    ``padded_sequences`` in place when not ``batch_first``, and so do we)."""
    if not batch_first:
        padded_sequences.transpose_(0, 1)
    n = _host_ints(lengths, "the lengths") if isinstance(lengths, Tensor) else lengths
    return [
        R.narrow(seq, 0, 0, int(k)) for seq, k in zip(R.unbind(padded_sequences, 0), n, strict=True)
    ]


def pack_sequence(sequences: list[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of ``(L_i, *)`` sequences (longest first unless not ``enforce_sorted``)."""
    lengths = _const([v.size(0) for v in sequences])
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """The list of sequences of a PackedSequence, in their original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
