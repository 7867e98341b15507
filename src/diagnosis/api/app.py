"""The app factory and its lifespan: the database, platform clients and engine start with the
app and close after it; shutdown stops calls, flushes and leaves executions resumable (SPEC 4).
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from diagnosis import __version__
from diagnosis.api import compat, diagnoses, events, monitors, system
from diagnosis.api.auth import Authenticator, StartRateLimiter
from diagnosis.api.body_limit import BodyLimitMiddleware
from diagnosis.api.errors import install_error_handlers
from diagnosis.api.openapi import install_openapi
from diagnosis.engine.service import Engine
from diagnosis.heap import freeze_startup_heap
from diagnosis.monitors.runtime import MonitorRuntime
from diagnosis.persistence.db import Database, migrate
from diagnosis.persistence.repository import Repository
from diagnosis.providers.registry import PlatformRegistry, load_platforms
from diagnosis.settings import Settings, get_settings

log = logging.getLogger("diagnosis.api")

DESCRIPTION = """
Measures how AI assistants talk about a brand: every question on every chosen platform,
concurrently, then mention rate, rank, tone, share of voice, sources and gaps.

衡量 AI 助手如何谈论一个品牌：在所选平台上并发提问，
统计提及率、排名、情感、声量份额、引用来源与缺口。

Flow / 流程: `POST /api/diagnoses` → poll `GET /api/diagnoses/{id}` or stream
`GET /api/diagnoses/{id}/events` → `GET /api/diagnoses/{id}/report`.
"""


def web_dir() -> str:
    return str(resources.files("diagnosis") / "web")


def create_app(settings: Settings | None = None, *, resume: bool = True) -> FastAPI:
    settings = settings or get_settings()
    platforms = load_platforms(settings.platforms_file)  # a bad file fails here, at start

    # SPEC 11: DIAGNOSIS_RUNNER=queue plugs the cluster's parts into the engine's seams; this is
    # the one place an API instance chooses them.
    cluster = _cluster(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await migrate(settings.database_url)
        database = Database.open(
            settings.database_url, busy_timeout_s=settings.sqlite_busy_timeout_s,
            pool_size=settings.db_pool_size, statement_timeout_s=settings.db_statement_timeout_s,
        )
        if cluster is not None:
            await cluster.start()
        engine = Engine(settings, Repository(database), PlatformRegistry(platforms),
                        parts=cluster.api_parts() if cluster is not None else None)
        await engine.start()
        app.state.engine = engine
        if resume:
            await engine.runner.resume_unfinished()
        # Monitors (SPEC 12): the scheduler runs in this process, or, in a cluster, in the one
        # API instance that holds the lead.
        app.state.monitors = MonitorRuntime(engine, database)
        if cluster is None:
            await app.state.monitors.start()
            stop_monitors = app.state.monitors.aclose
        else:
            leadership = await cluster.lead_monitors(
                app.state, lambda: MonitorRuntime(engine, database)
            )
            stop_monitors = leadership.aclose
        freeze_startup_heap()  # start-up is done: no full collection walks what it built
        try:
            yield
        finally:
            await stop_monitors()  # cancels the scheduler and deliveries (alerts stay pending)
            # SIGTERM ends within DIAGNOSIS_SHUTDOWN_TIMEOUT_S: uvicorn spends at most 30% of it
            # on open connections (cli.py), the executions 60% to stop and flush, the rest
            # closing the database, even when it fails.
            budget = settings.shutdown_timeout_s
            await engine.aclose(timeout_s=budget * 0.6)
            if cluster is not None:
                await cluster.aclose()
            try:
                async with asyncio.timeout(budget * 0.1):
                    await database.dispose()
            except TimeoutError:
                log.error("shutdown: database connections did not close in time")

    app = FastAPI(
        title="Brand diagnosis / 品牌诊断",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.authenticator = Authenticator(
        settings.token_owners(), secret=settings.stream_token_secret.get_secret_value() or None
    )
    app.state.rate_limiter = (
        cluster.start_limiter if cluster is not None
        else StartRateLimiter(settings.start_rate_per_min)
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    install_error_handlers(app)
    install_openapi(app, platform_names=configured_names(platforms))
    monitors.document(app, min_interval_s=settings.monitor_min_interval_s)
    app.include_router(diagnoses.router)
    app.include_router(events.router)
    app.include_router(system.router)
    app.include_router(compat.router)
    app.include_router(monitors.router)
    _mount_web(app)
    return app


def _cluster(settings: Settings) -> Any:
    if settings.runner != "queue":
        return None
    from diagnosis.cluster.deployment import Cluster  # Redis and SAQ only when asked for

    return Cluster(settings)


def configured_names(platforms: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for pid, config in platforms.items():
        if config.configured:
            for name in (pid, config.display_name, *config.aliases):
                if name and name not in names:
                    names.append(name)
    return names


def _mount_web(app: FastAPI) -> None:
    root = web_dir()
    try:
        has_index = (resources.files("diagnosis") / "web" / "index.html").is_file()
    except (FileNotFoundError, NotADirectoryError):
        has_index = False
    if not has_index:
        @app.get("/", include_in_schema=False)
        async def _no_dashboard() -> RedirectResponse:
            return RedirectResponse("/docs")
        return

    @app.get("/", include_in_schema=False)
    async def _index() -> FileResponse:
        return FileResponse(f"{root}/index.html")

    app.mount("/static", StaticFiles(directory=root), name="static")
