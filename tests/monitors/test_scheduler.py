"""The scheduler on a real SQLite file with an injected clock, driven tick by tick: missed slots
coalesce into one catch-up run, a restart (even between creating a run and advancing the
schedule) never runs a slot twice, and two schedulers on one database never do either."""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from diagnosis.engine.service import Engine
from diagnosis.monitors.runtime import MonitorRuntime
from diagnosis.persistence.db import Database, migrate
from diagnosis.persistence.repository import Repository
from diagnosis.providers.registry import PlatformRegistry, load_platforms
from diagnosis.settings import Settings

INTERVAL_S = 60
DIAGNOSIS = {"brand": "蔚来", "aliases": [], "competitors": [{"name": "理想", "aliases": []}],
             "questions": ["新能源汽车品牌推荐"], "platforms": ["demo"], "samples": 1,
             "deadline_s": None, "owner": None}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 8, 0, 30, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def scheduler_factory(make_settings: Callable[..., Settings]) -> Callable[..., Any]:
    """`async with scheduler_factory(clock) as runtime:` one process's engine and monitors on
    the test's database, the scheduler NOT looping (the test calls tick())."""

    @asynccontextmanager
    async def factory(clock: Clock) -> AsyncIterator[MonitorRuntime]:
        settings = make_settings(monitor_min_interval_s=1)
        await migrate(settings.database_url)
        database = Database.open(settings.database_url)
        engine = Engine(settings, Repository(database),
                        PlatformRegistry(load_platforms(settings.platforms_file)))
        runtime = MonitorRuntime(engine, database, clock=clock)
        await runtime.start(schedule=False)
        try:
            yield runtime
        finally:
            await runtime.aclose()
            await engine.aclose(timeout_s=5)
            await database.dispose()

    return factory


async def _monitor(runtime: MonitorRuntime) -> str:
    record = await runtime.service.create(
        owner=None, name="m", diagnosis=DIAGNOSIS, schedule={"interval_s": INTERVAL_S},
        alerts=[], webhook=None, paused=False)
    return record.monitor_id


async def _slots(runtime: MonitorRuntime, monitor_id: str) -> list[datetime]:
    runs, total = await runtime.service.repository.runs(monitor_id, offset=0, limit=100)
    assert total == len(runs)
    return [r.scheduled_for for r in runs if r.scheduled_for is not None]


async def test_missed_slots_coalesce_into_one_catch_up_run_for_the_latest(scheduler_factory):
    clock = Clock()
    async with scheduler_factory(clock) as runtime:
        # given a monitor every minute whose first slot has come
        mid = await _monitor(runtime)
        first = (await runtime.service.get(mid, None)).next_run_at
        assert first is not None
        clock.now = first
        assert len((await runtime.scheduler.tick()).started) == 1
        # when the service was down for five more slots
        clock.now = first + timedelta(seconds=5 * INTERVAL_S + 7)
        result = await runtime.scheduler.tick()
        # then one run fills the latest missed slot, and the next one is in the future
        assert len(result.started) == 1
        assert await _slots(runtime, mid) == [first + timedelta(seconds=5 * INTERVAL_S), first]
        monitor = await runtime.service.get(mid, None)
        assert monitor.next_run_at == first + timedelta(seconds=6 * INTERVAL_S)
        # and a tick before that slot does nothing
        assert (await runtime.scheduler.tick()).started == []


async def test_a_restart_keeps_the_schedule_and_never_runs_a_slot_twice(scheduler_factory):
    clock = Clock()
    async with scheduler_factory(clock) as before:
        mid = await _monitor(before)
        slot = (await before.service.get(mid, None)).next_run_at
        assert slot is not None
        clock.now = slot + timedelta(seconds=1)
        assert len((await before.scheduler.tick()).started) == 1

    # given a new process on the same database, at the same instant
    async with scheduler_factory(clock) as after:
        # then the persisted next_run_at keeps it from running the slot again
        assert (await after.scheduler.tick()).started == []
        assert await _slots(after, mid) == [slot]

        # given a crash between creating the next slot's run and advancing the schedule
        clock.now = slot + timedelta(seconds=INTERVAL_S)
        original = after.service.repository.advance

        async def crash(*_args: Any, **_kwargs: Any) -> None:
            raise RuntimeError("killed before advancing")

        after.service.repository.advance = crash  # type: ignore[method-assign]
        with pytest.raises(RuntimeError):
            await after.scheduler.tick()
        after.service.repository.advance = original  # type: ignore[method-assign]

    async with scheduler_factory(clock) as restarted:
        # when the restarted process ticks: the slot is still due, but already taken
        result = await restarted.scheduler.tick()
        assert result.started == [] and result.taken == 1
        assert await _slots(restarted, mid) == [slot + timedelta(seconds=INTERVAL_S), slot]
        assert (await restarted.service.get(mid, None)).next_run_at == slot + timedelta(
            seconds=2 * INTERVAL_S)


async def test_two_schedulers_on_one_database_never_run_a_slot_twice(scheduler_factory):
    clock = Clock()
    async with scheduler_factory(clock) as one, scheduler_factory(clock) as two:
        mids = [await _monitor(one) for _ in range(3)]
        first = (await one.service.get(mids[0], None)).next_run_at
        assert first is not None
        for step in range(4):
            # when both tick at once, slot after slot
            clock.now = first + timedelta(seconds=step * INTERVAL_S)
            results = await asyncio.gather(one.scheduler.tick(), two.scheduler.tick())
            # then every due monitor got exactly one run between them
            assert sum(len(r.started) for r in results) == len(mids)
        for mid in mids:
            slots = await _slots(one, mid)
            assert len(slots) == 4 and len(set(slots)) == 4


async def test_an_alert_left_pending_by_a_stop_is_delivered_at_the_next_start(
    scheduler_factory, webhook_receiver,
):
    from diagnosis.persistence.monitor_repository import AlertWrite

    clock = Clock()
    # given an alert stored as pending (the server stopped before delivering it)
    async with scheduler_factory(clock) as before:
        record = await before.service.create(
            owner=None, name="m", diagnosis=DIAGNOSIS, schedule={"interval_s": INTERVAL_S},
            alerts=[], webhook={"url": f"{webhook_receiver.base_url}/hook", "kind": "generic",
                                "secret": "k"}, paused=False)
        stored = await before.service.repository.record_evaluation(record.monitor_id, "e1", [
            AlertWrite(alert_id="alr_1", execution_id="e1", rule={"kind": "run_failed"},
                       message="run e1 ended failed", status="pending", fired_at=clock(),
                       details={})])
        assert stored
    # when the next process starts (MonitorRuntime.start resumes pending deliveries)
    async with scheduler_factory(clock) as after:
        await after.dispatcher.drain()
        [alert], _ = await after.service.repository.alerts(record.monitor_id, offset=0, limit=10)
    # then it was delivered, once
    assert alert.status == "delivered" and len(alert.deliveries) == 1
    assert len(webhook_receiver.received()) == 1
