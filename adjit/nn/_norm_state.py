"""The state-dict version upgrades of batch and instance norm (PyTorch's _NormBase version 2
added ``num_batches_tracked``; InstanceNorm's version 1 dropped untracked running stats)."""

from __future__ import annotations

from typing import Any

from adjit.runtime.creation import tensor


def add_num_batches_tracked(module: Any, state_dict: Any, prefix: str, metadata: dict) -> None:
    """Before version 2 (or with no metadata), a missing ``num_batches_tracked`` loads as the
    module's own (0 for a fresh module)."""
    version = metadata.get("version")
    if (version is None or version < 2) and module.track_running_stats:
        key = prefix + "num_batches_tracked"
        if key not in state_dict:
            own = module.num_batches_tracked
            state_dict[key] = own if own is not None else tensor(0)


def drop_untracked_stats(
    module: Any, state_dict: Any, prefix: str, metadata: dict, error_msgs: list[str]
) -> None:
    """With no version and ``track_running_stats=False``, running stats in the checkpoint are
    an error (and are removed), as in PyTorch."""
    if metadata.get("version") is not None or module.track_running_stats:
        return
    keys = [prefix + n for n in ("running_mean", "running_var") if prefix + n in state_dict]
    if keys:
        klass = type(module).__name__
        error_msgs.append(
            "Unexpected running stats buffer(s) {names} for {klass} with "
            "track_running_stats=False. If state_dict is a checkpoint saved before 0.4.0, this "
            "may be expected because {klass} does not track running stats by default since "
            "0.4.0. Please remove these keys from state_dict. If the running stats are actually "
            "needed, instead set track_running_stats=True in {klass} to enable them. See the "
            "documentation of {klass} for details.".format(
                names=" and ".join(f'"{k}"' for k in keys), klass=klass
            )
        )
        for key in keys:
            state_dict.pop(key)
