"""Cross-worker limits on the real Redis: each "worker" is its own client and its own gates, as two
processes would be; the dead worker is a real process, killed."""

import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis

from diagnosis.api.auth import RateLimited as ApiRateLimited
from diagnosis.api.auth import StartLimiter
from diagnosis.cluster.limits import RedisPlatformGates, RedisStartRateLimiter
from diagnosis.engine.errors import RateLimited
from diagnosis.engine.gates import GateFactory, PlatformGate
from tests.redis_service import RedisSpace

BOUND_S = 10.0  # generous: how long a thing that must happen may take on a loaded machine
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


@dataclass
class Worker:
    client: aioredis.Redis
    gates: RedisPlatformGates


MakeWorker = Callable[..., Awaitable[Worker]]


@pytest.fixture
async def make_worker(redis_space: RedisSpace) -> AsyncIterator[MakeWorker]:
    """Factory of workers on the test's prefix; every one is closed at the end."""
    workers: list[Worker] = []

    async def make(*, lease_ttl_s: float = 5.0, url: str | None = None) -> Worker:
        client = aioredis.Redis.from_url(url or redis_space.url)
        gates = RedisPlatformGates(
            redis=client,
            prefix=redis_space.prefix,
            lease_ttl_s=lease_ttl_s,
            storage_uri=url or redis_space.url,
        )
        await gates.start()
        workers.append(Worker(client, gates))
        return workers[-1]

    yield make
    for worker in workers:
        await worker.gates.aclose()
        await worker.client.aclose()


async def slot_keys(redis_space: RedisSpace) -> list[bytes]:
    client = aioredis.Redis.from_url(redis_space.url)
    try:
        return [key async for key in client.scan_iter(match=f"{redis_space.prefix}:slot:*")]
    finally:
        await client.aclose()


async def until_no_slot_is_taken(redis_space: RedisSpace) -> None:
    """Polls (bounded): a cancelled waiter's lease may still be on its way back."""
    for _ in range(int(BOUND_S / 0.01)):
        if not await slot_keys(redis_space):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("a slot stayed taken")


async def first_done(tasks: set[asyncio.Task[None]], count: int) -> set[asyncio.Task[None]]:
    """The first `count` of `tasks` to finish (within BOUND_S)."""
    done: set[asyncio.Task[None]] = set()
    pending = set(tasks)
    async with asyncio.timeout(BOUND_S):
        while len(done) < count:
            finished, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            done |= finished
    return done


