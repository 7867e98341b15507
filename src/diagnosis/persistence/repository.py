"""The repository: every query of the service, in portable SQLAlchemy Core, returning records.

Each write is one short transaction on the writer engine (BEGIN IMMEDIATE on SQLite); reads go to
the reader. It never returns ORM objects, never emits dialect-specific SQL (db.py owns SQLite) and
never awaits anything but the database inside a transaction.
"""

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, null, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from diagnosis.constants import TERMINAL_STATUSES, ExecutionStatus, ResultStatus, Stage
from diagnosis.persistence.db import Database, probe_write
from diagnosis.persistence.models import Execution, TaskResult
from diagnosis.persistence.pages import read_page
from diagnosis.persistence.records import (
    ExecutionRecord,
    ProgressSnapshot,
    ResultRecord,
    ResultWrite,
    SlotTaken,
    TaskSpec,
)
from diagnosis.persistence.types import UTCDateTime

EXECUTIONS = cast(Table, Execution.__table__)  # type: ignore[attr-defined]
RESULTS = cast(Table, TaskResult.__table__)  # type: ignore[attr-defined]

_TERMINAL = sorted(status.value for status in TERMINAL_STATUSES)
_UNFINISHED = (ExecutionStatus.queued.value, ExecutionStatus.running.value)
_PENDING = ResultStatus.pending.value
_FAILED_RESULTS = (ResultStatus.error.value, ResultStatus.cancelled.value)
# Rows read per chunk when an execution's results are loaded (_results_where).
RESULT_CHUNK = 100

# One statement, executed many times: the end of a task lands only on a still-pending row, so a
# result written twice (a retried flush, a resumed execution) changes nothing the second time.
_END_TASK = (
    update(RESULTS)
    .where(
        RESULTS.c.execution_id == bindparam("b_execution_id"),
        RESULTS.c.task_key == bindparam("b_task_key"),
        RESULTS.c.status == _PENDING,
    )
    .values(
        status=bindparam("b_status"),
        error_kind=bindparam("b_error_kind"),
        answer=bindparam("b_answer"),
        truncated=bindparam("b_truncated"),
        error=bindparam("b_error"),
        latency_ms=bindparam("b_latency_ms"),
        attempts=bindparam("b_attempts"),
        usage=bindparam("b_usage", type_=RESULTS.c.usage.type),
        analysis=bindparam("b_analysis", type_=RESULTS.c.analysis.type),
        finished_at=bindparam("b_finished_at", type_=UTCDateTime()),
    )
)


