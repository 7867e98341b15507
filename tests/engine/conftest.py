"""Factories for engine tests: a real database (a SQLite file, a PostgreSQL database), real HTTP
to the loopback fake provider."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from diagnosis.engine.service import Engine, NewDiagnosis
from diagnosis.persistence.db import Database, migrate
from diagnosis.persistence.repository import Repository
from diagnosis.providers.config import PlatformConfig
from diagnosis.providers.registry import PlatformRegistry, load_platforms
from diagnosis.settings import Settings
from tests.databases import MakeDatabaseUrl


def fake_platform(pid: str, base_url: str, **overrides: Any) -> PlatformConfig:
    fields: dict[str, Any] = {
        "id": pid,
        "kind": "openai",
        "base_url": base_url,
        "model": pid,
        "display_name": pid.upper(),
        "max_concurrency": 4,
        "timeout_s": 5.0,
        "max_retries": 2,
        "failure_threshold": 5,
        "reset_timeout_s": 30.0,
    }
    fields.update(overrides)
    return PlatformConfig(**fields)


def request(platforms: list[str], **overrides: Any) -> NewDiagnosis:
    fields: dict[str, Any] = {
        "brand": "蔚来",
        "platforms": platforms,
        "aliases": ["NIO"],
        "questions": ["20万左右的新能源汽车品牌推荐"],
    }
    fields.update(overrides)
    return NewDiagnosis(**fields)


@pytest.fixture
def db_url(make_database_url: MakeDatabaseUrl) -> str:
    """This test's database, SQLite or PostgreSQL (tests.databases: each test runs on both)."""
    return make_database_url("engine")


EngineFactory = Callable[..., Any]


@pytest.fixture
def make_engine(db_url: str) -> EngineFactory:
    """`async with make_engine(platforms=[...], flush_interval_s=...) as engine:`"""

    @asynccontextmanager
    async def factory(
        platforms: list[PlatformConfig] | None = None, **settings: Any
    ) -> AsyncIterator[Engine]:
        defaults: dict[str, Any] = {
            "database_url": db_url,
            "flush_interval_s": 0.05,
            "retry_backoff_s": 0.01,
            "retry_backoff_cap_s": 0.05,
        }
        defaults.update(settings)
        config = Settings(**defaults)
        configs = load_platforms(None)
        for p in platforms or []:
            configs[p.id] = p
        await migrate(config.database_url)
        database = Database.open(config.database_url)
        engine = Engine(config, Repository(database), PlatformRegistry(configs))
        try:
            yield engine
        finally:
            await engine.aclose()
            await database.dispose()

    return factory
