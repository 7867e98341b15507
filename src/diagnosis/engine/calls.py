"""One task's call to one platform: limits, breaker, per-call timeout and retries (SPEC 4).

`PlatformRuntime` is process-wide, one per platform, shared by every execution, because a
provider's limits belong to its API key. It never raises for a provider's failure: every
ending becomes a `CallOutcome`; only cancellation propagates. Nothing per call is built that a
platform could build once: the retry policy, the metric children.
"""

import asyncio
import logging
import random
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiolimiter import AsyncLimiter

from diagnosis.constants import BREAKER_FAILURE_KINDS, RETRYABLE_KINDS, ErrorKind
from diagnosis.engine import metrics
from diagnosis.engine.breaker import BreakerState, CircuitBreaker, Permit
from diagnosis.engine.fairness import FairSlots
from diagnosis.engine.gates import OpenGate, PlatformGate
from diagnosis.providers.base import ChatRequest, Completion, Provider
from diagnosis.providers.errors import ProviderError
from diagnosis.providers.storable import storable_completion

log = logging.getLogger("diagnosis.engine.calls")

_BREAKER_GAUGE = {BreakerState.closed: 0, BreakerState.half_open: 1, BreakerState.open: 2}


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int = 2
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 8.0
    retry_after_cap_s: float = 60.0

    def delay(self, attempt_number: int, error: BaseException | None) -> float:
        """Retry-After when the platform gave one (capped), else exponential with jitter."""
        if isinstance(error, ProviderError) and error.retry_after_s is not None:
            return max(0.0, min(error.retry_after_s, self.retry_after_cap_s))
        ceiling = min(self.backoff_cap_s, self.backoff_base_s * 2 ** (attempt_number - 1))
        return random.uniform(ceiling / 2, ceiling)


@dataclass(frozen=True, slots=True)
class CallOutcome:
    completion: Completion | None
    error_kind: ErrorKind | None
    error: str | None
    attempts: int
    latency_ms: int | None


class _Refused(Exception):
    """The open breaker refused an attempt: ends the retry loop, is never retried."""


