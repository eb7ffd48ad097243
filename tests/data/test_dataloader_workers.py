"""DataLoader with worker processes: the same batches as without workers and as PyTorch's
workers (seeding of ``random``, NumPy and the global generator per worker, worker_init_fn,
get_worker_info, persistent workers, IterableDataset sharding, errors and timeouts)."""

from __future__ import annotations

import random
import time
from typing import Any

import numpy as np
import pytest
from data_helpers import canon, libs

pytest.importorskip("torch")

INIT: list[int] = []  # set by worker_init_fn inside each worker process


def _record_init(worker_id: int) -> None:
    INIT.append(100 + worker_id)


class Draws:
    """A map-style dataset whose samples draw from every RNG a worker seeds and report the
    worker they were made in (``lib`` is adjit or torch)."""

    def __init__(self, lib: Any, data: Any, n: int = 12) -> None:
        self.lib, self.data, self.n = lib, data, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> Any:
        info = self.data.get_worker_info()
        who = (-1, -1, -1) if info is None else (info.id, info.num_workers, info.seed)
        return {
            "i": i,
            "rand": self.lib.rand(2),
            "py": random.random(),
            "np": np.random.rand(),
            "who": list(who),
            "init": list(INIT),
        }


@pytest.mark.parametrize("persistent", [True, False])
def test_workers_seed_and_report_as_torch(persistent: bool) -> None:
    """Same seed: same batches, same per-worker draws (global generator, ``random``, NumPy),
    same WorkerInfo, worker_init_fn run once per worker, over two epochs (persistent workers
    keep their seeds; new workers get a new base seed from the loader's generator)."""

    def program(lib: Any, data: Any) -> Any:
        g = lib.Generator()
        g.manual_seed(3)
        loader = data.DataLoader(
            Draws(lib, data), batch_size=2, shuffle=True, generator=g, num_workers=2,
            persistent_workers=persistent, worker_init_fn=_record_init, prefetch_factor=3,
        )  # fmt: skip
        return [list(loader), list(loader)]

    (a, ad), (t, td) = libs()
    ours = program(a, ad)
    assert canon(ours) == canon(program(t, td))
    assert INIT == []  # worker_init_fn ran in the workers only
    seen = {(int(b["who"][0][0]), int(b["who"][1][0]), int(b["init"][0][0])) for b in ours[1]}
    assert seen == {(0, 2, 100), (1, 2, 101)}


def test_iterable_dataset_sharded_by_worker_info_as_torch() -> None:
    def program(lib: Any, data: Any) -> Any:
        class Shards(data.IterableDataset):
            def __iter__(self) -> Any:
                info = data.get_worker_info()
                lo, hi = (0, 11) if info is None else [(0, 3), (3, 11)][info.id]
                return iter(range(lo, hi))

        out = [list(data.DataLoader(Shards(), batch_size=2, num_workers=2))]
        out += [list(data.DataLoader(Shards(), batch_size=2, num_workers=2, drop_last=True))]
        kept = data.DataLoader(Shards(), batch_size=2, num_workers=2, persistent_workers=True)
        out += [list(kept), list(kept)]
        return out + [list(data.DataLoader(Shards(), batch_size=None))]

    (a, ad), (t, td) = libs()
    assert canon(program(a, ad)) == canon(program(t, td))


def _train(lib: Any, data: Any, num_workers: int) -> list[float]:
    """Two epochs of SGD on a linear model, data shuffled by a seeded generator."""
    lib.manual_seed(0)
    x = lib.randn(48, 3)
    y = x @ lib.tensor([[1.0], [-2.0], [0.5]]) + 0.1 * lib.randn(48, 1)
    model = lib.nn.Linear(3, 1)
    opt = lib.optim.SGD(model.parameters(), lr=0.1)
    g = lib.Generator()
    g.manual_seed(1)
    loader = data.DataLoader(
        data.TensorDataset(x, y), batch_size=8, shuffle=True, generator=g,
        num_workers=num_workers,
    )  # fmt: skip
    losses = []
    for _ in range(2):
        for xb, yb in loader:
            loss = ((model(xb) - yb) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    return losses


def test_training_loss_curve_same_with_workers() -> None:
    """The same loss curve with 2 workers as with none, and as PyTorch's (same data, same
    initial weights, same batches; float32 rounding apart)."""
    (a, ad), (t, td) = libs()
    losses = _train(a, ad, 0)
    assert losses == _train(a, ad, 2)
    assert losses[-1] < losses[0] / 4  # the loop trains
    np.testing.assert_allclose(losses, _train(t, td, 0), rtol=1e-6)  # measured 1.1e-7


class Failing:
    def __init__(self, slow: bool) -> None:
        self.slow = slow

    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> Any:
        if i == 2 and not self.slow:
            raise KeyError("no such sample")
        if i == 1 and self.slow:
            time.sleep(0.6)
        return i


def test_worker_error_and_timeout_as_torch() -> None:
    def program(lib: Any, data: Any) -> Any:
        out: list[Any] = []
        for slow, workers, timeout in [(False, 2, 0), (True, 1, 0.2)]:
            it = iter(data.DataLoader(Failing(slow), None, num_workers=workers, timeout=timeout))
            try:
                list(it)
            except (KeyError, RuntimeError) as e:
                lines = str(e).splitlines()
                out.append([type(e).__name__, *lines[:2], lines[-1]])
            finally:  # now, not when a cycle through PyTorch's exception is collected
                it._shutdown_workers()
        return out

    (a, ad), (t, td) = libs()
    got, want = program(a, ad), program(t, td)
    assert got == want
    assert got[0][:2] == ["KeyError", "Caught KeyError in DataLoader worker process 0."]
    timed_out = "DataLoader timed out after 0.2 seconds"
    assert got[1] == ["RuntimeError", timed_out, timed_out]


def test_persistent_workers_restart_mid_epoch_as_torch() -> None:
    """A new epoch after a partial one resumes the persistent workers (stale prefetched
    batches dropped) and continues the generator's stream as PyTorch does."""

    def program(lib: Any, data: Any) -> Any:
        g = lib.Generator()
        g.manual_seed(4)
        loader = data.DataLoader(
            data.TensorDataset(lib.arange(20)), batch_size=3, shuffle=True, generator=g,
            num_workers=2, persistent_workers=True,
        )  # fmt: skip
        first = next(iter(loader))
        whole = list(loader)
        it = iter(loader)
        return [first, whole, next(it), next(it), list(loader)]

    (a, ad), (t, td) = libs()
    assert canon(program(a, ad)) == canon(program(t, td))
