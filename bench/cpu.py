"""6. Server CPU per task, GC and loop stalls: a real server process (bench.server) runs one
execution of T tasks over two platforms at C each while a client polls its status every 50 ms.

Per answer kind (the fake's 135-character answer, or a realistic 3000-character one from
bench/answers.py): the server's CPU time from the start request to the terminal status, the
collections it ran (`gc.callbacks`) and the longest loop stall (a probe task in the server's
loop that wakes every 5 ms). The service's start-up heap is frozen by its lifespan.
"""

import asyncio
import math
import statistics
import time
from dataclasses import dataclass
from typing import Any

import httpx

from bench.fake_provider import LONG_MODEL_PREFIX
from bench.loop import run_async
from bench.procs import Child, cpu_seconds, service, tree_cpu_seconds
from bench.results import Check, Section, ms, secs, us
from bench.sizes import Sizes
from diagnosis.engine.analysis_pool import PRESTART_TASKS

KINDS = {"short": ("short-a", "short-b"), "3000-char": (f"{LONG_MODEL_PREFIX}-a",
                                                        f"{LONG_MODEL_PREFIX}-b")}
TARGET_MS = {"short": 0.8, "3000-char": 1.2}
STALL_S = 0.020
TERMINAL = {"completed", "partial_success", "failed", "cancelled", "timeout"}
PHASES = ("start request", "fan-out", "analysing + report")


@dataclass(frozen=True)
class CpuRun:
    kind: str
    tasks: int
    makespan_s: float
    cpu_s: float  # the server and its analysis processes
    loop_cpu_s: float  # the server's own process (its event loop and threads)
    polls: int
    gc: dict[str, Any]
    loop: dict[str, Any]
    phases: dict[str, float]  # wall-clock end of each phase: start request, fan-out, report

    def stall_phases(self) -> dict[str, list[float]]:
        """The stalls over 20 ms by the phase they ended in."""
        found: dict[str, list[float]] = {phase: [] for phase in PHASES}
        for at, lag in self.loop["stalls"]:
            phase = next((p for p in PHASES if at <= self.phases[p]), PHASES[-1])
            found[phase].append(lag)
        return found


def _shape(tasks: int) -> tuple[int, int]:
    """(questions, samples) giving tasks / 2 per platform within the API's limits."""
    per_platform = tasks // 2
    for samples in range(10, 0, -1):
        if per_platform % samples == 0 and per_platform // samples <= 50:
            return per_platform // samples, samples
    raise ValueError(f"{tasks} tasks cannot be shaped over two platforms")


async def _one(client: httpx.AsyncClient, server: Child, sizes: Sizes, kind: str) -> CpuRun:
    questions, samples = _shape(sizes.cpu_tasks)
    body = {"brand": "蔚来", "competitors": ["理想", "小鹏"], "platforms": list(KINDS[kind]),
            "questions": [f"第{q}问：20万左右的新能源汽车推荐" for q in range(questions)],
            "samples": samples}
    (await client.post("/bench/probes/start")).raise_for_status()
    cpu, own, began = tree_cpu_seconds(server.pid), cpu_seconds(server.pid), time.perf_counter()
    created = (await client.post("/api/diagnoses", json=body)).raise_for_status().json()
    phases = {"start request": time.time()}
    polls, status = 0, ""
    while status not in TERMINAL:
        await asyncio.sleep(sizes.cpu_poll_s)
        view = (await client.get(f"/api/diagnoses/{created['execution_id']}")).json()
        status, polls = view["status"], polls + 1
        if view.get("stage") not in (None, "init", "ai_fetching") and "fan-out" not in phases:
            phases["fan-out"] = time.time()  # within one poll interval of the real end
    phases.setdefault("fan-out", time.time())
    phases["analysing + report"] = time.time()
    makespan, used = time.perf_counter() - began, tree_cpu_seconds(server.pid) - cpu
    used_own = cpu_seconds(server.pid) - own
    probes = (await client.post("/bench/probes/stop")).raise_for_status().json()
    if status != "completed":
        raise RuntimeError(f"CPU bench: the execution ended {status}")
    return CpuRun(kind, questions * samples * 2, makespan, used, used_own, polls, probes["gc"],
                  probes["loop"], phases)


async def _measure(sizes: Sizes, server: Child) -> list[CpuRun]:
    runs: list[CpuRun] = []
    async with httpx.AsyncClient(base_url=server.base_url, timeout=120) as client:
        # warm-up: connections, imports, first analysis of each kind, and the analysis
        # processes started (an execution of PRESTART_TASKS or more starts them)
        for kind in KINDS:
            warm = Sizes(**{**sizes.__dict__, "cpu_tasks": max(
                4 * sizes.cpu_concurrency, min(sizes.cpu_tasks, 2 * PRESTART_TASKS))})
            await _one(client, server, warm, kind)
        for rep in range(sizes.cpu_repeats):
            order = list(KINDS) if rep % 2 == 0 else list(reversed(KINDS))
            for kind in order:
                runs.append(await _one(client, server, sizes, kind))
    return runs


