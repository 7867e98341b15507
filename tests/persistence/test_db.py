"""Every connection carries its dialect's settings: SQLite's of SPEC 9 (writers lock up front,
readers never), PostgreSQL's (READ COMMITTED writes, autocommit reads, a statement timeout, pools
sized from settings); on both, readers never block the writer and deletes cascade."""

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from diagnosis.persistence.db import Database
from tests.databases import MakeDatabaseUrl, postgresql_only, sqlite_only
from tests.persistence.conftest import MakeDatabase


async def _pragmas(database: Database, *, write: bool) -> dict[str, object]:
    engine = database.writer if write else database.reader
    async with engine.connect() as conn:
        return {
            name: (await conn.execute(text(f"PRAGMA {name}"))).scalar_one()
            for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
        }


@sqlite_only
async def test_every_new_connection_has_wal_foreign_keys_and_a_busy_timeout(
    make_database: MakeDatabase,
) -> None:
    database = await make_database()

    for write in (True, False):
        pragmas = await _pragmas(database, write=write)

        assert pragmas["journal_mode"] == "wal"
        assert pragmas["foreign_keys"] == 1
        assert int(str(pragmas["busy_timeout"])) >= 5000
        assert pragmas["synchronous"] == 1  # NORMAL


def _other_process_can_take_write_lock(path: Path) -> bool:
    raw = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        raw.execute("BEGIN IMMEDIATE")
        raw.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
        return False
    finally:
        raw.close()


@sqlite_only
async def test_a_write_transaction_holds_the_write_lock_before_its_first_statement(
    make_database: MakeDatabase, tmp_path: Path
) -> None:
    database = await make_database()

    async with database.writer.begin():
        locked_while_writing = not _other_process_can_take_write_lock(tmp_path / "diagnosis.db")

    assert locked_while_writing
    assert _other_process_can_take_write_lock(tmp_path / "diagnosis.db")


@sqlite_only
async def test_a_read_transaction_never_takes_the_write_lock(
    make_database: MakeDatabase, tmp_path: Path
) -> None:
    database = await make_database()

    async with database.reader.connect() as conn:
        await conn.execute(text("SELECT count(*) FROM executions"))
        assert conn.in_transaction()
        free_while_reading = _other_process_can_take_write_lock(tmp_path / "diagnosis.db")

    assert free_while_reading


async def test_foreign_keys_are_enforced_and_deleting_an_execution_cascades(
    make_database: MakeDatabase,
) -> None:
    database = await make_database()
    async with database.writer.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO executions (id, brand, aliases, competitors, questions, platforms,"
                " samples, deadline_s, status, stage, total, completed, failed, progress, seq,"
                " created_at, updated_at) VALUES ('e', 'NIO', '[]', '[]', '[]', '[]', 1, 300,"
                " 'queued', 'init', 1, 0, 0, 0, 0, '2026-01-01', '2026-01-01')"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO task_results (execution_id, task_key, ordinal, question, template,"
                " platform, sample, status, attempts) VALUES ('e', 'k', 0, 'q', 'q', 'demo', 0,"
                " 'pending', 0)"
            )
        )

    async with database.writer.begin() as conn:
        await conn.execute(text("DELETE FROM executions WHERE id = 'e'"))
        remaining = (await conn.execute(text("SELECT count(*) FROM task_results"))).scalar_one()

    assert remaining == 0


@postgresql_only
async def test_postgres_writes_read_committed_reads_autocommit_with_a_statement_timeout(
    make_database_url: MakeDatabaseUrl,
) -> None:
    # given a database opened as the service opens it, with settings of its own
    database = Database.open(make_database_url(), pool_size=3, statement_timeout_s=2.5)
    try:
        # when a write transaction and a read look at their own sessions
        async with database.writer.begin() as conn:
            isolation = (await conn.execute(text("SHOW transaction_isolation"))).scalar_one()
            timeout = (await conn.execute(text("SHOW statement_timeout"))).scalar_one()
            app = (await conn.execute(text("SHOW application_name"))).scalar_one()
        async with database.reader.connect() as reader:
            reader_pid = (await reader.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            async with database.writer.connect() as other:
                reader_state = (
                    await other.execute(
                        text("SELECT state FROM pg_stat_activity WHERE pid = :pid"),
                        {"pid": reader_pid},
                    )
                ).scalar_one()

        # then writes are READ COMMITTED, a read leaves no transaction open on the server, and
        # both pools have the size asked for
        assert (isolation, timeout, app) == ("read committed", "2500ms", "diagnosis")
        assert reader_state == "idle"
        assert database.reader.pool.size() == database.writer.pool.size() == 3  # type: ignore[attr-defined]
    finally:
        await database.dispose()


@postgresql_only
async def test_postgres_cancels_a_statement_past_the_statement_timeout(
    make_database_url: MakeDatabaseUrl,
) -> None:
    database = Database.open(make_database_url(), statement_timeout_s=0.05)
    try:
        with pytest.raises(DBAPIError, match="statement timeout"):
            async with database.writer.begin() as conn:
                await conn.execute(text("SELECT pg_sleep(5)"))
    finally:
        await database.dispose()


async def test_a_reader_holding_its_connection_never_blocks_the_writer(
    make_database: MakeDatabase,
) -> None:
    database = await make_database()

    # given a reader that has read the table and still holds its connection
    async with database.reader.connect() as reader:
        await reader.execute(text("SELECT count(*) FROM executions"))
        # when a writer writes and commits meanwhile, then it does not wait for the reader
        async with asyncio.timeout(10):
            async with database.writer.begin() as conn:
                await conn.execute(text("DELETE FROM executions WHERE id = 'none'"))


@postgresql_only
async def test_a_postgres_statement_timeout_is_transient_and_the_write_probe_writes(
    make_database_url: MakeDatabaseUrl,
) -> None:
    from diagnosis.persistence.db import probe_write
    from diagnosis.persistence.faults import is_transient

    database = Database.open(make_database_url(), statement_timeout_s=0.05)
    try:
        # given a statement that outlives the statement timeout
        with pytest.raises(DBAPIError) as caught:
            async with database.writer.begin() as conn:
                await conn.execute(text("SELECT pg_sleep(1)"))
        # then it is a "retry later", not "this data can never be stored"
        assert is_transient(caught.value)
        # and the health probe takes a transaction id, so its commit must write WAL
        await probe_write(database.writer)
    finally:
        await database.dispose()
