"""Builders of the records the engine hands to the repository, with test-friendly defaults."""

from datetime import UTC, datetime, timedelta

from diagnosis.persistence.records import ProgressSnapshot, ResultWrite, TaskSpec

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def task_specs(count: int, *, platforms: tuple[str, ...] = ("demo",)) -> list[TaskSpec]:
    """`count` tasks, ordinals 0..count-1, keys t0000..; spread over `platforms`."""
    return [
        TaskSpec(
            task_key=f"t{i:04d}",
            ordinal=i,
            question=f"question {i // len(platforms)} about NIO",
            template=f"question {i // len(platforms)} about {{brand}}",
            subject="NIO",
            platform=platforms[i % len(platforms)],
            sample=0,
        )
        for i in range(count)
    ]


def result_write(
    task_key: str,
    *,
    status: str = "ok",
    answer: str | None = "1. NIO 2. BYD",
    finished_at: datetime = T0,
    error_kind: str | None = None,
) -> ResultWrite:
    return ResultWrite(
        task_key=task_key,
        status=status,
        error_kind=error_kind,
        answer=answer,
        latency_ms=120,
        attempts=1,
        usage={"prompt_tokens": 10, "completion_tokens": 20},
        analysis={"mentions": [{"brand": "NIO", "rank": 1, "sentiment": "neutral", "count": 1}]},
        finished_at=finished_at,
    )


def snapshot(
    execution_id: str,
    *,
    seq: int,
    status: str = "running",
    stage: str = "ai_fetching",
    total: int = 10,
    completed: int = 0,
    failed: int = 0,
    progress: int = 0,
    report: dict[str, object] | None = None,
    finished_at: datetime | None = None,
) -> ProgressSnapshot:
    return ProgressSnapshot(
        execution_id=execution_id,
        status=status,
        stage=stage,
        total=total,
        completed=completed,
        failed=failed,
        progress=progress,
        seq=seq,
        updated_at=T0 + timedelta(seconds=seq),
        started_at=T0,
        finished_at=finished_at,
        report=report,
    )
