"""A composite op's result is a view only of its argument, never of its own intermediates."""

import numpy as np
import pytest
import torch

import adjit
import adjit.nn.functional as AF

CASES = {  # name -> f(F, x): a composite whose decomposition ends in a reshape
    "max_pool2d": lambda F, x: F.max_pool2d(x, 2),
    "conv2d": lambda F, x: F.conv2d(x, x.new_ones(2, 1, 1, 1)),
    "interpolate": lambda F, x: F.interpolate(x, scale_factor=2),
    "group_norm": lambda F, x: F.group_norm(x, 1),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_inplace_relu_after_composite_matches_torch(name: str) -> None:
    """``nn.ReLU(inplace=True)`` after a pool or conv (the STN and VGG pattern) records and
    differentiates as in PyTorch instead of refusing as an in-place op on a view."""
    x = np.random.default_rng(0).standard_normal((1, 1, 4, 4)).astype(np.float32)
    grads = []
    for lib, F in ((torch, torch.nn.functional), (adjit, AF)):
        leaf = lib.tensor(x, requires_grad=True)
        y = CASES[name](F, leaf * 2)
        y.relu_()
        (y * y).sum().backward()
        grads.append(leaf.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-5, atol=1e-6)


def test_split_of_an_argument_stays_a_view() -> None:
    """A view of the composite's argument (unbind) keeps PyTorch's view check."""
    leaf = adjit.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="view of a leaf Variable"):
        leaf.unbind(0)[0].add_(1)


def test_compiled_inplace_relu_after_pool_matches_torch() -> None:
    """The spatial transformer's localization net (conv, max pool, ReLU(inplace=True)) compiles:
    the traced pool's result is not a view of its own reshape's input."""
    x = np.random.default_rng(1).standard_normal((2, 1, 8, 8)).astype(np.float32)
    tm = torch.nn.Sequential(
        torch.nn.Conv2d(1, 3, 3), torch.nn.MaxPool2d(2, 2), torch.nn.ReLU(True)
    )
    am = adjit.nn.Sequential(
        adjit.nn.Conv2d(1, 3, 3), adjit.nn.MaxPool2d(2, 2), adjit.nn.ReLU(True)
    )
    am.load_state_dict({k: adjit.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    want = tm(torch.tensor(x))
    got = adjit.compile(am, fullgraph=True)(adjit.tensor(x))
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-5, atol=1e-6)
    (want * want).sum().backward()
    (got * got).sum().backward()
    tw, aw = tm[0].weight.grad.numpy(), am[0].weight.grad.numpy()
    np.testing.assert_allclose(aw, tw, rtol=1e-4, atol=1e-5)


NOT_VIEWS = {  # ops PyTorch does not count as views, whose decomposition can end in one
    "repeat ones": lambda T, x: x.repeat(1, 1, 1, 1),
    "tile one": lambda T, x: x.tile(1),
    "pixel_shuffle 1": lambda T, x: T.nn.functional.pixel_shuffle(x, 1),
    "pixel_unshuffle to 1x1": lambda T, x: T.nn.functional.pixel_unshuffle(x, 2),
    "channel_shuffle 1": lambda T, x: T.nn.functional.channel_shuffle(x, 1),
    "repeat_interleave 1": lambda T, x: x.repeat_interleave(1, 0),
    "pad by nothing": lambda T, x: T.nn.functional.pad(x, (0, 0)),
    "cumsum of one": lambda T, x: x[:, :1].cumsum(1),
    "cumprod of one": lambda T, x: x[:, :1].cumprod(1),
    "logcumsumexp of one": lambda T, x: x[:, :1].logcumsumexp(1),
    "diff n=0": lambda T, x: T.diff(x, n=0),
    "flip no dims": lambda T, x: x.flip([]),
}


@pytest.mark.parametrize("name", sorted(NOT_VIEWS))
@pytest.mark.parametrize("grad", [False, True])
def test_inplace_on_a_new_tensor_leaves_the_input_alone(name: str, grad: bool) -> None:
    """Writing into the result changes neither the input nor the gradient: it was a silent
    write into the input when the decomposition's reshapes copied nothing."""
    if grad and name in ("cumprod of one", "logcumsumexp of one"):
        pytest.skip("PyTorch saves the result: its backward refuses after the in-place op")
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 2, 2)
    seen = []
    for lib in (torch, adjit):
        leaf = lib.tensor(x, requires_grad=grad)
        inp = leaf * 1
        y = NOT_VIEWS[name](lib, inp)
        y.add_(1)
        if grad:
            (y * y).sum().backward()
        seen.append((inp.detach().numpy().copy(), leaf.grad.numpy() if grad else None, y.shape))
    np.testing.assert_array_equal(seen[1][0], seen[0][0])
    assert tuple(seen[1][2]) == tuple(seen[0][2])
    if grad:
        np.testing.assert_allclose(seen[1][1], seen[0][1])
