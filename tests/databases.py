"""The databases tests run on: SQLite files under tmp_path, and PostgreSQL databases of this run
(unique names, dropped at its end), so parallel runs on one server never meet.

A PostgreSQL test gets a database no other test is using: a new one, or one an earlier test of
this run released, emptied (every table truncated, its connections ended) so it reads as new.
Creating a database costs ~0.4 s on a busy disk; emptying one a few ms.

`make_database_url(name)` is the factory every suite's fixtures use; `database_backend` is
parametrized over both dialects, so a test that reaches a database runs on each. Where PostgreSQL
is unreachable its half is skipped with one reason; under CI it fails instead (a skip would hide
a missing service). DIAGNOSIS_TEST_POSTGRES_URL points at another server (default: the local one).
"""

import asyncio
import contextlib
import os
import re
import secrets
from collections.abc import Callable, Coroutine, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pytest
from sqlalchemy.engine import make_url

from diagnosis.persistence.db import upgrade_to_head

ADMIN_URL = os.environ.get(
    "DIAGNOSIS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ("sqlite", "postgresql")
# Databases of a run are named diagtest_<pid>_<random>_<name>: a later run drops those whose
# process is gone (a run killed before its teardown).
PREFIX = "diagtest"
_LEFTOVER = re.compile(rf"^{PREFIX}_(\d+)_")

T = TypeVar("T")

# Pin a test to one dialect, when what it checks exists only there (SQLite's pragmas, say).
sqlite_only = pytest.mark.parametrize("database_backend", ["sqlite"], indirect=True)
postgresql_only = pytest.mark.parametrize("database_backend", ["postgresql"], indirect=True)


class MakeDatabaseUrl(Protocol):
    def __call__(self, name: str = "diagnosis", *, empty: bool = False) -> str: ...


def _run(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to the end on its own loop in a thread: callable from sync fixtures and
    from inside a test's running loop alike."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-admin") as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


def _quoted(name: str) -> str:
    assert re.fullmatch(r"[a-z0-9_]+", name), name
    return f'"{name}"'


class PostgresServer:
    """Creates and drops this run's databases through the admin URL (asyncpg)."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.run_id = f"{PREFIX}_{os.getpid()}_{secrets.token_hex(3)}"
        self._template: str | None = None
        self._free: list[str] = []  # migrated and emptied, ready for the next test
        self._owned: set[str] = set()  # every database of this run, to drop at its end

    def describe(self) -> str:
        return make_url(self.admin_url).render_as_string(hide_password=True)

    def unreachable(self) -> str | None:
        """Why the server cannot be used, or None when it answers."""
        import asyncpg

        async def probe() -> None:
            conn = await asyncpg.connect(self.admin_url, timeout=3)
            await conn.close()

        try:
            _run(probe)
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            return f"{type(exc).__name__}: {exc}".splitlines()[0]
        return None

    def version(self) -> str:
        """The server's version, e.g. "15.20" (for the bench's report)."""
        import asyncpg

        async def version() -> str:
            conn = await asyncpg.connect(self.admin_url, timeout=10)
            try:
                return str(await conn.fetchval("SHOW server_version")).split()[0]
            finally:
                await conn.close()

        return _run(version)

    def dsn(self, database: str) -> str:
        """asyncpg's own form of the URL of `database`."""
        return make_url(self.admin_url).set(database=database).render_as_string(hide_password=False)

    def url(self, database: str) -> str:
        admin = make_url(self.admin_url)
        return admin.set(drivername="postgresql+asyncpg", database=database).render_as_string(
            hide_password=False
        )

    def acquire(self, *, empty: bool) -> str:
        """A database for one test: `empty` (no tables: always new), else migrated (a migration
        then finds nothing to do)."""
        if not empty and self._free:
            return self.url(self._free.pop())
        database = f"{self.run_id}_{secrets.token_hex(3)}{'_empty' if empty else ''}"
        template = "template0" if empty else self._migrated_template()
        self._execute(f"CREATE DATABASE {_quoted(database)} TEMPLATE {_quoted(template)}")
        self._owned.add(database)
        return self.url(database)

    def release(self, urls: Iterable[str]) -> None:
        """The test is over: a migrated database is emptied for the next one, an empty-born one
        (migrated by the test, or not) is dropped."""
        for url in urls:
            database = make_url(url).database or ""
            if database.endswith("_empty") or not self._empty_out(database):
                self.drop([url])
                self._owned.discard(database)
            else:
                self._free.append(database)

    def drop(self, urls: Iterable[str]) -> None:
        """Drop the databases, ending any connection left to them (a killed server's)."""
        names = [make_url(url).database or "" for url in urls]
        self._execute(*(f"DROP DATABASE IF EXISTS {_quoted(n)} WITH (FORCE)" for n in names))

    def drop_leftovers(self) -> None:
        """Databases of earlier runs whose process no longer exists."""
        import asyncpg

        async def names() -> list[str]:
            conn = await asyncpg.connect(self.admin_url, timeout=3)
            try:
                rows = await conn.fetch(
                    "SELECT datname FROM pg_database WHERE datname LIKE $1", f"{PREFIX}\\_%"
                )
            finally:
                await conn.close()
            return [row["datname"] for row in rows]

        dead = [
            name for name in _run(names)
            if (match := _LEFTOVER.match(name)) and not _alive(int(match.group(1)))
        ]
        self.drop(self.url(name) for name in dead)

    def close(self) -> None:
        names = [*self._owned, *([self._template] if self._template else [])]
        self.drop(self.url(name) for name in names)
        self._owned.clear()
        self._free.clear()
        self._template = None

    def _empty_out(self, database: str) -> bool:
        """End the connections left to `database` and truncate every table but Alembic's."""
        import asyncpg

        async def empty_out() -> None:
            conn = await asyncpg.connect(self.dsn(database), timeout=10)
            try:
                await conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                tables = [
                    row["tablename"]
                    for row in await conn.fetch(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                        " AND tablename <> 'alembic_version'"
                    )
                ]
                if tables:
                    names = ", ".join(_quoted(table) for table in tables)
                    await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
            finally:
                await conn.close()

        try:
            _run(empty_out)
        except (OSError, TimeoutError, asyncpg.PostgresError):
            return False
        return True

    def _migrated_template(self) -> str:
        if self._template is None:
            template = f"{self.run_id}_template"
            self._execute(f"CREATE DATABASE {_quoted(template)} TEMPLATE template0")
            self._template = template
            upgrade_to_head(self.url(template))
        return self._template

    def _execute(self, *statements: str) -> None:
        import asyncpg

        async def execute() -> None:
            conn = await asyncpg.connect(self.admin_url, timeout=10)
            try:
                for statement in statements:
                    await conn.execute(statement)
            finally:
                await conn.close()

        if statements:
            _run(execute)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


UNREACHABLE = "PostgreSQL is not reachable"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Report every skip for an unreachable PostgreSQL at one place, so that the summary folds
    them into ONE line ("SKIPPED [n] tests/databases.py: PostgreSQL is not reachable ...")."""
    outcome: Any = yield
    report = outcome.get_result()
    longrepr = report.longrepr
    if report.skipped and isinstance(longrepr, tuple) and UNREACHABLE in str(longrepr[2]):
        here = Path(__file__).resolve().relative_to(item.config.rootpath)
        report.longrepr = (str(here), None, longrepr[2])


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The PostgreSQL server of this run; skipped (failed under CI) when it does not answer."""
    server = PostgresServer(ADMIN_URL)
    problem = server.unreachable()
    if problem is not None:
        message = (
            f"{UNREACHABLE} at {server.describe()} ({problem}): the PostgreSQL half "
            "of the database tests needs it (start it: pg_ctlcluster 15 main start)"
        )
        if os.environ.get("CI"):
            pytest.fail(f"CI needs the PostgreSQL service. {message}")  # a skip would hide it
        pytest.skip(message)
    with contextlib.suppress(Exception):
        server.drop_leftovers()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(params=BACKENDS)
def database_backend(request: pytest.FixtureRequest) -> str:
    """The dialect this test runs on: every database-backed test runs once on each."""
    if request.param == "postgresql":
        request.getfixturevalue("postgres_server")
    return str(request.param)


@pytest.fixture
def make_database_url(
    database_backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[MakeDatabaseUrl]:
    """`make_database_url("api")`: the URL of this test's database of that name (the same URL
    each time for the same name). SQLite: tmp_path/<name>.db. PostgreSQL: a database no other
    test uses, migrated already unless `empty=True`."""
    if database_backend == "sqlite":

        def sqlite_url(name: str = "diagnosis", *, empty: bool = False) -> str:
            return f"sqlite+aiosqlite:///{tmp_path / f'{name}.db'}"

        yield sqlite_url
        return

    server: PostgresServer = request.getfixturevalue("postgres_server")
    acquired: dict[str, str] = {}

    def postgres_url(name: str = "diagnosis", *, empty: bool = False) -> str:
        if name not in acquired:
            acquired[name] = server.acquire(empty=empty)
        return acquired[name]

    try:
        yield postgres_url
    finally:
        server.release(acquired.values())
