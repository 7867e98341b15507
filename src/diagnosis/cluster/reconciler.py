"""The reconciler (SPEC 11): Redis keeps nothing on disk, the database is the authority. At a
worker's start and every DIAGNOSIS_RECONCILE_INTERVAL_S it re-enqueues each execution the
database shows queued/running whose job no live worker holds; the job key makes that idempotent.

"No live worker" is SAQ's own notion: no job record, a finished one, or an active one whose
heartbeat is older than the heartbeat period. A candidate is checked again one heartbeat later,
because after a Redis loss a live worker's next heartbeat writes its job record back.
"""

import asyncio
import logging
from typing import Any

from redis.exceptions import RedisError
from saq import Queue, Status

from diagnosis.cluster.loops import raise_if_cancelling
from diagnosis.cluster.queue import enqueue

log = logging.getLogger("diagnosis.cluster.reconciler")

_FINISHED = {Status.COMPLETE, Status.FAILED, Status.ABORTED}


class Reconciler:
    def __init__(self, repository: Any, queue: Queue, *, interval_s: float,
                 heartbeat_s: int) -> None:
        self._repository = repository
        self._queue = queue
        self._interval_s = interval_s
        self._heartbeat_s = heartbeat_s
        self._task: asyncio.Task[None] | None = None
        self.enqueued: list[str] = []  # what it has re-enqueued (tests, logs)

    async def start(self) -> None:
        """One pass in the background at once, then every interval."""
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="reconciler")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def run_once(self, *, recheck_after_s: float | None = None) -> list[str]:
        """Re-enqueue the orphans; returns their ids."""
        candidates = await self._orphans(None)
        if not candidates:
            return []
        await asyncio.sleep(self._heartbeat_s if recheck_after_s is None else recheck_after_s)
        enqueued = []
        for execution_id in await self._orphans(candidates):
            if await enqueue(self._queue, execution_id, heartbeat_s=self._heartbeat_s):
                enqueued.append(execution_id)
                log.warning("reconciler re-enqueued execution_id=%s (the queue had lost it)",
                            execution_id)
        self.enqueued.extend(enqueued)
        return enqueued

    async def _orphans(self, among: list[str] | None) -> list[str]:
        records = await self._repository.find_unfinished()
        ids = [str(r.execution_id) for r in records]
        if among is not None:
            wanted = set(among)
            ids = [i for i in ids if i in wanted]
        jobs = await self._queue.jobs(ids) if ids else []  # type: ignore[attr-defined]
        return [i for i, job in zip(ids, jobs, strict=True) if self._orphaned(job)]

    def _orphaned(self, job: Any) -> bool:
        if job is None or job.status in _FINISHED:
            return True
        if job.status in (Status.ACTIVE, Status.ABORTING):
            return bool(job.stuck)  # a dead worker's; the sweep retries it if still listed
        return False  # queued or scheduled: a worker will take it

    async def _loop(self) -> None:
        while True:
            raise_if_cancelling()
            try:
                await self.run_once()
            except RedisError as exc:
                raise_if_cancelling()
                log.warning("reconciler: Redis unavailable (%s); next pass in %.0f s",
                            type(exc).__name__, self._interval_s)
            except Exception:  # the database may be down too: try again next time
                raise_if_cancelling()
                log.exception("reconciler pass failed")
            await asyncio.sleep(self._interval_s)
