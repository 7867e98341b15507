"""The engine in this process (as the API's lifespan builds it) against the fake provider, and
one execution run from `engine.create` to its terminal status, with every flush timestamped.

The timestamping wraps `write_progress` of this engine's repository only; writes are unchanged.
Like the lifespan, the start-up heap is frozen once the engine is built (diagnosis.heap).
"""

import os
import resource
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.probes import GcRecorder
from bench.procs import cpu_seconds, descendants
from diagnosis.engine import metrics
from diagnosis.engine.service import Competitor, Engine, NewDiagnosis
from diagnosis.heap import freeze_startup_heap
from diagnosis.persistence.db import Database, migrate
from diagnosis.persistence.records import ProgressSnapshot, ResultWrite
from diagnosis.persistence.repository import Repository
from diagnosis.providers.config import PlatformConfig
from diagnosis.providers.registry import PlatformRegistry, TransportFactory
from diagnosis.providers.transport import httpx_aiohttp_transport
from diagnosis.settings import Settings

PLATFORM = "fake"
BRAND = "蔚来"
COMPETITORS = ("理想", "小鹏")


def cpu_now() -> float:
    """CPU seconds of this process, all threads (aiosqlite's included), and of the processes
    below it: the engine's analysis processes (a fan-out of 100 tasks or more sends its short
    answers there too, engine/analysis_pool.py)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    below = 0.0
    for child in descendants(os.getpid()):
        try:
            below += cpu_seconds(child)
        except OSError:  # ended in between
            continue
    return usage.ru_utime + usage.ru_stime + below


def question(i: int) -> str:
    return f"20万左右的新能源汽车品牌推荐（第{i}问）"


def request_shape(tasks: int) -> tuple[list[str], list[str], int]:
    """(questions, competitors, samples) giving exactly `tasks` tasks on one platform, within
    what the API accepts (<= 50 questions, <= 10 samples), as a real request would be shaped."""
    for samples in range(min(10, tasks), 0, -1):
        if tasks % samples:
            continue
        per_sample = tasks // samples
        if per_sample <= 50:
            return [question(i) for i in range(per_sample)], list(COMPETITORS), samples
        for brands in range(2, 21):  # `{brand}` templates asked once per brand
            if per_sample % brands == 0 and per_sample // brands <= 50:
                templates = [f"{{brand}}怎么样（第{i}问）" for i in range(per_sample // brands)]
                extra = [f"品牌{j}" for j in range(max(0, brands - 1 - len(COMPETITORS)))]
                return templates, [*COMPETITORS, *extra][: brands - 1], samples
    raise ValueError(f"{tasks} tasks cannot be shaped as one API request")


def fake_platform(base_url: str, concurrency: int) -> PlatformConfig:
    return PlatformConfig(
        id=PLATFORM, kind="openai", base_url=base_url, model="fake-model", display_name="Fake",
        max_concurrency=concurrency, timeout_s=60.0,
    )


def httpcore_transport(config: PlatformConfig) -> httpx.AsyncBaseTransport:
    """httpx's own transport (httpcore), the one the service used before it was measured."""
    n = config.max_concurrency
    return httpx.AsyncHTTPTransport(
        limits=httpx.Limits(max_connections=n, max_keepalive_connections=n)
    )


# "aiohttp" is the service's default (aiohttp.ClientSession directly): no factory needed.
# The other two drive an httpx transport: httpx-aiohttp (the client before issue 13) and
# httpx's own (httpcore, the one before that).
TRANSPORTS: dict[str, TransportFactory | None] = {
    "aiohttp": None, "httpx-aiohttp": httpx_aiohttp_transport, "httpcore": httpcore_transport,
}


@dataclass
class Commit:
    seq: int
    stage: str
    at: float  # time.time() once the transaction committed
    results: list[ResultWrite]


@dataclass
class CommitLog:
    by_execution: dict[str, list[Commit]] = field(default_factory=dict)

    def wrap(self, repository: Repository) -> None:
        original = repository.write_progress

        async def write_progress(
            snapshot: ProgressSnapshot, results: Sequence[ResultWrite]
        ) -> bool:
            applied = await original(snapshot, results)
            commit = Commit(snapshot.seq, snapshot.stage, time.time(), list(results))
            self.by_execution.setdefault(snapshot.execution_id, []).append(commit)
            return applied

        repository.write_progress = write_progress  # type: ignore[method-assign]


