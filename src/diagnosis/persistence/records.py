"""Plain records the engine hands to the repository (and gets back): no ORM state leaks out.

These are the repository's contract with the engine; tables live in models.py.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """One AI call of an execution, as planned at creation."""

    task_key: str
    ordinal: int  # stable order of results (question, platform, sample)
    question: str  # as sent, after {brand} expansion
    template: str  # the question as the user wrote it
    subject: str | None  # the brand a {brand} question is about, else None
    platform: str
    sample: int


@dataclass(frozen=True, slots=True)
class ResultWrite:
    """The end of one task, to be made durable (idempotent per (execution_id, task_key))."""

    task_key: str
    status: str  # ok | error | cancelled
    error_kind: str | None
    answer: str | None
    latency_ms: int | None
    attempts: int
    usage: dict[str, int] | None
    analysis: dict[str, Any] | None
    finished_at: datetime
    truncated: bool = False  # the answer was cut at DIAGNOSIS_MAX_ANSWER_CHARS
    error: str | None = None  # why it failed, when more is known than error_kind


@dataclass(frozen=True, slots=True)
class ProgressSnapshot:
    """An execution's counters at one seq; written only if newer than what the DB holds."""

    execution_id: str
    status: str
    stage: str
    total: int
    completed: int
    failed: int
    progress: int
    seq: int
    updated_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    report: dict[str, Any] | None = field(default=None)
    # {platform_id: {"total", "completed", "failed"}}: stored with the row so that the status
    # route answers per-platform counters from one row read.
    platform_stats: dict[str, dict[str, int]] | None = field(default=None)


@dataclass(frozen=True, slots=True)
class ExecutionRecord:
    """An execution row as read back (every column; `execution_id` is the table's `id`)."""

    execution_id: str
    brand: str
    aliases: list[str]
    competitors: list[dict[str, Any]]  # [{"name": str, "aliases": [str]}]
    questions: list[str]  # templates as the user wrote them
    platforms: list[str]
    samples: int
    deadline_s: int
    owner: str | None
    status: str
    stage: str
    total: int
    completed: int
    failed: int
    progress: int
    seq: int
    created_at: datetime  # all datetimes are timezone-aware UTC
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    retry_of: str | None
    report: dict[str, Any] | None
    platform_stats: dict[str, dict[str, int]] | None = None
    monitor_id: str | None = None  # the monitor whose run this is (SPEC 12)
    scheduled_for: datetime | None = None  # the slot it fills
    brand_domains: list[str] | None = None  # the own brand's sites (sources of kind "own")


@dataclass(frozen=True, slots=True)
class ResultRecord:
    """A task_results row as read back (every column); status `pending` until its end is written."""

    id: int
    execution_id: str
    task_key: str
    ordinal: int
    question: str
    template: str
    subject: str | None
    platform: str
    sample: int
    status: str  # pending | ok | error | cancelled
    error_kind: str | None
    answer: str | None
    latency_ms: int | None
    attempts: int
    usage: dict[str, int] | None
    analysis: dict[str, Any] | None
    finished_at: datetime | None
    truncated: bool = False
    error: str | None = None


class SlotTaken(Exception):
    """The monitor's slot already has its execution (the unique (monitor_id, scheduled_for)):
    nothing was written, and nothing is wrong."""
