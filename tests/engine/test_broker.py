"""The broker's subscriptions: a slow reader gets merged batches and never loses the end."""

from diagnosis.engine.broker import Batch, EventBroker


async def test_a_slow_subscriber_gets_the_newest_progress_every_task_and_the_final_flag():
    broker = EventBroker()
    with broker.subscribe("e") as sub:
        broker.publish("e", Batch(1, {"progress": 10}, [{"task_key": "a"}]))
        broker.publish("e", Batch(2, {"progress": 50}, [{"task_key": "b"}]))
        broker.publish("e", Batch(3, {"progress": 100}, [{"task_key": "c"}], final=True))
        batch = await sub.next(timeout=1)
        assert batch is not None
        assert batch.seq == 3 and batch.progress == {"progress": 100} and batch.final
        assert [t["task_key"] for t in batch.tasks] == ["a", "b", "c"]
        assert await sub.next(timeout=0.01) is None


async def test_leaving_a_subscription_leaves_nothing_behind():
    broker = EventBroker()
    with broker.subscribe("e"), broker.subscribe("e"):
        assert broker.subscriber_count("e") == 2
    assert broker.subscriber_count() == 0 and broker._subscribers == {}
