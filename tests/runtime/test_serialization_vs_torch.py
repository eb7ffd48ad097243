"""adjit.save/adjit.load against torch.save/torch.load: PyTorch's file format both ways (bytes,
checkpoints, storage sharing, strides, dtypes), weights_only refusals, map_location, mmap."""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import adjit
from adjit import serialization_zip
from adjit.serialization_pickler import TorchPickler
from adjit.serialization_zip import ZipWriter

torch = pytest.importorskip("torch")

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32",
          "float64", "complex64", "complex128"]  # fmt: skip


def _records(data: bytes) -> list[tuple[str, int, bytes]]:
    """Each record's name, header offset and bytes, the serialization id blanked (random)."""
    z = zipfile.ZipFile(io.BytesIO(data))
    out = []
    for info in z.infolist():
        body = z.read(info)
        out.append((info.filename, info.header_offset, b"" if "serialization_id" in info.filename
                    else body))  # fmt: skip
    return out


def _same_bits(a: Any, t: Any) -> None:
    """An adjit tensor and a torch tensor hold the same dtype, shape, strides and bits."""
    assert str(a.dtype) == str(t.dtype)
    assert tuple(a.shape) == tuple(t.shape)
    assert a.stride() == t.stride() or t.numel() == 0  # (adjit's empty tensors say (0, 0))
    bits = torch.empty(t.numel(), dtype=t.dtype).copy_(t.detach().reshape(-1)).view(torch.uint8)
    mine = np.array(a._data, order="C").reshape(-1).view(np.uint8)  # (fresh copies: no strides)
    np.testing.assert_array_equal(mine, bits.numpy())


def _sample(m: Any) -> dict[str, Any]:
    """One object built the same way with adjit or torch as ``m``."""
    x = m.arange(12.0).reshape(3, 4)
    return {
        "a": x,
        "t": x.t(),
        "strided": x[1:, ::2],
        "row": x[2],
        "p": m.nn.Parameter(m.ones(2, dtype=m.float64)),
        "items": [1, 2.5, "z", None, True, -(2**40), (m.zeros(2, dtype=m.int64),)],
        "size": m.Size([1, 2]),
        "dtype": m.bfloat16,
        "complex": m.tensor([1 + 2j, -0.5j]),
        "half": m.full((2, 2), 1.5, dtype=m.bfloat16),
        "mask": m.tensor([True, False]),
        "empty": m.zeros(0, 3),
        "scalar": m.tensor(7),
        "nested": OrderedDict(k={"deep": [x[0, 1:3]]}),
    }


@pytest.mark.parametrize("path", [False, True])
def test_file_is_byte_for_byte_torch_save(tmp_path: Path, path: bool) -> None:
    """The same object saved by both gives the same archive: records, offsets, bytes."""
    files = []
    for lib in (adjit, torch):
        target: Any = tmp_path / f"ckpt_{lib.__name__}.v1.pt" if path else io.BytesIO()
        lib.save(_sample(lib), target)
        data = target.read_bytes() if path else target.getvalue()
        records = [(n.split("/", 1)[1], off, b) for n, off, b in _records(data)]
        files.append((len(data), records))
    assert files[0] == files[1]
    if path:
        prefix = zipfile.ZipFile(tmp_path / "ckpt_adjit.v1.pt").namelist()[0].split("/")[0]
        assert prefix == "ckpt_adjit.v1"  # the file's name without its extension, as torch's


def test_torch_reads_what_adjit_saves() -> None:
    buf = io.BytesIO()
    adjit.save(_sample(adjit), buf)
    buf.seek(0)
    got = torch.load(buf, weights_only=True)
    want = _sample(torch)
    for k in ("a", "t", "strided", "row", "complex", "half", "mask", "empty", "scalar"):
        _same_bits(_sample(adjit)[k], got[k])
        assert torch.equal(got[k], want[k]), k
    assert type(got["p"]) is torch.nn.Parameter and got["p"].requires_grad
    assert got["items"][:6] == want["items"][:6] and got["items"][6][0].dtype == torch.int64
    assert got["size"] == torch.Size([1, 2]) and got["dtype"] is torch.bfloat16
    assert type(got["nested"]) is OrderedDict
    # views of one tensor share one storage, at PyTorch's offsets and strides
    base = got["a"].untyped_storage().data_ptr()
    for k in ("t", "strided", "row"):
        assert got[k].untyped_storage().data_ptr() == base, k
        assert got[k].storage_offset() == want[k].storage_offset(), k
    got["a"][2, 0] = -1
    assert got["row"][0] == -1 and got["nested"]["k"]["deep"][0].tolist() == [1.0, 2.0]


