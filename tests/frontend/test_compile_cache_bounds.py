"""The bounded compile cache: per-function LRU, kernel unloading, the process-wide kernel cap."""

from __future__ import annotations

import gc
import os
import threading
import warnings
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from adjit.codegen import jit, shlib
from adjit.frontend.cache import LRU, config

import adjit

llvm_only = pytest.mark.skipif(
    adjit.frontend.backends.default_backend() != "llvm", reason="needs compiled kernels"
)


@pytest.fixture(autouse=True)
def _settings() -> Iterator[None]:
    """Each test starts with the documented defaults and leaves them as it found them."""
    saved = config.cache_size_limit, config.loaded_kernel_limit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # recompile warnings
        yield
    config.cache_size_limit, config.loaded_kernel_limit = saved


def compiled(fn: Callable[..., Any], limit: int | None = None) -> Any:
    cf = adjit.compile(fn, dynamic=False)  # every shape its own signature
    cf.cache_size_limit = limit
    return cf


def close(a: adjit.Tensor, b: adjit.Tensor) -> bool:
    """Compiled vs eager float32: a few ulps apart at most (vectorized math functions)."""
    return adjit.allclose(a, b, rtol=1e-6, atol=1e-6)


def x_of(n: int) -> adjit.Tensor:
    return adjit.arange(float(n)) / 7.0


def kernels_of(cf: Any) -> list[jit.CompiledKernel]:
    """The kernels every cached entry of ``cf`` holds (through its runners)."""
    out = []
    for entry in cf._entries.values():
        for plan in entry.plans.values():
            out += list(getattr(plan, "kernels", {}).values())
    return out


def loaded_files() -> list[str]:
    """The shared-library kernels mapped in this process (their files were unlinked)."""
    with open("/proc/self/maps") as f:
        return [line for line in f if "adjit-load-" in line]


# ---- the LRU itself ----------------------------------------------------------------------


def test_lru_evicts_the_least_recently_used_not_the_oldest_added() -> None:
    evicted: list[str] = []
    c: LRU[str, object] = LRU(lambda: 2, lambda k, v: evicted.append(k), threading.RLock())
    a, b, d = object(), object(), object()
    c["a"], c["b"] = a, b
    c.touch(a)  # a used after b was added
    c["d"] = d
    assert evicted == ["b"] and list(c) == ["a", "d"]
    assert c.holds(a) and not c.holds(b)
    c.touch(b)  # an evicted value: nothing happens
    assert list(c) == ["a", "d"]


def test_config_checks_its_values() -> None:
    assert config.cache_size_limit == 64 and config.loaded_kernel_limit == 4096
    with pytest.raises(TypeError, match="cache_size_limit must be a positive int or None"):
        config.cache_size_limit = 2.5
    with pytest.raises(ValueError, match="loaded_kernel_limit must be at least 1"):
        config.loaded_kernel_limit = 0
    with pytest.raises(AttributeError, match="no setting 'cache_limit'"):
        config.cache_limit = 3
    assert adjit.compiler.config is config


# ---- a compiled function's LRU ----------------------------------------------------------------


def test_least_recently_used_entry_goes_and_comes_back_by_tracing_again() -> None:
    f = compiled(lambda x: (x * 3).sin(), limit=2)
    a, b, c = x_of(3), x_of(4), x_of(5)
    for x in (a, a, b, a, a):  # a's trampoline hot; b called once: a's next call is a use
        f(x)
    assert f.trace_count == 2
    f(c)  # b is the least recently used: it goes, a stays
    assert f.trace_count == 3 and len(f._entries) == 2
    f(a)
    assert f.trace_count == 3
    out = f(b)  # evicted: traced again, and right
    assert f.trace_count == 4
    assert close(out, (b * 3).sin())
    assert len(f._entries) == 2 and len(f._fast) <= 2 and len(f._prepared) <= 2


def test_eviction_clears_every_table_pointing_at_the_entry() -> None:
    f = compiled(lambda x: x.exp() + 1, limit=1)
    a, b = x_of(6), x_of(7)
    f(a), f(a), f(a)  # a's trampoline written and hot
    assert f._hot is not None
    f(b)
    assert len(f._entries) == len(f._fast) == 1
    assert all(e.sig in f._entries for e in f._fast.values())
    assert set(f._prepared) <= set(f._fast) and f._seen <= set(f._fast)
    assert f._hot is None or f._hot in f._prepared.values()
    assert close(f(a), a.exp() + 1) and f.trace_count == 3


