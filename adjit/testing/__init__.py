"""``adjit.testing``: ``torch.testing``'s assert_close and make_tensor, and gradient checks."""

from __future__ import annotations

from ._comparison import assert_allclose, assert_close
from ._creation import make_tensor
from ._grads import (
    DEFAULT_TOLERANCES as DEFAULT_TOLERANCES,
)
from ._grads import (
    FD_EPS as FD_EPS,
)
from ._grads import (
    FD_MAX_ELEMENTS as FD_MAX_ELEMENTS,
)
from ._grads import (
    FD_TOLERANCE as FD_TOLERANCE,
)
from ._grads import (
    MAX_CONFIRMED as MAX_CONFIRMED,
)
from ._grads import (
    assert_grads_match,
)

__all__ = ["assert_allclose", "assert_close", "assert_grads_match", "make_tensor"]
