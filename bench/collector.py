"""6c. The collector: CPython's defaults against what diagnosis/heap.py sets, on the same
in-process fan-out (T tasks, C = 16, the fake at L), so the thresholds are chosen from data.

Each configuration is applied in this process before its runs: defaults = nothing frozen and
(700, 10, 10); freeze = the start-up heap frozen, default thresholds; service = frozen and
SERVICE_THRESHOLDS. GC from `gc.callbacks`, loop lag from a probe task in this loop.
"""

import gc
from dataclasses import dataclass
from pathlib import Path

from bench.inproc import EngineRun, bench_engine, run_execution
from bench.probes import LoopLagProbe
from bench.results import Check, Section, ms, us
from bench.sizes import Sizes
from diagnosis.heap import SERVICE_THRESHOLDS

CONFIGS = ("CPython defaults", "frozen, default thresholds", "frozen + service thresholds")
CONCURRENCY = 16


@dataclass(frozen=True)
class CollectorRun:
    config: str
    run: EngineRun
    max_lag_s: float


def _apply(config: str) -> None:
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    if config != CONFIGS[0]:
        gc.collect()
        gc.freeze()
    if config == CONFIGS[2]:
        gc.set_threshold(*SERVICE_THRESHOLDS)


async def measure(sizes: Sizes, base_url: str, work_dir: Path) -> list[CollectorRun]:
    tasks = max(t for t, _ in sizes.fanout_runs)
    runs: list[CollectorRun] = []
    async with bench_engine(work_dir, "collector", base_url=base_url, concurrency=CONCURRENCY,
                            transport="aiohttp") as (engine, log):
        await run_execution(engine, log, tasks=CONCURRENCY, concurrency=CONCURRENCY,
                            transport="warm-up")
        try:
            for rep in range(sizes.repeats):
                for config in CONFIGS if rep % 2 == 0 else tuple(reversed(CONFIGS)):
                    _apply(config)
                    probe = LoopLagProbe()
                    probe.start()
                    run = await run_execution(engine, log, tasks=tasks,
                                              concurrency=CONCURRENCY, transport="aiohttp")
                    await probe.stop()
                    runs.append(CollectorRun(config, run, probe.max_lag_s))
        finally:
            _apply(CONFIGS[2])  # the rest of the bench runs as the service does
    return runs


def section(sizes: Sizes, runs: list[CollectorRun]) -> Section:
    tasks = max(t for t, _ in sizes.fanout_runs)
    result = Section(
        title="6c. The collector: CPython's defaults vs the service's",
        meaning=(
            f"The in-process fan-out of section 1 (T = {tasks}, C = {CONCURRENCY}) under three "
            "collector settings, applied in the bench process before each run: CPython's "
            "defaults; the start-up heap frozen (`gc.freeze()` after a collection) with default "
            "thresholds; frozen with the service's thresholds "
            f"{SERVICE_THRESHOLDS} (diagnosis/heap.py, what the lifespan does). "
            f"{sizes.repeats} runs each, alternating; collections summed, pauses and lag the "
            "worst, CPU the best."
        ),
        headers=["collector", "runs", "collections gen0/1/2", "GC/task", "CPU/task",
                 "max loop lag"],
    )
    for config in CONFIGS:
        mine = [r for r in runs if r.config == config]
        if not mine:
            continue
        counts = [sum(r.run.gc_counts[g] for r in mine) for g in range(3)]
        gc_s = sum(r.run.gc_s for r in mine) / sum(r.run.tasks for r in mine)
        result.rows.append([
            config, str(len(mine)), "/".join(map(str, counts)), us(gc_s),
            ms(min(r.run.cpu_s / r.run.tasks for r in mine)),
            ms(max(r.max_lag_s for r in mine)),
        ])
        if config == CONFIGS[2]:
            result.checks.append(Check(
                f"no full collection in a {tasks}-task fan-out (service's collector)",
                f"{counts[2]} in {len(mine)} runs", counts[2] == 0,
            ))
    return result
