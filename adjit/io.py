"""``adjit.save``/``adjit.load``: PyTorch's checkpoint format (``adjit.serialization``), and
``adjit.safetensors`` for the safetensors format."""

from __future__ import annotations

from adjit import safetensors, serialization
from adjit.serialization import load, save

__all__ = ["load", "safetensors", "save", "serialization"]
