"""OpenAICompatibleProvider over real HTTP against the loopback fake: answers, every error kind."""

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from diagnosis.constants import ErrorKind
from diagnosis.providers import (
    ChatRequest,
    OpenAICompatibleProvider,
    PlatformConfig,
    ProviderError,
    parse_retry_after,
)
from tests.fake_openai import FakeOpenAI, hang, no_choices, non_json, ok, status

KEY_ENV = "FAKE_PLATFORM_API_KEY"
SECRET = "sk-test-SECRET123"
MODEL = "fake-model"
ProviderFactory = Callable[..., OpenAICompatibleProvider]


def fake_config(base_url: str, **overrides: Any) -> PlatformConfig:
    fields: dict[str, Any] = {
        "id": "fake",
        "kind": "openai",
        "base_url": base_url,
        "model": MODEL,
        "api_key_env": KEY_ENV,
        "timeout_s": 5.0,
    }
    return PlatformConfig(**{**fields, **overrides})


@pytest.fixture
async def make_provider(fake_openai: FakeOpenAI) -> AsyncIterator[ProviderFactory]:
    providers: list[OpenAICompatibleProvider] = []

    def make(**overrides: Any) -> OpenAICompatibleProvider:
        base_url = overrides.pop("base_url", fake_openai.base_url)
        provider = OpenAICompatibleProvider(fake_config(base_url, **overrides))
        providers.append(provider)
        return provider

    yield make
    for provider in providers:
        await provider.aclose()


@pytest.fixture
def refused_base_url() -> Iterator[str]:
    # A bound socket that never listens: connecting to it is refused, deterministically.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    sock.close()


async def call_error(provider: OpenAICompatibleProvider, prompt: str = "hi") -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        await provider.complete(ChatRequest(prompt))
    return caught.value


async def test_ok_answer_returns_text_usage_model_and_latency(fake_openai, make_provider):
    fake_openai.script(MODEL, ok("1. **蔚来**：续航表现出色", latency_s=0.02))
    provider = make_provider()

    completion = await provider.complete(ChatRequest("推荐电动车", brands=["蔚来"]))

    assert completion.text == "1. **蔚来**：续航表现出色"
    assert set(completion.usage or {}) == {"prompt_tokens", "completion_tokens", "total_tokens"}
    assert completion.model == MODEL
    assert completion.latency_ms >= 20
    assert [call.prompt for call in fake_openai.calls_for(MODEL)] == ["推荐电动车"]


async def test_ok_answer_without_usage_has_none_usage(fake_openai, make_provider):
    fake_openai.script(MODEL, ok("answer", usage=False))

    completion = await make_provider().complete(ChatRequest("q"))

    assert completion.usage is None


async def test_request_is_one_post_with_model_messages_and_bearer_key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"choices": [{"message": {"content": "ok"}}]})

    config = fake_config("https://platform.test/v1/")
    provider = OpenAICompatibleProvider(config, transport=httpx.MockTransport(handler))
    await provider.complete(ChatRequest("你好"))
    await provider.aclose()

    assert len(seen) == 1
    assert (seen[0].method, str(seen[0].url)) == (
        "POST",
        "https://platform.test/v1/chat/completions",
    )
    assert seen[0].headers["authorization"] == f"Bearer {SECRET}"
    assert json.loads(seen[0].content) == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "你好"}],
    }


async def test_no_authorization_header_when_no_key_is_set(fake_openai, make_provider, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)

    await make_provider().complete(ChatRequest("q"))

    assert [call.had_auth for call in fake_openai.calls] == [False]


async def test_key_is_read_at_call_time_and_sent(fake_openai, make_provider, monkeypatch):
    provider = make_provider()
    monkeypatch.setenv(KEY_ENV, SECRET)

    await provider.complete(ChatRequest("q"))

    assert [call.had_auth for call in fake_openai.calls] == [True]


async def test_hang_beyond_timeout_is_a_timeout(fake_openai, make_provider):
    fake_openai.script(MODEL, hang())

    error = await call_error(make_provider(timeout_s=0.2))

    assert error.kind is ErrorKind.timeout
    assert isinstance(error.__cause__, httpx.TimeoutException)


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (408, ErrorKind.timeout),
        (500, ErrorKind.server_error),
        (502, ErrorKind.server_error),
        (503, ErrorKind.server_error),
        (401, ErrorKind.auth),
        (403, ErrorKind.auth),
        (400, ErrorKind.bad_request),
        (404, ErrorKind.bad_request),
        (422, ErrorKind.bad_request),
    ],
)
async def test_http_status_maps_to_error_kind(fake_openai, make_provider, code, kind):
    fake_openai.script(MODEL, status(code))

    error = await call_error(make_provider())

    assert (error.kind, error.status_code) == (kind, code)
    assert error.retry_after_s is None


async def test_429_with_retry_after_seconds_is_rate_limited_with_delay(fake_openai, make_provider):
    fake_openai.script(MODEL, status(429, retry_after="7"))

    error = await call_error(make_provider())

    assert (error.kind, error.status_code, error.retry_after_s) == (
        ErrorKind.rate_limited,
        429,
        7.0,
    )


