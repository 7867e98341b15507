"""Monitors' tests use the API's factories (the app with its lifespan, a real uvicorn) and a
local webhook receiver on 127.0.0.1 that records what it gets and answers as told."""

import asyncio
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.api.conftest import api_client, live_server, make_settings, serve_in_thread

__all__ = ["api_client", "live_server", "make_settings"]


@dataclass
class Received:
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    base_url: str = ""
    status: int = 200
    body: bytes = b"{}"
    requests: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def received(self) -> list[Received]:
        with self._lock:
            return list(self.requests)

    async def app(self, scope: dict[str, Any], receive: Callable[..., Any],
                  send: Callable[..., Any]) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        with self._lock:
            self.requests.append(Received(scope["path"], scope["query_string"].decode(),
                                          headers, body))
        await send({"type": "http.response.start", "status": self.status,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": self.body})


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()

    async def asgi(scope: dict[str, Any], receive: Callable[..., Any],
                   send: Callable[..., Any]) -> None:  # a function: uvicorn sees ASGI 3
        await receiver.app(scope, receive, send)

    with serve_in_thread(asgi) as base_url:
        receiver.base_url = base_url
        yield receiver


async def eventually(check: Callable[[], Any], *, timeout_s: float = 20.0) -> Any:
    """Poll `check` (sync or async) until it returns something truthy; bounded."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)
