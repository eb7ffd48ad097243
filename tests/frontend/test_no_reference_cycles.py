"""Note [no recursive closures]: a compiled call's results are freed as soon as the caller
drops them (no reference cycle keeps them until the garbage collector runs), so the next
call reuses their buffers (Note [buffer reuse])."""

from __future__ import annotations

import gc
import weakref

from adjit.frontend.pytree import flatten, unflatten

import adjit


class _Leaf:
    """A leaf whose lifetime a weak reference can watch."""


def test_flatten_and_unflatten_make_no_cycles():
    """After flatten and unflatten, dropping the tree frees its leaves at once: nothing in
    them (a recursive closure's cell) holds the leaves in a reference cycle."""
    gc.disable()
    try:
        leaf = _Leaf()
        ref = weakref.ref(leaf)
        leaves, spec = flatten({"a": (adjit.ones(2), [leaf]), "b": adjit.ones(1)})
        rebuilt = unflatten(spec, leaves)
        del leaf, leaves, rebuilt
        assert ref() is None
    finally:
        gc.enable()


def test_compiled_results_in_a_tree_are_freed_when_dropped():
    f = adjit.compile(lambda x: {"y": x * 2, "z": (x + 1, x.sum())})
    x = adjit.randn(1000)
    f(x)
    gc.disable()
    try:
        out = f(x)
        ref = weakref.ref(out["y"])
        del out
        assert ref() is None  # freed by reference counting alone
    finally:
        gc.enable()
