"""Engines and migrations: the one place that knows the dialect, SQLite or PostgreSQL (SPEC 9, 11).

SQLite: every connection gets WAL, synchronous=NORMAL, a busy timeout and foreign keys; write
transactions take the write lock up front (BEGIN IMMEDIATE), reads never do. PostgreSQL (asyncpg):
READ COMMITTED writes, autocommit reads, a statement timeout, pools sized from settings, and
migrations serialised by an advisory lock. No query of the service lives here, and nothing here
ever awaits HTTP.
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from alembic import command
from alembic.config import Config
from sqlalchemy import event, func, select
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

# SPEC 9: >= 5 s; DIAGNOSIS_SQLITE_BUSY_TIMEOUT_S sets it (Database.open).
BUSY_TIMEOUT_MS = 5_000
# How long a writer waits for the process's single write connection before giving up.
WRITE_POOL_TIMEOUT_S = 30.0

# PostgreSQL. Writes run READ COMMITTED: the seq guard is a conditional UPDATE, and an UPDATE that
# waited for a concurrent writer's row lock re-checks its WHERE on the row that writer committed,
# so an older seq never lands over a newer one. Reads run in autocommit: each SELECT sees the latest
# commit and holds no snapshot open; MVCC means they never wait for a writer, nor a writer for them.
POSTGRES_WRITE_ISOLATION = "READ COMMITTED"
DEFAULT_POOL_SIZE = 10  # DIAGNOSIS_DB_POOL_SIZE: per engine, so reads cannot starve the writer
DEFAULT_STATEMENT_TIMEOUT_S = 30.0  # DIAGNOSIS_DB_STATEMENT_TIMEOUT_S
# pg_advisory_xact_lock key held by a migration: instances starting together migrate in turn.
MIGRATION_LOCK_KEY = 0x6469_6167  # "diag"

# src/diagnosis/persistence/db.py -> the repository root, where alembic.ini and alembic/ live.
PROJECT_ROOT = Path(__file__).resolve().parents[3]
ALEMBIC_INI = PROJECT_ROOT / "alembic.ini"
ALEMBIC_DIR = PROJECT_ROOT / "alembic"


def is_sqlite(database_url: str | URL) -> bool:
    return make_url(database_url).get_backend_name() == "sqlite"


def is_postgres(database_url: str | URL) -> bool:
    return make_url(database_url).get_backend_name() == "postgresql"


def create_engine(
    database_url: str,
    *,
    write: bool = True,
    busy_timeout_ms: int = BUSY_TIMEOUT_MS,
    pool_size: int = DEFAULT_POOL_SIZE,
    statement_timeout_s: float = DEFAULT_STATEMENT_TIMEOUT_S,
) -> AsyncEngine:
    """An engine for `database_url`: `write=True` begins with BEGIN IMMEDIATE, else a plain BEGIN.

    On SQLite the write engine has a single pooled connection, so writers of this process queue
    on the pool instead of polling SQLite's busy handler; other processes still meet the busy
    timeout. PostgreSQL gets a pool of `pool_size` and `statement_timeout_s` (see above); other
    databases a plain engine.
    """
    url = make_url(database_url)
    if is_postgres(url):
        return _create_postgres_engine(
            url, write=write, pool_size=pool_size, statement_timeout_s=statement_timeout_s
        )
    if not is_sqlite(url):
        return create_async_engine(url, pool_pre_ping=True)
    _reject_memory(url)
    _ensure_parent_dir(url)
    if write:
        engine = create_async_engine(
            url, pool_size=1, max_overflow=0, pool_timeout=WRITE_POOL_TIMEOUT_S
        )
        _install_sqlite_hooks(
            engine, begin="BEGIN IMMEDIATE", foreign_keys=True, busy_timeout_ms=busy_timeout_ms
        )
        return engine
    # Reads run in the driver's autocommit mode: each SELECT is its own consistent snapshot
    # (WAL), and no BEGIN or reset-on-return ROLLBACK is sent. Each of those is a round trip
    # to aiosqlite's thread, which on the status route cost more than the query itself.
    engine = create_async_engine(url, pool_reset_on_return=None)
    _install_sqlite_hooks(engine, begin=None, foreign_keys=True, busy_timeout_ms=busy_timeout_ms)
    return engine


def create_migration_engine(database_url: str) -> AsyncEngine:
    """The engine Alembic runs on: one connection, transactional DDL, foreign keys OFF.

    Foreign keys are off because batch mode recreates tables on SQLite, and dropping a parent
    table with ON DELETE CASCADE enforced would delete its children.
    """
    url = make_url(database_url)
    if is_postgres(url):
        _require_asyncpg(url)
        engine = create_async_engine(url, poolclass=NullPool)
        _install_migration_lock(engine)
        return engine
    if not is_sqlite(url):
        return create_async_engine(url, poolclass=NullPool)
    _reject_memory(url)
    _ensure_parent_dir(url)
    engine = create_async_engine(url, poolclass=NullPool)
    _install_sqlite_hooks(engine, begin="BEGIN IMMEDIATE", foreign_keys=False)
    return engine


@dataclass(frozen=True, slots=True)
class Database:
    """The engines the repository works with: reads and writes, on the same database."""

    reader: AsyncEngine
    writer: AsyncEngine

    @classmethod
    def open(
        cls,
        database_url: str,
        *,
        busy_timeout_s: float | None = None,
        pool_size: int = DEFAULT_POOL_SIZE,
        statement_timeout_s: float = DEFAULT_STATEMENT_TIMEOUT_S,
    ) -> Self:
        """SQLite: `busy_timeout_s` applies. PostgreSQL: a reader and a writer pool of `pool_size`
        each, so a burst of reads never leaves a flush waiting for a connection."""
        if is_postgres(database_url):
            reader, writer = (
                create_engine(
                    database_url, write=write, pool_size=pool_size,
                    statement_timeout_s=statement_timeout_s,
                )
                for write in (False, True)
            )
            return cls(reader=reader, writer=writer)
        if not is_sqlite(database_url):
            engine = create_engine(database_url)
            return cls(reader=engine, writer=engine)
        busy = BUSY_TIMEOUT_MS if busy_timeout_s is None else round(busy_timeout_s * 1000)
        return cls(
            reader=create_engine(database_url, write=False, busy_timeout_ms=busy),
            writer=create_engine(database_url, write=True, busy_timeout_ms=busy),
        )

    async def dispose(self) -> None:
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()


async def probe_write(engine: AsyncEngine) -> None:
    """A write transaction that must reach the disk, for /health: a locked, read-only or full
    database fails it. On SQLite, rewriting `user_version` (unused by us and Alembic) dirties the
    header page, so the commit appends a WAL frame. On PostgreSQL, taking a transaction id
    (`txid_current()`) makes the commit write a WAL record, so a full disk or a read-only
    server fails it."""
    async with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            version = (await conn.exec_driver_sql("PRAGMA user_version")).scalar_one()
            await conn.exec_driver_sql(f"PRAGMA user_version = {int(version)}")
        else:
            await conn.execute(select(func.txid_current()))


def _install_sqlite_hooks(
    engine: AsyncEngine,
    *,
    begin: str | None,
    foreign_keys: bool,
    busy_timeout_ms: int = BUSY_TIMEOUT_MS,
) -> None:
    pragmas = (
        # busy_timeout first, so that switching to WAL waits for a lock instead of failing.
        f"PRAGMA busy_timeout={int(busy_timeout_ms)}",
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=NORMAL",
        f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}",
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy's documented recipe: stop the driver from emitting its own (deferred,
        # DML-only) BEGIN, and emit ours in the "begin" event below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in pragmas:
                cursor.execute(pragma)
        finally:
            cursor.close()

    if begin is None:
        return

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql(begin)


def _create_postgres_engine(
    url: URL, *, write: bool, pool_size: int, statement_timeout_s: float
) -> AsyncEngine:
    _require_asyncpg(url)
    server_settings = {
        "statement_timeout": str(max(1, round(statement_timeout_s * 1000))),
        "application_name": "diagnosis",
    }
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=WRITE_POOL_TIMEOUT_S,
        pool_pre_ping=True,
        isolation_level=POSTGRES_WRITE_ISOLATION if write else "AUTOCOMMIT",
        connect_args={"server_settings": server_settings},
    )


def _require_asyncpg(url: URL) -> None:
    if url.get_driver_name() != "asyncpg":
        raise ValueError("PostgreSQL is used through asyncpg: postgresql+asyncpg://user@host/db")


def _install_migration_lock(engine: AsyncEngine) -> None:
    """Every migration transaction first takes a transaction-scoped advisory lock: two instances
    starting on one database migrate one after the other, the second finding nothing to do."""

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY)))


def _reject_memory(url: URL) -> None:
    if url.database in (None, "", ":memory:") or (url.database or "").startswith("file::memory:"):
        raise ValueError("an in-memory SQLite database cannot be shared by the reader and writer")


def _ensure_parent_dir(url: URL) -> None:
    database = url.database or ""
    if database.startswith("file:"):
        return
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


# --- migrations ----------------------------------------------------------------------------


def alembic_config(database_url: str) -> Config:
    """Alembic's config found by path from this package, so it works from any working dir."""
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    config.attributes["database_url"] = database_url
    # The service owns logging; alembic.ini's logging section is for the alembic CLI only.
    config.attributes["configure_logger"] = False
    return config


def _upgrade(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "head")


def upgrade_to_head(database_url: str) -> None:
    """Run `alembic upgrade head`. From sync code; inside a running loop it blocks on a thread.

    (Alembic's env.py runs its own event loop, which cannot nest in a running one.)
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        _upgrade(database_url)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="alembic") as pool:
        pool.submit(_upgrade, database_url).result()


async def migrate(database_url: str) -> None:
    """Run `alembic upgrade head` from async code without blocking the event loop."""
    await asyncio.to_thread(_upgrade, database_url)
