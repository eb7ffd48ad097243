"""``adjit.nn.modules``: the ``torch.nn.modules`` paths (``torch.nn.modules.loss._Loss``, ...)."""

# each star import also binds its submodule here (torch.nn.modules.loss, ...)
from adjit.nn.modules import utils as utils
from adjit.nn.modules.activation import *  # noqa: F403
from adjit.nn.modules.adaptive import *  # noqa: F403
from adjit.nn.modules.batchnorm import *  # noqa: F403
from adjit.nn.modules.channelshuffle import *  # noqa: F403
from adjit.nn.modules.container import *  # noqa: F403
from adjit.nn.modules.conv import *  # noqa: F403
from adjit.nn.modules.distance import *  # noqa: F403
from adjit.nn.modules.dropout import *  # noqa: F403
from adjit.nn.modules.flatten import *  # noqa: F403
from adjit.nn.modules.fold import *  # noqa: F403
from adjit.nn.modules.instancenorm import *  # noqa: F403
from adjit.nn.modules.lazy import *  # noqa: F403
from adjit.nn.modules.linear import *  # noqa: F403
from adjit.nn.modules.loss import *  # noqa: F403
from adjit.nn.modules.module import Module as Module
from adjit.nn.modules.normalization import *  # noqa: F403
from adjit.nn.modules.padding import *  # noqa: F403
from adjit.nn.modules.pixelshuffle import *  # noqa: F403
from adjit.nn.modules.pooling import *  # noqa: F403
from adjit.nn.modules.rnn import *  # noqa: F403
from adjit.nn.modules.sparse import *  # noqa: F403
from adjit.nn.modules.transformer import *  # noqa: F403
from adjit.nn.modules.upsampling import *  # noqa: F403
