"""The symbolic disk cache: warm processes replay stored host programs without sympy; entries
are checked (checksum, key, content) and recomputed when anything is off, never trusted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from adjit.frontend.builder import SYMBOLIC_HOST, joint_graph
from adjit.ir.interpreter import interpret
from adjit.ir.parser import parse_graph
from adjit.passes import host_program as H
from adjit.passes import symbolic as S
from adjit.passes import symbolic_cache as C
from adjit.passes.dce import dce
from adjit.passes.symbolic_regions import LRU
from adjit.passes.sympy_bridge import lower_cse, program_graph, record, template

SUM = "sum[axes=None keepdim=False]"
# a where region (its VJP is sympy's) and a region simplify shortens (0.1 m + 0.2 m -> 0.3 m)
WHERE = f"""{{ lambda a:f32[4] b:f32[4] .
  let c:bool[4] = gt a 0
      d:f32[4] = sqrt a
      e:f32[4] = mul d b
      f:f32[4] = where c e 0.0
      g:f32[4] = add b 1.0
      h:f32[4] = log g
      i:f32[4] = mul h 0.1
      j:f32[4] = mul h 0.2
      k:f32[4] = add i j
      l:f32[4] = add f k
      m:f32[] = {SUM} l
  in (m) }}"""


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache folder and empty in-memory caches: every lookup goes to disk."""
    monkeypatch.setenv("ADJIT_CACHE_DIR", str(tmp_path))
    fresh(monkeypatch)
    return tmp_path


def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """New in-memory caches (as a new process has)."""
    monkeypatch.setattr(S, "VJP_CACHE", LRU(S.CACHE_SIZE))
    monkeypatch.setattr(S, "SIMPLIFY_CACHE", LRU(S.CACHE_SIZE))


