"""What one sample may cost the engine (CONTRACT §4a), and the error past it.

Rule text is tenant input that runs inside shared Celery workers: a ``setvar`` chain
that doubles a TX value on every rule grows exponentially (19 doublings took 5 s and
900 MB in one review). The limits turn such a sample into an evaluation error, counted
in ``errors``, before it can take a worker's memory or time.
"""

from __future__ import annotations

import gc
import time
from typing import Any

MAX_VALUE_BYTES = 64 * 1024  # one TX variable, or one expanded %{macro}
MAX_TX_VARIABLES = 1000
MAX_SAMPLE_SECONDS = 0.050  # engine CPU time on one sample


class EngineLimitExceeded(Exception):
    """One sample went past a limit; ``limit`` names which ("value_size", "tx_variables", "time")."""

    def __init__(self, limit: str, message: str) -> None:
        super().__init__(message)
        self.limit = limit
        self.message = message


class _GcClock:
    """CPU seconds spent in Python's garbage collector, so far, in this process.

    A full collection walks every object the process holds (the engine's memos
    included) and can take tens of milliseconds; it lands on whichever sample happens
    to allocate at that moment, so it is not that sample's engine time."""

    def __init__(self) -> None:
        self.total = 0.0
        self._started = 0.0
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.thread_time()
        else:
            self.total += time.thread_time() - self._started


GC_CLOCK = _GcClock()
