"""The Redis event broker: a subscriber in any process gets what the in-process broker would give
it (seq order, merged batches for a slow reader, the final flag), through a real Redis."""

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import redis.asyncio as aioredis

from diagnosis.cluster.events import RedisBroker
from diagnosis.engine.broker import Batch, Subscription
from tests.cluster.waiting import eventually

BOUND_S = 10  # the bound of every wait: a broken broker fails the test instead of hanging it

MakeBroker = Callable[..., Awaitable[RedisBroker]]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def make_broker(redis_space) -> AsyncIterator[MakeBroker]:
    """A started broker on a Redis client of its own: one per simulated process."""
    made: list[tuple[RedisBroker, aioredis.Redis]] = []

    async def make(url: str | None = None, *, name: str | None = None) -> RedisBroker:
        client = aioredis.Redis.from_url(url or redis_space.url, client_name=name,
                                         socket_connect_timeout=1)
        broker = RedisBroker(redis=client, prefix=redis_space.prefix)
        made.append((broker, client))
        await broker.start()
        return broker

    yield make
    for broker, client in made:
        await broker.aclose()
        await client.aclose()


@pytest.fixture
async def admin(redis_space) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_space.url)
    yield client
    await client.aclose()


async def read_until_final(sub: Subscription) -> list[Batch]:
    batches: list[Batch] = []
    while not batches or not batches[-1].final:
        batch = await asyncio.wait_for(sub.next(), BOUND_S)
        assert batch is not None
        batches.append(batch)
    return batches


async def test_a_subscriber_in_another_process_gets_its_batches_in_seq_order_and_none_of_others(
    make_broker: MakeBroker,
):
    # given a publishing process and a subscribing process
    publisher, subscriber = await make_broker(), await make_broker()
    with subscriber.subscribe("X") as sub:
        # when the publisher flushes X and Y interleaved
        for seq in range(1, 6):
            publisher.publish("X", Batch(seq, {"progress": seq * 20}, [{"task_key": f"x{seq}"}],
                                         final=seq == 5))
            publisher.publish("Y", Batch(seq, {"progress": seq}, [{"task_key": f"y{seq}"}]))
        batches = await read_until_final(sub)

    # then X's subscriber saw X's batches, in seq order, every task once, ending final
    seqs = [b.seq for b in batches]
    assert seqs == sorted(set(seqs)) and seqs[-1] == 5
    assert [t["task_key"] for b in batches for t in b.tasks] == ["x1", "x2", "x3", "x4", "x5"]
    assert batches[-1].progress == {"progress": 100} and batches[-1].final
    assert [b.final for b in batches[:-1]] == [False] * (len(batches) - 1)
    assert not batches[-1].encoded  # each process encodes its own SSE bytes


async def test_two_thousand_local_subscribers_all_get_the_final_batch_from_one_message(
    make_broker: MakeBroker,
):
    # given 2000 SSE clients of X on one instance
    publisher, subscriber = await make_broker(), await make_broker()
    with contextlib.ExitStack() as stack:
        subs = [stack.enter_context(subscriber.subscribe("X")) for _ in range(2000)]
        assert subscriber.subscriber_count("X") == 2000

        # when the final batch is published elsewhere
        publisher.publish("X", Batch(7, {"progress": 100}, [{"task_key": "t"}], final=True))
        got = await asyncio.wait_for(asyncio.gather(*(s.next() for s in subs)), BOUND_S)

    # then each got it, from one Redis message decoded once and shared
    assert all(b is not None and b.final and b.seq == 7 for b in got)
    assert subscriber.received == 1
    assert len({id(b) for b in got}) == 1


async def test_a_slow_reader_gets_merged_batches_with_the_newest_progress_and_every_task(
    make_broker: MakeBroker,
):
    # given a subscriber that does not read while three batches arrive
    publisher, subscriber = await make_broker(), await make_broker()
    with subscriber.subscribe("X") as sub:
        publisher.publish("X", Batch(1, {"progress": 10}, [{"task_key": "a"}]))
        publisher.publish("X", Batch(2, {"progress": 50}, [{"task_key": "b"}]))
        publisher.publish("X", Batch(3, {"progress": 100}, [{"task_key": "c"}], final=True))
        await eventually(lambda: subscriber.received == 3, bound_s=BOUND_S)

        # when it reads at last
        batch = await sub.next(timeout=BOUND_S)

    # then one merged batch: the newest snapshot, every task, the final flag
    assert batch is not None
    assert (batch.seq, batch.progress, batch.final) == (3, {"progress": 100}, True)
    assert [t["task_key"] for t in batch.tasks] == ["a", "b", "c"]


