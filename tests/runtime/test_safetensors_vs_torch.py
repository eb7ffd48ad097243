"""adjit.safetensors against safetensors.torch: files both ways, every dtype the format has, the
same refusals; without the package, an ImportError naming the extra."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import adjit
from adjit import safetensors as ast

torch = pytest.importorskip("torch")
st_torch = pytest.importorskip("safetensors.torch")

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32",
          "float64", "complex64"]  # fmt: skip


def _bits(t: object) -> np.ndarray:
    if isinstance(t, adjit.Tensor):
        return np.ascontiguousarray(t._data).reshape(-1).view(np.uint8)
    return t.contiguous().view(-1).view(torch.uint8).numpy()  # type: ignore[attr-defined]


@pytest.mark.parametrize("dtype", DTYPES)
def test_files_both_ways(tmp_path: Path, dtype: str) -> None:
    values = np.random.default_rng(1).standard_normal((2, 3)) * 50
    t = torch.tensor(values).to(getattr(torch, dtype))
    st_torch.save_file({"w": t, "s": torch.tensor(3.0)}, tmp_path / "t.safetensors")
    got = ast.load_file(tmp_path / "t.safetensors")
    assert str(got["w"].dtype) == str(t.dtype) and tuple(got["w"].shape) == (2, 3)
    np.testing.assert_array_equal(_bits(got["w"]), _bits(t))
    got["w"][0, 0] = got["w"][0, 1]  # writable, as safetensors.torch's tensors are
    ast.save_file({"w": got["w"]}, tmp_path / "a.safetensors", metadata={"format": "pt"})
    back = st_torch.load_file(tmp_path / "a.safetensors")
    np.testing.assert_array_equal(_bits(back["w"]), _bits(got["w"]))
    assert ast.load(ast.save({"w": got["w"]}))["w"].tolist() == got["w"].tolist()
    assert adjit.load(tmp_path / "t.safetensors")["s"].item() == 3.0  # as torch.load does


def test_same_refusals_as_safetensors_torch(tmp_path: Path) -> None:
    x = adjit.arange(6.0).reshape(2, 3)
    tx = torch.arange(6.0).reshape(2, 3)
    cases = [
        ({"a": x, "b": x[0]}, {"a": tx, "b": tx[0]}),  # memory shared
        ({"t": x.t()}, {"t": tx.t()}),  # not contiguous
        ({"n": 3}, {"n": 3}),  # not a tensor
    ]
    for mine, theirs in cases:
        with pytest.raises((RuntimeError, ValueError)) as e_mine:
            ast.save_file(mine, tmp_path / "x.safetensors")
        with pytest.raises((RuntimeError, ValueError)) as e_theirs:
            st_torch.save_file(theirs, tmp_path / "x.safetensors")
        assert type(e_mine.value) is type(e_theirs.value)
        if "share memory" in str(e_theirs.value):  # (the names print as a set: any order)
            assert "Some tensors share memory" in str(e_mine.value) and "'b'" in str(e_mine.value)
        else:
            assert str(e_mine.value) == str(e_theirs.value)
    # slices of one tensor that do not overlap may be saved (safetensors.torch allows it too)
    ast.save_file({"a": x[0], "b": x[1]}, tmp_path / "x.safetensors")
    assert ast.load_file(tmp_path / "x.safetensors")["b"].tolist() == [3.0, 4.0, 5.0]
    with pytest.raises(ValueError, match="complex128"):
        ast.save_file({"c": adjit.zeros(2, dtype=adjit.complex128)}, tmp_path / "x.safetensors")


WITHOUT_PACKAGE = """
import sys
sys.modules["safetensors"] = None  # as if not installed
import adjit, adjit.safetensors
try:
    adjit.safetensors.save_file({"w": adjit.ones(2)}, "never.safetensors")
except ImportError as e:
    print(e)
"""


def test_without_the_package() -> None:
    out = subprocess.run(
        [sys.executable, "-c", WITHOUT_PACKAGE], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out == [ast.NEEDS_PACKAGE]
    assert "pip install 'adjit[safetensors]'" in ast.NEEDS_PACKAGE


def _tied(nn: object) -> object:
    model = nn.Sequential(nn.Embedding(5, 3), nn.Linear(3, 5, bias=False))  # type: ignore[attr-defined]
    model[1].weight = model[0].weight  # (a language model's tied input/output embedding)
    return model


def test_save_model_and_load_model_tied_weights(tmp_path: Path) -> None:
    from safetensors import safe_open

    model, tmodel = _tied(adjit.nn), _tied(torch.nn)
    tmodel.load_state_dict({k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()})
    ast.save_model(model, tmp_path / "a.safetensors")
    st_torch.save_model(tmodel, tmp_path / "t.safetensors")
    files = []
    for name in ("a", "t"):
        with safe_open(tmp_path / f"{name}.safetensors", framework="np") as f:
            names = f.keys()  # (safe_open is not iterable)
            files.append((f.metadata(), {k: f.get_tensor(k).tolist() for k in names}))
    assert files[0] == files[1] and files[0][0] == {"1.weight": "0.weight"}
    fresh = _tied(adjit.nn)
    assert ast.load_model(fresh, tmp_path / "t.safetensors") == (set(), [])
    assert fresh[1].weight.tolist() == model[0].weight.tolist()
    untied = adjit.nn.Sequential(adjit.nn.Embedding(5, 3), adjit.nn.Linear(3, 5, bias=False))
    with pytest.raises(RuntimeError) as mine:
        ast.load_model(untied, tmp_path / "t.safetensors")
    untied_t = torch.nn.Sequential(torch.nn.Embedding(5, 3), torch.nn.Linear(3, 5, bias=False))
    with pytest.raises(RuntimeError) as theirs:
        st_torch.load_model(untied_t, tmp_path / "t.safetensors")
    assert str(mine.value) == str(theirs.value)
