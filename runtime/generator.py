"""``Generator``: PyTorch's CPU generator (mt19937 plus the cached normal samples), its
5056-byte state tensor, and the global ``default_generator`` with ``manual_seed`` and friends."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .mt19937 import MT19937, N
from .tensor import Tensor

DEFAULT_SEED = 67280421310721  # c10::detail::default_rng_seed_val: a new Generator's seed
STATE_SIZE = 5056

# Note [generator state layout]
# PyTorch's CPUGeneratorImplState, byte for byte (x86-64, little endian): the legacy
# THGeneratorState (seed, left, seeded, next, the 624 words as uint64, three dummy doubles of
# which normal_y holds the cached double normal sample, its valid flag) followed by the cached
# float normal sample and its flag. Matching it lets states move between adjit and PyTorch.
STATE_DTYPE = np.dtype(
    {
        "names": [
            "seed", "left", "seeded", "next", "key", "normal_x", "normal_y", "normal_rho",
            "normal_is_valid", "float_normal", "float_normal_is_valid",
        ],
        "formats": [
            "<u8", "<i4", "<i4", "<u8", ("<u8", N), "<f8", "<f8", "<f8", "<i4", "<f4", "u1",
        ],
        "offsets": [0, 8, 12, 16, 24, 5016, 5024, 5032, 5040, 5048, 5052],
        "itemsize": STATE_SIZE,
    }
)  # fmt: skip


def _unpack_seed(seed: Any) -> int:
    """PyTorch's seed as uint64: negative seeds wrap, beyond 64 bits overflow."""
    value = int(seed)
    if not -(2**63) <= value < 2**64:
        raise ValueError("Overflow when unpacking long long")
    return value % 2**64


class Generator:
    """A CPU random generator with PyTorch's stream: ``manual_seed(s)`` then any draw gives
    PyTorch's numbers for the same seed and the same sequence of calls."""

    def __init__(self, device: Any = "cpu") -> None:
        kind = str(device).split(":")[0]
        if kind != "cpu":
            raise RuntimeError(f"adjit runs on the CPU only; device '{device}' is not available")
        self._engine = MT19937()
        self._seed_now(DEFAULT_SEED)

    @property
    def device(self) -> Any:
        from .creation import device

        return device("cpu")

    # ---- seeding ----------------------------------------------------------------------------
    def manual_seed(self, seed: Any) -> Generator:
        """Seed now; while tracing, when the compiled program runs (Note [generator effects])."""
        if _traced_effect("manual_seed", self, seed=_unpack_seed(seed)) is None:
            self._seed_now(seed)
        return self

    def _seed_now(self, seed: Any) -> None:
        self._seed = _unpack_seed(seed)
        self._engine.seed(self._seed)
        self.next_double_normal: float | None = None
        self.next_float_normal: float | None = None

    def seed(self) -> int:
        """Seed from the operating system's entropy and return the seed."""
        _refuse_while_tracing("seed() (fresh entropy at every call)")
        s = int.from_bytes(os.urandom(8), "little")
        self._seed_now(s)
        return s

    def initial_seed(self) -> int:
        return self._seed

    # ---- draws ------------------------------------------------------------------------------
    def random(self, n: int) -> np.ndarray:
        """``n`` uint32 words (as uint64); refused while tracing (Note [random under compile])."""
        _refuse_while_tracing()
        return self._engine.random(n)

    def random64(self, n: int) -> np.ndarray:
        _refuse_while_tracing()
        return self._engine.random64(n)

    # ---- state ------------------------------------------------------------------------------
    def get_state(self) -> Tensor:
        traced = _traced_effect("get_state", self, shape=(STATE_SIZE,))
        if traced is not None:  # (Note [generator effects])
            return traced
        key, left, nxt = self._engine.raw_state()
        st = np.zeros((), STATE_DTYPE)
        st["seed"], st["left"], st["seeded"], st["next"] = self._seed, left, 1, nxt
        st["key"] = key
        if self.next_double_normal is not None:
            st["normal_is_valid"], st["normal_y"] = 1, self.next_double_normal
        if self.next_float_normal is not None:
            st["float_normal_is_valid"], st["float_normal"] = 1, self.next_float_normal
        return Tensor._make(np.frombuffer(st.tobytes(), np.uint8).copy())

    def set_state(self, new_state: Any) -> Generator:
        if not isinstance(new_state, Tensor):
            raise TypeError(f"expected a torch.ByteTensor, but got {type(new_state).__name__}")
        if new_state.dtype.name != "uint8":  # (dtype, not data: a traced state has none)
            raise TypeError("RNG state must be a torch.ByteTensor")
        if new_state.numel() != STATE_SIZE:
            raise RuntimeError(
                f"Expected a CPUGeneratorImplState of size {STATE_SIZE} but found the input "
                f"RNG state size to be {new_state.numel()}"
            )
        if _traced_effect("set_state", self, new_state) is not None:  # Note [generator effects]
            return self
        st = np.frombuffer(np.ascontiguousarray(new_state._data).tobytes(), STATE_DTYPE)[0]
        left, nxt = int(st["left"]), int(st["next"])
        if not (st["seeded"] and 0 < left <= N and nxt <= N):
            raise RuntimeError("Invalid mt19937 state")
        if left + nxt != N + 1 and (left, nxt) != (1, 0):
            raise RuntimeError(
                "adjit: this mt19937 state's 'left' and 'next' fields disagree (a state PyTorch "
                "never writes); adjit cannot continue from it"
            )
        self._seed = int(st["seed"])
        self._engine.set_raw_state(st["key"].astype(np.uint32), left, nxt)
        valid_d, valid_f = bool(st["normal_is_valid"]), bool(st["float_normal_is_valid"])
        self.next_double_normal = float(st["normal_y"]) if valid_d else None
        self.next_float_normal = float(st["float_normal"]) if valid_f else None
        return self

    def clone_state(self) -> Generator:
        """A new generator in this one's state (seed and cached normal samples included)."""
        return Generator().set_state(self.get_state())

    def graphsafe_get_state(self) -> Generator:
        raise NotImplementedError("graphsafe_get_state is not supported in this Generator")

    def graphsafe_set_state(self, state: Any) -> Generator:
        raise NotImplementedError("graphsafe_set_state is not supported in this Generator")


