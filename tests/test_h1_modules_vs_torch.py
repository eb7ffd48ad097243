"""torch.version, torch.torch_version, torch.return_types, torch.functional and torch.storage
side by side with PyTorch."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest

import adjit
from adjit.torch_version import TorchVersion

torch = pytest.importorskip("torch")
from torch.torch_version import TorchVersion as TorchTorchVersion  # noqa: E402

VERSIONS = ["2.13.0+cpu", "2.0", "2.0.0", "1.10.0a", "1.10.0a0", "1.10.0.dev1", "1.10.0rc1",
            "1.10.0.post1", "1.10.0.post1.dev2", "1!0.1", "2.0+local.7", "2.0+local.a",
            "2.0+abc.7.x", "2.0-1", "1.0.0.dev0+cpu", "parrot", "v2.1", " 2.1 ", "2.1beta3",
            "2.1c", "2.1-r4", "2.1.preview"]  # fmt: skip
OTHERS: list[Any] = [*VERSIONS, (2, 0), [2, 13], (1, 10, 0), (2,), ("a", "b"), 2, 2.0, None]
METHODS = ["__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"]


def test_torch_version_compares_as_pytorch() -> None:
    for text in VERSIONS:
        ours, theirs = TorchVersion(text), TorchTorchVersion(text)
        assert isinstance(ours, str) and str(ours) == text and hash(ours) == hash(text)
        for other in OTHERS:
            for method in METHODS:
                got = getattr(ours, method)(other)
                assert got == getattr(theirs, method)(other), (text, method, other)


def test_version_operators_as_pytorch() -> None:
    v = adjit.__version__
    assert type(v) is TorchVersion and v == adjit.version.__version__
    # (Note [the version user code sees]: the PyTorch API followed, adjit's release local)
    assert (v >= "2.0", v >= (2, 13), v < "2.14", v < (2, 14), v == "2.13.0+adjit.0.1.0") == (
        (True,) * 5
    )
    assert v.split("+")[0] == torch.__version__.split("+")[0] == "2.13.0"
    for T in (adjit, torch):
        with pytest.raises(TypeError, match="'<' not supported between instances of "):
            T.__version__ < 2  # noqa: B015
    assert f'version = "{adjit.version.ADJIT}"' in Path("pyproject.toml").read_text()


def test_version_module_as_pytorch() -> None:
    assert adjit.version.__all__ == torch.version.__all__
    for name in ("cuda", "hip", "rocm", "xpu", "debug"):
        assert getattr(adjit.version, name) == getattr(torch.version, name), name
    assert type(adjit.version.__version__) is str and type(adjit.version.git_version) is str
    assert adjit.torch_version.__all__ == torch.torch_version.__all__ == ["TorchVersion"]


def _results(T: Any) -> dict[str, Any]:
    """One call of each op that returns a named result, on the same values."""
    x = T.tensor([[3.0, 1.0, 2.0], [0.5, 4.0, 4.0]])
    a = T.tensor([[4.0, 1.0], [1.0, 3.0]], dtype=T.float64)
    return {
        "max": x.max(0),
        "min": T.min(x, 1, keepdim=True),
        "sort": x.sort(1),
        "topk": x.topk(2),
        "kthvalue": x.kthvalue(2, 1),
        "mode": x.mode(1),
        "median": x.median(0),
        "nanmedian": x.nanmedian(1),
        "aminmax": x.aminmax(),
        "cummax": x.cummax(1),
        "cummin": x.cummin(0),
        "frexp": x.frexp(),
        "slogdet": a.slogdet(),
        "linalg_slogdet": T.linalg.slogdet(a),
        "linalg_eigh": T.linalg.eigh(a),
        "linalg_inv_ex": T.linalg.inv_ex(a),
        "linalg_cholesky_ex": T.linalg.cholesky_ex(a),
        "linalg_qr": T.linalg.qr(a),
        "qr": T.qr(a),
        "linalg_lu_factor": T.linalg.lu_factor(a),
        "linalg_lu": T.linalg.lu(a),
        "lu_unpack": T.lu_unpack(*T.linalg.lu_factor(a)),
        "triangular_solve": T.triangular_solve(a, a.triu()),
        "histogram": T.histogram(x.flatten(), 3),
    }


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_return_types_are_the_classes_ops_return() -> None:
    ours, theirs = _results(adjit), _results(torch)
    for name, result in ours.items():
        kind = getattr(adjit.return_types, name)
        assert type(result) is kind and isinstance(result, tuple), name
        assert type(theirs[name]) is getattr(torch.return_types, name), name
        assert repr(result) == repr(theirs[name]), name
        assert kind.__name__ == name and kind.n_fields == type(theirs[name]).n_fields
        back = pickle.loads(pickle.dumps(result))
        assert type(back) is kind and repr(back) == repr(result)
    ours_all, theirs_all = set(adjit.return_types.__all__), set(torch.return_types.__all__)
    assert theirs_all - ours_all == {"pytree_register_structseq"} and ours_all <= theirs_all
    assert all(isinstance(k, type) for k in adjit.return_types.all_return_types)


def test_return_type_built_from_a_sequence_as_pytorch() -> None:
    for T in (adjit, torch):
        r = T.return_types.max((T.tensor(1.0), T.tensor(0)))
        assert repr(r) == "torch.return_types.max(\nvalues=tensor(1.),\nindices=tensor(0))"
        assert r.values.item() == 1.0 and r[1].item() == 0
        for bad, text in (
            ((1,), r"torch.return_types.max\(\) takes a 2-sequence \(1-sequence given\)"),
            ((1, 2, 3), r"torch.return_types.max\(\) takes a 2-sequence \(3-sequence given\)"),
            (5, "constructor requires a sequence"),
        ):
            with pytest.raises(TypeError, match=text):
                T.return_types.max(bad)


def test_functional_and_storage_modules_as_pytorch() -> None:
    assert adjit.functional.__all__ == torch.functional.__all__
    for name in torch.functional.__all__:
        assert getattr(adjit.functional, name) is getattr(adjit, name), name
        assert getattr(torch.functional, name) is getattr(torch, name), name
    a, b = adjit.functional.split(adjit.arange(5), 3)
    assert a.tolist() == [0, 1, 2] and b.tolist() == [3, 4]
    assert adjit.storage.__all__ == torch.storage.__all__
    assert adjit.storage.TypedStorage is adjit.TypedStorage
    assert adjit.storage.UntypedStorage is adjit.UntypedStorage
    assert isinstance(adjit.arange(3).untyped_storage(), adjit.storage.UntypedStorage)


def _out_results(T: Any) -> list[Any]:
    x = T.tensor([[3.0, 1.0, 2.0], [0.5, 4.0, 4.0]])
    pair = lambda: (T.empty(0), T.empty(0, dtype=T.long))  # noqa: E731
    return [
        T.max(x, 0, out=pair()),
        T.min(x, 1, out=pair()),
        T.sort(x, 1, out=pair()),
        T.topk(x, 2, out=pair()),
        T.kthvalue(x, 2, 1, out=pair()),
        T.median(x, 1, out=pair()),
        T.cummax(x, 1, out=pair()),
        T.aminmax(x, out=(T.empty(0), T.empty(0))),
    ]


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_out_calls_return_the_out_twins_as_pytorch() -> None:
    for ours, theirs in zip(_out_results(adjit), _out_results(torch), strict=True):
        assert type(ours).__name__ == type(theirs).__name__ and type(ours).__name__.endswith("_out")
        assert type(ours) is getattr(adjit.return_types, type(ours).__name__)
        assert repr(ours) == repr(theirs)
