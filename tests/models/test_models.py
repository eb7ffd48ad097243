"""adjit.models vs a plain torch.nn re-implementation: names, shapes, values, gradients, SGD."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import adjit
from adjit import nn

torch = pytest.importorskip("torch")
ref = pytest.importorskip("tests.models.torch_reference", reason="needs the torch reference")


def _shapes(sd: Any) -> list[tuple[str, tuple[int, ...], str]]:
    return [(k, tuple(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in sd.items()]


def _copy_weights(src: Any, dst: nn.Module) -> None:
    dst.load_state_dict({k: adjit.tensor(v.detach().numpy()) for k, v in src.state_dict().items()})


def _close(a: Any, t: Any, rtol: float = 2e-3, what: str = "") -> None:
    a = a.detach().numpy() if hasattr(a, "detach") else np.asarray(a)
    t = t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)
    scale = max(float(np.abs(t).max()), 1e-12)
    np.testing.assert_allclose(a, t, rtol=rtol, atol=rtol * scale, err_msg=what)


def test_resnet18_state_dict_names_and_shapes() -> None:
    with torch.device("meta"):
        t = ref.resnet18()
    a = adjit.models.resnet18()
    assert _shapes(a.state_dict()) == _shapes(t.state_dict())
    assert sum(p.numel() for p in a.parameters()) == 11_689_512


@pytest.mark.slow
def test_vgg16_state_dict_names_and_shapes() -> None:
    with torch.device("meta"):
        t = ref.vgg16()
    a = adjit.models.vgg16()
    assert _shapes(a.state_dict()) == _shapes(t.state_dict())
    assert sum(p.numel() for p in a.parameters()) == 138_357_544


def test_vgg16_names_from_its_parts() -> None:
    """The full VGG-16 allocates 138M parameters; its conv stack and head are checked here."""
    with torch.device("meta"):
        t = ref.vgg16()
    feats = adjit.models.vgg.make_layers(adjit.models.vgg.CFGS["D"])
    assert _shapes(feats.state_dict()) == _shapes(t.features.state_dict())
    assert repr(feats) == repr(t.features)
    assert repr(adjit.models.vgg16.__doc__) and "classifier.6.bias" in t.state_dict()


def test_weights_argument_is_refused() -> None:
    with pytest.raises(ValueError, match="adjit.load"):
        adjit.models.resnet18(weights="IMAGENET1K_V1")


# Note [float32 through a ResNet]: with batch 1, float32 rounding differences flip some max-pool
# argmax ties among ReLU zeros and are amplified by batch norm, so a few stem gradients differ by
# a few percent; in float64 every gradient matches to ~1e-13. Float32 compares the logits and the
# head; float64 compares everything.
@pytest.mark.parametrize("dtype,shape", [("float32", (1, 3, 64, 64)), ("float64", (2, 3, 32, 32))])
def test_resnet18_seed_example_matches_torch(dtype: str, shape: tuple[int, ...]) -> None:
    """Forward, backward, SGD step; then freeze, replace the head, train the head one step."""
    torch.manual_seed(0)
    t = ref.resnet18().to(getattr(torch, dtype))
    a = adjit.models.resnet18().to(getattr(adjit, dtype))
    _copy_weights(t, a)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    target = rng.standard_normal((shape[0], 1000)).astype(dtype)
    rtol = 1e-6 if dtype == "float64" else 2e-3  # batch-2 BN over 1x1 maps amplifies
    full = dtype == "float64"  # see Note [float32 through a ResNet]
    opt_t = torch.optim.SGD(t.parameters(), lr=1e-2, momentum=0.9)
    opt_a = adjit.optim.SGD(a.parameters(), lr=1e-2, momentum=0.9)

    ya, yt = a(adjit.tensor(x)), t(torch.tensor(x))
    _close(ya, yt, rtol, what="logits")
    la = nn.functional.mse_loss(ya, adjit.tensor(target))
    lt = torch.nn.functional.mse_loss(yt, torch.tensor(target))
    la.backward()
    lt.backward()
    _close(la, lt, rtol, what="loss")
    for (name, pa), pt in zip(a.named_parameters(), t.parameters(), strict=True):
        if full or name.startswith("fc."):
            _close(pa.grad, pt.grad, rtol, what=name)
    opt_a.step()
    opt_t.step()
    for name, v in a.state_dict().items():  # parameters after the step, running stats
        if full or name.startswith("fc.") or "running" in name or "num_batches" in name:
            _close(v, t.state_dict()[name], rtol, what=name)

    for p in a.parameters():
        p.requires_grad_(False)
    for p in t.parameters():
        p.requires_grad_(False)
    t.fc = torch.nn.Linear(512, 10).to(getattr(torch, dtype))
    a.fc = nn.Linear(512, 10).to(getattr(adjit, dtype))
    _copy_weights(t.fc, a.fc)
    head_a = adjit.optim.SGD(a.fc.parameters(), lr=1e-2, momentum=0.9)
    head_t = torch.optim.SGD(t.fc.parameters(), lr=1e-2, momentum=0.9)
    y10 = rng.standard_normal((shape[0], 10)).astype(dtype)
    nn.functional.mse_loss(a(adjit.tensor(x)), adjit.tensor(y10)).backward()
    torch.nn.functional.mse_loss(t(torch.tensor(x)), torch.tensor(y10)).backward()
    assert [n for n, p in a.named_parameters() if p.grad is not None and p.requires_grad] == [
        "fc.weight",
        "fc.bias",
    ]
    _close(a.fc.weight.grad, t.fc.weight.grad, rtol, what="head weight grad")
    _close(a.fc.bias.grad, t.fc.bias.grad, rtol, what="head bias grad")
    head_a.step()
    head_t.step()
    _close(a.fc.weight, t.fc.weight, rtol, what="head weight after step")


def test_resnet18_eval_forward_matches_torch_float64() -> None:
    t = ref.resnet18(num_classes=5).double().eval()
    a = adjit.models.resnet18(num_classes=5).double().eval()
    with torch.no_grad():  # non-trivial running statistics
        for m in t.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    _copy_weights(t, a)
    x = np.random.default_rng(1).standard_normal((1, 3, 32, 32))
    _close(a(adjit.tensor(x)), t(torch.tensor(x)), rtol=1e-9)


@pytest.mark.slow
def test_vgg16_forward_matches_torch() -> None:
    torch.manual_seed(0)
    t = ref.vgg16(num_classes=10).eval()
    a = adjit.models.vgg16(num_classes=10).eval()
    _copy_weights(t, a)
    x = np.random.default_rng(2).standard_normal((1, 3, 32, 32)).astype(np.float32)
    _close(a(adjit.tensor(x)), t(torch.tensor(x)))


@pytest.mark.slow
def test_compiled_resnet18_step_matches_torch_float64() -> None:
    """adjit.compile(resnet18): loss, every gradient and the SGD step equal PyTorch's."""
    torch.manual_seed(0)
    t = ref.resnet18(num_classes=10).double()
    a = adjit.models.resnet18(num_classes=10).double()
    _copy_weights(t, a)
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((2, 3, 32, 32)), rng.standard_normal((2, 10))
    lt = torch.nn.functional.mse_loss(t(torch.tensor(x)), torch.tensor(y))
    la = nn.functional.mse_loss(adjit.compile(a)(adjit.tensor(x)), adjit.tensor(y))
    lt.backward()
    la.backward()
    _close(la, lt, 1e-10, what="loss")
    for (name, pa), pt in zip(a.named_parameters(), t.parameters(), strict=True):
        _close(pa.grad, pt.grad, 1e-8, what=name)
    adjit.optim.SGD(a.parameters(), lr=1e-2, momentum=0.9).step()
    torch.optim.SGD(t.parameters(), lr=1e-2, momentum=0.9).step()
    for name, v in a.state_dict().items():
        _close(v, t.state_dict()[name], 1e-8, what=name)
