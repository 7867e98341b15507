"""The queue runner and the workers (issue 16, items 2-4), on the real Redis and PostgreSQL: the
API only enqueues (job key = execution id), a worker runs it with today's engine, SIGTERM hands
it back at once, a cancel from the API reaches the worker, and the reconciler re-enqueues what
Redis lost."""

import asyncio

import pytest
from saq import Status

from diagnosis.cluster.queue import enqueue
from diagnosis.constants import ExecutionStatus
from tests.cluster.conftest import NodeFactory
from tests.databases import postgresql_only
from tests.engine.conftest import fake_platform, request
from tests.fake_openai import FakeOpenAI, ok

pytestmark = [postgresql_only, pytest.mark.usefixtures("dump_stuck_tasks")]

QUESTIONS = [f"问题{i}：哪个品牌最好？" for i in range(12)]


async def wait_status(engine: object, execution_id: str, *wanted: ExecutionStatus,
                      bound_s: float = 30.0) -> ExecutionStatus:
    """Poll the database (the authority) until the execution reaches one of `wanted`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + bound_s
    while True:
        record = await engine.repository.get_execution(execution_id)  # type: ignore[attr-defined]
        status = ExecutionStatus(record.status)
        if status in wanted:
            return status
        if loop.time() > deadline:
            raise AssertionError(f"{execution_id} still {status.value}, wanted {wanted}")
        await asyncio.sleep(0.02)


async def test_api_only_enqueues_and_a_worker_runs_it(
    make_node: NodeFactory, fake_openai: FakeOpenAI
) -> None:
    fake_openai.default(None, ok(latency_s=0.01))
    platform = fake_platform("fake", fake_openai.base_url)
    async with make_node("api", [platform]) as api:
        record = await api.engine.create(request(["fake"], questions=QUESTIONS))
        eid = str(record.execution_id)
        # the API instance runs nothing: no call is made while no worker is up
        await asyncio.sleep(0)  # let the enqueue task run
        job = await _wait_job(api, eid)
        assert job.status == Status.QUEUED and api.engine.runner.is_running(eid) is False
        assert fake_openai.calls == []
        async with make_node("worker", [platform]) as worker:
            assert await wait_status(api.engine, eid, ExecutionStatus.completed)
            assert worker.worker is not None and worker.worker.taken == [eid]
        assert len(fake_openai.calls_for("fake")) == len(QUESTIONS)
        # the live cache was visible to the API while it ran, and is gone now
        view = await api.engine.status(eid)
        assert view.cache_sync_status == "cache_miss" and view.status is ExecutionStatus.completed


async def test_the_status_route_compares_the_db_with_the_workers_live_cache(
    make_node: NodeFactory, fake_openai: FakeOpenAI
) -> None:
    fake_openai.default(None, ok(latency_s=0.2))
    platform = fake_platform("fake", fake_openai.base_url, max_concurrency=2)
    async with make_node("api", [platform]) as api, make_node("worker", [platform]):
        record = await api.engine.create(request(["fake"], questions=QUESTIONS))
        eid = str(record.execution_id)
        await _wait_durable(api, eid, at_least=2)
        # while a worker runs it, the API instance sees the worker's live cache (SPEC 5, 11)
        view = await api.engine.status(eid)
        assert view.status is ExecutionStatus.running
        assert view.cache_sync_status == "synced" and view.cache_progress is not None
        assert view.cache_progress >= view.progress
        mirrored = await api.engine.mirror.lookup(eid)
        assert mirrored is not None and mirrored.seq >= view.seq
        assert await wait_status(api.engine, eid, ExecutionStatus.completed)
        # once it ended, the worker drops its copy: a cache miss, as in one process
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while (view := await api.engine.status(eid)).cache_sync_status != "cache_miss":
            assert view.cache_sync_status == "synced"  # never out_of_sync on the way
            assert loop.time() < deadline, "the live copy outlived its execution"
            await asyncio.sleep(0.02)


async def test_job_key_is_the_execution_id_so_enqueue_is_idempotent(
    make_node: NodeFactory,
) -> None:
    async with make_node("api") as api:
        record = await api.engine.create(request(["demo"]))
        eid = str(record.execution_id)
        await _wait_job(api, eid)
        assert await enqueue(api.cluster.queue, eid, heartbeat_s=2) is False
        assert await enqueue(api.cluster.queue, eid, heartbeat_s=2) is False


async def test_sigterm_hands_the_execution_back_and_another_worker_resumes_it(
    make_node: NodeFactory, fake_openai: FakeOpenAI
) -> None:
    fake_openai.default(None, ok(latency_s=0.2))
    platform = fake_platform("fake", fake_openai.base_url, max_concurrency=2)
    async with make_node("api", [platform]) as api:
        record = await api.engine.create(request(["fake"], questions=QUESTIONS))
        eid = str(record.execution_id)
        async with make_node("worker", [platform]) as first:
            await _wait_durable(api, eid, at_least=3)
            assert first.worker is not None
            first.worker.request_stop()  # as SIGTERM does
            assert first.task is not None
            await asyncio.wait_for(first.task, 30)
        # handed back at once: queued again, the database still shows it resumable
        job = await _wait_job(api, eid, status=Status.QUEUED)
        assert job.attempts == 1
        durable = await _durable_prompts(api, eid)
        assert len(durable) >= 3
        assert ExecutionStatus((await api.engine.repository.get_execution(eid)).status) in (
            ExecutionStatus.running, ExecutionStatus.queued)
        async with make_node("worker", [platform]):
            assert await wait_status(api.engine, eid, ExecutionStatus.completed)
        calls = fake_openai.calls_for("fake")
        for prompt in durable:  # a durable result is never asked again
            assert sum(1 for c in calls if c.prompt == prompt) == 1
        rows = await api.engine.repository.all_results(eid)
        assert len(rows) == len(QUESTIONS) and all(r.status == "ok" for r in rows)


async def test_cancel_from_the_api_reaches_the_worker_running_it(
    make_node: NodeFactory, fake_openai: FakeOpenAI
) -> None:
    fake_openai.default(None, ok(latency_s=0.3))
    platform = fake_platform("fake", fake_openai.base_url, max_concurrency=1)
    async with make_node("api", [platform]) as api, make_node("worker", [platform]):
        record = await api.engine.create(request(["fake"], questions=QUESTIONS))
        eid = str(record.execution_id)
        await wait_status(api.engine, eid, ExecutionStatus.running)
        view = await api.engine.cancel(eid)
        assert view.status is ExecutionStatus.cancelled
        assert len(fake_openai.calls_for("fake")) < len(QUESTIONS)


async def test_a_cancel_sent_before_any_worker_is_up_ends_it_when_one_takes_it(
    make_node: NodeFactory, fake_openai: FakeOpenAI
) -> None:
    platform = fake_platform("fake", fake_openai.base_url)
    async with make_node("api", [platform]) as api:
        api.engine.runner._wait_bound_s = 0.2  # type: ignore[attr-defined]  # no worker yet
        record = await api.engine.create(request(["fake"], questions=QUESTIONS))
        eid = str(record.execution_id)
        view = await api.engine.cancel(eid)
        assert view.status is ExecutionStatus.queued  # asked, not yet acted on
        async with make_node("worker", [platform]):
            assert await wait_status(api.engine, eid, ExecutionStatus.cancelled)
        assert fake_openai.calls_for("fake") == []


async def test_reconciler_re_enqueues_what_redis_lost_and_nothing_else(
    make_node: NodeFactory,
) -> None:
    async with make_node("api") as api:
        lost = str((await api.engine.create(request(["demo"]))).execution_id)
        kept = str((await api.engine.create(request(["demo"]))).execution_id)
        await _wait_job(api, lost)
        await _wait_job(api, kept)
        # Redis loses the first job (as a restart of a Redis that keeps nothing on disk would)
        queue = api.cluster.queue
        await queue.redis.delete(queue.job_id(lost))
        await queue.redis.zrem(queue.namespace("incomplete"), queue.job_id(lost))
        await queue.redis.lrem(queue.namespace("queued"), 0, queue.job_id(lost))
        from diagnosis.cluster.reconciler import Reconciler

        reconciler = Reconciler(api.engine.repository, queue, interval_s=3600, heartbeat_s=2)
        assert await reconciler.run_once(recheck_after_s=0) == [lost]
        assert await reconciler.run_once(recheck_after_s=0) == []  # idempotent
        assert (await queue.job(lost)).status == Status.QUEUED


async def _wait_job(api: object, eid: str, *, status: Status | None = None,
                    bound_s: float = 10.0) -> object:
    queue = api.cluster.queue  # type: ignore[attr-defined]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + bound_s
    while True:
        job = await queue.job(eid)
        if job is not None and (status is None or job.status == status):
            return job
        if loop.time() > deadline:
            raise AssertionError(f"no job {eid} with status {status}: {job}")
        await asyncio.sleep(0.02)


async def _wait_durable(api: object, eid: str, *, at_least: int, bound_s: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + bound_s
    while len(await _durable_prompts(api, eid)) < at_least:
        if loop.time() > deadline:
            raise AssertionError("results did not become durable")
        await asyncio.sleep(0.02)


async def _durable_prompts(api: object, eid: str) -> list[str]:
    rows = await api.engine.repository.all_results(eid)  # type: ignore[attr-defined]
    return [r.question for r in rows if r.status == "ok"]


async def test_a_live_job_that_outlasts_its_heartbeat_is_touched_not_swept(
    make_node: NodeFactory, fake_openai: FakeOpenAI
) -> None:
    # 12 calls one at a time at 0.5 s: a job of ~6 s under a 2 s heartbeat and a 1 s sweep. The
    # worker touches it every second, so no sweep takes it from the worker running it.
    fake_openai.default(None, ok(latency_s=0.5))
    platform = fake_platform("fake", fake_openai.base_url, max_concurrency=1)
    fast = {"worker_heartbeat_s": 2, "worker_sweep_s": 1}
    async with make_node("api", [platform], **fast) as api, \
            make_node("worker", [platform], **fast) as worker:
        record = await api.engine.create(request(["fake"], questions=QUESTIONS))
        eid = str(record.execution_id)
        job = await _wait_job(api, eid, status=Status.ACTIVE)
        touches = {job.touched}  # type: ignore[attr-defined]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while ExecutionStatus((await api.engine.repository.get_execution(eid)).status) \
                is not ExecutionStatus.completed:
            assert loop.time() < deadline, "the execution did not complete"
            job = await api.cluster.queue.job(eid)
            if job is not None and job.status == Status.ACTIVE:
                touches.add(job.touched)
            await asyncio.sleep(0.05)
        assert worker.worker is not None and worker.worker.taken == [eid]
        job = await api.cluster.queue.job(eid)
        assert job is not None and job.attempts == 1 and job.error is None
        assert len(touches) >= 3  # touched while it ran, not only when taken
        assert len(fake_openai.calls_for("fake")) == len(QUESTIONS)
