"""Alembic's head is the models' schema, and the programmatic upgrade works from anywhere."""

import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import diagnosis.persistence.models  # noqa: F401  (registers the tables)
from diagnosis.persistence.db import alembic_config, create_engine, migrate, upgrade_to_head


def _schema_differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, SQLModel.metadata))


async def test_upgrade_head_on_a_fresh_file_matches_the_models(tmp_path: Path) -> None:
    # given a fresh file upgraded to head
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
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
