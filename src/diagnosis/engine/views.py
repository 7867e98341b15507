"""What clients read about an execution: the status view (SPEC 5, 6) and a result's summary.

Built from the DB row (the authority) or from a flushed snapshot; never from unflushed state,
except in the `unknown` case where the DB could not be read and the cache answers.
"""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from diagnosis.constants import ExecutionStatus
from diagnosis.persistence.records import ProgressSnapshot

SyncStatus = Literal["synced", "out_of_sync", "cache_miss", "unknown"]


class PlatformProgress(BaseModel):
    platform: str = Field(description="Platform id / 平台 id")
    display_name: str
    total: int
    completed: int = Field(description="Tasks that ended ok / 成功的任务数")
    failed: int
    breaker: str = Field(description="closed | open | half_open")


class CompetitorView(BaseModel):
    name: str
    aliases: list[str] = []


class ExecutionStatusView(BaseModel):
    execution_id: str
    brand: str
    aliases: list[str] = []
    competitors: list[CompetitorView] = []
    questions: list[str] = Field([], description="As written, before {brand} expansion / 问题")
    samples: int = 1
    deadline_s: int | None = None
    owner: str | None = None
    status: ExecutionStatus
    stage: str
    total: int
    completed: int = Field(description="Tasks that ended ok / 成功的任务数")
    failed: int = Field(description="Tasks that ended in error or were cancelled / 失败的任务数")
    progress: int = Field(description="floor(100 x finished / total) / 进度百分比")
    seq: int = Field(description="Grows with every change; never decreases / 版本号")
    created_at: datetime | None
    updated_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None = None
    retry_of: str | None = None
    is_completed: bool = Field(description="Terminal status reached / 已结束")
    should_stop_polling: bool = Field(description="Stop polling: nothing will change / 可停止轮询")
    platforms: list[PlatformProgress] = []
    source: Literal["database", "cache"] = "database"
    cache_sync_status: SyncStatus = "cache_miss"
    cache_progress: int | None = None


# The fields a flushed snapshot carries; everything else comes from the execution's row.
SNAPSHOT_FIELDS = (
    "status", "stage", "total", "completed", "failed", "progress", "seq",
    "updated_at", "started_at", "finished_at", "error",
)  # fmt: skip
ROW_FIELDS = (
    "brand", "aliases", "competitors", "questions", "samples", "deadline_s", "owner",
    "created_at", "retry_of", *SNAPSHOT_FIELDS,
)  # fmt: skip


def status_view(
    row: Any,
    *,
    display_names: dict[str, str],
    breaker_states: dict[str, str],
    snapshot: ProgressSnapshot | None = None,
    source: Literal["database", "cache"] = "database",
    cache_sync_status: SyncStatus = "cache_miss",
    cache_progress: int | None = None,
) -> ExecutionStatusView:
    """`row` is an ExecutionRecord; a flushed `snapshot`, when given, supplies the counters."""
    fields: dict[str, Any] = {name: getattr(row, name, None) for name in ROW_FIELDS}
    fields["execution_id"] = row.execution_id
    stats = getattr(row, "platform_stats", None) or {}
    if snapshot is not None:
        fields.update({name: getattr(snapshot, name) for name in SNAPSHOT_FIELDS})
        stats = snapshot.platform_stats or {}
    platforms = list(getattr(row, "platforms", None) or stats.keys())
    terminal = ExecutionStatus(fields["status"]).is_terminal
    return ExecutionStatusView(
        **fields,
        is_completed=terminal,
        should_stop_polling=terminal,
        platforms=[
            PlatformProgress(
                platform=pid,
                display_name=display_names.get(pid, pid),
                total=stats.get(pid, {}).get("total", 0),
                completed=stats.get(pid, {}).get("completed", 0),
                failed=stats.get(pid, {}).get("failed", 0),
                breaker=breaker_states.get(pid, "closed"),
            )
            for pid in platforms
        ],
        source=source,
        cache_sync_status=cache_sync_status,
        cache_progress=cache_progress,
    )


def task_summary(
    result: Any, *, platform: str, question: str, subject: str | None
) -> dict[str, Any]:
    """The `task` SSE event: enough for a live table row, not the whole answer."""
    analysis = result.analysis or {}
    return {
        "task_key": result.task_key,
        "question": question,
        "subject": subject,
        "platform": platform,
        "status": result.status,
        "error_kind": result.error_kind,
        "latency_ms": result.latency_ms,
        "attempts": result.attempts,
        "mentions": analysis.get("mentions", []),
        "answer_preview": (result.answer or "")[:160],
    }
