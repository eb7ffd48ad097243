"""``torch._dynamo``'s names users call: mark_dynamic, mark_static, maybe_mark_dynamic, reset."""

from __future__ import annotations

from typing import Any

from adjit.compiler import config as config
from adjit.compiler import reset as reset
from adjit.frontend.dynamic import mark_dynamic as mark_dynamic
from adjit.frontend.dynamic import mark_static as mark_static


def maybe_mark_dynamic(t: Any, index: Any) -> None:
    """``torch._dynamo.maybe_mark_dynamic``: a hint that the dim varies; adjit makes it
    symbolic as ``mark_dynamic`` does (a dim that must stay static would be specialized by a
    guard instead of raising)."""
    mark_dynamic(t, index)