class Repository:
    """Executions and their task results, over the engines of db.Database."""

    def __init__(self, database: Database) -> None:
        self._reader = database.reader
        self._writer = database.writer

    # --- writes ------------------------------------------------------------------------------

    async def create_execution(
        self,
        *,
        execution_id: str,
        brand: str,
        aliases: Sequence[str],
        competitors: Sequence[Mapping[str, Any]],
        questions: Sequence[str],
        platforms: Sequence[str],
        samples: int,
        deadline_s: int,
        owner: str | None,
        total: int,
        retry_of: str | None = None,
        tasks: Sequence[TaskSpec],
        copied: Sequence[ResultWrite] = (),
        monitor_id: str | None = None,
        scheduled_for: datetime | None = None,
        brand_domains: Sequence[str] = (),
    ) -> ExecutionRecord:
        """Insert the execution (queued, init, seq 0) and one pending row per task, atomically.

        A monitor's run (`monitor_id`, `scheduled_for`) whose slot already has an execution
        raises SlotTaken and writes nothing: the unique constraint decides between racers.

        `copied` results (a retry's ok results) are applied to their rows in the same
        transaction, and the counters (completed, failed, progress) count them, so the new
        execution is consistent from its first read; seq stays 0 for the engine's snapshots.
        """
        now = datetime.now(UTC)
        async with self._writer.begin() as conn:
            await _insert_execution(
                conn,
                {
                    "id": execution_id,
                    "brand": brand,
                    "aliases": list(aliases),
                    "competitors": [dict(c) for c in competitors],
                    "questions": list(questions),
                    "platforms": list(platforms),
                    "samples": samples,
                    "deadline_s": deadline_s,
                    "owner": owner,
                    "status": ExecutionStatus.queued.value,
                    "stage": Stage.init.value,
                    "total": total,
                    "completed": 0,
                    "failed": 0,
                    "progress": 0,
                    "seq": 0,
                    "created_at": now,
                    "updated_at": now,
                    "retry_of": retry_of,
                    "platform_stats": _platform_stats(tasks, copied),
                    "monitor_id": monitor_id,
                    "scheduled_for": scheduled_for,
                    "brand_domains": list(brand_domains) or None,
                },
            )
            if tasks:
                await conn.execute(
                    RESULTS.insert(), [_pending_row(execution_id, task) for task in tasks]
                )
            if copied:
                await _end_tasks(conn, execution_id, copied)
                await _count_copied(conn, execution_id, total)
            row = await _execution_row(conn, execution_id)
        assert row is not None  # inserted above, in this transaction
        return _execution_record(row)

    async def write_progress(
        self, snapshot: ProgressSnapshot, results: Sequence[ResultWrite]
    ) -> bool:
        """Make `results` durable and apply `snapshot`, in ONE write transaction.

        Results land only on pending rows (idempotent). The snapshot is applied only when its seq
        is newer than the row's and it would not move the row out of a terminal status; returns
        whether it was applied. Both are conditional UPDATEs, so racing writers stay safe: SQLite
        serialises them (BEGIN IMMEDIATE); on PostgreSQL (READ COMMITTED) an UPDATE that waited
        for another writer's row lock re-checks its WHERE on the row that writer committed.
        started_at, finished_at, error and report are written only when
        not None (a snapshot never clears them).
        """
        values: dict[str, Any] = {
            "status": snapshot.status,
            "stage": snapshot.stage,
            "total": snapshot.total,
            "completed": snapshot.completed,
            "failed": snapshot.failed,
            "progress": snapshot.progress,
            "seq": snapshot.seq,
            "updated_at": snapshot.updated_at,
        }
        optional = {
            "started_at": snapshot.started_at,
            "finished_at": snapshot.finished_at,
            "error": snapshot.error,
            "report": snapshot.report,
            "platform_stats": snapshot.platform_stats,
        }
        values.update({key: value for key, value in optional.items() if value is not None})
        guarded = (
            update(EXECUTIONS)
            .where(
                EXECUTIONS.c.id == snapshot.execution_id,
                EXECUTIONS.c.seq < snapshot.seq,
                or_(EXECUTIONS.c.status.not_in(_TERMINAL), EXECUTIONS.c.status == snapshot.status),
            )
            .values(**values)
        )
        async with self._writer.begin() as conn:
            if results:
                await _end_tasks(conn, snapshot.execution_id, results)
            applied = await conn.execute(guarded)
        return applied.rowcount == 1

    async def write_results(self, execution_id: str, results: Sequence[ResultWrite]) -> None:
        """Make `results` durable without touching the execution's row (the reporter's path
        around a result that cannot be stored: each one alone, so one bad row is found)."""
        async with self._writer.begin() as conn:
            await _end_tasks(conn, execution_id, results)

    async def save_report(self, execution_id: str, report: dict[str, Any]) -> bool:
        """Store the execution's report; False when there is no such execution."""
        async with self._writer.begin() as conn:
            result = await conn.execute(
                update(EXECUTIONS).where(EXECUTIONS.c.id == execution_id).values(report=report)
            )
        return result.rowcount == 1

    # --- reads -------------------------------------------------------------------------------

    async def get_execution(
        self, execution_id: str, owner: str | None = None, *, with_report: bool = True
    ) -> ExecutionRecord | None:
        """The execution, or None if unknown or (when `owner` is given) someone else's.
        `with_report=False` leaves the (large) report out: the status poll does not need it."""
        if "\x00" in execution_id:
            # No stored id holds a NUL (PostgreSQL's text cannot): unknown, on either database,
            # rather than an error from the driver.
            return None
        async with self._reader.connect() as conn:
            row = await _execution_row(conn, execution_id, with_report=with_report)
        if row is None or (owner is not None and row["owner"] != owner):
            return None
        return _execution_record(row)

    async def list_executions(
        self, *, owner: str | None, page: int, limit: int
    ) -> tuple[list[ExecutionRecord], int]:
        """Newest first (created_at, then id, descending); `page` is 1-based; owner None = all."""
        query = select(EXECUTIONS)
        counting = select(func.count()).select_from(EXECUTIONS)
        if owner is not None:
            query = query.where(EXECUTIONS.c.owner == owner)
            counting = counting.where(EXECUTIONS.c.owner == owner)
        query = (
            query.order_by(EXECUTIONS.c.created_at.desc(), EXECUTIONS.c.id.desc())
            .offset(max(page - 1, 0) * limit)
            .limit(limit)
        )
        async with self._reader.connect() as conn:
            rows, total = await read_page(conn, query, counting)
        return [_execution_record(row) for row in rows], total

    async def find_unfinished(self) -> list[ExecutionRecord]:
        """Executions left queued or running (to resume at start-up), oldest first."""
        query = (
            select(EXECUTIONS)
            .where(EXECUTIONS.c.status.in_(_UNFINISHED))
            .order_by(EXECUTIONS.c.created_at, EXECUTIONS.c.id)
        )
        async with self._reader.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_execution_record(row) for row in rows]

    async def counts_by_status(self) -> dict[str, int]:
        """Executions per status, every status present (0 when none)."""
        query = select(EXECUTIONS.c.status, func.count()).group_by(EXECUTIONS.c.status)
        async with self._reader.connect() as conn:
            rows = (await conn.execute(query)).all()
        counts = {status.value: 0 for status in ExecutionStatus}
        counts.update({status: count for status, count in rows})
        return counts

    async def page_results(
        self, execution_id: str, *, offset: int, limit: int, include_pending: bool = False
    ) -> tuple[list[ResultRecord], int]:
        """One page of results in task order (ordinal), and how many match in all."""
        condition = [RESULTS.c.execution_id == execution_id]
        if not include_pending:
            condition.append(RESULTS.c.status != _PENDING)
        query = (
            select(RESULTS)
            .where(*condition)
            .order_by(RESULTS.c.ordinal, RESULTS.c.id)
            .offset(max(offset, 0))
            .limit(limit)
        )
        counting = select(func.count()).select_from(RESULTS).where(*condition)
        async with self._reader.connect() as conn:
            rows, total = await read_page(conn, query, counting)
        return [_result_record(row) for row in rows], total

    async def all_results(self, execution_id: str, *, answers: bool = True) -> list[ResultRecord]:
        """Every task row of the execution in task order, pending ones included; with
        answers=False their `answer` is None, not read (what the report needs: 1000 answers
        of 3000 characters are ~9 MB to read and decode)."""
        return await self._results_where(RESULTS.c.execution_id == execution_id,
                                         answers=answers)

    async def pending_tasks(self, execution_id: str) -> list[ResultRecord]:
        """The rows whose end is not durable yet: what a resume still has to run."""
        return await self._results_where(
            RESULTS.c.execution_id == execution_id, RESULTS.c.status == _PENDING
        )

    async def ping(self) -> bool:
        """True when the database answers a trivial query (for /health)."""
        try:
            async with self._reader.connect() as conn:
                await conn.execute(select(1))
        except (SQLAlchemyError, OSError):
            return False
        return True

    async def probe_write(self) -> None:
        """A real write on the write engine (db.probe_write); raises what the database raises."""
        await probe_write(self._writer)

    async def _results_where(self, *condition: Any, answers: bool = True) -> list[ResultRecord]:
        """The rows arrive at once; their columns (the JSON ones are decoded here, on the loop)
        are processed in chunks with the loop served in between: 1000 rows of long answers at
        once held it for ~25 ms (issue 13). (A server-side cursor would need a transaction,
        which the PostgreSQL reader's autocommit does not open.)"""
        columns = RESULTS.c if answers else [
            *(c for c in RESULTS.c if c.name != "answer"),
            null().label("answer"),
        ]
        query = select(*columns).where(*condition).order_by(RESULTS.c.ordinal, RESULTS.c.id)
        records: list[ResultRecord] = []
        async with self._reader.connect() as conn:
            result = await conn.execute(query)
            for rows in result.mappings().partitions(RESULT_CHUNK):
                if records:
                    await asyncio.sleep(0)
                records += [_result_record(row) for row in rows]
        return records


