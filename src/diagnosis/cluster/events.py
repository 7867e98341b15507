"""The Redis event broker (SPEC 5, 11): flushed batches fan out through Redis pub/sub, so an SSE
client of any instance sees what a worker anywhere flushed.

`publish` never blocks and never raises: a batch Redis cannot take is dropped and logged (every
(re)connect of a stream starts from the DB snapshot). It never logs a payload.
"""

import asyncio
import contextlib
import json
import logging
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

import redis.asyncio as aioredis

from diagnosis.cluster.loops import raise_if_cancelling
from diagnosis.engine.broker import Batch, EventBroker, Subscription

log = logging.getLogger("diagnosis.cluster.events")

RECONNECT_BACKOFF_S = (0.1, 5.0)  # first wait, cap: doubling in between
# Messages sent in one pipeline at most (a burst of flushes costs a few round trips, not one each).
PIPELINE_MAX = 500


def _encode(batch: Batch) -> str:
    # `encoded` stays out: it is each process's own cache of the SSE bytes.
    return json.dumps(
        {"seq": batch.seq, "progress": batch.progress, "tasks": batch.tasks,
         "final": batch.final},
        ensure_ascii=False, default=str,
    )


def _decode(data: bytes | str) -> Batch:
    message: dict[str, Any] = json.loads(data)
    return Batch(
        seq=int(message["seq"]),
        progress=dict(message["progress"]),
        tasks=list(message.get("tasks") or []),
        final=bool(message.get("final", False)),
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisBroker:
    """Publishes through Redis and hands what Redis delivers to this process's subscribers.

    Local subscribers get batches only through the listener, even from a publisher in this
    process, so nothing is delivered twice. One pattern subscription serves every execution.
    """

    def __init__(
        self,
        *,
        redis: aioredis.Redis,
        prefix: str,
        drain_timeout_s: float = 2.0,
        start_timeout_s: float = 2.0,
        send_timeout_s: float = 5.0,
        max_pending: int = 10_000,
    ) -> None:
        self._redis = redis
        self._channel_prefix = f"{prefix}:events:"
        self._drain_timeout_s = drain_timeout_s
        self._start_timeout_s = start_timeout_s
        self._send_timeout_s = send_timeout_s
        self.local = EventBroker()
        # Bounded: with Redis hanging, memory stays bounded and publish still returns at once.
        self._outbox: asyncio.Queue[tuple[str, Batch]] = asyncio.Queue(max_pending)
        self._publisher: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._first_attempt = asyncio.Event()
        self._listening = False
        self._overflowing = False
        self._closed = False
        # Counters for tests, benchmarks and health: messages sent to Redis, messages dropped
        # (Redis failed or the outbox was full), messages decoded for local subscribers.
        self.published = 0
        self.dropped = 0
        self.received = 0

    @property
    def listening(self) -> bool:
        """The pattern subscription is in place (False while reconnecting)."""
        return self._listening

    async def start(self) -> None:
        """Start the publisher and the listener; returns once the listener's first attempt to
        subscribe ended (bounded), so a process is listening when Redis answers."""
        self._closed = False
        if self._publisher is None:
            self._publisher = self._own(self._publish_loop(), "event-publisher")
        if self._listener is None:
            self._listener = self._own(self._listen_loop(), "event-listener")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._first_attempt.wait(), self._start_timeout_s)

    def publish(self, execution_id: str, batch: Batch) -> None:
        if self._closed:
            self.dropped += 1
            return
        try:
            self._outbox.put_nowait((execution_id, batch))
        except asyncio.QueueFull:
            self.dropped += 1
            if not self._overflowing:  # one warning per episode, not one per batch
                self._overflowing = True
                log.warning("event outbox full, dropping batches pending=%d",
                            self._outbox.qsize())

    @contextmanager
    def subscribe(self, execution_id: str) -> Iterator[Subscription]:
        with self.local.subscribe(execution_id) as sub:
            yield sub

    def subscriber_count(self, execution_id: str | None = None) -> int:
        return self.local.subscriber_count(execution_id)

    async def aclose(self) -> None:
        """Let the outbox drain (bounded), then stop both tasks. Never raises, never hangs."""
        self._closed = True
        publisher, listener = self._publisher, self._listener
        self._publisher = self._listener = None
        # join() also waits for the pipeline in flight (its messages are not task_done yet).
        if publisher is not None and not publisher.done():
            try:
                await asyncio.wait_for(self._outbox.join(), self._drain_timeout_s)
            except TimeoutError:
                self.dropped += self._outbox.qsize()
                log.warning("event outbox not drained at shutdown dropped=%d",
                            self._outbox.qsize())
        tasks = [task for task in (publisher, listener) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._listening = False

    def _own(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.create_task(coro, name=name)
        task.add_done_callback(self._reap)
        return task

    def _reap(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("%s stopped", task.get_name(), exc_info=task.exception())

    # -- publishing -------------------------------------------------------------------------

    async def _publish_loop(self) -> None:
        while True:
            raise_if_cancelling()
            messages = [await self._outbox.get()]
            while len(messages) < PIPELINE_MAX and not self._outbox.empty():
                messages.append(self._outbox.get_nowait())
            try:
                await self._send(messages)
            finally:
                for _ in messages:
                    self._outbox.task_done()

    async def _send(self, messages: list[tuple[str, Batch]]) -> None:
        encoded: list[tuple[str, str]] = []
        for execution_id, batch in messages:
            try:
                encoded.append((self._channel_prefix + execution_id, _encode(batch)))
            except (TypeError, ValueError) as exc:  # one bad batch must not cost the others
                self.dropped += 1
                log.warning("event not encodable, dropped execution_id=%s seq=%d error=%s",
                            execution_id, batch.seq, type(exc).__name__)
        if not encoded:
            return
        try:
            # Bounded: a Redis that hangs costs these batches, not the publisher.
            async with asyncio.timeout(self._send_timeout_s):
                async with self._redis.pipeline(transaction=False) as pipe:
                    for channel, data in encoded:
                        pipe.publish(channel, data)
                    await pipe.execute()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis down, hung or refusing: the streams re-read the DB
            raise_if_cancelling()
            self.dropped += len(encoded)
            log.warning("event publish failed, batches dropped count=%d error=%s",
                        len(encoded), type(exc).__name__)
            return
        self.published += len(encoded)
        self._overflowing = False
        for execution_id, batch in messages:
            log.debug("event published execution_id=%s seq=%d final=%s",
                      execution_id, batch.seq, batch.final)

    # -- listening --------------------------------------------------------------------------

    async def _listen_loop(self) -> None:
        first, cap = RECONNECT_BACKOFF_S
        delay = first
        while True:
            raise_if_cancelling()
            try:
                await self._listen_once()
                error = "subscription ended"
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # disconnects, restarts: reconnect below
                raise_if_cancelling()
                error = type(exc).__name__
            if self._listening:  # it had been subscribed: a fresh loss starts the backoff over
                delay = first
            self._listening = False
            self._first_attempt.set()
            log.warning("event listener disconnected, reconnecting in %.1fs error=%s",
                        delay, error)
            await asyncio.sleep(delay)
            delay = min(delay * 2, cap)

    async def _listen_once(self) -> None:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.psubscribe(self._channel_prefix + "*")
            self._listening = True
            self._first_attempt.set()
            async for message in pubsub.listen():
                self._deliver(message)
        finally:
            # Bounded: a dead socket must not hold up a reconnect or shutdown.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await pubsub.aclose()

    def _deliver(self, message: dict[str, Any]) -> None:
        if message.get("type") != "pmessage":
            return
        execution_id = _text(message["channel"])[len(self._channel_prefix):]
        if not self.local.subscriber_count(execution_id):
            return  # nobody here streams it: not even decoded
        try:
            batch = _decode(message["data"])
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("unreadable event ignored execution_id=%s error=%s",
                        execution_id, type(exc).__name__)
            return
        self.received += 1
        self.local.publish(execution_id, batch)
