"""``adjit.optim``: optimizers, as in ``torch.optim``."""
