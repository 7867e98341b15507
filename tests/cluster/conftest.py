"""Factories for the cluster tests inside one test process: an API node (the queue runner) and
worker nodes (SAQ workers), each with its own Redis client and engine, as separate processes
would have, on one PostgreSQL database and one Redis key prefix of the test."""

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from diagnosis.cluster.deployment import Cluster
from diagnosis.cluster.reconciler import Reconciler
from diagnosis.cluster.worker import ExecutionWorker
from diagnosis.engine.service import Engine
from diagnosis.persistence.db import Database, migrate
from diagnosis.persistence.repository import Repository
from diagnosis.providers.config import PlatformConfig
from diagnosis.providers.registry import PlatformRegistry, load_platforms
from diagnosis.settings import Settings
from tests.databases import MakeDatabaseUrl
from tests.redis_service import RedisSpace


@dataclass
class Node:
    engine: Engine
    cluster: Cluster
    worker: ExecutionWorker | None = None
    reconciler: Reconciler | None = None
    task: "asyncio.Task[None] | None" = None


NodeFactory = Callable[..., Any]


@pytest.fixture
def cluster_settings(make_database_url: MakeDatabaseUrl, redis_space: RedisSpace) -> Callable[
        ..., Settings]:
    url = make_database_url("cluster")

    def build(**overrides: Any) -> Settings:
        fields: dict[str, Any] = {
            "database_url": url,
            "redis_url": redis_space.url,
            "redis_prefix": redis_space.prefix,
            "runner": "queue",
            "stream_token_secret": "test-secret",
            "flush_interval_s": 0.05,
            "retry_backoff_s": 0.01,
            "retry_backoff_cap_s": 0.05,
            # The product's defaults: no in-process node is ever killed, so nothing here waits
            # for a sweep, and with a 2 s heartbeat (touched every 1 s) one stall of a loaded
            # machine's shared loop let the sweep hand a running job to a worker again.
            "worker_heartbeat_s": 10,
            "worker_sweep_s": 5,
            "lease_ttl_s": 10.0,
            "reconcile_interval_s": 3600,  # tests run passes themselves
            "start_rate_per_min": 0,
        }
        fields.update(overrides)
        return Settings(**fields)

    return build


@pytest.fixture
def make_node(cluster_settings: Callable[..., Settings]) -> NodeFactory:
    """`async with make_node("api" | "worker", platforms=[...], concurrency=2) as node:`; a
    worker node is taking jobs until the block ends (then it stops as on SIGTERM)."""

    @asynccontextmanager
    async def factory(role: str, platforms: list[PlatformConfig] | None = None, *,
                      concurrency: int = 2, **overrides: Any) -> AsyncIterator[Node]:
        settings = cluster_settings(**overrides)
        configs = load_platforms(None)
        for p in platforms or []:
            configs[p.id] = p
        await migrate(settings.database_url)
        database = Database.open(settings.database_url)
        cluster = Cluster(settings)
        await cluster.start()
        parts = cluster.api_parts() if role == "api" else cluster.worker_parts()
        engine = Engine(settings, Repository(database), PlatformRegistry(configs), parts=parts)
        await engine.start()
        node = Node(engine, cluster)
        if role == "worker":
            node.reconciler = Reconciler(engine.repository, cluster.queue,
                                         interval_s=settings.reconcile_interval_s,
                                         heartbeat_s=settings.worker_heartbeat_s)
            node.worker = ExecutionWorker(
                engine, queue=cluster.queue, stops=cluster.stops, reconciler=node.reconciler,
                concurrency=concurrency, heartbeat_s=settings.worker_heartbeat_s,
                sweep_s=settings.worker_sweep_s,
            )
            node.task = asyncio.create_task(node.worker.run(handle_signals=False))
        try:
            yield node
        finally:
            if node.worker is not None and node.task is not None:
                node.worker.request_stop()
                await asyncio.wait_for(node.task, 30)
            await engine.aclose(timeout_s=5)
            await cluster.aclose()
            await database.dispose()

    return factory


@pytest.fixture
async def dump_stuck_tasks() -> AsyncIterator[None]:
    """A test still running after 150 s prints every asyncio task's stack and is cancelled, so
    it fails with the line it waits on (pytest-timeout, at 300 s, shows only the threads)."""
    loop = asyncio.get_running_loop()

    def dump_and_cancel() -> None:
        for task in asyncio.all_tasks(loop):
            print(f"--- task {task.get_name()}", file=sys.stderr)
            task.print_stack(file=sys.stderr)
            if task.get_coro().__qualname__.startswith("test_"):  # type: ignore[union-attr]
                task.cancel()

    handle = loop.call_later(150, dump_and_cancel)
    yield
    handle.cancel()