def test_process_wide_cache_size_limit_and_the_per_function_one() -> None:
    config.cache_size_limit = 3
    f = compiled(lambda x: x * 2 - 1)
    g = compiled(lambda x: x * 2 - 1, limit=5)  # its own limit wins
    for n in range(2, 9):
        f(x_of(n))
        g(x_of(n))
    assert len(f._entries) == 3 and len(g._entries) == 5
    config.cache_size_limit = None  # unbounded
    h = compiled(lambda x: x * 2 - 1)
    k = adjit.compile(lambda x: x * 2 - 1, dynamic=False, cache_size_limit=2)  # the keyword
    m = adjit.compile(adjit.nn.Tanh(), dynamic=False, cache_size_limit=1)  # a module's too
    for n in range(2, 9):
        h(x_of(n)), k(x_of(n)), m(x_of(n))
    assert len(h._entries) == 7 and len(k._entries) == 2 and len(m._compiled._entries) == 1
    with pytest.raises(ValueError, match="cache_size_limit must be at least 1, got 0"):
        adjit.compile(lambda x: x, cache_size_limit=0)


def test_recompile_limit_still_runs_new_signatures_eagerly() -> None:
    f = adjit.compile(lambda x: x + 1, dynamic=False, recompile_limit=2)
    f.cache_size_limit = 8
    for n in (2, 3, 4, 5):
        assert close(f(x_of(n)), x_of(n) + 1)
    assert f.trace_count == 2
    assert sum(e.eager_reason is not None for e in f._entries.values()) == 2


# ---- unloading -------------------------------------------------------------------------------


@llvm_only
def test_evicted_kernels_are_unloaded_and_their_mappings_go() -> None:
    f = compiled(lambda x: (x * 1.25).tanh() + 0.5, limit=1)
    a = x_of(11)
    f(a), f(a)
    (kernel,) = kernels_of(f)
    ref = weakref.ref(kernel)
    engine = kernel.engine
    del kernel
    shared = isinstance(engine, shlib.ctypes.CDLL)
    maps_before = loaded_files() if shared and os.path.exists("/proc/self/maps") else None
    loaded, unloads = jit.loaded_count(), jit.STATS["unloads"]
    del engine
    f(x_of(12))  # a evicted: its kernel is no longer held by anything
    assert ref() is None
    assert jit.STATS["unloads"] >= unloads + 1
    assert jit.loaded_count() <= loaded  # b's kernel loaded, a's unloaded
    if maps_before is not None:
        maps_after = loaded_files()
        assert len(maps_after) < len(maps_before) + 1  # b's added, a's gone
        gone = [line for line in maps_before if line not in maps_after]
        assert gone, "the evicted kernel's library is still mapped"
    assert close(f(a), (a * 1.25).tanh() + 0.5)  # back, from the disk cache


@llvm_only
def test_a_kernel_shared_by_two_functions_survives_eviction_from_one() -> None:
    def body(x: adjit.Tensor) -> adjit.Tensor:
        return (x * 0.75).cos() - 2

    f, g = compiled(body, limit=1), compiled(body, limit=1)
    a = x_of(13)
    f(a), g(a), g(a), g(a)  # g's trampoline is hot
    (kf,), (kg,) = kernels_of(f), kernels_of(g)
    assert kf is kg  # one loaded copy
    ref = weakref.ref(kf)
    del kf, kg
    f(x_of(14))  # evicts f's entry for a
    assert ref() is not None  # g still holds it
    for _ in range(3):
        assert close(g(a), body(a))
    g(x_of(15))  # now g's goes too
    assert ref() is None


@llvm_only
def test_other_entries_keep_running_while_one_is_evicted() -> None:
    f = compiled(lambda x: x.sqrt() * 3, limit=2)
    a, b = x_of(16), x_of(17)
    f(a), f(a), f(b), f(b)
    for n in range(18, 21):
        f(x_of(n))  # evicts a, then b, ...
        assert close(f(x_of(n)), x_of(n).sqrt() * 3)
    assert close(f(b), b.sqrt() * 3)


@llvm_only
def test_grad_fn_of_an_evicted_entry_keeps_its_backward_kernels() -> None:
    f = compiled(lambda x: (x * 1.5).sin().sum(), limit=1)
    a = x_of(9).requires_grad_()
    loss = f(a)
    f(x_of(10).requires_grad_())  # evicts a's entry; its backward program lives in loss
    gc.collect()
    loss.backward()
    expected = (a.detach() * 1.5).cos() * 1.5
    assert adjit.allclose(a.grad, expected, rtol=1e-6, atol=1e-6)


