"""Bounded compile caches: an LRU of specializations per compiled function, a cap on kernels."""

from __future__ import annotations

import gc
import itertools
import sys
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

# Note [bounded compile caches]
# ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
# Each signature a compiled function sees costs a trace, its plans and the kernels they load
# (shared libraries: ~4 memory mappings each, and a process gets ~65k; 5,000 signatures of a
# small layer took 71 KiB and 4.1 mappings each, ``python -m adjit.benchmarks.compile_cache``,
# which with the bounds stay at 64 entries, 66 kernels and a flat map count). Two bounds:
#   - per function, ``cache_size_limit`` specializations (default 64; adjit.compile's keyword,
#     else ``adjit.compiler.config.cache_size_limit``): a new one past it evicts the least
#     recently *used* (every call counts, also the trampoline's: Note [hot entry recency]);
#   - per process, ``config.loaded_kernel_limit`` loaded kernels (default 4096): past it the
#     least recently used specializations of any compiled function are evicted until the
#     count is back under it (or nothing but the newest one is left).
# A function with graph breaks (segment mode) keeps its segments' compiled plans in an LRU of
# SEGMENTS_PER_ENTRY times its cache_size_limit.
# Evicting an entry removes it from every table of its function that points at it (fast-key
# table, prepared trampolines, the hot trampoline), so it can never run again; its kernels are
# unloaded once nothing else holds them (Note [unloading kernels] in codegen/jit.py): a call
# running it in another thread, a grad_fn of a live tensor or another function's entry sharing
# a kernel keeps that kernel loaded. A signature that comes back traces again (its kernels come
# from the disk cache). torch's ``cache_size_limit`` is an alias of ``recompile_limit`` (a cap
# past which new signatures run eagerly, never evicting); adjit keeps ``recompile_limit`` with
# that meaning and uses ``cache_size_limit`` for the LRU bound. An evicted signature traced
# again counts as a trace towards ``recompile_limit``.
#
# Note [hot entry recency]: the hot trampoline (the last plain call's) runs without touching
# the LRU. Every other call touches its entry and drops the hot trampoline unless it is that
# entry's, so the hot entry is always the most recently touched one: the recency order is exact.

DEFAULT_CACHE_SIZE_LIMIT = 64
SEGMENTS_PER_ENTRY = 8  # a function with graph breaks keeps this many segment plans per entry
DEFAULT_LOADED_KERNEL_LIMIT = 4096


class Config:
    """``adjit.compiler.config``: process-wide compile-cache settings (None: unbounded)."""

    def __init__(self) -> None:
        self.cache_size_limit: int | None = DEFAULT_CACHE_SIZE_LIMIT
        self.loaded_kernel_limit: int | None = DEFAULT_LOADED_KERNEL_LIMIT
        # torch._functorch.config.activation_memory_budget: passes/remat.py, read per trace
        self.activation_memory_budget: float = 1.0

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "activation_memory_budget":
            object.__setattr__(self, name, check_budget(value))
            return
        if name not in ("cache_size_limit", "loaded_kernel_limit"):
            raise AttributeError(f"adjit.compiler.config has no setting {name!r}")
        object.__setattr__(self, name, check_limit(name, value))

    def __repr__(self) -> str:
        return (
            f"adjit.compiler.config(cache_size_limit={self.cache_size_limit}, "
            f"loaded_kernel_limit={self.loaded_kernel_limit}, "
            f"activation_memory_budget={self.activation_memory_budget})"
        )


def check_limit(name: str, value: Any) -> int | None:
    """``value`` if it is a valid bound (a positive int, or None: unbounded), else raise."""
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise TypeError(f"{name} must be a positive int or None, got {value!r}")
    if value is not None and value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


