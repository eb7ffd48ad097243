"""``adjit.nn``: modules, parameters and losses, as in ``torch.nn``."""
