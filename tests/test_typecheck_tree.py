"""mypy's link tree (.typecheck/adjit, Note [mypy's view of the package] in pyproject.toml) is
the installed layout: one link per package-dir entry, each to the real file or folder."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREE = ROOT / ".typecheck" / "adjit"


def _expected() -> dict[str, Path]:
    """Link name -> what it must point at: adjit/'s entries, then the package-dir folders."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    links = {p.name: p for p in (ROOT / "adjit").iterdir() if p.name != "__pycache__"}
    for package, folder in setuptools["package-dir"].items():
        if package != "adjit":
            links[package.removeprefix("adjit.")] = ROOT / folder
    return links


def test_every_package_entry_has_its_link():
    expected = _expected()
    present = {p.name for p in TREE.iterdir()}
    assert sorted(set(expected) - present) == [], "add the missing links in .typecheck/adjit"
    assert sorted(present - set(expected)) == [], "remove the stale links in .typecheck/adjit"
    for name, target in expected.items():
        link = TREE / name
        assert link.is_symlink() and link.resolve() == target.resolve(), name
