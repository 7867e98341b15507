"""Where an answer is analysed: on the loop, in a worker process, or in a thread (issue 13).

A long answer goes to one of a few worker processes (DIAGNOSIS_ANALYSIS_PROCESSES, by default one
less than the cores, at least one), so the rules judge's per-clause Python never holds the event
loop. A short one goes there too when a worker is running: an execution of PRESTART_TASKS or more
starts one as it starts (`expect`), and batched, a short answer costs the loop less sent than
analysed. Otherwise (a small execution, no processes) it is analysed on the loop. Measured
(BENCHMARKS.md, issue 13): a thread could not do it, as the GIL went back and forth between the
loop and the thread and cost more CPU for the same stalls.

Written here rather than with concurrent.futures.ProcessPoolExecutor: that pool hands every item
through two threads of the server (its queue feeder and its manager), and their GIL hand-offs
cost the server ~0.2-0.3 ms per 3000-character answer (measured: a quarter of the work it takes
away). Here the loop itself writes the answers to a worker's socket and reads the analyses back
(~0.03-0.1 ms), and there is nothing else to it: one socket per worker, one pickle each way per
batch. The answers that arrive within BATCH_MS of each other go as one batch: a worker woken
for every answer ran each cache-cold (see BATCH_MS).

Failures: a worker that dies (killed, out of memory) fails the answers it held; those are
analysed in a thread, and the next long answer starts a new worker. Workers that cannot start
at all (the first one dies before its first answer) are given up: long answers go to threads
from then on, with one error in the log. With no processes configured, threads do it.

Workers start on the first long answer (a service that never sees one never forks), with the
`forkserver` method: the server has threads (aiosqlite, the report's), which a plain fork would
copy in whatever state they are in. A worker ends when its socket closes, so also with the
server.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import multiprocessing
import os
import pickle
import signal
import socket
import struct
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from diagnosis.analysis import NATIVE, BrandSpec, analyze_answer
from diagnosis.analysis.domains import domain_kinds
from diagnosis.analysis.native import describe
from diagnosis.heap import freeze_startup_heap

log = logging.getLogger("diagnosis.engine.analysis")

# Answers up to this many characters are analysed on the loop (up to ~0.2 ms compiled, ~0.3 ms
# as Python, diagnosis/analysis/native.py: less than the trip to a worker process and back costs
# the loop). Longer ones would hold it too long when a burst of answers arrives together: 32
# answers of 3000 characters at 0.56 ms each are an 18 ms stall.
INLINE_ANALYSIS_CHARS = 1_000
# Long answers go to a worker in batches: those that arrive within this many milliseconds of
# the first one waiting, at most BATCH_MAX at a time. Measured (BENCHMARKS.md, issue 13): a
# worker woken for each answer of a fan-out (one every few ms) runs it cache-cold, at up to
# twice the CPU of answers analysed back to back. The wait delays an answer's analysis, never
# its call's slot (the call has released it), and is far below the progress flush interval.
BATCH_MS = 50.0
BATCH_MAX = 16
# An execution of at least this many tasks starts a worker as it starts, and its short answers go
# to the workers too, off the loop: batched, one costs the loop less than analysing it there.
# Measured (BENCHMARKS.md, issue 13): section 6's short kind, 1000 tasks, 0.73 -> 0.67 ms of CPU
# per task in all and 0.73 -> 0.56 ms in the server. Fewer tasks stay on the loop: a worker's
# start (a fork, the fork server's first start ~1 s) costs more than they would save.
PRESTART_TASKS = 100
_HEAD = struct.Struct("!Q")  # each message: its length, then one pickle


def default_processes() -> int:
    """One less than the cores this process may run on, at least one."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, cores - 1)


def _analyse(
    text: str, brands: Sequence[BrandSpec], citations: Sequence[Mapping[str, Any]],
    kinds_file: Path | None,
) -> dict[str, Any]:
    """The same call wherever it runs (in a worker the domain table is read once, through
    domain_kinds' own cache, instead of sent with every answer)."""
    return analyze_answer(text, brands, citations=citations, kinds=domain_kinds(kinds_file))


def worker_start() -> None:
    """Each worker as it starts: its imported heap frozen and the service's collector
    thresholds, as in the server (diagnosis/heap.py), so no full collection walks the modules
    between two answers."""
    freeze_startup_heap()


def _reply(seq: int, args: tuple[Any, ...]) -> tuple[int, bool, Any]:
    try:
        return seq, True, _analyse(*args)
    except Exception as exc:  # the analysis's own bug: raised in the server, as inline
        return seq, False, RuntimeError(f"analysis failed: {exc!r}")


