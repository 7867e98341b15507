"""Executions end to end in-process: real SQLite file, real HTTP to the fake provider."""

import asyncio
import json

import pytest
from sqlalchemy import text

from diagnosis.constants import ExecutionStatus, ResultStatus
from diagnosis.engine.errors import Conflict
from diagnosis.engine.executor import StopReason
from diagnosis.engine.service import Competitor
from tests.engine.conftest import fake_platform, request
from tests.fake_openai import hang, ok, status


async def finished(engine, record):
    await engine.runner.wait(record.execution_id)
    row = await engine.repository.get_execution(record.execution_id)
    rows = await engine.repository.all_results(record.execution_id)
    return row, rows


async def test_three_executions_never_exceed_the_platform_concurrency(make_engine, fake_openai):
    fake_openai.default("p", ok(latency_s=0.03))
    async with make_engine([fake_platform("p", fake_openai.base_url, max_concurrency=3)]) as engine:
        records = [
            await engine.create(request(["p"], questions=[f"问题{i}-{j}" for j in range(8)]))
            for i in range(3)
        ]
        for record in records:
            row, rows = await finished(engine, record)
            assert row.status == ExecutionStatus.completed and len(rows) == 8
    assert fake_openai.peak_concurrency("p") == 3


async def test_terminal_status_follows_the_results(make_engine, fake_openai):
    platforms = [
        fake_platform("good", fake_openai.base_url, max_retries=0),
        fake_platform("bad", fake_openai.base_url, max_retries=0),
    ]
    fake_openai.default("good", ok())
    fake_openai.default("bad", status(400))
    async with make_engine(platforms) as engine:
        cases = {("good",): "completed", ("good", "bad"): "partial_success", ("bad",): "failed"}
        for platform_ids, expected in cases.items():
            row, rows = await finished(engine, await engine.create(request(list(platform_ids))))
            assert row.status == expected and row.stage == "done" and row.progress == 100
            assert all(r.status != ResultStatus.pending for r in rows)


async def test_deadline_ends_unfinished_tasks_as_deadline_and_keeps_finished_ones(
    make_engine, fake_openai
):
    fake_openai.script("p", ok("1. 蔚来 很好"))
    fake_openai.default("p", hang(60))
    async with make_engine(
        [fake_platform("p", fake_openai.base_url, max_concurrency=1, timeout_s=30)]
    ) as engine:
        record = await engine.create(request(["p"], questions=["q1", "q2", "q3"], deadline_s=1))
        row, rows = await finished(engine, record)
    assert row.status == ExecutionStatus.timeout and row.progress == 100 and row.stage == "done"
    assert [r.status for r in rows] == ["ok", "error", "error"]
    assert [r.error_kind for r in rows] == [None, "deadline", "deadline"]
    assert row.report is not None and row.report["summary"]["ok_results"] == 1


async def test_cancel_stops_calls_and_ends_cancelled_with_a_row_per_task(make_engine, fake_openai):
    fake_openai.default("p", hang(60))
    async with make_engine([fake_platform("p", fake_openai.base_url, timeout_s=30)]) as engine:
        record = await engine.create(request(["p"], questions=["q1", "q2"], samples=3))
        await fake_openai.async_wait_for_calls(1)
        view = await engine.cancel(record.execution_id)
        rows = await engine.repository.all_results(record.execution_id)
    assert view.status == ExecutionStatus.cancelled and view.progress == 100
    assert len(rows) == 6 and {r.error_kind for r in rows} == {"cancelled"}
    assert {r.status for r in rows} == {"cancelled"}


async def test_brand_questions_are_asked_per_brand_with_the_brands_in_the_prompt(
    make_engine, fake_openai
):
    async with make_engine([fake_platform("p", fake_openai.base_url)]) as engine:
        record = await engine.create(
            request(
                ["p"],
                questions=["{brand}的售后怎么样"],
                competitors=[Competitor("理想", ["Li Auto"])],
            )
        )
        _row, rows = await finished(engine, record)
    assert sorted(c.prompt for c in fake_openai.calls_for("p")) == [
        "理想的售后怎么样",
        "蔚来的售后怎么样",
    ]
    assert {r.subject for r in rows} == {"蔚来", "理想"}
    assert all(r.analysis is not None for r in rows)


