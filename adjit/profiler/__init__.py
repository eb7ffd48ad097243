"""``adjit.profiler``: ``torch.profiler`` over named ranges (Note [what the profiler records])."""

from __future__ import annotations

from adjit.profiler._recorder import record_function
from adjit.profiler.profiler import (
    ProfilerAction,
    ProfilerActivity,
    profile,
    schedule,
    supported_activities,
    tensorboard_trace_handler,
)

__all__ = ["ProfilerAction", "ProfilerActivity", "profile", "record_function", "schedule"]
__all__ += ["supported_activities", "tensorboard_trace_handler"]
