"""The engine's front door, used by the API and the CLI: create, read, cancel, retry, report.

Owns the long-lived parts (cache, broker, per-platform runtimes, runner); built once in the
app's lifespan and closed after it. Never imports the API.
"""

import asyncio
import logging
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from diagnosis.analysis import BrandSpec
from diagnosis.constants import ExecutionStatus, ResultStatus
from diagnosis.engine import metrics
from diagnosis.engine.analysis_pool import AnswerAnalyser, default_processes
from diagnosis.engine.broker import Broker, EventBroker
from diagnosis.engine.cache import ExecutionCache, LiveMirror, MirroredLive, NoMirror
from diagnosis.engine.errors import Conflict, NotFound, TooManyTasks, Unavailable, UnknownPlatforms
from diagnosis.engine.executor import StopReason, brand_specs, retry_analysis
from diagnosis.engine.gates import GateFactory, open_gates
from diagnosis.engine.planning import DEFAULT_QUESTIONS, canonical_questions, plan_tasks
from diagnosis.engine.reports import render
from diagnosis.engine.runner import InProcessRunner, Runner
from diagnosis.engine.runtimes import PlatformRuntimes
from diagnosis.engine.views import ExecutionStatusView, SyncStatus, status_view
from diagnosis.persistence.faults import WriteHealth, is_database_error
from diagnosis.persistence.records import ResultWrite, SlotTaken, TaskSpec
from diagnosis.providers.registry import PlatformRegistry, normalise_name
from diagnosis.settings import Settings

log = logging.getLogger("diagnosis.engine")

# /health probes the database with a real write when the last write failed or is older than
# this; the probe's own time limit.
HEALTH_PROBE_AFTER_S = 10.0
HEALTH_PROBE_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Competitor:
    name: str
    aliases: list[str] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)  # its sites: own/competitor sources

    def stored(self) -> dict[str, Any]:
        """As the execution's competitors JSON keeps it (domains only when given)."""
        data: dict[str, Any] = {"name": self.name, "aliases": list(self.aliases)}
        if self.domains:
            data["domains"] = list(self.domains)
        return data

    @classmethod
    def from_stored(cls, data: dict[str, Any]) -> "Competitor":
        return cls(data["name"], list(data.get("aliases") or ()), list(data.get("domains") or ()))


@dataclass(frozen=True)
class NewDiagnosis:
    """A validated request; platform names may still be display names or aliases."""

    brand: str
    platforms: list[str]
    aliases: list[str] = field(default_factory=list)
    competitors: list[Competitor] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)  # the brand's own sites
    questions: list[str] = field(default_factory=list)
    samples: int = 1
    deadline_s: int | None = None
    owner: str | None = None


@dataclass(frozen=True)
class MonitorSlot:
    """The slot a monitor's run fills (SPEC 12): one execution per (monitor_id, scheduled_for)."""

    monitor_id: str
    scheduled_for: datetime


def new_execution_id() -> str:
    return secrets.token_urlsafe(12)


# What an execution id can look like (token_urlsafe, at most the column's 64 characters).
_ID_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _check_id_shape(execution_id: str) -> None:
    """An id no execution can have is unknown without asking the database: a NUL or a
    500-character path segment must be a 404, not a driver error (PostgreSQL refuses NUL)."""
    if not _ID_SHAPE.fullmatch(execution_id):
        raise NotFound("execution not found")


@dataclass(frozen=True)
class EngineParts:
    """The seams a deployment fills (SPEC 11): nothing given is the single process (in-process
    runner, broker and cache, open gates); the scaled-out parts come from diagnosis.cluster and
    are chosen in one place, the app factory or the worker's start-up."""

    broker: Broker | None = None
    mirror: LiveMirror | None = None
    gates: GateFactory | None = None
    runner: "Callable[[Engine], Runner] | None" = None


