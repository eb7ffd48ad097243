"""``torch.cpu``, ``torch.types``, ``torch.hub``, ``torch.nn.attention`` and ``torch.overrides``
side by side with PyTorch (hub through ``file://`` URLs: no network needed)."""

from __future__ import annotations

import hashlib
import warnings
from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")


def test_cpu_device_api_as_pytorch() -> None:
    for T in (adjit, torch):
        c = T.cpu
        assert (c.is_available(), c.is_initialized(), c.device_count()) == (True, True, 1)
        assert c.current_device() == "cpu" and c.synchronize() is None
        assert c.set_device("cpu") is None
        s = c.Stream()
        assert repr(s).startswith("<torch.cpu.Stream object at 0x")
        with c.stream(s):
            assert c.current_stream() is s
        assert c.current_stream() is not s and c.Event().query()
    assert set(adjit.cpu.__all__) - {"amp"} <= set(torch.cpu.__all__)


def test_cpu_amp_warns_then_autocasts_as_torch() -> None:
    texts, dtypes = [], []
    for T in (adjit, torch):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            a = T.cpu.amp.autocast()
            T.cpu.amp.GradScaler()
        texts.append([(w.category, str(w.message)) for w in seen])
        assert (a.fast_dtype, a.device) == (T.bfloat16, "cpu")
        with pytest.warns(FutureWarning), T.cpu.amp.autocast(dtype=T.float16):
            dtypes.append(str(T.mm(T.ones(2, 3), T.ones(3, 2)).dtype))  # (no ml_dtypes needed)
    assert texts[0] == texts[1]
    assert dtypes == ["torch.float16"] * 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        with adjit.cpu.amp.autocast(enabled=False):
            assert not adjit.is_autocast_enabled("cpu")


def test_types() -> None:
    from adjit.types import Device, FileLike, Number, _size

    for name in ("Number", "Device", "FileLike", "Storage", "_size", "_TensorOrTensors", "_int",
                 "_float", "_bool", "_dtype", "_device", "IntLikeType"):  # fmt: skip
        assert hasattr(torch.types, name) and hasattr(adjit.types, name), name
    assert adjit.types.__all__ == torch.types.__all__
    assert Number == torch.types.Number and FileLike == torch.types.FileLike
    assert adjit.Size in _size.__args__ and adjit.device in Device.__args__
    assert adjit.types._dtype is adjit.dtype and adjit.types.Tensor is adjit.Tensor


