"""The kernel cache: structural keys known before lowering, shared-library entries loaded without
``llvmlite.binding``, the host record, and every kind of entry rebuilt when corrupt."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from adjit.codegen import cache_store, jit, kernel_cache, llvm_host, shlib
from adjit.ir.aval import Aval
from adjit.ir.dtypes import float32
from adjit.ir.graph import Eqn, Graph, Var
from adjit.ir.ops import Op
from adjit.passes.fusion import Kernel, fuse
from adjit.runtime.executor import compile_program

# a subprocess: sin(x) * c (c from argv), optionally without vecmath (libm's sinf then)
CHILD = """
import json, sys
import numpy as np
from adjit.codegen import jit
from adjit.ir.aval import Aval
from adjit.ir.dtypes import float32
from adjit.ir.graph import Eqn, Graph, Lit, Var
from adjit.ir.ops import Op
from adjit.runtime.executor import compile_program
c, vecmath = float(sys.argv[1]), sys.argv[2] == "1"
x, s, y = (Var(Aval((1000,), float32)) for _ in range(3))
lit = Lit(c, Aval((), float32, weak=True))
g = Graph((x,), (Eqn(Op.SIN, (x,), {}, s), Eqn(Op.MUL, (s, lit), {}, y)), (y,))
a = np.linspace(-3, 3, 1000, dtype=np.float32)
ex = compile_program(g, use_vecmath=vecmath)
ok = bool(np.allclose(ex([a])[0], np.sin(a) * np.float32(c), atol=1e-5))
(k,) = ex.kernels.values()
print(json.dumps({**jit.STATS, "ok": ok, "binding": "llvmlite.binding" in sys.modules,
                  "source": k.source}))
