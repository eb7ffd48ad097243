"""``torch.nn.modules.sparse``: the classes of ``adjit.nn`` by this import path."""

from adjit.nn.layers import (
    Embedding,
)
from adjit.nn.sparse import (
    EmbeddingBag,
)

__all__ = ["Embedding", "EmbeddingBag"]
