"""The breaker's state machine (SPEC 4), on a hand-driven clock: pure, no I/O."""

from diagnosis.engine.breaker import BreakerState, CircuitBreaker, Permit


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def tripped(clock: Clock, threshold: int = 3) -> CircuitBreaker:
    breaker = CircuitBreaker("p", failure_threshold=threshold, reset_timeout_s=30, clock=clock)
    for _ in range(threshold):
        breaker.record_failure(breaker.acquire())
    return breaker


def test_breaker_opens_after_threshold_consecutive_failures() -> None:
    clock = Clock()
    breaker = CircuitBreaker("p", failure_threshold=3, reset_timeout_s=30, clock=clock)
    for _ in range(2):
        breaker.record_failure(breaker.acquire())
    assert breaker.state is BreakerState.closed
    breaker.record_failure(breaker.acquire())
    assert breaker.state is BreakerState.open
    assert breaker.acquire() is Permit.refused


def test_a_success_resets_the_consecutive_count() -> None:
    breaker = CircuitBreaker("p", failure_threshold=3, clock=Clock())
    for _ in range(2):
        breaker.record_failure(breaker.acquire())
    breaker.record_success(breaker.acquire())
    for _ in range(2):
        breaker.record_failure(breaker.acquire())
    assert breaker.state is BreakerState.closed


def test_open_breaker_lets_exactly_one_probe_through_after_the_reset_timeout() -> None:
    clock = Clock()
    breaker = tripped(clock)
    clock.now = 29.9
    assert breaker.acquire() is Permit.refused
    clock.now = 30.0
    permits = [breaker.acquire() for _ in range(20)]
    assert permits.count(Permit.probe) == 1
    assert permits.count(Permit.refused) == 19
    assert breaker.state is BreakerState.half_open


def test_probe_success_closes_and_probe_failure_reopens() -> None:
    clock = Clock()
    breaker = tripped(clock)
    clock.now = 30
    breaker.record_failure(breaker.acquire())
    assert breaker.state is BreakerState.open
    assert breaker.acquire() is Permit.refused  # a fresh reset timeout runs from now
    clock.now = 60
    breaker.record_success(breaker.acquire())
    assert breaker.state is BreakerState.closed
    assert breaker.acquire() is Permit.call


def test_a_released_probe_frees_the_slot_for_the_next_caller() -> None:
    clock = Clock()
    breaker = tripped(clock)
    clock.now = 30
    probe = breaker.acquire()
    assert breaker.acquire() is Permit.refused
    breaker.release(probe)  # cancelled, or a 429: neither success nor failure
    assert breaker.acquire() is Permit.probe


def test_transitions_are_reported_once_each() -> None:
    seen: list[tuple[str, str]] = []
    clock = Clock()
    breaker = CircuitBreaker(
        "p",
        failure_threshold=1,
        reset_timeout_s=1,
        clock=clock,
        on_transition=lambda _p, old, new: seen.append((old.value, new.value)),
    )
    breaker.record_failure(breaker.acquire())
    clock.now = 1
    breaker.record_success(breaker.acquire())
    assert seen == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]