async def cancel_all(tasks: set[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


# -- slots --------------------------------------------------------------------------------------


async def test_the_factory_is_a_gate_factory_and_keeps_one_gate_per_platform(
    make_worker: MakeWorker,
) -> None:
    worker = await make_worker()
    factory: GateFactory = worker.gates

    assert factory("p", 4, None) is factory("p", 4, None)
    assert factory("p", 4, None) is not factory("q", 4, None)


async def test_two_workers_together_never_hold_more_than_max_concurrency_slots(
    make_worker: MakeWorker, redis_space: RedisSpace
) -> None:
    # given two workers sharing a platform with max_concurrency=4, and 24 would-be holders
    gates = [(await make_worker()).gates("p", 4, None), (await make_worker()).gates("p", 4, None)]
    held = peak = finished = 0
    four_in, let_go = asyncio.Event(), asyncio.Event()

    async def hold(gate: PlatformGate) -> None:
        nonlocal held, peak, finished
        async with gate.slot():
            held += 1
            peak = max(peak, held)
            if held == 4:
                four_in.set()
            await let_go.wait()
            await asyncio.sleep(0.002)  # a short call: the next holders overlap and compete
            held -= 1
        finished += 1

    # when they all try at once
    holders = {asyncio.create_task(hold(gates[i % 2])) for i in range(24)}
    await asyncio.wait_for(four_in.wait(), BOUND_S)

    # then exactly 4 are in, one Redis lease each, while the 20 others wait
    assert held == 4
    assert len(await slot_keys(redis_space)) == 4
    assert sum(task.done() for task in holders) == 0

    # and when the holders let go, all 24 finish, never more than 4 at once, leaving no lease
    let_go.set()
    await asyncio.wait_for(asyncio.gather(*holders), BOUND_S)
    assert (finished, peak) == (24, 4)
    assert await slot_keys(redis_space) == []


DEAD_WORKER = """
import asyncio, sys
from contextlib import AsyncExitStack
import redis.asyncio as aioredis
from diagnosis.cluster.limits import RedisPlatformGates

async def main(url: str, prefix: str, ttl: float) -> None:
    client = aioredis.Redis.from_url(url)
    gates = RedisPlatformGates(redis=client, prefix=prefix, lease_ttl_s=ttl, storage_uri=url)
    await gates.start()
    gate = gates("p", 4, None)
    async with AsyncExitStack() as stack:
        for _ in range(4):
            await stack.enter_async_context(gate.slot())
        print("holding", flush=True)
        await asyncio.Event().wait()  # until killed

asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
"""


async def test_a_dead_workers_slots_return_once_their_leases_expire_and_not_before(
    make_worker: MakeWorker, redis_space: RedisSpace
) -> None:
    # given worker A (a real process) holding all 4 slots with 1 s leases, and B waiting for one
    lease_ttl_s = 1.0
    a = await asyncio.create_subprocess_exec(
        sys.executable, "-c", DEAD_WORKER, redis_space.url, redis_space.prefix, str(lease_ttl_s),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert a.stdout is not None
        assert await asyncio.wait_for(a.stdout.readline(), BOUND_S) == b"holding\n"
        gate_b = (await make_worker(lease_ttl_s=lease_ttl_s)).gates("p", 4, None)
        got_one = asyncio.Event()

        async def take_one() -> None:
            async with gate_b.slot():
                got_one.set()
                await asyncio.Event().wait()

        b = asyncio.create_task(take_one())

        # when A stays alive for 2.5 leases: then its renewer keeps every slot, B gets none
        _, _ = await asyncio.wait({b}, timeout=2.5 * lease_ttl_s)
        assert not got_one.is_set()
        assert a.returncode is None
        assert len(await slot_keys(redis_space)) == 4

        # when A dies without releasing: then B gets a slot once A's leases expire
        a.kill()
        await a.wait()
        await asyncio.wait_for(got_one.wait(), BOUND_S)
        await cancel_all({b})
    finally:
        if a.returncode is None:
            a.kill()
            await a.wait()


async def test_a_release_after_the_lease_expired_logs_and_does_not_raise(
    make_worker: MakeWorker, redis_space: RedisSpace, caplog: pytest.LogCaptureFixture
) -> None:
    # given a held slot whose lease is gone from Redis (as after an expiry)
    gate = (await make_worker()).gates("p", 2, None)
    with caplog.at_level(logging.WARNING, logger="diagnosis.cluster.limits"):
        async with gate.slot():
            client = aioredis.Redis.from_url(redis_space.url)
            await client.delete(*await slot_keys(redis_space))
            await client.aclose()
        # when the holder exits: then nothing is raised, and the expiry is told at warning
    assert any("expired before its release" in r.getMessage() for r in caplog.records)


async def test_cancelled_waiters_leave_no_slot_taken(
    make_worker: MakeWorker, redis_space: RedisSpace
) -> None:
    # given worker A holding both slots of a platform and 10 waiters on worker B (long leases:
    # only a release frees a slot within this test)
    gate_a = (await make_worker(lease_ttl_s=60.0)).gates("p", 2, None)
    gate_b = (await make_worker(lease_ttl_s=60.0)).gates("p", 2, None)
    async with AsyncExitStack() as stack:
        for _ in range(2):
            await stack.enter_async_context(gate_a.slot())

        async def wait_for_one() -> None:
            async with gate_b.slot():
                await asyncio.Event().wait()

        waiters = {asyncio.create_task(wait_for_one()) for _ in range(10)}
        done, _ = await asyncio.wait(waiters, timeout=0.1)
        assert done == set()
    # when A lets go and every waiter is cancelled at once (some mid-sweep, some just in)
    await cancel_all(waiters)

    # then no slot stays taken, and a fresh worker takes both
    await until_no_slot_is_taken(redis_space)
    gate_c = (await make_worker()).gates("p", 2, None)
    async with AsyncExitStack() as stack:
        for _ in range(2):
            await asyncio.wait_for(stack.enter_async_context(gate_c.slot()), BOUND_S)
        assert len(await slot_keys(redis_space)) == 2


async def test_a_waiter_cancelled_while_its_try_is_in_flight_gives_the_slot_back(
    make_worker: MakeWorker, redis_space: RedisSpace
) -> None:
    # given a free platform, and leases long enough that only a release frees them in this test
    gate = (await make_worker(lease_ttl_s=60.0)).gates("p", 1, None)

    async def take_one() -> None:
        async with gate.slot():
            await asyncio.Event().wait()

    # when a waiter is cancelled as soon as it started its try (whose SET still lands)
    waiter = asyncio.create_task(take_one())
    await asyncio.sleep(0)
    await cancel_all({waiter})

    # then the slot it won after all is given back
    await until_no_slot_is_taken(redis_space)


async def test_a_slot_waits_through_a_redis_outage_instead_of_failing_the_call(
    make_worker: MakeWorker, caplog: pytest.LogCaptureFixture
) -> None:
    # given a worker whose Redis refuses connections
    gate = (await make_worker(url=UNREACHABLE_REDIS)).gates("p", 2, None)

    async def take_one() -> None:
        async with gate.slot():
            pass

    # when a call asks for a slot: then it keeps waiting (the caller's deadline ends it), no raise
    with caplog.at_level(logging.WARNING, logger="diagnosis.cluster.limits"):
        waiter = asyncio.create_task(take_one())
        done, _ = await asyncio.wait({waiter}, timeout=0.3)
        assert done == set()
        await cancel_all({waiter})
    assert any("unavailable" in r.getMessage() for r in caplog.records)


async def test_aclose_gives_back_the_slots_still_held(
    make_worker: MakeWorker, redis_space: RedisSpace
) -> None:
    # given a worker holding a slot when it shuts down
    worker = await make_worker()
    gate = worker.gates("p", 2, None)
    holding, never = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with gate.slot():
            holding.set()
            await never.wait()

    holder = asyncio.create_task(hold())
    await asyncio.wait_for(holding.wait(), BOUND_S)

    # when it closes its gates: then the lease is back at once, and the holder's exit is quiet
    await worker.gates.aclose()
    assert await slot_keys(redis_space) == []
    await cancel_all({holder})


# -- rpm ----------------------------------------------------------------------------------------


async def test_two_workers_share_a_platforms_rpm_window(make_worker: MakeWorker) -> None:
    # given two workers on one platform with rpm=3
    gates = [(await make_worker()).gates("p", 8, 3), (await make_worker()).gates("p", 8, 3)]

    # when 4 calls ask to go, 2 on each worker
    calls = {asyncio.create_task(gates[i % 2].pace()) for i in range(4)}

    # then exactly 3 pass and the 4th is still waiting for the window
    passed = await first_done(calls, 3)
    fourth = calls - passed
    done, _ = await asyncio.wait(fourth, timeout=0.2)
    assert (len(passed), len(fourth), done) == (3, 1, set())
    await cancel_all(fourth)


async def test_a_platform_without_rpm_is_never_paced(make_worker: MakeWorker) -> None:
    worker = await make_worker()
    for rpm in (None, 0):
        gate = worker.gates(f"p{rpm}", 8, rpm)
        await asyncio.wait_for(asyncio.gather(*(gate.pace() for _ in range(100))), BOUND_S)


# -- the start rate -----------------------------------------------------------------------------


async def test_the_start_rate_is_shared_by_every_api_instance(redis_space: RedisSpace) -> None:
    # given two API instances limiting starts to 3 a minute
    one = RedisStartRateLimiter(redis_space.url, per_minute=3, prefix=redis_space.prefix)
    two = RedisStartRateLimiter(redis_space.url, per_minute=3, prefix=redis_space.prefix)
    routes_entry: StartLimiter = two  # what the start routes call
    try:
        # when one owner starts 3 times across both: then all pass
        await one.check("alice")
        await routes_entry.hit("alice")
        await one.check("alice")

        # and the 4th, on either, is refused with a Retry-After of at most the window
        with pytest.raises(RateLimited) as refused:
            await two.check("alice")
        assert refused.value.detail == "too many diagnoses started: at most 3 per minute"
        assert 1 <= refused.value.extra["retry_after"] <= 60
        assert isinstance(refused.value, ApiRateLimited)  # the API's old name still catches it

        # and another owner is unaffected
        await one.check("bob")
    finally:
        await one.aclose()
        await two.aclose()


async def test_a_start_rate_of_zero_never_limits(redis_space: RedisSpace) -> None:
    limiter = RedisStartRateLimiter(redis_space.url, per_minute=0, prefix=redis_space.prefix)
    try:
        for _ in range(50):
            await limiter.check("alice")
    finally:
        await limiter.aclose()


async def test_the_start_rate_fails_open_when_redis_is_down(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limiter = RedisStartRateLimiter(UNREACHABLE_REDIS, per_minute=1, prefix="unused")
    try:
        with caplog.at_level(logging.WARNING, logger="diagnosis.cluster.limits"):
            for _ in range(3):
                await limiter.check("alice")
    finally:
        await limiter.aclose()
    assert sum("start allowed" in r.getMessage() for r in caplog.records) == 3