def test_adjit_reads_what_torch_saves() -> None:
    buf = io.BytesIO()
    torch.save(_sample(torch), buf)
    buf.seek(0)
    got = adjit.load(buf)
    want = _sample(torch)
    for k in ("a", "t", "strided", "row", "complex", "half", "mask", "empty", "scalar"):
        _same_bits(got[k], want[k])
    assert type(got["p"]) is adjit.nn.Parameter and got["p"].requires_grad
    assert got["items"][:6] == want["items"][:6] and got["items"][6][0].dtype is adjit.int64
    assert got["size"] == adjit.Size([1, 2]) and type(got["size"]) is adjit.Size
    assert got["dtype"] is adjit.bfloat16 and type(got["nested"]) is OrderedDict
    got["a"][2, 1] = -5  # the views share its memory, as PyTorch's do
    assert got["row"][1].item() == -5 and got["t"][1, 2].item() == -5
    assert got["strided"][1, 0].item() == 8  # (the element at [2, 0] is untouched)


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_dtype_both_ways(dtype: str) -> None:
    rng = np.random.default_rng(0)
    values = rng.standard_normal((3, 5)) * 100
    t = torch.tensor(values).to(getattr(torch, dtype))
    if dtype.startswith("complex"):
        t = t + 1j * torch.tensor(values[::-1].copy()).to(getattr(torch, dtype))
    t = t[:, 1::2]  # non-contiguous
    buf = io.BytesIO()
    torch.save({"w": t}, buf)
    buf.seek(0)
    a = adjit.load(buf)["w"]
    _same_bits(a, t)
    buf = io.BytesIO()
    adjit.save({"w": a}, buf)
    buf.seek(0)
    back = torch.load(buf, weights_only=True)["w"]
    _same_bits(a, back)
    assert back.stride() == t.stride() and back.storage_offset() == t.storage_offset()


def _model(nn: Any) -> Any:
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))


def test_checkpoint_adjit_to_torch_and_back(tmp_path: Path) -> None:
    """A training checkpoint (model, optimizer, epoch, RNG state) made by adjit loads into
    PyTorch's model and optimizer, and PyTorch's reads back into adjit's."""
    adjit.manual_seed(0)
    model = _model(adjit.nn)
    opt = adjit.optim.Adam(model.parameters(), lr=0.01)
    x = adjit.randn(5, 3)
    model(x).square().sum().backward()
    opt.step()
    ckpt = {"epoch": 3, "model": model.state_dict(), "optim": opt.state_dict(),
            "rng": adjit.get_rng_state()}  # fmt: skip
    adjit.save(ckpt, tmp_path / "ckpt.pt")
    got = torch.load(tmp_path / "ckpt.pt", weights_only=True)
    assert got["epoch"] == 3 and got["rng"].dtype == torch.uint8
    np.testing.assert_array_equal(got["rng"].numpy(), ckpt["rng"].numpy())
    tmodel = _model(torch.nn)
    tmodel.load_state_dict(got["model"])
    topt = torch.optim.Adam(tmodel.parameters(), lr=0.01)
    topt.load_state_dict(got["optim"])
    assert topt.state_dict()["param_groups"] == got["optim"]["param_groups"]
    for k, v in model.state_dict().items():
        _same_bits(v, tmodel.state_dict()[k])
    model.eval(), tmodel.eval()
    np.testing.assert_allclose(  # same weights (bit for bit, above); float32 sums may round apart
        model(x).detach().numpy(),
        tmodel(torch.tensor(x.numpy())).detach().numpy(),
        rtol=1e-6,
        atol=1e-7,
    )
    # and PyTorch's checkpoint of that state back into adjit
    torch.save({"model": tmodel.state_dict(), "optim": topt.state_dict()}, tmp_path / "t.pt")
    back = adjit.load(tmp_path / "t.pt")
    fresh = _model(adjit.nn)
    fresh.load_state_dict(back["model"])
    for k, v in tmodel.state_dict().items():
        _same_bits(fresh.state_dict()[k], v)
    assert back["optim"]["param_groups"] == got["optim"]["param_groups"]
    for i, state in topt.state_dict()["state"].items():
        for name, value in state.items():
            _same_bits(back["optim"]["state"][i][name], value)


