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
from adjit.codegen import worker
print(json.dumps({**jit.STATS, "ok": ok, "binding": "llvmlite.binding" in sys.modules,
                  "source": k.source, "worker_starts": worker.STATS["starts"]}))
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
    # the full host key is computed again (by llvmlite.binding in the compile worker, or here
    # when it is off), the kernel still loads from disk
    rebuilt = child(tmp_path)
    assert rebuilt["ok"] and rebuilt["corrupt"] == 1
    assert rebuilt["binding"] or rebuilt["worker_starts"] == 1
    assert rebuilt["disk_loads"] == 1 and rebuilt["compiles"] == 0
    again = child(tmp_path)
    assert again["corrupt"] == 0 and again["binding"] is (shlib.linker() is None)


def test_a_stale_host_record_costs_one_compile(tmp_path: Path) -> None:
    child(tmp_path)
    (record,) = entries(tmp_path, ".host")
    cache_store.write_entry(record, {"host": "some other host", "cheap": record.stem}, {})
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
    monkeypatch.setenv("ADJIT_COMPILE_WORKER", "0")  # the linker refused in this process
    monkeypatch.setattr(shlib, "link", refuse)
    x, y = Var(Aval((16,), float32)), Var(Aval((16,), float32))
    g = Graph((x,), (Eqn(Op.COS, (x,), {}, y),), (y,))
    a = np.linspace(-4, 4, 16, dtype=np.float32)
    np.testing.assert_allclose(compile_program(g)([a])[0], np.cos(a), rtol=1e-6, atol=1e-6)
    (path,) = entries(tmp_path, ".kernel")
    assert cache_store.read_entry(path).meta["kind"] == "object"  # type: ignore[union-attr]


# ---- entries tied to their keys; a cache that fails mid-run (Note [best-effort cache]) ---------
def exp_graph(n: int = 64) -> Graph:
    x, y = Var(Aval((n,), float32)), Var(Aval((n,), float32))
    return Graph((x,), (Eqn(Op.EXP, (x,), {}, y),), (y,))


def mul_add_graph(n: int = 64) -> Graph:
    """Two inputs (another arity than exp_graph's kernel): x * w + w."""
    x, w, p, y = (Var(Aval((n,), float32)) for _ in range(4))
    return Graph((x, w), (Eqn(Op.MUL, (x, w), {}, p), Eqn(Op.ADD, (p, w), {}, y)), (y,))


def run_mul_add(n: int = 64) -> None:
    """Compile (or load) and run mul_add_graph; its result must be right."""
    a, w = np.linspace(-2, 2, n, dtype=np.float32), np.linspace(1, 3, n, dtype=np.float32)
    np.testing.assert_array_equal(compile_program(mul_add_graph(n))([a, w])[0], a * w + w)