# Note [generator effects]
# ``manual_seed``, ``get_rng_state`` and ``set_rng_state`` (and a Generator's own methods) called
# while tracing act on the generator when the compiled program runs, in order with its draws:
# each is a RANDOM equation (samplers "manual_seed", "get_state", "set_state" in
# runtime/random_draws.py), an effect like a draw (Note [random numbers in compiled code]).
# ``seed()`` (fresh entropy at every call) refuses.
def _traced_effect(
    sampler: str, gen: Generator, *inputs: Any, shape: tuple[int, ...] = (0,), **params: Any
) -> Tensor | None:
    """While tracing: the generator effect recorded as a RANDOM equation (its uint8 result);
    else None (act now)."""
    from .trace_state import current

    if current() is None:
        return None
    from ..ir import dtypes as D
    from .ops_random import traced_sample

    return traced_sample(sampler, shape, D.uint8, gen, *inputs, **params)


def _refuse_while_tracing(what: str = "") -> None:
    """Note [random under compile]
    A random function called while tracing records a RANDOM equation that draws when the
    compiled program runs (Note [random numbers in compiled code] in ir/random.py); it never
    draws at trace time. A draw reaching the generator while tracing would run once and be
    frozen into the program as a constant (a library function drawing directly, or a compiled
    program run on concrete tensors inside another trace): refuse clearly instead."""
    from .trace_state import TracingError, current

    if current() is not None and what:
        raise TracingError(f"{what} is not supported inside a compiled function")
    if current() is not None:
        raise TracingError(
            "random numbers drawn here inside a compiled function would be drawn once and "
            "frozen into the compiled program; pass them in as arguments, put the module in "
            "eval mode, or use adjit.compile(fn, fallback='eager')"
        )


default_generator = Generator()
default_generator.seed()  # PyTorch seeds its default generator nondeterministically


def manual_seed(seed: Any) -> Generator:
    return default_generator.manual_seed(seed)


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> Tensor:
    return default_generator.get_state()


def set_rng_state(new_state: Any) -> None:
    default_generator.set_state(new_state)


def resolve(generator: Any) -> Generator:
    """The generator a random function draws from."""
    if generator is None:
        return default_generator
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be a torch.Generator, not {type(generator).__name__}")
    return generator
