"""``torch.profiler.profile``: schedules, step markers and trace handlers over the recorder."""

from __future__ import annotations

import enum
import os
import socket
import time
import warnings
from collections.abc import Callable, Iterable
from typing import Any

from adjit.profiler import _recorder
from adjit.profiler._events import EventList, events_of
from adjit.profiler._recorder import record_function

__all__ = ["ProfilerAction", "ProfilerActivity", "profile", "schedule"]
__all__ += ["supported_activities", "tensorboard_trace_handler"]


class ProfilerActivity(enum.Enum):
    """PyTorch's activity kinds; adjit records CPU ranges only."""

    CPU = 0
    XPU = 1
    MTIA = 2
    CUDA = 3
    HPU = 4
    PrivateUse1 = 5


class ProfilerAction(enum.Enum):
    NONE = 0
    WARMUP = 1
    RECORD = 2
    RECORD_AND_SAVE = 3


def supported_activities() -> set[ProfilerActivity]:
    return {ProfilerActivity.CPU}


def schedule(
    *, wait: int, warmup: int, active: int, repeat: int = 0, skip_first: int = 0,
    skip_first_wait: int = 0,
) -> Callable[[int], ProfilerAction]:  # fmt: skip
    """PyTorch's cycle: ``skip_first`` steps, then ``wait``, ``warmup``, ``active`` steps
    (the last of them RECORD_AND_SAVE), ``repeat`` times (0: forever)."""

    def schedule_fn(step: int) -> ProfilerAction:
        if step < 0:
            raise AssertionError(f"Step must be non-negative. Got {step}.")
        if step < skip_first:
            return ProfilerAction.NONE
        step -= skip_first
        if skip_first_wait != 0:
            step += wait
        num_steps = wait + warmup + active
        if repeat > 0 and step / num_steps >= repeat:
            return ProfilerAction.NONE
        mod_step = step % num_steps
        if mod_step < wait:
            return ProfilerAction.NONE
        if mod_step < wait + warmup:
            return ProfilerAction.WARMUP
        last = mod_step == num_steps - 1
        return ProfilerAction.RECORD_AND_SAVE if last else ProfilerAction.RECORD

    if wait < 0 or warmup < 0 or active <= 0 or repeat < 0 or skip_first < 0:
        raise AssertionError(
            f"Invalid profiler schedule arguments. Got wait={wait} (need >= 0), warmup={warmup} "
            f"(need >= 0), active={active} (need > 0), repeat={repeat} (need >= 0), "
            f"skip_first={skip_first} (need >= 0)."
        )
    if warmup == 0:
        warnings.warn(
            "Profiler won't be using warmup, this can skew profiler results", stacklevel=2
        )
    return schedule_fn


def _default_schedule_fn(_: int) -> ProfilerAction:
    return ProfilerAction.RECORD


def tensorboard_trace_handler(
    dir_name: str, worker_name: str | None = None, use_gzip: bool = False,
    use_python_export: bool = False,
) -> Callable[[Any], None]:  # fmt: skip
    """An ``on_trace_ready`` that writes ``<worker>.<ns>.pt.trace.json`` into ``dir_name``."""

    def handler_fn(prof: Any) -> None:
        nonlocal worker_name
        if not os.path.isdir(dir_name):
            try:
                os.makedirs(dir_name, exist_ok=True)
            except Exception as e:
                raise RuntimeError("Can't create directory: " + dir_name) from e
        if not worker_name:
            worker_name = f"{socket.gethostname()}_{os.getpid()}"
        file_name = f"{worker_name}.{time.time_ns()}.pt.trace.json"
        if use_gzip:
            file_name = file_name + ".gz"
        prof.export_chrome_trace(os.path.join(dir_name, file_name))

    return handler_fn


_N, _W, _R, _S = (ProfilerAction.NONE, ProfilerAction.WARMUP, ProfilerAction.RECORD,
                  ProfilerAction.RECORD_AND_SAVE)  # fmt: skip
# PyTorch's transitions (prev action, next action or None at stop) -> steps, by name
_TRANSITIONS: dict[tuple[ProfilerAction, ProfilerAction | None], tuple[str, ...]] = {
    (_N, _R): ("_start_trace",),
    (_N, _S): ("_start_trace",),
    (_W, _N): ("_warn:Incorrect schedule: WARMUP followed by NONE",),
    (_W, _R): ("_start_trace",),
    (_W, _S): ("_start_trace",),
    (_R, _N): ("_warn:Incorrect schedule: RECORD followed by NONE", "_stop_trace"),
    (_R, _W): ("_warn:Incorrect schedule: RECORD followed by WARMUP", "_stop_trace"),
    (_S, _N): ("_stop_trace", "_trace_ready"),
    (_S, _W): ("_stop_trace", "_trace_ready"),
    (_S, _R): ("_stop_trace", "_trace_ready", "_start_trace"),
    (_S, _S): ("_stop_trace", "_trace_ready", "_start_trace"),
    (_R, None): ("_stop_trace", "_trace_ready"),
    (_S, None): ("_stop_trace", "_trace_ready"),
}


