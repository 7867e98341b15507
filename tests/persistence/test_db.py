"""Every connection carries the SQLite settings of SPEC 9; writers lock up front, readers never."""

import sqlite3
from pathlib import Path

from sqlalchemy import text

from diagnosis.persistence.db import Database
from tests.persistence.conftest import MakeDatabase


async def _pragmas(database: Database, *, write: bool) -> dict[str, object]:
    engine = database.writer if write else database.reader
    async with engine.connect() as conn:
        return {
            name: (await conn.execute(text(f"PRAGMA {name}"))).scalar_one()
            for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
        }


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


async def test_a_write_transaction_holds_the_write_lock_before_its_first_statement(
    make_database: MakeDatabase, tmp_path: Path
) -> None:
    database = await make_database()

    async with database.writer.begin():
        locked_while_writing = not _other_process_can_take_write_lock(tmp_path / "diagnosis.db")

    assert locked_while_writing
    assert _other_process_can_take_write_lock(tmp_path / "diagnosis.db")


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