def no_sympy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any sympy work from here on fails the test (a hit must not need it)."""

    def fail(*args: object) -> None:
        raise AssertionError("sympy was asked again")

    monkeypatch.setattr(S, "region_expr", fail)


def compiled(fwd_text: str) -> tuple[str, str, list[np.ndarray]]:
    """The joint graph (where-region VJPs) and its simplified form, as text, and the
    gradients at fixed inputs."""
    fwd = parse_graph(fwd_text)
    joint = joint_graph(fwd, [0, 1], S.where_regions(fwd, host=SYMBOLIC_HOST)).graph
    simple = S.simplify(joint, host=SYMBOLIC_HOST)
    x = np.array([-1.0, 0.25, 4.0, 9.0], np.float32)
    grads = interpret(simple, [x, x + 1, np.float32(1)])[1:]
    return str(joint), str(simple), grads


def stats_delta(before: dict[str, int]) -> dict[str, int]:
    return {k: v - before[k] for k, v in C.STATS.items() if v != before[k]}


def test_a_hit_gives_exactly_the_program_a_miss_gives(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = dict(C.STATS)
    cold = compiled(WHERE)
    n = len(C.entries())
    assert n >= 3  # the VJP, the simplify regions of the joint graph
    assert stats_delta(before) == {"misses": n, "stores": n}
    fresh(monkeypatch)
    no_sympy(monkeypatch)
    before = dict(C.STATS)
    warm = compiled(WHERE)
    assert stats_delta(before) == {"hits": n}
    assert warm[:2] == cold[:2]  # the same equations, in the same order
    assert "log1p" in warm[1] and warm[1].count("mul") < cold[0].count("mul")  # simplified
    for a, b in zip(warm[2], cold[2], strict=True):
        np.testing.assert_array_equal(a, b)
    # d/da where(a > 0, sqrt(a) b, 0) = b / (2 sqrt a), 0 (not NaN) at a = -1; float32 roundings
    want = [0.0, 1.25 / 2 / 0.5, 5 / 2 / 2, 10 / 2 / 3]
    np.testing.assert_allclose(cold[2][0], want, rtol=3e-7)


def test_replaying_a_recording_emits_what_lowering_emits() -> None:
    fwd = parse_graph(WHERE)
    (f,) = S.find_regions(fwd, differentiating=True, limit=24)  # everything before the sum
    syms, expr = S.region_expr(fwd, f)
    form = S.sp.cse([S.sp.diff(expr, syms[0]), S.sp.diff(expr, syms[1])])
    program = record(form, syms)
    assert H.from_text(H.to_text(program)) == program
    avals = [v.aval for v in f.inputs]
    with SYMBOLIC_HOST.scratch() as b:  # the sympy expressions lowered directly
        values = [b.input(a, False) for a in avals]
        env = dict(zip(syms, values, strict=True))
        direct = b.finish(lower_cse(*form, env, SYMBOLIC_HOST.ops))
    replayed = program_graph(program, avals, [avals[0], avals[0]], SYMBOLIC_HOST)
    assert replayed is not None and str(replayed) == str(direct)
    assert str(template(form, syms, avals, [avals[0]] * 2, SYMBOLIC_HOST)) == str(direct)


def entry_files(folder: Path) -> list[Path]:
    return sorted((folder / "symbolic").glob("*/*.sym"))


def test_a_corrupt_entry_is_recomputed_not_trusted(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cold = compiled(WHERE)
    files = entry_files(cache)
    good = [f.read_bytes() for f in files]
    for f, data in zip(files, good, strict=True):
        flipped = bytearray(data)
        flipped[-3] ^= 0x10  # one bit of the stored program
        f.write_bytes(bytes(flipped))
    fresh(monkeypatch)
    before = dict(C.STATS)
    again = compiled(WHERE)
    n = len(files)
    assert stats_delta(before) == {"corrupt": n, "misses": n, "stores": n}
    assert again[:2] == cold[:2]
    assert [f.read_bytes() for f in files] == good  # rewritten as the first run wrote them
    for f in files:  # short and empty files too
        f.write_bytes(f.read_bytes()[:20])
    fresh(monkeypatch)
    before = dict(C.STATS)
    assert compiled(WHERE)[:2] == cold[:2]
    assert stats_delta(before) == {"corrupt": n, "misses": n, "stores": n}


def rewrite(path: Path, text: str) -> None:
    """An intact entry (right checksum) holding ``text``: what only a buggy or hostile writer
    makes."""
    C._write(path, text)


def test_entries_of_another_key_or_not_a_program_are_recomputed(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cold = compiled(WHERE)
    files = entry_files(cache)
    texts = [C._read(f, f.stem) for f in files]
    assert all(t is not None for t in texts)
    vjp = next(f for f, t in zip(files, texts, strict=True) if t and t.startswith("diff_at"))
    other = next(f for f in files if f != vjp)
    vjp.write_bytes(other.read_bytes())  # another region's entry under this name
    fresh(monkeypatch)
    before = dict(C.STATS)
    assert compiled(WHERE)[:2] == cold[:2]
    n = len(files)
    assert stats_delta(before) == {"mismatched": 1, "hits": n - 1, "misses": 1, "stores": 1}
    good = C._read(vjp, vjp.stem)
    assert good is not None
    hostile = [
        good.replace("sqrt", "__import__"),  # a name outside the table of host operations
        good.replace("where v", "where v99"),  # a value not yet defined
        good.replace("diff_at 0 1", "diff_at 0 7"),  # an input the region does not have
        good + " v1",  # an output too many
        good.replace("i0", "i0x7f", 1),  # not a number
        good.replace("sqrt v0", "sqrt v0 v1"),  # a wrong arity
    ]
    for text in hostile:
        assert text != good
        rewrite(vjp, f"key {vjp.stem}\n{text}")
        fresh(monkeypatch)
        before = dict(C.STATS)
        assert compiled(WHERE)[:2] == cold[:2]
        want = {"invalid": 1, "hits": n - 1, "misses": 1, "stores": 1}
        assert stats_delta(before) == want, text


@pytest.mark.parametrize(
    "text",
    ["", "in 2", "in x\nout v0", "in 1\nexp v1\nout v1", "in 1\nsystem v0\nout v1",
     "in 1\nout f0xzz", "in 1\nout v0 bX", "in 999999\nout"],
)  # fmt: skip
def test_program_text_rejects_what_is_not_a_program(text: str) -> None:
    with pytest.raises(H.ProgramError):
        H.from_text(text)


def test_program_text_keeps_numbers_exactly() -> None:
    r = H.Recorder(1)
    x = r.inputs[0]
    out = r.program([((x * 0.1 + 1e-300) - 2**62) / float("inf"), float("nan"), True, -3])
    back = H.from_text(H.to_text(out))
    assert back.steps == out.steps and back.outputs[2:] == out.outputs[2:]
    assert np.isnan(back.outputs[1][1])


def test_cache_off_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADJIT_CACHE_DIR", "off")
    fresh(monkeypatch)
    before = dict(C.STATS)
    compiled(WHERE)
    assert stats_delta(before) == {}
    assert not list(tmp_path.iterdir())


def test_keys_follow_the_rules_and_the_budget(cache: Path) -> None:
    key = (("EXP", ()), ("float32",))
    assert C.entry_hash("vjp", key) == C.entry_hash("vjp", key)
    assert C.entry_hash("vjp", key) != C.entry_hash("simplify", key)
    # the rewrite budget decides the result, so it is part of the key (a region past the
    # budget never loads the answer a region within it got, and the reverse)
    assert C.entry_hash("simplify", (key, True)) != C.entry_hash("simplify", (key, False))
    assert len(C.rules_fingerprint()) == 64


CHILD = textwrap.dedent(
    """
    import json, sys
    import adjit
    import adjit.nn.functional as F

    def loss(w, x):
        return (F.softplus(x @ w) * 0.1 + F.softplus(x @ w) * 0.2).mean()

    adjit.manual_seed(0)
    w, x = adjit.randn(8, 1, requires_grad=True), adjit.randn(16, 8) * 30
    f = adjit.compile(loss)
    f(w, x).backward()
    e = adjit.explain(f, w, x)
    from adjit.passes import symbolic_cache as C
    print(json.dumps({
        "sympy": "sympy" in sys.modules,
        "grad": w.grad.numpy().ravel().tolist(),
        "program": [str(e.adjoint), str(e.forward), str(e.backward)],
        "stats": C.STATS,
    }))
    """
)


def run_child(cache: Path) -> dict:
    env = dict(os.environ, ADJIT_CACHE_DIR=str(cache), ADJIT_SYMBOLIC="1")
    done = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_warm_process_does_not_import_sympy(tmp_path: Path) -> None:
    """softplus (a where region) with the simplify pass on: the cold process asks sympy, the
    warm one replays, and both compile the same program and get the same gradient."""
    cold = run_child(tmp_path)
    assert cold["sympy"] and cold["stats"]["misses"] >= 2 and cold["stats"]["hits"] == 0
    warm = run_child(tmp_path)
    assert not warm["sympy"], "the warm process imported sympy"
    assert warm["stats"]["misses"] == 0 and warm["stats"]["hits"] == cold["stats"]["stores"]
    assert warm["program"] == cold["program"]
    assert warm["grad"] == cold["grad"]
    assert all(np.isfinite(cold["grad"]))


def test_simplify_entries_are_keyed_by_shape(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A simplify result is chosen by numeric checks at the region's shapes: another shape is
    another entry (asked of sympy once), never the first shape's answer."""
    small = parse_graph(WHERE)
    large = parse_graph(WHERE.replace("[4]", "[6]"))
    before = dict(C.STATS)
    a = S.simplify(small, host=SYMBOLIC_HOST)
    assert stats_delta(before)["misses"] >= 1
    fresh(monkeypatch)
    before = dict(C.STATS)
    b = S.simplify(large, host=SYMBOLIC_HOST)
    assert stats_delta(before) == {"misses": 1, "stores": 1}
    assert str(b) == str(a).replace("[4]", "[6]")


