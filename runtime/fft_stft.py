"""torch.stft and torch.istft: framing, windows and overlap-add around fft_core's transforms.

Note [stft as a decomposition]
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
Both follow ATen's SpectralOps.cpp step by step with differentiable ops, so their gradients are
those of the pieces (PyTorch's stft/istft have no formula of their own either): stft pads the
signal (``center``, by ``pad_mode``), cuts frames of ``n_fft`` every ``hop_length`` (``frames``),
multiplies by the window (padded to ``n_fft`` in the middle) and transforms each frame (r2c,
onesided for a real signal and window, else c2c; ``normalized`` is the "ortho" scale). istft
transforms back (c2r or c2c, "backward" or "ortho"), multiplies by the window, overlap-adds the
frames (``overlap_add``, the adjoint of ``frames``) and divides by the overlap-added squared
window, refusing where that is below 1e-11 as PyTorch does.
"""

from __future__ import annotations

import math
import os
import sys
import warnings
from typing import Any

import numpy as np

from ..ir import dtypes as D
from . import fft_core as P
from .autocast import autocast_op
from .creation import ones, zeros
from .fft_ops import compiled_eagerly
from .ops_complex import view_as_real
from .ops_movement import cat
from .tensor import Tensor

_NO_WINDOW = (
    "A window was not provided. A rectangular window will be applied,which is known to cause "
    "spectral leakage. Other windows such as torch.hann_window or torch.hamming_window are "
    "recommended to reduce spectral leakage.To suppress this warning and use a rectangular "
    "window, explicitly set `window=torch.ones(n_fft, device=<device>)`."
)
_NO_WINDOW_ISTFT = (
    "A window was not provided. A rectangular window will be applied.Please provide the same "
    "window used by stft to make the inversion lossless.To suppress this warning and use a "
    "rectangular window, explicitly set `window=torch.ones(n_fft, device=<device>)`."
)
_REAL_OUTPUT = (
    "stft with return_complex=False is deprecated. In a future pytorch release, stft will "
    "return complex tensors for all inputs, and return_complex=False will raise an error.\n"
    "Note: you can still call torch.view_as_real on the complex output to recover the old "
    "return format."
)
_PAD_MODES = ("constant", "reflect", "replicate", "circular")
WARNED: set[str] = set()  # PyTorch's TORCH_WARN_ONCE: each of these warns once per process


def _warn_once(message: str) -> None:
    if message not in WARNED:
        WARNED.add(message)
        warnings.warn(message, UserWarning, stacklevel=_caller_level())


def _caller_level() -> int:
    """The stacklevel of the first frame outside runtime/ (stft's caller, through the autocast
    wrapper's one or two frames: runtime/autocast.py)."""
    here, frame, level = os.path.dirname(__file__), sys._getframe(2), 2
    while frame is not None and frame.f_code.co_filename.startswith(here + os.sep):
        frame, level = frame.f_back, level + 1
    return level


def _flag(v: bool | None) -> str:
    return "None" if v is None else str(int(v))


def _window_text(window: Tensor | None) -> str:
    if window is None:
        return "None"
    return f"torch.{window.dtype.type_name}Tensor{{{list(window.shape)}}}"


def _pad_signal(x: Tensor, pad: int, mode: str) -> Tensor:
    """F.pad of the last dim by ``pad`` on both sides, as stft's ``center`` does (on the signal
    viewed as 3-d, which is what PyTorch's errors describe)."""
    if mode not in _PAD_MODES:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    n = x.shape[-1]
    if mode == "constant":
        z = zeros(*x.shape[:-1], pad, dtype=x.dtype)
        return cat([z, x, z], -1) if pad else x
    if mode == "reflect" and pad >= n:
        shape3 = [1] * (3 - x.ndim) + list(x.shape)
        raise RuntimeError(
            "Argument #4: Padding size should be less than the corresponding input dimension, "
            f"but got: padding ({pad}, {pad}) at dimension 2 of input {shape3}"
        )
    if mode == "circular" and pad > n:
        raise RuntimeError("Padding value causes wrapping around more than once.")
    body = np.arange(n)
    before, after = {
        "reflect": (np.arange(pad, 0, -1), np.arange(n - 2, n - 2 - pad, -1)),
        "replicate": (np.zeros(pad, np.int64), np.full(pad, n - 1)),
        "circular": (np.arange(n - pad, n), np.arange(pad)),
    }[mode]
    index = np.concatenate([before, body, after]).astype(np.int64)
    return x[..., Tensor._make(index)]


