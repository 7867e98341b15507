"""Stop requests across instances (SPEC 6, 11): a cancel received by any API instance reaches the
worker running the execution, or the one that takes it later.

A request is both a key (read when a worker takes the execution, and at each heartbeat) and a
pub/sub message (acted on at once); so a lost message only delays a cancel by one heartbeat.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from diagnosis.cluster.loops import raise_if_cancelling
from diagnosis.engine.executor import StopReason

log = logging.getLogger("diagnosis.cluster.control")

# A request outlives any execution it can concern (the longest deadline is an hour).
REQUEST_TTL_S = 2 * 3600
RECONNECT_BACKOFF_S = (0.1, 5.0)

OnStop = Callable[[str, StopReason], None]


class StopRequests:
    def __init__(self, redis: aioredis.Redis, *, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._channel = f"{prefix}:control"
        self._listener: asyncio.Task[None] | None = None

    def _key(self, execution_id: str) -> str:
        return f"{self._prefix}:stop:{execution_id}"

    async def request(self, execution_id: str, reason: StopReason) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._key(execution_id), reason.value, ex=REQUEST_TTL_S)
            pipe.publish(self._channel, f"{execution_id} {reason.value}")
            await pipe.execute()

    async def requested(self, execution_id: str) -> StopReason | None:
        """The stop asked for this execution, if any (a Redis failure reads as none)."""
        try:
            value = await self._redis.get(self._key(execution_id))
        except RedisError as exc:
            log.warning("stop request unreadable execution_id=%s error=%s",
                        execution_id, type(exc).__name__)
            return None
        if value is None:
            return None
        try:
            return StopReason(value.decode() if isinstance(value, bytes) else value)
        except ValueError:
            return None

    def listen(self, on_stop: OnStop) -> None:
        """Call `on_stop(execution_id, reason)` for every request published from now on."""
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen(on_stop), name="stop-requests")

    async def aclose(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None

    async def _listen(self, on_stop: OnStop) -> None:
        delay = RECONNECT_BACKOFF_S[0]
        while True:
            raise_if_cancelling()
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                delay = RECONNECT_BACKOFF_S[0]
                async for message in pubsub.listen():
                    self._dispatch(message.get("data"), on_stop)
            except RedisError as exc:
                raise_if_cancelling()
                log.warning("stop requests: connection lost (%s); reconnecting in %.1f s",
                            type(exc).__name__, delay)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_BACKOFF_S[1])

    @staticmethod
    def _dispatch(data: object, on_stop: OnStop) -> None:
        text = data.decode() if isinstance(data, bytes) else str(data)
        execution_id, _, value = text.partition(" ")
        try:
            on_stop(execution_id, StopReason(value))
        except ValueError:
            log.warning("stop requests: unreadable message ignored")
