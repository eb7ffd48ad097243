"""``torch.autograd.profiler``: the legacy profiler over the same recorder as adjit.profiler."""

from __future__ import annotations

from typing import Any

from adjit.profiler import _recorder
from adjit.profiler._events import EventList, FunctionEvent, FunctionEventAvg, events_of
from adjit.profiler._recorder import record_function

__all__ = ["EventList", "FunctionEvent", "FunctionEventAvg", "emit_nvtx", "profile"]
__all__ += ["record_function"]


class profile:
    """``with profile() as prof:`` records ``record_function`` ranges (Note [what the profiler
    records]); ``prof.key_averages().table()`` summarizes them."""

    def __init__(
        self, enabled: bool = True, *, use_cuda: bool = False, use_device: str | None = None,
        record_shapes: bool = False, with_flops: bool = False, profile_memory: bool = False,
        with_stack: bool = False, with_modules: bool = False, use_kineto: bool = False,
        use_cpu: bool = True, experimental_config: Any = None, acc_events: bool = False,
        custom_trace_id_callback: Any = None, post_processing_timeout_s: float | None = None,
        activity_filters: Any = None,
    ) -> None:  # fmt: skip
        self.enabled = enabled
        if use_cuda or use_device not in (None, "cpu"):
            raise AssertionError("Torch not compiled with CUDA enabled")
        self._session: _recorder.Session | None = None
        self._events: EventList | None = None

    def __enter__(self) -> profile | None:
        if not self.enabled:
            return None  # (as PyTorch's)
        self._session = _recorder.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._session is not None:
            _recorder.stop(self._session)
            self._events = events_of(self._session)

    @property
    def function_events(self) -> EventList:
        if self._events is None:
            raise RuntimeError("Profiler didn't finish running")
        return self._events

    def key_averages(self, group_by_input_shape: bool = False, group_by_stack_n: int = 0,
                     group_by_overload_name: bool = False) -> EventList:  # fmt: skip
        return self.function_events.key_averages()

    def table(self, sort_by: str | None = None, row_limit: int = 100, **kwargs: Any) -> str:
        return self.function_events.table(sort_by=sort_by, row_limit=row_limit, **kwargs)

    def export_chrome_trace(self, path: str) -> None:
        self.function_events.export_chrome_trace(path)

    @property
    def self_cpu_time_total(self) -> float:
        return self.function_events.self_cpu_time_total

    def total_average(self) -> FunctionEventAvg:
        return self.function_events.total_average()


class emit_nvtx:
    """NVTX ranges for NVIDIA's profilers: refused as PyTorch's CPU build refuses them."""

    def __init__(self, enabled: bool = True, record_shapes: bool = False) -> None:
        self.enabled = enabled

    def __enter__(self) -> emit_nvtx:
        if self.enabled:
            raise AssertionError("Torch not compiled with CUDA enabled")
        return self

    def __exit__(self, *exc: Any) -> None:
        return None
