"""The ``adjit`` command line: ``demo`` runs the main job, ``explain`` shows IR, ``bench`` times."""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from adjit.ir.errors import with_notes


def demo(args: argparse.Namespace) -> int:
    """The tutorials' examples eagerly, then (unless --only picks examples) the compiler."""
    import adjit
    from adjit import demo as job
    from adjit.tutorials import EXAMPLES

    names = args.only or list(EXAMPLES)
    for name in names:
        example = EXAMPLES[name]
        title = (example.__doc__ or name).strip().splitlines()[0]
        print(f"== {name}: {title}")
        example(adjit)
        print()
    print(f"ran {len(names)} tutorial examples eagerly with adjit {adjit.version.ADJIT}")
    if not args.only:
        print()
        job.compiler()
    return 0


# ---- adjit explain ---------------------------------------------------------------------------
# section name -> how to render it from an Explanation (None: the section is not available)
SECTIONS: dict[str, Callable[[Any], str | None]] = {
    "brief": lambda ex: ex.brief,
    "share": lambda ex: ex.share,
    "guards": lambda ex: "\n".join(ex.guards) or "(none)",
    "lifted": lambda ex: "\n".join(ex.lifted) or "(none: every tensor is an argument)",
    "graph": lambda ex: ex.graph_text or None,
    "adjoint": lambda ex: str(ex.adjoint) if ex.adjoint is not None else None,
    "passes": lambda ex: _passes(ex),
    "pruned": lambda ex: (
        "\n".join(f"{eqn}   <- {why}" for eqn, why in ex.pruned) or "(nothing)"
        if ex.plan is not None
        else None
    ),
    "forward": lambda ex: str(ex.forward) if ex.forward is not None else None,
    "backward": lambda ex: str(ex.backward) if ex.backward is not None else None,
    "saved": lambda ex: str(ex.saved) if ex.plan is not None else None,
    "python": lambda ex: ex.python or None,
    "formulas": lambda ex: str(ex.formulas),
    "rewrites": lambda ex: (
        "\n".join(f"{r}   at {loc} ({w})" for r, loc, w in ex.rewrites)
        or "(none: no stability rewrite fired)"
    ),
    "kernels": lambda ex: str(ex.kernels),
    "llvm": lambda ex: str(ex.llvm_ir),
    "llvm_optimized": lambda ex: str(ex.llvm_ir_optimized),
    "asm": lambda ex: str(ex.asm),
    "timings": lambda ex: (
        "\n".join(f"{k}: {v * 1e3:.2f} ms" for k, v in ex.timings.items()) or None
    ),
    "prepared": lambda ex: ex.prepared_call or "(none: this call takes the general path)",
}
VIEW_EXTRA = "pip install 'adjit[view]' (Google's Model Explorer, ai-edge-model-explorer)"
DTYPES = {"f16": "float16", "bf16": "bfloat16", "f32": "float32", "f64": "float64"}
DTYPES.update({"i8": "int8", "i16": "int16", "i32": "int32", "i64": "int64", "u8": "uint8"})
DTYPES.update({"bool": "bool", "b": "bool"})
_SPEC = re.compile(r"^(?P<name>[A-Za-z_]\w*)=(?P<dtype>[a-z0-9]+)\[(?P<dims>[0-9, ]*)\]$")


def _passes(ex: Any) -> str | None:
    if ex.plan is None:
        return None
    return "\n".join(
        f"-- after {name} ({seconds * 1e3:.2f} ms, {len(g.eqns)} eqns)\n{g}"
        for name, seconds, g in ex.passes
    )


