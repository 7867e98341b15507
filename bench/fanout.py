"""1. Fan-out makespan (SPEC 4) and the SPEC 7 transport choice, in one run.

Ours: the engine in this process, from `engine.create` to the terminal status (durable). Baseline:
the official `openai` client, `asyncio.gather` under a semaphore of C, nothing persisted. Old
design: the same engine at concurrency 1 (calls one after another), extrapolated past its sample.
"""

import asyncio
import math
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import openai

from bench.inproc import (
    EngineRun,
    bench_engine,
    cpu_now,
    question,
    run_execution,
    transport_name,
)
from bench.results import Check, Section, ms, ratio, secs
from bench.sizes import Sizes


@dataclass(frozen=True)
class BaselineRun:
    makespan_s: float
    cpu_s: float


@dataclass
class FanoutData:
    ours: dict[tuple[int, int, str], list[EngineRun]] = field(default_factory=dict)
    baseline: dict[tuple[int, int], list[BaselineRun]] = field(default_factory=dict)
    sequential_per_task_s: float = math.nan
    sequential_sample: int = 0
    transport_classes: dict[str, str] = field(default_factory=dict)


@asynccontextmanager
async def openai_client(base_url: str) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(api_key="bench", base_url=base_url, max_retries=0, timeout=60.0)
    try:
        yield client
    finally:
        await client.close()


async def baseline_once(client: openai.AsyncOpenAI, *, tasks: int, concurrency: int) -> BaselineRun:
    slots = asyncio.Semaphore(concurrency)

    async def one(i: int) -> str:
        async with slots:
            reply = await client.chat.completions.create(
                model="fake-model", messages=[{"role": "user", "content": question(i)}]
            )
            return reply.choices[0].message.content or ""

    cpu, began = cpu_now(), time.perf_counter()
    answers = await asyncio.gather(*(one(i) for i in range(tasks)))
    makespan = time.perf_counter() - began
    if not all(answers):
        raise RuntimeError("the baseline got an empty answer")
    return BaselineRun(makespan, cpu_now() - cpu)


async def measure(sizes: Sizes, base_url: str, work_dir: Path) -> FanoutData:
    data = FanoutData()
    for c in sizes.concurrencies:
        async with AsyncExitStack() as stack:
            engines = {
                transport: await stack.enter_async_context(bench_engine(
                    work_dir, f"fanout-c{c}-{transport}", base_url=base_url, concurrency=c,
                    transport=transport))
                for transport in ("httpx", "aiohttp")
            }
            client = await stack.enter_async_context(openai_client(base_url))
            # Warm-up: connections open, code paths imported, as in a long-running service.
            for transport, (engine, log) in engines.items():
                await run_execution(engine, log, tasks=c, concurrency=c, transport="warm-up")
                data.transport_classes[transport] = transport_name(engine)
            await baseline_once(client, tasks=c, concurrency=c)
            for rep in range(sizes.repeats):
                for tasks in sizes.fanout_tasks:
                    runners = ["httpx", "aiohttp", "baseline"]
                    shift = rep % len(runners)  # alternate the order against drift
                    for who in runners[shift:] + runners[:shift]:
                        if who == "baseline":
                            run = await baseline_once(client, tasks=tasks, concurrency=c)
                            data.baseline.setdefault((tasks, c), []).append(run)
                            continue
                        engine, log = engines[who]
                        ours = await run_execution(
                            engine, log, tasks=tasks, concurrency=c, transport=who)
                        if ours.status != "completed":
                            raise RuntimeError(f"fan-out run ended {ours.status}")
                        data.ours.setdefault((tasks, c, who), []).append(ours)
    async with bench_engine(work_dir, "sequential", base_url=base_url, concurrency=1,
                            transport="aiohttp") as (engine, log):
        await run_execution(engine, log, tasks=1, concurrency=1, transport="warm-up")
        one_by_one = await run_execution(
            engine, log, tasks=sizes.sequential_sample, concurrency=1, transport="aiohttp")
    data.sequential_per_task_s = one_by_one.makespan_s / sizes.sequential_sample
    data.sequential_sample = sizes.sequential_sample
    return data


def _best(runs: list[EngineRun]) -> EngineRun:
    return min(runs, key=lambda r: r.makespan_s)


