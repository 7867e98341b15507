"""The shared live cache: what one process's executions look like is visible to every other
process, coalesced, never resurrected after forget(), and gone once its worker died."""

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis

from diagnosis.cluster.live import RedisLiveMirror
from diagnosis.constants import ExecutionStatus, ResultStatus, Stage
from diagnosis.engine.cache import LiveExecution, MirroredLive
from diagnosis.persistence.records import ResultWrite
from tests.cluster.waiting import eventually

BOUND_S = 10  # the bound of every wait: a broken mirror fails the test instead of hanging it

MakeMirror = Callable[..., Awaitable[RedisLiveMirror]]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def result(task_key: str, status: ResultStatus = ResultStatus.ok) -> ResultWrite:
    return ResultWrite(task_key=task_key, status=status.value, error_kind=None, answer="a",
                       latency_ms=10, attempts=1, usage=None, analysis=None,
                       finished_at=datetime.now(UTC))


@pytest.fixture
async def make_mirror(redis_space) -> AsyncIterator[MakeMirror]:
    """A started mirror on a Redis client of its own: one per simulated process."""
    made: list[tuple[RedisLiveMirror, aioredis.Redis]] = []

    async def make(url: str | None = None, **options: float) -> RedisLiveMirror:
        client = aioredis.Redis.from_url(url or redis_space.url, socket_connect_timeout=1)
        mirror = RedisLiveMirror(redis=client, prefix=redis_space.prefix, **options)
        made.append((mirror, client))
        await mirror.start()
        return mirror

    yield make
    for mirror, client in made:
        await mirror.aclose()
        await client.aclose()


async def seen(mirror: RedisLiveMirror, execution_id: str,
               until: Callable[[MirroredLive | None], bool]) -> MirroredLive | None:
    """Poll `mirror.lookup` (bounded) until its answer satisfies `until`."""
    async with asyncio.timeout(BOUND_S):
        while True:
            copy = await mirror.lookup(execution_id)
            if until(copy):
                return copy
            await asyncio.sleep(0.01)


async def test_another_process_sees_status_progress_seqs_dirty_owner_and_view(
    make_mirror: MakeMirror,
):
    # given a running execution of process A, 3 of 10 tasks done, 2 of them flushed
    a, b = await make_mirror(), await make_mirror()
    live = LiveExecution(execution_id="e1", total=10)
    a.track(live, owner="alice")
    live.move(status=ExecutionStatus.running, stage=Stage.ai_fetching)
    live.record(result("t1"), "p")
    live.record(result("t2", ResultStatus.error), "p")
    live.flushed_seq = live.seq
    live.record(result("t3"), "p")

    # when A reports the change with the last flushed view
    a.changed(live, view={"execution_id": "e1", "progress": 20, "seq": live.flushed_seq})

    # then B reads the same state
    copy = await seen(b, "e1", lambda c: c is not None and c.seq == live.seq)
    assert copy == MirroredLive(
        execution_id="e1", status=ExecutionStatus.running, progress=30, seq=live.seq,
        flushed_seq=live.seq - 1, dirty=True, owner="alice",
        view={"execution_id": "e1", "progress": 20, "seq": live.seq - 1},
    )


async def test_an_execution_without_owner_or_view_reads_as_none_for_both(
    make_mirror: MakeMirror,
):
    a, b = await make_mirror(), await make_mirror()
    live = LiveExecution(execution_id="e1", total=0)
    a.track(live, owner=None)
    await a.sync(live)

    copy = await b.lookup("e1")

    assert copy is not None
    assert (copy.owner, copy.view, copy.progress, copy.dirty) == (None, None, 100, False)


async def test_a_thousand_changes_in_one_interval_make_at_most_two_writes(
    make_mirror: MakeMirror,
):
    # given process A tracking an execution, with a one-second coalescing interval
    a, b = await make_mirror(interval_s=1.0), await make_mirror()
    live = LiveExecution(execution_id="e1", total=1000)
    a.track(live, owner=None)

    # when a thousand tasks end within that interval, each reported at once
    for n in range(1000):
        live.record(result(f"t{n}"), "p")
        a.changed(live)
        await asyncio.sleep(0)  # let the writer run between changes, as the engine would

    # then B sees the last state, and A wrote the entry at most twice (leading + trailing)
    copy = await seen(b, "e1", lambda c: c is not None and c.seq == live.seq)
    assert copy is not None and copy.progress == 100
    assert 1 <= a.writes <= 2


async def test_sync_makes_the_change_visible_at_once(make_mirror: MakeMirror):
    # given a mirror whose writer will not write again for a minute
    a, b = await make_mirror(interval_s=60.0), await make_mirror()
    live = LiveExecution(execution_id="e1", total=10)
    a.track(live, owner=None)
    await seen(b, "e1", lambda c: c is not None)  # the leading-edge write of track()
    live.record(result("t1"), "p")
    a.changed(live)

    # when the engine syncs before its DB write
    await a.sync(live)

    # then B reads it without waiting for the interval
    copy = await b.lookup("e1")
    assert copy is not None and copy.seq == live.seq and copy.progress == 10
    assert a.writes == 2


async def test_forget_removes_the_copy_and_no_pending_write_brings_it_back(
    make_mirror: MakeMirror,
):
    # given an execution whose copy exists and which has a write pending
    a, b = await make_mirror(interval_s=0.05), await make_mirror()
    gone = LiveExecution(execution_id="gone", total=10)
    a.track(gone, owner=None)
    await a.sync(gone)
    assert await b.lookup("gone") is not None
    gone.record(result("t1"), "p")
    a.changed(gone)

    # when it is forgotten, with the write still pending
    a.forget("gone")
    a.changed(gone)  # a late report about it changes nothing either

    # then B misses it, and still does after the writer's next pass (another entry's write)
    assert await seen(b, "gone", lambda c: c is None) is None
    other = LiveExecution(execution_id="other", total=10)
    a.track(other, owner=None)
    await seen(b, "other", lambda c: c is not None)
    assert await b.lookup("gone") is None
    assert a.deletes == 1


async def test_forget_while_a_write_of_it_is_in_flight_still_ends_with_no_copy(
    make_mirror: MakeMirror,
):
    # given the writer in the middle of writing an execution's copy
    a, b = await make_mirror(interval_s=0.05), await make_mirror()
    live = LiveExecution(execution_id="e1", total=10)
    a.track(live, owner=None)
    for _ in range(10_000):  # bounded: the pass holds the lock while its pipeline is in flight
        if a._lock.locked():
            break
        await asyncio.sleep(0)
    in_flight = a._lock.locked()

    # when it is forgotten right then
    a.forget("e1")

    # then the delete lands after that write, never before it
    assert await seen(b, "e1", lambda c: c is None) is None
    other = LiveExecution(execution_id="other", total=10)
    a.track(other, owner=None)
    await seen(b, "other", lambda c: c is not None)
    assert await b.lookup("e1") is None
    assert in_flight and a.writes >= 2 and a.deletes == 1


async def test_a_dead_workers_copy_disappears_after_its_ttl(make_mirror: MakeMirror, redis_space):
    # given process A copying an execution with a one-second TTL
    a_client = aioredis.Redis.from_url(redis_space.url)
    a = RedisLiveMirror(redis=a_client, prefix=redis_space.prefix, ttl_s=1.0)
    await a.start()
    b = await make_mirror()
    live = LiveExecution(execution_id="e1", total=10)
    a.track(live, owner=None)
    await a.sync(live)
    assert await b.lookup("e1") is not None

    # when A dies without forgetting it (its writer cancelled, its connection gone)
    assert a._writer is not None
    a._writer.cancel()
    await asyncio.gather(a._writer, return_exceptions=True)
    await a_client.aclose()

    # then B's lookup becomes a miss once the TTL passed
    assert await seen(b, "e1", lambda c: c is None) is None


async def test_a_quiet_execution_stays_visible_beyond_its_ttl(make_mirror: MakeMirror):
    # given an execution whose calls are slow: no change after its first copy
    a, b = await make_mirror(ttl_s=0.6), await make_mirror()
    live = LiveExecution(execution_id="e1", total=10)
    a.track(live, owner=None)
    await a.sync(live)

    # when four keepalive rounds (4 x ttl/3, longer than the TTL) have passed
    await eventually(lambda: a.refreshes >= 4, bound_s=BOUND_S)

    # then the copy is still there, written only once
    assert await b.lookup("e1") is not None
    assert a.writes == 1


async def test_a_copy_redis_lost_is_written_again_by_the_keepalive(
    make_mirror: MakeMirror, redis_space
):
    # given a tracked execution whose key Redis lost (a restart without persistence)
    a, b = await make_mirror(ttl_s=0.6), await make_mirror()
    live = LiveExecution(execution_id="e1", total=10)
    a.track(live, owner=None)
    await a.sync(live)
    admin = aioredis.Redis.from_url(redis_space.url)
    await admin.delete(f"{redis_space.prefix}:live:e1")
    await admin.aclose()

    # when the next keepalive finds it missing, then it is back without any change
    copy = await seen(b, "e1", lambda c: c is not None)
    assert copy is not None and copy.seq == live.seq


async def test_with_redis_unreachable_lookup_misses_and_nothing_raises(make_mirror: MakeMirror):
    # given a mirror whose Redis does not answer
    mirror = await make_mirror(f"redis://127.0.0.1:{closed_port()}/0")
    live = LiveExecution(execution_id="e1", total=10)

    # when the engine uses it as usual
    mirror.track(live, owner=None)
    mirror.changed(live)
    await mirror.sync(live)
    copy = await mirror.lookup("e1")
    mirror.forget("e1")

    # then every call returned: a lookup is a miss, nothing was written
    assert copy is None
    assert mirror.writes == 0
    await asyncio.wait_for(mirror.aclose(), BOUND_S)