def _middle(t: Tensor, left: int, size: int) -> Tensor:
    """``t`` zero-padded along its last dim to ``size``, ``left`` zeros before it."""
    right = size - t.shape[-1] - left
    pieces = [zeros(*t.shape[:-1], n, dtype=t.dtype) for n in (left, right)]
    return cat([pieces[0], t, pieces[1]], -1) if size != t.shape[-1] else t


def _centered_window(window: Tensor | None, win_length: int, n_fft: int, like: Any) -> Tensor:
    """The window (ones by default) padded in the middle of ``n_fft`` (PyTorch's placing)."""
    w = window if window is not None else ones(win_length, dtype=like)
    return _middle(w, (n_fft - win_length) // 2, n_fft)


@compiled_eagerly("stft")
@autocast_op("stft")
def stft(
    input: Tensor,  # noqa: A002
    n_fft: int,
    hop_length: int | None = None,
    win_length: int | None = None,
    window: Tensor | None = None,
    center: bool = True,
    pad_mode: str = "reflect",
    normalized: bool = False,
    onesided: bool | None = None,
    return_complex: bool | None = None,
    align_to_window: bool | None = None,
) -> Tensor:
    """The short-time Fourier transform (PyTorch's torch.stft; Note [stft as a decomposition])."""
    if center and align_to_window is not None:
        raise RuntimeError("stft align_to_window should only be set when center = false")
    x = input
    if center:
        x = _pad_signal(x, n_fft // 2, pad_mode)
    if window is None:
        _warn_once(_NO_WINDOW)
    any_complex = x.dtype.category == 3 or (window is not None and window.dtype.category == 3)
    if return_complex is None and not any_complex:
        raise RuntimeError(
            "stft requires the return_complex parameter be given for real inputs, and will "
            "further require that return_complex=True in a future PyTorch release."
        )
    as_complex = any_complex if return_complex is None else return_complex
    if not as_complex:
        _warn_once(_REAL_OUTPUT)
    hop = n_fft // 4 if hop_length is None else hop_length
    win = n_fft if win_length is None else win_length
    head = (
        f"stft(torch.{x.dtype.type_name}Tensor{list(x.shape)}, n_fft={n_fft}, hop_length={hop}"
        f", win_length={win}, window={_window_text(window)}, normalized={int(normalized)}"
        f", onesided={_flag(onesided)}, return_complex={_flag(return_complex)}"
        f", align_to_window={_flag(align_to_window)}) : "
    )
    if x.ndim not in (1, 2):
        raise RuntimeError(head + "expected a 1D or 2D tensor")
    if x.dtype.category < 2:
        raise RuntimeError(head + "expected a tensor of floating point or complex values")
    frames = x if x.ndim == 2 else x.unsqueeze(0)
    length = frames.shape[1]
    if not 0 < n_fft <= length:
        raise RuntimeError(head + f"expected 0 < n_fft < {length}, but got n_fft={n_fft}")
    if hop <= 0:
        raise RuntimeError(head + f"expected hop_length > 0, but got hop_length={hop}")
    if not 0 < win <= n_fft:
        raise RuntimeError(head + f"expected 0 < win_length <= n_fft, but got win_length={win}")
    if window is not None and (window.ndim != 1 or window.shape[0] != win):
        raise RuntimeError(
            head + f"expected a 1D window tensor of size equal to win_length={win}, but got "
            f"window with size {list(window.shape)}"
        )
    if align_to_window:  # frames of the window's length, placed in the middle of n_fft
        frames = P.frames(frames, win, hop) * (window if window is not None else 1.0)
        frames = _middle(frames, (n_fft - win) // 2, n_fft)
    else:
        frames = P.frames(frames, n_fft, hop)
        if window is not None or win < n_fft:
            frames = frames * _centered_window(window, win, n_fft, D.to_value(x.dtype))
    if frames.dtype.category < 2:
        frames = frames.to(D.get_default_dtype())
    is_complex = frames.dtype.category == 3
    one = not is_complex if onesided is None else onesided
    scale = 1 / math.sqrt(n_fft) if normalized else 1.0
    if is_complex:
        if one:
            raise RuntimeError("Cannot have onesided output if window or input is complex")
        out = P.c2c(frames, (2,), True, scale)
    else:
        out = P.r2c(frames, (2,), True, one, scale)
    out = out.transpose(1, 2)
    if x.ndim == 1:
        out = out.squeeze(0)
    return out if as_complex else view_as_real(out)


@compiled_eagerly("istft")
def istft(
    input: Tensor,  # noqa: A002
    n_fft: int,
    hop_length: int | None = None,
    win_length: int | None = None,
    window: Tensor | None = None,
    center: bool = True,
    normalized: bool = False,
    onesided: bool | None = None,
    length: int | None = None,
    return_complex: bool = False,
) -> Tensor:
    """The inverse of stft by overlap-add (PyTorch's torch.istft)."""
    if window is None:
        _warn_once(_NO_WINDOW_ISTFT)
    hop = n_fft // 4 if hop_length is None else hop_length
    win = n_fft if win_length is None else win_length
    if input.dtype.category != 3:
        raise RuntimeError(
            "istft requires a complex-valued input tensor matching the output from stft with "
            "return_complex=True."
        )
    head = (
        f"istft(CPU{input.dtype.type_name}Type{list(input.shape)}, n_fft={n_fft}, "
        f"hop_length={hop}, win_length={win}, window={_window_text(window)}, "
        f"center={int(center)}, normalized={int(normalized)}, onesided={_flag(onesided)}, "
        f"length={length}, return_complex={int(return_complex)})"
    )
    if input.numel() == 0:
        raise RuntimeError(head + " : input tensor cannot be empty.")
    if input.ndim not in (2, 3):
        raise RuntimeError(
            head + f" : expected a tensor with 3 or 4 dimensions, but got {input.ndim + 1}"
        )
    n_frames, fft_size = input.shape[-1], input.shape[-2]
    one = fft_size != n_fft if onesided is None else onesided
    if one and fft_size != n_fft // 2 + 1:
        raise RuntimeError(
            head + " : expected the frequency dimension (3rd to the last) of the input tensor "
            f"to match n_fft / 2 + 1 when onesided=True, but got {fft_size}"
        )
    if not one and fft_size != n_fft:
        raise RuntimeError(
            head + " : expected the frequency dimension (3rd to the last) of the input tensor "
            f"to match n_fft when onesided=False, but got {fft_size}"
        )
    if not 0 < hop <= win:
        raise RuntimeError(head + " : expected 0 < hop_length <= win_length")
    if not 0 < win <= n_fft:
        raise RuntimeError(head + " : expected 0 < win_length <= n_fft")
    if window is not None and (window.ndim != 1 or window.shape[0] != win):
        raise RuntimeError(
            head + " : Invalid window shape. window has to be 1D and length of `win_length`"
        )
    w = _centered_window(window, win, n_fft, D.to_value(input.dtype))
    x = (input if input.ndim == 3 else input.unsqueeze(0)).transpose(1, 2)
    scale = 1 / math.sqrt(n_fft) if normalized else 1 / n_fft
    if return_complex:
        if one:
            raise RuntimeError("Cannot have onesided output if window or input is complex")
        frames = P.c2c(x, (2,), False, scale)
    else:
        if window is not None and window.dtype.category == 3:
            raise RuntimeError("Complex windows are incompatible with return_complex=False")
        if not one:
            x = P.resize(x, (2,), (n_fft // 2 + 1,))
        frames = P.c2r(x, (2,), False, n_fft, scale)
    frames = frames * w
    total = n_fft + hop * (n_frames - 1)
    y = P.overlap_add(frames, hop, total)
    envelope = P.overlap_add((w * w).expand(n_frames, n_fft), hop, total)
    start = n_fft // 2 if center else 0
    end = start + length if length is not None else (total - n_fft // 2 if center else total)
    y, envelope = y[:, start:end], envelope[start:end]
    if bool((envelope.abs() < 1e-11).any()):
        raise RuntimeError(head + " window overlap add min: 1\n[ CPUBoolType{} ]")
    y = y / envelope
    if input.ndim == 2:
        y = y.squeeze(0)
    if end > total:
        _warn_once(
            "The length of signal is shorter than the length parameter. Result is being padded "
            "with zeros in the tail. Please check your center and hop_length settings."
        )
        y = P.resize(y, (y.ndim - 1,), (y.shape[-1] + end - total,))
    return y
