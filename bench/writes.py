"""2. Write coalescing (SPEC 5): DB writes per execution and how stale a result can be, on
SQLite and on PostgreSQL (the tests' server, when it answers).

Each run's flushes are timestamped as they commit; a result's staleness is that commit time
minus its `finished_at`. The old every-5-tasks rule is replayed on the same run's finish times.
"""

import math
from dataclasses import dataclass, field
from pathlib import Path

from bench.inproc import EngineRun, bench_engine, postgres_database, run_execution
from bench.results import Check, Section, ms, percentile, secs
from bench.sizes import Sizes

FLUSH_INTERVAL_S = 0.5  # the service's default (SPEC 9)
STAGE_CHANGES = 3  # running+ai_fetching, analyzing, done+terminal: each flushed at once
OLD_RULE_EVERY = 5


@dataclass
class WriteRuns:
    """The runs per database ("SQLite", "PostgreSQL 15.x"), and why one database has none."""

    by_database: dict[str, list[EngineRun]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


async def measure(sizes: Sizes, base_url: str, work_dir: Path) -> WriteRuns:
    measured = WriteRuns()
    measured.by_database["SQLite"] = await measure_on(sizes, base_url, work_dir, None)
    with postgres_database() as postgres:
        if postgres is None:
            measured.notes.append("PostgreSQL: not reachable on 127.0.0.1:5432, no rows for it.")
        else:
            url, version = postgres
            measured.by_database[f"PostgreSQL {version}"] = await measure_on(
                sizes, base_url, work_dir, url
            )
    return measured


async def measure_on(
    sizes: Sizes, base_url: str, work_dir: Path, database_url: str | None
) -> list[EngineRun]:
    c = sizes.write_concurrency
    runs = []
    async with bench_engine(
        work_dir, "writes", base_url=base_url, concurrency=c, transport="aiohttp",
        flush_interval_s=FLUSH_INTERVAL_S, database_url=database_url,
    ) as (engine, log):
        await run_execution(engine, log, tasks=c, concurrency=c, transport="warm-up")
        for tasks in sizes.write_tasks:
            run = await run_execution(engine, log, tasks=tasks, concurrency=c, transport="aiohttp")
            if run.status != "completed" or len(run.staleness) != tasks:
                raise RuntimeError(f"writes run: {run.status}, {len(run.staleness)} results")
            runs.append(run)
    return runs


def old_rule_staleness(finishes: list[float]) -> list[float]:
    """Every 5th end writes the 5 (the last partial group at the last end), write time ignored."""
    stale = []
    for i, finished in enumerate(finishes):
        writer = min(len(finishes), (i // OLD_RULE_EVERY + 1) * OLD_RULE_EVERY) - 1
        stale.append(finishes[writer] - finished)
    return stale


def section(sizes: Sizes, measured: WriteRuns) -> Section:
    result = Section(
        title="2. Write coalescing",
        meaning=(
            f"One execution per row at C = {sizes.write_concurrency}, L = {sizes.latency_ms:g} ms, "
            f"flush_interval_s = {FLUSH_INTERVAL_S}, on each database: a SQLite file (WAL), and "
            "PostgreSQL on loopback (asyncpg, the service's READ COMMITTED writer pool). "
            "Writes = progress transactions of the "
            "execution (reporter flushes; `metrics.FLUSHES` delta agrees). Bound = "
            f"floor(duration / interval) + 1 + {STAGE_CHANGES} stage changes, duration from the "
            "first flush (running) to the last (done). Old rule = ceil(T / 5) writes. Staleness "
            "= commit of the write holding a result minus that task's finished_at (max, p50); "
            "the old rule's staleness is replayed on the same finish times (write time ignored)."
        ),
        headers=["database", "T", "duration", "writes", "bound", "old rule T/5", "max stale",
                 "p50 stale", "old rule max stale", "writes/s"],
    )
    for database, runs in measured.by_database.items():
        _rows(result, database, runs)
    result.notes.extend(measured.notes)
    return result


def _rows(result: Section, database: str, runs: list[EngineRun]) -> None:
    for run in runs:
        writes = len(run.commits)
        bound = math.floor(run.duration_s / FLUSH_INTERVAL_S) + 1 + STAGE_CHANGES
        stale = run.staleness
        old = old_rule_staleness(run.finishes)
        result.rows.append([
            database, str(run.tasks), secs(run.duration_s), f"{writes} (metric {run.flush_metric})",
            str(bound), str(math.ceil(run.tasks / OLD_RULE_EVERY)), ms(max(stale)),
            ms(percentile(stale, 50)), ms(max(old)), f"{writes / run.duration_s:.1f}",
        ])
        result.checks.append(Check(
            f"{database}: writes <= duration / interval + stage changes (T={run.tasks})",
            f"{writes} <= {bound}", writes <= bound,
        ))
        result.checks.append(Check(
            f"{database}: no result waits longer than the interval + one commit (T={run.tasks})",
            f"max {ms(max(stale))}", max(stale) <= FLUSH_INTERVAL_S + 0.1,
        ))
    if len(runs) > 1:
        rates = [len(r.commits) / r.duration_s for r in runs]
        result.notes.append(
            f"{database}: write rate across T = {', '.join(str(r.tasks) for r in runs)}: "
            f"{min(rates):.1f}..{max(rates):.1f} writes/s, independent of T "
            f"(the old rule's count grows as T/5)."
        )
