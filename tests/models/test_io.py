"""adjit.save/adjit.load: state_dict round trips (names, order, dtypes), torch.save files."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

import adjit
from adjit import nn


def _model() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 2))


def test_state_dict_round_trip(tmp_path: Path) -> None:
    m = _model()
    m(adjit.randn(2, 3, 3, 3))  # non-trivial running stats and num_batches_tracked
    path = tmp_path / "weights"  # no suffix: the file keeps exactly this name
    adjit.save(m.state_dict(), path)
    assert path.exists()
    loaded = adjit.load(path)
    sd = m.state_dict()
    assert list(loaded) == list(sd)
    for k in sd:
        assert loaded[k].dtype == sd[k].dtype, k
        np.testing.assert_array_equal(loaded[k].numpy(), sd[k].detach().numpy())
    fresh = _model()
    fresh.load_state_dict(adjit.load(path))
    assert int(fresh[1].num_batches_tracked) == 1


def test_save_one_tensor_and_nested_structures(tmp_path: Path) -> None:
    t = adjit.arange(6).reshape(2, 3)
    adjit.save(t, tmp_path / "t.pt")
    back = adjit.load(tmp_path / "t.pt")
    assert back.dtype == adjit.int64 and back.tolist() == t.tolist()
    adjit.save({"a": {"b": 1, "c": [t, (2.5, None)]}}, tmp_path / "n.pt")
    back = adjit.load(tmp_path / "n.pt")
    assert back["a"]["b"] == 1 and back["a"]["c"][0].tolist() == t.tolist()
    assert back["a"]["c"][1] == (2.5, None)


def test_load_torch_checkpoint(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tm = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(), torch.nn.Linear(4, 2)
    )
    torch.save(tm.state_dict(), tmp_path / "w.pth")
    m = _model()
    m.load_state_dict(adjit.load(tmp_path / "w.pth"))
    x = np.random.default_rng(0).standard_normal((2, 3, 3, 3)).astype(np.float32)
    tm.eval(), m.eval()
    np.testing.assert_allclose(
        m(adjit.tensor(x)).detach().numpy(),
        tm(torch.tensor(x)).detach().numpy(),
        rtol=1e-5,
        atol=1e-6,  # float32 dot products: a near-zero output has no relative accuracy
    )


def test_not_a_checkpoint(tmp_path: Path) -> None:
    """A file that is no checkpoint fails as in PyTorch (the weights_only unpickler's error)."""
    torch = pytest.importorskip("torch")
    (tmp_path / "w.pth").write_bytes(b"\x80\x02not a zip")
    with pytest.raises(pickle.UnpicklingError) as mine:
        adjit.load(tmp_path / "w.pth")
    with pytest.raises(pickle.UnpicklingError) as theirs:
        torch.load(tmp_path / "w.pth", weights_only=True)
    assert str(mine.value) == str(theirs.value)