def test_an_unusable_folder_only_costs_recomputing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Note [best-effort cache]: a cache folder that is a file never reaches the caller."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("ADJIT_CACHE_DIR", str(blocker))
    fresh(monkeypatch)
    before = dict(C.STATS)
    want = compiled(WHERE)
    assert stats_delta(before)["misses"] >= 3 and "stores" not in stats_delta(before)
    fresh(monkeypatch)
    assert compiled(WHERE)[:2] == want[:2]


def test_stale_temporary_entries_are_swept(cache: Path) -> None:
    folder = cache / "symbolic" / "ab"
    folder.mkdir(parents=True)
    old, new = folder / "ab12.sym.1.2.tmp", folder / "ab34.sym.1.2.tmp"
    for f in (old, new):
        f.write_bytes(b"partial")
    os.utime(old, (1, 1))  # a writer killed long ago
    C._SWEPT.discard(cache / "symbolic")
    C._write(C.entry_path("cd" + "0" * 62), "key x\nnone")
    assert not old.exists() and new.exists()  # a running writer's file is left alone


@pytest.mark.parametrize("wrt", [[0], [1]])
def test_a_subset_of_inputs_replays_only_what_it_needs(
    cache: Path, monkeypatch: pytest.MonkeyPatch, wrt: list[int]
) -> None:
    fwd = parse_graph(WHERE)
    x = np.array([-1.0, 0.25, 4.0, 9.0], np.float32)
    args = [x, x + 1, np.float32(1)]
    full = interpret(joint_graph(fwd, [0, 1], S.where_regions(fwd, host=SYMBOLIC_HOST)).graph, args)
    texts = []
    for _ in range(2):  # a miss, then a hit
        fresh(monkeypatch)
        joint = joint_graph(fwd, wrt, S.where_regions(fwd, host=SYMBOLIC_HOST)).graph
        texts.append(str(joint))
        (grad,) = interpret(joint, args)[1:]
        np.testing.assert_array_equal(grad, full[1 + wrt[0]])
        no_sympy(monkeypatch)
    assert texts[0] == texts[1]
    assert len(dce(joint).eqns) == len(joint.eqns)  # the other input's steps were not emitted
