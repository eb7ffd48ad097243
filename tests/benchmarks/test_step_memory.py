"""benchmarks/step_memory (Note [step memory]) on a tiny transformer block: every contender
measures, adjit's pools count, the losses agree."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator

import pytest
from adjit.benchmarks import step_memory


def test_tiny_step_memory_table() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert step_memory.main(["--models", "tiny transformer", "--rounds", "1"]) == 0
    text = out.getvalue()
    rows = [line.split() for line in text.splitlines() if line.startswith("tiny transformer")]
    assert [r[2:4] for r in rows] == [["adjit", "compiled"], ["adjit", "eager"], ["torch", "eager"]]
    assert all("failed:" not in " ".join(r) for r in rows), text
    losses = {r[-1] for r in rows}
    assert len(losses) == 1, text  # the same weights and input: the same loss
    # (torch's tiny step may stay within pages already resident: a 0 peak has no ratio)
    assert rows[-1][-2] in ("1.00x", "-") and "thread(s) for every contender" in text


@pytest.fixture
def restored_threads() -> Iterator[None]:
    """``child`` runs in this process here: it sets every library's thread count (and the
    environment's) for the bench; put them back for the tests that follow."""
    from adjit.benchmarks import peers

    import adjit

    threads, settings, environ = adjit.get_num_threads(), dict(peers.SETTINGS), dict(os.environ)
    torch_threads = sys.modules["torch"].get_num_threads() if "torch" in sys.modules else None
    try:
        yield
    finally:
        adjit.set_num_threads(threads)
        peers.SETTINGS.update(settings)
        os.environ.clear()
        os.environ.update(environ)
        if torch_threads is not None:
            sys.modules["torch"].set_num_threads(torch_threads)


@pytest.mark.usefixtures("restored_threads")
def test_compiled_step_counts_its_pooled_buffers() -> None:
    r = step_memory.child("tiny transformer", "adjit compiled", 1, 1)
    assert r["pool"] >= step_memory.pooled_bytes() > 0  # the arena and the gradients' pools
    # the step's one arena (Note [one arena for a training step]) holds the gradients too
    # (Note [gradients in the step's arena] in runtime/joint_arena.py)
    assert 0 < r["arena"] <= r["pool"] and r["arena"] >= r["params"]
    assert r["peak"] >= r["pool"] and r["params"] == sum(
        n * 4 for n in (32 * 96, 96, 32 * 32, 32, 32, 32, 32, 32, 32 * 128, 128, 128 * 32, 32)
    )
    assert r["loss"] == pytest.approx(
        step_memory.child("tiny transformer", "torch eager", 1, 1)["loss"], rel=1e-5
    )
