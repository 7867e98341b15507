"""The runner seam (SPEC 11): the API asks it to run an execution; it never calls the
executor itself. This in-process runner owns every task it creates (kept in a dict, reaped,
exceptions surfaced, cancelled at shutdown), like arq's worker; the queue runner
(diagnosis.cluster.queue, SAQ on Redis) takes its place behind the same methods.
"""

import asyncio
import logging
from typing import TYPE_CHECKING, Protocol

from diagnosis.constants import ExecutionStatus
from diagnosis.engine.executor import ExecutionRun, StopReason

if TYPE_CHECKING:
    from diagnosis.engine.service import Engine

log = logging.getLogger("diagnosis.engine.runner")


class Runner(Protocol):
    def submit(self, execution_id: str) -> None:
        """Have it run (at most once at a time); returns at once."""
        ...

    def is_running(self, execution_id: str) -> bool:
        """It runs in THIS process."""
        ...

    def run_of(self, execution_id: str) -> ExecutionRun | None: ...

    def stop(self, execution_id: str, reason: StopReason) -> bool:
        """Ask it to stop wherever it runs; False when nobody will act on the request."""
        ...

    async def wait(self, execution_id: str) -> ExecutionStatus | None:
        """Until it ends (its terminal status) or stops being run (None)."""
        ...

    async def resume_unfinished(self) -> list[str]: ...

    async def shutdown(self, timeout_s: float = 10.0) -> None: ...


class InProcessRunner:
    def __init__(self, engine: "Engine") -> None:
        self._engine = engine
        self._tasks: dict[str, asyncio.Task[ExecutionStatus | None]] = {}
        self._runs: dict[str, ExecutionRun] = {}
        self._early_stops: dict[str, StopReason] = {}
        self._closing = False

    def submit(self, execution_id: str) -> None:
        if self._closing or execution_id in self._tasks:
            return
        task = asyncio.create_task(self._run(execution_id), name=f"execution-{execution_id}")
        self._tasks[execution_id] = task
        task.add_done_callback(lambda t: self._reap(execution_id, t))

    def is_running(self, execution_id: str) -> bool:
        return execution_id in self._tasks

    def run_of(self, execution_id: str) -> ExecutionRun | None:
        return self._runs.get(execution_id)

    def running_ids(self) -> list[str]:
        return list(self._tasks)

    def stop(self, execution_id: str, reason: StopReason) -> bool:
        """Ask a running execution to stop; False when it does not run in this process."""
        if execution_id not in self._tasks:
            return False
        run = self._runs.get(execution_id)
        if run is None:
            self._early_stops.setdefault(execution_id, reason)
        else:
            run.stop(reason)
        return True

    async def wait(self, execution_id: str) -> ExecutionStatus | None:
        task = self._tasks.get(execution_id)
        if task is None:
            return None
        return await asyncio.shield(task)

    async def resume_unfinished(self) -> list[str]:
        """At start-up: every execution left queued/running continues (SPEC 4)."""
        records = await self._engine.repository.find_unfinished()
        for record in records:
            log.info("resuming execution_id=%s status=%s", record.execution_id, record.status)
            self.submit(str(record.execution_id))
        return [str(r.execution_id) for r in records]

    async def shutdown(self, timeout_s: float = 10.0) -> None:
        """SIGTERM: take no more work, stop calls, flush, leave executions resumable.

        Ends within `timeout_s` whatever the database does: most of it for the executions'
        own stop and flush, then they are cancelled, and a run whose shielded write still
        hangs after that is abandoned (its unwritten state is resumable from the database).
        """
        self._closing = True
        for execution_id in list(self._tasks):
            self.stop(execution_id, StopReason.shutdown)
        tasks = list(self._tasks.values())
        if not tasks:
            return
        _, still = await asyncio.wait(tasks, timeout=timeout_s * 0.8)
        for task in still:
            task.cancel()
        if still:
            _, abandoned = await asyncio.wait(still, timeout=timeout_s * 0.2)
            if abandoned:
                log.error("shutdown abandoned executions=%d still writing", len(abandoned))

    async def _run(self, execution_id: str) -> ExecutionStatus | None:
        repo = self._engine.repository
        record = await repo.get_execution(execution_id)
        if record is None or ExecutionStatus(record.status).is_terminal:
            return None
        rows = await repo.all_results(execution_id)
        run = ExecutionRun(self._engine, record, rows)
        self._runs[execution_id] = run
        early = self._early_stops.pop(execution_id, None)
        if early is not None:
            run.stop(early)
        try:
            return await run.run()
        finally:
            self._runs.pop(execution_id, None)

    def _reap(self, execution_id: str, task: asyncio.Task[ExecutionStatus | None]) -> None:
        self._tasks.pop(execution_id, None)
        self._early_stops.pop(execution_id, None)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("execution crashed execution_id=%s", execution_id, exc_info=exc)
