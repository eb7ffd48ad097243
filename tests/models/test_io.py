"""adjit.save/adjit.load: .npz round trips (names, order, dtypes) and torch.save checkpoints."""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

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


def test_save_one_tensor_and_refusals(tmp_path: Path) -> None:
    t = adjit.arange(6).reshape(2, 3)
    adjit.save(t, tmp_path / "t.npz")
    back = adjit.load(tmp_path / "t.npz")
    assert back.dtype == adjit.int64 and back.tolist() == t.tolist()
    with pytest.raises(TypeError, match="state_dict"):
        adjit.save(_model(), tmp_path / "m.npz")
    with pytest.raises(TypeError, match="flat mapping"):
        adjit.save({"a": {"b": 1}}, tmp_path / "m.npz")


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


def test_torch_checkpoint_without_torch(tmp_path: Path, monkeypatch: Any) -> None:
    (tmp_path / "w.pth").write_bytes(b"\x80\x02not a zip")
    real_import = builtins.__import__

    def no_torch(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "torch":
            raise ImportError("no torch")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    with pytest.raises(RuntimeError, match="needs PyTorch"):
        adjit.load(tmp_path / "w.pth")
