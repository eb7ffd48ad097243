"""``torch.nn.modules.<file>`` import paths: the same classes as ``adjit.nn`` (identity), the
private bases programs subclass (``_Loss``, ``_BatchNorm``, ...) and ``modules.utils``'s
helpers, side by side with PyTorch."""

from __future__ import annotations

import importlib
from collections import OrderedDict
from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")

FILES = [
    "activation", "adaptive", "batchnorm", "channelshuffle", "container", "conv", "distance",
    "dropout", "flatten", "fold", "instancenorm", "lazy", "linear", "loss", "normalization",
    "padding", "pixelshuffle", "pooling", "rnn", "sparse", "transformer", "upsampling", "utils",
]  # fmt: skip
# PyTorch names of those files adjit does not have yet (each refused by a missing import)
NOT_YET = {
    "LinearCrossEntropyLoss", "LinearCrossEntropyOptions", "Container", "CrossMapLRN2d",
}  # fmt: skip
PRIVATE = {
    "loss": ["_Loss", "_WeightedLoss"],
    "conv": ["_ConvNd", "_ConvTransposeNd", "_LazyConvXdMixin"],
    "batchnorm": ["_BatchNorm", "_NormBase", "_LazyNormBase"],
    "instancenorm": ["_InstanceNorm"],
    "dropout": ["_DropoutNd"],
    "pooling": ["_AdaptiveAvgPoolNd", "_AdaptiveMaxPoolNd", "_AvgPoolNd", "_MaxPoolNd",
                "_LPPoolNd", "_MaxUnpoolNd"],
    "padding": ["_CircularPadNd", "_ConstantPadNd", "_ReflectionPadNd", "_ReplicationPadNd"],
    "utils": ["_ntuple", "_single", "_pair", "_triple", "_quadruple", "_reverse_repeat_tuple"],
}  # fmt: skip


@pytest.mark.parametrize("file", FILES)
def test_every_torch_name_of_the_file_is_there(file: str) -> None:
    theirs = importlib.import_module(f"torch.nn.modules.{file}")
    ours = importlib.import_module(f"adjit.nn.modules.{file}")
    want = [n for n in theirs.__all__ if n not in NOT_YET]
    assert [n for n in want if not hasattr(ours, n)] == []
    assert set(ours.__all__) == set(want)
    for name in want:  # the very class of adjit.nn, not a copy
        if hasattr(adjit.nn, name):
            assert getattr(ours, name) is getattr(adjit.nn, name), name
    for name in PRIVATE.get(file, []):
        assert hasattr(theirs, name) and hasattr(ours, name), name
    assert getattr(adjit.nn.modules, file) is ours


def test_the_package_exports_the_classes() -> None:
    import adjit.nn.modules as ours

    assert ours.Module is adjit.nn.Module and ours.MSELoss is adjit.nn.MSELoss
    assert ours.module.register_module_forward_hook is not None
    missing = [n for n in torch.nn.modules.__all__ if n not in NOT_YET and not hasattr(ours, n)]
    assert missing == []


def test_private_bases_are_the_bases() -> None:
    from adjit.nn.modules.batchnorm import _BatchNorm, _NormBase
    from adjit.nn.modules.conv import _ConvNd, _ConvTransposeNd
    from adjit.nn.modules.loss import _Loss, _WeightedLoss

    assert issubclass(adjit.nn.MSELoss, _Loss) and issubclass(adjit.nn.NLLLoss, _WeightedLoss)
    assert issubclass(adjit.nn.BatchNorm2d, _BatchNorm) and issubclass(_BatchNorm, _NormBase)
    assert issubclass(adjit.nn.ConvTranspose2d, _ConvTransposeNd)
    assert issubclass(adjit.nn.Conv2d, _ConvNd)


def _custom_losses(T: Any) -> Any:
    from importlib import import_module

    base = import_module(f"{T.__name__}.nn.modules.loss")

    class Weighted(base._WeightedLoss):
        def forward(self, a: Any, b: Any) -> Any:
            err = ((a - b) ** 2) * (self.weight if self.weight is not None else 1)
            return err.mean() if self.reduction == "mean" else err.sum()

    return Weighted


@pytest.mark.parametrize(
    "kwargs", [{}, {"reduction": "sum"}, {"size_average": False}, {"reduce": False}]
)
def test_a_custom_loss_on_weighted_loss(kwargs: dict[str, Any]) -> None:
    a = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    w = np.array([1.0, 2.0, 3.0], np.float32)
    out = []
    for T in (adjit, torch):
        loss = _custom_losses(T)(weight=T.tensor(w), **kwargs)
        out.append((loss.reduction, loss(T.tensor(a), T.zeros(2, 3)).item(), repr(loss)))
        assert [k for k, _ in loss.named_buffers()] == ["weight"]
    assert out[0][0] == out[1][0] and out[0][2] == out[1][2]
    assert out[0][1] == pytest.approx(out[1][1], rel=1e-6)


@pytest.mark.parametrize("name", ["_single", "_pair", "_triple", "_quadruple"])
@pytest.mark.parametrize("value", [3, (1, 2), [4, 5, 6], "ab"])
def test_ntuple_helpers(name: str, value: Any) -> None:
    from adjit.nn.modules import utils as ours

    theirs = torch.nn.modules.utils
    assert getattr(ours, name)(value) == getattr(theirs, name)(value)
    assert getattr(ours, name).__name__ == getattr(theirs, name).__name__
    assert ours._ntuple(5)(value) == theirs._ntuple(5)(value)
    assert ours._reverse_repeat_tuple((1, 2, 3), 2) == theirs._reverse_repeat_tuple((1, 2, 3), 2)


def test_consume_prefix_in_state_dict_if_present() -> None:
    from adjit.nn.modules import utils as ours

    results = []
    for consume in (ours.consume_prefix_in_state_dict_if_present,
                    torch.nn.modules.utils.consume_prefix_in_state_dict_if_present):  # fmt: skip
        sd: Any = OrderedDict([("module.a", 1), ("module.b.c", 2), ("other", 3)])
        sd._metadata = OrderedDict([("", {}), ("module", {}), ("module.b", {}), ("x", {})])
        consume(sd, "module.")
        results.append((list(sd.items()), list(sd._metadata)))
    assert results[0] == results[1]
