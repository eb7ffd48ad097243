"""``adjit.multiprocessing``: Python's multiprocessing with ``torch.multiprocessing``'s extras."""

# adjit tensors pickle by value: a tensor sent through a Queue arrives as a copy (PyTorch moves
# it to shared memory instead); spawn, start_processes and the sharing-strategy names are torch's.

import multiprocessing
import sys
from multiprocessing import *  # noqa: F403

from adjit.multiprocessing.spawn import (
    ProcessContext as ProcessContext,
)
from adjit.multiprocessing.spawn import (
    ProcessException as ProcessException,
)
from adjit.multiprocessing.spawn import (
    ProcessExitedException as ProcessExitedException,
)
from adjit.multiprocessing.spawn import (
    ProcessRaisedException as ProcessRaisedException,
)
from adjit.multiprocessing.spawn import (
    SpawnContext as SpawnContext,
)
from adjit.multiprocessing.spawn import (
    spawn as spawn,
)
from adjit.multiprocessing.spawn import (
    start_processes as start_processes,
)

__all__ = ["set_sharing_strategy", "get_sharing_strategy", "get_all_sharing_strategies"]
__all__ += multiprocessing.__all__  # type: ignore[attr-defined]
# (spawn, start_processes and the Process* exceptions are here, outside __all__, as in torch)

if sys.platform in ("darwin", "win32"):
    _sharing_strategy = "file_system"
    _all_sharing_strategies = {"file_system"}
else:
    _sharing_strategy = "file_descriptor"
    _all_sharing_strategies = {"file_descriptor", "file_system"}


def set_sharing_strategy(new_strategy: str) -> None:
    """Choose how PyTorch would share CPU tensors between processes (recorded: adjit's
    tensors travel by value either way)."""
    global _sharing_strategy
    if new_strategy not in _all_sharing_strategies:
        raise AssertionError(
            f"invalid sharing strategy {new_strategy!r}, expected one of {_all_sharing_strategies}"
        )
    _sharing_strategy = new_strategy


def get_sharing_strategy() -> str:
    return _sharing_strategy


def get_all_sharing_strategies() -> set[str]:
    return _all_sharing_strategies