def parse_sections(text: str) -> list[str]:
    """``kernels,llvm`` -> ["kernels", "llvm"]; raises argparse.ArgumentTypeError."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in SECTIONS and n != "all"]
    if bad or not names:
        raise argparse.ArgumentTypeError(
            f"invalid choice: {(bad or [text])[0]!r} (choose from {', '.join([*SECTIONS, 'all'])})"
        )
    return names


def view(ex: Any, path: str | None) -> int:
    """Write the Model Explorer JSON (Note [model explorer export]) and open the viewer on it
    when the ``[view]`` extra is installed."""
    import tempfile

    if path is None:
        path = tempfile.mkstemp(prefix="adjit_explain_", suffix=".json")[1]
    ex.to_model_explorer(path)
    print(f"wrote Model Explorer graphs to {path}")
    try:
        import model_explorer  # type: ignore[import-not-found]
    except ImportError:
        print(f"--view needs Model Explorer: {VIEW_EXTRA}; then open {path}", file=sys.stderr)
        return 1
    model_explorer.visualize(path)
    return 0


def parse_arg_spec(text: str) -> tuple[str, str, tuple[int, ...]]:
    """``x=f32[3,4]`` -> ("x", "float32", (3, 4)); raises argparse.ArgumentTypeError."""
    m = _SPEC.match(text.strip())
    if m is None:
        raise argparse.ArgumentTypeError(
            f"bad --arg {text!r}: expected NAME=DTYPE[DIMS], e.g. x=f32[3,4] or s=f64[]"
        )
    dtype = DTYPES.get(m["dtype"])
    if dtype is None:
        raise argparse.ArgumentTypeError(
            f"bad --arg {text!r}: unknown dtype {m['dtype']!r} "
            "(use one of f16, bf16, f32, f64, i8, i16, i32, i64, u8, bool)"
        )
    dims = [d.strip() for d in m["dims"].split(",") if d.strip()]
    return m["name"], dtype, tuple(int(d) for d in dims)


def load_function(target: str) -> Callable[..., Any]:
    """``path/to/file.py:func`` -> the function object (the file runs as a fresh module)."""
    path_text, sep, func = target.rpartition(":")
    if not sep or not path_text or not func:
        raise ValueError(f"expected FILE.py:FUNCTION, got {target!r}")
    path = Path(path_text)
    if not path.is_file():
        raise ValueError(f"no such file: {path}")
    spec = importlib.util.spec_from_file_location(f"_adjit_explain_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ValueError(f"cannot load {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fn = getattr(module, func, None)
    if not callable(fn):
        raise ValueError(f"{path} has no function {func!r}")
    return fn


def make_inputs(
    specs: list[tuple[str, str, tuple[int, ...]]], requires_grad: list[str], seed: int
) -> dict[str, Any]:
    """Seeded random tensors of the given avals; floats are standard normal."""
    import numpy as np

    import adjit

    rng = np.random.default_rng(seed)
    out = {}
    for name, dtype, shape in specs:
        if dtype.startswith(("float", "bfloat")):
            t = adjit.from_numpy(rng.standard_normal(shape)).to(getattr(adjit, dtype))
            t.requires_grad_(name in requires_grad)
        elif dtype == "bool":
            t = adjit.from_numpy(rng.random(shape) < 0.5)
        else:
            t = adjit.from_numpy(rng.integers(0, 3, shape).astype(dtype))
        out[name] = t
    return out


def explain(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Trace FILE.py:FUNC on random inputs of the given avals and print explain's sections."""
    import adjit

    names = [name for name, _, _ in args.arg]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        parser.error(f"--arg given twice for {sorted(dup)}")
    floats = {name for name, dtype, _ in args.arg if dtype.startswith(("float", "bfloat"))}
    args.requires_grad = [n.strip() for group in args.requires_grad for n in group.split(",")]
    for name in args.requires_grad:
        if name not in names:
            parser.error(f"--requires-grad {name}: no --arg named {name!r} (have {names})")
        if name not in floats:
            parser.error(f"--requires-grad {name}: only floating-point arguments can require grad")
    try:
        fn = load_function(args.target)
    except ValueError as e:
        parser.error(str(e))
    inputs = make_inputs(args.arg, args.requires_grad, args.seed)
    try:
        ex = adjit.explain(fn, **inputs)
    except (adjit.TracingError, adjit.ShapeError, TypeError) as e:
        specs = ", ".join(f"{n}={d}{list(s)}" for n, d, s in args.arg)
        why = with_notes(e)  # (a shape error's op and operands are a note)
        parser.error(f"tracing {args.target} with {specs or 'no arguments'} failed: {why}")
    chosen = [n for group in args.section or [] for n in group]
    if args.brief or not (chosen or args.view or args.model_explorer or args.html):
        chosen = ["brief", *chosen]
    sections = list(SECTIONS) if "all" in chosen else chosen
    for k, section in enumerate(dict.fromkeys(sections)):
        text = SECTIONS[section](ex)
        if text is None:
            text = "(not available: no argument requires grad; use --requires-grad NAME)"
        print(("\n" if k else "") + f"== {section}\n{text}")
    if args.html:
        write_html(ex, args.html)
    if args.model_explorer and not args.view:
        ex.to_model_explorer(args.model_explorer)
        print(f"wrote Model Explorer graphs to {args.model_explorer}")
    return view(ex, args.model_explorer) if args.view else 0


