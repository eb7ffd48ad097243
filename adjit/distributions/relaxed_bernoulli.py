"""PyTorch's module path ``torch.distributions.relaxed_bernoulli`` (code in ``.relaxed``)."""

from .relaxed import LogitRelaxedBernoulli, RelaxedBernoulli

__all__ = ["LogitRelaxedBernoulli", "RelaxedBernoulli"]
