"""nn.utils.prune side by side with PyTorch: the same masks (random ones too), names, hooks,
containers, global pruning, removal and errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")
pytest.importorskip("torch.nn.utils.prune")  # (PyTorch does not import it with torch.nn.utils)

PRUNINGS = {  # name -> prune(lib.nn.utils.prune, module): one or several prunings of a conv
    "random_unstructured": lambda P, m: P.random_unstructured(m, "weight", amount=0.3),
    "l1_unstructured": lambda P, m: P.l1_unstructured(m, "weight", amount=5),
    "l1 bias": lambda P, m: P.l1_unstructured(m, "bias", amount=1),
    "random_structured": lambda P, m: P.random_structured(m, "weight", amount=0.5, dim=0),
    "ln_structured": lambda P, m: P.ln_structured(m, "weight", amount=2, n=2, dim=0),
    "ln_structured inf dim 1": lambda P, m: P.ln_structured(m, "weight", 1, float("inf"), 1),
    "identity": lambda P, m: P.identity(m, "weight"),
    "custom_from_mask": lambda P, m: P.custom_from_mask(m, "bias", mask=m.bias.detach() > 0),
    "container": lambda P, m: (
        P.random_unstructured(m, "weight", amount=0.3),
        P.ln_structured(m, "weight", amount=0.5, n=2, dim=0),
        P.l1_unstructured(m, "weight", amount=3),
    ),
}


def _pruned(lib: Any, name: str) -> Any:
    lib.manual_seed(0)
    m = lib.nn.Conv2d(2, 4, 3)
    PRUNINGS[name](lib.nn.utils.prune, m)
    return m


@pytest.mark.parametrize("name", list(PRUNINGS))
def test_pruning_matches_torch(name: str) -> None:
    want, got = _pruned(torch, name), _pruned(adjit, name)
    assert list(got.state_dict()) == list(want.state_dict())
    assert [n for n, _ in got.named_parameters()] == [n for n, _ in want.named_parameters()]
    for k, v in want.state_dict().items():
        np.testing.assert_array_equal(got.state_dict()[k].numpy(), v.numpy(), err_msg=k)
    x = np.random.default_rng(0).standard_normal((1, 2, 5, 5)).astype(np.float32)
    tw, aw = want(torch.tensor(x)), got(adjit.tensor(x))
    np.testing.assert_allclose(aw.detach().numpy(), tw.detach().numpy(), rtol=1e-5, atol=1e-6)
    tw.sum().backward()
    aw.sum().backward()
    for (n, p), q in zip(want.named_parameters(), got.parameters(), strict=True):
        np.testing.assert_allclose(q.grad.numpy(), p.grad.numpy(), rtol=1e-5, atol=1e-6, err_msg=n)
    assert adjit.nn.utils.prune.is_pruned(got) == torch.nn.utils.prune.is_pruned(want)


def test_global_unstructured_and_remove_match_torch() -> None:
    out = []
    for lib in (torch, adjit):
        lib.manual_seed(0)
        m = lib.nn.Sequential(lib.nn.Linear(4, 3), lib.nn.Linear(3, 2))
        P = lib.nn.utils.prune
        P.global_unstructured([(m[0], "weight"), (m[1], "weight")], P.L1Unstructured, amount=0.4)
        P.remove(m[0], "weight")
        out.append((list(m.state_dict()), [v.numpy().copy() for v in m.state_dict().values()]))
        assert not P.is_pruned(m[0]) and P.is_pruned(m)
    assert out[1][0] == out[0][0]
    for a, t in zip(out[1][1], out[0][1], strict=True):
        np.testing.assert_array_equal(a, t)


ERRORS = [
    "P.l1_unstructured(nn.Linear(2, 2), 'weight', amount=5)",
    "P.l1_unstructured(nn.Linear(2, 2), 'weight', amount=1.5)",
    "P.l1_unstructured(nn.Linear(2, 2), 'weight', amount='a')",
    "P.remove(nn.Linear(2, 2), 'weight')",
    "P.ln_structured(nn.Linear(2, 2), 'bias', amount=1, n=2, dim=0)",
    "P.random_structured(nn.Linear(2, 2), 'weight', amount=1, dim=2)",
    "P.global_unstructured([(nn.Linear(2, 2), 'weight')], P.RandomStructured, amount=1)",
]


@pytest.mark.parametrize("code", ERRORS)
def test_errors_match_torch(code: str) -> None:
    def error(lib: Any) -> tuple[str, str]:
        try:
            exec(code, {"nn": lib.nn, "P": lib.nn.utils.prune})
        except Exception as e:  # noqa: BLE001 - whatever torch raises
            return type(e).__name__, str(e).replace("torch.", "").replace("adjit.", "")
        raise AssertionError(f"no error from {code!r}")

    assert error(adjit) == error(torch)
