"""Module behaviour: registration, traversal, modes, hooks, errors, containers, freezing."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import adjit
import adjit.nn as nn
import adjit.nn.functional as F


def _error(lib: Any, code: str) -> tuple[type, str]:
    """The exception type name and message ``code`` raises with ``nn`` bound to ``lib.nn``."""
    env = {"nn": lib.nn, "torch": lib}
    try:
        exec(code, env)
    except Exception as e:  # noqa: BLE001 - the point is to capture whatever torch raises
        return type(e).__name__, str(e)
    raise AssertionError(f"no error from {code!r}")


ERRORS = [
    "nn.Linear(2, 2).nope",
    "m = nn.Linear(2, 2); m.weight = torch.zeros(2, 2)",
    "m = nn.Sequential(nn.ReLU()); m[0] = nn.ReLU(); m.add_module('a.b', nn.ReLU())",
    "nn.Linear(2, 2).add_module('', nn.ReLU())",
    "nn.Linear(2, 2).add_module('x', 3)",
    "nn.Linear(2, 2).register_parameter('w', torch.zeros(2))",
    "nn.Linear(2, 2).register_buffer('weight', torch.zeros(2))",
    "nn.Linear(2, 2).register_buffer('b.c', torch.zeros(2))",
    "m = nn.Linear(2, 2); m.register_buffer('buf', torch.zeros(2)); m.buf = 3",
    "nn.Sequential(nn.ReLU())[3]",
    "nn.Sequential(nn.Linear(2, 2)).get_submodule('0.weight')",
    "nn.Sequential(nn.Linear(2, 2)).get_submodule('1')",
    "nn.Module()(1)",
    "nn.Linear(2, 2).train('yes')",
    "nn.Dropout(1.5)",
    "nn.functional.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 5]))",
    "nn.functional.mse_loss(torch.zeros(2), torch.zeros(2), reduction='avg')",
    "nn.functional.binary_cross_entropy(torch.zeros(2), torch.zeros(3))",
    "nn.init.calculate_gain('swish')",
    "nn.init.xavier_uniform_(torch.zeros(3))",
    "torch.optim.SGD([], lr=0.1)",
    "torch.optim.SGD(nn.Linear(2, 2).weight, lr=0.1)",
    "torch.optim.Adam(nn.Linear(2, 2).parameters(), lr=-1)",
    "p = nn.Parameter(torch.zeros(2)); torch.optim.SGD([{'params': [p]}, {'params': [p]}])",
    "nn.Linear(2, 2).to('cuda')",  # Module.to checks the device as Tensor.to does
    "nn.Linear(2, 2).to(0, torch.float64)",
]


@pytest.mark.parametrize("code", ERRORS)
def test_errors_match_torch(code: str) -> None:
    torch = pytest.importorskip("torch")
    assert _error(adjit, code) == _error(torch, code)


def test_module_to_meta_refuses_as_tensor_to() -> None:
    """adjit has no meta tensors: Module.to('meta') refuses as Tensor.to('meta') does, rather
    than leaving the parameters on the CPU."""
    with pytest.raises(NotImplementedError, match="'META' backend"):
        nn.Linear(2, 2).to(device="meta")
    with pytest.raises(NotImplementedError, match="'META' backend"):
        adjit.zeros(2).to("meta")


def test_registration_and_traversal() -> None:
    shared = nn.Linear(2, 2)
    m = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(m.parameters())) == 2  # shared once
    assert [n for n, _ in m.named_parameters()] == ["0.weight", "0.bias"]
    assert len(list(m.named_parameters(remove_duplicate=False))) == 4
    assert [n for n, _ in m.named_modules()] == ["", "0", "1"]
    assert len(list(m.children())) == 2
    m.register_buffer("running", adjit.zeros(2))
    m.register_buffer("tmp", adjit.zeros(1), persistent=False)
    # torch's order (own entries, then children) and keys for every path to a shared module
    assert list(m.state_dict()) == ["running", "0.weight", "0.bias", "2.weight", "2.bias"]
    assert [n for n, _ in m.named_buffers()] == ["running", "tmp"]
    assert m.get_submodule("0") is shared and m.get_parameter("0.bias") is shared.bias
    del m.running
    assert "running" not in dict(m.named_buffers())
    assert not list(m.parameters(recurse=False))


def test_setattr_moves_between_tables_and_none_parameter() -> None:
    m = nn.Module()
    m.w = nn.Parameter(adjit.ones(2))
    m.w = None
    assert "w" in m._parameters and m.w is None
    m.sub = nn.ReLU()
    m.sub = None
    assert "sub" in m._modules and list(m.named_modules()) == [("", m)]
    m.plain = 3
    assert m.plain == 3 and "plain" in m.__dict__


def test_train_eval_and_dropout() -> None:
    m = nn.Sequential(nn.Dropout(0.5), nn.Sequential(nn.Dropout(0.2)))
    assert m.training and m[1][0].training
    m.eval()
    assert not m.training and not m[1][0].training
    x = adjit.ones(1000)
    assert m(x) is x
    m.train()
    adjit.manual_seed(0)
    y = m[0](x).numpy()
    assert set(np.unique(y)) <= {0.0, 2.0} and 400 < (y == 0).sum() < 600
    adjit.manual_seed(0)
    assert (m[0](x).numpy() == y).all()  # seeded from adjit's generator


def test_forward_hooks() -> None:
    m = nn.Linear(2, 2)
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))
    h2 = m.register_forward_hook(lambda mod, args, out: calls.append(out.shape) or out + 1)
    out = m(adjit.ones(3, 2))
    np.testing.assert_allclose(out.detach().numpy(), np.broadcast_to(m.bias.detach() + 1, (3, 2)))
    assert calls == [adjit.Size([3, 2])]
    h1.remove()
    h2.remove()
    assert m(adjit.zeros(1, 2)).shape == (1, 2) and len(calls) == 1


def test_zero_grad_semantics() -> None:
    m = nn.Linear(3, 1)
    m(adjit.ones(2, 3)).sum().backward()
    assert m.weight.grad is not None
    m.zero_grad(set_to_none=False)
    assert (m.weight.grad.numpy() == 0).all()
    m.zero_grad()
    assert m.weight.grad is None and m.bias.grad is None


def test_freeze_replace_last_layer_train_only_it() -> None:
    """The fine-tuning tutorial: freeze everything, swap the head, optimize the head only."""
    adjit.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    for p in model.parameters():
        p.requires_grad = False
    model[2] = nn.Linear(8, 2)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable == 8 * 2 + 2
    assert sum(p.numel() for p in model.parameters()) == 4 * 8 + 8 + 18
    frozen = model[0].weight.detach().numpy().copy()
    opt = adjit.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = adjit.randn(16, 4), adjit.randint(0, 2, (16,))
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert model[0].weight.grad is None and model[2].weight.grad is not None
    assert (model[0].weight.detach().numpy() == frozen).all()
    assert losses[-1] < losses[0]
    assert 0 not in opt.state_dict()["state"]  # the frozen weight never got state


def test_module_to_double_apply_requires_grad() -> None:
    m = nn.Sequential(nn.Linear(2, 2), nn.LayerNorm(2))
    w = m[0].weight
    m.to(adjit.float64)
    assert m[0].weight is w and w.dtype is adjit.float64
    assert m(adjit.ones(1, 2, dtype=adjit.float64)).dtype is adjit.float64
    m.float()
    assert w.dtype is adjit.float32
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen == ["Linear", "LayerNorm", "Sequential"]
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())


def test_containers() -> None:
    s = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    s.append(nn.Linear(3, 1))
    assert len(s) == 3 and isinstance(s[-1], nn.Linear)
    head = s[:2]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[0] is s[0]
    assert [type(m).__name__ for m in s] == ["Linear", "ReLU", "Linear"]
    del s[1]
    assert list(s._modules) == ["0", "1"] and s(adjit.ones(4, 2)).shape == (4, 1)
    ml = nn.ModuleList([nn.ReLU()])
    ml.append(nn.Tanh())
    ml += [nn.Sigmoid()]
    assert len(ml) == 3 and isinstance(ml[1:], nn.ModuleList)
    md = nn.ModuleDict({"a": nn.ReLU()})
    md["b"] = nn.Linear(1, 1)
    assert list(md) == ["a", "b"] and "b" in md and len(list(md.parameters())) == 2
    pl = nn.ParameterList([adjit.ones(2)])
    pl.append(nn.Parameter(adjit.zeros(3)))
    assert len(pl) == 2 and isinstance(pl[0], nn.Parameter)
    assert [n for n, _ in pl.named_parameters()] == ["0", "1"]


def test_init_functions() -> None:
    adjit.manual_seed(0)
    w = adjit.empty(200, 300)
    nn.init.kaiming_uniform_(w, a=5**0.5)
    assert abs(w.numpy()).max() <= 1 / 300**0.5
    nn.init.xavier_normal_(w)
    np.testing.assert_allclose(w.numpy().std(), (2 / 500) ** 0.5, rtol=0.05)
    nn.init.trunc_normal_(w, std=1.0, a=-0.5, b=0.5)
    assert abs(w.numpy()).max() <= 0.5
    for fn, value in ((nn.init.zeros_, 0.0), (nn.init.ones_, 1.0)):
        fn(w)
        assert (w.numpy() == value).all()
    p = nn.Parameter(adjit.zeros(3, 3))
    nn.init.normal_(p)
    assert p.grad_fn is None and p._version > 0


@pytest.mark.parametrize(
    "args",
    [("linear",), ("tanh",), ("relu",), ("leaky_relu", 0.2), ("selu",), ("sigmoid",), ("conv2d",)],
)
def test_calculate_gain_matches_torch(args: tuple) -> None:
    torch = pytest.importorskip("torch")
    assert nn.init.calculate_gain(*args) == torch.nn.init.calculate_gain(*args)


def test_clip_grad_utils_match_torch() -> None:
    torch = pytest.importorskip("torch")
    grads = [np.array([3.0, -4.0], np.float32), np.array([[1.0, 2.0]], np.float32)]
    pa = [nn.Parameter(adjit.zeros(*g.shape)) for g in grads]
    pt = [torch.nn.Parameter(torch.zeros(*g.shape)) for g in grads]
    for norm_type in (2.0, 1.0, float("inf")):
        for p, q, g in zip(pa, pt, grads, strict=True):
            p.grad, q.grad = adjit.tensor(g), torch.tensor(g)
        na = nn.utils.clip_grad_norm_(pa, 1.5, norm_type)
        nt = torch.nn.utils.clip_grad_norm_(pt, 1.5, norm_type)
        np.testing.assert_allclose(na.item(), nt.item(), rtol=1e-6)
        for p, q in zip(pa, pt, strict=True):
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-6)
    nn.utils.clip_grad_value_(pa, 0.1)
    assert abs(pa[0].grad.numpy()).max() <= 0.1
    vec = nn.utils.parameters_to_vector(pa)
    assert vec.shape == (4,)
    nn.utils.vector_to_parameters(adjit.arange(4.0), pa)
    assert pa[1].detach().numpy().tolist() == [[2.0, 3.0]]
