"""Runs one execution: fan-out under the limits, deadline, cancel, analysis, terminal status.

Every task end goes to the cache at once and reaches the DB through the reporter; the terminal
status is written only after every result is durable (SPEC 3, invariant 2). A shutdown leaves
the execution resumable: unfinished tasks stay pending, never marked failed.
"""

import asyncio
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from diagnosis.analysis import BrandSpec, analyze_answer, reads_answers
from diagnosis.analysis.domains import domain_kinds
from diagnosis.constants import ErrorKind, ExecutionStatus, ResultStatus, Stage
from diagnosis.engine import metrics
from diagnosis.engine.cache import LiveExecution, PlatformCounters, utcnow
from diagnosis.engine.calls import CallOutcome
from diagnosis.engine.judging import judge_execution
from diagnosis.engine.reporter import ProgressReporter
from diagnosis.engine.reports import build_execution_report
from diagnosis.engine.views import status_view, task_summary
from diagnosis.persistence.records import ProgressSnapshot, ResultWrite
from diagnosis.providers.base import ChatRequest

if TYPE_CHECKING:
    from diagnosis.engine.service import Engine

log = logging.getLogger("diagnosis.engine.executor")

# Tasks are started this many at a time, the loop served in between: a 1000-task execution's
# tasks started at once held the loop for ~100 ms (asyncio's slow-callback log, issue 13).
SPAWN_CHUNK = 32


class StopReason(StrEnum):
    cancelled = "cancelled"
    deadline = "deadline"
    shutdown = "shutdown"


def brand_specs(record: Any) -> list[BrandSpec]:
    own_domains = tuple(getattr(record, "brand_domains", None) or ())
    specs = [BrandSpec(record.brand, tuple(record.aliases or ()), is_own=True, domains=own_domains)]
    for comp in record.competitors or ():
        specs.append(
            BrandSpec(
                comp["name"], tuple(comp.get("aliases") or ()),
                domains=tuple(comp.get("domains") or ()),
            )
        )
    return specs


