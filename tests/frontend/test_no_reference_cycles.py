"""Note [no recursive closures]: a compiled call's results are freed as soon as the caller
drops them (no reference cycle keeps them until the garbage collector runs), so the next
call reuses their buffers (Note [buffer reuse])."""

from __future__ import annotations

import gc
import weakref

from adjit.frontend.pytree import flatten, unflatten

import adjit


def test_flatten_and_unflatten_make_no_cycles():
    tree = {"a": (adjit.ones(2), [adjit.zeros(3)]), "b": adjit.ones(1)}
    gc.collect()
    gc.disable()
    try:
        before = len(gc.get_objects())
        for _ in range(50):
            leaves, spec = flatten(tree)
            unflatten(spec, leaves)
        del leaves, spec
        assert gc.collect() == 0
        assert len(gc.get_objects()) - before < 50
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
