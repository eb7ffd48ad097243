"""docs/api.md is current: regenerated (Note [the API page] in docs/gen_api.py) and compared."""

from __future__ import annotations

import difflib
import pathlib
import subprocess
import sys

import pytest

pytest.importorskip("torch")
GEN = pathlib.Path(__file__).resolve().parents[1] / "docs" / "gen_api.py"


def test_api_page_is_current() -> None:
    """In a fresh process: the samples must not see other tests' seeds, print options or
    thread counts."""
    fresh = subprocess.run(
        [sys.executable, str(GEN), "--stdout"], capture_output=True, text=True, check=True
    ).stdout
    page = GEN.with_name("api.md").read_text()
    if page != fresh:
        diff = difflib.unified_diff(page.splitlines(), fresh.splitlines(), lineterm="", n=0)
        pytest.fail(
            "docs/api.md is stale: run `python docs/gen_api.py` and commit the page\n"
            + "\n".join(list(diff)[:20])
        )
