"""JIT: host machine code, errors instead of segfaults, and the checksummed disk cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from adjit.codegen import jit
from adjit.codegen.lower import CodegenError

ADD_IR = """
define void @"add_k"(ptr noalias %o, ptr noalias %a, ptr noalias %b, i64 %lo, i64 %hi) {
entry:
  br label %head
head:
  %i = phi i64 [%lo, %entry], [%n, %body]
  %c = icmp slt i64 %i, %hi
  br i1 %c, label %body, label %end
body:
  %pa = getelementptr inbounds float, ptr %a, i64 %i
  %pb = getelementptr inbounds float, ptr %b, i64 %i
  %po = getelementptr inbounds float, ptr %o, i64 %i
  %x = load float, ptr %pa
  %y = load float, ptr %pb
  %s = fadd float %x, %y
  store float %s, ptr %po
  %n = add nsw i64 %i, 1
  br label %head
end:
  ret void
}
"""

# a subprocess: compile one kernel from a graph, run it, report the counters
CHILD = """
import json, numpy as np
from adjit.codegen import jit
from adjit.ir.aval import Aval
from adjit.ir.dtypes import float32
from adjit.ir.graph import Eqn, Graph, Var
from adjit.ir.ops import Op
from adjit.runtime.executor import compile_program
x = Var(Aval((1000,), float32)); y = Var(Aval((1000,), float32))
g = Graph((x,), (Eqn(Op.SIN, (x,), {}, y),), (y,))
a = np.linspace(-3, 3, 1000, dtype=np.float32)
ok = bool(np.allclose(compile_program(g)([a])[0], np.sin(a), atol=1e-6))
print(json.dumps({**jit.STATS, "ok": ok}))
"""


def _child(cache: Path) -> dict:
    env = {**os.environ, "ADJIT_CACHE_DIR": str(cache)}
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def _entries(cache: Path) -> list[Path]:
    return sorted(cache.rglob("*.kernel"))


def test_second_process_loads_from_disk_and_corruption_is_rebuilt(tmp_path: Path) -> None:
    first = _child(tmp_path)
    assert first["ok"] and first["compiles"] == 1 and first["disk_loads"] == 0
    second = _child(tmp_path)
    assert second["ok"] and second["compiles"] == 0 and second["disk_loads"] == 1
    (entry,) = _entries(tmp_path)
    data = entry.read_bytes()
    entry.write_bytes(data[: len(data) // 2])  # truncated
    third = _child(tmp_path)
    assert third["ok"] and third["corrupt"] == 1 and third["compiles"] == 1
    assert _child(tmp_path)["disk_loads"] == 1  # the rebuilt entry is good again
    data = bytearray(entry.read_bytes())
    data[-5] ^= 0xFF  # one flipped byte: the checksum catches it
    entry.write_bytes(bytes(data))
    fourth = _child(tmp_path)
    assert fourth["ok"] and fourth["corrupt"] == 1 and fourth["compiles"] == 1


def test_cache_dir_default_and_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ADJIT_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "/tmp/xdg")
    assert jit.cache_dir() == Path("/tmp/xdg/adjit")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert jit.cache_dir() == Path.home() / ".cache" / "adjit"
    monkeypatch.setenv("ADJIT_CACHE_DIR", "/tmp/elsewhere")
    assert jit.cache_dir() == Path("/tmp/elsewhere")


def test_key_names_the_host_and_settings() -> None:
    import llvmlite
    import llvmlite.binding as llvm

    key = jit.host_key()
    assert llvmlite.__version__ in key and llvm.get_host_cpu_name() in key
    assert "slp_vectorization" in key


def test_ir_optimized_ir_and_assembly_are_exposed(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ADJIT_CACHE_DIR", str(tmp_path))
    k = jit.compile_ir(ADD_IR, "add", "add_k")
    assert k.ir == ADD_IR and "x float>" in k.optimized_ir  # the loop vectorized
    assert "add_k" in k.asm and "vaddps" in k.asm
    assert jit.compile_ir(ADD_IR, "add", "add_k") is k  # memory cache


def test_errors_instead_of_crashes(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ADJIT_CACHE_DIR", str(tmp_path))
    with pytest.raises(CodegenError, match="kernel broken: invalid LLVM IR"):
        jit.compile_ir("define void @f( {", "broken", "f")
    with pytest.raises(CodegenError, match="kernel k1: symbol nope not found"):
        jit.compile_ir(ADD_IR.replace("add_k", "add_k1"), "k1", "nope")
    missing = 'declare float @"no_such_fn_adjit"(float)\n' + ADD_IR.replace(
        "%s = fadd float %x, %y", '%s = call float @"no_such_fn_adjit"(float %x)'
    )
    with pytest.raises(CodegenError, match="unresolved external symbol 'no_such_fn_adjit'"):
        jit.compile_ir(missing, "k2", "add_k")


def test_llvmlite_binding_is_imported_lazily() -> None:
    code = "import sys, adjit.runtime.executor; print('llvmlite.binding' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr
