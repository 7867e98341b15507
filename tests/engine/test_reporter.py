"""Coalesced progress writes (SPEC 5) and the invariants every status read obeys (SPEC 3)."""

import asyncio
import dataclasses
import time

from diagnosis.constants import ExecutionStatus
from diagnosis.engine import metrics
from tests.engine.conftest import fake_platform, request
from tests.fake_openai import ok

STAGES_FOR = {
    "queued": {"init"},
    "running": {"init", "ai_fetching", "analyzing"},
}


def flushes() -> float:
    return metrics.FLUSHES._value.get()


async def watch_invariants(engine, execution_id: str, total: int, seen: list) -> None:
    """Reads the status route's data until terminal, checking SPEC 3's invariants on each."""
    last_progress, last_seq, terminal_seen = -1, -1, False
    while True:
        view = await engine.status(execution_id)
        seen.append(view)
        assert view.progress >= last_progress and view.seq >= last_seq
        last_progress, last_seq = view.progress, view.seq
        status = view.status.value
        if terminal_seen:
            assert view.status.is_terminal
        if view.status.is_terminal:
            terminal_seen = True
            assert view.stage == "done" and view.progress == 100
            _, durable = await engine.repository.page_results(execution_id, offset=0, limit=1)
            assert durable == total
            return
        assert view.stage in STAGES_FOR[status], (status, view.stage)
        await asyncio.sleep(0.005)


async def test_a_thousand_tasks_flush_far_below_one_write_per_five_tasks(make_engine, fake_openai):
    fake_openai.default("p", ok("1. 蔚来\n2. 理想"))
    interval = 0.1
    platform = fake_platform("p", fake_openai.base_url, max_concurrency=16)
    async with make_engine([platform], flush_interval_s=interval) as engine:
        questions = [f"问题{i}" for i in range(50)]
        before = flushes()
        began = time.monotonic()
        record = await engine.create(request(["p"], questions=questions, samples=20))
        assert record.total == 1000
        seen: list = []
        await asyncio.gather(
            watch_invariants(engine, record.execution_id, 1000, seen),
            engine.runner.wait(record.execution_id),
        )
        duration = time.monotonic() - began
        writes = flushes() - before
        row = await engine.repository.get_execution(record.execution_id)
        rows = await engine.repository.all_results(record.execution_id)
    assert row.status == ExecutionStatus.completed and row.completed == 1000
    # exactly one row per task, each ended once (on both databases: tests.databases)
    assert len(rows) == len({r.task_key for r in rows}) == 1000
    assert {r.status for r in rows} == {"ok"}
    stage_changes = 3  # running/ai_fetching, analyzing, done
    assert writes <= duration / interval + stage_changes + 2, (writes, duration)
    assert writes < 1000 / 5
    assert len(seen) > 3  # the poller really watched the run


async def test_no_change_waits_longer_than_the_flush_interval(make_engine, fake_openai):
    # A slow 5th call must not hold back the durable progress of the first four.
    fake_openai.script("p", ok(), ok(), ok(), ok(), ok(latency_s=2.0))
    platform = fake_platform("p", fake_openai.base_url, max_concurrency=5)
    async with make_engine([platform], flush_interval_s=0.05) as engine:
        record = await engine.create(request(["p"], questions=[f"q{i}" for i in range(5)]))
        deadline = time.monotonic() + 1.5
        while True:
            row = await engine.repository.get_execution(record.execution_id)
            if row.completed == 4 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.01)
        assert row.completed == 4 and row.status == "running"
        await engine.runner.wait(record.execution_id)


async def test_status_read_compares_db_and_cache(make_engine, fake_openai):
    fake_openai.default("p", ok(latency_s=0.3))
    async with make_engine(
        [fake_platform("p", fake_openai.base_url)], flush_interval_s=0.05
    ) as engine:
        record = await engine.create(request(["p"], questions=["q1", "q2"]))
        await fake_openai.async_wait_for_calls(2)
        # while running, the cache and the DB agree
        view = await engine.status(record.execution_id)
        assert view.cache_sync_status == "synced" and view.source == "database"
        # when the DB cannot be read, the cache answers and says so
        real = engine.repository.get_execution

        async def broken(*args, **kwargs):
            raise OSError("db down")

        engine.repository.get_execution = broken
        view = await engine.status(record.execution_id)
        assert view.cache_sync_status == "unknown" and view.source == "cache"
        engine.repository.get_execution = real

        # when the DB is ahead of the cache by more than the tolerance, it is out_of_sync
        async def db_ahead(*args, **kwargs):
            row = await real(*args, **kwargs)
            return dataclasses.replace(row, seq=row.seq + 100, progress=90)

        engine.repository.get_execution = db_ahead
        before = metrics.OUT_OF_SYNC._value.get()
        view = await engine.status(record.execution_id)
        engine.repository.get_execution = real
        assert view.cache_sync_status == "out_of_sync"
        assert metrics.OUT_OF_SYNC._value.get() == before + 1
        await engine.runner.wait(record.execution_id)
        # after the end, the execution has left the cache
        view = await engine.status(record.execution_id)
        assert view.cache_sync_status == "cache_miss" and len(engine.cache) == 0


async def test_db_down_and_no_cache_entry_is_unavailable(make_engine, fake_openai):
    import pytest

    from diagnosis.engine.errors import Unavailable

    async with make_engine([fake_platform("p", fake_openai.base_url)]) as engine:

        async def broken(*args, **kwargs):
            raise OSError("db down")

        engine.repository.get_execution = broken
        with pytest.raises(Unavailable):
            await engine.status("nope")