def _train(model: Any, opt: Any, steps: int) -> None:
    for _ in range(steps):
        opt.zero_grad()
        x = adjit.randn(4, 3)  # drawn from the global generator: its state is checkpointed too
        adjit.nn.functional.dropout(model(x), 0.3).square().sum().backward()
        opt.step()


def test_training_resumes_step_for_step(tmp_path: Path) -> None:
    """Stopping after 3 steps, saving, and resuming in fresh objects gives bit for bit the run
    that never stopped (weights, Adam's moments and step, the RNG stream)."""
    adjit.manual_seed(0)
    model = _model(adjit.nn)
    opt = adjit.optim.Adam(model.parameters(), lr=0.01)
    _train(model, opt, 3)
    adjit.save({"model": model.state_dict(), "optim": opt.state_dict(),
                "rng": adjit.get_rng_state()}, tmp_path / "c.pt")  # fmt: skip
    _train(model, opt, 2)
    fresh = _model(adjit.nn)
    fresh_opt = adjit.optim.Adam(fresh.parameters(), lr=0.01)
    ckpt = adjit.load(tmp_path / "c.pt")
    fresh.load_state_dict(ckpt["model"])
    fresh_opt.load_state_dict(ckpt["optim"])
    adjit.set_rng_state(ckpt["rng"])
    _train(fresh, fresh_opt, 2)
    for (k, a), b in zip(model.state_dict().items(), fresh.state_dict().values(), strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)
    # adjit's RNG state is PyTorch's: restored into torch, it draws what adjit draws
    torch.set_rng_state(torch.load(tmp_path / "c.pt", weights_only=True)["rng"])
    adjit.set_rng_state(ckpt["rng"])
    assert torch.rand(5).tolist() == adjit.rand(5).tolist()


def test_parameter_and_requires_grad_kept() -> None:
    w = adjit.nn.Parameter(adjit.ones(2))
    frozen = adjit.nn.Parameter(adjit.ones(2), requires_grad=False)
    leaf = adjit.zeros(3).requires_grad_()
    buf = io.BytesIO()
    adjit.save([w, frozen, leaf, w], buf)
    buf.seek(0)
    t = torch.load(buf, weights_only=True)
    assert [type(v).__name__ for v in t] == ["Parameter", "Parameter", "Tensor", "Parameter"]
    assert [v.requires_grad for v in t] == [True, False, True, True] and t[0] is t[3]
    buf.seek(0)
    a = adjit.load(buf)
    assert [type(v).__name__ for v in a] == ["Parameter", "Parameter", "Tensor", "Parameter"]
    assert [v.requires_grad for v in a] == [True, False, True, True] and a[0] is a[3]


def test_views_as_other_dtypes_refused_as_torch() -> None:
    x = adjit.ones(4)
    with pytest.raises(RuntimeError) as mine:
        adjit.save([x, x.view(adjit.int32)], io.BytesIO())
    tx = torch.ones(4)
    with pytest.raises(RuntimeError) as theirs:
        torch.save([tx, tx.view(torch.int32)], io.BytesIO())
    assert str(mine.value) == str(theirs.value)


def test_legacy_format_both_ways(tmp_path: Path) -> None:
    torch.save(_sample(torch), tmp_path / "old.pt", _use_new_zipfile_serialization=False)
    got = adjit.load(tmp_path / "old.pt")
    for k in ("a", "t", "strided", "row", "complex", "half", "mask"):
        _same_bits(got[k], _sample(torch)[k])
    got["a"][2, 1] = -5
    assert got["row"][1].item() == -5
    adjit.save(_sample(adjit), tmp_path / "mine.pt", _use_new_zipfile_serialization=False)
    back = torch.load(tmp_path / "mine.pt", weights_only=True)
    for k in ("a", "t", "strided", "row"):
        assert torch.equal(back[k], _sample(torch)[k]), k
    with pytest.raises(RuntimeError, match="mmap can only be used with files saved with"):
        adjit.load(tmp_path / "old.pt", mmap=True)


def test_pickle_protocols(tmp_path: Path) -> None:
    for protocol in (2, 3, 4, 5):
        buf = io.BytesIO()
        adjit.save({"x": adjit.arange(3), "s": "text"}, buf, pickle_protocol=protocol)
        buf.seek(0)
        assert torch.equal(torch.load(buf, weights_only=protocol == 2)["x"], torch.arange(3))
        buf = io.BytesIO()
        torch.save({"x": torch.arange(3), "s": "text"}, buf, pickle_protocol=protocol)
        buf.seek(0)
        with pytest.warns(UserWarning) if protocol != 2 else _no_warning():
            assert adjit.load(buf)["x"].tolist() == [0, 1, 2]