async def test_429_with_retry_after_http_date_is_seconds_from_now(fake_openai, make_provider):
    when = datetime.now(UTC) + timedelta(seconds=30)
    fake_openai.script(MODEL, status(429, retry_after=format_datetime(when, usegmt=True)))

    error = await call_error(make_provider())

    assert error.kind is ErrorKind.rate_limited
    assert error.retry_after_s is not None and 25 <= error.retry_after_s <= 31


async def test_429_without_retry_after_has_no_delay(fake_openai, make_provider):
    fake_openai.script(MODEL, status(429))

    error = await call_error(make_provider())

    assert (error.kind, error.retry_after_s) == (ErrorKind.rate_limited, None)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("3", 3.0),
        ("1.5", 1.5),
        ("-4", 0.0),
        ("Wed, 01 Jan 2025 00:00:30 GMT", 30.0),
        ("Tue, 31 Dec 2024 23:59:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
        ("nan", None),
    ],
)
def test_parse_retry_after_reads_seconds_or_http_date(header, expected):
    now = datetime(2025, 1, 1, tzinfo=UTC)

    assert parse_retry_after(header, now=now) == expected


async def test_non_json_200_is_a_bad_response(fake_openai, make_provider):
    fake_openai.script(MODEL, non_json())

    error = await call_error(make_provider())

    assert error.kind is ErrorKind.bad_response


@pytest.mark.parametrize(
    "body",
    [
        # 200 kB of brackets: the standard library's decoder raises RecursionError, not a
        # JSONDecodeError, which escaped the provider and ended the whole fan-out
        "[" * 100_000 + "]" * 100_000,
        # an integer of 5000 digits: a ValueError past Python's limit for reading one
        '{"choices": [], "usage": {"prompt_tokens": ' + "7" * 5000 + "}}",
    ],
    ids=["nested", "huge-integer"],
)
async def test_json_200_the_decoder_cannot_read_is_a_bad_response(
    fake_openai, make_provider, body
):
    fake_openai.script(MODEL, status(200, body=body))

    error = await call_error(make_provider())

    assert error.kind is ErrorKind.bad_response
    assert error.message.endswith("200 with a non-JSON body (text/html; charset=utf-8)")


async def test_json_200_without_choices_is_a_bad_response(fake_openai, make_provider):
    fake_openai.script(MODEL, no_choices())

    error = await call_error(make_provider())

    assert error.kind is ErrorKind.bad_response


@pytest.mark.parametrize(
    "payload",
    [
        {"choices": []},
        {"choices": [{"message": None}]},
        {"choices": [{"message": {"content": None}}]},
        {"choices": [{"message": {"content": 42}}]},
        ["not", "an", "object"],
    ],
)
async def test_json_200_without_string_content_is_a_bad_response(payload):
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=payload))
    provider = OpenAICompatibleProvider(
        fake_config("https://platform.test/v1"), transport=transport
    )

    error = await call_error(provider)
    await provider.aclose()

    assert error.kind is ErrorKind.bad_response


async def test_connection_refused_is_a_network_error(make_provider, refused_base_url):
    error = await call_error(make_provider(base_url=refused_base_url))

    assert error.kind is ErrorKind.network
    assert isinstance(error.__cause__, httpx.TransportError)


async def test_cancelling_a_call_propagates_cancelled_error(fake_openai, make_provider):
    fake_openai.script(MODEL, hang())
    task = asyncio.create_task(make_provider().complete(ChatRequest("q")))
    await fake_openai.async_wait_for_calls(1)

    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await task


async def test_error_body_snippet_is_short_and_single_line(fake_openai, make_provider):
    fake_openai.script(MODEL, status(500, body="x\n" * 5000))

    error = await call_error(make_provider())

    assert len(str(error)) < 300
    assert "\n" not in str(error)


async def test_key_never_appears_in_errors_reprs_or_logs(
    fake_openai, make_provider, monkeypatch, caplog, refused_base_url
):
    monkeypatch.setenv(KEY_ENV, SECRET)
    caplog.set_level(logging.DEBUG)
    echo = json.dumps({"error": {"message": f"Incorrect API key provided: {SECRET}"}})
    fake_openai.script(
        MODEL, status(401, body=echo), status(429, retry_after="1"), status(500), non_json()
    )
    fake_openai.script(MODEL, no_choices(), hang(), ok())
    provider = make_provider(timeout_s=0.3)
    refused = make_provider(base_url=refused_base_url)

    errors = [await call_error(provider) for _ in range(6)] + [await call_error(refused)]
    completion = await provider.complete(ChatRequest("q"))

    assert all(call.had_auth for call in fake_openai.calls)
    assert [error.kind.value for error in errors] == [
        "auth",
        "rate_limited",
        "server_error",
        "bad_response",
        "bad_response",
        "timeout",
        "network",
    ]
    texts = [str(error) for error in errors] + [repr(error) for error in errors]
    texts += [repr(provider), repr(provider.config), str(provider.config), repr(completion)]
    texts += [str(provider.config.model_dump()), str(provider.config.public_dict())]
    texts += [record.getMessage() for record in caplog.records] + [caplog.text]
    assert not [text for text in texts if SECRET in text]