def test_an_entry_under_another_kernels_name_is_rebuilt_not_run(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("ADJIT_CACHE_DIR", str(tmp_path))
    compile_program(exp_graph())
    (exp_entry,) = entries(tmp_path, ".kernel")
    run_mul_add()
    (mul_entry,) = set(entries(tmp_path, ".kernel")) - {exp_entry}
    # a valid entry of a kernel with one input where the two-input kernel's entry should be:
    # loading it would run exp on the wrong arguments (or crash)
    mul_entry.write_bytes(exp_entry.read_bytes())
    jit.clear_memory_cache()
    before = dict(jit.STATS)
    run_mul_add()
    assert jit.STATS["mismatched"] == before["mismatched"] + 1
    assert jit.STATS["compiles"] == before["compiles"] + 1
    assert jit.STATS["disk_loads"] == before["disk_loads"]
    meta = cache_store.read_entry(mul_entry).meta  # type: ignore[union-attr]
    assert meta["key"] == mul_entry.stem  # rebuilt in place, tied to its own key again
    jit.clear_memory_cache()
    run_mul_add()
    assert jit.STATS["disk_loads"] == before["disk_loads"] + 1


def test_a_host_record_under_another_name_is_ignored(tmp_path: Path, monkeypatch) -> None:
    cheap = llvm_host.cheap_host_key()
    if cheap is None:
        pytest.skip("no cheap host key here")
    monkeypatch.setenv("ADJIT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(llvm_host, "_RECORDS", {})
    path = llvm_host._host_path(cheap)
    cache_store.write_entry(path, {"host": "another machine's key", "cheap": "f" * 64}, {})
    assert llvm_host._recorded(cheap) is None
    monkeypatch.setattr(llvm_host, "_RECORDS", {})
    cache_store.write_entry(path, {"host": "this key", "cheap": cheap}, {})
    assert llvm_host._recorded(cheap) == "this key"


def make_unwritable(cache: Path, how: str) -> None:
    import shutil

    if how == "vanished":
        shutil.rmtree(cache)
    elif how == "a-file":  # the folder replaced by a file: every path under it fails
        shutil.rmtree(cache)
        cache.write_text("not a folder")
    else:  # read-only (root writes anyway: the other two cases hold there)
        for d in [cache, *(p for p in cache.rglob("*") if p.is_dir())]:
            d.chmod(0o500)


@pytest.mark.parametrize("how", ["vanished", "a-file", "read-only"])
def test_a_cache_folder_failing_mid_run_costs_only_recompiles(
    tmp_path: Path, monkeypatch, how: str
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("ADJIT_CACHE_DIR", str(cache))
    monkeypatch.setattr(llvm_host, "_RECORDS", {})
    run_mul_add(64)
    make_unwritable(cache, how)
    try:
        jit.clear_memory_cache()
        run_mul_add(64)  # a disk load or a rebuild
        run_mul_add(96)  # a new kernel: built, its entry cannot be written
        a = np.linspace(-2, 2, 80, dtype=np.float32)
        np.testing.assert_allclose(compile_program(exp_graph(80))([a])[0], np.exp(a), rtol=1e-6)
    finally:
        for d in [cache, *(p for p in cache.rglob("*") if p.is_dir())] if cache.is_dir() else []:
            d.chmod(0o700)
    assert not list(tmp_path.rglob("*.tmp")) and not list(tmp_path.rglob("*.so"))


def test_a_full_disk_leaves_no_temporary_files(tmp_path: Path, monkeypatch) -> None:
    """Every file write fails half-way with ENOSPC: the call still succeeds (an MCJIT kernel),
    and no temporary entry or library copy is left behind."""
    import errno
    import pathlib

    def full(self: Path, data: bytes) -> int:
        with open(self, "wb") as f:
            f.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    real_fdopen = os.fdopen

    class FullFile:
        def __init__(self, fd: int, *args: object) -> None:
            self.f = real_fdopen(fd, "wb")

        def __enter__(self) -> FullFile:
            return self

        def __exit__(self, *exc: object) -> None:
            self.f.close()

        def write(self, data: bytes) -> int:
            self.f.write(data[:10])
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setenv("ADJIT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(llvm_host, "_RECORDS", {})
    monkeypatch.setattr(pathlib.Path, "write_bytes", full)
    monkeypatch.setattr(shlib.os, "fdopen", FullFile)
    run_mul_add(112)
    monkeypatch.undo()
    assert not list(tmp_path.rglob("*.tmp")) and not list(tmp_path.rglob("*.so"))
    assert not entries(tmp_path, ".kernel")


def test_stale_leftovers_are_swept_fresh_ones_and_other_files_kept(tmp_path: Path) -> None:
    old = ["ab/ab12.kernel.11.22.tmp", "hosts/cd34.host.11.22.tmp", "adjit-load-k0.11.3.so"]
    young = ["ef/ef56.kernel.33.44.tmp", "adjit-load-k1.33.5.so"]
    other = ["mine.so", "ab/notes.tmp"]  # not names adjit makes: never touched
    now = 1_000_000_000.0
    for name in old + young + other:
        path = tmp_path / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"x")
        age = cache_store.STALE_SECONDS + 60 if name in old + other else 5
        os.utime(path, (now - age, now - age))
    cache_store._SWEPT.discard(tmp_path)
    cache_store.sweep_stale(tmp_path, now=now)
    left = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()}
    assert left == set(young + other)


def test_the_first_write_sweeps(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ADJIT_CACHE_DIR", str(tmp_path))
    stale = tmp_path / "ab" / "ab12.kernel.1.2.tmp"
    stale.parent.mkdir()
    stale.write_bytes(b"half an entry")
    os.utime(stale, (0, 0))
    cache_store._SWEPT.discard(tmp_path)
    cache_store.write_entry(tmp_path / "ab" / "ab99.kernel", {}, {})
    assert not stale.exists() and (tmp_path / "ab" / "ab99.kernel").exists()


def test_the_disk_cache_can_be_turned_off(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ADJIT_CACHE_DIR", "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(llvm_host, "_RECORDS", {})
    jit.clear_memory_cache()
    before = dict(jit.STATS)
    run_mul_add(48)
    jit.clear_memory_cache()
    run_mul_add(48)
    assert jit.STATS["compiles"] == before["compiles"] + 2
    assert jit.STATS["disk_loads"] == before["disk_loads"]
    assert not list(tmp_path.rglob("*")) and not (Path.cwd() / "off").exists()