def makespan_section(sizes: Sizes, data: FanoutData) -> Section:
    latency = sizes.latency_ms / 1000
    section = Section(
        title="1. Fan-out makespan",
        meaning=(
            f"T tasks on one platform (the loopback fake provider in its own process, fixed "
            f"latency L = {sizes.latency_ms:g} ms) under max_concurrency C. Makespan runs from "
            "`engine.create` to the terminal status being durable (report built, last flush "
            "committed). Ideal = ceil(T / C) x L. Baseline = the official `openai` "
            "AsyncOpenAI client, `asyncio.gather` under a semaphore of C, nothing persisted. "
            "Sequential = the old design, calls one after another (our engine at C = 1). "
            f"Best of {sizes.repeats} runs; CPU = this process's CPU time per task "
            "(client, engine, analysis and SQLite threads)."
        ),
        headers=["T", "C", "ideal", "ours", "ours/ideal", "baseline", "baseline/ideal",
                 "ours/baseline", "sequential", "ours/sequential", "tail", "CPU/task ours",
                 "CPU/task baseline"],
    )
    largest = max(sizes.fanout_tasks)
    for (tasks, c, transport), runs in sorted(data.ours.items()):
        if transport != "aiohttp":  # the service's default transport
            continue
        ours = _best(runs)
        base = min(data.baseline[(tasks, c)], key=lambda r: r.makespan_s)
        ideal = math.ceil(tasks / c) * latency
        sequential = tasks * data.sequential_per_task_s
        extrapolated = tasks > data.sequential_sample
        seq_text = secs(sequential) + (" (extrapolated)" if extrapolated else "")
        section.rows.append([
            str(tasks), str(c), secs(ideal), secs(ours.makespan_s), ratio(ours.makespan_s / ideal),
            secs(base.makespan_s), ratio(base.makespan_s / ideal),
            ratio(ours.makespan_s / base.makespan_s), seq_text,
            f"{ours.makespan_s / sequential:.3f}x", ms(ours.tail_s), ms(ours.cpu_s / tasks),
            ms(base.cpu_s / tasks),
        ])
        if tasks == largest:
            section.checks.append(Check(
                f"makespan <= 1.10 x ideal (T={tasks}, C={c})",
                f"{ours.makespan_s / ideal:.3f}x ({secs(ours.makespan_s)} vs {secs(ideal)})",
                ours.makespan_s <= 1.10 * ideal,
            ))
            if ours.makespan_s > 1.10 * ideal:
                section.causes.append(
                    f"T={tasks}, C={c} misses 1.10 x ideal by "
                    f"{secs(ours.makespan_s - 1.10 * ideal)}. The bare `openai` baseline is at "
                    f"{ratio(base.makespan_s / ideal)} of ideal: client CPU per call "
                    f"({ms(ours.cpu_s / tasks)} ours, {ms(base.cpu_s / tasks)} baseline) delays "
                    "each slot's next call on a shared 2-core machine. Ours adds "
                    f"{secs(ours.makespan_s - base.makespan_s)} over the baseline, of which the "
                    f"tail is {ms(ours.tail_s)}. See 1b for the transport's share."
                )
        section.checks.append(Check(
            f"ours <= 1.15 x baseline (T={tasks}, C={c})",
            f"{ratio(ours.makespan_s / base.makespan_s)}",
            ours.makespan_s <= 1.15 * base.makespan_s,
        ))
    section.notes.append(
        f"Sequential: {data.sequential_sample} calls measured one after another "
        f"({ms(data.sequential_per_task_s)} per task: create to terminal / "
        f"{data.sequential_sample}); "
        f"rows with more tasks than that are extrapolated as T x that time."
    )
    section.notes.append(
        "Tail = from the last task's end to the durable terminal status: the analysing stage "
        "(all results read back, report built) and the last flushes."
    )
    return section


def transport_section(sizes: Sizes, data: FanoutData) -> Section:
    tasks = max(sizes.fanout_tasks)
    section = Section(
        title="1b. Transport: httpx default vs httpx-aiohttp (SPEC 7)",
        meaning=(
            f"Our fan-out at T = {tasks}, same engine, the platform's httpx.AsyncClient built with "
            "httpx's own transport (`transport_factory` giving "
            f"`{data.transport_classes.get('httpx', '?')}`, i.e. httpcore; `sniffio` installed) "
            "or the service's default, `httpx_aiohttp.AiohttpTransport` "
            f"(`{data.transport_classes.get('aiohttp', '?')}`, providers/transport.py), chosen "
            "from this measurement. At a fixed provider latency the "
            "makespan is bounded by the ideal, so the CPU per task (on 2 cores, the fan-out's "
            "real cost) decides; best of the runs for each."
        ),
        headers=["T", "C", "httpcore makespan", "aiohttp makespan", "httpcore CPU/task",
                 "aiohttp CPU/task", "less CPU"],
    )
    for c in sizes.concurrencies:
        plain = _best(data.ours[(tasks, c, "httpx")])
        aio = _best(data.ours[(tasks, c, "aiohttp")])
        cpu_plain = min(r.cpu_s for r in data.ours[(tasks, c, "httpx")]) / tasks
        cpu_aio = min(r.cpu_s for r in data.ours[(tasks, c, "aiohttp")]) / tasks
        faster = "httpcore" if cpu_plain < cpu_aio else "aiohttp"
        gain = abs(cpu_plain - cpu_aio) / max(cpu_plain, cpu_aio)
        section.rows.append([
            str(tasks), str(c), secs(plain.makespan_s), secs(aio.makespan_s), ms(cpu_plain),
            ms(cpu_aio), f"{faster} ({gain:.0%} less CPU)",
        ])
        section.checks.append(Check(
            f"SPEC 7: the service's default transport costs the least CPU (T={tasks}, C={c})",
            f"{faster}: {ms(min(cpu_plain, cpu_aio))}/task vs {ms(max(cpu_plain, cpu_aio))}",
            faster == "aiohttp",
        ))
        spread = abs(plain.makespan_s - aio.makespan_s) / min(plain.makespan_s, aio.makespan_s)
        if faster != "aiohttp":
            section.causes.append(
                f"C={c}: httpcore spent {ms(cpu_aio - cpu_plain)} less CPU per call than the "
                "default `AiohttpTransport` in this run "
                f"({gain:.0%}); the makespans differ by {spread:.0%} "
                f"({'within run-to-run noise' if spread < 0.05 else 'see the table'}): at a "
                "fixed provider latency the waiting dominates; re-measure before switching back."
            )
    return section