def api_citations(analysis: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The platform API's citations kept in a stored analysis (to analyse the answer again)."""
    sources = (analysis or {}).get("sources") or ()
    return [s for s in sources if isinstance(s, dict) and s.get("cited_by") == "api"]


def retry_analysis(record: Any, competitors: Sequence[Any], settings: Any) -> Any:
    """For a retry that adds competitors: each copied ok answer analysed for the new brand
    list, its API citations kept."""
    brands = [
        brand_specs(record)[0],
        *(BrandSpec(c.name, tuple(c.aliases), domains=tuple(c.domains)) for c in competitors),
    ]
    kinds = domain_kinds(settings.domain_kinds_file)

    def analyse(row: Any) -> dict[str, Any] | None:
        if not row.answer:
            return row.analysis
        return analyze_answer(
            row.answer, brands, citations=api_citations(row.analysis), kinds=kinds
        )

    return analyse


def final_status(live: LiveExecution, reason: StopReason | None) -> ExecutionStatus:
    if reason is StopReason.cancelled:
        return ExecutionStatus.cancelled
    if reason is StopReason.deadline:
        return ExecutionStatus.timeout
    if live.total > 0 and live.completed == live.total:
        return ExecutionStatus.completed
    if live.completed > 0:
        return ExecutionStatus.partial_success
    return ExecutionStatus.failed


class ExecutionRun:
    def __init__(self, engine: "Engine", record: Any, rows: Sequence[Any]) -> None:
        self.engine = engine
        self.record = record
        self.brands = brand_specs(record)
        self._brand_names = [b.name for b in self.brands]
        self._rows = {row.task_key: row for row in rows}
        self._todo = [row for row in rows if row.status == ResultStatus.pending]
        # calls not yet returned, and whether short answers go to the analysis processes
        self._calling, self._short_off_loop = len(self._todo), False
        self._ended: set[str] = set()
        self._stop = asyncio.Event()
        self._reason: StopReason | None = None
        self.live = self._live_from(record, rows)
        self.reporter = ProgressReporter(
            self.live,
            repository=engine.repository,
            broker=engine.broker,
            flush_interval_s=engine.settings.flush_interval_s,
            progress_view=self._progress_view,
            task_summary=self._task_summary,
            health=engine.write_health,
            mirror=engine.mirror,
        )

    @property
    def execution_id(self) -> str:
        return str(self.record.execution_id)

    def stop(self, reason: StopReason) -> None:
        if self._reason is None:
            self._reason = reason
        if reason is StopReason.shutdown:
            self.reporter.close()  # a flush stuck retrying must not hold the shutdown up
        self._stop.set()

    async def run(self) -> ExecutionStatus | None:
        """Runs to a terminal status (returned), or to a resumable stop on shutdown (None)."""
        engine, live = self.engine, self.live
        engine.cache.put(live)
        engine.mirror.track(live, owner=self.record.owner)
        loop = asyncio.create_task(self.reporter.run(), name=f"reporter-{self.execution_id}")
        metrics.EXECUTIONS_RUNNING.inc()
        began = time.monotonic()
        try:
            live.move(status=ExecutionStatus.running, stage=Stage.ai_fetching)
            await self.reporter.flush()
            log.info(
                "execution started execution_id=%s tasks=%d todo=%d",
                self.execution_id,
                live.total,
                len(self._todo),
            )
            # a big fan-out sends its short answers off the loop too
            self._short_off_loop = engine.analyser.expect(len(self._todo))
            reason = await self._fan_out()
            if reason is StopReason.shutdown:
                self.reporter.close()
                if not await self.reporter.flush(attempts=2):
                    self._log_unwritten()
                log.info("execution left resumable execution_id=%s", self.execution_id)
                return None
            self._end_unfinished(reason)
            live.move(stage=Stage.analyzing)
            await self.reporter.flush()
            if reason is not StopReason.cancelled:  # the LLM judge, if set; bounded (issue 12)
                await judge_execution(self.engine, self.execution_id)
            live.report = await self._report(reason)
            status = final_status(live, reason)
            live.move(status=status, stage=Stage.done)
            await self.reporter.flush()
            metrics.EXECUTIONS.labels(status.value).inc()
            log.info(
                "execution finished execution_id=%s status=%s ok=%d failed=%d duration_s=%.2f",
                self.execution_id,
                status.value,
                live.completed,
                live.failed,
                time.monotonic() - began,
            )
            return status
        except asyncio.CancelledError:
            self.reporter.close()
            if not await asyncio.shield(self.reporter.flush(attempts=2)):
                self._log_unwritten()
            raise
        finally:
            loop.cancel()
            await asyncio.gather(loop, return_exceptions=True)
            metrics.EXECUTIONS_RUNNING.dec()
            engine.cache.drop(self.execution_id)
            engine.mirror.forget(self.execution_id)

    def _log_unwritten(self) -> None:
        # Counts only: never an answer. The database still has the execution resumable.
        log.error(
            "changes could not be written execution_id=%s results=%d seq=%d flushed_seq=%d",
            self.execution_id, len(self.live.pending), self.live.seq, self.live.flushed_seq,
        )

    # -- fan-out -----------------------------------------------------------------------

    async def _fan_out(self) -> StopReason | None:
        remaining = self._deadline_remaining()
        if self._stop.is_set() or remaining <= 0:
            return self._reason or StopReason.deadline
        work = asyncio.create_task(self._run_all(), name=f"fanout-{self.execution_id}")
        stopper = asyncio.create_task(self._stop.wait())
        try:
            done, _ = await asyncio.wait(
                {work, stopper}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
            )
        except asyncio.CancelledError:
            work.cancel()  # never leave the calls running behind a cancelled run
            await asyncio.gather(work, return_exceptions=True)
            raise
        finally:
            stopper.cancel()
        if work in done:
            work.result()  # surfaces a bug in the fan-out instead of hiding it
            return None
        work.cancel()
        await asyncio.gather(work, return_exceptions=True)
        return self._reason or StopReason.deadline

    async def _run_all(self) -> None:
        async with asyncio.TaskGroup() as group:
            for started, row in enumerate(self._todo, start=1):
                group.create_task(self._run_task(row))
                if started % SPAWN_CHUNK == 0:
                    await asyncio.sleep(0)  # let the loop serve calls and streams in between

    async def _run_task(self, row: Any) -> None:
        try:
            runtime = self.engine.runtimes.get(row.platform)
        except KeyError:
            outcome = CallOutcome(None, ErrorKind.bad_request, "platform not configured", 0, None)
        else:
            request = ChatRequest(prompt=row.question, brands=self._brand_names, sample=row.sample)
            outcome = await runtime.call(request, key=self.execution_id)
        self._calling -= 1
        last = self._calling == 0  # no answer after this one: no batch waits for more
        completion = outcome.completion
        if completion:
            analysis = await self.engine.analyser.analyse(
                completion.text, self.brands, completion.citations,
                short_off_loop=self._short_off_loop, last=last)
        else:
            analysis = None
            if last:
                self.engine.analyser.flush()
        self._finish(row, outcome, analysis)

    def _finish(self, row: Any, outcome: CallOutcome, analysis: dict[str, Any] | None) -> None:
        if row.task_key in self._ended:
            return
        completion = outcome.completion
        result = ResultWrite(
            task_key=row.task_key,
            status=ResultStatus.ok.value if completion else ResultStatus.error.value,
            error_kind=outcome.error_kind.value if outcome.error_kind else None,
            answer=completion.text if completion else None,
            truncated=completion.truncated if completion else False,
            latency_ms=outcome.latency_ms,
            attempts=outcome.attempts,
            usage=completion.usage if completion else None,
            analysis=analysis,
            finished_at=utcnow(),
        )
        self._ended.add(row.task_key)
        self.live.record(result, row.platform)
        self.reporter.notify()

    def _end_unfinished(self, reason: StopReason | None) -> None:
        if reason is None:
            return
        kind = ErrorKind.deadline if reason is StopReason.deadline else ErrorKind.cancelled
        status = ResultStatus.cancelled if reason is StopReason.cancelled else ResultStatus.error
        now = utcnow()
        for row in self._todo:
            if row.task_key in self._ended:
                continue
            self._ended.add(row.task_key)
            result = ResultWrite(
                task_key=row.task_key,
                status=status.value,
                error_kind=kind.value,
                answer=None,
                latency_ms=None,
                attempts=0,
                usage=None,
                analysis=None,
                finished_at=now,
            )
            self.live.record(result, row.platform)

    def _deadline_remaining(self) -> float:
        started = self.live.started_at or utcnow()
        deadline = started + timedelta(seconds=int(self.record.deadline_s))
        return (deadline - datetime.now(UTC)).total_seconds()

    # -- analysis ----------------------------------------------------------------------

    async def _report(self, reason: StopReason | None) -> dict[str, Any] | None:
        try:
            repository = self.engine.repository
            # Without the answers: each analysis holds what the report reads of its answer (its
            # discoveries), unless it was written before analyses did (a resumed execution).
            rows = await repository.all_results(self.execution_id, answers=False)
            if reads_answers(rows):
                rows = await repository.all_results(self.execution_id)
            # CPU-bound over every result: off the loop, so other executions and streams go on.
            return await asyncio.to_thread(
                build_execution_report,
                self.record,
                rows,
                brands=self.brands,
                display_names=self.engine.runtimes.display_names(),
                status=final_status(self.live, reason).value,
                finished_at=utcnow(),
            )
        except Exception:  # a report bug must not keep an execution from ending
            log.exception("report failed execution_id=%s", self.execution_id)
            self.live.error = "report could not be built"
            return None

    # -- views -------------------------------------------------------------------------

    def _live_from(self, record: Any, rows: Sequence[Any]) -> LiveExecution:
        live = LiveExecution(
            execution_id=str(record.execution_id),
            total=len(rows),
            status=ExecutionStatus(record.status),
            stage=Stage(record.stage),
            seq=int(record.seq),
            flushed_seq=int(record.seq),
            started_at=record.started_at,
        )
        for row in rows:
            counters = live.platforms.setdefault(row.platform, PlatformCounters())
            counters.total += 1
            if row.status == ResultStatus.ok:
                live.completed += 1
                counters.completed += 1
            elif row.status != ResultStatus.pending:
                live.failed += 1
                counters.failed += 1
        return live

    def _progress_view(self, snapshot: ProgressSnapshot) -> dict[str, Any]:
        view = status_view(
            self.record,
            display_names=self.engine.runtimes.display_names(),
            breaker_states=self.engine.runtimes.breaker_states(),
            snapshot=snapshot,
            cache_sync_status="synced",
            cache_progress=snapshot.progress,
        )
        return view.model_dump(mode="json")

    def _task_summary(self, result: ResultWrite) -> dict[str, Any]:
        row = self._rows[result.task_key]
        return task_summary(
            result, platform=row.platform, question=row.question, subject=row.subject
        )