# --- helpers on an open connection ---------------------------------------------------------


async def _end_tasks(
    conn: AsyncConnection, execution_id: str, results: Sequence[ResultWrite]
) -> None:
    # In task-key order: two writers ending overlapping tasks lock their rows in the same order
    # (PostgreSQL row locks), so they queue behind each other instead of deadlocking.
    ordered = sorted(results, key=lambda result: result.task_key)
    await conn.execute(_END_TASK, [_end_params(execution_id, result) for result in ordered])


async def _insert_execution(conn: AsyncConnection, values: dict[str, Any]) -> None:
    """The execution's row; a monitor's run whose slot is taken raises SlotTaken (the caller's
    transaction then rolls back, so nothing of it is written)."""
    try:
        await conn.execute(EXECUTIONS.insert(), values)
    except IntegrityError as exc:
        if values.get("monitor_id") is None:
            raise
        raise SlotTaken(
            f"monitor {values['monitor_id']} already ran slot {values['scheduled_for']}"
        ) from exc


async def _count_copied(conn: AsyncConnection, execution_id: str, total: int) -> None:
    query = (
        select(RESULTS.c.status, func.count())
        .where(RESULTS.c.execution_id == execution_id, RESULTS.c.status != _PENDING)
        .group_by(RESULTS.c.status)
    )
    counts: dict[str, int] = {status: count for status, count in (await conn.execute(query)).all()}
    completed = counts.get(ResultStatus.ok.value, 0)
    failed = sum(counts.get(status, 0) for status in _FAILED_RESULTS)
    progress = (100 * (completed + failed)) // total if total else 0
    await conn.execute(
        update(EXECUTIONS)
        .where(EXECUTIONS.c.id == execution_id)
        .values(completed=completed, failed=failed, progress=progress)
    )


