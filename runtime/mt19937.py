"""PyTorch's CPU random engine: mt19937 seeded with ``init_genrand`` (NumPy's bit generator
draws the same uint32 stream), with PyTorch's 32- and 64-bit draws and its state bookkeeping."""

from __future__ import annotations

import numpy as np

N = 624  # words of mt19937 state


class MT19937:
    """The raw stream: ``random(n)`` uint32 words, ``random64(n)`` words made ``hi << 32 | lo``.

    Note [mt19937 position]
    PyTorch's engine keeps ``left`` (words until the next twist, plus one) and ``next`` (index
    of the next word); NumPy's keeps ``pos``. Both hold the untwisted key after seeding, so
    ``pos = 625 - left``; PyTorch's ``next`` is 0 right after seeding and ``pos`` otherwise."""

    def __init__(self, seed: int = 5489) -> None:
        self._bits = np.random.MT19937()
        self.seed(seed)

    def seed(self, seed: int) -> None:
        self._bits._legacy_seeding(int(seed) & 0xFFFFFFFF)
        self._fresh = True  # no word drawn since seeding (PyTorch's next = 0)

    def random(self, n: int) -> np.ndarray:
        """``n`` consecutive uint32 words (as uint64, ready for 64-bit arithmetic)."""
        if n <= 0:
            return np.empty(0, np.uint64)
        self._fresh = False
        return self._bits.random_raw(n)

    def random64(self, n: int) -> np.ndarray:
        """``n`` 64-bit words, each from two draws: the first is the high half."""
        w = self.random(2 * n).reshape(n, 2)
        return (w[:, 0] << np.uint64(32)) | w[:, 1]

    # ---- state (PyTorch's legacy fields) ----------------------------------------------------
    def raw_state(self) -> tuple[np.ndarray, int, int]:
        """(key as 624 uint32, left, next) as PyTorch's engine holds them."""
        st = self._bits.state["state"]
        pos = int(st["pos"])
        return np.asarray(st["key"], np.uint32).copy(), N + 1 - pos, 0 if self._fresh else pos

    def set_raw_state(self, key: np.ndarray, left: int, nxt: int) -> None:
        if not 1 <= left <= N:
            raise RuntimeError(f"The RNG state's left field must be in [1, {N}], got {left}")
        state = {"key": np.asarray(key, np.uint32).copy(), "pos": N + 1 - left}
        self._bits.state = {"bit_generator": "MT19937", "state": state}
        self._fresh = nxt == 0 and left == 1
