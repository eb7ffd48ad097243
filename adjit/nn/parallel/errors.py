"""DDP's error texts, PyTorch's reducer's words (torch/csrc/distributed/c10d/reducer.cpp)."""

from __future__ import annotations

from collections.abc import Sequence

NO_PARAMS = (
    "DistributedDataParallel is not needed when a module doesn't have any parameter that "
    "requires a gradient."
)
OUTPUTS_NOT_USED = "making sure all `forward` function outputs participate in calculating loss. "
DDP_BUG = (
    "\nIf you already have done the above, then the distributed data parallel module wasn't "
    "able to locate the output tensors in the return value of your module's `forward` "
    "function. Please include the loss function and the structure of the return value of "
    "`forward` of your module when reporting this issue (e.g. list, dict, iterable)."
)
DEBUG_HINT = (
    "\n In addition, you can set the environment variable TORCH_DISTRIBUTED_DEBUG to either "
    "INFO or DETAIL to print out information about which particular parameters did not "
    "receive gradient on this rank as part of this error"
)
MARKED_TWICE = (
    "Expected to mark a variable ready only once. This error is caused by one of the following "
    "reasons: 1) Use of a module parameter outside the `forward` function. Please make sure "
    "model parameters are not shared across multiple concurrent forward-backward passes. or "
    "try to use _set_static_graph() as a workaround if this module graph does not change "
    "during training loop.2) Reused parameters in multiple reentrant backward passes. For "
    "example, if you use multiple `checkpoint` functions to wrap the same part of your model, "
    "it would result in the same set of parameters been used by different reentrant backward "
    "passes multiple times, and hence marking a variable ready multiple times. DDP does not "
    "support such use cases in default. You can try to use _set_static_graph() as a "
    "workaround if your module graph does not change over iterations.\nParameter at index "
    "{index} with name {name} has been marked as ready twice. This means that multiple "
    "autograd engine  hooks have fired for this particular parameter during this iteration."
)


def unfinished_reduction(
    static_graph: bool, find_unused: bool, rank: int, unmarked: Sequence[int]
) -> str:
    """``ensure_prior_reduction_finished``'s text: the last backward left some parameters
    without a gradient, so its reduction never completed."""
    base = (
        "Expected to have finished reduction in the prior iteration before starting a new "
        "one. This error indicates that your module has parameters that were not used in "
        "producing loss. "
    )
    if static_graph:
        base = (
            "Expected to have finished reduction in the prior iteration before starting a new "
            "one. This error indicates that your training graph has changed in this "
            "iteration, e.g., one parameter is used in first iteration, but then got unused in "
            "the second iteration. this is not compatible with static_graph set to True."
        )
    elif not find_unused:
        base += (
            "You can enable unused parameter detection by passing the keyword argument "
            "`find_unused_parameters=True` to `torch.nn.parallel.DistributedDataParallel`, and "
            "by \n" + OUTPUTS_NOT_USED + DDP_BUG
        )
    else:
        base += (
            "Since `find_unused_parameters=True` is enabled, this likely  means that not all "
            "`forward` outputs participate in computing loss. You can fix this by "
            + OUTPUTS_NOT_USED
            + DDP_BUG
        )
    indices = " ".join(map(str, unmarked))
    return (
        f"{base}\nParameter indices which did not receive grad for rank {rank}: {indices}"
        + DEBUG_HINT
    )
