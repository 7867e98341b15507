"""One circuit breaker per platform, in memory only (SPEC 4): never persisted, so a restart
always starts closed.

Hand-written because the libraries we looked at (pybreaker, aiobreaker, purgatory) let every
caller through once the reset timeout has passed; SPEC 4 wants exactly ONE half-open probe
while the others keep failing fast, and a cancelled probe must free its slot. Pure state, no I/O.
"""

import time
from collections.abc import Callable
from enum import StrEnum


class BreakerState(StrEnum):
    closed = "closed"
    open = "open"
    half_open = "half_open"


class Permit(StrEnum):
    """What `acquire` grants: a normal call, the single half-open probe, or nothing."""

    call = "call"
    probe = "probe"
    refused = "refused"


TransitionHook = Callable[[str, BreakerState, BreakerState], None]


class CircuitBreaker:
    def __init__(
        self,
        platform_id: str,
        *,
        failure_threshold: int = 5,
        reset_timeout_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        on_transition: TransitionHook | None = None,
    ) -> None:
        self.platform_id = platform_id
        self.failure_threshold = failure_threshold
        self.reset_timeout_s = reset_timeout_s
        self._clock = clock
        self._on_transition = on_transition
        self._state = BreakerState.closed
        self._failures = 0
        self._opened_at = 0.0
        self._probe_out = False

    @property
    def state(self) -> BreakerState:
        """The state a caller would meet now (open turns half-open once the timeout passed)."""
        if self._state is BreakerState.open and self._timeout_passed():
            return BreakerState.half_open
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def acquire(self) -> Permit:
        """Ask to make one HTTP attempt. A `probe` permit must end in exactly one of
        `record_success`, `record_failure` or `release` (cancelled / not counted)."""
        if self._state is BreakerState.closed:
            return Permit.call
        if self._state is BreakerState.open:
            if not self._timeout_passed():
                return Permit.refused
            self._set(BreakerState.half_open)
        if self._probe_out:
            return Permit.refused
        self._probe_out = True
        return Permit.probe

    def record_success(self, permit: Permit) -> None:
        if permit is Permit.probe:
            self._probe_out = False
            self._failures = 0
            self._set(BreakerState.closed)
        elif self._state is BreakerState.closed:
            self._failures = 0
        # else: a late success of a call admitted before the breaker opened; the probe decides.

    def record_failure(self, permit: Permit) -> None:
        if permit is Permit.probe:
            self._probe_out = False
            self._open()
            return
        if self._state is not BreakerState.closed:
            return  # a late failure of a call admitted before the breaker opened
        self._failures += 1
        if self._failures >= self.failure_threshold:
            self._open()

    def release(self, permit: Permit) -> None:
        """The attempt ended without a verdict (cancelled, 429, other 4xx)."""
        if permit is Permit.probe:
            self._probe_out = False

    def _timeout_passed(self) -> bool:
        return self._clock() - self._opened_at >= self.reset_timeout_s

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._failures = 0
        self._set(BreakerState.open)

    def _set(self, new: BreakerState) -> None:
        old, self._state = self._state, new
        if old is not new and self._on_transition is not None:
            self._on_transition(self.platform_id, old, new)
