"""The ``slow`` marker: tests deselected by default, run with ``ADJIT_SLOW=1``."""

from __future__ import annotations

import os

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: skipped unless ADJIT_SLOW=1 (large models)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if os.environ.get("ADJIT_SLOW"):
        return
    skip = pytest.mark.skip(reason="slow: set ADJIT_SLOW=1 to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
