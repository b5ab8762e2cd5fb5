"""Per-process circuit breakers: closed → open → half-open → closed.

Not pybreaker: it holds its lock for the whole guarded call, which serialises every
thread of a process and deadlocks two threads when one waits on a row lock the other
holds; and its half-open state lets every waiting caller through. Here the lock guards
only the state, and half-open admits a bounded number of probes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from prometheus_client import Counter, Gauge

CLOSED, HALF_OPEN, OPEN = "closed", "half_open", "open"
# Gauge values: higher is worse, so the "max" across processes shows the worst state.
STATE_VALUES = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}

state_gauge = Gauge(
    "credits_circuit_breaker_state", "Circuit breaker state: 0 closed, 1 half-open, 2 open.", ["breaker"], multiprocess_mode="livemax"
)
transitions = Counter("credits_circuit_breaker_transitions", "Circuit breaker state changes.", ["breaker", "to"])
rejections = Counter("credits_circuit_breaker_rejected_calls", "Calls refused without trying, the breaker being open.", ["breaker"])


class CircuitOpen(Exception):
    """Refused without trying: the dependency is failing."""

    def __init__(self, name: str, retry_after: float):
        self.name, self.retry_after = name, retry_after
        super().__init__(f"{name} circuit is open")


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        fail_max: int = 3,
        reset_timeout: float = 5.0,
        half_open_max_calls: int = 1,
        is_failure: Callable[[BaseException], bool] = lambda exc: True,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.name = name
        self.fail_max = fail_max
        self.reset_timeout = reset_timeout
        self.half_open_max_calls = half_open_max_calls
        self.is_failure = is_failure
        self._clock = clock
        self._lock = threading.Lock()
        self._state = CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probes = 0
        state_gauge.labels(breaker=name).set(0)

    @property
    def state(self) -> str:
        with self._lock:
            self._maybe_half_open()
            return self._state

    def retry_after(self) -> float:
        return max(0.0, self._opened_at + self.reset_timeout - self._clock())

    def _set(self, state: str) -> None:
        if state != self._state:
            self._state = state
            state_gauge.labels(breaker=self.name).set(STATE_VALUES[state])
            transitions.labels(breaker=self.name, to=state).inc()

    def _maybe_half_open(self) -> None:
        if self._state == OPEN and self._clock() - self._opened_at >= self.reset_timeout:
            self._probes = 0
            self._set(HALF_OPEN)

    def before_call(self) -> None:
        """Admit a call or raise CircuitOpen. Every admitted call must end in success() or failure()."""
        if self._state == CLOSED:
            return  # the common case, checked without the lock: only failure() leaves CLOSED
        with self._lock:
            self._maybe_half_open()
            if self._state == OPEN or (self._state == HALF_OPEN and self._probes >= self.half_open_max_calls):
                rejections.labels(breaker=self.name).inc()
                raise CircuitOpen(self.name, max(1.0, self.retry_after()))
            if self._state == HALF_OPEN:
                self._probes += 1

    def success(self) -> None:
        if self._state == CLOSED and not self._failures:
            return  # nothing to reset: every database query ends here, so no lock for it
        with self._lock:
            self._failures = 0
            if self._state == HALF_OPEN:
                self._set(CLOSED)

    def failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._state == HALF_OPEN or self._failures >= self.fail_max:
                self._opened_at = self._clock()
                self._failures = 0
                self._set(OPEN)

    def settle(self, exc: BaseException | None) -> None:
        """Record how an admitted call ended: business errors count as successes."""
        if exc is not None and self.is_failure(exc):
            self.failure()
        else:
            self.success()

    def guard(self) -> CircuitBreaker:
        """`with breaker.guard():` around a call to the dependency (a plain context manager,
        not a generator: it wraps every database query)."""
        return self

    def __enter__(self) -> None:
        self.before_call()

    def __exit__(self, exc_type, exc, traceback) -> bool:
        self.settle(exc)
        return False

    def reset(self) -> None:
        """Back to closed (tests, and an operator who knows better)."""
        with self._lock:
            self._failures = self._probes = 0
            self._set(CLOSED)
