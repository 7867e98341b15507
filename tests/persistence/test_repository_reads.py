"""Reads: stable result pages, history newest first, owners, resumable executions, health."""

import random
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.util import await_only

from diagnosis.persistence.db import Database
from diagnosis.persistence.repository import Repository
from tests.persistence.conftest import MakeExecution, MakeRepository
from tests.persistence.factories import result_write, snapshot, task_specs


async def test_result_pages_follow_the_ordinal_and_count_what_matches(
    make_repository: MakeRepository, make_execution: MakeExecution
) -> None:
    # given 20 tasks inserted out of order, 12 of them finished
    repository = await make_repository()
    tasks = task_specs(20)
    random.Random(7).shuffle(tasks)
    await make_execution(repository, tasks=tasks)
    finished = [f"t{i:04d}" for i in range(20) if i % 5 not in (1, 3)]
    await repository.write_progress(snapshot("exec-1", seq=1), [result_write(k) for k in finished])

    # when reading pages
    first, total = await repository.page_results("exec-1", offset=0, limit=5)
    second, _ = await repository.page_results("exec-1", offset=5, limit=5)
    tail, _ = await repository.page_results("exec-1", offset=10, limit=5)
    everything, all_total = await repository.page_results(
        "exec-1", offset=0, limit=100, include_pending=True
    )

    # then finished results come in ordinal order, pages do not overlap, totals count matches
    assert total == 12 and all_total == 20
    assert [r.task_key for r in first + second + tail] == finished
    assert len(tail) == 2
    assert [r.ordinal for r in everything] == list(range(20))


async def test_history_is_newest_first_paged_and_filtered_by_owner(
    make_repository: MakeRepository, make_execution: MakeExecution
) -> None:
    repository = await make_repository()
    for n in range(7):
        await make_execution(repository, f"exec-{n}", owner="alice" if n % 2 else "bob")

    page1, total = await repository.list_executions(owner=None, page=1, limit=3)
    page3, _ = await repository.list_executions(owner=None, page=3, limit=3)
    alices, alice_total = await repository.list_executions(owner="alice", page=1, limit=10)

    assert total == 7
    assert [e.execution_id for e in page1] == ["exec-6", "exec-5", "exec-4"]
    assert [e.execution_id for e in page3] == ["exec-0"]
    assert alice_total == 3
    assert [e.execution_id for e in alices] == ["exec-5", "exec-3", "exec-1"]


async def test_a_page_and_its_total_agree_when_a_write_commits_while_it_is_read(
    make_repository: MakeRepository, make_execution: MakeExecution
) -> None:
    # given 3 executions, and a fourth that commits right after the page's first statement ran
    repository = await make_repository()
    for n in range(3):
        await make_execution(repository, f"exec-{n}")
    statements: list[str] = []

    def commit_one_more(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)
        if len(statements) == 1:
            # inside the reader's greenlet: await_only runs the write on the loop, in between
            await_only(make_execution(repository, "exec-late"))

    reader = repository._reader.sync_engine
    event.listen(reader, "after_cursor_execute", commit_one_more)
    try:
        # when a page of history is read
        page, total = await repository.list_executions(owner=None, page=1, limit=10)
    finally:
        event.remove(reader, "after_cursor_execute", commit_one_more)

    # then its total counts the rows it lists, not a later moment; and the next read has the 4th
    assert len(statements) >= 1
    assert (len(page), total) == (3, 3)
    assert [e.execution_id for e in page] == ["exec-2", "exec-1", "exec-0"]
    page, total = await repository.list_executions(owner=None, page=1, limit=10)
    assert (len(page), total) == (4, 4)
    # and a page past the end still counts what matches
    assert await repository.list_executions(owner=None, page=9, limit=10) == ([], 4)


async def test_another_owners_execution_is_not_found(
    make_repository: MakeRepository, make_execution: MakeExecution
) -> None:
    repository = await make_repository()
    await make_execution(repository, owner="alice")

    assert await repository.get_execution("exec-1", owner="mallory") is None
    assert await repository.get_execution("exec-1", owner="alice") is not None
    assert await repository.get_execution("exec-1") is not None
    assert await repository.get_execution("unknown") is None


async def test_unfinished_executions_are_the_queued_and_running_ones(
    make_repository: MakeRepository, make_execution: MakeExecution
) -> None:
    repository = await make_repository()
    for n in range(3):
        await make_execution(repository, f"exec-{n}")
    await repository.write_progress(snapshot("exec-1", seq=1, status="running"), [])
    await repository.write_progress(
        snapshot("exec-2", seq=1, status="cancelled", stage="done", progress=100), []
    )

    unfinished = await repository.find_unfinished()
    counts = await repository.counts_by_status()

    assert [(e.execution_id, e.status) for e in unfinished] == [
        ("exec-0", "queued"),
        ("exec-1", "running"),
    ]
    assert counts["queued"] == counts["running"] == counts["cancelled"] == 1
    assert counts["completed"] == 0


async def test_pending_tasks_are_those_without_a_durable_end(
    make_repository: MakeRepository, make_execution: MakeExecution
) -> None:
    repository = await make_repository()
    await make_execution(repository, tasks=task_specs(3))
    await repository.write_progress(
        snapshot("exec-1", seq=1),
        [result_write("t0001", status="error", answer=None, error_kind="timeout")],
    )

    pending = await repository.pending_tasks("exec-1")
    everything = await repository.all_results("exec-1")

    assert [row.task_key for row in pending] == ["t0000", "t0002"]
    assert pending[0].template == "question 0 about {brand}" and pending[0].platform == "demo"
    assert everything[1].error_kind == "timeout" and everything[1].answer is None


async def test_ping_answers_true_on_a_database_and_false_when_it_cannot_be_opened(
    make_repository: MakeRepository, tmp_path: Path
) -> None:
    repository = await make_repository()
    (tmp_path / "a-directory.db").mkdir()
    broken = Database.open(f"sqlite+aiosqlite:///{tmp_path / 'a-directory.db'}")

    try:
        assert await repository.ping() is True
        assert await Repository(broken).ping() is False
    finally:
        await broken.dispose()


async def test_results_without_answers_are_the_same_rows_with_no_answer_read(
    make_repository: MakeRepository, make_execution: MakeExecution
) -> None:
    repository = await make_repository()
    await make_execution(repository, tasks=task_specs(3))
    await repository.write_progress(
        snapshot("exec-1", seq=1),
        [result_write("t0000", answer="1. 理想 2. 蔚来 " * 200), result_write("t0002")],
    )

    everything = await repository.all_results("exec-1")
    unread = await repository.all_results("exec-1", answers=False)

    assert everything[0].answer and everything[2].answer
    assert [row.answer for row in unread] == [None, None, None]
    assert [replace(row, answer=None) for row in everything] == unread  # nothing else differs
