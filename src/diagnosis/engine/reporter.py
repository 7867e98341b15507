"""The progress reporter (SPEC 5): one per live execution, it coalesces writes.

It writes the snapshot and ALL pending results in one transaction, at most once per
`flush_interval_s` while dirty (trailing edge: no change waits longer than that), and at once
when the executor asks (status or stage changes). Only after a write succeeds are the results
dropped from the cache and the batch published, so no client sees what a crash could take back.

A write that fails for a transient reason (locked, full, disconnected) is retried; nothing
pending is dropped. One that fails for a permanent reason (this data can never be stored) is
never retried as is: each pending result is then written alone, and one that still fails is
replaced by an error result (`bad_response`, with the reason), so one bad row cannot wedge the
execution. `close()` (shutdown) makes a retrying flush give up, so shutdown always ends.
"""

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

from diagnosis.constants import ErrorKind, ResultStatus
from diagnosis.engine import metrics
from diagnosis.engine.broker import Batch, Broker
from diagnosis.engine.cache import LiveExecution, LiveMirror, NoMirror
from diagnosis.persistence.faults import WriteHealth, is_transient, reason
from diagnosis.persistence.records import ProgressSnapshot, ResultWrite

log = logging.getLogger("diagnosis.engine.reporter")

ProgressView = Callable[[ProgressSnapshot], dict[str, Any]]
TaskSummary = Callable[[ResultWrite], dict[str, Any]]

# Permanent failures of one flush after which the report is left out of the snapshot, and
# after which the flush gives up (the snapshot itself cannot be stored: a bug, logged).
_DROP_REPORT_AFTER = 2
_GIVE_UP_AFTER = 3


def unstorable(result: ResultWrite, why: str) -> ResultWrite:
    """The error result that replaces a result the database refused for good."""
    return dataclasses.replace(
        result,
        status=ResultStatus.error.value,
        error_kind=ErrorKind.bad_response.value,
        answer=None,
        truncated=False,
        usage=None,
        analysis=None,
        error=f"the answer could not be stored ({why})",
    )


class ProgressReporter:
    def __init__(
        self,
        live: LiveExecution,
        *,
        repository: Any,
        broker: Broker,
        flush_interval_s: float,
        progress_view: ProgressView,
        task_summary: TaskSummary,
        retry_backoff_s: float = 0.2,
        retry_backoff_cap_s: float = 5.0,
        health: WriteHealth | None = None,
        mirror: LiveMirror | None = None,
    ) -> None:
        self.live = live
        self._mirror = mirror or NoMirror()
        self._repo = repository
        self._broker = broker
        self._interval = flush_interval_s
        self._progress_view = progress_view
        self._task_summary = task_summary
        self._backoff = retry_backoff_s
        self._backoff_cap = retry_backoff_cap_s
        self._health = health or WriteHealth()
        self._lock = asyncio.Lock()
        self._changed = asyncio.Event()
        self._closing = asyncio.Event()
        self._last_flush = float("-inf")
        self.writes = 0  # successful flushes of this execution (tests, benchmarks)

    def notify(self) -> None:
        """A task ended: the cache changed. The loop flushes within one interval."""
        self._changed.set()
        self._mirror.changed(self.live)

    def close(self) -> None:
        """Shutdown: a flush retrying a failing write stops after its current try."""
        self._closing.set()

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
        """Write what is dirty now, retrying a transient failure (forever unless `attempts` or
        `close()`). Returns False when it gave up with something still unwritten."""
        async with self._lock:
            tries = permanent = 0
            delay = self._backoff
            while self.live.dirty:
                tries += 1
                try:
                    await self._write_once()
                    self._health.succeeded()
                    return True
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # classified below: nothing pending is dropped
                    failure: Exception = exc
                self._failed(failure, tries)
                if not is_transient(failure):
                    permanent += 1
                    if permanent >= _GIVE_UP_AFTER:
                        log.error(
                            "progress snapshot cannot be stored execution_id=%s reason=%s",
                            self.live.execution_id, reason(failure),
                        )
                        return False
                    try:
                        drop_report = permanent >= _DROP_REPORT_AFTER
                        await self._set_aside_unstorable(drop_report=drop_report)
                        continue  # the batch is storable now: write it at once
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:  # transient (else it was handled inside)
                        self._failed(exc, tries)
                if attempts is not None and tries >= attempts:
                    return False
                if attempts is None and self._closing.is_set():
                    return False
                with contextlib.suppress(TimeoutError):  # close() cuts the backoff short
                    await asyncio.wait_for(self._closing.wait(), delay)
                delay = min(delay * 2, self._backoff_cap)
            return True

    def _failed(self, exc: Exception, tries: int) -> None:
        self._health.failed(exc)
        metrics.FLUSH_FAILURES.inc()
        log.warning(
            "progress write failed execution_id=%s seq=%d try=%d transient=%s reason=%s",
            self.live.execution_id, self.live.seq, tries, is_transient(exc), reason(exc),
        )

    async def _set_aside_unstorable(self, *, drop_report: bool) -> None:
        """After a permanent failure: write each pending result alone; one the database still
        refuses for good is replaced by an error result. A transient failure propagates."""
        live = self.live
        if drop_report and live.report is not None:
            live.report = None
            live.error = "report could not be stored"
        for result in list(live.pending):
            try:
                await asyncio.shield(self._repo.write_results(live.execution_id, [result]))
                continue  # storable alone: it goes with the next snapshot (idempotent)
            except Exception as exc:
                if is_transient(exc):
                    raise
                why = reason(exc)
            log.warning(
                "result cannot be stored, kept as bad_response execution_id=%s task_key=%s "
                "reason=%s", live.execution_id, result.task_key, why,
            )
            live.replace_pending(result, unstorable(result, why))

    async def _write_once(self) -> None:
        live = self.live
        snapshot = live.snapshot()
        results = list(live.pending)
        # Other instances' copy of the cache first, so it is never behind the database (SPEC 11).
        await self._mirror.sync(live)
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
        self._mirror.changed(live, batch.progress)
        self._broker.publish(live.execution_id, batch)
