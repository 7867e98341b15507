"""The progress reporter (SPEC 5): one per live execution, it coalesces writes.

It writes the snapshot and ALL pending results in one transaction, at most once per
`flush_interval_s` while dirty (trailing edge: no change waits longer than that), and at once
when the executor asks (status or stage changes). Only after a write succeeds are the results
dropped from the cache and the batch published, so no client sees what a crash could take back.
A failed write is retried; nothing pending is dropped.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from diagnosis.engine import metrics
from diagnosis.engine.broker import Batch, EventBroker
from diagnosis.engine.cache import LiveExecution
from diagnosis.persistence.records import ProgressSnapshot, ResultWrite

log = logging.getLogger("diagnosis.engine.reporter")

ProgressView = Callable[[ProgressSnapshot], dict[str, Any]]
TaskSummary = Callable[[ResultWrite], dict[str, Any]]


class ProgressReporter:
    def __init__(
        self,
        live: LiveExecution,
        *,
        repository: Any,
        broker: EventBroker,
        flush_interval_s: float,
        progress_view: ProgressView,
        task_summary: TaskSummary,
        retry_backoff_s: float = 0.2,
        retry_backoff_cap_s: float = 5.0,
    ) -> None:
        self.live = live
        self._repo = repository
        self._broker = broker
        self._interval = flush_interval_s
        self._progress_view = progress_view
        self._task_summary = task_summary
        self._backoff = retry_backoff_s
        self._backoff_cap = retry_backoff_cap_s
        self._lock = asyncio.Lock()
        self._changed = asyncio.Event()
        self._last_flush = float("-inf")
        self.writes = 0  # successful flushes of this execution (tests, benchmarks)

    def notify(self) -> None:
        """A task ended: the cache changed. The loop flushes within one interval."""
        self._changed.set()

    async def run(self) -> None:
        """The coalescing loop; the executor cancels it once the final flush is done."""
        while True:
            await self._changed.wait()
            wait = self._last_flush + self._interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._changed.clear()
            await self.flush()

    async def flush(self, *, attempts: int | None = None) -> bool:
        """Write what is dirty now, retrying a failed write (forever unless `attempts`).
        Returns False only when `attempts` ran out with the write still failing."""
        async with self._lock:
            tries = 0
            delay = self._backoff
            while self.live.dirty:
                tries += 1
                try:
                    await self._write_once()
                    return True
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # a DB error must never drop what is pending
                    metrics.FLUSH_FAILURES.inc()
                    log.warning(
                        "progress write failed execution_id=%s seq=%d try=%d error=%s",
                        self.live.execution_id,
                        self.live.seq,
                        tries,
                        type(exc).__name__,
                    )
                    if attempts is not None and tries >= attempts:
                        return False
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self._backoff_cap)
            return True

    async def _write_once(self) -> None:
        live = self.live
        snapshot = live.snapshot()
        results = list(live.pending)
        # The write happens under `asyncio.shield`: once started, a cancellation of the caller
        # (shutdown) must not leave us unsure whether the transaction committed.
        await asyncio.shield(self._repo.write_progress(snapshot, results))
        del live.pending[: len(results)]
        live.flushed_seq = max(live.flushed_seq, snapshot.seq)
        self._last_flush = time.monotonic()
        self.writes += 1
        metrics.FLUSHES.inc()
        log.debug(
            "flushed execution_id=%s seq=%d progress=%d results=%d",
            live.execution_id,
            snapshot.seq,
            snapshot.progress,
            len(results),
        )
        batch = Batch(
            seq=snapshot.seq,
            progress=self._progress_view(snapshot),
            tasks=[self._task_summary(r) for r in results],
            final=snapshot.stage == "done",
        )
        self._broker.publish(live.execution_id, batch)
