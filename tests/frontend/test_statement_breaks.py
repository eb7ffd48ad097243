"""Statement-level graph breaks (Note [statement-level breaks] in frontend/statements.py): a
function that broke only at top-level statements runs them as Python and compiles the runs of
statements between them whole; values, gradients and side effects as eager mode."""

from __future__ import annotations

import traceback
import warnings

import numpy as np
import pytest
from adjit.frontend.statements import Plan, refusal

import adjit

F = adjit.nn.functional


def _line_of(marker: str) -> int:
    with open(__file__) as f:
        return next(i for i, line in enumerate(f, 1) if marker in line and "_line_of" not in line)


def _calls(compiled, *args, n: int = 4):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [compiled(*args) for _ in range(n)]


def _plan(compiled) -> Plan | None:
    (entry,) = compiled._entries.values()
    return entry.split if entry.split else None


def _refusal(compiled) -> str | None:
    (entry,) = compiled._entries.values()
    return refusal(compiled, entry.breaks)


def _mlp():
    adjit.manual_seed(0)
    return adjit.nn.Sequential(adjit.nn.Linear(4, 8), adjit.nn.Tanh(), adjit.nn.Linear(8, 1))


@pytest.mark.parametrize("backend", ["llvm", "interpreter"])
def test_logging_values_gradients_and_side_effects_every_call(backend: str) -> None:
    model = _mlp()
    x, y = adjit.randn(16, 4), adjit.randn(16, 1)
    seen: list = []
    calls = [0]

    def step(x, y):
        calls[0] += 1  # a Python side effect: runs every call
        h = model(x)
        loss = F.mse_loss(h, y)
        seen.append(loss.item())  # the break
        print(f"loss {loss.item():.4f}")  # another
        total = loss.item() * 2  # a Python number made by a break
        out = loss * 3 + h.abs().mean()
        return out, total

    (want, want_total) = step(x, y)
    want.backward()
    grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    seen.clear()
    compiled = adjit.compile(step, backend=backend)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(4):
            out, total = compiled(x, y)
            out.backward()
            assert out.item() == pytest.approx(want.item(), rel=1e-6)
            assert total == pytest.approx(want_total, rel=1e-6)
            for g, p in zip(grads, model.parameters(), strict=True):
                np.testing.assert_allclose(p.grad.numpy(), g.numpy(), rtol=1e-5, atol=1e-7)
            model.zero_grad()
    plan = _plan(compiled)
    assert plan is not None and not plan.dead, _refusal(compiled)
    assert plan.layout == ["python", "part 1", "part 1"] + ["python"] * 3 + ["part 2"] * 2
    assert calls[0] == 5 and seen == pytest.approx([want_total / 2] * 4, rel=1e-6)
    assert [p.trace_count for p in plan.parts] == [1, 1]  # compiled once, then cached


def test_print_runs_every_call(capsys: pytest.CaptureFixture[str]) -> None:
    def f(x):
        h = (x * 2).sum()
        print(f"{h.item():.3f}")
        return h + 1

    compiled = adjit.compile(f)
    outs = _calls(compiled, adjit.ones(3))
    assert capsys.readouterr().out == "6.000\n" * 4
    assert [o.item() for o in outs] == [7.0] * 4 and _plan(compiled) is not None


def test_a_local_total_accumulates_as_eagerly() -> None:
    def f(x):
        total = 0.0
        h = x.exp()
        total += h.sum().item()
        g = h * 2
        total += g.sum().item()
        return g, total

    x = adjit.tensor([0.5, -1.0], dtype=adjit.float64)
    want_g, want_total = f(x)
    compiled = adjit.compile(f)
    for g, total in _calls(compiled, x):
        assert total == want_total and g.tolist() == want_g.tolist()
    plan = _plan(compiled)
    assert plan is not None and not plan.dead
    # `total = 0.0` compiles with `h = x.exp()` (an immutable number crosses), the rest as laid
    assert plan.layout == ["part 1", "part 1", "python", "part 2", "python", "inline"]


def test_globals_and_closures_are_live() -> None:
    count = 0
    scale = [2.0]

    def f(x):
        nonlocal count
        h = x * 3
        count += 1  # the closure's own cell
        LOG.append(h.sum().item() * scale[0])  # a global, a closure, read each call
        return h

    compiled = adjit.compile(f)
    LOG.clear()
    _calls(compiled, adjit.ones(2), n=2)
    scale[0] = 10.0
    _calls(compiled, adjit.ones(2), n=2)
    assert count == 4 and LOG == [12.0, 12.0, 60.0, 60.0]
    plan = _plan(compiled)
    assert plan is not None and plan.layout[1:4] == ["part 1", "python", "python"]