class _no_warning:
    def __enter__(self) -> None:
        pass

    def __exit__(self, *a: Any) -> None:
        pass


def test_zip64_records(monkeypatch: Any) -> None:
    """Records past the 4 GiB limit take zip64 fields (the limit lowered to reach it here)."""
    monkeypatch.setattr(serialization_zip, "ZIP64_LIMIT", 100)
    buf = io.BytesIO()
    obj = {"big": adjit.arange(50.0), "small": adjit.ones(2)}
    adjit.save(obj, buf)
    buf.seek(0)
    z = zipfile.ZipFile(buf)
    assert z.testzip() is None
    buf.seek(0)
    got = torch.load(buf, weights_only=True)
    assert torch.equal(got["big"], torch.arange(50.0))
    buf.seek(0)
    assert adjit.load(buf)["big"].tolist() == list(range(50))


# ---- weights_only: files that try to run code -------------------------------------------------
class _Evil:
    """Unpickling it calls ``func(*args)`` (what a malicious checkpoint does)."""

    def __init__(self, func: Any, *args: Any) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> Any:
        return (self.func, self.args)


def _zip_with_pickle(data: bytes) -> bytes:
    out = io.BytesIO()
    z = ZipWriter(out, "archive")
    z.record("data.pkl", data)
    z.record("version", b"3\n")
    z.finish()
    return out.getvalue()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("kind", ["os.system", "eval", "subprocess"])
def test_malicious_file_refused_without_running(tmp_path: Path, kind: str) -> None:
    marker = tmp_path / "pwned"
    payload = {
        "os.system": {"w": _Evil(os.system, f"touch {marker}")},
        "eval": [_Evil(eval, f"open({str(marker)!r}, 'w')")],
        "subprocess": _Evil(subprocess.call, ["touch", str(marker)]),
    }[kind]
    for protocol in (2, 4):
        data = _zip_with_pickle(pickle.dumps(payload, protocol=protocol))
        path = tmp_path / "evil.pt"
        path.write_bytes(data)
        with pytest.raises(pickle.UnpicklingError) as mine:
            adjit.load(path)
        assert not marker.exists()
        assert "Weights only load failed" in str(mine.value)
        if protocol == 2:
            with pytest.raises(pickle.UnpicklingError) as theirs:
                torch.load(path, weights_only=True)
            assert str(mine.value) == str(theirs.value)
    assert not marker.exists()
    # the legacy format is guarded alike
    buf = io.BytesIO()
    for header in (0x1950A86A20F9469CFC6C, 1001, {}):
        pickle.dump(header, buf, protocol=2)
    pickle.dump(payload, buf, protocol=2)
    buf.seek(0)
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        adjit.load(buf)
    assert not marker.exists()


def test_blocked_global_message_matches_torch(tmp_path: Path) -> None:
    data = _zip_with_pickle(b"\x80\x02cposix\nsystem\nX\x02\x00\x00\x00ls\x85R.")
    (tmp_path / "f.pt").write_bytes(data)
    with pytest.raises(pickle.UnpicklingError) as mine:
        adjit.load(tmp_path / "f.pt")
    with pytest.raises(pickle.UnpicklingError) as theirs:
        torch.load(tmp_path / "f.pt", weights_only=True)
    assert str(mine.value) == str(theirs.value) and "is blocked" in str(mine.value)


def test_storage_out_of_bounds_refused() -> None:
    """A crafted tensor reaching past its storage is refused, not read from other memory."""

    class Liar(TorchPickler):
        def reducer_override(self, obj: Any) -> Any:
            rv = super().reducer_override(obj)
            if isinstance(obj, adjit.Tensor):
                fn, (storage, _, size, stride, *rest) = rv
                return fn, (storage, 2, (1000,), (1,), *rest)
            return rv

    buf = io.BytesIO()
    pickler = Liar(buf, 2)
    pickler.dump(adjit.ones(4))
    out = io.BytesIO()
    z = ZipWriter(out, "archive")
    z.record("data.pkl", buf.getvalue())
    for s in pickler.storages.values():
        z.record(f"data/{s.key}", memoryview(s.data))
    z.finish()
    with pytest.raises(RuntimeError, match="out of bounds for storage of size 16"):
        adjit.load(io.BytesIO(out.getvalue()))


