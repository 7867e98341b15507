"""Writes: creation in one transaction, idempotent results, the seq guard, concurrent writers."""

import asyncio
import time
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import text, update

from diagnosis.persistence.db import Database
from diagnosis.persistence.models import Execution, TaskResult
from diagnosis.persistence.repository import Repository
from tests.persistence.conftest import MakeDatabase, MakeExecution, MakeRepository
from tests.persistence.factories import T0, result_write, snapshot, task_specs


async def test_creating_an_execution_of_1000_tasks_writes_1000_pending_rows_quickly(
    make_repository: MakeRepository, make_execution: MakeExecution
) -> None:
    repository = await make_repository()

    started = time.perf_counter()
    execution = await make_execution(repository, tasks=task_specs(1000, platforms=("a", "b")))
    elapsed = time.perf_counter() - started

    rows = await repository.all_results(execution.execution_id)
    assert len(rows) == 1000
    assert {row.status for row in rows} == {"pending"}
    assert [row.ordinal for row in rows] == list(range(1000))
    assert execution.status == "queued" and execution.stage == "init" and execution.seq == 0
    assert execution.total == 1000 and execution.progress == 0
    assert elapsed < 2.0


async def test_created_execution_reads_back_every_field(
    make_repository: MakeRepository, make_execution: MakeExecution
) -> None:
    repository = await make_repository()

    created = await make_execution(repository, "exec-x", owner="alice", retry_of="exec-0")
    read = await repository.get_execution("exec-x")

    assert read == created
    assert read is not None
    assert read.competitors == [{"name": "BYD", "aliases": ["比亚迪"]}]
    assert read.aliases == ["蔚来"] and read.owner == "alice" and read.retry_of == "exec-0"
    assert read.created_at.tzinfo is not None and read.report is None


async def test_a_retry_copies_ok_results_into_its_rows_and_counts_them(
    make_repository: MakeRepository, make_execution: MakeExecution
) -> None:
    repository = await make_repository()
    copied = [result_write("t0000"), result_write("t0001"), result_write("not-a-task")]

    execution = await make_execution(repository, "retry-1", tasks=task_specs(4), copied=copied)

    pending = await repository.pending_tasks("retry-1")
    assert [row.task_key for row in pending] == ["t0002", "t0003"]
    assert (execution.completed, execution.failed, execution.progress) == (2, 0, 50)
    assert execution.seq == 0


async def test_a_result_written_twice_keeps_its_first_version(
    make_repository: MakeRepository, make_execution: MakeExecution
) -> None:
    repository = await make_repository()
    await make_execution(repository)
    first = result_write("t0000", answer="first", finished_at=T0)
    again = result_write("t0000", answer="second", finished_at=T0 + timedelta(minutes=5))

    await repository.write_progress(snapshot("exec-1", seq=1), [first])
    await repository.write_progress(snapshot("exec-1", seq=2), [again])

    row = (await repository.all_results("exec-1"))[0]
    assert row.status == "ok"
    assert row.answer == "first"
    assert row.finished_at == T0
    assert row.usage == first.usage and row.analysis == first.analysis


async def test_an_older_snapshot_is_refused_and_a_newer_one_applied(
    make_repository: MakeRepository, make_execution: MakeExecution
) -> None:
    repository = await make_repository()
    await make_execution(repository)

    newer = await repository.write_progress(snapshot("exec-1", seq=5, progress=50), [])
    older = await repository.write_progress(
        snapshot("exec-1", seq=3, progress=30), [result_write("t0003")]
    )
    same = await repository.write_progress(snapshot("exec-1", seq=5, progress=40), [])

    execution = await repository.get_execution("exec-1")
    assert (newer, older, same) == (True, False, False)
    assert execution is not None and (execution.seq, execution.progress) == (5, 50)
    # the refused snapshot's results are durable all the same
    assert (await repository.all_results("exec-1"))[3].status == "ok"


async def test_a_terminal_status_is_never_left(
    make_repository: MakeRepository, make_execution: MakeExecution
) -> None:
    repository = await make_repository()
    await make_execution(repository)
    done = datetime(2026, 1, 1, 12, 5, tzinfo=UTC)
    await repository.write_progress(
        snapshot(
            "exec-1", seq=10, status="completed", stage="done", progress=100, finished_at=done
        ),
        [],
    )

    reopened = await repository.write_progress(snapshot("exec-1", seq=11, status="running"), [])
    with_report = await repository.write_progress(
        snapshot(
            "exec-1", seq=12, status="completed", stage="done", progress=100, report={"brands": []}
        ),
        [],
    )

    execution = await repository.get_execution("exec-1")
    assert (reopened, with_report) == (False, True)
    assert execution is not None
    assert (execution.status, execution.stage, execution.seq) == ("completed", "done", 12)
    assert execution.report == {"brands": []}
    assert execution.finished_at == done  # a snapshot without finished_at never clears it


async def test_datetimes_are_stored_in_utc_and_read_back_aware(
    make_repository: MakeRepository, make_execution: MakeExecution
) -> None:
    repository = await make_repository()
    await make_execution(repository)
    beijing = timezone(timedelta(hours=8))
    finished = datetime(2026, 1, 1, 20, 0, tzinfo=beijing)

    await repository.write_progress(
        snapshot("exec-1", seq=1), [result_write("t0000", finished_at=finished)]
    )

    row = (await repository.all_results("exec-1"))[0]
    assert row.finished_at == finished
    assert row.finished_at is not None and row.finished_at.utcoffset() == timedelta(0)
    assert row.finished_at.hour == 12


