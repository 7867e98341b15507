"""The monitor scheduler: fires due slots and evaluates finished runs' alert rules.

One owned task (started in the app's lifespan, cancelled at shutdown), woken at least every
DIAGNOSIS_MONITOR_TICK_S and at once when a monitor changes. It holds no lock: exactly one
execution per (monitor, slot) is the database's unique constraint, so several schedulers on
one database (several `diagnosis serve`, or a restart in the middle of a tick) never run a slot
twice, and alerts are evaluated once per run (monitor_evaluations' primary key). `tick()` does
one round and returns what it did, so tests drive it with an injected clock (like arq's burst).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from diagnosis.engine.errors import DiagnosisError
from diagnosis.monitors.delivery import AlertDispatcher
from diagnosis.monitors.rules import evaluate
from diagnosis.monitors.schedule import InvalidSchedule, Schedule, due_slot
from diagnosis.monitors.service import MonitorService, run_view
from diagnosis.persistence.monitor_repository import AlertWrite, MonitorRecord, RunRecord
from diagnosis.persistence.records import SlotTaken

log = logging.getLogger("diagnosis.monitors")
# How many latest runs are read to find the run before the one being evaluated.
HISTORY_FOR_EVALUATION = 50


@dataclass
class TickResult:
    started: list[str] = field(default_factory=list)  # execution ids created by this tick
    taken: int = 0  # slots another scheduler (or an earlier tick) had already filled
    evaluated: int = 0
    alerts: list[str] = field(default_factory=list)


class MonitorScheduler:
    def __init__(
        self, service: MonitorService, dispatcher: AlertDispatcher, *, tick_s: float,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.service = service
        self.dispatcher = dispatcher
        self.tick_s = tick_s
        self.clock = clock or service.clock
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="monitor-scheduler")
            self._task.add_done_callback(self._reap)

    def wake(self) -> None:
        self._wake.set()

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def _reap(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("monitor scheduler stopped", exc_info=task.exception())

    async def _loop(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:  # a database fault must not end the schedule; next tick retries
                log.exception("monitor tick failed")
            try:
                async with asyncio.timeout(self.tick_s):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()

    async def tick(self) -> TickResult:
        """One round: start every due slot's run, then evaluate every ended run's rules."""
        result = TickResult()
        now = self.clock()
        for monitor in await self.service.repository.due_monitors(now):
            await self._fire(monitor, now, result)
        await self.evaluate_ended(result)
        return result

    async def evaluate_ended(self, result: TickResult | None = None) -> TickResult:
        """Evaluate the alert rules of every ended run not evaluated yet (the CLI's `run`)."""
        result = result or TickResult()
        for run in await self.service.repository.unevaluated_runs():
            await self._evaluate(run, result)
        return result

    async def _fire(self, monitor: MonitorRecord, now: datetime, result: TickResult) -> None:
        assert monitor.next_run_at is not None
        try:
            due = due_slot(Schedule.from_dict(monitor.schedule), monitor.next_run_at, now)
        except InvalidSchedule:
            log.error("monitor schedule unusable monitor_id=%s", monitor.monitor_id)
            return
        if due is None:
            return
        slot, next_run_at = due
        try:
            record = await self.service.run_slot(monitor, slot)
        except SlotTaken:
            result.taken += 1
        except DiagnosisError as exc:
            # e.g. its platform is no longer configured: this slot is skipped, not retried
            log.warning("monitor run refused monitor_id=%s slot=%s reason=%s",
                        monitor.monitor_id, slot.isoformat(), exc.detail)
        else:
            result.started.append(str(record.execution_id))
            log.info("monitor run started monitor_id=%s execution_id=%s slot=%s",
                     monitor.monitor_id, record.execution_id, slot.isoformat())
        # After the execution exists (or was refused): a crash between the two leaves the slot
        # due, and the next tick finds it taken instead of running it again.
        await self.service.repository.advance(monitor.monitor_id, next_run_at)

    async def _evaluate(self, run: RunRecord, result: TickResult) -> None:
        repository = self.service.repository
        monitor = await repository.get_monitor(run.monitor_id)
        if monitor is None:
            return
        history = await repository.finished_runs(run.monitor_id, limit=HISTORY_FOR_EVALUATION)
        views = [run_view(r) for r in history]
        index = next((i for i, v in enumerate(views) if v.execution_id == run.execution_id), None)
        if index is None:
            current, previous = run_view(run), None
        else:
            current = views[index]
            previous = next((v for v in reversed(views[:index]) if v.report is not None), None)
        firings = evaluate(list(monitor.alerts), previous, current)
        status = "pending" if monitor.webhook else "stored"
        now = self.clock()
        alerts = [
            AlertWrite(
                alert_id="alr_" + secrets.token_urlsafe(9), execution_id=run.execution_id,
                rule=f.rule, message=f.message, status=status, fired_at=now,
                details={"brand": f.brand, "metric": f.metric, "before": f.before,
                         "after": f.after, "delta": f.delta, "rule_index": f.rule_index},
            )
            for f in firings
        ]
        if not await repository.record_evaluation(run.monitor_id, run.execution_id, alerts):
            return  # another scheduler evaluated it first
        result.evaluated += 1
        for alert in alerts:
            result.alerts.append(alert.alert_id)
            log.info("monitor alert fired monitor_id=%s alert_id=%s execution_id=%s",
                     run.monitor_id, alert.alert_id, run.execution_id)
            if status == "pending":
                self.dispatcher.submit(alert.alert_id)
