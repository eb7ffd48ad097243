"""LLVM IR of the native thread pool that runs split kernels' chunks (no Python, no GIL).

Note [native thread pool]: a split kernel's chunks run on threads this module's code creates
with ``pthread_create`` and that never touch Python. One entry, ``adjit_pool_run(state, arity,
fn, args, stride, extent, n, threads)``, called once per split kernel through a ctypes
CFUNCTYPE (which releases the GIL), calls the kernel ``fn(p_1, ..., p_arity, lo_i, hi_i)``
with the pointers at ``args + i * stride`` for the chunks ``i < n`` of ``[0, extent)``
(``lo_i = extent * i / n``, as ``runtime/kernels.py``'s ``chunks``) and returns when all are
done: 1 if they were shared with workers, 0 if the caller ran them alone, in order
(``threads`` <= 1, one chunk, no worker could be started, or another thread's task holds the
pool: a ``trylock``, so a second caller never waits and never deadlocks). One call site per
arity up to MAX_ARITY, chosen by a switch, loads the kernel's pointer arguments from the
block ``args`` points to; the chunks of a kernel that reduces across the split loop get
argument rows of their own (``stride`` pointers apart), the others share one row (``stride``
0).

The state is a block of ``STATE_BYTES`` the runtime allocates (zeroed) and never frees; its
fields are at the ``STATE`` offsets, hot ones a cache line apart. Protocol:
  - publish (the caller, holding ``busy``): ``claim`` := (g+1, CLOSED) then a release fence,
    the task's fields, ``done`` := 0, ``claim`` := (g+1, 0) (release), ``gen`` := g+1
    (seq_cst); if ``waiters`` > 0, ``FUTEX_WAKE`` on ``gen``. Then the caller claims chunks
    itself and spins (``pause``, then ``sched_yield``) until ``done`` = n (acquire), and
    releases ``busy``. It waits only for chunks a worker is running, never for a worker to
    wake up: a worker that wakes late finds nothing left.
  - claim: ``claim`` packs the generation (high 32 bits) and the next chunk (low 32); a chunk
    is taken by a compare-and-swap that also checks the generation, so a worker still holding
    an older task's fields (it read them while the caller overwrote them for the next task)
    fails its swap and takes nothing: a seqlock whose re-check is the swap (the worker reads
    the fields, then an acquire fence, then swaps). Each chunk run adds 1 to ``done``
    (release), which is all the caller waits for.
  - workers: load ``gen``, read the task, help if their index is below the task's ``active``
    count (so ``set_num_threads`` can shrink the pool; the others sleep at once), then spin on
    ``gen`` for ``spin_ns`` nanoseconds (``clock_gettime`` every 16 ``pause``s), then sleep:
    ``waiters`` += 1 (seq_cst), re-read ``gen``, ``FUTEX_WAIT`` while it is unchanged. The
    seq_cst pair (caller: store ``gen``, load ``waiters``; worker: add ``waiters``, load
    ``gen``) means either the caller sees the sleeper and wakes it or the sleeper sees the new
    generation: no lost wake-up.
  - workers are created by the entry, under ``busy``, up to ``threads`` - 1 (grown on demand,
    never shrunk), with every signal blocked (Python's handlers run on the main thread) and
    detached. A failed ``pthread_create`` just leaves fewer workers.
Counters for tests: ``tasks`` (published), ``sleeps`` (futex waits), ``alone`` (runs the
caller did alone), ``helped`` (chunks workers ran).
"""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass

STATE_BYTES = 1024
# byte offsets of the state's fields (all i64 but gen, waiters, busy: i32)
STATE = {
    "gen": 0, "waiters": 64, "claim": 128, "done": 192, "busy": 256,
    "arity": 320, "fn": 328, "args": 336, "stride": 344, "extent": 352, "n": 360, "active": 368,
    "workers": 448, "started": 456, "spin_ns": 464,
    "tasks": 512, "sleeps": 520, "alone": 528, "helped": 536,
}  # fmt: skip
ENTRY = "adjit_pool_run"
MAX_ARITY = 32  # kernels with more pointer arguments split on the Python workers
CALLER_SPINS = 400  # the caller's pauses (~50 ns each) before it yields while waiting


@dataclass(frozen=True)
class Arch:
    """What the pool's IR needs of the processor: the futex system call's number, the
    spin-wait hint."""

    futex: int
    pause: str  # an intrinsic taking no arguments


