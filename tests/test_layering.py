"""Dependencies point one way, ir <- passes <- codegen <- runtime <- frontend: no module imports a
folder above its own, not even lazily inside a function (what a pass needs is passed in)."""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
LAYERS = ["ir", "passes", "codegen", "runtime", "frontend"]


def _imported_folders(path: pathlib.Path) -> list[tuple[int, str]]:
    """(line, folder or 'adjit') of every import of a project folder in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level >= 2 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            parts = node.module.split(".")
            if parts[0] == "adjit":
                found.append((node.lineno, parts[1] if len(parts) > 1 else "adjit"))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "adjit":
                    found.append((node.lineno, parts[1] if len(parts) > 1 else "adjit"))
    return found


@pytest.mark.parametrize("folder", LAYERS[:-1])
def test_no_folder_imports_one_above_it(folder: str) -> None:
    above = set(LAYERS[LAYERS.index(folder) + 1 :]) | {"adjit", "nn", "optim", "autograd"}
    bad = [
        f"{path.relative_to(ROOT)}:{line} imports {target}"
        for path in sorted((ROOT / folder).rglob("*.py"))
        for line, target in _imported_folders(path)
        if target in above
    ]
    assert not bad, "pass what the lower layer needs in instead:\n" + "\n".join(bad)
