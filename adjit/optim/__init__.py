"""``adjit.optim``: optimizers and learning-rate schedulers, as in ``torch.optim``."""

from adjit.optim import lr_scheduler, swa_utils
from adjit.optim._stateless import swap_in_optimizer_params_and_state
from adjit.optim.adadelta import Adadelta
from adjit.optim.adafactor import Adafactor
from adjit.optim.adam import Adam, AdamW
from adjit.optim.adamax import Adamax
from adjit.optim.asgd import ASGD
from adjit.optim.lbfgs import LBFGS
from adjit.optim.muon import Muon
from adjit.optim.nadam import NAdam
from adjit.optim.optimizer import Optimizer
from adjit.optim.radam import RAdam
from adjit.optim.rmsprop import Adagrad, RMSprop
from adjit.optim.rprop import Rprop
from adjit.optim.sgd import SGD
from adjit.optim.sparse_adam import SparseAdam

__all__ = [
    "ASGD",
    "LBFGS",
    "SGD",
    "SparseAdam",
    "Adadelta",
    "Adafactor",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "Muon",
    "NAdam",
    "Optimizer",
    "RAdam",
    "RMSprop",
    "Rprop",
    "lr_scheduler",
    "swap_in_optimizer_params_and_state",
    "swa_utils",
]