class Engine:
    def __init__(
        self, settings: Settings, repository: Any, registry: PlatformRegistry,
        parts: EngineParts | None = None,
    ) -> None:
        parts = parts or EngineParts()
        self.settings = settings
        self.repository = repository
        self.registry = registry
        self.cache = ExecutionCache()
        self.broker: Broker = parts.broker or EventBroker()
        # The live cache as other instances see it (SPEC 11); NoMirror in one process.
        self.mirror: LiveMirror = parts.mirror or NoMirror()
        self.runtimes = PlatformRuntimes(
            registry,
            global_concurrency=settings.global_concurrency,
            backoff_base_s=settings.retry_backoff_s,
            backoff_cap_s=settings.retry_backoff_cap_s,
            retry_after_cap_s=settings.retry_after_cap_s,
            max_answer_chars=settings.max_answer_chars,
            gates=parts.gates or open_gates,
        )
        self.analyser = AnswerAnalyser(
            processes=(default_processes() if settings.analysis_processes is None
                       else settings.analysis_processes),
            kinds_file=settings.domain_kinds_file,
            batch_ms=settings.analysis_batch_ms,
            prestart_tasks=settings.analysis_prestart_tasks,
        )
        self.runner: Runner = parts.runner(self) if parts.runner else InProcessRunner(self)
        # The last write's outcome, for /health (flushes and the API's writes report to it).
        self.write_health = WriteHealth()
        self._probe_lock = asyncio.Lock()

    async def start(self) -> None:
        """The broker's and the mirror's own tasks (none in one process)."""
        await self.broker.start()
        await self.mirror.start()

    async def aclose(self, timeout_s: float | None = None) -> None:
        """Shutdown: executions stop and flush within `timeout_s` (DIAGNOSIS_SHUTDOWN_TIMEOUT_S)
        even when the database fails; what could not be written is logged with counts."""
        budget = self.settings.shutdown_timeout_s if timeout_s is None else timeout_s
        await self.runner.shutdown(timeout_s=budget)
        unwritten = [(live.execution_id, len(live.pending)) for live in self.cache if live.dirty]
        if unwritten:
            log.error(
                "shutdown left unwritten changes executions=%d results=%d ids=%s",
                len(unwritten), sum(n for _, n in unwritten), ",".join(e for e, _ in unwritten),
            )
        await self.mirror.aclose()
        await self.broker.aclose()
        await self.runtimes.aclose()
        self.analyser.close()

    async def database_healthy(self) -> bool:
        """Reads answer AND writes succeed: the last write's outcome, checked by a real write
        probe when it failed or when nothing has written for a while (so it also recovers)."""
        if not await self.repository.ping():
            return False
        health = self.write_health
        if health.ok and health.age_s() < HEALTH_PROBE_AFTER_S:
            return True
        async with self._probe_lock:  # concurrent /health calls share one probe
            if health.ok and health.age_s() < HEALTH_PROBE_AFTER_S:
                return True
            try:
                async with asyncio.timeout(HEALTH_PROBE_TIMEOUT_S):
                    await self.repository.probe_write()
            except Exception as exc:  # what the database says is the answer, not a bug
                health.failed(exc if is_database_error(exc) else TimeoutError("probe"))
            else:
                health.succeeded()
        return health.ok

    # -- commands ----------------------------------------------------------------------

    def resolve_platforms(self, names: Sequence[str]) -> list[str]:
        ids: list[str] = []
        unknown: list[str] = []
        configured = set(self.registry.configured_ids())
        for name in names:
            pid = self.registry.resolve(name)
            if pid is None or pid not in configured:
                unknown.append(name)
            elif pid not in ids:
                ids.append(pid)
        if unknown:
            raise UnknownPlatforms(
                f"unknown or unconfigured platforms: {', '.join(unknown)}",
                available_platforms=sorted(configured),
            )
        return ids

    def plan(self, req: NewDiagnosis) -> tuple[list[str], list[str], list[TaskSpec]]:
        """Check a request without writing anything: (platform ids, questions, tasks).
        Raises UnknownPlatforms (400) or TooManyTasks (422)."""
        platforms = self.resolve_platforms(req.platforms)
        questions = canonical_questions(req.questions) or list(DEFAULT_QUESTIONS)
        brands = [req.brand, *(c.name for c in req.competitors)]
        tasks = plan_tasks(
            templates=questions, brands=brands, platforms=platforms, samples=req.samples
        )
        if len(tasks) > self.settings.max_tasks:
            raise TooManyTasks(
                f"{len(tasks)} tasks exceed max_tasks={self.settings.max_tasks}: "
                "ask fewer questions, platforms or samples",
                total_tasks=len(tasks),
                max_tasks=self.settings.max_tasks,
            )
        return platforms, questions, tasks

    async def create(
        self, req: NewDiagnosis, *, retry_of: str | None = None, copied: Sequence[ResultWrite] = (),
        slot: MonitorSlot | None = None,
    ) -> Any:
        """Plan, store and submit a new execution. A monitor's run passes its `slot`; when that
        slot already has its execution, SlotTaken is raised and nothing is written or run."""
        platforms, questions, tasks = self.plan(req)
        try:
            record = await self._create_execution(req, platforms, questions, tasks, retry_of,
                                                  copied, slot)
        except SlotTaken:
            self.write_health.succeeded()  # the database answered: the slot is someone's
            raise
        except Exception as exc:
            self.write_health.failed(exc)
            raise
        self.write_health.succeeded()
        log.info(
            "execution created execution_id=%s tasks=%d platforms=%s retry_of=%s monitor_id=%s",
            record.execution_id,
            len(tasks),
            ",".join(platforms),
            retry_of,
            slot.monitor_id if slot else None,
        )
        self.runner.submit(str(record.execution_id))
        return record

    async def _create_execution(
        self,
        req: NewDiagnosis,
        platforms: list[str],
        questions: list[str],
        tasks: list[TaskSpec],
        retry_of: str | None,
        copied: Sequence[ResultWrite],
        slot: MonitorSlot | None = None,
    ) -> Any:
        return await self.repository.create_execution(
            execution_id=new_execution_id(),
            brand=req.brand,
            aliases=list(req.aliases),
            competitors=[c.stored() for c in req.competitors],
            brand_domains=list(req.domains),
            questions=questions,
            platforms=platforms,
            samples=req.samples,
            deadline_s=req.deadline_s or self.settings.default_deadline_s,
            owner=req.owner,
            total=len(tasks),
            retry_of=retry_of,
            tasks=tasks,
            copied=copied,
            monitor_id=slot.monitor_id if slot else None,
            scheduled_for=slot.scheduled_for if slot else None,
        )

    async def cancel(self, execution_id: str, owner: str | None = None) -> ExecutionStatusView:
        record = await self._get(execution_id, owner)
        if ExecutionStatus(record.status).is_terminal:
            raise Conflict(f"execution is already {record.status}")
        if not self.runner.stop(execution_id, StopReason.cancelled):
            # Not running here (between restarts): run it just to end it as cancelled.
            self.runner.submit(execution_id)
            self.runner.stop(execution_id, StopReason.cancelled)
        await self.runner.wait(execution_id)
        view = await self.status(execution_id, owner)
        if not view.is_completed:
            # Queue runner (SPEC 11): no worker acted within the bound (e.g. none is up). The
            # request stays, so the worker that takes it ends it as cancelled.
            return view
        if view.status is not ExecutionStatus.cancelled:
            # It ended on its own (e.g. it was analysing) before the cancel took effect.
            raise Conflict(f"execution is already {view.status.value}")
        return view

    async def retry(
        self, execution_id: str, owner: str | None = None, *,
        add_competitors: Sequence[Competitor] = (),
    ) -> Any:
        """A new execution copying the ok results and running the rest. `add_competitors`
        (e.g. a discovered brand) joins the competitors: its `{brand}` questions run as new
        tasks and the copied answers are analysed again for the longer brand list."""
        old = await self._get(execution_id, owner)
        if not ExecutionStatus(old.status).is_terminal:
            raise Conflict(f"execution is still {old.status}: retry once it has ended")
        competitors = [Competitor.from_stored(c) for c in old.competitors or ()]
        known = {normalise_name(old.brand), *(normalise_name(c.name) for c in competitors)}
        added = []
        for comp in add_competitors:
            if normalise_name(comp.name) not in known:
                known.add(normalise_name(comp.name))
                added.append(comp)
        competitors += added
        rows = await self.repository.all_results(execution_id)
        reanalyse = retry_analysis(old, competitors, self.settings) if added else None
        copied = [
            ResultWrite(
                task_key=r.task_key,
                status=r.status,
                error_kind=r.error_kind,
                answer=r.answer,
                truncated=r.truncated,
                error=r.error,
                latency_ms=r.latency_ms,
                attempts=r.attempts,
                usage=r.usage,
                analysis=reanalyse(r) if reanalyse else r.analysis,
                finished_at=r.finished_at,
            )
            for r in rows
            if r.status == ResultStatus.ok
        ]
        req = NewDiagnosis(
            brand=old.brand,
            aliases=list(old.aliases or ()),
            domains=list(getattr(old, "brand_domains", None) or ()),
            competitors=competitors,
            questions=list(old.questions),
            platforms=list(old.platforms),
            samples=int(old.samples),
            deadline_s=int(old.deadline_s),
            owner=old.owner,
        )
        return await self.create(req, retry_of=execution_id, copied=copied)

    # -- queries -----------------------------------------------------------------------

    async def _get(self, execution_id: str, owner: str | None) -> Any:
        _check_id_shape(execution_id)
        record = await self.repository.get_execution(execution_id, owner)
        if record is None:
            raise NotFound("execution not found")
        return record

    async def status(self, execution_id: str, owner: str | None = None) -> ExecutionStatusView:
        """SPEC 5: the DB row is the authority; the cache is compared, never trusted first."""
        _check_id_shape(execution_id)
        try:
            row = await self.repository.get_execution(execution_id, owner, with_report=False)
        except Exception as exc:
            return await self._status_from_cache(execution_id, owner, exc)
        if row is None:
            raise NotFound("execution not found")
        live: Any = self.cache.get(execution_id)
        if live is None:
            live = await self.mirror.lookup(execution_id)  # run by another process (SPEC 11)
        sync: SyncStatus = "cache_miss"
        if live is not None:
            sync = self._compare(row, live)
        return status_view(
            row,
            display_names=self.runtimes.display_names(),
            breaker_states=self.runtimes.breaker_states(),
            cache_sync_status=sync,
            cache_progress=live.progress if live is not None else None,
        )

    def _compare(self, row: Any, live: Any) -> SyncStatus:
        close = abs(row.progress - live.progress) <= self.settings.sync_tolerance
        if close and row.status == live.status.value:
            return "synced"
        if live.seq > row.seq and (live.dirty or live.flushed_seq > row.seq):
            return "synced"  # the cache is ahead only by changes whose flush is pending
        metrics.OUT_OF_SYNC.inc()
        log.warning(
            "cache out_of_sync execution_id=%s db_progress=%d cache_progress=%d db_seq=%d "
            "cache_seq=%d db_status=%s cache_status=%s",
            row.execution_id,
            row.progress,
            live.progress,
            row.seq,
            live.seq,
            row.status,
            live.status.value,
        )
        return "out_of_sync"

    async def _status_from_cache(
        self, execution_id: str, owner: str | None, exc: Exception
    ) -> ExecutionStatusView:
        log.warning("status read failed execution_id=%s error=%s", execution_id, type(exc).__name__)
        run = self.runner.run_of(execution_id)
        live = self.cache.get(execution_id)
        if live is None or run is None:
            return self._status_from_mirror(await self.mirror.lookup(execution_id), owner)
        if owner is not None and run.record.owner != owner:
            raise Unavailable("the database is unavailable; try again shortly")
        snap = live.snapshot()
        return status_view(
            run.record,
            display_names=self.runtimes.display_names(),
            breaker_states=self.runtimes.breaker_states(),
            source="cache",
            cache_sync_status="unknown",
            cache_progress=live.progress,
            snapshot=snap,
        )

    @staticmethod
    def _status_from_mirror(
        mirrored: MirroredLive | None, owner: str | None
    ) -> ExecutionStatusView:
        """Another process runs it: its last flushed view, as the mirror holds it."""
        if mirrored is None or mirrored.view is None or (
            owner is not None and mirrored.owner != owner
        ):
            raise Unavailable("the database is unavailable; try again shortly")
        view = ExecutionStatusView.model_validate(mirrored.view)
        return view.model_copy(update={
            "source": "cache", "cache_sync_status": "unknown", "cache_progress": mirrored.progress,
        })

    async def results(
        self, execution_id: str, owner: str | None, *, offset: int, limit: int
    ) -> tuple[list[Any], int]:
        await self._get(execution_id, owner)
        return await self.repository.page_results(execution_id, offset=offset, limit=limit)

    async def history(self, owner: str | None, *, page: int, limit: int) -> tuple[list[Any], int]:
        return await self.repository.list_executions(owner=owner, page=page, limit=limit)

    async def report(self, execution_id: str, owner: str | None, fmt: str = "json") -> Any:
        record = await self._get(execution_id, owner)
        if not ExecutionStatus(record.status).is_terminal:
            raise Conflict(f"the report is ready once the execution ends (now {record.status})")
        report = record.report or {}
        if fmt == "json":
            return report
        rows = await self.repository.all_results(execution_id) if fmt == "csv" else []
        return render(fmt, report, rows, brand_specs(record))

    def brands_of(self, record: Any) -> list[BrandSpec]:
        return brand_specs(record)