def test_safe_globals_allowlist() -> None:
    buf = io.BytesIO()
    adjit.save({"c": complex(1, 2), "s": {1, 2}, "b": b"\x00\xff", "ba": bytearray(b"x")}, buf)
    buf.seek(0)
    assert adjit.load(buf) == {"c": 1 + 2j, "s": {1, 2}, "b": b"\x00\xff", "ba": bytearray(b"x")}
    buf = io.BytesIO()
    adjit.save({"when": _Point(1, 2)}, buf)
    buf.seek(0)
    with pytest.raises(pickle.UnpicklingError, match="add_safe_globals"):
        adjit.load(buf)
    buf.seek(0)
    with adjit.serialization.safe_globals([_Point]):
        assert adjit.load(buf)["when"] == _Point(1, 2)
    assert adjit.serialization.get_safe_globals() == []
    buf.seek(0)
    assert adjit.load(buf, weights_only=False)["when"] == _Point(1, 2)


class _Point:
    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Point) and (self.x, self.y) == (other.x, other.y)


def test_whole_module_needs_weights_only_false() -> None:
    model = _model(adjit.nn)
    buf = io.BytesIO()
    adjit.save(model, buf)
    buf.seek(0)
    with pytest.raises(pickle.UnpicklingError, match="GLOBAL adjit.nn"):
        adjit.load(buf)
    buf.seek(0)
    back = adjit.load(buf, weights_only=False)
    assert type(back) is type(model) and back[0].weight.tolist() == model[0].weight.tolist()


# ---- map_location and mmap ---------------------------------------------------------------
def _saved_on(location: str) -> bytes:
    class OnDevice(TorchPickler):
        def persistent_id(self, obj: Any) -> Any:
            pid = super().persistent_id(obj)
            return None if pid is None else (*pid[:3], location, pid[4])

    buf = io.BytesIO()
    pickler = OnDevice(buf, 2)
    pickler.dump({"w": adjit.arange(3.0)})
    out = io.BytesIO()
    z = ZipWriter(out, "archive")
    z.record("data.pkl", buf.getvalue())
    for s in pickler.storages.values():
        z.record(f"data/{s.key}", memoryview(s.data))
    z.record("version", b"3\n")
    z.finish()
    return out.getvalue()


def test_map_location() -> None:
    data = _saved_on("cuda:0")
    with pytest.raises(RuntimeError) as mine:
        adjit.load(io.BytesIO(data))
    with pytest.raises(RuntimeError) as theirs:
        torch.load(io.BytesIO(data), weights_only=True)
    assert str(mine.value) == str(theirs.value)
    seen = []
    keep = lambda s, loc: seen.append(loc) or s  # noqa: E731
    for where in ("cpu", adjit.device("cpu"), {"cuda:0": "cpu"}, keep):
        assert adjit.load(io.BytesIO(data), map_location=where)["w"].tolist() == [0.0, 1.0, 2.0]
    assert seen == ["cuda:0"]
    with pytest.raises(RuntimeError, match="torch.cuda.is_available"):  # None: the default
        adjit.load(io.BytesIO(data), map_location=lambda s, loc: None)
    with pytest.raises(RuntimeError, match="torch.cuda.is_available"):
        adjit.load(io.BytesIO(_saved_on("cpu")), map_location="cuda")


def test_mmap(tmp_path: Path) -> None:
    path = tmp_path / "m.pt"
    w = torch.arange(10.0)
    torch.save({"w": w, "v": w[2:5]}, path)
    before = path.read_bytes()
    got = adjit.load(path, mmap=True)
    assert isinstance(got["w"]._data.base, np.memmap)
    assert got["v"].tolist() == [2.0, 3.0, 4.0]
    got["w"][3] = 100.0  # copy-on-write (PyTorch's MAP_PRIVATE): the view sees it, not the file
    assert got["v"][1].item() == 100.0 and path.read_bytes() == before
    assert adjit.load(path)["w"][3].item() == 3.0
    with pytest.raises(ValueError, match="f must be a file path in order to use the mmap"):
        adjit.load(io.BytesIO(before), mmap=True)


