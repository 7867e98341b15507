"""The pooled HTTP client under each platform's provider (SPEC 7): one POST to one fixed URL.

Measured behind the Provider protocol (BENCHMARKS.md, 1b): `aiohttp.ClientSession` directly
costs about half the CPU per call of httpx over the `httpx-aiohttp` transport (httpx builds and
converts Request/URL/Headers objects and runs its cookie jar on every call), so it is the
default. httpx stays as the seam: any `httpx.AsyncBaseTransport` (MockTransport in tests,
httpcore in the bench) can be injected and is driven without an `AsyncClient` around it. Both
clients raise httpx's exception tree, so the provider classifies every failure one way.
Never logs or keeps a request header (the key travels in one).
"""

import functools
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from diagnosis.providers.config import PlatformConfig

_KEEPALIVE_S = 5.0  # httpx's default keep-alive expiry, kept from the httpx-based client
_AIOHTTP_TIMEOUTS = (aiohttp.ServerTimeoutError, aiohttp.SocketTimeoutError, TimeoutError)
_CHARSET = re.compile(r"charset=([\w.:-]+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class RawResponse:
    """What the provider reads of a response: status, the two headers it uses, the body."""

    status: int
    body: bytes
    content_type: str | None = None
    retry_after: str | None = None

    def text(self) -> str:
        """The body as text (its declared charset, else UTF-8), undecodable bytes replaced."""
        match = _CHARSET.search(self.content_type or "")
        try:
            return self.body.decode(match.group(1) if match else "utf-8", errors="replace")
        except LookupError:  # an unknown charset name
            return self.body.decode("utf-8", errors="replace")


class HttpClient(Protocol):
    @property
    def is_closed(self) -> bool: ...

    async def post(self, body: bytes, headers: Mapping[str, str]) -> RawResponse:
        """One POST of `body`; raises only httpx.HTTPError (and CancelledError)."""
        ...

    async def aclose(self) -> None: ...


class AiohttpClient:
    """The default: one `aiohttp.ClientSession` per platform, its pool sized to the platform's
    concurrency, no cookie jar (providers set no cookies), URL and timeouts built once."""

    def __init__(self, url: str, *, max_connections: int, timeout_s: float) -> None:
        self._url = url
        self._max_connections = max_connections
        # Each phase bounded like httpx.Timeout(timeout_s) was: pool wait + connect, connect,
        # and the gap between two reads; the engine bounds the whole call on top.
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=timeout_s, sock_connect=timeout_s, sock_read=timeout_s
        )
        # Loading the CA bundle takes tens of milliseconds: done here, never inside a call.
        self._ssl = _ssl_context() if url.startswith("https:") else True
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    @property
    def is_closed(self) -> bool:
        return self._closed

    def _open(self) -> aiohttp.ClientSession:
        # Built on first use, inside the running loop the session belongs to.
        connector = aiohttp.TCPConnector(
            limit=self._max_connections, limit_per_host=0, keepalive_timeout=_KEEPALIVE_S,
            ssl=self._ssl,
        )
        return aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar(), timeout=self._timeout,
            trust_env=False,
        )

    async def post(self, body: bytes, headers: Mapping[str, str]) -> RawResponse:
        if self._closed:
            raise httpx.ConnectError("the platform's client is closed")
        session = self._session
        if session is None:
            session = self._session = self._open()
        try:
            async with session.post(
                self._url, data=body, headers=headers, allow_redirects=False
            ) as response:
                data = await response.read()
                found = response.headers
                return RawResponse(
                    response.status, data, found.get("Content-Type"), found.get("Retry-After")
                )
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _httpx_error(exc) from exc

    async def aclose(self) -> None:
        self._closed = True
        if self._session is not None:
            await self._session.close()


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """The same verification (certifi's CA bundle) as httpx's client, one per process."""
    return httpx.create_ssl_context()


def _httpx_error(exc: BaseException) -> httpx.HTTPError:
    """The httpx exception the same failure would have raised through httpx's own client."""
    message = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(message)
    if isinstance(exc, _AIOHTTP_TIMEOUTS):
        return httpx.ReadTimeout(message)
    if isinstance(exc, aiohttp.ClientConnectionError):  # refused, reset, server disconnected
        return httpx.ConnectError(message)
    if isinstance(exc, aiohttp.ClientPayloadError):
        return httpx.ReadError(message)
    if isinstance(exc, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        return httpx.UnsupportedProtocol(message)
    return httpx.RemoteProtocolError(message)  # a response aiohttp could not parse


class HttpxTransportClient:
    """An injected httpx transport, driven directly: one `httpx.Request` per call, no
    `AsyncClient` (no cookie jar, auth flow, redirects or event hooks to run)."""

    def __init__(self, url: str, *, transport: httpx.AsyncBaseTransport, timeout_s: float) -> None:
        self._url = httpx.URL(url)
        self._transport = transport
        self._extensions = {
            "timeout": {"connect": timeout_s, "read": timeout_s, "write": timeout_s,
                        "pool": timeout_s},
        }
        self._closed = False

    @property
    def is_closed(self) -> bool:
        return self._closed

    @property
    def transport(self) -> httpx.AsyncBaseTransport:
        return self._transport

    async def post(self, body: bytes, headers: Mapping[str, str]) -> RawResponse:
        if self._closed:
            raise httpx.ConnectError("the platform's client is closed")
        request = httpx.Request(
            "POST", self._url, headers=headers, content=body, extensions=self._extensions
        )
        response = await self._transport.handle_async_request(request)
        try:
            data = await response.aread()
        finally:
            await response.aclose()
        found = response.headers
        return RawResponse(
            response.status_code, data, found.get("content-type"), found.get("retry-after")
        )

    async def aclose(self) -> None:
        self._closed = True
        await self._transport.aclose()


def httpx_aiohttp_transport(config: PlatformConfig) -> httpx.AsyncBaseTransport:
    """httpx over `httpx-aiohttp`, the client before the measurement (kept for the bench)."""
    limits = httpx.Limits(
        max_connections=config.max_concurrency,
        max_keepalive_connections=config.max_concurrency,
    )
    return AiohttpTransport(limits=limits, trust_env=False)


def is_connection_error(exc: BaseException) -> bool:
    """True when an httpx timeout was really a connection failure: `httpx-aiohttp` maps every
    `aiohttp.ClientConnectionError` (refused, disconnected) to `httpx.ConnectTimeout`."""
    cause = exc.__cause__
    return isinstance(cause, aiohttp.ClientConnectionError) and not isinstance(
        cause, _AIOHTTP_TIMEOUTS
    )