# Only what is exercised here (Linux x86-64). Linux aarch64 would be futex 98 and the hint
# ``llvm.aarch64.hint(i32 1)``: left out until a machine can run the tests.
ARCHES = {"x86_64": Arch(futex=202, pause="llvm.x86.sse2.pause")}


def host_arch() -> Arch | None:
    """The host's entry in ARCHES, or None where the native pool is not supported."""
    if not sys.platform.startswith("linux"):
        return None
    return ARCHES.get(platform.machine())


def _dispatch_ir() -> str:
    """``call_kernel(fn, arity, args, lo, hi)``: ``fn(args[0], ..., args[arity - 1], lo, hi)``
    for arities 1 .. MAX_ARITY (one call site each, chosen by a switch)."""
    cases = " ".join(f"i64 {k}, label %a{k}" for k in range(1, MAX_ARITY + 1))
    blocks = []
    for k in range(1, MAX_ARITY + 1):
        loads = "".join(
            f"  %p{k}.{i} = getelementptr ptr, ptr %args, i64 {i}\n"
            f"  %v{k}.{i} = load ptr, ptr %p{k}.{i}, align 8\n"
            for i in range(k)
        )
        params = "".join(f"ptr %v{k}.{i}, " for i in range(k))
        blocks.append(f"a{k}:\n{loads}  call void %fn({params}i64 %lo, i64 %hi)\n  br label %out\n")
    return (
        "define internal void @call_kernel(ptr %fn, i64 %arity, ptr %args, i64 %lo, i64 %hi) {\n"
        f"entry:\n  switch i64 %arity, label %bad [ {cases} ]\n"
        + "".join(blocks)
        + "bad:\n  call void @llvm.trap()\n  unreachable\n"  # the runtime never passes one
        + "out:\n  ret void\n}\n"
    )


def _field(name: str, reg: str | None = None) -> str:
    return f"  %{reg or name}.p = getelementptr i8, ptr %s, i64 {STATE[name]}\n"


# the task's fields as the entry writes them and workers read them: (name, IR type)
TASK = [("arity", "i64"), ("fn", "ptr"), ("args", "ptr"), ("stride", "i64"),
        ("extent", "i64"), ("n", "i64"), ("active", "i64")]  # fmt: skip


