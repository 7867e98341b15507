"""Alembic's head is the models' schema on both dialects, from an empty database; the programmatic
upgrade works from anywhere; instances migrating one PostgreSQL database at once take turns."""

import asyncio
import sqlite3
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import column, select, table
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import diagnosis.persistence.models  # noqa: F401  (registers the tables)
from diagnosis.persistence.db import alembic_config, create_engine, migrate, upgrade_to_head
from tests.databases import MakeDatabaseUrl, postgresql_only


def _schema_differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, SQLModel.metadata))


async def test_upgrade_head_on_an_empty_database_matches_the_models(
    make_database_url: MakeDatabaseUrl,
) -> None:
    # given an empty database (a new SQLite file, a new PostgreSQL database) upgraded to head
    url = make_database_url("fresh", empty=True)
    await migrate(url)

    # when autogenerate compares it with the models
    engine = create_engine(url, write=False)
    try:
        async with engine.connect() as conn:
            differences = await conn.run_sync(_schema_differences)
    finally:
        await engine.dispose()

    # then there is nothing to migrate
    assert differences == []


async def test_sync_upgrade_runs_inside_a_running_loop_from_any_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a working directory with no alembic.ini and a database in a missing directory
    monkeypatch.chdir(tmp_path)
    database = tmp_path / "nested" / "dir" / "diagnosis.db"

    # when the sync entry point is called from inside this test's event loop, twice
    upgrade_to_head(f"sqlite+aiosqlite:///{database}")
    upgrade_to_head(f"sqlite+aiosqlite:///{database}")

    # then the directory was created and the file is at head
    with sqlite3.connect(database) as raw:
        head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
        assert raw.execute("SELECT version_num FROM alembic_version").fetchall() == [(head,)]


def test_sync_upgrade_runs_without_a_loop(tmp_path: Path) -> None:
    database = tmp_path / "plain.db"

    upgrade_to_head(f"sqlite+aiosqlite:///{database}")

    with sqlite3.connect(database) as raw:
        tables = {row[0] for row in raw.execute("SELECT name FROM sqlite_master")}
    assert {"executions", "task_results", "alembic_version"} <= tables


async def _version_rows(url: str) -> list[tuple[str, ...]]:
    engine = create_engine(url, write=False)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(select(table("alembic_version", column("version_num"))))
            return [tuple(row) for row in rows]
    finally:
        await engine.dispose()


_MIGRATE = (
    "import sys; from diagnosis.persistence.db import upgrade_to_head; upgrade_to_head(sys.argv[1])"
)


@postgresql_only
async def test_instances_migrating_one_empty_postgres_database_at_once_take_turns(
    make_database_url: MakeDatabaseUrl,
) -> None:
    # given an empty PostgreSQL database
    url = make_database_url("together", empty=True)

    # when three processes start at once, each migrating it (as instances of `serve` do)
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", _MIGRATE, url, stderr=asyncio.subprocess.PIPE
        )
        for _ in range(3)
    ]
    outcomes = [(await proc.communicate(), proc.returncode) for proc in procs]

    # then each succeeded and the database is at head, once
    assert [code for _, code in outcomes] == [0, 0, 0], outcomes
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert await _version_rows(url) == [(head,)]