async def test_save_report_stores_the_report(
    make_repository: MakeRepository, make_execution: MakeExecution
) -> None:
    repository = await make_repository()
    await make_execution(repository)

    saved = await repository.save_report("exec-1", {"brands": [{"name": "NIO"}]})
    missing = await repository.save_report("nope", {})

    execution = await repository.get_execution("exec-1")
    assert (saved, missing) == (True, False)
    assert execution is not None and execution.report == {"brands": [{"name": "NIO"}]}


async def _write_slice(repository: Repository, execution_id: str, worker: int) -> bool:
    # each worker ends 10 tasks of its execution and writes a snapshot with its own seq
    keys = [f"t{worker // 5 * 10 + i:04d}" for i in range(10)]
    return await repository.write_progress(
        snapshot(execution_id, seq=worker + 1, total=100, progress=worker),
        [result_write(key) for key in keys],
    )


async def test_fifty_concurrent_writers_meet_no_lock_error_and_lose_nothing(
    make_repository: MakeRepository, make_execution: MakeExecution
) -> None:
    # given two repositories on one file (like two processes: separate pools) and 5 executions
    first, second = await make_repository(), await make_repository()
    ids = [f"exec-{n}" for n in range(5)]
    for execution_id in ids:
        await make_execution(first, execution_id, tasks=task_specs(100))

    # when 50 coroutines write progress and results at once, alternating repositories
    outcomes = await asyncio.gather(
        *(
            _write_slice(first if worker % 2 else second, ids[worker % 5], worker)
            for worker in range(50)
        )
    )

    # then every result is durable and each execution holds its highest seq
    assert any(outcomes)
    for n, execution_id in enumerate(ids):
        assert await first.pending_tasks(execution_id) == []
        execution = await first.get_execution(execution_id)
        assert execution is not None
        assert execution.seq == max(w + 1 for w in range(50) if w % 5 == n)


async def test_a_new_execution_has_per_platform_counters_from_its_first_read(
    make_repository: MakeRepository,
) -> None:
    from diagnosis.engine.planning import plan_tasks
    from diagnosis.persistence.records import ResultWrite

    repository = await make_repository()
    tasks = plan_tasks(templates=["q1", "q2"], brands=["b"], platforms=["a", "c"], samples=1)
    copied = [ResultWrite(task_key=tasks[0].task_key, status="ok", error_kind=None,
                          answer="x", latency_ms=1, attempts=1, usage=None, analysis=None,
                          finished_at=datetime.now(UTC))]
    record = await repository.create_execution(
        execution_id="e1", brand="b", aliases=[], competitors=[], questions=["q1", "q2"],
        platforms=["a", "c"], samples=1, deadline_s=60, owner=None, total=4, tasks=tasks,
        copied=copied,
    )
    assert record.platform_stats == {
        "a": {"total": 2, "completed": 1, "failed": 0},
        "c": {"total": 2, "completed": 0, "failed": 0},
    }


async def _until_a_writer_waits_for_a_lock(database: Database) -> None:
    """PostgreSQL: until some session of this database waits for a row lock. (On SQLite the
    write lock is taken at BEGIN, so a second writer's statements cannot start before the first
    commits: there is no race to set up.)"""
    if database.writer.dialect.name != "postgresql":
        return
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    async with asyncio.timeout(10):
        while True:
            async with database.reader.connect() as conn:
                if (await conn.execute(waiting)).scalar_one() > 0:
                    return
            await asyncio.sleep(0.01)


async def test_an_older_writer_racing_a_newer_one_never_overwrites_it(
    make_database: MakeDatabase, make_execution: MakeExecution
) -> None:
    # given an execution, and a writer (another process, say) that has ended t0002 and written
    # seq 7 but not committed yet
    first, second = await make_database(), await make_database()
    repository = Repository(second)
    await make_execution(repository, tasks=task_specs(4))
    executions, results = Execution.__table__, TaskResult.__table__  # type: ignore[attr-defined]
    async with first.writer.begin() as newer:
        await newer.execute(
            update(results)
            .where(results.c.execution_id == "exec-1", results.c.task_key == "t0002")
            .values(status="ok", answer="newer")
        )
        await newer.execute(
            update(executions).where(executions.c.id == "exec-1").values(seq=7, progress=70)
        )
        # when an older writer (seq 6, ending t0001 and t0002 too) starts while it is open
        older = asyncio.create_task(repository.write_progress(
            snapshot("exec-1", seq=6, progress=60),
            [result_write("t0001", answer="older"), result_write("t0002", answer="older")],
        ))
        await _until_a_writer_waits_for_a_lock(second)
    applied = await older

    # then the newer seq and the first end of t0002 stand; the older write's other result landed
    execution = await repository.get_execution("exec-1")
    rows = {row.task_key: row for row in await repository.all_results("exec-1")}
    assert applied is False
    assert execution is not None and (execution.seq, execution.progress) == (7, 70)
    assert (rows["t0001"].answer, rows["t0002"].answer) == ("older", "newer")
    assert rows["t0003"].status == "pending"
