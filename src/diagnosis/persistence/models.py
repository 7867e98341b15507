"""SQLModel tables: one `Execution` per diagnosis, one `TaskResult` row per task from creation.

Table definitions only: no queries, no sessions, nothing SQLite-specific (see db.py), and no ORM
object ever leaves the repository (records.py is what callers see).
"""

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import JSON, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from diagnosis.constants import ExecutionStatus, ResultStatus, Stage
from diagnosis.persistence.types import UTCDateTime

# Named constraints keep Alembic's batch mode (table copy on SQLite) deterministic.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Nullable JSON columns store SQL NULL for None (not the JSON text 'null').
NullableJSON = JSON(none_as_null=True)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Execution(SQLModel, table=True):
    """One diagnosis run (SPEC 3); its counters are written from the engine's snapshots."""

    __tablename__ = "executions"
    # A monitor's run fills one slot: two schedulers (or a restart) racing for the same slot
    # insert one row, the other gets a unique violation (SPEC 12). NULLs never collide.
    __table_args__ = (UniqueConstraint("monitor_id", "scheduled_for"),)

    id: str = Field(primary_key=True, max_length=64)
    brand: str
    aliases: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    # [{"name": str, "aliases": [str], "domains"?: [str]}]
    competitors: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON, nullable=False)
    # The own brand's sites (SPEC 8, sources of kind "own"); NULL when none were given.
    brand_domains: list[str] | None = Field(default=None, sa_type=NullableJSON)
    questions: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    platforms: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    samples: int = 1
    deadline_s: int
    owner: str | None = Field(default=None, index=True)
    status: str = Field(default=ExecutionStatus.queued.value, index=True)
    stage: str = Stage.init.value
    total: int = 0
    completed: int = 0
    failed: int = 0
    progress: int = 0
    seq: int = 0
    created_at: datetime = Field(
        default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True
    )
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    error: str | None = Field(default=None, sa_type=Text)
    retry_of: str | None = None
    report: dict[str, Any] | None = Field(default=None, sa_type=NullableJSON)
    platform_stats: dict[str, Any] | None = Field(default=None, sa_type=NullableJSON)
    monitor_id: str | None = Field(default=None, max_length=64, index=True)
    scheduled_for: datetime | None = Field(default=None, sa_type=UTCDateTime)


class TaskResult(SQLModel, table=True):
    """One task of an execution: `pending` from creation until its end is written, once."""

    __tablename__ = "task_results"
    __table_args__ = (
        UniqueConstraint("execution_id", "task_key"),
        Index("ix_task_results_execution_id_ordinal", "execution_id", "ordinal"),
    )

    id: int | None = Field(default=None, primary_key=True)
    execution_id: str = Field(foreign_key="executions.id", ondelete="CASCADE", index=True)
    task_key: str
    ordinal: int
    question: str = Field(sa_type=Text)
    template: str = Field(sa_type=Text)
    subject: str | None = None
    platform: str
    sample: int
    status: str = ResultStatus.pending.value
    error_kind: str | None = None
    answer: str | None = Field(default=None, sa_type=Text)
    # The provider's answer was longer than DIAGNOSIS_MAX_ANSWER_CHARS and was cut (SPEC 9).
    truncated: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    # Why an error result failed, when the engine knows more than its error_kind says.
    error: str | None = Field(default=None, sa_type=Text)
    latency_ms: int | None = None
    attempts: int = 0
    usage: dict[str, int] | None = Field(default=None, sa_type=NullableJSON)
    analysis: dict[str, Any] | None = Field(default=None, sa_type=NullableJSON)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class JudgeVerdict(SQLModel, table=True):
    """An LLM judge's labels for one answer (issue 12), so a retry or a re-report never pays
    for the same judgement twice: keyed by sha256 of (answer, brands, judge model)."""

    __tablename__ = "judge_verdicts"

    key: str = Field(primary_key=True, max_length=64)
    model: str
    verdicts: dict[str, Any] = Field(sa_type=JSON)  # {brand: {"sentiment", "stance"}}
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Monitor(SQLModel, table=True):
    """A diagnosis asked again on a schedule (SPEC 12, docs/monitors.md)."""

    __tablename__ = "monitors"

    id: str = Field(primary_key=True, max_length=64)
    owner: str | None = Field(default=None, index=True)
    name: str
    diagnosis: dict[str, Any] = Field(sa_type=JSON)  # the body of POST /api/diagnoses
    schedule: dict[str, Any] = Field(sa_type=JSON)  # {cron, timezone} | {interval_s}
    alerts: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON, nullable=False)
    webhook: dict[str, Any] | None = Field(default=None, sa_type=NullableJSON)  # with its secret
    paused: bool = Field(default=False)
    next_run_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class MonitorEvaluation(SQLModel, table=True):
    """A finished run whose alert rules were evaluated: inserted once, with its alerts, so a
    second scheduler or a restart never fires the same alerts twice."""

    __tablename__ = "monitor_evaluations"

    execution_id: str = Field(primary_key=True, max_length=64)
    monitor_id: str = Field(foreign_key="monitors.id", ondelete="CASCADE", index=True)
    evaluated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class MonitorAlert(SQLModel, table=True):
    """One firing of an alert rule and its webhook deliveries (status pending until the last)."""

    __tablename__ = "monitor_alerts"

    id: str = Field(primary_key=True, max_length=64)
    monitor_id: str = Field(foreign_key="monitors.id", ondelete="CASCADE", index=True)
    execution_id: str = Field(max_length=64)
    rule: dict[str, Any] = Field(sa_type=JSON)
    fired_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    message: str = Field(sa_type=Text)
    details: dict[str, Any] = Field(sa_type=JSON)  # brand, metric, before, after, delta
    status: str = Field(default="pending", index=True)  # pending | delivered | failed | stored
    deliveries: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON, nullable=False)
