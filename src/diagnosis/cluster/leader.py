"""One process of the cluster leads a singleton duty (the monitors' scheduler and webhook
deliveries, SPEC 12): the holder of a redis-py Lock, extended while it lives. A dead leader's lock
expires after `ttl_s` and another instance takes over; the database's unique slot constraint
still makes a run per (monitor, slot) exactly one should two ever overlap.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
from redis.exceptions import LockError, RedisError

from diagnosis.cluster.loops import raise_if_cancelling

log = logging.getLogger("diagnosis.cluster.leader")

# Begin leading; returns how to stop.
Lead = Callable[[], Awaitable[Callable[[], Awaitable[None]]]]


class Leadership:
    def __init__(self, redis: aioredis.Redis, *, name: str, ttl_s: float, lead: Lead) -> None:
        self._lock = redis.lock(name, timeout=ttl_s)
        self._ttl_s = ttl_s
        self._lead = lead
        self._task: asyncio.Task[None] | None = None
        self._stop: Callable[[], Awaitable[None]] | None = None
        self._closing = False  # checked by the loop too: a cancel alone once did not end it

    @property
    def leading(self) -> bool:
        return self._stop is not None

    async def start(self) -> None:
        self._closing = False
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="leadership")

    async def aclose(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self._step_down()
        with contextlib.suppress(LockError, RedisError):
            await self._lock.release()

    async def _loop(self) -> None:
        every = self._ttl_s / 3
        while not self._closing:
            raise_if_cancelling()
            try:
                if self._stop is None:
                    if await self._lock.acquire(blocking=False):
                        log.info("leading %s", self._lock.name)
                        self._stop = await self._lead()
                else:
                    await self._lock.reacquire()
            except (LockError, RedisError) as exc:
                raise_if_cancelling()
                if self._stop is not None:
                    log.error("lost the lead of %s (%s): stepping down", self._lock.name,
                              type(exc).__name__)
                await self._step_down()
            await asyncio.sleep(every)

    async def _step_down(self) -> None:
        stop, self._stop = self._stop, None
        if stop is not None:
            await stop()
