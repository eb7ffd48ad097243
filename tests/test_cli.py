"""The ``adjit`` command line: ``explain`` sections and errors, and the ``demo`` subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

from adjit.cli import SECTIONS, main, parse_arg_spec

USER_FILE = """
import adjit


def loss(x, y):
    return (x @ y).sin().sum()


def frozen_part(x, y):
    with adjit.no_grad():
        s = x * 2
    return (x * y + s).sum()
"""


@pytest.fixture
def user_file(tmp_path: Path) -> Path:
    path = tmp_path / "model.py"
    path.write_text(textwrap.dedent(USER_FILE))
    return path


def _explain(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["explain", *argv]) == 0
    return capsys.readouterr().out


def test_explain_brief_is_the_default_view(user_file: Path, capsys) -> None:
    argv = [f"{user_file}:loss", "--arg", "x=f32[3,4]", "--arg", "y=f32[4]"]
    out = _explain(capsys, *argv)
    assert out.startswith("== brief\nadjit.explain: loss (brief:") and "== graph" not in out
    assert "equations: graph 3, inference 3" in out and "fused kernels:" in out
    assert _explain(capsys, *argv, "--brief") == out
    both = _explain(capsys, *argv, "--brief", "--section", "graph")
    assert both.startswith(out) and "\n== graph\n" in both


def test_explain_graph_section(user_file: Path, capsys) -> None:
    out = _explain(
        capsys, f"{user_file}:loss", "--arg", "x=f32[3,4]", "--arg", "y=f32[4]", "--section=graph"
    )
    assert out.startswith("== graph\n{ lambda a:f32[3,4] b:f32[4] .")
    assert "c:f32[3] = matmul a b" in out and "d:f32[3] = sin c" in out
    assert "sum[axes=None keepdim=False] d" in out and f"# {user_file}:6" in out
    assert "== backward" not in out


def test_explain_backward_and_saved_with_requires_grad(user_file: Path, capsys) -> None:
    out = _explain(
        capsys,
        f"{user_file}:loss",
        "--arg=x=f32[3,4]",
        "--arg=y=f32[4]",
        "--requires-grad",
        "x",
        "--section",
        "backward",
        "--section",
        "saved",
    )
    backward = out.split("== backward\n")[1].split("\n\n")[0]
    assert " = cos " in backward  # x's gradient, an outer product (Note [outer products])
    assert backward.endswith("in (i) }") and "i:f32[3,4] = mul g h" in backward
    saved = out.split("== saved\n")[1]
    assert (
        saved.startswith(f"matmul(x, y): f32[3], 12 bytes (matmul)  at {user_file}:6  | return")
        and "peak activation memory" in saved
    )


def test_explain_all_sections_and_pruning(user_file: Path, capsys) -> None:
    out = _explain(
        capsys,
        f"{user_file}:frozen_part",
        "--arg",
        "x=f64[2]",
        "--arg",
        "y=f64[2]",
        "--requires-grad",
        "x,y",
        "--section",
        "all",
    )
    headers = [line for line in out.splitlines() if line.startswith("== ")]
    assert headers == [
        "== brief",
        "== share",
        "== guards",
        "== lifted",
        "== graph",
        "== adjoint",
        "== passes",
        "== pruned",
        "== forward",
        "== backward",
        "== saved",
        "== python",
        "== formulas",
        "== rewrites",
        "== kernels",
        "== llvm",
        "== llvm_optimized",
        "== asm",
        "== timings",
        "== prepared",
    ]
    assert "mul a 2" in out and "# no_grad" in out  # the no_grad line is marked in the graph
    pruned = out.split("== pruned\n")[1].split("\n\n")[0]
    assert "mul a 2" in pruned and "no_grad" in pruned
    assert "-- after dce" in out and "def gradient_program(" in out


def test_explain_without_requires_grad_says_what_is_missing(user_file: Path, capsys) -> None:
    out = _explain(
        capsys,
        f"{user_file}:loss",
        "--arg",
        "x=f32[3,4]",
        "--arg",
        "y=f32[4]",
        "--section",
        "backward",
    )
    assert "not available" in out and "--requires-grad" in out


def test_explain_inputs_are_seeded(user_file: Path, capsys) -> None:
    argv = [f"{user_file}:loss", "--arg", "x=f32[2,2]", "--arg", "y=f32[2]", "--section", "python"]
    assert _explain(capsys, *argv) == _explain(capsys, *argv)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--arg", "x=f32[3,4"], "bad --arg 'x=f32[3,4'"),
        (["--arg", "x=q8[3]"], "unknown dtype 'q8'"),
        (["--arg", "x=f32[3,4]", "--arg", "x=f32[4]"], "--arg given twice for ['x']"),
        (["--arg", "x=f32[3,4]", "--requires-grad", "z"], "no --arg named 'z'"),
        (["--arg", "x=i64[3]", "--requires-grad", "x"], "only floating-point arguments"),
        (["--arg", "x=f32[3,4]", "--arg", "y=f32[5]"], "size mismatch, got input"),
        (["--arg", "x=f32[3,4]", "--section", "kernels,bogus"], "invalid choice: 'bogus'"),
    ],
)
def test_explain_bad_specs_exit_2_naming_the_problem(
    user_file: Path, capsys, argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["explain", f"{user_file}:loss", *argv])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_explain_every_section_prints(user_file: Path, capsys) -> None:
    argv = [f"{user_file}:loss", "--arg", "x=f32[3,4]", "--arg", "y=f32[4]", "--requires-grad=x"]
    for section in SECTIONS:
        out = _explain(capsys, *argv, "--section", section)
        header, _, body = out.partition("\n")
        assert header == f"== {section}" and body.strip(), section
        assert "not available" not in body, section
    out = _explain(capsys, *argv, "--section", "kernels,llvm,asm,guards")
    headers = [line for line in out.splitlines() if line.startswith("== ")]
    assert headers == ["== kernels", "== llvm", "== asm", "== guards"]
    kernels = out.split("== llvm\n")[0]
    assert "-- forward/k0:" in kernels and "-- backward/k0:" in kernels
    llvm = out.split("== llvm\n")[1].split("\n== asm\n")[0]
    assert llvm.startswith("-- forward/k0\n") and "define " in llvm and "-- backward/k0\n" in llvm


def test_explain_model_explorer_json_and_view(
    user_file: Path, capsys, tmp_path, monkeypatch
) -> None:
    path = tmp_path / "g.json"
    argv = [f"{user_file}:loss", "--arg", "x=f32[3,4]", "--arg", "y=f32[4]", "--requires-grad=x"]
    out = _explain(capsys, *argv, "--model-explorer", str(path))
    assert out == f"wrote Model Explorer graphs to {path}\n"
    graphs = json.loads(path.read_text())["graphs"]
    assert [g["id"] for g in graphs] == ["traced", "forward", "backward"]
    monkeypatch.setitem(sys.modules, "model_explorer", None)  # not installed: say which extra
    assert main(["explain", *argv, "--view", "--model-explorer", str(path)]) == 1
    assert "pip install 'adjit[view]'" in capsys.readouterr().err
    opened: list[str] = []
    fake = types.SimpleNamespace(visualize=opened.append)
    monkeypatch.setitem(sys.modules, "model_explorer", fake)
    assert main(["explain", *argv, "--view", "--model-explorer", str(path)]) == 0
    assert opened == [str(path)]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("missing.py:loss", "no such file"),
        ("{file}:nope", "has no function 'nope'"),
        ("{file}", "FILE.py:FUNCTION"),
    ],
)
def test_explain_bad_target_exits_2(user_file: Path, capsys, target: str, message: str) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["explain", target.format(file=user_file), "--arg", "x=f32[3]"])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_parse_arg_spec() -> None:
    assert parse_arg_spec("x=f32[3,4]") == ("x", "float32", (3, 4))
    assert parse_arg_spec("s=f64[]") == ("s", "float64", ())
    assert parse_arg_spec("idx=i64[ 2 ]") == ("idx", "int64", (2,))


def test_demo_subprocess_prints_the_tutorial_result() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "adjit", "demo", "--only", "sum_of_squares"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "tensor(29., grad_fn=<AddBackward0>)" in result.stdout
    assert "ran 1 tutorial examples" in result.stdout