def check_budget(value: Any) -> float:
    """An activation-memory budget: a number in [0, 1] (PyTorch's check and message)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"activation_memory_budget must be a float in [0, 1], got {value!r}")
    if value > 1 or value < 0:
        raise RuntimeError(
            f"The valid ranges for memory budget are 0 <= m <= 1. The provided value is {value}"
        )
    return float(value)


config = Config()
_CLOCK = itertools.count(1)  # use stamps, shared by every cache: a global recency order


class LRU(MutableMapping[K, V], Generic[K, V]):
    """A mapping that remembers use order and holds at most ``limit()`` values: inserting past
    it evicts the least recently used one, reported to ``on_evict(key, value)``. ``touch``
    marks a use; lookups do not. ``lock`` serializes changes (the owner's lock)."""

    def __init__(
        self,
        limit: Callable[[], int | None],
        on_evict: Callable[[K, V], None] = lambda key, value: None,
        lock: threading.RLock | None = None,
    ) -> None:
        self._values: OrderedDict[K, V] = OrderedDict()  # least recently used first
        self._used: dict[K, int] = {}  # key -> its last use's stamp
        self._keys: dict[int, K] = {}  # id(value) -> its key (values are unique objects)
        self.limit, self.on_evict = limit, on_evict
        self.lock = lock if lock is not None else threading.RLock()
        self.evictions = 0
        _CACHES.add(self)

    __hash__ = object.__hash__  # one cache is one object (a Mapping compares by contents)

    def __eq__(self, other: object) -> bool:
        return self is other

    def __getitem__(self, key: K) -> V:
        return self._values[key]

    def get(self, key: K, default: Any = None) -> Any:  # no touch: lookups are not uses
        return self._values.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __iter__(self) -> Iterator[K]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def holds(self, value: Any) -> bool:
        """Whether ``value`` is one of the cached values (not evicted)."""
        key = self._keys.get(id(value), _NONE)
        return key is not _NONE and self._values.get(key) is value  # type: ignore[arg-type]

    def touch(self, value: Any) -> None:
        """Mark ``value`` used now (no-op if it is not cached: evicted meanwhile)."""
        key = self._keys.get(id(value), _NONE)
        if key is _NONE:
            return
        try:
            self._values.move_to_end(key)  # type: ignore[arg-type]
        except KeyError:  # evicted by another thread just now
            return
        self._used[key] = next(_CLOCK)  # type: ignore[index]

    def __setitem__(self, key: K, value: V) -> None:
        with self.lock:
            old = self._values.pop(key, None)
            if old is not None:
                self._keys.pop(id(old), None)
            self._values[key] = value
            self._keys[id(value)] = key
            self._used[key] = next(_CLOCK)
            if not _HOOKED:
                _hook()
            limit = self.limit()
            while limit is not None and len(self._values) > limit:
                self.evict_oldest()

    def __delitem__(self, key: K) -> None:
        with self.lock:
            value = self._values.pop(key)
            self._keys.pop(id(value), None)
            self._used.pop(key, None)

    def evict_oldest(self) -> None:
        """Evict the least recently used value (``on_evict`` cleans its owner's other tables)."""
        with self.lock:
            key, value = next(iter(self._values.items()))
            del self[key]
            self.evictions += 1
            self.on_evict(key, value)

    def oldest_stamp(self) -> int | None:
        """When the least recently used value was last used (None: empty). Called without
        the lock: one C-level step, so another thread's change cannot break it."""
        key = next(iter(self._values), _NONE)
        return None if key is _NONE else self._used.get(key, 0)  # type: ignore[arg-type]

    def clear(self) -> None:
        with self.lock:
            self._values.clear()
            self._used.clear()
            self._keys.clear()


_NONE = object()
_HOOKED: list[bool] = []


def _hook() -> None:
    """Install ``enforce_kernel_limit`` as the JIT's load hook once the JIT is imported (only
    the first kernel load imports it: ``import adjit`` does not pay for it here)."""
    jit = sys.modules.get("adjit.codegen.jit")
    if jit is not None:
        _HOOKED.append(True)
        jit.ON_LOAD.append(enforce_kernel_limit)


_CACHES: weakref.WeakSet[LRU[Any, Any]] = weakref.WeakSet()
_ENFORCING = threading.local()
_UNCOLLECTED = [False]  # entries were evicted since the last collection this module ran


def enforce_kernel_limit(loaded: int) -> None:
    """``codegen.jit``'s hook after each kernel load: past ``config.loaded_kernel_limit`` loaded
    kernels, evict the least recently used specializations of every compiled function until
    the count is under it again, keeping the most recently used one (Note [bounded compile
    caches]). Caches whose function another thread is using are skipped this time."""
    limit = config.loaded_kernel_limit
    if limit is None or loaded <= limit or getattr(_ENFORCING, "on", False):
        return
    from ..codegen.jit import loaded_count

    _ENFORCING.on = True
    try:
        while loaded_count() > limit:
            if _evict_least_recently_used():
                _UNCOLLECTED[0] = True
            elif _UNCOLLECTED[0]:  # what was evicted may sit in reference cycles (grad_fn
                _UNCOLLECTED[0] = False  # classes): collected once per batch of evictions
                gc.collect()
            else:  # the rest is held by live objects (tensors' grad_fns, other callers)
                return
    finally:
        _ENFORCING.on = False


def _evict_least_recently_used() -> bool:
    """Evict the globally least recently used value (never the newest one); False if none
    could be (caches whose lock another thread holds are skipped: no waiting, no deadlock)."""
    stamps = [(stamp, c) for c in list(_CACHES) if (stamp := c.oldest_stamp()) is not None]
    if sum(len(c) for _, c in stamps) <= 1:
        return False
    for _, c in sorted(stamps, key=lambda s: s[0]):
        if c.lock.acquire(blocking=False):
            try:
                if len(c):
                    c.evict_oldest()
                    return True
            finally:
                c.lock.release()
    return False
