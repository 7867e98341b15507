"""The monitors' long-lived parts, built in the app's lifespan and closed after it: the
repository, the service, the webhook dispatcher and the scheduler task."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from diagnosis.engine.service import Engine
from diagnosis.monitors.delivery import AlertDispatcher
from diagnosis.monitors.scheduler import MonitorScheduler
from diagnosis.monitors.service import MonitorService, utcnow
from diagnosis.persistence.db import Database
from diagnosis.persistence.monitor_repository import MonitorRepository


class MonitorRuntime:
    def __init__(self, engine: Engine, database: Database, *,
                 clock: Callable[[], datetime] | None = None) -> None:
        settings = engine.settings
        repository = MonitorRepository(database)
        self.service = MonitorService(engine, repository, clock=clock or utcnow)
        self.dispatcher = AlertDispatcher(repository, settings)
        self.scheduler = MonitorScheduler(self.service, self.dispatcher,
                                          tick_s=settings.monitor_tick_s)
        self.service.set_on_change(self.scheduler.wake)

    async def start(self, *, schedule: bool = True) -> None:
        """Resume alerts left pending, then (unless `schedule` is False) run the scheduler."""
        await self.dispatcher.resume_pending()
        if schedule:
            self.scheduler.start()

    async def aclose(self) -> None:
        await self.scheduler.aclose()
        await self.dispatcher.aclose()
