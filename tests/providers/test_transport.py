"""The default client under a provider (aiohttp directly) over real HTTP: what a pooled client
for an API must not do, and the failures it hands over as httpx's exception tree."""

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from aiohttp import web

from diagnosis.constants import ErrorKind
from diagnosis.providers import ChatRequest, OpenAICompatibleProvider, PlatformConfig, ProviderError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    """`base_url = await serve(handler)`: an aiohttp server on a free loopback port."""
    runners: list[web.AppRunner] = []

    async def start(handler: Handler) -> str:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}/v1"

    yield start
    for runner in runners:
        await runner.cleanup()


def provider(base_url: str) -> OpenAICompatibleProvider:
    return OpenAICompatibleProvider(
        PlatformConfig(id="p", kind="openai", base_url=base_url, model="m", timeout_s=5.0)
    )


async def test_a_cookie_the_platform_sets_is_never_sent_back(serve) -> None:
    # given a platform that sets a session cookie on every answer
    sent: list[str | None] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        sent.append(request.headers.get("Cookie"))
        response = web.json_response({"choices": [{"message": {"content": "好的"}}]})
        response.set_cookie("session", "abc123")
        return response

    client = provider(await serve(handler))

    # when three calls go out over the pooled client
    try:
        answers = [(await client.complete(ChatRequest(f"q{i}"))).text for i in range(3)]
    finally:
        await client.aclose()

    # then none of them carried the cookie
    assert answers == ["好的"] * 3
    assert sent == [None, None, None]


async def test_a_body_cut_short_is_a_network_error_from_httpx_tree(serve) -> None:
    # given a platform that promises more bytes than it sends, then closes
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": "1000",
                                               "Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b'{"choices": [')
        request.transport.close()  # type: ignore[union-attr]
        return response

    client = provider(await serve(handler))

    # when a call is made
    try:
        with pytest.raises(ProviderError) as caught:
            await client.complete(ChatRequest("q"))
    finally:
        await client.aclose()

    # then it is classified like any broken transfer, its cause in httpx's tree
    assert caught.value.kind is ErrorKind.network
    assert isinstance(caught.value.__cause__, httpx.TransportError)