def test_file_objects_and_errors(tmp_path: Path) -> None:
    with open(tmp_path / "f.pt", "wb") as fh:
        adjit.save(adjit.ones(2), fh)
    with open(tmp_path / "f.pt", "rb") as fh:
        assert adjit.load(fh).tolist() == [1.0, 1.0]
    assert zipfile.ZipFile(tmp_path / "f.pt").namelist()[0].startswith("archive/")
    with pytest.raises(AttributeError, match="a file-like object with a 'write' attribute"):
        adjit.save(adjit.ones(2), 3)
    with pytest.raises(RuntimeError, match="Parent directory .*/nowhere does not exist"):
        adjit.save(adjit.ones(2), tmp_path / "nowhere" / "f.pt")
    adjit.save(adjit.ones(2), tmp_path / "ünï.pt")  # (as torch: a non-ASCII name -> "archive")
    assert zipfile.ZipFile(tmp_path / "ünï.pt").namelist()[0].startswith("archive/")
    with pytest.raises(RuntimeError, match="explicit pickle_module"):
        adjit.load(tmp_path / "f.pt", pickle_module=pickle)


def test_old_adjit_npz_files_still_load(tmp_path: Path) -> None:
    np.savez(tmp_path / "old.npz", **{"0.weight": np.ones((2, 2), np.float32)})
    got = adjit.load(tmp_path / "old.npz")
    assert list(got) == ["0.weight"] and got["0.weight"].dtype is adjit.float32


WITHOUT_TORCH = """
import sys
sys.modules["torch"] = None  # as if PyTorch were not installed
import adjit
sd = adjit.load(sys.argv[1])
print(sorted(sd), sd["w"].tolist(), type(sd["p"]).__name__, sd["p"].requires_grad)
adjit.save({"back": sd["w"] * 2}, sys.argv[2])
print("torch" in sys.modules and sys.modules["torch"] is None)
"""