async def test_a_failing_database_write_loses_nothing(make_engine, fake_openai):
    fake_openai.default("p", ok(latency_s=0.01))
    async with make_engine([fake_platform("p", fake_openai.base_url)]) as engine:
        real_write = engine.repository.write_progress
        failures = {"left": 2, "seen": 0}

        async def flaky_write(snapshot, results):
            if snapshot.status == "running" and results and failures["left"] > 0:
                failures["left"] -= 1
                failures["seen"] += 1
                raise OSError("disk hiccup")
            return await real_write(snapshot, results)

        engine.repository.write_progress = flaky_write
        record = await engine.create(request(["p"], questions=[f"q{i}" for i in range(20)]))
        row, rows = await finished(engine, record)
    assert failures["seen"] == 2
    assert row.status == ExecutionStatus.completed and row.completed == 20
    assert all(r.status == "ok" and r.answer for r in rows)


async def test_resume_calls_only_tasks_without_a_durable_result(make_engine, fake_openai):
    fake_openai.default("p", ok())
    async with make_engine([fake_platform("p", fake_openai.base_url)]) as engine:
        # given an execution that "crashed" with 2 of 5 tasks durable
        record = await engine.create(request(["p"], questions=[f"q{i}" for i in range(5)]))
        await engine.runner.wait(record.execution_id)
    fake_openai.reset()
    async with make_engine([fake_platform("p", fake_openai.base_url)]) as engine:
        rows = await engine.repository.all_results(record.execution_id)
        async with engine.repository._writer.begin() as conn:  # rewind 3 tasks to pending
            await conn.execute(
                text(
                    "UPDATE task_results SET status='pending', answer=NULL, analysis=NULL "
                    "WHERE task_key IN (:a, :b, :c)"
                ),
                {"a": rows[2].task_key, "b": rows[3].task_key, "c": rows[4].task_key},
            )
            await conn.execute(
                text(
                    "UPDATE executions SET status='running', stage='ai_fetching', completed=2, "
                    "progress=40 WHERE id=:id"
                ),
                {"id": record.execution_id},
            )
        # when the engine starts again
        resumed = await engine.runner.resume_unfinished()
        assert resumed == [record.execution_id]
        row, rows = await finished(engine, record)
    # then only the three pending tasks were called, and it completed
    assert sorted(c.prompt for c in fake_openai.calls_for("p")) == ["q2", "q3", "q4"]
    assert row.status == ExecutionStatus.completed and len(rows) == 5


async def test_resume_after_the_deadline_ends_as_timeout_without_calls(make_engine, fake_openai):
    async with make_engine([fake_platform("p", fake_openai.base_url)]) as engine:
        record = await engine.create(request(["p"], questions=["q1"], deadline_s=1))
        engine.runner.stop(record.execution_id, StopReason.shutdown)
        await engine.runner.wait(record.execution_id)
    fake_openai.reset()
    async with make_engine([fake_platform("p", fake_openai.base_url)]) as engine:
        async with engine.repository._writer.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE executions SET status='running', started_at='2020-01-01 00:00:00' "
                    "WHERE id=:id"
                ),
                {"id": record.execution_id},
            )
        await engine.runner.resume_unfinished()
        row, rows = await finished(engine, record)
    assert row.status == ExecutionStatus.timeout
    assert [r.error_kind for r in rows] == ["deadline"]
    assert fake_openai.calls_for("p") == []


async def test_retry_copies_ok_results_and_runs_only_the_others(make_engine, fake_openai):
    fake_openai.script("p", ok(), status(400), ok())
    async with make_engine(
        [fake_platform("p", fake_openai.base_url, max_concurrency=1, max_retries=0)]
    ) as engine:
        first = await engine.create(request(["p"], questions=["q1", "q2", "q3"]))
        row, _ = await finished(engine, first)
        assert row.status == "partial_success"
        fake_openai.reset()
        second = await engine.retry(first.execution_id)
        row2, rows2 = await finished(engine, second)
        old = await engine.repository.get_execution(first.execution_id)
    assert [c.prompt for c in fake_openai.calls_for("p")] == ["q2"]
    assert row2.status == "completed" and row2.retry_of == first.execution_id
    assert len(rows2) == 3 and old.status == "partial_success"