LOG: list[float] = []


class Scaled(adjit.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        adjit.manual_seed(0)
        self.lin = adjit.nn.Linear(3, 2)
        self.seen: list[float] = []

    @adjit.compile
    def forward(self, x):
        h = self.lin(x)
        self.seen.append(h.sum().item())
        return h * 2


class ScaledTwice(Scaled):
    @adjit.compile
    def forward(self, x):
        h = super().forward.__wrapped__(self, x) if False else self.lin(x)  # noqa: SIM108
        self.seen.append(h.sum().item())
        out = super().extra_repr() + "!"  # zero-argument super() in a compiled part
        return h * 3, out


def test_methods_with_self_and_super() -> None:
    x = adjit.randn(4, 3)
    m = Scaled()
    want = m.lin(x) * 2
    for _ in range(3):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            np.testing.assert_allclose(m(x).detach().numpy(), want.detach().numpy(), rtol=1e-6)
    assert len(m.seen) == 3 and _plan(Scaled.forward) is not None
    m2 = ScaledTwice()
    for _ in range(3):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out, text = m2(x)
        np.testing.assert_allclose(out.detach().numpy(), (want * 1.5).detach().numpy(), rtol=1e-6)
        assert text == "!"
    plan = _plan(ScaledTwice.forward)
    assert plan is not None and not plan.dead and plan.layout[2] == "part 2"


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_whole_training_step_logging_between_forward_and_backward_equals_eager(
    optimizer: str,
) -> None:
    x, y = adjit.randn(16, 4, dtype=adjit.float64), adjit.randn(16, 1, dtype=adjit.float64)
    runs = {}
    for mode in ("eager", "compiled"):
        m = _mlp().double()  # float64: compiled and eager rounding differ far below 1e-9
        if optimizer == "SGD":
            opt = adjit.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
        else:
            opt = adjit.optim.Adam(m.parameters(), lr=0.1)
        log: list[float] = []

        def step(x, y, m=m, opt=opt, log=log):
            opt.zero_grad()
            loss = F.mse_loss(m(x), y)
            log.append(loss.item())
            loss.backward()  # of a value from before the break: eager autograd
            opt.step()
            return loss

        f = step if mode == "eager" else adjit.compile(step)
        losses = [r.item() for r in _calls(f, x, y, n=5)]
        runs[mode] = (losses, log, [p.detach().numpy().copy() for p in m.parameters()])
        if mode == "compiled":
            plan = _plan(f)
            assert plan is not None and not plan.dead
            # the logging statement moves after the step: one compiled part (Note [moved
            # logging statements])
            moved = "python (moved after the part before it)"
            assert plan.layout == ["part 1", "part 1", moved, "part 1", "part 1", "inline"]
    (el, elog, ep), (cl, clog, cp) = runs["eager"], runs["compiled"]
    np.testing.assert_allclose(cl, el, rtol=1e-10)
    np.testing.assert_allclose(clog, elog, rtol=1e-10)
    for a, b in zip(cp, ep, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_a_break_in_a_compound_statement_runs_it_as_python() -> None:
    def f(x):
        h = x.exp()
        if h.sum() > 3:  # a data-dependent if: the whole statement runs as Python
            h = h * 2
        return h.sum() * 2

    compiled = adjit.compile(f)
    for sign in (1.0, -1.0, 1.0):
        x = adjit.tensor([sign, sign], dtype=adjit.float64)
        (got,) = _calls(compiled, x, n=1)
        assert got.item() == f(x).item()
    plan = _plan(compiled)
    assert plan is not None and plan.layout == ["part 1", "python", "part 2"]


def _del(x):
    h = x * 2
    s = h.sum().item()
    del s
    return h


def _locals(x):
    h = x * 2
    s = h.sum().item()
    return h * len(locals()) + s


def _nested_def(x):
    def g(t):
        return t * 2

    s = x.sum().item()
    return g(x) + s


def _walrus(x):
    s = x.sum().item()
    return sum([(k := v) * 2 for v in range(3)]) + x * s + k


def _early_return(x):
    s = x.sum().item()
    return x * s
    print("unreachable")  # noqa


@pytest.mark.parametrize(
    "fn,why",
    [
        (_del, "a del statement"),
        (_locals, "a call of locals()"),
        (_nested_def, "a def or class statement in the body"),
        (_walrus, "an assignment expression in a comprehension"),
        (_early_return, "a return before the last statement"),
        (lambda x: x * x.sum().item(), "not a def statement"),
    ],
)
def test_refused_shapes_keep_segment_mode(fn, why: str) -> None:
    compiled = adjit.compile(fn)
    x = adjit.tensor([1.0, 2.0], dtype=adjit.float64)
    for got in _calls(compiled, x, n=3):
        np.testing.assert_array_equal(got.numpy(), fn(x).numpy())
    assert _plan(compiled) is None and why in _refusal(compiled)


def test_a_part_returning_a_python_object_retires_the_plan() -> None:
    def f(x):
        parts = [x * 2, x * 3]  # a list made inside a compiled part
        s = parts[0].sum().item()
        parts.append(x * s)
        return parts[2] + parts[1]

    compiled = adjit.compile(f)
    x = adjit.tensor([1.0, 2.0], dtype=adjit.float64)
    for got in _calls(compiled, x):
        np.testing.assert_array_equal(got.numpy(), f(x).numpy())
    (entry,) = compiled._entries.values()
    assert entry.split.dead and "not a tensor or immutable" in entry.split.why_dead


def test_a_changing_number_retires_the_plan_to_segment_mode() -> None:
    def f(x):
        s = x.sum().item()
        return x * s

    compiled = adjit.compile(f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k in range(5):
            x = adjit.tensor([1.0 + k, 2.0], dtype=adjit.float64)
            np.testing.assert_array_equal(compiled(x).numpy(), f(x).numpy())
    (entry,) = compiled._entries.values()
    assert entry.split.dead and "changed" in entry.split.why_dead
    assert entry.split.parts[0].trace_count == 1  # no trace per value


def test_errors_point_at_the_users_lines() -> None:
    def f(x, w):
        h = x * 2
        s = h.sum().item()
        bad = h @ w  # the failing line
        return bad * s

    compiled = adjit.compile(f)
    x = adjit.ones(2, 3)
    _calls(compiled, x, adjit.ones(3, 2), n=2)
    assert _plan(compiled) is not None
    with pytest.raises(RuntimeError) as info:
        compiled(x, adjit.ones(4, 2))  # a new signature of the part: traced, shapes refused
    frames = traceback.extract_tb(info.tb)
    assert any(
        fr.filename == __file__ and fr.lineno == _line_of("# the failing line") for fr in frames
    )


def test_explain_lists_breaks_and_shows_the_parts() -> None:
    def f(x):
        h = x.exp()
        n = h.sum().item()  # the explained break
        return h / n

    compiled = adjit.compile(f)
    _calls(compiled, adjit.ones(3), n=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ex = adjit.explain(compiled, adjit.ones(3))
    assert [b.reason for b in ex.breaks] == ["Tensor.item()"]
    line = _line_of("# the explained break")
    assert ex.breaks[0].loc.endswith(f":{line}")
    text = str(ex)
    assert f"line {line}: python" in text and f"line {line - 1}: part 1" in text


def test_fullgraph_still_refuses() -> None:
    def f(x):
        h = x * 2
        print(h.sum().item())
        return h

    with pytest.raises(adjit.TracingError, match="item"):
        adjit.compile(f, fullgraph=True)(adjit.ones(2))


def _logged_step(read: str):
    """A compiled SGD step logging, between backward() and step(), what ``read`` names."""
    m = _mlp().double()
    opt = adjit.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    log: list[float] = []

    def step_param(x, y, m=m, opt=opt, log=log):
        opt.zero_grad()
        loss = F.mse_loss(m(x), y)
        loss.backward()
        log.append(m[0].weight.sum().item())  # an argument's parameter: never moves
        opt.step()
        return loss

    def step_view(x, y, m=m, opt=opt, log=log):
        opt.zero_grad()
        loss = F.mse_loss(m(x), y)
        w = m[0].weight.view(-1)  # a view of a parameter the step updates in place
        loss.backward()
        log.append(w.sum().item())  # stays: the step writes what it views
        opt.step()
        return loss

    def step_grad(x, y, m=m, log=log):  # no zero_grad: backward accumulates in place
        loss = F.mse_loss(m(x), y)
        g = m[0].bias.grad
        log.append(g.sum().item())  # moves: the part returns the gradient before backward
        loss.backward()
        return loss

    step = {"param": step_param, "view": step_view, "grad": step_grad}[read]
    return m, step, log


@pytest.mark.parametrize("read", ["param", "view", "grad"])
def test_a_logging_statement_reading_what_the_step_updates_sees_it_before_the_step(
    read: str,
) -> None:
    x, y = adjit.randn(8, 4, dtype=adjit.float64), adjit.randn(8, 1, dtype=adjit.float64)
    runs = []
    for mode in ("eager", "compiled"):
        m, step, log = _logged_step(read)
        F.mse_loss(m(x), y).backward()  # gradients to accumulate into
        f = step if mode == "eager" else adjit.compile(step)
        _calls(f, x, y, n=4)
        runs.append((log, m[0].bias.grad.numpy().copy()))
    (want, want_grad), (got, got_grad) = runs
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(got_grad, want_grad, rtol=1e-12)
    (entry,) = f._entries.values()
    moved = [k for k in entry.split.layout if "moved" in k]
    # (a view of a parameter the step writes shows the write: its statement is not moved)
    assert bool(moved) == (read == "grad"), entry.split.layout  # else the statement stays


def _log_sum(h, log):
    log.append(h.sum().item())  # a break in a function the compiled one calls
    return h * 2


def test_a_break_in_a_called_function_runs_the_calling_statement_as_python() -> None:
    log: list[float] = []

    def f(x, *, scale=1.0):
        h = x.exp() * scale
        g = _log_sum(h, log)
        return g.sum()

    compiled = adjit.compile(f)
    x = adjit.tensor([0.5, -1.0], dtype=adjit.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = [compiled(x, scale=s).item() for s in (1.0, 1.0, 2.0, 2.0)]
    want_log: list[float] = []
    want = [_log_sum(x.exp() * s, want_log).sum().item() for s in (1.0, 1.0, 2.0, 2.0)]
    assert got == want and log == want_log
    for entry in compiled._entries.values():  # one per value of scale
        assert entry.split and not entry.split.dead
        assert entry.split.layout == ["part 1", "python", "part 2"]


def test_a_module_keeps_segment_mode() -> None:
    class Logged(adjit.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = adjit.nn.Linear(3, 2)
            self.seen: list[float] = []

        def forward(self, x):
            h = self.lin(x)
            self.seen.append(h.sum().item())
            return h

    m = Logged()
    compiled = adjit.compile(m)
    x = adjit.randn(4, 3)
    for got in _calls(compiled, x, n=3):
        np.testing.assert_allclose(got.detach().numpy(), m.lin(x).detach().numpy(), rtol=1e-6)
    assert len(m.seen) == 3
    (entry,) = compiled._compiled._entries.values()
    assert not entry.split and "not a Python function" in refusal(compiled._compiled, entry.breaks)


def test_a_break_inside_a_loop_keeps_segment_mode() -> None:
    log: list[float] = []

    def f(x):
        h = x.exp()
        for _ in range(2):
            h = h * 2
            log.append(h.sum().item())
        return h

    compiled = adjit.compile(f)
    x = adjit.tensor([0.5, -1.0], dtype=adjit.float64)
    for got in _calls(compiled, x, n=3):
        np.testing.assert_array_equal(got.numpy(), f(x).numpy())
    assert len(log) == 12 and _plan(compiled) is None
    assert "a break inside a loop" in _refusal(compiled)


def test_a_source_file_edited_since_the_definition_keeps_segment_mode(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    src = tmp_path / "adjit_edited_source_case.py"
    src.write_text("def f(x):\n    h = x * 2\n    print(h.sum().item())\n    return h\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = importlib.import_module("adjit_edited_source_case")
    src.write_text("def f(x):\n    h = x * 3\n    print(h.sum().item())\n    return h\n")
    compiled = adjit.compile(mod.f)
    for got in _calls(compiled, adjit.ones(2), n=3):
        assert got.tolist() == [2.0, 2.0]  # the code that runs, not the file's new text
    assert _plan(compiled) is None and "edited since" in _refusal(compiled)


W = adjit.ones(2)


def test_a_global_or_closure_bound_to_another_tensor_is_read_afresh() -> None:
    global W
    log: list[float] = []
    scale = adjit.ones(2)

    def f(x):
        h = x * W * scale
        log.append(h.sum().item())
        return h

    compiled = adjit.compile(f)
    x = adjit.ones(2)
    _calls(compiled, x, n=3)
    W = adjit.full((2,), 3.0)  # a new object under the global's name
    assert compiled(x).tolist() == [3.0, 3.0]
    scale = adjit.full((2,), 2.0)  # and under the closure's
    assert compiled(x).tolist() == [6.0, 6.0] and log[-2:] == [6.0, 12.0]
    plan = _plan(compiled)
    assert plan is not None and not plan.dead and plan.parts[0].trace_count == 1  # (reset)