@llvm_only
def test_process_wide_kernel_limit_evicts_the_least_recently_used_entry_of_any_function() -> None:
    adjit.compiler.reset()
    f = compiled(lambda x: x * 5 + 1)
    g = compiled(lambda x: x * 6 + 1)
    h = compiled(lambda x: x * 7 + 1)
    a = x_of(21)
    f(a)
    base = jit.loaded_count() - 1  # what other live objects hold (never evictable here)
    g(a)
    f(a)  # f used after g
    config.loaded_kernel_limit = base + 2
    h(a)  # a third kernel: g's entry is the least recently used of all
    assert len(g._entries) == 0 and len(f._entries) == 1 and len(h._entries) == 1
    assert jit.loaded_count() <= base + 2
    assert close(g(a), a * 6 + 1)


def test_eviction_racing_a_call_in_another_thread() -> None:
    f = compiled(lambda x: (x + 1).square(), limit=1)
    xs = [x_of(n) for n in (22, 23, 24)]
    for x in xs:
        f(x)  # kernels in the disk and memory caches
    errors: list[BaseException] = []
    stop = threading.Event()

    def hammer(x: adjit.Tensor) -> None:
        try:
            while not stop.is_set():
                assert close(f(x), (x + 1).square())
        except BaseException as e:  # reported below
            errors.append(e)

    t = threading.Thread(target=hammer, args=(xs[0],))
    t.start()
    try:
        for _ in range(30):
            for x in xs[1:]:  # each call evicts the entry the other thread is running
                assert close(f(x), (x + 1).square())
    finally:
        stop.set()
        t.join()
    assert not errors, errors
    assert len(f._entries) == 1


@llvm_only
def test_reset_clears_every_table_and_unloads_the_kernels() -> None:
    f = compiled(lambda x: x.log1p() * 2)
    for n in (25, 26):
        x = x_of(n)
        f(x), f(x), f(x)
    refs = [weakref.ref(k) for k in kernels_of(f)]
    assert refs
    adjit.compiler.reset()
    assert not f._entries and not f._fast and not f._prepared and not f._seen
    assert f._hot is None and f.trace_count == 0
    assert all(r() is None for r in refs)
    assert close(f(x_of(25)), x_of(25).log1p() * 2) and f.trace_count == 1


def test_segment_plans_of_a_function_with_graph_breaks_are_bounded() -> None:
    from adjit.frontend.cache import SEGMENTS_PER_ENTRY

    seen: list[float] = []

    def g(x: adjit.Tensor) -> adjit.Tensor:
        y = (x * 2).exp()
        seen.append(y.sum().item())  # a graph break
        return y - 1

    f = compiled(g, limit=1)
    for n in range(2, 2 + 4 * SEGMENTS_PER_ENTRY):
        x = x_of(n)
        assert close(f(x), (x * 2).exp() - 1)
        assert close(f(x), (x * 2).exp() - 1)
    assert 0 < len(f._segments) <= SEGMENTS_PER_ENTRY
    assert len(f._entries) == 1


def test_every_dynamic_policy_gives_right_answers_under_eviction() -> None:
    for dynamic in (None, True, False):
        f = adjit.compile(lambda x: (x * 0.5).sigmoid() + x, dynamic=dynamic)
        f.cache_size_limit = 2
        for n in (3, 4, 5, 3, 6, 4, 7, 3):
            x = x_of(n)
            assert close(f(x), (x * 0.5).sigmoid() + x)
        assert len(f._entries) <= 2


@llvm_only
def test_kernel_limit_collects_what_evicted_training_entries_leave_in_cycles() -> None:
    adjit.compiler.reset()
    f = compiled(lambda x: (x * 1.75).sin().sum())
    base = jit.loaded_count()
    f(x_of(30).requires_grad_())  # forward and backward programs; the result dropped
    per_entry = jit.loaded_count() - base
    config.loaded_kernel_limit = base + 2 * per_entry
    gc.disable()  # what eviction frees through grad_fn classes needs the collector it runs
    try:
        for n in range(31, 37):
            f(x_of(n).requires_grad_())
            assert jit.loaded_count() <= base + 2 * per_entry
    finally:
        gc.enable()
    assert len(f._entries) <= 2
