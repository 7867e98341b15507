"""The monitors' front door, used by the API, the CLI and the scheduler: create, read, change,
delete, run now, and the runs, trend, changes and alerts of a monitor.

A run is created through Engine.create with a MonitorSlot (like the API creates a diagnosis);
validation is the engine's own plan (same 400/422 rules as POST /api/diagnoses).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from diagnosis.engine.errors import DiagnosisError, NotFound
from diagnosis.engine.service import Competitor, Engine, MonitorSlot, NewDiagnosis
from diagnosis.monitors.schedule import InvalidSchedule, Schedule
from diagnosis.monitors.trend import RunView, consecutive_changes, trend_points
from diagnosis.persistence.monitor_repository import (
    AlertRecord,
    MonitorRecord,
    MonitorRepository,
    RunRecord,
)

# Trend and changes read at most this many latest runs (their stored reports).
MAX_TREND_RUNS = 500


class InvalidMonitor(DiagnosisError):
    status_code = 422


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_monitor_id() -> str:
    return "mon_" + secrets.token_urlsafe(9)


def to_new_diagnosis(spec: dict[str, Any], owner: str | None) -> NewDiagnosis:
    """The stored diagnosis body (a validated POST /api/diagnoses body) as the engine's request;
    the monitor's owner, when tokens are on, wins over the body's."""
    return NewDiagnosis(
        brand=spec["brand"],
        aliases=list(spec.get("aliases") or ()),
        competitors=[Competitor(c["name"], list(c.get("aliases") or ()))
                     for c in spec.get("competitors") or ()],
        questions=list(spec.get("questions") or ()),
        platforms=list(spec["platforms"]),
        samples=int(spec.get("samples") or 1),
        deadline_s=spec.get("deadline_s"),
        owner=owner if owner is not None else spec.get("owner"),
    )


def run_view(run: RunRecord) -> RunView:
    return RunView(
        execution_id=run.execution_id, status=run.status, scheduled_for=run.scheduled_for,
        finished_at=run.finished_at, questions=run.questions, platforms=run.platforms,
        samples=run.samples, report=run.report,
    )


class MonitorService:
    def __init__(
        self, engine: Engine, repository: MonitorRepository, *,
        clock: Callable[[], datetime] = utcnow, on_change: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.repository = repository
        self.clock = clock
        self._on_change = on_change or (lambda: None)

    def set_on_change(self, callback: Callable[[], None]) -> None:
        self._on_change = callback

    # -- validation ----------------------------------------------------------------------

    def _check(self, diagnosis: dict[str, Any], owner: str | None) -> None:
        self.engine.plan(to_new_diagnosis(diagnosis, owner))  # 400 / 422 like a diagnosis

    def _schedule(self, data: dict[str, Any]) -> Schedule:
        schedule = Schedule.from_dict(data)
        try:
            schedule.validate(min_interval_s=self.engine.settings.monitor_min_interval_s,
                              now=self.clock())
        except InvalidSchedule as exc:
            raise InvalidMonitor(f"schedule: {exc}") from exc
        return schedule

    # -- commands ------------------------------------------------------------------------

    async def create(self, *, owner: str | None, name: str, diagnosis: dict[str, Any],
                     schedule: dict[str, Any], alerts: list[dict[str, Any]],
                     webhook: dict[str, Any] | None, paused: bool) -> MonitorRecord:
        self._check(diagnosis, owner)
        parsed = self._schedule(schedule)
        record = await self.repository.create_monitor({
            "id": new_monitor_id(), "owner": owner, "name": name, "diagnosis": diagnosis,
            "schedule": parsed.to_dict(), "alerts": alerts, "webhook": webhook,
            "paused": paused, "next_run_at": parsed.next_after(self.clock()),
        })
        self._on_change()
        return record

    async def get(self, monitor_id: str, owner: str | None) -> MonitorRecord:
        record = await self.repository.get_monitor(monitor_id, owner)
        if record is None:
            raise NotFound("monitor not found")
        return record

    async def list_monitors(self, owner: str | None) -> list[MonitorRecord]:
        return await self.repository.list_monitors(owner)

    async def update(self, monitor_id: str, owner: str | None,
                     changes: dict[str, Any]) -> MonitorRecord:
        """`changes` holds only what the caller sent; a new schedule or a resume starts from
        the next slot after now (a paused monitor catches nothing up)."""
        current = await self.get(monitor_id, owner)
        values = dict(changes)
        if "diagnosis" in values:
            self._check(values["diagnosis"], current.owner)
        reschedule = "schedule" in values or (current.paused and values.get("paused") is False)
        if reschedule:
            parsed = self._schedule(values.get("schedule", current.schedule))
            values["schedule"] = parsed.to_dict()
            values["next_run_at"] = parsed.next_after(self.clock())
        record = await self.repository.update_monitor(monitor_id, values)
        if record is None:
            raise NotFound("monitor not found")
        self._on_change()
        return record

    async def delete(self, monitor_id: str, owner: str | None) -> None:
        await self.get(monitor_id, owner)
        await self.repository.delete_monitor(monitor_id)

    async def run_now(self, monitor_id: str, owner: str | None) -> Any:
        """A run outside the schedule, filling the slot `now` (so it is still one per slot)."""
        monitor = await self.get(monitor_id, owner)
        return await self.run_slot(monitor, self.clock())

    async def run_slot(self, monitor: MonitorRecord, slot: datetime) -> Any:
        """Create the slot's execution; raises SlotTaken when it already has one."""
        request = to_new_diagnosis(monitor.diagnosis, monitor.owner)
        return await self.engine.create(
            request, slot=MonitorSlot(monitor_id=monitor.monitor_id, scheduled_for=slot))

    # -- queries -------------------------------------------------------------------------

    async def runs(self, monitor_id: str, owner: str | None, *, offset: int,
                   limit: int) -> tuple[list[RunRecord], int]:
        await self.get(monitor_id, owner)
        return await self.repository.runs(monitor_id, offset=offset, limit=limit)

    async def _views(self, monitor_id: str, owner: str | None, limit: int) -> list[RunView]:
        await self.get(monitor_id, owner)
        runs = await self.repository.finished_runs(monitor_id, limit=min(limit, MAX_TREND_RUNS))
        return [run_view(r) for r in runs]

    async def trend(self, monitor_id: str, owner: str | None, *, platform: str | None,
                    brand: str | None, limit: int) -> list[dict[str, Any]]:
        views = await self._views(monitor_id, owner, limit)
        return trend_points(views, platform=platform, brand=brand)

    async def changes(self, monitor_id: str, owner: str | None, *, platform: str | None,
                      brand: str | None, limit: int) -> list[dict[str, Any]]:
        views = await self._views(monitor_id, owner, limit + 1)
        return consecutive_changes(views, platform=platform, brand=brand)

    async def alerts(self, monitor_id: str, owner: str | None, *, offset: int,
                     limit: int) -> tuple[list[AlertRecord], int]:
        await self.get(monitor_id, owner)
        return await self.repository.alerts(monitor_id, offset=offset, limit=limit)
