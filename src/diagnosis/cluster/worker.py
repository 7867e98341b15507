"""`diagnosis worker` (SPEC 11): takes executions from the SAQ queue and runs each with today's
engine (the in-process runner, the executor, the reporter), under the cluster's limits.

A taken job is touched every heartbeat/3; a worker killed with -9 stops touching it and another
worker's sweep hands it on (resume, SPEC 4). SIGTERM: take no more work, stop the calls, flush,
and hand each execution back to the queue at once. Never decides anything the database holds.
"""

import asyncio
import contextlib
import logging
import os
import signal
import socket
from typing import TYPE_CHECKING, Any

from saq import Queue, Worker

from diagnosis.cluster.control import StopRequests
from diagnosis.cluster.queue import JOB_FUNCTION
from diagnosis.cluster.reconciler import Reconciler
from diagnosis.engine.executor import StopReason

if TYPE_CHECKING:
    from diagnosis.engine.service import Engine

log = logging.getLogger("diagnosis.cluster.worker")


class HandedBack(Exception):
    """This worker stops: SAQ puts the execution back in the queue (retry_delay 0)."""


class _QuietHandBack(logging.Filter):
    """SAQ logs a job function's exception with its traceback; a hand-back is not an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, HandedBack)


logging.getLogger("saq").addFilter(_QuietHandBack())


class _SaqWorker(Worker):  # type: ignore[misc]
    # Signals are ours (ExecutionWorker.run): SIGTERM must stop the executions gracefully
    # before SAQ cancels what is still running.
    SIGNALS: list[signal.Signals] = []  # noqa: RUF012  (SAQ reads the class attribute)


class ExecutionWorker:
    def __init__(
        self, engine: "Engine", *, queue: Queue, stops: StopRequests, reconciler: Reconciler,
        concurrency: int, heartbeat_s: int, sweep_s: int,
    ) -> None:
        self.engine = engine
        self._stops = stops
        self._reconciler = reconciler
        self._heartbeat_s = heartbeat_s
        self._closing = False
        self._stopping = asyncio.Event()
        self._jobs: set[asyncio.Task[Any]] = set()  # job functions running now
        self.taken: list[str] = []  # execution ids this worker took, in order (tests, logs)
        self._saq = _SaqWorker(
            queue,
            # Who holds a job, as `saq` and operators see it: host and pid, not a random uuid.
            id=f"{socket.gethostname()}:{os.getpid()}",
            functions=[(JOB_FUNCTION, self._job)],
            concurrency=concurrency,
            timers={"sweep": sweep_s, "abort": 1, "schedule": 1, "worker_info": 10},
            shutdown_grace_period_s=0,
            # How long SAQ waits for a cancelled job to flush before it re-queues it anyway.
            cancellation_hard_deadline_s=engine.settings.shutdown_timeout_s * 0.6,
        )

    def request_stop(self) -> None:
        """SIGTERM / SIGINT: begin the graceful stop (idempotent)."""
        self._stopping.set()

    async def run(self, *, handle_signals: bool = True) -> None:
        """Until SIGTERM/SIGINT (or request_stop): take jobs, then stop gracefully."""
        loop = asyncio.get_running_loop()
        signals = (signal.SIGTERM, signal.SIGINT) if handle_signals else ()
        for signum in signals:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, self.request_stop)
        self._stops.listen(self._on_stop)
        await self._reconciler.start()
        saq = asyncio.create_task(self._saq.start(), name="saq-worker")
        stopping = asyncio.create_task(self._stopping.wait())
        await asyncio.wait({saq, stopping}, return_when=asyncio.FIRST_COMPLETED)
        # SAQ's loop ending on its own is a failure (Redis refused it, say): the process must
        # end with it, so that its supervisor starts another, rather than idle holding nothing.
        crashed = saq.done() and not stopping.done()
        try:
            await self._shutdown()
        finally:
            stopping.cancel()
            if not saq.done():
                saq.cancel()
            results = await asyncio.gather(saq, stopping, return_exceptions=True)
            for signum in signals:
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(signum)
        if crashed:
            error = results[0] if isinstance(results[0], BaseException) else None
            log.error("the queue worker stopped on its own: %r", error)
            raise RuntimeError("the queue worker stopped on its own") from error

    async def _shutdown(self) -> None:
        self._closing = True
        log.info("worker stopping: handing back executions=%d", len(self._jobs))
        await self._reconciler.aclose()
        # SAQ cancels its dequeue loops and each running job function at once; a job function
        # stops its execution gracefully (calls cancelled, flushed, resumable) and SAQ puts the
        # job back in the queue. No loop is left to take it again in between.
        await self._saq.stop()
        await self._stops.aclose()

    def _on_stop(self, execution_id: str, reason: StopReason) -> None:
        if self.engine.runner.stop(execution_id, reason) and self.engine.runner.is_running(
            execution_id
        ):
            log.info("stop request received execution_id=%s reason=%s", execution_id, reason)

    async def _job(self, ctx: dict[str, Any], *, execution_id: str) -> str:
        """SAQ's job function: run the execution to its end, or hand it back on shutdown."""
        if self._closing:
            raise HandedBack("worker stopping")
        job = ctx["job"]
        current = asyncio.current_task()
        assert current is not None
        self._jobs.add(current)
        self.taken.append(execution_id)
        runner = self.engine.runner
        runner.submit(execution_id)
        reason = await self._stops.requested(execution_id)
        if reason is not None:
            runner.stop(execution_id, reason)
        beat = asyncio.create_task(self._heartbeat(job, execution_id), name=f"beat-{execution_id}")
        try:
            try:
                status = await runner.wait(execution_id)
            except asyncio.CancelledError:
                # SAQ stops (SIGTERM) or aborts the job: stop the calls and flush, leaving the
                # execution resumable; SAQ re-queues the job once this returns.
                runner.stop(execution_id, StopReason.shutdown)
                with contextlib.suppress(Exception):
                    await runner.wait(execution_id)
                raise
        finally:
            beat.cancel()
            await asyncio.gather(beat, return_exceptions=True)
            self._jobs.discard(current)
        if status is None and self._closing:
            raise HandedBack("worker stopping")
        log.info("job done execution_id=%s status=%s", execution_id,
                 status.value if status else "not-run")
        return status.value if status else "not-run"  # None: it had ended already

    async def _heartbeat(self, job: Any, execution_id: str) -> None:
        """Touch the job (SAQ's heartbeat) and re-read the stop request (a missed message)."""
        every = max(1.0, self._heartbeat_s / 3)
        while True:
            await asyncio.sleep(every)
            try:
                await job.update()
            except Exception as exc:  # Redis down: the sweep may hand it on; the run goes on
                log.warning("heartbeat failed execution_id=%s error=%s",
                            execution_id, type(exc).__name__)
                continue
            reason = await self._stops.requested(execution_id)
            if reason is not None:
                self.engine.runner.stop(execution_id, reason)