def write_html(ex: Any, path: str) -> None:
    """``--html``: the page of Note [explain as a page]; says so when it holds text only."""
    from adjit.frontend.explain_page import render

    page, message = render(ex)
    Path(path).write_text(page, encoding="utf-8")
    print(f"wrote {path} ({len(page.encode())} bytes)")
    if message is not None:
        print(f"adjit explain --html: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="adjit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="run the tutorial examples and print their results")
    p.add_argument("--only", nargs="*", help="names of examples to run")
    p.set_defaults(func=demo)
    e = sub.add_parser(
        "explain",
        help="show the IR adjit builds for a function",
        description="Trace FILE.py:FUNC on seeded random inputs and print adjit.explain sections "
        "(default: the brief summary; --section all: everything).",
    )
    e.add_argument("target", metavar="FILE.py:FUNC", help="the function to explain")
    e.add_argument(
        "--arg",
        action="append",
        type=parse_arg_spec,
        default=[],
        metavar="NAME=DTYPE[DIMS]",
        help="an argument passed by keyword, e.g. x=f32[3,4] (repeatable)",
    )
    e.add_argument(
        "--requires-grad",
        action="append",
        default=[],
        metavar="NAME",
        help="arguments that require grad (repeatable or comma-separated)",
    )
    e.add_argument(
        "--section",
        action="append",
        type=parse_sections,
        metavar="NAME[,NAME...]",
        help=f"what to print (repeatable or comma-separated; default brief): "
        f"{', '.join(SECTIONS)}, or all",
    )
    e.add_argument("--brief", action="store_true", help="the one-screen summary (the default view)")
    e.add_argument(
        "--model-explorer",
        metavar="PATH",
        help="write the traced, forward and backward graphs as Model Explorer JSON",
    )
    e.add_argument(
        "--view",
        action="store_true",
        help=f"open the graphs in Model Explorer (needs the extra: {VIEW_EXTRA})",
    )
    e.add_argument(
        "--html",
        metavar="OUT.html",
        help="write one self-contained page drawing the traced, joint and fused programs "
        "(needs Graphviz's dot; without it the page holds the text view)",
    )
    e.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    e.set_defaults(func=lambda a: explain(a, e))
    b = sub.add_parser(
        "bench",
        help="run the benchmark suite (adjit vs NumPy, PyTorch, JAX)",
        description="Check, then time, the workloads W1-W5 and compile latency; print a ratio "
        "table and write a JSON record and a PNG chart.",
    )
    from adjit.benchmarks import run as bench
    from adjit.distributed import run as launcher

    bench.add_arguments(b)
    b.set_defaults(func=bench.main)
    r = sub.add_parser(
        "run",
        help="run a script on N ranks under MPI (adjit.distributed)",
        description="Run SCRIPT on N processes under the mpich wheel's mpiexec "
        "(mpiexec -n N python SCRIPT ARGS...); exits with mpiexec's code.",
    )
    launcher.add_arguments(r)
    r.set_defaults(func=launcher.main)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
