"""One task's call over real HTTP to the fake provider: limits, retries, breaker (SPEC 4)."""

import asyncio
import email.utils
import time
from typing import Any

from diagnosis.constants import ErrorKind
from diagnosis.engine.breaker import BreakerState, CircuitBreaker
from diagnosis.engine.calls import PlatformRuntime, RetryPolicy
from diagnosis.providers.base import ChatRequest, Completion
from diagnosis.providers.openai_compat import OpenAICompatibleProvider
from tests.engine.conftest import fake_platform
from tests.fake_openai import hang, ok, status


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def runtime(
    fake, *, model="m", clock=None, threshold=2, max_retries=2, timeout_s=5.0, concurrency=8
) -> PlatformRuntime:
    config = fake_platform(model, fake.base_url, max_concurrency=concurrency, timeout_s=timeout_s)
    return PlatformRuntime(
        OpenAICompatibleProvider(config),
        platform_id=model,
        max_concurrency=concurrency,
        rpm=None,
        timeout_s=timeout_s,
        retry=RetryPolicy(max_retries=max_retries, backoff_base_s=0.01, backoff_cap_s=0.02),
        breaker=CircuitBreaker(
            model, failure_threshold=threshold, reset_timeout_s=30, clock=clock or Clock()
        ),
        global_limit=asyncio.Semaphore(64),
    )


async def test_retry_after_seconds_is_waited_before_the_retry_succeeds(fake_openai) -> None:
    fake_openai.script("m", status(429, retry_after="1"), ok("好的"))
    outcome = await runtime(fake_openai).call(ChatRequest("q"))
    calls = fake_openai.calls_for("m")
    assert outcome.error_kind is None and outcome.attempts == 2
    assert calls[1].received_at - calls[0].received_at >= 1.0


async def test_retry_after_http_date_is_honoured(fake_openai) -> None:
    when = email.utils.formatdate(time.time() + 2, usegmt=True)
    fake_openai.script("m", status(503, retry_after=when), ok("好的"))
    outcome = await runtime(fake_openai).call(ChatRequest("q"))
    calls = fake_openai.calls_for("m")
    assert outcome.error_kind is None
    # An HTTP date has one-second resolution: at least ~1 s must have been waited.
    assert calls[1].wall - calls[0].wall >= 0.9


async def test_server_errors_are_retried_then_reported_with_the_last_cause(fake_openai) -> None:
    fake_openai.script("m", status(500), status(502), status(503))
    outcome = await runtime(fake_openai, threshold=10).call(ChatRequest("q"))
    assert outcome.error_kind is ErrorKind.server_error
    assert outcome.attempts == 3 and len(fake_openai.calls_for("m")) == 3


async def test_other_4xx_are_never_retried(fake_openai) -> None:
    for code, kind in (
        (400, ErrorKind.bad_request),
        (401, ErrorKind.auth),
        (404, ErrorKind.bad_request),
    ):
        fake_openai.reset()
        fake_openai.default("m", status(code))
        outcome = await runtime(fake_openai).call(ChatRequest("q"))
        assert outcome.error_kind is kind and outcome.attempts == 1
        assert len(fake_openai.calls_for("m")) == 1


async def test_a_hang_past_the_timeout_is_a_timeout(fake_openai) -> None:
    fake_openai.default("m", hang(30))
    outcome = await runtime(fake_openai, timeout_s=0.3, max_retries=1, threshold=10).call(
        ChatRequest("q")
    )
    assert outcome.error_kind is ErrorKind.timeout and outcome.attempts == 2


async def test_open_breaker_fails_fast_without_any_http_call(fake_openai) -> None:
    fake_openai.default("m", status(500))
    rt = runtime(fake_openai, threshold=2, max_retries=0)
    for _ in range(2):
        await rt.call(ChatRequest("q"))
    assert rt.breaker.state is BreakerState.open
    before = len(fake_openai.calls)
    outcome = await rt.call(ChatRequest("q"))
    assert outcome.error_kind is ErrorKind.circuit_open and outcome.attempts == 0
    assert len(fake_openai.calls) == before


async def test_a_retry_refused_by_the_breaker_keeps_the_real_cause(fake_openai) -> None:
    fake_openai.default("m", status(500))
    rt = runtime(fake_openai, threshold=1, max_retries=2)
    outcome = await rt.call(ChatRequest("q"))
    assert outcome.error_kind is ErrorKind.server_error and outcome.attempts == 1


async def test_twenty_callers_after_the_reset_timeout_send_exactly_one_probe(fake_openai) -> None:
    clock = Clock()
    rt = runtime(fake_openai, clock=clock, threshold=2, max_retries=0, concurrency=32)
    fake_openai.script("m", status(500), status(500))
    await rt.call(ChatRequest("q"))
    await rt.call(ChatRequest("q"))
    assert rt.breaker.state is BreakerState.open
    fake_openai.reset()
    fake_openai.default("m", ok("好的", latency_s=0.3))
    clock.now = 31
    outcomes = await asyncio.gather(*(rt.call(ChatRequest(f"q{i}")) for i in range(20)))
    assert len(fake_openai.calls_for("m")) == 1
    kinds = [o.error_kind for o in outcomes]
    assert kinds.count(None) == 1 and kinds.count(ErrorKind.circuit_open) == 19
    assert rt.breaker.state is BreakerState.closed


async def test_a_failed_probe_reopens_the_breaker(fake_openai) -> None:
    clock = Clock()
    rt = runtime(fake_openai, clock=clock, threshold=1, max_retries=0)
    fake_openai.default("m", status(500))
    await rt.call(ChatRequest("q"))
    clock.now = 31
    outcome = await rt.call(ChatRequest("probe"))
    assert outcome.error_kind is ErrorKind.server_error
    assert rt.breaker.state is BreakerState.open


