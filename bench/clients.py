"""Bare client baselines for the fan-out: `asyncio.gather` under a semaphore of C, nothing
persisted, no engine. The floor each client stack sets on this machine (SPEC 7's measurement).

- openai: the official AsyncOpenAI client (httpx + httpcore underneath);
- bare httpx: `httpx.AsyncClient` over `httpx_aiohttp.AiohttpTransport` (the service's old client);
- bare aiohttp: `aiohttp.ClientSession` directly (the service's client since issue 13).
"""

import asyncio
import gc
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
import openai
from httpx_aiohttp import AiohttpTransport

from bench.inproc import cpu_now, question
from bench.probes import GcRecorder

BASELINES = ("bare httpx", "bare aiohttp", "openai")
Call = Callable[[int], Awaitable[str]]


@dataclass(frozen=True)
class BaselineRun:
    makespan_s: float
    cpu_s: float
    gc_s: float


def _body(i: int) -> dict[str, Any]:
    return {"model": "fake-model", "messages": [{"role": "user", "content": question(i)}]}


@asynccontextmanager
async def baseline_calls(base_url: str, concurrency: int) -> AsyncIterator[dict[str, Call]]:
    """One call function per baseline, each over its own pooled client of `concurrency`."""
    url = base_url + "/chat/completions"
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    bare_httpx = httpx.AsyncClient(
        transport=AiohttpTransport(limits=limits, trust_env=False), timeout=60.0
    )
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency), cookie_jar=aiohttp.DummyCookieJar()
    )
    official = openai.AsyncOpenAI(api_key="bench", base_url=base_url, max_retries=0, timeout=60.0)

    async def via_httpx(i: int) -> str:
        reply = await bare_httpx.post(url, json=_body(i))
        return str(reply.json()["choices"][0]["message"]["content"])

    async def via_aiohttp(i: int) -> str:
        async with session.post(url, json=_body(i)) as reply:
            return str((await reply.json())["choices"][0]["message"]["content"])

    async def via_openai(i: int) -> str:
        reply = await official.chat.completions.create(
            model="fake-model", messages=[{"role": "user", "content": question(i)}]
        )
        return reply.choices[0].message.content or ""

    try:
        yield {"bare httpx": via_httpx, "bare aiohttp": via_aiohttp, "openai": via_openai}
    finally:
        await bare_httpx.aclose()
        await session.close()
        await official.close()


async def gather_once(call: Call, *, tasks: int, concurrency: int) -> BaselineRun:
    slots = asyncio.Semaphore(concurrency)

    async def one(i: int) -> str:
        async with slots:
            return await call(i)

    collections = GcRecorder()
    collections.start()
    cpu, began = cpu_now(), time.perf_counter()
    try:
        answers = await asyncio.gather(*(one(i) for i in range(tasks)))
    finally:
        collections.stop()
    makespan = time.perf_counter() - began
    if not all(answers):
        raise RuntimeError("a baseline got an empty answer")
    return BaselineRun(makespan, cpu_now() - cpu, sum(collections.seconds))


def collect_now() -> None:
    """Between runs: the previous run's garbage is not charged to the next one."""
    gc.collect()
