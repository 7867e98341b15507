"""The HTTP transport under each platform's httpx client (SPEC 7).

We measured httpx's default transport against `httpx-aiohttp` (BENCHMARKS.md, section 1b):
aiohttp spends 20-40% less CPU per call, the largest cost of a fan-out on 2 cores, so it is
the default. httpx-aiohttp maps every `aiohttp.ClientConnectionError` (refused connection,
server disconnect) to `httpx.ConnectTimeout`; `is_connection_error` undoes that so such an
error is classified `network`, not `timeout`.
"""

import asyncio

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from diagnosis.providers.config import PlatformConfig

_AIOHTTP_TIMEOUTS = (aiohttp.ServerTimeoutError, aiohttp.SocketTimeoutError, asyncio.TimeoutError)


def default_transport(config: PlatformConfig) -> httpx.AsyncBaseTransport:
    """An aiohttp-backed transport whose pool is sized to the platform's concurrency."""
    limits = httpx.Limits(
        max_connections=config.max_concurrency,
        max_keepalive_connections=config.max_concurrency,
    )
    return AiohttpTransport(limits=limits, trust_env=False)


def is_connection_error(exc: BaseException) -> bool:
    """True when an httpx timeout was really a connection failure under aiohttp."""
    cause = exc.__cause__
    return isinstance(cause, aiohttp.ClientConnectionError) and not isinstance(
        cause, _AIOHTTP_TIMEOUTS
    )
