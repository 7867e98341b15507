"""One process of the scaled-out deployment (SPEC 11): its Redis client and the cluster's parts
it plugs into the engine's seams, for an API instance or for a worker. Built in ONE place per
process kind (the app factory, `diagnosis worker`) and closed after the engine.
"""

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis

from diagnosis.cluster.control import StopRequests
from diagnosis.cluster.events import RedisBroker
from diagnosis.cluster.leader import Leadership
from diagnosis.cluster.limits import RedisPlatformGates, RedisStartRateLimiter
from diagnosis.cluster.live import RedisLiveMirror
from diagnosis.cluster.queue import QueueRunner, make_queue
from diagnosis.engine.service import EngineParts
from diagnosis.settings import Settings

if TYPE_CHECKING:
    from diagnosis.engine.service import Engine

log = logging.getLogger("diagnosis.cluster")

# A live entry nobody refreshes (its worker died) disappears after this (SPEC 5: cache_miss).
LIVE_TTL_S = 30.0


class Cluster:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.prefix = settings.redis_prefix
        # Keepalive and a health check: a silently dead link (no TCP reset) would otherwise
        # leave the pub/sub listeners waiting forever.
        self.redis = aioredis.Redis.from_url(
            settings.redis_url, health_check_interval=15, socket_keepalive=True,
            socket_connect_timeout=5,
        )
        self.queue = make_queue(self.redis, prefix=self.prefix)
        self.stops = StopRequests(self.redis, prefix=self.prefix)
        self.broker = RedisBroker(redis=self.redis, prefix=self.prefix)
        self.mirror = RedisLiveMirror(
            redis=self.redis, prefix=self.prefix, interval_s=settings.live_cache_interval_s,
            ttl_s=LIVE_TTL_S,
        )
        self.gates = RedisPlatformGates(
            redis=self.redis, prefix=self.prefix, lease_ttl_s=settings.lease_ttl_s,
            storage_uri=settings.redis_url,
        )
        self.start_limiter = RedisStartRateLimiter(
            settings.redis_url, per_minute=settings.start_rate_per_min, prefix=self.prefix,
        )

    def api_parts(self) -> EngineParts:
        """An API instance enqueues, reads the live cache, serves every instance's events."""
        def runner(engine: "Engine") -> QueueRunner:
            return QueueRunner(engine, queue=self.queue, stops=self.stops,
                               heartbeat_s=self.settings.worker_heartbeat_s)
        return EngineParts(broker=self.broker, mirror=self.mirror, runner=runner)

    def worker_parts(self) -> EngineParts:
        """A worker runs executions in process, under the cluster-wide platform limits."""
        return EngineParts(broker=self.broker, mirror=self.mirror, gates=self.gates)

    async def lead_monitors(self, state: Any, fresh: Callable[[], Any]) -> Leadership:
        """The monitors' scheduler and webhook deliveries run in the one API instance holding
        the lead; `state.monitors` (the routes' runtime) is started there. A closed runtime
        cannot start again, so stepping down leaves a `fresh()` idle one for the routes."""

        async def lead() -> Callable[[], Awaitable[None]]:
            runtime = state.monitors
            await runtime.start()

            async def step_down() -> None:
                await runtime.aclose()
                state.monitors = fresh()

            return step_down

        leadership = Leadership(
            self.redis, name=f"{self.prefix}:lead:monitors",
            ttl_s=max(3.0, self.settings.lease_ttl_s), lead=lead,
        )
        await leadership.start()
        return leadership

    async def start(self) -> None:
        await self.queue.connect()
        await self.gates.start()

    async def aclose(self) -> None:
        """After the engine: its broker and mirror are closed by Engine.aclose."""
        await self.gates.aclose()
        await self.start_limiter.aclose()
        try:
            await self.queue.disconnect()  # closes the shared client too
        except Exception as exc:  # closing must not fail a shutdown
            log.warning("closing Redis failed: %s", type(exc).__name__)


async def run_worker(settings: Settings, *, concurrency: int) -> None:
    """`diagnosis worker`: until SIGTERM, run executions taken from the queue."""
    from diagnosis.cluster.reconciler import Reconciler
    from diagnosis.cluster.worker import ExecutionWorker
    from diagnosis.engine.service import Engine
    from diagnosis.heap import freeze_startup_heap
    from diagnosis.persistence.db import Database, migrate
    from diagnosis.persistence.repository import Repository
    from diagnosis.providers.registry import PlatformRegistry, load_platforms

    await migrate(settings.database_url)
    database = Database.open(
        settings.database_url, busy_timeout_s=settings.sqlite_busy_timeout_s,
        pool_size=settings.db_pool_size, statement_timeout_s=settings.db_statement_timeout_s,
    )
    cluster = Cluster(settings)
    await cluster.start()
    engine = Engine(settings, Repository(database),
                    PlatformRegistry(load_platforms(settings.platforms_file)),
                    parts=cluster.worker_parts())
    await engine.start()
    reconciler = Reconciler(engine.repository, cluster.queue,
                            interval_s=settings.reconcile_interval_s,
                            heartbeat_s=settings.worker_heartbeat_s)
    worker = ExecutionWorker(
        engine, queue=cluster.queue, stops=cluster.stops, reconciler=reconciler,
        concurrency=concurrency, heartbeat_s=settings.worker_heartbeat_s,
        sweep_s=settings.worker_sweep_s,
    )
    freeze_startup_heap()
    log.info("worker started concurrency=%d", concurrency)
    try:
        await worker.run()
    finally:
        await engine.aclose(timeout_s=settings.shutdown_timeout_s * 0.3)
        await cluster.aclose()
        await database.dispose()
        log.info("worker stopped")