class PlatformRuntime:
    def __init__(
        self,
        provider: Provider,
        *,
        platform_id: str,
        max_concurrency: int,
        rpm: int | None,
        timeout_s: float,
        retry: RetryPolicy,
        breaker: CircuitBreaker,
        global_limit: asyncio.Semaphore,
        max_answer_chars: int = 100_000,
        gate: PlatformGate | None = None,
    ) -> None:
        self.platform_id = platform_id
        # The cluster's limits (a Redis lease per attempt, a shared rpm window), or none.
        self.gate: PlatformGate = gate or OpenGate()
        self.max_answer_chars = max_answer_chars
        self.provider = provider
        self.timeout_s = timeout_s
        self.retry = retry
        self.breaker = breaker
        self.max_concurrency = max_concurrency
        self._global = global_limit
        self._slots = FairSlots(max_concurrency)
        # One call per 60/rpm seconds, evenly spaced: a bucket of `rpm` would let a whole
        # minute's calls out in the first second, which providers answer with 429s.
        self._rate = AsyncLimiter(1, 60 / rpm) if rpm else None
        # Label children bound once: `.labels()` hashes and locks on every lookup.
        self._latency = metrics.CALL_LATENCY.labels(platform_id)
        self._breaker_gauge = metrics.BREAKER_STATE.labels(platform_id)
        self._outcomes: dict[ErrorKind | None, Any] = {}

    async def call(self, request: ChatRequest, *, key: str = "") -> CallOutcome:
        """One task's call with retries; `key` (the execution) shares the platform's slots
        fairly between executions."""
        started = time.perf_counter()
        last: ProviderError | None = None
        # The policy is the platform's (built once); a loop needs no object per call. tenacity's
        # AsyncRetrying keeps its state on the instance, so one could not be shared instead.
        attempts = self.retry.max_retries + 1
        for attempt in range(1, attempts + 1):
            try:
                completion = await self._attempt(request, key)
            except _Refused:
                if last is None:
                    return CallOutcome(None, ErrorKind.circuit_open, "circuit open", 0, None)
                return self._failed(last, attempt - 1, started)
            except ProviderError as exc:
                last = exc
                if exc.kind not in RETRYABLE_KINDS or attempt == attempts:
                    return self._failed(exc, attempt, started)
                wait = self.retry.delay(attempt, exc)
                self._log_retry(exc, attempt, wait, key)
                await asyncio.sleep(wait)
                continue
            latency = completion.latency_ms or int((time.perf_counter() - started) * 1000)
            # Whatever the platform sent, what enters the engine can be stored (and is bounded).
            completion = storable_completion(completion, self.max_answer_chars)
            return CallOutcome(completion, None, None, attempt, latency)
        raise AssertionError("unreachable: the last attempt returns")

    async def _attempt(self, request: ChatRequest, key: str) -> Completion:
        """One HTTP attempt under the global and platform limits, counted by the breaker."""
        # The platform's slot first: a task queued for a busy platform must not hold a global
        # slot that another platform could use. The cluster's lease last, so a worker holds
        # no more leases than calls it can make now (taken before the global slot, up to
        # max_concurrency leases per worker sat idle behind it and starved the other workers:
        # BENCHMARKS.md, section 7).
        await self._slots.acquire(key)
        try:
            async with self._global, self.gate.slot():
                return await self._attempt_in_slot(request)
        finally:
            self._slots.release()

    async def _attempt_in_slot(self, request: ChatRequest) -> Completion:
        """The attempt itself: rate limit, breaker permit, the call under its timeout."""
        if self._rate is not None:
            await self._rate.acquire()
        await self.gate.pace()
        # Asked only once a slot is ours, so a probe is not held back behind a queue.
        permit = self.breaker.acquire()
        self._publish_breaker()
        if permit is Permit.refused:
            raise _Refused()
        begun = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout_s):
                completion = await self.provider.complete(request)
        except TimeoutError as exc:
            self._count(permit, ErrorKind.timeout, begun)
            raise ProviderError(ErrorKind.timeout, "call timed out") from exc
        except ProviderError as exc:
            self._count(permit, exc.kind, begun)
            raise
        except Exception as exc:
            # A provider's code failing on what a platform sent (a bug, but one data from outside
            # triggered) fails this task, not the whole fan-out: it is counted as a bad response.
            self._count(permit, ErrorKind.bad_response, begun)
            raise self._unexpected(exc) from exc
        except asyncio.CancelledError:
            self.breaker.release(permit)  # a cancelled call is neither success nor failure
            self._publish_breaker()
            raise
        self._count(permit, None, begun)
        return completion

    def _count(self, permit: Permit, kind: ErrorKind | None, begun: float) -> None:
        self._latency.observe(time.perf_counter() - begun)
        self._outcome_counter(kind).inc()
        if kind is None:
            self.breaker.record_success(permit)
        elif kind in BREAKER_FAILURE_KINDS:
            self.breaker.record_failure(permit)
        else:
            self.breaker.release(permit)
        self._publish_breaker()

    def _outcome_counter(self, kind: ErrorKind | None) -> Any:
        """The platform's `provider_calls_total` child for one outcome, bound on first use."""
        child = self._outcomes.get(kind)
        if child is None:
            outcome = kind.value if kind else "ok"
            child = self._outcomes[kind] = metrics.PROVIDER_CALLS.labels(self.platform_id, outcome)
        return child

    def _publish_breaker(self) -> None:
        self._breaker_gauge.set(_BREAKER_GAUGE[self.breaker.state])

    def _unexpected(self, exc: Exception) -> ProviderError:
        # The type and where it was raised, never its message: an exception's text can carry
        # whatever it was handed, and logs never hold a secret.
        where = traceback.extract_tb(exc.__traceback__)[-1:]
        place = f"{Path(where[0].filename).name}:{where[0].lineno}" if where else "?"
        log.error("provider raised platform=%s error=%s at=%s", self.platform_id,
                  type(exc).__name__, place)
        return ProviderError(ErrorKind.bad_response, f"unexpected {type(exc).__name__}")

    def _log_retry(
        self, error: ProviderError, attempt: int, wait: float, execution_id: str
    ) -> None:
        log.warning(
            "retrying call execution_id=%s platform=%s kind=%s attempt=%d wait_s=%.2f",
            execution_id or "-",
            self.platform_id,
            error.kind.value,
            attempt,
            wait,
        )

    @staticmethod
    def _failed(exc: ProviderError, attempts: int, started: float) -> CallOutcome:
        latency = int((time.perf_counter() - started) * 1000)
        return CallOutcome(None, exc.kind, exc.message, attempts, latency)