def run(sizes: Sizes, fake: Any, work_dir: Any) -> Section:
    platforms = {pid: sizes.cpu_concurrency for pids in KINDS.values() for pid in pids}
    with service(work_dir, "cpu", provider_url=fake.base_url + "/v1",
                 platforms=platforms) as server:
        runs = run_async(_measure(sizes, server))
    return section(sizes, runs)


def section(sizes: Sizes, runs: list[CpuRun]) -> Section:
    per_platform = math.ceil(sizes.cpu_tasks / 2 / sizes.cpu_concurrency)
    ideal = per_platform * sizes.latency_ms / 1000
    result = Section(
        title="6. Server CPU per task, GC and loop stalls",
        meaning=(
            f"A real server process (`diagnosis serve`'s settings, uvicorn, SQLite file) runs "
            f"one execution of {sizes.cpu_tasks} tasks over two platforms at max_concurrency "
            f"{sizes.cpu_concurrency} each (L = {sizes.latency_ms:g} ms, ideal "
            f"{secs(ideal)}) while the bench polls its status every "
            f"{sizes.cpu_poll_s * 1000:.0f} ms. CPU = the server's CPU time (all threads, "
            "/proc) plus its analysis processes' (engine/analysis_pool.py), from the start "
            "request to the terminal status, per task; *of which the server's own process* "
            "is the loop's and its threads' share: the HTTP client, "
            "the engine, the analysis of each answer, SQLite writes, the report and the polls. "
            "Answers: the fake's 135-character one, or a realistic 3000-character one "
            "(`###` headers, nested lists, a table, prose, URLs). GC from `gc.callbacks` in "
            "the server; loop lag from a probe task in its loop waking every 5 ms (the longest "
            f"lateness is the longest stall). {sizes.cpu_repeats} runs per kind, alternating; "
            "min and median shown."
        ),
        headers=["answers", "runs", "makespan (median)", "CPU/task min", "CPU/task median",
                 "of which the server's own process (median)",
                 "collections gen0/1/2", "GC/task", "max GC pause", "max loop lag",
                 "stalls > 20 ms", "polls"],
    )
    for kind in KINDS:
        mine = [r for r in runs if r.kind == kind]
        if not mine:
            continue
        cpu = [r.cpu_s / r.tasks for r in mine]
        counts = [sum(r.gc["counts"][g] for r in mine) for g in range(3)]
        gc_s = sum(sum(r.gc["seconds"]) for r in mine) / sum(r.tasks for r in mine)
        lag = max(r.loop["max_lag_s"] for r in mine)
        stalls = sum(r.loop["over_20ms"] for r in mine)
        result.rows.append([
            kind, str(len(mine)), secs(statistics.median(r.makespan_s for r in mine)),
            ms(min(cpu)), ms(statistics.median(cpu)),
            ms(statistics.median(r.loop_cpu_s / r.tasks for r in mine)),
            "/".join(map(str, counts)), us(gc_s),
            ms(max(r.gc["max_pause_s"] for r in mine)), ms(lag), str(stalls),
            str(round(statistics.median(r.polls for r in mine))),
        ])
        target = TARGET_MS[kind] / 1000
        result.checks.append(Check(
            f"server CPU/task <= {TARGET_MS[kind]:g} ms ({kind} answers), its analysis "
            "processes included",
            f"{ms(statistics.median(cpu))} median, {ms(min(cpu))} min",
            statistics.median(cpu) <= target,
        ))
        own = [r.loop_cpu_s / r.tasks for r in mine]
        if max(c - o for c, o in zip(cpu, own, strict=True)) > 0:  # some went to the processes
            result.checks.append(Check(
                f"the server's own process: CPU/task <= {TARGET_MS[kind]:g} ms ({kind} answers)",
                f"{ms(statistics.median(own))} median, {ms(min(own))} min",
                statistics.median(own) <= target,
            ))
        result.checks.append(Check(
            f"no full collection during a {sizes.cpu_tasks}-task run ({kind} answers)",
            f"{counts[2]} in {len(mine)} runs", counts[2] == 0,
        ))
        result.checks.append(Check(
            f"no event-loop stall over 20 ms ({kind} answers)", f"max {ms(lag)}", lag <= STALL_S,
        ))
        by_phase = {phase: [lag for r in mine for lag in r.stall_phases()[phase]]
                    for phase in PHASES}
        result.notes.append(
            f"{kind}: stalls over 20 ms by phase (count, longest): " + "; ".join(
                f"{phase} {len(lags)}, {ms(max(lags, default=0.0))}"
                for phase, lags in by_phase.items())
        )
    threshold = runs[0].gc["threshold"] if runs else []
    frozen = runs[0].gc["frozen"] if runs else 0
    result.notes.append(
        f"The server's collector: {frozen} objects frozen at start-up, thresholds {threshold} "
        "(diagnosis/heap.py)."
    )
    return result
