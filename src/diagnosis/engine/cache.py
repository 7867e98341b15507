"""The in-memory execution cache (SPEC 5): each live execution's counters and its results not
yet written. Every task end updates it at once (seq + 1); the reporter drains it to the DB.

Holds no I/O and never decides anything durable: the database stays the authority. With several
instances (SPEC 11) a `LiveMirror` copies each live entry where every instance can read it.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from diagnosis.constants import ExecutionStatus, ResultStatus, Stage
from diagnosis.persistence.records import ProgressSnapshot, ResultWrite


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class PlatformCounters:
    total: int = 0
    completed: int = 0
    failed: int = 0


@dataclass(eq=False)
class LiveExecution:
    execution_id: str
    total: int
    status: ExecutionStatus = ExecutionStatus.queued
    stage: Stage = Stage.init
    completed: int = 0
    failed: int = 0
    seq: int = 0
    flushed_seq: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    updated_at: datetime = field(default_factory=utcnow)
    error: str | None = None
    report: dict[str, Any] | None = None
    platforms: dict[str, PlatformCounters] = field(default_factory=dict)
    pending: list[ResultWrite] = field(default_factory=list)
    # task_key -> platform of each result recorded here, to re-count one that is replaced.
    result_platforms: dict[str, str] = field(default_factory=dict)

    @property
    def finished(self) -> int:
        return self.completed + self.failed

    @property
    def progress(self) -> int:
        if self.total <= 0:
            return 100
        return min(100, self.finished * 100 // self.total)

    @property
    def dirty(self) -> bool:
        return self.seq > self.flushed_seq

    def record(self, result: ResultWrite, platform: str) -> None:
        self._count(result, platform, +1)
        self.result_platforms[result.task_key] = platform
        self.pending.append(result)
        self._touch()

    def replace_pending(self, old: ResultWrite, new: ResultWrite) -> None:
        """`old` could not be stored: `new` (an error result for the same task) takes its place
        in the pending list and in the counters."""
        platform = self.result_platforms[old.task_key]
        self._count(old, platform, -1)
        self._count(new, platform, +1)
        self.pending[self.pending.index(old)] = new
        self._touch()

    def _count(self, result: ResultWrite, platform: str, step: int) -> None:
        counters = self.platforms.setdefault(platform, PlatformCounters())
        if result.status == ResultStatus.ok:
            self.completed += step
            counters.completed += step
        else:
            self.failed += step
            counters.failed += step

    def move(self, *, status: ExecutionStatus | None = None, stage: Stage | None = None) -> None:
        if self.status.is_terminal:
            return  # a terminal status is never left (SPEC 3, invariant 1)
        if status is not None:
            self.status = status
        if stage is not None:
            self.stage = stage
        now = utcnow()
        if self.status is ExecutionStatus.running and self.started_at is None:
            self.started_at = now
        if self.status.is_terminal:
            self.finished_at = now
        self._touch(now)

    def snapshot(self) -> ProgressSnapshot:
        return ProgressSnapshot(
            execution_id=self.execution_id,
            status=self.status.value,
            stage=self.stage.value,
            total=self.total,
            completed=self.completed,
            failed=self.failed,
            progress=self.progress,
            seq=self.seq,
            updated_at=self.updated_at,
            started_at=self.started_at,
            finished_at=self.finished_at,
            error=self.error,
            report=self.report,
            platform_stats=self.platform_stats(),
        )

    def platform_stats(self) -> dict[str, dict[str, int]]:
        return {
            pid: {"total": c.total, "completed": c.completed, "failed": c.failed}
            for pid, c in self.platforms.items()
        }

    def _touch(self, now: datetime | None = None) -> None:
        self.seq += 1
        self.updated_at = now or utcnow()


class ExecutionCache:
    """execution_id -> LiveExecution, for executions running in this process."""

    def __init__(self) -> None:
        self._entries: dict[str, LiveExecution] = {}

    def put(self, live: LiveExecution) -> None:
        self._entries[live.execution_id] = live

    def get(self, execution_id: str) -> LiveExecution | None:
        return self._entries.get(execution_id)

    def drop(self, execution_id: str) -> None:
        self._entries.pop(execution_id, None)

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[LiveExecution]:
        return iter(list(self._entries.values()))

    def ids(self) -> Iterable[str]:
        return list(self._entries)


@dataclass(frozen=True, slots=True)
class MirroredLive:
    """A live execution as another process sees it: what the status route compares with the DB
    row (SPEC 5), and the last flushed status view, to answer from when the DB read fails."""

    execution_id: str
    status: ExecutionStatus
    progress: int
    seq: int
    flushed_seq: int
    dirty: bool
    owner: str | None = None
    view: dict[str, Any] | None = None


class LiveMirror(Protocol):
    """Where the live cache is visible to every instance (diagnosis.cluster.live), or nowhere."""

    def track(self, live: LiveExecution, *, owner: str | None) -> None:
        """`live` runs in this process from now on."""
        ...

    def changed(self, live: LiveExecution, view: dict[str, Any] | None = None) -> None:
        """`live` changed: copy it soon (coalesced). `view` is the newest flushed status view."""
        ...

    async def sync(self, live: LiveExecution) -> None:
        """Copy `live` now (before a DB write, so the copy is never behind the DB)."""
        ...

    def forget(self, execution_id: str) -> None:
        """It no longer runs here: remove its copy (now a cache miss everywhere)."""
        ...

    async def lookup(self, execution_id: str) -> MirroredLive | None: ...

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...


class NoMirror:
    """One process: the local cache is the whole live cache."""

    def track(self, live: LiveExecution, *, owner: str | None) -> None:
        return None

    def changed(self, live: LiveExecution, view: dict[str, Any] | None = None) -> None:
        return None

    async def sync(self, live: LiveExecution) -> None:
        return None

    def forget(self, execution_id: str) -> None:
        return None

    async def lookup(self, execution_id: str) -> MirroredLive | None:
        return None

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None
