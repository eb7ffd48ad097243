"""nn modules vs torch.nn: reprs, state_dict keys, loading torch weights, forward and backward."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
import pytest

import adjit
import adjit.nn as anm

torch = pytest.importorskip("torch")

# each entry is evaluated with ``nn`` bound to adjit.nn and to torch.nn
ARCHITECTURES = [
    "nn.Sequential(nn.Linear(3, 4), nn.ReLU())",
    "nn.Sequential(nn.Linear(3, 4, bias=False), nn.Tanh(), nn.Linear(4, 2), nn.Softmax(dim=1))",
    "nn.Sequential(OrderedDict(fc=nn.Linear(3, 4), act=nn.GELU(), out=nn.Linear(4, 2)))",
    "nn.Sequential(nn.Flatten(), nn.Linear(6, 5), nn.LayerNorm(5), nn.LeakyReLU(0.2),"
    " nn.Dropout(0.25), nn.Linear(5, 3), nn.LogSoftmax(dim=-1))",
    "nn.Sequential(nn.Linear(3, 3), nn.Sequential(nn.SiLU(), nn.Linear(3, 2)), nn.Sigmoid())",
    "nn.ModuleList([nn.Linear(2, 2) for _ in range(3)] + [nn.ReLU()])",
    "nn.ModuleDict({'a': nn.Linear(2, 3), 'b': nn.ELU(alpha=0.5)})",
    "nn.Sequential(nn.Embedding(10, 4, padding_idx=0), nn.Flatten(0), nn.Unflatten(0, (2, 8)))",
    "nn.Sequential(nn.Softplus(beta=2.0), nn.Hardtanh(-2.0, 2.0), nn.ReLU(inplace=True),"
    " nn.GELU(approximate='tanh'), nn.Mish(), nn.SELU(), nn.ReLU6(), nn.LogSigmoid(),"
    " nn.Identity())",
    "nn.Sequential(nn.LayerNorm((2, 3), elementwise_affine=False), nn.Bilinear(3, 3, 2))",
    "nn.Sequential(nn.MSELoss(), nn.L1Loss(reduction='sum'), nn.CrossEntropyLoss(),"
    " nn.NLLLoss(), nn.BCELoss(), nn.BCEWithLogitsLoss(), nn.SmoothL1Loss(), nn.HuberLoss())",
    "nn.ParameterList([nn.Parameter(torch.zeros(2, 3)), nn.Parameter(torch.zeros(4))])",
]


def build(src: str, lib: Any) -> Any:
    return eval(src, {"nn": lib.nn, "torch": lib, "OrderedDict": OrderedDict})


@pytest.mark.parametrize("src", ARCHITECTURES)
def test_repr_and_state_dict_keys_match_torch(src: str) -> None:
    a, t = build(src, adjit), build(src, torch)
    assert repr(a) == repr(t)
    assert list(a.state_dict()) == list(t.state_dict())
    assert [n for n, _ in a.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in a.named_modules()] == [n for n, _ in t.named_modules()]


def tutorial_net(lib: Any) -> Any:
    """The tutorial shape: layers as attributes, a buffer, a forward that composes them."""
    nn = lib.nn

    class TutorialNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.flatten = nn.Flatten()
            self.stack = nn.Sequential(
                nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 16), nn.LayerNorm(16), nn.GELU()
            )
            self.head = nn.Linear(16, 3)
            self.register_buffer("scale", lib.ones(3) * 2)

        def forward(self, x: Any) -> Any:
            return self.head(self.stack(self.flatten(x))) * self.scale

    return TutorialNet()


def _load_from_torch(a: Any, t: Any) -> None:
    state = OrderedDict((k, adjit.tensor(v.numpy())) for k, v in t.state_dict().items())
    result = a.load_state_dict(state)
    assert repr(result) == "<All keys matched successfully>"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_tutorial_net_loads_torch_weights_and_matches_forward_backward(dtype: str) -> None:
    a, t = tutorial_net(adjit), tutorial_net(torch)
    if dtype == "float64":
        a.double()
        t.double()
    _load_from_torch(a, t)
    x = np.random.default_rng(0).standard_normal((5, 3, 4)).astype(dtype)
    y = np.array([0, 2, 1, 1, 0])
    la = adjit.nn.functional.cross_entropy(a(adjit.tensor(x)), adjit.tensor(y))
    lt = torch.nn.functional.cross_entropy(t(torch.tensor(x)), torch.tensor(y))
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(la.item(), lt.item(), rtol=tol)
    la.backward()
    lt.backward()
    grads_t = dict(t.named_parameters())
    for name, p in a.named_parameters():
        assert p.dtype.name == dtype
        np.testing.assert_allclose(p.grad.numpy(), grads_t[name].grad.numpy(), rtol=1e-4, atol=tol)


def test_load_state_dict_errors_match_torch() -> None:
    a, t = anm.Linear(3, 2), torch.nn.Linear(3, 2)
    bad = {"weight": np.zeros((2, 4), np.float32), "extra": np.zeros(1, np.float32)}
    messages = []
    for mod, lib in ((a, adjit), (t, torch)):
        with pytest.raises(RuntimeError) as info:
            mod.load_state_dict({k: lib.tensor(v) for k, v in bad.items()})
        messages.append(str(info.value))
    assert messages[0] == messages[1]
    result = a.load_state_dict({"weight": adjit.zeros(2, 3)}, strict=False)
    assert result.missing_keys == ["bias"] and result.unexpected_keys == []
    assert (a.weight.detach().numpy() == 0).all()


def test_parameter_repr_and_identity() -> None:
    data = np.array([[1.0, 2.5], [-3.0, 4.0]], np.float32)
    pa, pt = anm.Parameter(adjit.tensor(data)), torch.nn.Parameter(torch.tensor(data))
    assert repr(pa) == repr(pt)
    frozen = (
        anm.Parameter(adjit.tensor(data), requires_grad=False),
        torch.nn.Parameter(torch.tensor(data), requires_grad=False),
    )
    assert repr(frozen[0]) == repr(frozen[1])
    assert isinstance(pa, adjit.Tensor) and pa.is_leaf and pa.requires_grad
    assert type(pa * 2) is adjit.Tensor and type(pa.detach()) is adjit.Tensor


def test_modules_print_like_torch_when_nested() -> None:
    a, t = tutorial_net(adjit), tutorial_net(torch)
    assert repr(a) == repr(t)
    assert str(a) == str(t)
