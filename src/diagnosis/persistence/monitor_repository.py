"""The monitors' queries (SPEC 12), in portable SQLAlchemy Core, returning records.

Monitors, their runs (executions with a monitor_id), evaluations and alerts. Like the
repository: short write transactions, reads on the reader, no ORM object leaves, no dialect
SQL, nothing but the database awaited inside a transaction. Executions are never inserted here
(the engine creates them; repository.create_execution enforces one per slot).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from diagnosis.constants import TERMINAL_STATUSES
from diagnosis.persistence.db import Database
from diagnosis.persistence.models import Execution, Monitor, MonitorAlert, MonitorEvaluation
from diagnosis.persistence.pages import read_page

MONITORS = cast(Table, Monitor.__table__)  # type: ignore[attr-defined]
ALERTS = cast(Table, MonitorAlert.__table__)  # type: ignore[attr-defined]
EVALUATIONS = cast(Table, MonitorEvaluation.__table__)  # type: ignore[attr-defined]
EXECUTIONS = cast(Table, Execution.__table__)  # type: ignore[attr-defined]
_TERMINAL = sorted(status.value for status in TERMINAL_STATUSES)
_RUN_COLUMNS = [EXECUTIONS.c[name] for name in (
    "id", "status", "scheduled_for", "created_at", "started_at", "finished_at", "questions",
    "platforms", "samples", "monitor_id",
)]


@dataclass(frozen=True, slots=True)
class MonitorRecord:
    monitor_id: str
    owner: str | None
    name: str
    diagnosis: dict[str, Any]
    schedule: dict[str, Any]
    alerts: list[dict[str, Any]]
    webhook: dict[str, Any] | None  # {url, kind, secret}: the secret never leaves the service
    paused: bool
    next_run_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class RunRecord:
    execution_id: str
    monitor_id: str
    status: str
    scheduled_for: datetime | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    questions: list[str]
    platforms: list[str]
    samples: int
    report: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class AlertWrite:
    alert_id: str
    execution_id: str
    rule: dict[str, Any]
    message: str
    details: dict[str, Any]
    status: str  # pending (to deliver) | stored (no webhook)
    fired_at: datetime


@dataclass(frozen=True, slots=True)
class AlertRecord:
    alert_id: str
    monitor_id: str
    execution_id: str
    rule: dict[str, Any]
    fired_at: datetime
    message: str
    details: dict[str, Any]
    status: str
    deliveries: list[dict[str, Any]] = field(default_factory=list)


class MonitorRepository:
    def __init__(self, database: Database) -> None:
        self._reader = database.reader
        self._writer = database.writer

    # --- monitors ----------------------------------------------------------------------------

    async def create_monitor(self, values: dict[str, Any]) -> MonitorRecord:
        now = datetime.now(UTC)
        row = {"created_at": now, "updated_at": now, **values}
        async with self._writer.begin() as conn:
            await conn.execute(MONITORS.insert(), row)
        record = await self.get_monitor(row["id"])
        assert record is not None
        return record

    async def get_monitor(self, monitor_id: str, owner: str | None = None) -> MonitorRecord | None:
        async with self._reader.connect() as conn:
            row = (await conn.execute(
                select(MONITORS).where(MONITORS.c.id == monitor_id))).mappings().one_or_none()
        if row is None or (owner is not None and row["owner"] != owner):
            return None
        return _monitor(row)

    async def list_monitors(self, owner: str | None) -> list[MonitorRecord]:
        """Newest first; owner None = all."""
        query = select(MONITORS).order_by(MONITORS.c.created_at.desc(), MONITORS.c.id.desc())
        if owner is not None:
            query = query.where(MONITORS.c.owner == owner)
        async with self._reader.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_monitor(r) for r in rows]

    async def update_monitor(self, monitor_id: str, values: dict[str, Any]) -> MonitorRecord | None:
        async with self._writer.begin() as conn:
            await conn.execute(update(MONITORS).where(MONITORS.c.id == monitor_id)
                               .values(updated_at=datetime.now(UTC), **values))
        return await self.get_monitor(monitor_id)

    async def delete_monitor(self, monitor_id: str) -> bool:
        """The monitor, its alerts and evaluations; its runs stay as ordinary executions."""
        async with self._writer.begin() as conn:
            await conn.execute(delete(ALERTS).where(ALERTS.c.monitor_id == monitor_id))
            await conn.execute(delete(EVALUATIONS).where(EVALUATIONS.c.monitor_id == monitor_id))
            result = await conn.execute(delete(MONITORS).where(MONITORS.c.id == monitor_id))
        return result.rowcount == 1

    async def due_monitors(self, now: datetime) -> list[MonitorRecord]:
        query = (select(MONITORS)
                 .where(MONITORS.c.paused.is_(False), MONITORS.c.next_run_at <= now)
                 .order_by(MONITORS.c.next_run_at, MONITORS.c.id))
        async with self._reader.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_monitor(r) for r in rows]

    async def advance(self, monitor_id: str, next_run_at: datetime) -> None:
        """Move next_run_at forward only: schedulers racing to advance agree on the latest."""
        async with self._writer.begin() as conn:
            await conn.execute(
                update(MONITORS)
                .where(MONITORS.c.id == monitor_id,
                       (MONITORS.c.next_run_at.is_(None)) | (MONITORS.c.next_run_at < next_run_at))
                .values(next_run_at=next_run_at)
            )

    # --- runs --------------------------------------------------------------------------------

    async def runs(
        self, monitor_id: str, *, offset: int, limit: int
    ) -> tuple[list[RunRecord], int]:
        """Newest first (scheduled_for, then created_at)."""
        where = EXECUTIONS.c.monitor_id == monitor_id
        query = (select(*_RUN_COLUMNS).where(where)
                 .order_by(EXECUTIONS.c.scheduled_for.desc(), EXECUTIONS.c.created_at.desc(),
                           EXECUTIONS.c.id.desc())
                 .offset(offset).limit(limit))
        counting = select(func.count()).select_from(EXECUTIONS).where(where)
        async with self._reader.connect() as conn:
            rows, total = await read_page(conn, query, counting)
        return [_run(r) for r in rows], total

    async def finished_runs(self, monitor_id: str, *, limit: int) -> list[RunRecord]:
        """The latest `limit` ended runs with their stored reports, oldest first."""
        query = (select(*_RUN_COLUMNS, EXECUTIONS.c.report)
                 .where(EXECUTIONS.c.monitor_id == monitor_id,
                        EXECUTIONS.c.status.in_(_TERMINAL))
                 .order_by(EXECUTIONS.c.scheduled_for.desc(), EXECUTIONS.c.created_at.desc(),
                           EXECUTIONS.c.id.desc())
                 .limit(limit))
        async with self._reader.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_run(r) for r in rows][::-1]

    async def unevaluated_runs(self, *, limit: int = 100) -> list[RunRecord]:
        """Ended runs whose alert rules nobody evaluated yet, oldest first."""
        query = (select(*_RUN_COLUMNS)
                 .select_from(
                     EXECUTIONS.join(MONITORS, MONITORS.c.id == EXECUTIONS.c.monitor_id)
                     .outerjoin(EVALUATIONS, EVALUATIONS.c.execution_id == EXECUTIONS.c.id))
                 .where(EXECUTIONS.c.monitor_id.is_not(None),
                        EXECUTIONS.c.status.in_(_TERMINAL),
                        EVALUATIONS.c.execution_id.is_(None))
                 .order_by(EXECUTIONS.c.finished_at, EXECUTIONS.c.id)
                 .limit(limit))
        async with self._reader.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_run(r) for r in rows]

    # --- evaluations and alerts --------------------------------------------------------------

    async def record_evaluation(
        self, monitor_id: str, execution_id: str, alerts: Sequence[AlertWrite]
    ) -> bool:
        """Mark the run evaluated and store its alerts, atomically; False (nothing written)
        when another scheduler evaluated it first, or the monitor is gone."""
        try:
            async with self._writer.begin() as conn:
                await conn.execute(EVALUATIONS.insert(), {
                    "execution_id": execution_id, "monitor_id": monitor_id,
                    "evaluated_at": datetime.now(UTC),
                })
                if alerts:
                    await conn.execute(ALERTS.insert(), [{
                        "id": a.alert_id, "monitor_id": monitor_id,
                        "execution_id": a.execution_id, "rule": a.rule, "fired_at": a.fired_at,
                        "message": a.message, "details": a.details, "status": a.status,
                        "deliveries": [],
                    } for a in alerts])
        except IntegrityError:
            return False
        return True

    async def alerts(
        self, monitor_id: str, *, offset: int, limit: int
    ) -> tuple[list[AlertRecord], int]:
        where = ALERTS.c.monitor_id == monitor_id
        query = (select(ALERTS).where(where)
                 .order_by(ALERTS.c.fired_at.desc(), ALERTS.c.id.desc())
                 .offset(offset).limit(limit))
        counting = select(func.count()).select_from(ALERTS).where(where)
        async with self._reader.connect() as conn:
            rows, total = await read_page(conn, query, counting)
        return [_alert(r) for r in rows], total

    async def get_alert(self, alert_id: str) -> AlertRecord | None:
        async with self._reader.connect() as conn:
            row = (await conn.execute(
                select(ALERTS).where(ALERTS.c.id == alert_id))).mappings().one_or_none()
        return _alert(row) if row is not None else None

    async def pending_alerts(self) -> list[AlertRecord]:
        async with self._reader.connect() as conn:
            rows = (await conn.execute(
                select(ALERTS).where(ALERTS.c.status == "pending")
                .order_by(ALERTS.c.fired_at, ALERTS.c.id))).mappings().all()
        return [_alert(r) for r in rows]

    async def record_delivery(
        self, alert_id: str, deliveries: list[dict[str, Any]], status: str
    ) -> None:
        async with self._writer.begin() as conn:
            await conn.execute(update(ALERTS).where(ALERTS.c.id == alert_id)
                               .values(deliveries=deliveries, status=status))


def _monitor(row: RowMapping) -> MonitorRecord:
    return MonitorRecord(monitor_id=row["id"], **{k: v for k, v in row.items() if k != "id"})


def _run(row: Mapping[Any, Any]) -> RunRecord:
    values = dict(row)
    return RunRecord(execution_id=values.pop("id"), **values)


def _alert(row: Mapping[Any, Any]) -> AlertRecord:
    return AlertRecord(alert_id=row["id"], **{k: v for k, v in row.items() if k != "id"})