@pytest.fixture
def checkpoint(tmp_path: Any) -> tuple[str, np.ndarray]:
    weights = np.arange(6, dtype=np.float32).reshape(2, 3)
    path = tmp_path / "src" / "tiny.pth"
    path.parent.mkdir()
    torch.save({"w": torch.tensor(weights)}, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    named = path.with_name(f"tiny-{digest[:8]}.pth")
    named.write_bytes(path.read_bytes())
    return named.as_uri(), weights


def test_hub_dirs(tmp_path: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    for T in (adjit, torch):
        monkeypatch.setattr(T.hub, "_hub_dir", None)
        assert T.hub.get_dir() == str(tmp_path / "home" / "hub")
        T.hub.set_dir("~/x")
        assert T.hub.get_dir().endswith("/x") and "~" not in T.hub.get_dir()
        monkeypatch.setattr(T.hub, "_hub_dir", None)


def test_load_state_dict_from_url_as_pytorch(tmp_path: Any, checkpoint: Any, capsys: Any) -> None:
    url, weights = checkpoint
    for T in (adjit, torch):
        model_dir = tmp_path / T.__name__
        sd = T.hub.load_state_dict_from_url(url, model_dir=str(model_dir), check_hash=True)
        np.testing.assert_array_equal(sd["w"].numpy(), weights)
        assert (
            capsys.readouterr().out
            == f'Downloading: "{url}" to {model_dir / url.rsplit("/")[-1]}\n'
        )
        again = T.hub.load_state_dict_from_url(url, model_dir=str(model_dir))  # cached
        assert capsys.readouterr().out == "" and again["w"].tolist() == weights.tolist()
        renamed = T.hub.load_state_dict_from_url(url, str(model_dir), file_name="other.pt")
        assert renamed["w"].tolist() == weights.tolist() and (model_dir / "other.pt").exists()
        assert capsys.readouterr().out.startswith("Downloading: ")


def test_download_hash_check_as_pytorch(tmp_path: Any, checkpoint: Any) -> None:
    url, _ = checkpoint
    texts = []
    for T in (adjit, torch):
        dst = tmp_path / f"{T.__name__}.bin"
        T.hub.download_url_to_file(
            url, str(dst), hash_prefix=url.split("-")[-1][:8], progress=False
        )
        assert dst.exists()
        with pytest.raises(RuntimeError) as e:
            T.hub.download_url_to_file(url, str(dst) + "2", hash_prefix="0000", progress=False)
        texts.append(str(e.value))
        assert not (tmp_path / f"{T.__name__}.bin2").exists()
        assert sorted(p.name for p in tmp_path.iterdir()).count(dst.name) == 1
    assert texts[0] == texts[1] and texts[0].startswith('invalid hash value (expected "0000"')
    with pytest.raises(NotImplementedError, match=r"torch.hub.load: adjit cannot run"):
        adjit.hub.load("pytorch/vision", "resnet18")


def test_sdpa_kernel_as_pytorch() -> None:
    for T in (adjit, torch):
        B = T.nn.attention.SDPBackend
        assert [(m.name, m.value) for m in B.__members__.values()] == [
            ("ERROR", -1), ("MATH", 0), ("FLASH_ATTENTION", 1), ("EFFICIENT_ATTENTION", 2),
            ("CUDNN_ATTENTION", 3), ("OVERRIDEABLE", 4)]  # fmt: skip
        assert repr(B.MATH) == "<SDPBackend.MATH: 0>" and str(B.MATH) == "SDPBackend.MATH"
        assert int(B.FLASH_ATTENTION) == 1
        with T.nn.attention.sdpa_kernel([B.MATH, B.MATH]) as got:
            assert got == {}
        with pytest.raises(AssertionError) as e, T.nn.attention.sdpa_kernel("math"):
            pass
        assert str(e.value) == (
            "Backend must be an instance of SDPBackend or a list of SDPBackend instances, got str"
        )
    q = adjit.ones(1, 2, 3)
    with adjit.nn.attention.sdpa_kernel(adjit.nn.attention.SDPBackend.MATH):
        out = adjit.nn.functional.scaled_dot_product_attention(q, q, q)
    assert out.tolist() == q.tolist()


def _overrides_cases(T: Any) -> Any:
    class Wrapped:
        def __init__(self, x: Any) -> None:
            self.x = x

        @classmethod
        def __torch_function__(cls, func: Any, types: Any, args: Any = (), kwargs: Any = None):
            return ("handled", func.__name__, len(args))

    class Refuses(Wrapped):
        @classmethod
        def __torch_function__(cls, func: Any, types: Any, args: Any = (), kwargs: Any = None):
            return NotImplemented

    def my_op(a: Any, b: Any = None) -> Any:
        if T.overrides.has_torch_function((a, b)):
            return T.overrides.handle_torch_function(my_op, (a, b), a, b)
        return "plain"

    t = T.ones(1)
    p = T.nn.Parameter(T.ones(1))
    return [
        my_op(t, p),
        my_op(t, Wrapped(1)),
        T.overrides.has_torch_function_unary(Wrapped(1)),
        T.overrides.has_torch_function_variadic(t, 1),
        T.overrides.is_tensor_like(t),
        T.overrides.is_tensor_like(Wrapped(1)),
        T.overrides.is_tensor_like(np.ones(1)),
        _message(lambda: my_op(Refuses(1))),
    ]


def _message(fn: Any) -> Any:
    try:
        return fn()
    except TypeError as e:
        return str(e).split(": [")[0]


def test_overrides_as_pytorch() -> None:
    assert _overrides_cases(adjit) == _overrides_cases(torch)


@pytest.mark.parametrize(
    "chosen", ["EFFICIENT_ATTENTION", "FLASH_ATTENTION", "MATH", "CUDNN_ATTENTION"]
)
def test_sdpa_without_a_cpu_backend_as_pytorch(chosen: str) -> None:
    def outcome(T: Any) -> tuple[str, Any]:
        q = T.arange(24.0).reshape(1, 2, 3, 4) / 10
        with T.nn.attention.sdpa_kernel([getattr(T.nn.attention.SDPBackend, chosen)]):
            try:
                return "ok", T.nn.functional.scaled_dot_product_attention(q, q, q).shape
            except RuntimeError as e:
                return "RuntimeError", str(e)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (PyTorch warns why each fused kernel is not used)
        assert outcome(adjit) == outcome(torch)