@dataclass
class EngineRun:
    tasks: int
    concurrency: int
    transport: str
    makespan_s: float
    cpu_s: float
    status: str
    commits: list[Commit]
    flush_metric: int  # metrics.FLUSHES delta over the run
    cache_after: int  # len(engine.cache) once the run ended
    gc_s: float = 0.0  # time in garbage collections during the run
    gc_counts: tuple[int, int, int] = (0, 0, 0)  # collections per generation

    @property
    def finishes(self) -> list[float]:
        return sorted(r.finished_at.timestamp() for c in self.commits for r in c.results)

    @property
    def staleness(self) -> list[float]:
        """Per result: from the task's end to the commit that made it durable."""
        return [c.at - r.finished_at.timestamp() for c in self.commits for r in c.results]

    @property
    def duration_s(self) -> float:
        return self.commits[-1].at - self.commits[0].at

    @property
    def tail_s(self) -> float:
        """From the last task's end to the terminal status being durable (analysis, report)."""
        return self.commits[-1].at - self.finishes[-1]


def transport_name(engine: Engine) -> str:
    """The class of the client the platform's provider really uses (and its httpx transport)."""
    client = getattr(engine.registry.provider(PLATFORM), "_client", None)
    transport = getattr(client, "transport", None)
    name = type(client).__name__
    return f"{name} over {type(transport).__name__}" if transport is not None else name


@contextmanager
def postgres_database() -> Iterator[tuple[str, str] | None]:
    """(URL, server version) of a migrated database of its own on the tests' PostgreSQL server
    (tests.databases), dropped afterwards; None when that server does not answer."""
    from tests.databases import ADMIN_URL, PostgresServer

    server = PostgresServer(ADMIN_URL)
    if server.unreachable() is not None:
        yield None
        return
    try:
        url = server.acquire(empty=False)
        yield url, server.version()
    finally:
        server.close()


@asynccontextmanager
async def bench_engine(
    work_dir: Path, name: str, *, base_url: str, concurrency: int, transport: str,
    flush_interval_s: float = 0.5, database_url: str | None = None,
) -> AsyncIterator[tuple[Engine, CommitLog]]:
    """The engine on `database_url`, by default a new SQLite file in `work_dir`."""
    url = database_url or f"sqlite+aiosqlite:///{work_dir / f'{name}.db'}"
    settings = Settings(database_url=url, flush_interval_s=flush_interval_s, platforms_file=None)
    await migrate(url)
    database = Database.open(url)
    repository = Repository(database)
    log = CommitLog()
    log.wrap(repository)
    registry = PlatformRegistry(
        {PLATFORM: fake_platform(base_url, concurrency)}, transport_factory=TRANSPORTS[transport]
    )
    engine = Engine(settings, repository, registry)
    # as in a long-running service, whose first big fan-out started them (a run of 100 tasks
    # or more sends its short answers there): not a start-up cost inside a measured run
    await engine.analyser.start_worker()
    freeze_startup_heap()
    try:
        yield engine, log
    finally:
        await engine.aclose()
        await database.dispose()


def _flush_count() -> int:
    value: Any = metrics.FLUSHES._value.get()  # the counter's current value
    return int(value)


async def run_execution(
    engine: Engine, log: CommitLog, *, tasks: int, concurrency: int, transport: str
) -> EngineRun:
    """One execution of `tasks` tasks on the fake platform, create -> terminal."""
    questions, competitors, samples = request_shape(tasks)
    request = NewDiagnosis(
        brand=BRAND, platforms=[PLATFORM], questions=questions, samples=samples,
        competitors=[Competitor(name) for name in competitors],
    )
    collections = GcRecorder()
    collections.start()
    flushes, cpu = _flush_count(), cpu_now()
    began = time.perf_counter()
    try:
        record = await engine.create(request)
        status = await engine.runner.wait(str(record.execution_id))
    finally:
        collections.stop()
    makespan = time.perf_counter() - began
    return EngineRun(
        tasks=tasks, concurrency=concurrency, transport=transport, makespan_s=makespan,
        cpu_s=cpu_now() - cpu, status=status.value if status else "none",
        commits=log.by_execution.get(str(record.execution_id), []),
        flush_metric=_flush_count() - flushes, cache_after=len(engine.cache),
        gc_s=sum(collections.seconds), gc_counts=(
            collections.counts[0], collections.counts[1], collections.counts[2]),
    )
