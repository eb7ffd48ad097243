"""``torch.nn.modules.distance``: the classes of ``adjit.nn`` by this import path."""

from adjit.nn.activation import (
    CosineSimilarity,
    PairwiseDistance,
)

__all__ = ["PairwiseDistance", "CosineSimilarity"]
