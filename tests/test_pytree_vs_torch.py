"""``torch.utils._pytree``, ``torch.utils.hooks`` and the legacy ``torch.autograd.Variable``
side by side with PyTorch: flatten/unflatten, specs and their printing, maps, key paths,
registered nodes and the error texts."""

from __future__ import annotations

import re
from collections import OrderedDict, defaultdict, deque, namedtuple
from typing import Any

import pytest

import adjit
import adjit.utils._pytree as ours

torch = pytest.importorskip("torch")
import torch.utils._pytree as theirs  # noqa: E402

Point = namedtuple("Point", ["x", "y"])
TREES: list[Any] = [
    1,
    None,
    [],
    (1,),
    [1, (2, 3), {"b": 4, "a": [5, None]}],
    OrderedDict([("z", 1), ("y", (2,))]),
    defaultdict(list, {"k": [1, 2]}),
    deque([1, [2]], maxlen=4),
    Point(1, [2, 3]),
    {"nested": {"deep": [(1, 2), Point(3, 4)]}},
]


@pytest.mark.parametrize("tree", TREES, ids=range(len(TREES)))
def test_flatten_spec_and_back(tree: Any) -> None:
    leaves, spec = ours.tree_flatten(tree)
    t_leaves, t_spec = theirs.tree_flatten(tree)
    assert leaves == t_leaves
    assert repr(spec) == repr(t_spec) and str(spec) == str(t_spec)
    assert ours.treespec_pprint(spec) == theirs.treespec_pprint(t_spec)
    assert (spec.num_leaves, spec.num_nodes, spec.num_children, spec.is_leaf()) == (
        t_spec.num_leaves, t_spec.num_nodes, t_spec.num_children, t_spec.is_leaf())  # fmt: skip
    back = ours.tree_unflatten([x * 10 if x else x for x in leaves], spec)
    want = theirs.tree_unflatten([x * 10 if x else x for x in t_leaves], t_spec)
    assert back == want and type(back) is type(want)
    assert ours.tree_leaves(tree) == theirs.tree_leaves(tree)
    assert ours.tree_structure(tree) == spec and hash(spec) == hash(ours.tree_structure(tree))
    paths = [(ours.keystr(k), v) for k, v in ours.tree_leaves_with_path(tree)]
    assert paths == [(theirs.keystr(k), v) for k, v in theirs.tree_leaves_with_path(tree)]
    for k, v in ours.tree_flatten_with_path(tree)[0]:
        assert ours.key_get(tree, k) is v


def _run(mod: Any, fn: Any) -> Any:
    try:
        return fn(mod)
    except Exception as e:  # the type and text are part of the API
        return (type(e), str(e))


CALLS: list[Any] = [
    lambda P: P.tree_map(lambda x: x + 1, {"x": 7, "y": (42, 64)}),
    lambda P: P.tree_map(lambda x, y: [x] + y, [5, 6], [[7, 9], [1, 2]]),
    lambda P: P.tree_map(lambda x, y: x + y, {"a": 1, "b": 2}, OrderedDict(b=3, a=4)),
    lambda P: P.tree_map(lambda x, y: x + y, [1, 2], [1, 2, 3]),
    lambda P: P.tree_map(lambda x, y: x + y, [1, 2], (1, 2)),
    lambda P: P.tree_map(lambda x, y: x + y, {"a": 1}, {"b": 1}),
    lambda P: P.tree_map(lambda x, y: x, Point(1, 2), (1, 2)),
    lambda P: P.tree_map(lambda x: x, [1, (2, 3)], is_leaf=lambda n: isinstance(n, tuple)),
    lambda P: P.tree_map_only(int, lambda x: -x, [1, "a", 2.0, (3,)]),
    lambda P: P.tree_map_only((int, float), lambda x: -x, [1, "a", 2.0]),
    lambda P: P.tree_map_only(lambda x: x == 2, lambda x: 0, [1, 2, 3]),
    lambda P: P.tree_map_only(3, lambda x: 0, [1]),
    lambda P: P.tree_all(lambda x: x > 0, [1, (2, 3)]),
    lambda P: P.tree_any(lambda x: x > 2, [1, (2, 3)]),
    lambda P: P.tree_all_only(int, lambda x: x > 0, [1, "a", -1.0]),
    lambda P: P.tree_any_only(str, lambda x: x == "a", [1, "a"]),
    lambda P: P.tree_map_with_path(lambda k, v: P.keystr(k) + str(v), {"a": [1, 2]}),
    lambda P: P.tree_unflatten([1, 2, 3], P.tree_structure([0, 0])),
    lambda P: P.tree_unflatten([1], [0]),
    lambda P: P.tree_unflatten(P.tree_structure([0]), [5]),
    lambda P: P.tree_structure((1, 2)).child(1).is_leaf(),
    lambda P: P.tree_structure([1]) == P.tree_structure((1,)),
    lambda P: P.is_namedtuple(Point) and not P.is_namedtuple((1,)),
]


