"""``adjit.optim``: optimizers and learning-rate schedulers, as in ``torch.optim``."""

from adjit.optim import lr_scheduler
from adjit.optim.adam import Adam, AdamW
from adjit.optim.optimizer import Optimizer
from adjit.optim.rmsprop import Adagrad, RMSprop
from adjit.optim.sgd import SGD

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "lr_scheduler"]
