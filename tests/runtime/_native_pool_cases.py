"""Cases of test_native_pool.py that could hang if the pool were wrong: they run in a process of
their own (``python _native_pool_cases.py NAME...``, killed by the test's timeout), in turn,
each printing ``NAME: ok`` or ``NAME: failed`` and its traceback."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from adjit.ir.aval import Aval  # noqa: E402
from adjit.ir.dtypes import float32, float64  # noqa: E402
from adjit.ir.graph import Eqn, Graph, Var  # noqa: E402
from adjit.ir.ops import Op  # noqa: E402
from adjit.runtime import native_pool, workers  # noqa: E402
from adjit.runtime.executor import Executable, KernelStep, compile_program  # noqa: E402
from test_native_pool import chain, inputs  # noqa: E402


def _pair(shape, dtype, axes, n_inputs=3) -> tuple[Executable, Executable, list[np.ndarray]]:
    """(split, serial) executables of one graph, and its inputs."""
    g = chain(n_inputs, shape, dtype, axes)
    return compile_program(g, threshold=1), compile_program(g, threshold=1 << 62), inputs(g)


def _check(split: Executable, serial: Executable, xs: list[np.ndarray], calls: int) -> None:
    want = serial(xs)
    for _ in range(calls):
        got = split(xs)
        np.testing.assert_array_equal(got[0], want[0])
        for a, b in zip(got[1:], want[1:], strict=True):  # partial sums: a few ulps
            np.testing.assert_allclose(a, b, rtol=1e-5)


def stress() -> None:
    workers.set_num_threads(2)
    pool = native_pool.get()
    assert pool is not None
    small = _pair((64,), float32, None)
    reducing = _pair((1001,), float64, (0,))
    mid = _pair((3, 40000), float32, (1,))
    for spin in (native_pool.SPIN_NS, 0, 2_000):  # 0: workers sleep after every task
        pool.set_spin_ns(spin)
        sleeps = pool.counter("sleeps")
        _check(*small, 2000)
        _check(*reducing, 1000)
        _check(*mid, 200)
        _check_right_after(pool)  # a sleeping worker is woken up and helps
        if spin == 0:
            assert pool.counter("sleeps") > sleeps
    assert pool.counter("workers") >= 1


def _check_right_after(pool: native_pool.NativePool) -> None:
    """Slow chunks (16 transcendentals an element), outputs copied as soon as the call
    returns: a call that returned before its workers' chunks were done would show zeros."""
    x = Var(Aval((1 << 16,), float32))
    eqns, y = [], x
    for k in range(16):
        z = Var(y.aval)
        eqns.append(Eqn(Op.SIN if k % 2 else Op.EXP, (y,), {}, z))
        y = z
    ex = compile_program(Graph((x,), tuple(eqns), (y,)), threshold=1)
    (step,) = [s for s in ex.steps if isinstance(s, KernelStep)]
    a = np.random.default_rng(1).standard_normal(x.aval.shape).astype(np.float32)
    want = np.empty_like(a)
    step.runner.fn(want.ctypes.data, a.ctypes.data, 0, a.size)
    helped = pool.counter("helped")
    for _ in range(30):
        out = np.zeros_like(a)
        step.runner.run([out.ctypes.data, a.ctypes.data], [out])
        np.testing.assert_array_equal(out.copy(), want)
    assert pool.counter("helped") > helped  # the worker ran some of the chunks


def two_threads() -> None:
    workers.set_num_threads(2)
    pairs = [
        _pair((5000,), float32, None),
        _pair((777,), float64, (0,)),
        _pair((4096,), float32, None),
    ]
    errors: list[BaseException] = []

    def loop(k: int) -> None:
        try:
            for i in range(600):  # the last program is shared by both threads
                _check(*pairs[2 if i % 3 == 0 else k], 1)
        except BaseException as e:  # noqa: BLE001 -- reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=loop, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
        assert not t.is_alive(), "a thread calling split kernels hung"
    if errors:
        raise errors[0]
    pool = native_pool.get()
    assert pool is not None and pool.counter("tasks") > 0


def thread_counts() -> None:
    pair = _pair((20000,), float32, (0,))
    pool = native_pool.get()
    assert pool is not None
    for n in (1, 2, 3, 2, 1, 3, 2):
        workers.set_num_threads(n)
        tasks = pool.counter("tasks")
        _check(*pair, 200)
        assert (pool.counter("tasks") > tasks) == (n > 1), n
    assert pool.counter("workers") == 2  # grown to 3 - 1, never shrunk


def _in_child(body: Callable[[], None]) -> None:
    """Fork; the child runs ``body`` (killed by an alarm if it hangs); the parent checks it
    exited 0."""
    pid = os.fork()
    if pid == 0:
        signal.alarm(60)
        code = 1
        try:
            body()
            code = 0
        finally:
            os._exit(code)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0, status
            return
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    raise AssertionError("the forked child hung")


def fork() -> None:
    workers.set_num_threads(2)
    pool = native_pool.get()
    assert pool is not None
    mine, theirs = _pair((30000,), float32, (0,)), _pair((30001,), float64, (0,))
    _check(*mine, 20)  # the parent has a worker now
    parent_state, parent_workers = pool.state, pool.counter("workers")

    def child() -> None:
        assert pool.counter("workers") == 0  # a fresh state: no worker of the parent's
        _check(*theirs, 300)
        assert pool.state != parent_state and pool.counter("workers") == 1

    _in_child(child)
    stop = threading.Event()  # fork while another thread is inside split calls

    def busy() -> None:
        while not stop.is_set():
            _check(*mine, 1)

    t = threading.Thread(target=busy)
    t.start()
    try:
        for _ in range(5):
            _in_child(child)
    finally:
        stop.set()
        t.join(60)
    assert not t.is_alive()
    _check(*mine, 20)
    assert pool.state == parent_state and pool.counter("workers") == parent_workers


def idle() -> None:
    workers.set_num_threads(2)
    pool = native_pool.get()
    assert pool is not None
    _check(*_pair((50000,), float32, None), 200)
    time.sleep(0.05)
    cpu = time.process_time()
    time.sleep(0.5)
    used = time.process_time() - cpu
    assert used < 0.05, f"workers kept spinning: {used:.3f} s of CPU in 0.5 s idle"
    assert pool.counter("sleeps") >= 1


def python_pool() -> None:
    assert native_pool.get() is None
    workers.set_num_threads(2)
    _check(*_pair((10000,), float64, (0,)), 50)
    assert workers._WORKERS  # the Python workers ran the chunks


def unbuildable() -> None:
    """A pool that cannot be built (here: invalid IR, as a missing symbol would be): the
    Python workers split kernels instead."""
    native_pool.pool_ir = lambda arch: "define void @nothing( {"
    assert native_pool.get() is None and native_pool.BUILD_ERROR
    python_pool()


CASES = {
    f.__name__: f
    for f in (stress, two_threads, thread_counts, fork, idle, python_pool, unbuildable)
}

if __name__ == "__main__":
    for name in sys.argv[1:]:
        try:
            CASES[name]()
            print(f"{name}: ok", flush=True)
        except BaseException:  # noqa: BLE001 -- reported, the next case runs
            print(f"{name}: failed\n{traceback.format_exc()}", flush=True)
