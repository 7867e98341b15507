"""The queue runner (SPEC 11): under DIAGNOSIS_RUNNER=queue the API only enqueues; `diagnosis
worker` processes run the executions. The queue is SAQ on Redis: job key = execution id, so an
execution is queued or run at most once at a time, and SAQ's heartbeat and sweep hand a dead
worker's execution to another (docs/scale-out.md has the choice and the measured pick-up time).

Runs nothing itself and never calls a provider.
"""

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError
from saq import Job, Queue, Status
from saq.queue.redis import RedisQueue

from diagnosis.cluster.control import StopRequests
from diagnosis.constants import ExecutionStatus
from diagnosis.engine.executor import ExecutionRun, StopReason

if TYPE_CHECKING:
    from diagnosis.engine.service import Engine

log = logging.getLogger("diagnosis.cluster.queue")

JOB_FUNCTION = "run_execution"
# How many times an execution may be taken (a worker's death or SIGTERM each cost one): a crash
# loop ends, a rolling restart does not exhaust it.
JOB_RETRIES = 20
# How often `wait` (the cancel route) reads the database while another process runs it.
WAIT_POLL_S = 0.2


def make_queue(redis: Any, *, prefix: str) -> RedisQueue:
    """The executions' queue; SAQ names its keys saq:<name>:..., so the name carries the prefix."""
    return ExecutionQueue(redis, name=prefix)


class ExecutionQueue(RedisQueue):  # type: ignore[misc]
    """SAQ's Redis queue with a sweep that does not take a job from the worker taking it.

    Written by hand because SAQ 0.26.4 (the newest) sweeps every job in its active list whose
    status is not "active", and a worker's dequeue moves the job into that list a few Redis round
    trips before it marks it active: a sweep in between (any worker's, every sweep interval)
    aborts the job its taker is just starting and retries it, so an execution is taken twice and
    its calls asked again (tobymao/saq#277, #124; seen here as two takes of one job and 8 calls
    in flight against a limit of 4). A job still "queued" in the active list is swept only when
    this process saw it so one heartbeat earlier too: a taker that died in that window still
    has its job handed on, one heartbeat later, like a taker that died running it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # (job id, attempts) -> when first seen "queued" while taken: attempts tells one take
        # of a job from its next, so an old sighting never hurries a later take's sweep.
        self._queued_since: dict[tuple[bytes, int], float] = {}

    async def sweep(self, lock: int = 60, abort: float = 5.0) -> list[str]:
        if not self._cleanup_script:
            self._cleanup_script = self.redis.register_script(_SWEEP_SCRIPT)
        id_jobs = await self._cleanup_script(
            keys=[self._sweep, self._active], args=[lock], client=self.redis
        )
        seen_queued: dict[tuple[bytes, int], float] = {}
        swept: list[bytes] = []
        for job_id, job_bytes in id_jobs:
            job = self.deserialize(job_bytes)
            if job is None:  # its record expired: drop it from the lists (as SAQ does)
                swept.append(job_id)
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.lrem(self._active, 0, job_id)
                    pipe.zrem(self._incomplete, job_id)
                    await pipe.execute()
                log.info("sweeping missing job %s", job_id)
                continue
            if job.status == Status.QUEUED:
                # A swept job keeps its attempts until its next take: its sighting is dropped
                # here, or that take would be swept at first sight.
                take = (job_id, job.attempts)
                first = self._queued_since.get(take, time.monotonic())
                if time.monotonic() - first < (job.heartbeat or _QUEUED_GRACE_S):
                    seen_queued[take] = first
                    continue  # being taken now, most likely: look again next sweep
            elif job.status == Status.ACTIVE and not job.stuck:
                continue
            log.info("sweeping job %s", job.info(False))
            swept.append(job_id)
            await self.abort(job, error=self.swept_error_message)
            try:
                await job.refresh(abort)
            except TimeoutError:
                log.info("could not abort job %s", job_id)
            if job.retryable:
                await self.retry(job, error=self.swept_error_message)
            else:
                await self.finish(job, Status.ABORTED, error=self.swept_error_message)
        if id_jobs:  # a sweep that ran (not locked out by another's) knows what is still taken
            self._queued_since = seen_queued
        return [job_id.decode("utf-8") for job_id in swept]


# SAQ's own sweep script: once per `lock` seconds across the cluster, the active list's jobs.
_SWEEP_SCRIPT = """
local id_jobs = {}
if redis.call('EXISTS', KEYS[1]) == 0 then
    redis.call('SETEX', KEYS[1], ARGV[1], 1)
    for i, v in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
        id_jobs[i] = {v, redis.call('GET', v)}
    end