_WARNINGS_SHOWN: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _WARNINGS_SHOWN:
        _WARNINGS_SHOWN.add(message)
        warnings.warn(message, stacklevel=4)


class profile:
    """Records ``record_function`` ranges (Note [what the profiler records]) while its
    schedule says RECORD; ``step()`` advances the schedule, ``on_trace_ready(prof)`` runs at
    the end of each recording cycle."""

    def __init__(
        self, *, activities: Iterable[ProfilerActivity] | None = None,
        schedule: Callable[[int], ProfilerAction] | None = None,
        on_trace_ready: Callable[..., Any] | None = None, record_shapes: bool = False,
        profile_memory: bool = False, with_stack: bool = False, with_flops: bool = False,
        with_modules: bool = False, experimental_config: Any = None,
        execution_trace_observer: Any = None, acc_events: bool = False,
        use_cuda: bool | None = None, custom_trace_id_callback: Any = None,
        post_processing_timeout_s: float | None = None,
    ) -> None:  # fmt: skip
        wanted = set(activities) if activities is not None else supported_activities()
        self._no_cuda = ProfilerActivity.CUDA in wanted or bool(use_cuda)
        self.activities = wanted - {ProfilerActivity.CUDA}
        self.record_steps = schedule is not None
        self.schedule = schedule or _default_schedule_fn
        self.on_trace_ready = on_trace_ready
        self.acc_events = acc_events
        self.step_num = 0
        self.current_action = self.schedule(0)
        self._session: _recorder.Session | None = None
        self._finished: _recorder.Session | None = None
        self._step_range: record_function | None = None

    def __enter__(self) -> profile:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> None:
        if self._no_cuda:
            warnings.warn("CUDA is not available, disabling CUDA profiling", stacklevel=2)
        if not self.activities:
            raise AssertionError("No activities specified for the profiler")
        self._transit(ProfilerAction.NONE, self.current_action)
        self._open_step()

    def stop(self) -> None:
        self._close_step()
        self._transit(self.current_action, None)

    def step(self) -> None:
        """The next step begins: a ``ProfilerStep#N`` range under a schedule."""
        self._close_step()
        previous = self.current_action
        self.step_num += 1
        self.current_action = self.schedule(self.step_num)
        self._transit(previous, self.current_action)
        self._open_step()

    def _open_step(self) -> None:
        if self.record_steps:
            self._step_range = record_function(f"ProfilerStep#{self.step_num}")
            self._step_range.__enter__()

    def _close_step(self) -> None:
        if self._step_range is not None:
            self._step_range.__exit__(None, None, None)
            self._step_range = None

    def _transit(self, previous: ProfilerAction, current: ProfilerAction | None) -> None:
        for action in _TRANSITIONS.get((previous, current), ()):
            if action.startswith("_warn:"):
                warnings.warn(action.partition(":")[2], stacklevel=3)
            else:
                getattr(self, action)()

    def _start_trace(self) -> None:
        previous, self._session = self._finished, _recorder.start()
        if previous is not None and not self.acc_events:
            _warn_once(
                "Warning: Profiler clears events at the end of each cycle. "
                "Only events from the current cycle will be reported. "
                "To keep events across cycles, set acc_events=True."
            )
        elif previous is not None:  # acc_events: the earlier cycles' ranges stay
            self._session.events[:0] = previous.events
            self._session.base_ns, self._session.wall_ns = previous.base_ns, previous.wall_ns

    def _stop_trace(self) -> None:
        if self._session is not None:
            _recorder.stop(self._session)
            self._finished, self._session = self._session, None

    def _trace_ready(self) -> None:
        if self.on_trace_ready:
            self.on_trace_ready(self)

    def events(self) -> EventList:
        """The recorded ranges of the last finished cycle."""
        if self._finished is None:
            raise AssertionError("Profiler must be initialized before accessing events")
        return events_of(self._finished)

    def key_averages(self, group_by_input_shape: bool = False, group_by_stack_n: int = 0,
                     group_by_overload_name: bool = False) -> EventList:  # fmt: skip
        return self.events().key_averages()

    def export_chrome_trace(self, path: str) -> None:
        self.events().export_chrome_trace(path)