_WITHOUT_REPORT = [column for column in EXECUTIONS.c if column.name != "report"]


# Built once: every status poll reads one execution, and building the SELECT again (and its
# cache key from scratch) cost more than SQLite's answer to it.
_EXECUTION_BY_ID = {
    with_report: select(*(EXECUTIONS.c if with_report else _WITHOUT_REPORT)).where(
        EXECUTIONS.c.id == bindparam("execution_id")
    )
    for with_report in (True, False)
}


async def _execution_row(
    conn: AsyncConnection, execution_id: str, *, with_report: bool = True
) -> RowMapping | None:
    query = _EXECUTION_BY_ID[with_report]
    return (await conn.execute(query, {"execution_id": execution_id})).mappings().one_or_none()


def _platform_stats(
    tasks: Sequence[TaskSpec], copied: Sequence[ResultWrite]
) -> dict[str, dict[str, int]]:
    """Per-platform counters from the first read on (copied results already count)."""
    platform_of = {task.task_key: task.platform for task in tasks}
    stats = {task.platform: {"total": 0, "completed": 0, "failed": 0} for task in tasks}
    for task in tasks:
        stats[task.platform]["total"] += 1
    for result in copied:
        platform = platform_of.get(result.task_key)
        if platform is not None:
            key = "completed" if result.status == ResultStatus.ok.value else "failed"
            stats[platform][key] += 1
    return stats


def _pending_row(execution_id: str, task: TaskSpec) -> dict[str, Any]:
    return {
        "execution_id": execution_id,
        "task_key": task.task_key,
        "ordinal": task.ordinal,
        "question": task.question,
        "template": task.template,
        "subject": task.subject,
        "platform": task.platform,
        "sample": task.sample,
        "status": _PENDING,
        "error_kind": None,
        "answer": None,
        "truncated": False,
        "error": None,
        "latency_ms": None,
        "attempts": 0,
        "usage": None,
        "analysis": None,
        "finished_at": None,
    }


def _end_params(execution_id: str, result: ResultWrite) -> dict[str, Any]:
    return {
        "b_execution_id": execution_id,
        "b_task_key": result.task_key,
        "b_status": result.status,
        "b_error_kind": result.error_kind,
        "b_answer": result.answer,
        "b_truncated": result.truncated,
        "b_error": result.error,
        "b_latency_ms": result.latency_ms,
        "b_attempts": result.attempts,
        "b_usage": result.usage,
        "b_analysis": result.analysis,
        "b_finished_at": result.finished_at,
    }


def _execution_record(row: Mapping[Any, Any]) -> ExecutionRecord:
    fields = {"report": None, **{key: value for key, value in row.items() if key != "id"}}
    return ExecutionRecord(execution_id=row["id"], **fields)


def _result_record(row: Mapping[Any, Any]) -> ResultRecord:
    return ResultRecord(**row)
