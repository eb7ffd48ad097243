"""docs/api.md is current: regenerated (Note [the API page] in docs/gen_api.py) and compared."""

from __future__ import annotations

import importlib.util
import pathlib

import pytest

torch = pytest.importorskip("torch")
GEN = pathlib.Path(__file__).resolve().parents[1] / "docs" / "gen_api.py"


def test_api_page_is_current() -> None:
    spec = importlib.util.spec_from_file_location("gen_api", GEN)
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    fresh = gen.render(torch)
    if gen.PAGE.read_text() != fresh:
        pytest.fail("docs/api.md is stale: run `python docs/gen_api.py` and commit the page")
