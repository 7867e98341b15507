"""A small closed-loop HTTP load generator: `concurrency` workers share a bounded number of
GETs over a list of URLs; per-request latency is taken around the whole request.

The client is httpx over `httpx_aiohttp.AiohttpTransport`: with httpx's default transport a
32-connection pool costs the client ~4 ms of CPU per request here (7x the aiohttp transport), so
the load generator, not the server, would set the numbers.
"""

import asyncio
import itertools
import time
from dataclasses import dataclass, field

import httpx


def client(base_url: str, *, concurrency: int) -> httpx.AsyncClient:
    from httpx_aiohttp import AiohttpTransport

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.AsyncClient(base_url=base_url, transport=AiohttpTransport(limits=limits),
                             timeout=60.0)


@dataclass
class LoadResult:
    requests: int = 0
    wall_s: float = 0.0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)

    def add(self, other: "LoadResult") -> None:
        self.requests += other.requests
        self.wall_s += other.wall_s
        self.errors += other.errors
        self.latencies += other.latencies

    @property
    def rps(self) -> float:
        return self.requests / self.wall_s if self.wall_s else 0.0


async def load(
    client: httpx.AsyncClient, urls: list[str], *, requests: int, concurrency: int
) -> LoadResult:
    result = LoadResult(requests=requests)
    numbers = iter(range(requests))
    cycle = itertools.cycle(urls)

    async def worker() -> None:
        for _ in numbers:
            url = next(cycle)
            began = time.perf_counter()
            try:
                response = await client.get(url)
                failed = response.status_code != 200
            except httpx.HTTPError:
                failed = True
            result.latencies.append(time.perf_counter() - began)
            result.errors += failed

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.wall_s = time.perf_counter() - began
    return result
