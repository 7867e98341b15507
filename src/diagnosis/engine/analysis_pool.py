"""Where an answer is analysed: on the loop, in a worker process, or in a thread (issue 13).

A short answer is analysed inline: it costs less than sending it anywhere. A longer one goes to
a small process pool (DIAGNOSIS_ANALYSIS_PROCESSES, by default one less than the cores, at least
one), so the rules judge's per-clause Python never holds the event loop: measured (BENCHMARKS.md,
issue 13) a thread could not do it, as the GIL went back and forth between the loop and the
thread and cost more CPU for the same stalls. With no processes configured, or when the pool
breaks (a worker killed), the answer is analysed in a thread as before; the pool is started again
for the next answer.

The pool starts on the first long answer (a service that never sees one never forks) with the
`forkserver` method: the service's own process has threads (aiosqlite, the report's), which a
plain fork would copy in whatever state they are in.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import multiprocessing
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from diagnosis.analysis import BrandSpec, analyze_answer
from diagnosis.analysis.domains import domain_kinds
from diagnosis.heap import freeze_startup_heap

log = logging.getLogger("diagnosis.engine.analysis")

# Answers up to this many characters are analysed on the loop (about 0.2 ms for 500 characters:
# less than the trip to a worker process and back costs the loop).
INLINE_ANALYSIS_CHARS = 1_000


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
    """In the worker: the same call the loop would make (the domain table read once per
    process, through domain_kinds' own cache, instead of pickled with every answer)."""
    return analyze_answer(text, brands, citations=citations, kinds=domain_kinds(kinds_file))


def worker_start() -> None:
    """Each worker as it starts: its imported heap frozen and the service's collector
    thresholds, as in the server (diagnosis/heap.py), so no full collection walks the modules
    between two answers."""
    freeze_startup_heap()


class AnswerAnalyser:
    """`await analyser.analyse(text, brands, citations)`: the analysis of one answer."""

    def __init__(self, *, processes: int, kinds_file: Path | None,
                 inline_chars: int = INLINE_ANALYSIS_CHARS,
                 start: Callable[[], None] = worker_start) -> None:
        self.processes = processes
        self.start = start  # run in each worker process as it starts
        self.kinds_file = kinds_file
        self.inline_chars = inline_chars
        self._pool: ProcessPoolExecutor | None = None
        self._off = False
        self._served = False  # the current pool has analysed at least one answer
        # answers analysed in the pool, and long ones analysed in a thread instead
        self.in_processes = 0
        self.in_threads = 0

    async def analyse(
        self, text: str, brands: Sequence[BrandSpec],
        citations: Sequence[Mapping[str, Any]] = (),
    ) -> dict[str, Any]:
        call = functools.partial(_analyse, text, brands, citations, self.kinds_file)
        if len(text) <= self.inline_chars:
            return call()
        pool = self._pool_or_none()
        if pool is not None:
            try:
                analysis = await asyncio.wrap_future(pool.submit(call))
            except BrokenProcessPool:
                self._broke(pool)
            else:
                self.in_processes += 1
                self._served = True
                return analysis
        self.in_threads += 1
        return await asyncio.to_thread(call)

    def _pool_or_none(self) -> ProcessPoolExecutor | None:
        if self.processes <= 0 or self._off:
            return None
        if self._pool is None:
            context = multiprocessing.get_context("forkserver")
            # the fork server imports the analysis once; each worker forked from it has it
            context.set_forkserver_preload([__name__])
            self._pool = ProcessPoolExecutor(
                max_workers=self.processes, mp_context=context, initializer=self.start,
            )
            log.info("analysis process pool started processes=%d", self.processes)
        return self._pool

    def _broke(self, pool: ProcessPoolExecutor) -> None:
        """A worker died. A pool that had served answers is started again for the next one; one
        that broke before its first answer cannot start here (the main module cannot be
        imported again, no fork server...), so long answers go to threads from now on."""
        if self._pool is not pool:
            return  # another answer's failure already dealt with this pool
        if self._served:
            log.warning("analysis process pool broke; starting it again for the next answer")
        else:
            log.error("analysis processes could not start; long answers are analysed in "
                      "threads from now on")
            self._off = True
        self._served = False
        self._drop(pool)

    def _drop(self, pool: ProcessPoolExecutor) -> None:
        if self._pool is pool:
            self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """No more pool; answers still being analysed there are given up (their tasks were
        cancelled by the shutdown before this)."""
        self._off = True
        if self._pool is not None:
            self._drop(self._pool)