def _serve(sock: socket.socket, start: Callable[[], None]) -> None:
    """A worker's life: a batch of [(seq, args)] in, [(seq, ok, analysis or exception)] out,
    until EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's ^C is the server's to handle
    start()
    with sock, sock.makefile("rwb") as stream:
        while head := stream.read(_HEAD.size):
            batch = pickle.loads(stream.read(_HEAD.unpack(head)[0]))
            reply = pickle.dumps([_reply(seq, args) for seq, args in batch],
                                 pickle.HIGHEST_PROTOCOL)
            stream.write(_HEAD.pack(len(reply)) + reply)
            stream.flush()


class WorkerDied(Exception):
    """The worker holding an answer ended before it answered."""


class _Worker:
    def __init__(self, process: Any, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, *, batch_s: float, batch_max: int,
                 sent: Callable[[int], None]) -> None:
        self.process = process
        self.reader, self.writer = reader, writer
        self.waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.served = 0
        self.alive = True
        self.batch_s, self.batch_max = batch_s, batch_max
        self._sent = sent  # told how many answers each batch sent holds
        self._outgoing: list[tuple[int, tuple[Any, ...]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._loop = asyncio.get_running_loop()
        self.reading = self._loop.create_task(self._read())

    def submit(self, seq: int, args: tuple[Any, ...]) -> asyncio.Future[dict[str, Any]]:
        """The answer's analysis, to come: sent with the others that arrive within batch_s of
        the first one waiting (at once when batch_s is 0 or batch_max are waiting)."""
        future = self._loop.create_future()
        self.waiting[seq] = future
        self._outgoing.append((seq, args))
        if self.batch_s <= 0 or len(self._outgoing) >= self.batch_max:
            self.send()
        elif self._timer is None:
            self._timer = self._loop.call_later(self.batch_s, self.send)
        return future

    def filling(self) -> bool:
        """Whether a batch waits for more answers."""
        return bool(self._outgoing)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def send(self) -> None:
        self._stop_timer()
        outgoing, self._outgoing, batch = self._outgoing, [], []
        for seq, args in outgoing:
            if self.waiting[seq].done():  # cancelled while it waited (its execution was)
                del self.waiting[seq]
            else:
                batch.append((seq, args))
        if batch and self.alive:
            data = pickle.dumps(batch, pickle.HIGHEST_PROTOCOL)
            self.writer.write(_HEAD.pack(len(data)) + data)
            self._sent(len(batch))

    async def _read(self) -> None:
        try:
            while True:
                head = await self.reader.readexactly(_HEAD.size)
                body = await self.reader.readexactly(_HEAD.unpack(head)[0])
                for seq, ok, value in pickle.loads(body):
                    future = self.waiting.pop(seq, None)
                    self.served += 1
                    if future is None or future.done():
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            self._end()

    def _end(self) -> None:
        self.alive = False
        self._stop_timer()
        self._outgoing.clear()
        for future in self.waiting.values():
            if not future.done():
                future.set_exception(WorkerDied())
        self.waiting.clear()

    def stop(self) -> None:
        """Close its socket (the worker ends at EOF) and make sure it does."""
        self.alive = False
        try:
            self.writer.close()
            self.reading.cancel()
        except RuntimeError:  # its loop is closed already (a worker left by an earlier loop)
            pass
        self._end()
        if self.process.is_alive():
            self.process.terminate()


def _load(worker: _Worker) -> int:
    return len(worker.waiting)


def _one_will_do(workers: list[_Worker]) -> bool:
    """Whether a worker is idle or filling a batch: no reason to start another."""
    return any(not w.waiting or w.filling() for w in workers)


def _pick(workers: list[_Worker]) -> _Worker:
    """The worker whose batch is filling (answers that arrive together go together), else the
    least busy."""
    return next((w for w in workers if w.filling()), None) or min(workers, key=_load)


class AnswerAnalyser:
    """`await analyser.analyse(text, brands, citations)`: the analysis of one answer."""

    def __init__(self, *, processes: int, kinds_file: Path | None,
                 inline_chars: int = INLINE_ANALYSIS_CHARS, batch_ms: float = BATCH_MS,
                 batch_max: int = BATCH_MAX, prestart_tasks: int = PRESTART_TASKS,
                 start: Callable[[], None] = worker_start) -> None:
        self.processes = processes
        self.prestart_tasks = prestart_tasks
        self._prestarting: set[asyncio.Task[Any]] = set()
        self.batch_s, self.batch_max = batch_ms / 1000, batch_max
        self.kinds_file = kinds_file
        self.inline_chars = inline_chars
        self.start = start  # run in each worker process as it starts
        self._workers: list[_Worker] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._starting: asyncio.Lock | None = None
        self._seq = itertools.count()
        self._off = processes <= 0
        # answers analysed in the worker processes, and long ones analysed in a thread instead
        self.in_processes = 0
        self.in_threads = 0
        # messages to the worker processes, each a batch of answers, and the answers they held
        self.batches = self.sent = 0
        log.info("analysis: %s; answers over %d characters in %s", describe(NATIVE), inline_chars,
                 f"{processes} worker process(es)" if processes > 0 else "a thread")

    async def analyse(
        self, text: str, brands: Sequence[BrandSpec],
        citations: Sequence[Mapping[str, Any]] = (), *, short_off_loop: bool = False,
        last: bool = False,
    ) -> dict[str, Any]:
        """`short_off_loop`: a short answer goes to a running worker (an execution that
        `expect` said is big enough); else it is analysed on the loop. `last`: no answer
        follows it (the execution's last call): the batches go now (`flush`)."""
        args = (text, tuple(brands), tuple(citations), self.kinds_file)
        short = len(text) <= self.inline_chars
        # a short answer starts no worker; on the loop when none runs or it died holding it
        worker = (self._running() if short_off_loop else None) if short else await self._worker()
        analysis = await self._in_worker(worker, args, last)
        if analysis is not None:
            return analysis
        if short:
            return _analyse(*args)
        self.in_threads += 1
        return await asyncio.to_thread(functools.partial(_analyse, *args))

    async def _in_worker(self, worker: _Worker | None, args: tuple[Any, ...],
                         last: bool) -> dict[str, Any] | None:
        """The analysis made by `worker`; None when there is none or it died holding it.
        `last`: the batches go now, this answer's among them."""
        if worker is None:
            if last:
                self.flush()
            return None
        future = worker.submit(next(self._seq), args)
        if last:
            self.flush()
        try:
            analysis = await future
        except WorkerDied:
            self._died(worker)
            return None
        self.in_processes += 1
        return analysis

    def _running(self) -> _Worker | None:
        """The worker for the next answer among those running in this loop, if any."""
        if self._off or self._loop is not asyncio.get_running_loop():
            return None
        live = self._live()
        return _pick(live) if live else None

    def expect(self, tasks: int) -> bool:
        """An execution with `tasks` to run starts: with PRESTART_TASKS or more, a worker starts
        now (in the background; the first answers are analysed as if it were not there) and
        True says to send its short answers there too. A smaller one's stay on the loop, even
        with a worker running: a batch's wait would add to its few calls' makespan."""
        if self._off or tasks < self.prestart_tasks:
            return False
        task = asyncio.get_running_loop().create_task(self.start_worker(),
                                                      name="analysis-prestart")
        self._prestarting.add(task)
        task.add_done_callback(self._prestarting.discard)
        return True

    def flush(self) -> None:
        """Send the batches that are filling now, without their wait: the execution's calls
        are over, no answer is coming to fill them. (An answer still waiting for a worker to
        start when the last call returns is sent after this, in a batch of its own: it waits
        at most batch_ms, not for more answers.)"""
        for worker in self._workers:
            if worker.alive and worker.filling():
                worker.send()

    async def start_worker(self) -> None:
        """At least one worker running in this loop (none when processes are off)."""
        await self._worker()

    async def _worker(self) -> _Worker | None:
        """The live worker filling a batch, else the least busy one; one more started while
        there are fewer than asked and all are busy."""
        if self._off:
            return None
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # sockets belong to one loop (a test's, `diagnosis run`'s)
            self._stop_all()
            self._loop, self._starting = loop, asyncio.Lock()
        assert self._starting is not None
        live = self._live()
        if len(live) >= self.processes or _one_will_do(live):
            return _pick(live)
        async with self._starting:
            live = self._live()
            if len(live) < self.processes and not _one_will_do(live) and not self._off:
                try:
                    worker = await self._spawn()
                except Exception:
                    self._give_up(exc_info=True)
                else:
                    if self._off:  # closed while it started (a prestart, engine/executor.py)
                        worker.stop()
                    else:
                        self._workers.append(worker)
        live = self._live()
        return _pick(live) if live else None

    def _count_batch(self, answers: int) -> None:
        self.batches += 1
        self.sent += answers

    def _live(self) -> list[_Worker]:
        """The workers, those that ended while idle dealt with first."""
        for worker in [w for w in self._workers if not w.alive]:
            self._died(worker)
        return self._workers

    async def _spawn(self) -> _Worker:
        ours, theirs = socket.socketpair()
        context = multiprocessing.get_context("forkserver")
        # the fork server imports the analysis once; every worker forked from it has it
        context.set_forkserver_preload([__name__])
        process = context.Process(target=_serve, args=(theirs, self.start), daemon=True,
                                  name="diagnosis-analysis")
        try:
            await asyncio.to_thread(process.start)  # the first one starts the fork server
        finally:
            theirs.close()
        reader, writer = await asyncio.open_connection(sock=ours)
        log.info("analysis process started pid=%s", process.pid)
        return _Worker(process, reader, writer, batch_s=self.batch_s, batch_max=self.batch_max,
                       sent=self._count_batch)

    def _died(self, worker: _Worker) -> None:
        """A worker that had served answers is replaced on the next long answer; one that died
        before its first could not start here (imports, resources): threads from now on."""
        if worker in self._workers:
            self._workers.remove(worker)
            if worker.served:
                log.warning("analysis process ended pid=%s; another starts for the next answer",
                            worker.process.pid)
            else:
                self._give_up()
        worker.stop()

    def _give_up(self, *, exc_info: bool = False) -> None:
        log.error("analysis process could not start; long answers are analysed in threads "
                  "from now on", exc_info=exc_info)
        self._off = True

    def _stop_all(self) -> None:
        workers, self._workers = self._workers, []
        for worker in workers:
            worker.stop()

    def close(self) -> None:
        """No more workers; answers they still held are given up (their tasks were cancelled
        by the shutdown before this)."""
        self._off = True
        self._stop_all()
