"""The progress display on stderr: one self-updating line on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


class Progress:
    """``case`` starts a case, ``step`` says what runs now, ``done`` prints the case's summary."""

    def __init__(self, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.live = enabled and self.stream.isatty()
        self.start = time.perf_counter()
        self.current = ""
        self.width = 0

    def _write(self, text: str, final: bool) -> None:
        if not self.enabled:
            return
        line = f"[{time.perf_counter() - self.start:6.1f}s] {text}"
        if self.live:
            pad = " " * max(0, self.width - len(line))
            self.stream.write(f"\r{line}{pad}" + ("\n" if final else ""))
            self.width = 0 if final else len(line)
        elif final:
            self.stream.write(line + "\n")
        self.stream.flush()

    def case(self, workload: str, label: str) -> None:
        self.current = f"{workload} {label}"
        self._write(f"{self.current}: starting", final=False)

    def step(self, text: str) -> None:
        self._write(f"{self.current}: {text}", final=False)

    def done(self, result: Any) -> None:
        """One line per case: the baseline's median and each contender's status or ratio."""
        parts = []
        for name, m in result.measurements.items():
            if name == result.baseline and m.median_ms is not None:
                parts.append(f"{name} {m.median_ms:.4g} ms")
            else:
                parts.append(f"{name} {f'{m.ratio:.2f}x' if m.ratio else m.status}")
        self._write(f"{self.current}: " + ", ".join(parts), final=True)

    def note(self, text: str) -> None:
        self._write(text, final=True)
