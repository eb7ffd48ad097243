"""Pass tests run the verifier before the pipeline and after every pass (ADJIT_VERIFY)."""

from __future__ import annotations

import pytest
from adjit.ir.parser import parse_graph
from adjit.ir.printer import print_graph


@pytest.fixture(autouse=True)
def _verify_between_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADJIT_VERIFY", "1")


def normalize(text: str) -> str:
    """IR text as the printer writes it (names, spacing), for golden comparisons."""
    return print_graph(parse_graph(text))