"""


def child(cache: Path, c: float = 2.0, vecmath: bool = True, **env: str) -> dict:
    environ = {**os.environ, "ADJIT_CACHE_DIR": str(cache), **env}
    args = [sys.executable, "-c", CHILD, repr(c), "1" if vecmath else "0"]
    out = subprocess.run(args, env=environ, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def entries(cache: Path, suffix: str) -> list[Path]:
    return sorted(cache.rglob(f"*{suffix}"))


def damage(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "truncate":
        path.write_bytes(bytes(data[: len(data) // 2]))
    else:  # one flipped byte in the middle of the body
        data[len(data) // 2] ^= 0x55
        path.write_bytes(bytes(data))


def test_warm_process_loads_without_llvmlite_binding(tmp_path: Path) -> None:
    cold = child(tmp_path)
    assert cold["ok"] and cold["compiles"] == 1 and cold["lowerings"] == 1
    warm = child(tmp_path)
    assert warm["ok"] and warm["source"] == "disk"
    assert (warm["compiles"], warm["lowerings"], warm["disk_loads"]) == (0, 0, 1)
    assert warm["binding"] is (shlib.linker() is None)
    assert len(entries(tmp_path, ".kernel")) == 1 and len(entries(tmp_path, ".host")) == 1


def test_libm_calls_resolve_in_a_loaded_shared_library(tmp_path: Path) -> None:
    # without vecmath, sin lowers to a call of libm's sinf: dlopen must resolve it
    assert child(tmp_path, vecmath=False)["compiles"] == 1
    warm = child(tmp_path, vecmath=False)
    assert warm["ok"] and warm["disk_loads"] == 1 and warm["compiles"] == 0


def test_a_different_literal_is_a_different_kernel(tmp_path: Path) -> None:
    assert child(tmp_path, c=2.0)["compiles"] == 1
    other = child(tmp_path, c=2.5)
    assert other["ok"] and other["compiles"] == 1 and other["disk_loads"] == 0
    assert len(entries(tmp_path, ".kernel")) == 2


@pytest.mark.parametrize("how", ["truncate", "flip"])
def test_corrupt_kernel_entry_is_rebuilt(tmp_path: Path, how: str) -> None:
    child(tmp_path)
    (entry,) = entries(tmp_path, ".kernel")
    damage(entry, how)
    rebuilt = child(tmp_path)
    assert rebuilt["ok"] and rebuilt["corrupt"] == 1 and rebuilt["compiles"] == 1
    again = child(tmp_path)
    assert again["corrupt"] == 0 and again["disk_loads"] == 1 and again["compiles"] == 0


@pytest.mark.parametrize("how", ["truncate", "flip"])
def test_corrupt_host_record_is_rebuilt(tmp_path: Path, how: str) -> None:
    child(tmp_path)
    (record,) = entries(tmp_path, ".host")
    damage(record, how)
    # the full host key is computed again (llvmlite.binding), the kernel still loads from disk
    rebuilt = child(tmp_path)
    assert rebuilt["ok"] and rebuilt["corrupt"] == 1 and rebuilt["binding"]
    assert rebuilt["disk_loads"] == 1 and rebuilt["compiles"] == 0
    again = child(tmp_path)
    assert again["corrupt"] == 0 and again["binding"] is (shlib.linker() is None)


def test_a_stale_host_record_costs_one_compile(tmp_path: Path) -> None:
    child(tmp_path)
    (record,) = entries(tmp_path, ".host")
    cache_store.write_entry(record, {"host": "some other host"}, {})
    stale = child(tmp_path)  # finds no entry under the wrong key: compiles, fixes the record
    assert stale["ok"] and stale["compiles"] == 1
    fixed = child(tmp_path)
    assert fixed["disk_loads"] == 1 and fixed["compiles"] == 0


def test_mcjit_objects_when_there_is_no_linker(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ADJIT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(shlib, "linker", lambda: None)
    x, y = Var(Aval((64,), float32)), Var(Aval((64,), float32))
    (k,) = fuse(Graph((x,), (Eqn(Op.TANH, (x,), {}, y),), (y,))).kernels
    info, compiled = kernel_code_fresh(k)
    assert compiled.source == "compiled"
    jit.clear_memory_cache()
    info2, loaded = kernel_code_fresh(k)
    assert loaded.source == "disk" and info2 == info
    (entry,) = entries(tmp_path, ".kernel")
    assert cache_store.read_entry(entry).meta["kind"] == "object"  # type: ignore[union-attr]
    ex = compile_program(Graph((x,), (Eqn(Op.TANH, (x,), {}, y),), (y,)))
    a = np.linspace(-4, 4, 64, dtype=np.float32)
    np.testing.assert_allclose(ex([a])[0], np.tanh(a), rtol=1e-6, atol=1e-6)


def kernel_code_fresh(k: Kernel) -> tuple[kernel_cache.KernelInfo, jit.CompiledKernel]:
    """``kernel_code`` that must not be a memory hit."""
    before = dict(jit.STATS)
    info, compiled = kernel_cache.kernel_code(k)
    assert jit.STATS["memory_hits"] == before["memory_hits"]
    return info, compiled


def test_an_unloadable_library_is_rebuilt_not_run(tmp_path: Path, monkeypatch) -> None:
    if shlib.linker() is None:
        pytest.skip("no linker: kernels are MCJIT objects")
    monkeypatch.setenv("ADJIT_CACHE_DIR", str(tmp_path))
    x, y = Var(Aval((32,), float32)), Var(Aval((32,), float32))
    (k,) = fuse(Graph((x,), (Eqn(Op.EXP, (x,), {}, y),), (y,))).kernels
    kernel_cache.kernel_code(k)
    (path,) = entries(tmp_path, ".kernel")
    good = cache_store.read_entry(path)
    assert good is not None and good.meta["kind"] == "shared"
    # intact checksum, but not a shared library: dlopen refuses it, the kernel is rebuilt
    cache_store.write_entry(path, good.meta, {**good.blobs, "code": b"\x7fELF not really"})
    jit.clear_memory_cache()
    compiles = jit.STATS["compiles"]
    _, compiled = kernel_cache.kernel_code(k)
    assert compiled.source == "compiled" and jit.STATS["compiles"] == compiles + 1
    assert cache_store.read_entry(path) == good  # the same bytes as the first build


def test_keys_are_stable_across_processes_and_hash_seeds() -> None:
    code = (
        "from adjit.codegen.kernel_cache import describe\n"
        "from adjit.ir.aval import Aval\nfrom adjit.ir.dtypes import float32\n"
        "from adjit.ir.graph import Eqn, Graph, Var\nfrom adjit.ir.ops import Op\n"
        "from adjit.passes.fusion import fuse\n"
        "x, y = Var(Aval((4, 5), float32)), Var(Aval((4,), float32))\n"
        "g = Graph((x,), (Eqn(Op.SUM, (x,), {'axes': (1,), 'keepdim': False}, y),), (y,))\n"
        "print(describe(fuse(g).kernels[0], True))"
    )
    texts = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(texts) == 1 and "SUM[axes=(int:1),keepdim=bool:False]" in texts.pop()


def test_exact_tells_close_values_apart() -> None:
    exact = kernel_cache.exact
    assert exact(0.1) != exact(0.1 + 2**-56) and exact(0.0) != exact(-0.0)
    assert exact(np.float32(1)) != exact(np.float64(1)) != exact(1) != exact(True)
    big = np.arange(10_000, dtype=np.float32)
    changed = big.copy()
    changed[5000] += 1
    assert exact(big) != exact(changed)  # no "..." summaries
    assert exact(frozenset({3, 1, 2})) == exact(frozenset({2, 3, 1}))


def test_host_keys() -> None:
    full = llvm_host.host_key()
    cheap = llvm_host.cheap_host_key()
    assert "slp_vectorization" in full
    if cheap is not None:
        assert len(cheap) == 64 and cheap == llvm_host.cheap_host_key()


def test_a_fingerprint_change_is_a_miss(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ADJIT_CACHE_DIR", str(tmp_path))
    x, y = Var(Aval((16,), float32)), Var(Aval((16,), float32))
    (k,) = fuse(Graph((x,), (Eqn(Op.LOG, (x,), {}, y),), (y,))).kernels
    kernel_cache.kernel_code(k)
    jit.clear_memory_cache()
    edited = lambda: "an edited code generator"
    monkeypatch.setattr(kernel_cache, "codegen_fingerprint", edited)
    monkeypatch.setattr(kernel_cache, "source_fingerprint", edited)
    compiles = jit.STATS["compiles"]
    kernel_cache.kernel_code(k)
    assert jit.STATS["compiles"] == compiles + 1 and len(entries(tmp_path, ".kernel")) == 2


def test_code_built_while_sources_change_is_not_stored(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ADJIT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(kernel_cache, "source_fingerprint", lambda: "edited mid-run")
    x, y = Var(Aval((16,), float32)), Var(Aval((16,), float32))
    (k,) = fuse(Graph((x,), (Eqn(Op.SQRT, (x,), {}, y),), (y,))).kernels
    compiles = jit.STATS["compiles"]
    _, compiled = kernel_cache.kernel_code(k)
    assert compiled.source == "compiled" and jit.STATS["compiles"] == compiles + 1
    assert not entries(tmp_path, ".kernel")


def test_kernel_info_stands_in_for_lowered(tmp_path: Path, monkeypatch) -> None:
    from adjit.codegen.lower import lower_kernel

    monkeypatch.setenv("ADJIT_CACHE_DIR", str(tmp_path))
    x, y = Var(Aval((8, 6), float32)), Var(Aval((8,), float32))
    g = Graph((x,), (Eqn(Op.SUM, (x,), {"axes": (1,), "keepdim": False}, y),), (y,))
    (k,) = fuse(g).kernels
    low = lower_kernel(k)
    kernel_cache.kernel_code(k)
    jit.clear_memory_cache()
    info, compiled = kernel_cache.kernel_code(k)
    assert compiled.source == "disk"
    assert isinstance(low, kernel_cache.KernelInfo)
    assert info == low  # the record rebuilt from disk is the one lowering made


def test_concurrent_writers_leave_one_good_entry(tmp_path: Path) -> None:
    env = {**os.environ, "ADJIT_CACHE_DIR": str(tmp_path)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, "3.0", "1"], env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outs = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    assert all(o["ok"] for o in outs)
    after = child(tmp_path, c=3.0)
    assert after["disk_loads"] == 1 and after["corrupt"] == 0 and after["compiles"] == 0
    assert not list(tmp_path.rglob("*.tmp")) and not list(tmp_path.rglob("*.so"))


def test_a_failing_linker_falls_back_to_mcjit(tmp_path: Path, monkeypatch) -> None:
    if shlib.linker() is None:
        pytest.skip("no linker")

    def refuse(obj: bytes, name: str) -> bytes:
        raise shlib.LinkError("ld: cannot link")

    monkeypatch.setenv("ADJIT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(shlib, "link", refuse)
    x, y = Var(Aval((16,), float32)), Var(Aval((16,), float32))
    g = Graph((x,), (Eqn(Op.COS, (x,), {}, y),), (y,))
    a = np.linspace(-4, 4, 16, dtype=np.float32)
    np.testing.assert_allclose(compile_program(g)([a])[0], np.cos(a), rtol=1e-6, atol=1e-6)
    (path,) = entries(tmp_path, ".kernel")
    assert cache_store.read_entry(path).meta["kind"] == "object"  # type: ignore[union-attr]
