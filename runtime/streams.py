"""``torch.Stream`` and ``torch.Event`` on the CPU: PyTorch's CPU semantics (work is done when
it is issued, so there is nothing to wait for, and the CPU backend records no events)."""

from __future__ import annotations

from typing import Any

from .device import device as _device

__all__ = ["Event", "Stream"]

_NO_ACCELERATOR = "Cannot access accelerator device when none is available."
_NO_EVENTS = "cpu backend doesn't support events."
_DEVICE_TYPE = {"cpu": 0, "meta": 14}


def _device_of(device: Any) -> Any:
    if device is None:
        return _device("cpu")
    if isinstance(device, int) and not isinstance(device, bool):
        raise RuntimeError(_NO_ACCELERATOR)
    d = device if isinstance(device, _device) else _device(device)
    if d.type not in ("cpu", "meta"):
        raise RuntimeError(f"PyTorch is not linked with support for {d.type} devices")
    return _device(d.type)


class Stream:
    """An in-order queue of work on a device; on the CPU every op has finished when it returns,
    so ``query()`` is True and ``synchronize()`` returns at once."""

    def __init__(self, device: Any = None, *, priority: int = 0, **kwargs: Any) -> None:
        self.device = _device_of(device)
        self.device_type = _DEVICE_TYPE[self.device.type]  # (c10's DeviceType number)
        self.device_index = -1
        self.stream_id = 0

    def query(self) -> bool:
        return True

    def synchronize(self) -> None:
        return None

    def is_capturing(self) -> bool:
        return False

    def wait_event(self, event: Event) -> None:
        return None

    def wait_stream(self, stream: Stream) -> None:
        raise RuntimeError(_NO_EVENTS)

    def record_event(self, event: Event | None = None) -> Event:
        raise RuntimeError(_NO_EVENTS)

    @property
    def native_handle(self) -> Any:
        raise RuntimeError("Backend doesn't support getting stream native handle.")

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Stream):
            return False
        return (self.device, self.stream_id) == (other.device, other.stream_id)

    def __hash__(self) -> int:
        return hash((self.device_type, self.device_index, self.stream_id))

    def __repr__(self) -> str:
        return (
            f"torch.Stream device_type={self.device.type}, device_index={self.device_index}, "
            f"stream_id={self.stream_id}"
        )


class Event:
    """A marker in a stream. The CPU backend records none: ``record`` refuses as PyTorch's does,
    ``query``/``synchronize``/``wait`` have nothing to wait for."""

    def __init__(
        self,
        device: Any = None,
        *,
        enable_timing: bool = False,
        blocking: bool = False,
        interprocess: bool = False,
    ) -> None:
        self.device = _device_of(device)
        self._timing = bool(enable_timing)
        self.event_id = 0

    def record(self, stream: Stream | None = None) -> None:
        raise RuntimeError(_NO_EVENTS)

    def query(self) -> bool:
        return True

    def synchronize(self) -> None:
        return None

    def wait(self, stream: Stream | None = None) -> None:
        return None

    def elapsed_time(self, end_event: Event) -> float:
        if not (self._timing and end_event._timing):
            raise ValueError("Both events must be created with argument 'enable_timing=True'.")
        raise ValueError("Both events must be recorded before calculating elapsed time.")

    def ipc_handle(self) -> Any:
        raise NotImplementedError(
            "torch.Event ipc is not supported yet, please open an issue if you need this!"
        )

    @classmethod
    def from_ipc_handle(cls, device: Any, ipc_handle: Any) -> Event:
        raise NotImplementedError(
            "torch.Event ipc is not supported yet, please open an issue if you need this!"
        )

    def __repr__(self) -> str:
        return (
            f"torch.Event device_type={self.device.type}, device_index=-1, "
            f"event_flag={int(self._timing)}, event_id={self.event_id}"
        )
