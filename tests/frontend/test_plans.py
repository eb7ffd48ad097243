"""Train plans optimize and split on first use: ``value_and_grad`` runs one pipeline."""

from __future__ import annotations

import numpy as np
import pytest
from adjit.frontend import plans

import adjit


def _w1(x, y):  # type: ignore[no-untyped-def]
    return (x.sin() * y.exp() + x**2 * y - (x * y).tanh()).sum()


@pytest.fixture
def pipeline_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts pipeline runs: ``len(pipeline_runs)``."""
    runs: list[int] = []
    real = plans.run_pipeline

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        runs.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(plans, "run_pipeline", counted)
    return runs


def test_train_plan_optimizes_and_splits_on_first_use(pipeline_runs: list[int]) -> None:
    args = [adjit.tensor(np.linspace(-1, 1, 8, dtype=np.float32)) for _ in range(2)]
    g = adjit.explain(_w1, *args).graph
    pipeline_runs.clear()  # explain optimized the inference graph
    plan = plans.train_plan(g, (0, 1))
    assert not pipeline_runs and plan.joint.n_outputs == 1
    backward = plan.split.backward
    assert len(pipeline_runs) == 1
    assert plan.split.backward is backward and plan.records[-1].graph is plan.optimized_joint
    assert set(plan.timings) == {"adjoint", "optimize", "split"} and len(pipeline_runs) == 1


def test_value_and_grad_runs_the_pipeline_once(pipeline_runs: list[int]) -> None:
    x, y = (adjit.tensor(np.linspace(-1, 1, 8, dtype=np.float32) * s) for s in (1, 2))
    value, (gx, gy) = adjit.value_and_grad(_w1, argnums=(0, 1))(x, y)
    assert len(pipeline_runs) == 1  # the seeded joint graph's; the split is never made
    xs, ys = (t.numpy().astype(np.float64) for t in (x, y))
    want = np.cos(xs) * np.exp(ys) + 2 * xs * ys - ys * (1 - np.tanh(xs * ys) ** 2)
    np.testing.assert_allclose(gx.numpy(), want, rtol=1e-5, atol=1e-6)
    assert float(value.numpy()) == pytest.approx(float(_w1(x, y).numpy()), rel=1e-6)


def test_explain_reports_every_stage() -> None:
    x = adjit.tensor(np.ones(4, np.float32), requires_grad=True)
    ex = adjit.explain(lambda a: (a * a).sum(), x)
    assert {"adjoint", "optimize", "split"} <= set(ex.timings)
