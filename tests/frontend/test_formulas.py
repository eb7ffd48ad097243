"""explain(...).formulas: fused regions as sympy formulas in the user's names (and the CLI)."""

from __future__ import annotations

import pytest

import adjit
from adjit.cli import main


def logistic_loss(w, x, y):  # the README / tutorial example
    return ((x @ w).sigmoid() - y).pow(2).mean()


@pytest.fixture(scope="module")
def readme():
    adjit.manual_seed(0)
    w = adjit.randn(8, 1, requires_grad=True)
    x, y = adjit.randn(64, 8), adjit.rand(64, 1)
    return adjit.explain(adjit.compile(logistic_loss), w, x, y)


def _by_program(formulas, program):
    return [f for f in formulas if f.program == program]


def test_readme_gradient_reads_as_the_sigmoid_derivative(readme):
    backward = _by_program(readme.formulas, "backward")
    text = "\n".join(f.text for f in backward)
    # d/dz (sigmoid(z) - y)^2 / 64 = g * 2/64 * (s - y) * s * (1 - s), s = sigmoid(x @ w)
    for factor in ("g", "(1 - σ(x@w))", "σ(x@w)", "-y + σ(x@w)", "32"):
        assert factor in text, (factor, text)
    assert "exp" not in text  # sigmoid stays a function, not 1/(1 + exp(-z))
    forward = "\n".join(f.text for f in _by_program(readme.formulas, "forward"))
    assert "σ(x@w)" in forward and "Σ" in forward and "64" in forward


def test_formulas_are_sympy_expressions_of_the_users_names(readme):
    import sympy

    (grad,) = [f for f in readme.formulas if "σ" in f.text and f.program == "backward"]
    symbols = {s.name: s for s in grad.expr.free_symbols}
    assert set(symbols) == {"g", "y", "x@w"}
    # and the expression is the sigmoid derivative: compare at a point against the chain rule
    s = 1 / (1 + sympy.exp(-sympy.Rational(1, 3)))
    value = grad.expr.subs({symbols["g"]: 5, symbols["y"]: 2})
    value = value.replace(lambda e: e.func.__name__ == "σ", lambda e: s)
    value = value.subs(symbols["x@w"], sympy.Rational(1, 3))
    assert sympy.simplify(value - 5 * (s - 2) * s * (1 - s) / 32) == 0
    assert sympy.simplify(value - 5 * (s - 2) * s * (1 - s) / 31) != 0


def test_latex_is_latex(readme):
    latex = readme.formulas.latex
    assert r"\sigma\left(" in latex and r"\frac{" in latex and r"\sum" in latex
    assert "σ" not in latex and "Σ" not in latex
    assert latex.count("\n") == len(readme.formulas) - 1  # one equation per line
    assert all(f.latex.startswith(f.latex_name + " = ") for f in readme.formulas)


def test_text_view_groups_by_kernel(readme):
    text = str(readme.formulas)
    assert text.startswith("-- forward/k0\n")
    assert "-- backward/" in text and "σ(x@w)" in text


def test_elementwise_gradient_names_both_arguments():
    def f(w, x):
        return (w * x).sigmoid().sum()

    ex = adjit.explain(adjit.compile(f), adjit.randn(5, requires_grad=True), adjit.randn(5))
    (grad,) = _by_program(ex.formulas, "backward")
    assert grad.name == "∂/∂w"
    assert grad.text == "∂/∂w = g⋅x⋅(1 - σ(w⋅x))⋅σ(w⋅x)"
    assert grad.latex.startswith(r"\frac{\partial}{\partial w} = ")


def test_linear_layer_names_weight_and_bias():
    adjit.manual_seed(0)
    model = adjit.nn.Linear(4, 3)
    ex = adjit.explain(adjit.compile(model), adjit.randn(2, 4))
    text = str(ex.formulas)
    assert "input@weightᵀ" in text and "bias" in text  # Linear.forward(self, input)
    assert "∂/∂bias = Σ(g)" in text  # the bias gradient sums the cotangent


def test_user_written_sigmoid_is_folded_and_globals_named():
    scale = adjit.tensor(3.0)

    def f(a):
        return 1 / (1 + (-(a * scale)).exp())

    ex = adjit.explain(adjit.compile(f), adjit.randn(4))
    assert ex.plan is None  # forward only: no input requires grad
    assert str(ex.formulas) == "-- forward/k0\nout = σ(a⋅scale)"


def test_kernels_print_headers_and_formulas(readme):
    text = str(readme.kernels)
    assert "-- forward/k0: 4 ops over [64, 1]" in text
    assert "%e = σ(x@w)" in text
    assert repr(readme.kernels) == text
    program, k = readme.kernels[0]  # still (program, kernel) pairs
    assert program == "forward" and k.name == "k0"


def test_cli_section_formulas(tmp_path, capsys):
    path = tmp_path / "model.py"
    path.write_text("def f(w, x):\n    return (w * x).sigmoid().sum()\n")
    argv = ["explain", f"{path}:f", "--arg", "w=f32[3]", "--arg", "x=f32[3]"]
    assert main([*argv, "--requires-grad", "w", "--section", "formulas"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("== formulas\n")
    assert "out = Σ(σ(w⋅x))" in out and "∂/∂w = g⋅x⋅(1 - σ(w⋅x))⋅σ(w⋅x)" in out


def test_latex_of_a_linear_layer():
    adjit.manual_seed(0)
    ex = adjit.explain(adjit.compile(adjit.nn.Linear(4, 3)), adjit.randn(2, 4))
    latex = ex.formulas.latex
    assert r"{\mathrm{input}} \mathbin{@} {{\mathrm{weight}}^{\top}}" in latex
    assert r"\frac{\partial}{\partial \mathrm{bias}} = \sum\left(g\right)" in latex
    assert "\t" not in latex and "ᵀ" not in latex


def test_interpreter_backend_groups_like_fusion():
    def f(w, x):
        return (w * x).sigmoid().sum()

    w, x = adjit.randn(5, requires_grad=True), adjit.randn(5)
    ex = adjit.explain(adjit.compile(f, backend="interpreter"), w, x)
    assert ex.kernels == []  # nothing runs as LLVM kernels ...
    assert "∂/∂w = g⋅x⋅(1 - σ(w⋅x))⋅σ(w⋅x)" in str(ex.formulas)  # ... the regions still show


def test_big_regions_name_their_parts():
    """A layer norm + GELU gradient: values bigger than KERNEL_OPS get their own line."""
    import sympy
    from adjit.frontend.formulas import KERNEL_OPS

    adjit.manual_seed(0)
    model = adjit.nn.Sequential(adjit.nn.LayerNorm(16), adjit.nn.GELU())
    x = adjit.randn(5, 16, requires_grad=True)
    ex = adjit.explain(adjit.compile(lambda x: model(x).sum()), x)
    backward = _by_program(ex.formulas, "backward")
    assert any(f.name.startswith("%") for f in backward)  # named parts
    assert any(f.name == "∂/∂x" for f in backward)
    # each operation combines named parts of at most KERNEL_OPS operations
    assert all(sympy.count_ops(f.expr) <= 3 * KERNEL_OPS + 8 for f in ex.formulas)
    assert "erf" in str(ex.formulas) and r"\operatorname{erf}" in ex.formulas.latex