def pool_ir(arch: Arch) -> str:
    """The module: ``adjit_pool_run`` and what it needs (Note [native thread pool])."""
    pointers = "".join(_field(f) for f in STATE)
    store_task = "".join(
        f"  store atomic {t} %{f}, ptr %{f}.p monotonic, align 8\n" for f, t in TASK
    )
    load_task = "".join(
        f"  %{f} = load atomic {t}, ptr %{f}.p monotonic, align 8\n" for f, t in TASK
    )
    task_args = ", ".join(f"{t} %{f}" for f, t in TASK if f != "active")
    return f"""
declare i32 @pthread_create(ptr, ptr, ptr, ptr)
declare i32 @pthread_detach(i64)
declare i32 @pthread_sigmask(i32, ptr, ptr)
declare i64 @syscall(i64, ...)
declare i32 @sched_yield()
declare i32 @clock_gettime(i32, ptr)
declare void @{arch.pause}()
declare void @llvm.memset.p0.i64(ptr, i8, i64, i1)
declare void @llvm.trap()

define internal i64 @now_ns() {{
  %ts = alloca [2 x i64], align 8
  %r = call i32 @clock_gettime(i32 1, ptr %ts)
  %sec = load i64, ptr %ts, align 8
  %nsp = getelementptr i64, ptr %ts, i64 1
  %ns = load i64, ptr %nsp, align 8
  %t = mul i64 %sec, 1000000000
  %all = add i64 %t, %ns
  ret i64 %all
}}

{_dispatch_ir()}
; chunk i of [0, extent) cut into n, as runtime/kernels.py's chunks()
define internal void @run_chunk(i64 %arity, ptr %fn, ptr %args, i64 %stride, i64 %extent,
                                i64 %n, i64 %i) {{
  %m0 = mul i64 %extent, %i
  %lo = udiv i64 %m0, %n
  %i1 = add i64 %i, 1
  %m1 = mul i64 %extent, %i1
  %hi = udiv i64 %m1, %n
  %off = mul i64 %i, %stride
  %row = getelementptr ptr, ptr %args, i64 %off
  call void @call_kernel(ptr %fn, i64 %arity, ptr %row, i64 %lo, i64 %hi)
  ret void
}}

; claim chunks of generation %g until none is left or the generation moved on
define internal i64 @help(ptr %s, i32 %g, {task_args}) {{
entry:
{pointers}  %ran = alloca i64, align 8
  store i64 0, ptr %ran, align 8
  %tag = zext i32 %g to i64
  br label %loop
loop:
  %c = load atomic i64, ptr %claim.p monotonic, align 8
  %ctag = lshr i64 %c, 32
  %same = icmp eq i64 %ctag, %tag
  br i1 %same, label %check, label %exit
check:
  %i = and i64 %c, 4294967295
  %left = icmp ult i64 %i, %n
  br i1 %left, label %take, label %exit
take:
  %c1 = add i64 %c, 1
  %r = cmpxchg ptr %claim.p, i64 %c, i64 %c1 acq_rel monotonic, align 8
  %ok = extractvalue {{ i64, i1 }} %r, 1
  br i1 %ok, label %run, label %loop
run:
  call void @run_chunk(i64 %arity, ptr %fn, ptr %args, i64 %stride, i64 %extent, i64 %n, i64 %i)
  %d = atomicrmw add ptr %done.p, i64 1 release, align 8
  %r0 = load i64, ptr %ran, align 8
  %r1 = add i64 %r0, 1
  store i64 %r1, ptr %ran, align 8
  br label %loop
exit:
  %total = load i64, ptr %ran, align 8
  ret i64 %total
}}

define internal ptr @worker(ptr %s) {{
entry:
{pointers}  %gslot = alloca i32, align 4
  %spins = alloca i64, align 8
  %idx = atomicrmw add ptr %started.p, i64 1 monotonic, align 8
  %g0 = load atomic i32, ptr %gen.p acquire, align 4
  store i32 %g0, ptr %gslot, align 4
  br label %task
task:
  %g = load i32, ptr %gslot, align 4
{load_task}  fence acquire
  %mine = icmp ult i64 %idx, %active
  br i1 %mine, label %helping, label %sleep
helping:
  %ran = call i64 @help(ptr %s, i32 %g, {task_args})
  %h = atomicrmw add ptr %helped.p, i64 %ran monotonic, align 8
  br label %idle
idle:
  %t0 = call i64 @now_ns()
  %limit = load atomic i64, ptr %spin_ns.p monotonic, align 8
  store i64 0, ptr %spins, align 8
  br label %spin
spin:
  %gn = load atomic i32, ptr %gen.p acquire, align 4
  %moved = icmp ne i32 %gn, %g
  br i1 %moved, label %next, label %spin.more
next:
  store i32 %gn, ptr %gslot, align 4
  br label %task
spin.more:
  call void @{arch.pause}()
  %k = load i64, ptr %spins, align 8
  %k1 = add i64 %k, 1
  store i64 %k1, ptr %spins, align 8
  %k15 = and i64 %k1, 15
  %tick = icmp eq i64 %k15, 0
  br i1 %tick, label %spin.clock, label %spin
spin.clock:
  %t = call i64 @now_ns()
  %el = sub i64 %t, %t0
  %over = icmp sge i64 %el, %limit
  br i1 %over, label %sleep, label %spin
sleep:
  %w0 = atomicrmw add ptr %waiters.p, i32 1 seq_cst, align 4
  %z0 = atomicrmw add ptr %sleeps.p, i64 1 monotonic, align 8
  br label %sleep.check
sleep.check:
  %gs = load atomic i32, ptr %gen.p seq_cst, align 4
  %still = icmp eq i32 %gs, %g
  br i1 %still, label %sleep.wait, label %woke
sleep.wait:
  %expect = zext i32 %g to i64
  %fw = call i64 (i64, ...) @syscall(i64 {arch.futex}, ptr %gen.p, i64 128, i64 %expect, ptr null)
  br label %sleep.check
woke:
  %w1 = atomicrmw sub ptr %waiters.p, i32 1 seq_cst, align 4
  store i32 %gs, ptr %gslot, align 4
  br label %task
}}

; a worker with every signal blocked (signals go to Python's threads), detached
define internal i32 @spawn(ptr %s) {{
  %tid = alloca i64, align 8
  %all = alloca [128 x i8], align 8
  %old = alloca [128 x i8], align 8
  call void @llvm.memset.p0.i64(ptr %all, i8 -1, i64 128, i1 false)
  %m0 = call i32 @pthread_sigmask(i32 0, ptr %all, ptr %old)
  %rc = call i32 @pthread_create(ptr %tid, ptr null, ptr @worker, ptr %s)
  %m1 = call i32 @pthread_sigmask(i32 2, ptr %old, ptr null)
  %ok = icmp eq i32 %rc, 0
  br i1 %ok, label %detach, label %out
detach:
  %t = load i64, ptr %tid, align 8
  %d = call i32 @pthread_detach(i64 %t)
  br label %out
out:
  ret i32 %rc
}}

define i32 @{ENTRY}(ptr %s, {task_args}, i64 %threads) {{
entry:
{pointers}  %i.slot = alloca i64, align 8
  %spins = alloca i64, align 8
  %multi = icmp sgt i64 %threads, 1
  %many = icmp sgt i64 %n, 1
  %both = and i1 %multi, %many
  br i1 %both, label %lock, label %alone
lock:
  %l = cmpxchg ptr %busy.p, i32 0, i32 1 acquire monotonic, align 4
  %got = extractvalue {{ i32, i1 }} %l, 1
  br i1 %got, label %grow, label %alone
grow:
  %want = sub i64 %threads, 1
  %have = load i64, ptr %workers.p, align 8
  %short = icmp slt i64 %have, %want
  br i1 %short, label %spawn, label %publish
spawn:
  %rc = call i32 @spawn(ptr %s)
  %made = icmp eq i32 %rc, 0
  br i1 %made, label %spawned, label %publish
spawned:
  %have1 = add i64 %have, 1
  store i64 %have1, ptr %workers.p, align 8
  br label %grow
publish:
  %have2 = load i64, ptr %workers.p, align 8
  %fewer = icmp slt i64 %have2, %want
  %active = select i1 %fewer, i64 %have2, i64 %want
  %none = icmp eq i64 %active, 0
  br i1 %none, label %unlock.alone, label %go
unlock.alone:
  store atomic i32 0, ptr %busy.p release, align 4
  br label %alone
go:
  %g = load atomic i32, ptr %gen.p monotonic, align 4
  %g1 = add i32 %g, 1
  %g64 = zext i32 %g1 to i64
  %open = shl i64 %g64, 32
  %closed = or i64 %open, 4294967295
  store atomic i64 %closed, ptr %claim.p monotonic, align 8
  fence release
{store_task}  store atomic i64 0, ptr %done.p monotonic, align 8
  store atomic i64 %open, ptr %claim.p release, align 8
  store atomic i32 %g1, ptr %gen.p seq_cst, align 4
  %tk = atomicrmw add ptr %tasks.p, i64 1 monotonic, align 8
  %w = load atomic i32, ptr %waiters.p seq_cst, align 4
  %sleepers = icmp ne i32 %w, 0
  br i1 %sleepers, label %wake, label %work
wake:
  %fw = call i64 (i64, ...) @syscall(i64 {arch.futex}, ptr %gen.p, i64 129, i64 2147483647)
  br label %work
work:
  %mine = call i64 @help(ptr %s, i32 %g1, {task_args})
  store i64 0, ptr %spins, align 8
  br label %wait
wait:
  %d = load atomic i64, ptr %done.p acquire, align 8
  %finished = icmp uge i64 %d, %n
  br i1 %finished, label %unlock, label %wait.more
wait.more:
  %k = load i64, ptr %spins, align 8
  %k1 = add i64 %k, 1
  store i64 %k1, ptr %spins, align 8
  %long = icmp ugt i64 %k1, {CALLER_SPINS}
  br i1 %long, label %yield, label %pause
pause:
  call void @{arch.pause}()
  br label %wait
yield:
  %y = call i32 @sched_yield()
  br label %wait
unlock:
  store atomic i32 0, ptr %busy.p release, align 4
  ret i32 1
alone:
  %a0 = atomicrmw add ptr %alone.p, i64 1 monotonic, align 8
  store i64 0, ptr %i.slot, align 8
  br label %alone.loop
alone.loop:
  %i = load i64, ptr %i.slot, align 8
  %more = icmp slt i64 %i, %n
  br i1 %more, label %alone.run, label %alone.out
alone.run:
  call void @run_chunk(i64 %arity, ptr %fn, ptr %args, i64 %stride, i64 %extent, i64 %n, i64 %i)
  %i1 = add i64 %i, 1
  store i64 %i1, ptr %i.slot, align 8
  br label %alone.loop
alone.out:
  ret i32 0
}}
"""