async def test_a_subscriber_of_the_publishing_process_gets_each_batch_once(
    make_broker: MakeBroker,
):
    # given one process that both publishes and streams X
    broker = await make_broker()
    with broker.subscribe("X") as sub:
        # when it publishes two batches, reading the first before the second is sent
        broker.publish("X", Batch(1, {"progress": 50}, [{"task_key": "a"}]))
        first = await sub.next(timeout=BOUND_S)
        broker.publish("X", Batch(2, {"progress": 100}, [{"task_key": "b"}], final=True))
        rest = await read_until_final(sub)

    # then every task arrived exactly once (only through Redis, never also directly)
    assert first is not None and first.seq == 1
    assert [t["task_key"] for b in [first, *rest] for t in b.tasks] == ["a", "b"]
    assert broker.received == 2


async def test_an_unreadable_message_is_skipped_and_the_listener_goes_on(
    make_broker: MakeBroker, admin: aioredis.Redis, redis_space
):
    # given a subscriber of X
    publisher, subscriber = await make_broker(), await make_broker()
    with subscriber.subscribe("X") as sub:
        # when garbage arrives on X's channel, then a real batch
        await admin.publish(f"{redis_space.prefix}:events:X", "not json {")
        await admin.publish(f"{redis_space.prefix}:events:X", json.dumps({"seq": "x"}))
        publisher.publish("X", Batch(1, {"progress": 100}, [], final=True))
        batch = await sub.next(timeout=BOUND_S)

    # then the real batch is delivered
    assert batch is not None and batch.seq == 1 and batch.final
    assert subscriber.received == 1


async def test_batches_published_just_before_shutdown_are_still_sent(make_broker: MakeBroker):
    # given a subscriber elsewhere
    publisher, subscriber = await make_broker(), await make_broker()
    with subscriber.subscribe("X") as sub:
        # when the publisher shuts down right after publishing
        for seq in range(1, 51):
            publisher.publish("X", Batch(seq, {"progress": seq * 2}, [{"n": seq}],
                                         final=seq == 50))
        await asyncio.wait_for(publisher.aclose(), BOUND_S)
        batches = await read_until_final(sub)

    # then the outbox was drained first: every batch reached the subscriber
    assert publisher.published == 50 and publisher.dropped == 0
    assert [t["n"] for b in batches for t in b.tasks] == list(range(1, 51))


async def test_publish_returns_at_once_and_aclose_ends_when_redis_is_unreachable(
    make_broker: MakeBroker,
):
    # given a broker whose Redis does not answer (its listener keeps retrying)
    broker = await make_broker(f"redis://127.0.0.1:{closed_port()}/0")
    assert not broker.listening

    # when the engine publishes a hundred batches
    for seq in range(1, 101):
        broker.publish("X", Batch(seq, {"progress": seq}, [{"n": seq}], final=seq == 100))

    # then none raised, each is dropped (counted), and shutdown ends
    await eventually(lambda: broker.dropped == 100, bound_s=BOUND_S)
    assert broker.published == 0
    await asyncio.wait_for(broker.aclose(), BOUND_S)


async def test_the_listener_recovers_after_its_connection_is_killed(
    make_broker: MakeBroker, admin: aioredis.Redis, redis_space
):
    # given a subscriber process whose pub/sub connection is then killed by the server
    name = f"sub-{redis_space.prefix.rsplit(':', 1)[-1]}"
    publisher, subscriber = await make_broker(), await make_broker(name=name)
    assert subscriber.listening
    with subscriber.subscribe("X") as sub:
        # (only this test's connection: other suites may share this Redis)
        clients = await admin.client_list()
        ours = [c for c in clients if c.get("name") == name and int(c.get("psub", 0)) > 0]
        assert ours
        for client in ours:
            await admin.client_kill_filter(_id=client["id"])

        # when the publisher keeps flushing
        got: Batch | None = None
        seq = 0
        async with asyncio.timeout(BOUND_S):
            while got is None:
                seq += 1
                publisher.publish("X", Batch(seq, {"progress": seq}, [{"n": seq}]))
                got = await sub.next(timeout=0.1)

    # then new batches reach the subscriber again, on a new subscription
    assert got.seq >= 1 and subscriber.listening