@pytest.mark.parametrize("i", range(len(CALLS)))
def test_calls_as_pytorch(i: int) -> None:
    assert _run(ours, CALLS[i]) == _run(theirs, CALLS[i])


def test_tree_map_in_place_returns_the_tree() -> None:
    for P in (ours, theirs):
        seen: list[Any] = []
        tree = [1, {"a": 2}]
        assert P.tree_map_(seen.append, tree) is tree and seen == [1, 2]
        seen.clear()
        assert P.tree_map_only_(int, seen.append, [1, "s"]) == [1, "s"] and seen == [1]


def test_tensors_are_leaves() -> None:
    tree = {"w": adjit.ones(2), "b": [adjit.zeros(1)]}
    doubled = ours.tree_map_only(adjit.Tensor, lambda t: t * 2, tree)
    assert doubled["w"].tolist() == [2.0, 2.0] and doubled["b"][0].tolist() == [0.0]
    assert ours.tree_all_only(adjit.Tensor, lambda t: t.dim() == 1, tree)


class _Pair:
    def __init__(self, a: Any, b: Any) -> None:
        self.a, self.b = a, b


def test_register_pytree_node() -> None:
    results = []
    for P in (ours, theirs):

        class Pair(_Pair):
            pass

        def keys(p: Any, P: Any = P) -> Any:
            return [(P.GetAttrKey("a"), p.a), (P.GetAttrKey("b"), p.b)], "ctx"

        P.register_pytree_node(
            Pair, lambda p: ([p.a, p.b], "ctx"), lambda v, c: Pair(*v), flatten_with_keys_fn=keys
        )
        tree = [Pair(1, (2, 3))]
        leaves, spec = P.tree_flatten(tree)
        back = P.tree_unflatten([4, 5, 6], spec)
        paths = [P.keystr(k) for k, _ in P.tree_leaves_with_path(tree)]
        twice = _run(P, lambda P: P.register_pytree_node(Pair, lambda p: ([], None), list))
        twice = (twice[0], twice[1].replace(Pair.__qualname__, "Pair"))
        results.append((leaves, repr(spec).replace(P.__name__, ""), back[0].a, back[0].b, paths,
                        twice))  # fmt: skip
    assert results[0] == results[1]


def test_removable_handle_as_pytorch() -> None:
    from adjit.utils.hooks import RemovableHandle

    for cls in (RemovableHandle, torch.utils.hooks.RemovableHandle):
        hooks: dict[int, Any] = OrderedDict()
        extra: dict[int, Any] = OrderedDict()
        handle = cls(hooks, extra_dict=extra)
        hooks[handle.id], extra[handle.id] = print, True
        with handle:
            pass
        assert hooks == {} and extra == {}
    assert adjit.utils.hooks.unserializable_hook(lambda g: g).__torch_unserializable__


def test_legacy_variable() -> None:
    for T in (adjit, torch):
        x = T.ones(2)
        v = T.autograd.Variable(x, requires_grad=True)
        assert v is not x and v.requires_grad and not x.requires_grad and v.is_leaf
        assert isinstance(x, T.autograd.Variable) and type(v) is T.Tensor
        (v * 3).sum().backward()
        assert v.grad.tolist() == [3.0, 3.0]
        y = T.ones(2, requires_grad=True) * 2
        assert T.autograd.Variable(y).grad_fn is None and T.autograd.Variable().shape == (0,)
        with pytest.raises(TypeError, match="Variable data has to be a tensor, but got list"):
            T.autograd.Variable([1.0])
        with pytest.warns(UserWarning, match="volatile was removed"):
            T.autograd.Variable(x, volatile=True)
        with pytest.raises(RuntimeError, match="floating point and complex dtype"):
            T.autograd.Variable(T.ones(2, dtype=T.int64), requires_grad=True)
    assert adjit.autograd.inference_mode is adjit.inference_mode


def test_increment_version_as_pytorch() -> None:
    errors = []
    for T in (adjit, torch):
        a = T.ones(3, requires_grad=True)
        b = a * 1
        c = (b * b).sum()
        T.autograd.graph.increment_version(b)
        assert b._version == 1
        T.autograd.graph.increment_version([b, b])
        with pytest.raises(RuntimeError) as e:
            c.backward()
        errors.append(str(e.value))
        with T.inference_mode():
            t = T.ones(1)
        T.autograd.graph.increment_version(t)
    # (the node's name and the hint differ: adjit names MulBackward0 as PyTorch 2.5 did)
    same = [re.sub(r"which is output 0 of \w+, ", "", e).split(" Hint")[0] for e in errors]
    assert same[0] == same[1]
    assert "is at version 3; expected version 0 instead" in errors[0]
