"""Fixtures (factories) for persistence tests: real, migrated databases, SQLite files and
PostgreSQL databases (tests.databases: each test runs on both)."""

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import pytest

from diagnosis.persistence.db import Database, migrate
from diagnosis.persistence.records import ExecutionRecord, ResultWrite, TaskSpec
from diagnosis.persistence.repository import Repository
from tests.databases import MakeDatabaseUrl
from tests.persistence.factories import task_specs

MakeDatabase = Callable[..., Awaitable[Database]]
MakeRepository = Callable[..., Awaitable[Repository]]
MakeExecution = Callable[..., Awaitable[ExecutionRecord]]


@pytest.fixture
async def make_database(make_database_url: MakeDatabaseUrl) -> AsyncIterator[MakeDatabase]:
    """Migrate a database (once per name) and open engines on it; all disposed at teardown."""
    opened: list[Database] = []
    migrated: set[str] = set()

    async def build(name: str = "diagnosis") -> Database:
        url = make_database_url(name)
        if url not in migrated:
            await migrate(url)
            migrated.add(url)
        database = Database.open(url)
        opened.append(database)
        return database

    yield build
    for database in opened:
        await database.dispose()


@pytest.fixture
def make_repository(make_database: MakeDatabase) -> MakeRepository:
    async def build(name: str = "diagnosis") -> Repository:
        return Repository(await make_database(name))

    return build


@pytest.fixture
def make_execution() -> MakeExecution:
    """Create an execution with `tasks` (default: 10 demo tasks) on a given repository."""

    async def build(
        repository: Repository,
        execution_id: str = "exec-1",
        *,
        owner: str | None = None,
        tasks: Sequence[TaskSpec] | None = None,
        copied: Sequence[ResultWrite] = (),
        retry_of: str | None = None,
        **overrides: Any,
    ) -> ExecutionRecord:
        planned = list(tasks) if tasks is not None else task_specs(10)
        fields: dict[str, Any] = {
            "brand": "NIO",
            "aliases": ["蔚来"],
            "competitors": [{"name": "BYD", "aliases": ["比亚迪"]}],
            "questions": ["question about {brand}"],
            "platforms": ["demo"],
            "samples": 1,
            "deadline_s": 300,
            "total": len(planned),
        }
        fields.update(overrides)
        return await repository.create_execution(
            execution_id=execution_id,
            owner=owner,
            retry_of=retry_of,
            tasks=planned,
            copied=copied,
            **fields,
        )

    return build
