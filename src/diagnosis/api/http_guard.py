"""The HTTP server's own limits (issue 14): header size and count, a deadline for a request's
head and for its body, and the uvicorn settings the service runs with.

uvicorn's httptools protocol has no header size limit (its h11 one has, at a much higher CPU
cost per request) and no timeout for a head or a body that never completes, so a client that
opens connections and trickles bytes holds memory forever. This subclass adds exactly those
checks and nothing else; the connection cap is uvicorn's own `limit_concurrency`. Behind a
reverse proxy, set the proxy's limits too (docs/engine.md, "HTTP limits").
"""

import asyncio
from dataclasses import dataclass
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from diagnosis.settings import Settings


@dataclass(frozen=True, slots=True)
class HttpLimits:
    max_header_bytes: int = 32 * 1024  # request line + headers
    max_headers: int = 100
    header_timeout_s: float = 10.0  # from the connection's (or request's) first byte
    body_timeout_s: float = 30.0  # from the end of the head to the end of the body
    max_connections: int = 2048  # beyond it, uvicorn answers 503


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    limits = HttpLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0  # bytes received while the current head is incomplete
        self._head_size = 0  # request line + headers, as parsed
        self._header_count = 0
        self._in_head = False
        self._between_requests = True  # the next byte begins a head
        self._refusal: tuple[int, str] | None = None
        self._deadline: asyncio.TimerHandle | None = None

    # -- connection ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # A connection that never sends a byte is held no longer than a slow head.
        self._arm(self.limits.header_timeout_s, 408, "request head not received in time")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_head or self._between_requests:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > self.limits.max_header_bytes:
            self._refuse(431, "request header fields too large")
        elif self._refusal is not None:
            self._refuse(*self._refusal)

    # -- parser callbacks -----------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._between_requests = True, False
        self._head_size = self._header_count = 0
        if self._deadline is None:
            self._arm(self.limits.header_timeout_s, 408, "request head not received in time")

    def on_url(self, url: bytes) -> None:
        self._head_size += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4
        self._header_count += 1
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._disarm()
        if self._head_size > self.limits.max_header_bytes:
            self._refusal = (431, "request header fields too large")
        elif self._header_count > self.limits.max_headers:
            self._refusal = (431, "too many request header fields")
        if self._refusal is not None:
            return  # no ASGI cycle starts: data_received answers and closes
        super().on_headers_complete()
        self._arm(self.limits.body_timeout_s, 408, "request body not received in time")

    def on_message_complete(self) -> None:
        self._disarm()
        self._between_requests, self._head_bytes = True, 0
        if self._refusal is None:
            super().on_message_complete()

    def on_body(self, body: bytes) -> None:
        if self._refusal is None:
            super().on_body(body)

    # -- limits -------------------------------------------------------------------------

    def _arm(self, delay: float, status: int, message: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(delay, self._refuse, status, message)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _refuse(self, status: int, message: str) -> None:
        """Answer `status` (unless a response has begun) and close the connection."""
        self._disarm()
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is None or not cycle.response_started:
            body = message.encode("ascii")
            self.transport.write(b"".join([
                STATUS_LINE[status],
                b"content-type: text/plain; charset=utf-8\r\n",
                b"content-length: ", str(len(body)).encode("ascii"), b"\r\n",
                b"connection: close\r\n\r\n",
                body,
            ]))
        if cycle is not None:
            cycle.disconnected = True  # the app's receive() sees http.disconnect
            cycle.message_event.set()
        self.transport.close()


def http_limits(settings: Settings) -> HttpLimits:
    return HttpLimits(
        max_header_bytes=settings.http_max_header_bytes,
        max_headers=settings.http_max_headers,
        header_timeout_s=settings.http_header_timeout_s,
        body_timeout_s=settings.http_body_timeout_s,
        max_connections=settings.http_max_connections,
    )


def guarded_protocol(limits: HttpLimits) -> type[GuardedHttpToolsProtocol]:
    """A protocol class carrying `limits` (uvicorn instantiates the class itself)."""
    return type("GuardedHttpToolsProtocol", (GuardedHttpToolsProtocol,), {"limits": limits})


def server_config(app: Any, *, host: str, port: int, limits: HttpLimits,
                  graceful_shutdown_s: int, **extra: Any) -> uvicorn.Config:
    """The uvicorn config the service runs with (`diagnosis serve`, and the tests' servers)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=guarded_protocol(limits),
        limit_concurrency=limits.max_connections,
        timeout_graceful_shutdown=graceful_shutdown_s,
        **extra,
    )
