"""2. Write coalescing (SPEC 5): DB writes per execution and how stale a result can be.

Each run's flushes are timestamped as they commit; a result's staleness is that commit time
minus its `finished_at`. The old every-5-tasks rule is replayed on the same run's finish times.
"""

import math
from pathlib import Path

from bench.inproc import EngineRun, bench_engine, run_execution
from bench.results import Check, Section, ms, percentile, secs
from bench.sizes import Sizes

FLUSH_INTERVAL_S = 0.5  # the service's default (SPEC 9)
STAGE_CHANGES = 3  # running+ai_fetching, analyzing, done+terminal: each flushed at once
OLD_RULE_EVERY = 5


async def measure(sizes: Sizes, base_url: str, work_dir: Path) -> list[EngineRun]:
    c = sizes.write_concurrency
    runs = []
    async with bench_engine(
        work_dir, "writes", base_url=base_url, concurrency=c, transport="aiohttp",
        flush_interval_s=FLUSH_INTERVAL_S,
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


def section(sizes: Sizes, runs: list[EngineRun]) -> Section:
    result = Section(
        title="2. Write coalescing",
        meaning=(
            f"One execution per row at C = {sizes.write_concurrency}, L = {sizes.latency_ms:g} ms, "
            f"flush_interval_s = {FLUSH_INTERVAL_S}. Writes = progress transactions of the "
            "execution (reporter flushes; `metrics.FLUSHES` delta agrees). Bound = "
            f"floor(duration / interval) + 1 + {STAGE_CHANGES} stage changes, duration from the "
            "first flush (running) to the last (done). Old rule = ceil(T / 5) writes. Staleness "
            "= commit of the write holding a result minus that task's finished_at (max, p50); "
            "the old rule's staleness is replayed on the same finish times (write time ignored)."
        ),
        headers=["T", "duration", "writes", "bound", "old rule T/5", "max stale", "p50 stale",
                 "old rule max stale", "writes/s"],
    )
    for run in runs:
        writes = len(run.commits)
        bound = math.floor(run.duration_s / FLUSH_INTERVAL_S) + 1 + STAGE_CHANGES
        stale = run.staleness
        old = old_rule_staleness(run.finishes)
        result.rows.append([
            str(run.tasks), secs(run.duration_s), f"{writes} (metric {run.flush_metric})",
            str(bound), str(math.ceil(run.tasks / OLD_RULE_EVERY)), ms(max(stale)),
            ms(percentile(stale, 50)), ms(max(old)), f"{writes / run.duration_s:.1f}",
        ])
        result.checks.append(Check(
            f"writes <= duration / interval + stage changes (T={run.tasks})",
            f"{writes} <= {bound}", writes <= bound,
        ))
        result.checks.append(Check(
            f"no result waits longer than the interval + one commit (T={run.tasks})",
            f"max {ms(max(stale))}", max(stale) <= FLUSH_INTERVAL_S + 0.1,
        ))
    if len(runs) > 1:
        rates = [len(r.commits) / r.duration_s for r in runs]
        result.notes.append(
            f"Write rate across T = {', '.join(str(r.tasks) for r in runs)}: "
            f"{min(rates):.1f}..{max(rates):.1f} writes/s, independent of T "
            f"(the old rule's count grows as T/5)."
        )
    return result