async def test_cancel_of_a_finished_execution_is_a_conflict(make_engine, fake_openai):
    async with make_engine([fake_platform("p", fake_openai.base_url)]) as engine:
        record = await engine.create(request(["p"]))
        await engine.runner.wait(record.execution_id)
        with pytest.raises(Conflict):
            await engine.cancel(record.execution_id)


async def test_report_and_retry_before_the_end_are_conflicts(make_engine, fake_openai):
    fake_openai.default("p", hang(60))
    async with make_engine([fake_platform("p", fake_openai.base_url, timeout_s=30)]) as engine:
        record = await engine.create(request(["p"]))
        await fake_openai.async_wait_for_calls(1)
        with pytest.raises(Conflict):
            await engine.report(record.execution_id, None)
        with pytest.raises(Conflict):
            await engine.retry(record.execution_id)
        await engine.cancel(record.execution_id)


async def test_the_global_limit_bounds_calls_across_platforms(make_engine, fake_openai):
    fake_openai.default(None, ok(latency_s=0.03))
    platforms = [
        fake_platform("a", fake_openai.base_url, max_concurrency=4),
        fake_platform("b", fake_openai.base_url, max_concurrency=4),
    ]
    async with make_engine(platforms, global_concurrency=5) as engine:
        record = await engine.create(request(["a", "b"], questions=[f"q{i}" for i in range(10)]))
        row, _ = await finished(engine, record)
    assert row.status == ExecutionStatus.completed
    assert fake_openai.peak_concurrency() == 5
    assert fake_openai.peak_concurrency("a") <= 4 and fake_openai.peak_concurrency("b") <= 4


async def test_cancelling_the_run_task_itself_leaves_no_call_running(make_engine, fake_openai):
    fake_openai.default("p", hang(60))
    async with make_engine([fake_platform("p", fake_openai.base_url, timeout_s=30)]) as engine:
        record = await engine.create(request(["p"], questions=["q1", "q2"]))
        await fake_openai.async_wait_for_calls(2)
        task = engine.runner._tasks[record.execution_id]
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        # every call was cancelled with it: nothing is in flight at the fake any more
        await fake_openai.async_wait_until(lambda: fake_openai.in_flight("p") == 0, 5)
        leftovers = [t for t in asyncio.all_tasks() if t.get_name().startswith("fanout-")]
        assert leftovers == []


async def test_a_resumed_execution_counts_the_discoveries_of_answers_analysed_before_it_kept_them(
    make_engine, fake_openai
):
    # the report reads each answer's discoveries from its analysis; rows analysed before
    # analyses held them (no `discovered`) have their answer read and listed again
    fake_openai.default("p", ok("1. **蔚来**：服务好。\n2. **比亚迪**：销量高。"))
    async with make_engine([fake_platform("p", fake_openai.base_url)]) as engine:
        record = await engine.create(request(["p"], questions=[f"q{i}" for i in range(4)]))
        await engine.runner.wait(record.execution_id)
        first = await engine.report(record.execution_id, None)
    assert [(d["name"], d["mentions"]) for d in first["discovered_brands"]] == [("比亚迪", 4)]
    async with make_engine([fake_platform("p", fake_openai.base_url)]) as engine:
        rows = await engine.repository.all_results(record.execution_id)
        async with engine.repository._writer.begin() as conn:
            for row in rows[:2]:  # two kept, as an older version stored them
                old = {k: v for k, v in row.analysis.items() if k != "discovered"}
                await conn.execute(
                    text("UPDATE task_results SET analysis=:a WHERE id=:id"),
                    {"a": json.dumps(old), "id": row.id},
                )
            await conn.execute(
                text("UPDATE task_results SET status='pending', answer=NULL, analysis=NULL "
                     "WHERE id IN (:a, :b)"),
                {"a": rows[2].id, "b": rows[3].id},
            )
            await conn.execute(
                text("UPDATE executions SET status='running', stage='ai_fetching', completed=2 "
                     "WHERE id=:id"),
                {"id": record.execution_id},
            )
        assert await engine.runner.resume_unfinished() == [record.execution_id]
        await engine.runner.wait(record.execution_id)
        again = await engine.report(record.execution_id, None)
    assert again["discovered_brands"] == first["discovered_brands"]
