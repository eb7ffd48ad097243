"""``adjit.nn.modules``: the ``torch.nn.modules`` path (``module`` holds the global hooks)."""

from adjit.nn.modules import module as module