end
return id_jobs
"""
# How long a taken job with no heartbeat may stay "queued" before it is swept.
_QUEUED_GRACE_S = 10.0


def execution_job(execution_id: str, *, heartbeat_s: int) -> Job:
    return Job(
        function=JOB_FUNCTION,
        kwargs={"execution_id": execution_id},
        key=execution_id,
        heartbeat=heartbeat_s,  # not touched for this long: swept and retried by another worker
        timeout=0,  # the execution's own deadline bounds it (SPEC 4), not the queue
        retries=JOB_RETRIES,
        retry_delay=0.0,  # handed back (SIGTERM) or swept: taken again at once
        ttl=600,  # the finished job's record, for `saq` inspection; the database is the history
    )


async def enqueue(queue: Queue, execution_id: str, *, heartbeat_s: int) -> bool:
    """True when queued now; False when it is already queued or running (idempotent)."""
    return await queue.enqueue(execution_job(execution_id, heartbeat_s=heartbeat_s)) is not None


class QueueRunner:
    """The runner seam for an API instance: submit enqueues, stop asks the cluster."""

    def __init__(self, engine: "Engine", *, queue: Queue, stops: StopRequests,
                 heartbeat_s: int, wait_bound_s: float = 30.0) -> None:
        self._engine = engine
        self._queue = queue
        self._stops = stops
        self._heartbeat_s = heartbeat_s
        self._wait_bound_s = wait_bound_s
        # Enqueues and stop requests in flight: owned, awaited at shutdown.
        self._pending: set[asyncio.Task[None]] = set()

    def submit(self, execution_id: str) -> None:
        self._own(self._enqueue(execution_id), f"enqueue-{execution_id}")

    def is_running(self, execution_id: str) -> bool:
        return False  # nothing runs in an API instance

    def run_of(self, execution_id: str) -> ExecutionRun | None:
        return None

    def stop(self, execution_id: str, reason: StopReason) -> bool:
        self._own(self._request_stop(execution_id, reason), f"stop-{execution_id}")
        return True

    async def wait(self, execution_id: str) -> ExecutionStatus | None:
        """Until the database shows it ended (bounded: None if it has not by then)."""
        deadline = time.monotonic() + self._wait_bound_s
        while time.monotonic() < deadline:
            record = await self._engine.repository.get_execution(execution_id, with_report=False)
            if record is None:
                return None
            status = ExecutionStatus(record.status)
            if status.is_terminal:
                return status
            await asyncio.sleep(WAIT_POLL_S)
        return None

    async def resume_unfinished(self) -> list[str]:
        return []  # the workers' reconciler re-enqueues what the database shows unfinished

    async def shutdown(self, timeout_s: float = 10.0) -> None:
        if self._pending:
            await asyncio.wait(set(self._pending), timeout=timeout_s)

    def _own(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._pending.add(task)
        task.add_done_callback(self._reap)

    def _reap(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("queue operation crashed", exc_info=task.exception())

    async def _enqueue(self, execution_id: str) -> None:
        try:
            queued = await enqueue(self._queue, execution_id, heartbeat_s=self._heartbeat_s)
        except RedisError as exc:
            # The row is in the database as queued: the reconciler enqueues it once Redis is back.
            log.warning("enqueue failed execution_id=%s error=%s (the reconciler will retry)",
                        execution_id, type(exc).__name__)
            return
        log.info("execution enqueued execution_id=%s new=%s", execution_id, queued)

    async def _request_stop(self, execution_id: str, reason: StopReason) -> None:
        try:
            await self._stops.request(execution_id, reason)
        except RedisError as exc:
            log.warning("stop request failed execution_id=%s error=%s",
                        execution_id, type(exc).__name__)