def test_load_and_save_without_torch(tmp_path: Path) -> None:
    torch.save({"w": torch.arange(3.0), "p": torch.nn.Parameter(torch.ones(1))}, tmp_path / "t.pt")
    out = subprocess.run(
        [sys.executable, "-c", WITHOUT_TORCH, str(tmp_path / "t.pt"), str(tmp_path / "a.pt")],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout.splitlines()  # fmt: skip
    assert out == ["['p', 'w'] [0.0, 1.0, 2.0] Parameter True", "True"]
    back = torch.load(tmp_path / "a.pt", weights_only=True)
    assert torch.equal(back["back"], torch.tensor([0.0, 2.0, 4.0]))


def test_what_adjit_cannot_hold_is_refused_by_name() -> None:
    cases = [
        (torch.zeros(2, dtype=torch.uint16), TypeError, "torch.uint16"),
        (torch.zeros(2, dtype=torch.float8_e4m3fn), TypeError, "torch.float8_e4m3fn"),
        (torch.zeros(2, 2).to_sparse(), NotImplementedError, "layout torch.sparse_coo"),
    ]
    for t, error, text in cases:
        buf = io.BytesIO()
        torch.save({"t": t}, buf)
        buf.seek(0)
        with pytest.raises(error, match=text):
            adjit.load(buf)


def test_lazy_conj_and_neg_views_load_as_values() -> None:
    z = torch.tensor([1 + 2j, 3 - 1j])
    got = []
    for t in (z.conj(), z.clone().conj().imag):  # (saved apart: torch refuses them together)
        buf = io.BytesIO()
        torch.save(t, buf)
        buf.seek(0)
        got.append(adjit.load(buf).tolist())
    assert got == [z.conj().tolist(), [-2.0, 1.0]]


def test_tensor_attributes() -> None:
    """Plain Python attributes on a saved tensor come back; none may replace adjit's own."""
    t = torch.ones(2)
    t.note = "kept"
    p = torch.nn.Parameter(torch.ones(1))
    p.tag = 3
    buf = io.BytesIO()
    torch.save([t, p], buf)
    buf.seek(0)
    got = adjit.load(buf)
    assert got[0].note == "kept" and got[1].tag == 3 and type(got[1]) is adjit.nn.Parameter
    t.backward = 1  # (shadows a method: refused)
    buf = io.BytesIO()
    torch.save(t, buf)
    buf.seek(0)
    with pytest.raises(NotImplementedError, match="tensor attribute 'backward'"):
        adjit.load(buf)


def test_get_unsafe_globals_in_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "f.pt"
    torch.save({"p": _Point(1, 2), "w": torch.ones(1), "e": _Evil(print, "x")}, path)
    mine = sorted(adjit.serialization.get_unsafe_globals_in_checkpoint(path))
    assert mine == sorted(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    assert mine == ["builtins.print", f"{__name__}._Point"]


# ---- random views: the archive is torch.save's, byte for byte ----------------------------------
def _view(lib: Any, x: Any, op: tuple) -> Any:
    """One view op, spelled the same for adjit and torch."""
    kind, *args = op
    nd = x.dim()
    if kind == "slice":
        dim, start, step = args[0] % nd, args[1], args[2]
        index = [slice(None)] * nd
        # (never empty: NumPy puts an empty view's data pointer at its base, so an empty
        # view saves with storage offset 0 where PyTorch keeps the slice's start)
        index[dim] = slice(start % x.shape[dim], None, step)
        return x[tuple(index)]
    if kind == "select" and nd > 1:
        dim = args[0] % nd
        return x.select(dim, args[1] % x.shape[dim]) if x.shape[dim] else x
    if kind == "transpose" and nd > 1:
        return x.transpose(args[0] % nd, args[1] % nd)
    if kind == "unsqueeze":
        return x.unsqueeze(args[0] % (nd + 1))
    if kind == "expand":
        return x.unsqueeze(0).expand(args[2], *x.shape)
    return x


def _build(lib: Any, dtype: str, shape: tuple, ops: list, bits: np.ndarray) -> dict[str, Any]:
    base = lib.tensor(bits).view(getattr(lib, dtype))  # (bits: each element's bytes last)
    views, x = {}, base
    for i, op in enumerate(ops):
        x = _view(lib, x, op)
        views[f"v{i}"] = x
    return {"base": base, **views, "n": len(ops)}


ITEMSIZES = {"bool": 1, "uint8": 1, "int8": 1, "int16": 2, "float16": 2, "bfloat16": 2,
             "int32": 4, "float32": 4, "int64": 8, "float64": 8, "complex64": 8,
             "complex128": 16}  # fmt: skip

_OP = st.tuples(
    st.sampled_from(["slice", "select", "transpose", "unsqueeze", "expand"]),
    st.integers(0, 5),
    st.integers(0, 5),
    st.integers(1, 3),
)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    dtype=st.sampled_from(DTYPES),
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple),
    ops=st.lists(_OP, max_size=4),
    seed=st.integers(0, 2**16),
)
def test_random_views_save_as_torch_does(dtype: str, shape: tuple, ops: list, seed: int) -> None:
    nbytes = int(np.prod(shape)) * ITEMSIZES[dtype]
    bits = np.random.default_rng(seed).integers(0, 256, nbytes, dtype=np.uint8)
    if dtype == "bool":
        bits &= 1
    bits = bits.reshape(*shape[:-1], -1)
    mine, theirs = _build(adjit, dtype, shape, ops, bits), _build(torch, dtype, shape, ops, bits)
    files = []
    for obj, lib in ((mine, adjit), (theirs, torch)):
        buf = io.BytesIO()
        lib.save(obj, buf)
        files.append(buf.getvalue())
    tensors = [k for k in theirs if k != "n"]
    # where adjit's strides are PyTorch's (a size-1 dim's stride can differ: NumPy's
    # expand_dims/broadcast_to pick their own), the archive is torch.save's byte for byte
    if all(mine[k].stride() == theirs[k].stride() for k in tensors):
        assert _records(files[0]) == _records(files[1])
    got = torch.load(io.BytesIO(files[0]), weights_only=True)  # adjit's file, into torch
    back = adjit.load(io.BytesIO(files[1]))  # torch's file, into adjit
    for k in tensors:
        _same_bits(mine[k], got[k])
        _same_bits(back[k], theirs[k])
        assert got[k].untyped_storage().data_ptr() == got["base"].untyped_storage().data_ptr()


def test_pre_0_4_tar_checkpoints_refused_as_torch(tmp_path: Path) -> None:
    import tarfile

    (tmp_path / "storages").write_bytes(b"")
    with tarfile.open(tmp_path / "old.tar", "w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(tmp_path / "storages", arcname="storages")
    with pytest.raises(RuntimeError) as mine:
        adjit.load(tmp_path / "old.tar")
    with pytest.raises(RuntimeError) as theirs:
        torch.load(tmp_path / "old.tar", weights_only=True)
    assert str(mine.value) == str(theirs.value)
