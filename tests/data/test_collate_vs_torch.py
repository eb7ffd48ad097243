"""default_collate and default_convert side by side with PyTorch: nested dicts, tuples,
lists and namedtuples, NumPy arrays and scalars, Python numbers (PyTorch's dtypes), strings,
and PyTorch's errors for what cannot be collated."""

from __future__ import annotations

import collections
from typing import Any

import numpy as np
import pytest
from data_helpers import canon, error_of, libs

pytest.importorskip("torch")

Point = collections.namedtuple("Point", ["x", "y"])


def _samples(lib: Any) -> dict[str, list[Any]]:
    """Batches (lists of samples) by name; built per library (tensor leaves are lib's)."""
    t = lib.tensor
    return {
        "tensors": [t([1.0, 2.0]), t([3.0, 4.0])],
        "int_tensors": [t([[1, 2]], dtype=lib.int16), t([[3, 4]], dtype=lib.int16)],
        "floats": [1.5, 2.5, -0.0],
        "ints": [1, 2, 3],
        "bools": [True, False],
        "strings": ["a", "bc"],
        "bytes": [b"a", b"b"],
        "numpy_arrays": [np.ones((2, 3), np.float32), np.zeros((2, 3), np.float32)],
        "numpy_int_arrays": [np.arange(3, dtype=np.int32), np.arange(3, dtype=np.int32)],
        "numpy_scalars": [np.float32(1.5), np.float32(2.5)],
        "numpy_int64_scalars": [np.int64(4), np.int64(5)],
        "numpy_bool_scalars": [np.bool_(True), np.bool_(False)],
        "numpy_0d": [np.array(1.0), np.array(2.0)],
        "dicts": [
            {"img": t([1.0, 2.0]), "label": 1, "meta": {"name": "a", "w": 0.5}},
            {"img": t([3.0, 4.0]), "label": 0, "meta": {"name": "b", "w": 1.5}},
        ],
        "tuples": [(t([1.0]), 1, "a"), (t([2.0]), 2, "b")],
        "lists": [[1, 2.0, np.float64(3)], [4, 5.0, np.float64(6)]],
        "namedtuples": [Point(1, t([1.0])), Point(2, t([2.0]))],
        "ordered_dict": [collections.OrderedDict(b=1, a=2.0), collections.OrderedDict(b=3, a=4.0)],
        "nested": [
            {"p": [Point(np.int32(1), (1.0, "x"))], "q": (np.ones(2),)},
            {"p": [Point(np.int32(2), (2.0, "y"))], "q": (np.zeros(2),)},
        ],
        "defaultdict": [
            collections.defaultdict(int, {"k": 1}),
            collections.defaultdict(int, {"k": 2}),
        ],
        "range_elements": [range(3), range(3)],
    }


def _run(fn_name: str, name: str, lib: Any, data: Any) -> Any:
    return canon(getattr(data, fn_name)(_samples(lib)[name]))


NAMES = [
    "tensors", "int_tensors", "floats", "ints", "bools", "strings", "bytes", "numpy_arrays",
    "numpy_int_arrays", "numpy_scalars", "numpy_int64_scalars", "numpy_bool_scalars", "numpy_0d",
    "dicts", "tuples", "lists", "namedtuples", "ordered_dict", "nested", "defaultdict",
    "range_elements",
]  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_default_collate_equal_torch(name: str) -> None:
    (a, ad), (t, td) = libs()
    got, want = _run("default_collate", name, a, ad), _run("default_collate", name, t, td)
    assert got == want


@pytest.mark.parametrize("name", NAMES)
def test_default_convert_equal_torch(name: str) -> None:
    (a, ad), (t, td) = libs()
    for sample in range(2):
        got = canon(ad.default_convert(_samples(a)[name][sample]))
        want = canon(td.default_convert(_samples(t)[name][sample]))
        assert got == want


def test_collate_types_of_containers() -> None:
    (a, ad), _ = libs()
    out = ad.default_collate(_samples(a)["ordered_dict"])
    assert type(out) is collections.OrderedDict and list(out) == ["b", "a"]
    dd = ad.default_collate(_samples(a)["defaultdict"])
    assert type(dd) is collections.defaultdict and dd.default_factory is int
    assert type(ad.default_collate(_samples(a)["namedtuples"])) is Point


ERRORS = {
    "object": [object(), object()],
    "none": [None, None],
    "numpy_strings": [np.array(["a"]), np.array(["b"])],
    "numpy_objects": [np.array([object()]), np.array([object()])],
    "unequal_lists": [[1, 2], [3]],
    "mixed_shapes": "shapes",
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_collate_errors_equal_torch(name: str) -> None:
    (a, ad), (t, td) = libs()

    def batch(lib: Any) -> Any:
        rows = ERRORS[name]
        return [lib.ones(2), lib.ones(3)] if rows == "shapes" else rows

    got = error_of(lambda: ad.default_collate(batch(a)))
    want = error_of(lambda: td.default_collate(batch(t)))
    assert got is not None and want is not None
    assert got == want


def test_extending_collate_through_pytorchs_private_path() -> None:
    """PyTorch's documented way to collate a custom type: a copy of default_collate_fn_map
    with one more entry, passed to ``_utils.collate.collate``."""
    from adjit.utils.data._utils.collate import collate, default_collate_fn_map

    class Box:
        def __init__(self, v: int) -> None:
            self.v = v

    def collate_box(batch: Any, *, collate_fn_map: Any = None) -> Any:
        return [b.v for b in batch]

    table = {**default_collate_fn_map, Box: collate_box}
    out = collate([{"b": Box(1), "x": 1}, {"b": Box(2), "x": 2}], collate_fn_map=table)
    assert out["b"] == [1, 2] and out["x"].tolist() == [1, 2]
    with pytest.raises(TypeError, match="found <class"):
        collate([Box(1)], collate_fn_map=default_collate_fn_map)
