"""The queue's sweep on the real Redis: a job a worker is taking right now (dequeued, not yet
marked active) stays with it; a job whose taker died in that window is handed on."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis import asyncio as aioredis
from saq import Job, Status
from saq.queue.redis import RedisQueue

from diagnosis.cluster.queue import execution_job, make_queue
from tests.redis_service import RedisSpace


@pytest.fixture
async def queue(redis_space: RedisSpace) -> AsyncIterator[RedisQueue]:
    redis = aioredis.Redis.from_url(redis_space.url)
    yield make_queue(redis, prefix=redis_space.prefix)
    await redis.aclose()


async def _sweep_until_swept(queue: RedisQueue, bound_s: float = 15.0) -> tuple[int, list[str]]:
    """Sweep (a 1 s lock, as a worker sweeping every second) until one sweeps something; a
    dead taker never acknowledges the abort, so its wait is short here (SAQ's is 5 s)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + bound_s
    quiet = 0
    while loop.time() < deadline:
        swept = await queue.sweep(lock=1, abort=0.2)
        if swept:
            return quiet, swept
        quiet += 1
        await asyncio.sleep(0.1)
    raise AssertionError("nothing was swept")


async def _mark_taken(job: Job, worker_id: str) -> None:
    """What a SAQ worker does right after its dequeue."""
    job.attempts += 1
    job.worker_id = worker_id
    await job.update(status=Status.ACTIVE)


async def test_a_job_being_taken_is_not_swept_from_its_taker(queue: RedisQueue) -> None:
    await queue.enqueue(execution_job("e1", heartbeat_s=10))
    # a worker has moved it to the active list and has not yet marked it active
    taken = await queue.dequeue(timeout=1)
    assert taken is not None and taken.status == Status.QUEUED
    # another worker's sweep runs in between: SAQ's own would abort and retry it here
    assert await queue.sweep(lock=1) == []
    await _mark_taken(taken, "w1")
    await taken.refresh()
    assert taken.status == Status.ACTIVE and taken.attempts == 1 and taken.error is None
    # still in the active list, so a later sweep reads it again and leaves a live job alone
    assert await queue.dequeue(timeout=0.2) is None


async def test_a_job_whose_taker_died_before_marking_it_is_handed_on(queue: RedisQueue) -> None:
    await queue.enqueue(execution_job("e2", heartbeat_s=1))
    taken = await queue.dequeue(timeout=1)
    assert taken is not None
    # the taker dies here: the job stays "queued" in the active list; one heartbeat later a
    # sweep hands it on, and the next worker takes it
    quiet, swept = await _sweep_until_swept(queue)
    assert quiet >= 1  # not on first sight
    assert swept == [taken.id]
    again = await queue.dequeue(timeout=5)
    assert again is not None and again.key == "e2" and again.status == Status.QUEUED
    # ...and that next taker, caught in the same window by the very next sweep, keeps it: the
    # sighting that swept it from the dead one is not held against it
    await queue.redis.delete(queue._sweep)  # the 1 s sweep lock, so that this sweep runs
    assert await queue.sweep(lock=1, abort=0.2) == []