async def test_a_cancelled_probe_frees_the_slot(fake_openai) -> None:
    clock = Clock()
    rt = runtime(fake_openai, clock=clock, threshold=1, max_retries=0)
    fake_openai.script("m", status(500), hang(30))
    await rt.call(ChatRequest("q"))
    clock.now = 31
    probe = asyncio.create_task(rt.call(ChatRequest("probe")))
    await fake_openai.async_wait_for_calls(2)
    assert (await rt.call(ChatRequest("other"))).error_kind is ErrorKind.circuit_open
    probe.cancel()
    await asyncio.gather(probe, return_exceptions=True)
    fake_openai.default("m", ok("好的"))
    outcome = await rt.call(ChatRequest("next probe"))
    assert outcome.error_kind is None and rt.breaker.state is BreakerState.closed


async def test_rate_limited_calls_do_not_open_the_breaker(fake_openai) -> None:
    fake_openai.default("m", status(429, retry_after="0"))
    rt = runtime(fake_openai, threshold=2, max_retries=0)
    for _ in range(5):
        assert (await rt.call(ChatRequest("q"))).error_kind is ErrorKind.rate_limited
    assert rt.breaker.state is BreakerState.closed


async def test_platform_concurrency_is_never_exceeded(fake_openai) -> None:
    fake_openai.default("m", ok("好的", latency_s=0.05))
    rt = runtime(fake_openai, concurrency=3)
    await asyncio.gather(*(rt.call(ChatRequest(f"q{i}")) for i in range(24)))
    assert fake_openai.peak_concurrency("m") == 3


async def test_rpm_spaces_the_calls_evenly(fake_openai) -> None:
    fake_openai.default("m", ok("好的"))
    config = fake_platform("m", fake_openai.base_url, max_concurrency=8, rpm=600)
    rt = PlatformRuntime(
        OpenAICompatibleProvider(config),
        platform_id="m", max_concurrency=8, rpm=600, timeout_s=5.0,
        retry=RetryPolicy(max_retries=0), breaker=CircuitBreaker("m"),
        global_limit=asyncio.Semaphore(64),
    )
    await asyncio.gather(*(rt.call(ChatRequest(f"q{i}")) for i in range(5)))
    stamps = sorted(c.received_at for c in fake_openai.calls_for("m"))
    # 600 per minute = one per 0.1 s: five calls span at least four intervals
    assert len(stamps) == 5 and stamps[-1] - stamps[0] >= 0.35


async def test_metric_children_are_bound_once_per_platform_not_per_call(
    fake_openai, monkeypatch
) -> None:
    # given every `.labels()` lookup of the per-call metrics counted
    from diagnosis.engine import metrics

    lookups: list[str] = []
    for name in ("CALL_LATENCY", "PROVIDER_CALLS", "BREAKER_STATE"):
        family = getattr(metrics, name)
        original = family.labels

        def counted(*labels: str, _name: str = name, _original: Any = original) -> Any:
            lookups.append(_name)
            return _original(*labels)

        monkeypatch.setattr(family, "labels", counted)
    fake_openai.script("m", status(500))
    fake_openai.default("m", ok("好的"))
    rt = runtime(fake_openai, threshold=10, max_retries=0)

    # when 20 calls end, one of them failed
    outcomes = [await rt.call(ChatRequest(f"q{i}")) for i in range(20)]

    # then one lookup per family at start, one per distinct outcome, none per call
    assert [o.error_kind for o in outcomes].count(ErrorKind.server_error) == 1
    assert sorted(lookups) == ["BREAKER_STATE", "CALL_LATENCY", "PROVIDER_CALLS", "PROVIDER_CALLS"]


async def test_a_retried_call_counts_each_attempt_and_logs_each_retry(fake_openai, caplog) -> None:
    fake_openai.script("m", status(503), status(500), ok("好的"))
    caplog.set_level("WARNING", logger="diagnosis.engine.calls")

    outcome = await runtime(fake_openai, threshold=10, max_retries=2).call(
        ChatRequest("q"), key="exec-1"
    )

    assert outcome.error_kind is None and outcome.attempts == 3
    retries = [r.getMessage() for r in caplog.records if "retrying call" in r.getMessage()]
    assert len(retries) == 2
    assert "execution_id=exec-1" in retries[0] and "attempt=1" in retries[0]
    assert "attempt=2" in retries[1]


class _Failing:
    """A provider whose own code raises on one prompt, the way a parser can fail on a body."""

    platform_id = "p"

    async def complete(self, request: ChatRequest) -> Completion:
        if request.prompt == "boom":
            raise KeyError("sk-not-for-logs choices")
        return Completion(text="1. 蔚来")


async def test_a_provider_raising_on_a_body_fails_that_call_only_and_logs_no_message(caplog):
    limits = dict(max_concurrency=2, rpm=None, timeout_s=5.0, global_limit=asyncio.Semaphore(4))
    breaker = CircuitBreaker("p", failure_threshold=5, reset_timeout_s=30, clock=Clock())
    failing = PlatformRuntime(_Failing(), platform_id="p", retry=RetryPolicy(max_retries=2),
                              breaker=breaker, **limits)  # type: ignore[arg-type]

    bad = await failing.call(ChatRequest(prompt="boom"))
    good = await failing.call(ChatRequest(prompt="fine"))

    assert (bad.error_kind, bad.error, bad.attempts) == (ErrorKind.bad_response,
                                                         "unexpected KeyError", 1)
    assert good.completion is not None and good.completion.text == "1. 蔚来"
    assert "provider raised platform=p error=KeyError at=test_calls.py" in caplog.text
    assert "sk-not-for-logs" not in caplog.text
