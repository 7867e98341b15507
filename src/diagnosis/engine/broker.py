"""The event broker (SPEC 5, 11): flushed snapshots fanned out to SSE subscribers.

publish/subscribe is the whole interface (`Broker`), so the cluster's Redis pub/sub broker
(diagnosis.cluster.events) can replace this in-process one. A slow subscriber gets its unread
batches merged (newest progress, every task summary) rather than an unbounded queue; the final
event is never dropped.
"""

import asyncio
import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from diagnosis.engine import metrics

log = logging.getLogger("diagnosis.engine.broker")


@dataclass(slots=True)
class Batch:
    """What one flush made durable: the snapshot (as the status view) and the results' summaries."""

    seq: int
    progress: dict[str, Any]
    tasks: list[dict[str, Any]] = field(default_factory=list)
    final: bool = False
    # The SSE bytes of this batch, per stream dialect: encoded once for all its subscribers
    # (with 1000 subscribers, encoding per subscriber starved the engine; see BENCHMARKS.md).
    encoded: dict[str, bytes] = field(default_factory=dict)


class Subscription:
    def __init__(self, execution_id: str) -> None:
        self.execution_id = execution_id
        self._pending: Batch | None = None
        self._wake = asyncio.Event()
        self.closed = False

    def offer(self, batch: Batch) -> None:
        pending = self._pending
        if pending is None:
            self._pending = batch  # shared by every subscriber, never mutated
        else:
            # Coalesce for a slow reader into a batch of its own: the newest snapshot, every
            # task summary, and the final flag once seen (it can never be un-set).
            newer = batch if batch.seq >= pending.seq else pending
            self._pending = Batch(
                newer.seq,
                newer.progress,
                [*pending.tasks, *batch.tasks],
                pending.final or batch.final,
            )
        self._wake.set()

    async def next(self, timeout: float | None = None) -> Batch | None:  # noqa: ASYNC109
        """The next (possibly merged) batch, or None when `timeout` passed without one."""
        if self._pending is None:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                return None
        batch, self._pending = self._pending, None
        self._wake.clear()
        return batch


class Broker(Protocol):
    def publish(self, execution_id: str, batch: Batch) -> None:
        """Hand a flushed batch to every subscriber of the execution (never blocks)."""
        ...

    def subscribe(self, execution_id: str) -> AbstractContextManager[Subscription]: ...

    def subscriber_count(self, execution_id: str | None = None) -> int: ...

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...


class EventBroker:
    """The in-process broker: publishers and subscribers share this process."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscription]] = {}

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    def publish(self, execution_id: str, batch: Batch) -> None:
        subscribers = tuple(self._subscribers.get(execution_id, ()))
        for sub in subscribers:
            sub.offer(batch)
        if subscribers:
            log.debug(
                "published execution_id=%s seq=%d tasks=%d final=%s subscribers=%d",
                execution_id,
                batch.seq,
                len(batch.tasks),
                batch.final,
                len(subscribers),
            )

    @contextmanager
    def subscribe(self, execution_id: str) -> Iterator[Subscription]:
        sub = Subscription(execution_id)
        self._subscribers.setdefault(execution_id, set()).add(sub)
        metrics.SSE_SUBSCRIBERS.inc()
        try:
            yield sub
        finally:
            sub.closed = True
            subs = self._subscribers.get(execution_id)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subscribers[execution_id]
            metrics.SSE_SUBSCRIBERS.dec()

    def subscriber_count(self, execution_id: str | None = None) -> int:
        if execution_id is not None:
            return len(self._subscribers.get(execution_id, ()))
        return sum(len(s) for s in self._subscribers.values())
