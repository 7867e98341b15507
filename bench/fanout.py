"""1. Fan-out makespan (SPEC 4), the SPEC 7 client choice and the bare client baselines, in one run.

Ours: the engine in this process, from `engine.create` to the terminal status (durable). The
baselines (bench/clients.py): `asyncio.gather` under a semaphore of C over a bare client, nothing
persisted. Old design: the same engine at concurrency 1 (calls one after another), extrapolated.
"""

import math
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

from bench.clients import BASELINES, BaselineRun, baseline_calls, collect_now, gather_once
from bench.inproc import TRANSPORTS, EngineRun, bench_engine, run_execution, transport_name
from bench.results import Check, Section, ms, ratio, secs, us
from bench.sizes import Sizes

DEFAULT = "aiohttp"  # the service's client (providers/transport.py)


@dataclass
class FanoutData:
    ours: dict[tuple[int, int, str], list[EngineRun]] = field(default_factory=dict)
    baseline: dict[tuple[int, int, str], list[BaselineRun]] = field(default_factory=dict)
    sequential_per_task_s: float = math.nan
    sequential_sample: int = 0
    transport_classes: dict[str, str] = field(default_factory=dict)


def _largest(sizes: Sizes) -> int:
    return max(tasks for tasks, _ in sizes.fanout_runs)


async def measure(sizes: Sizes, base_url: str, work_dir: Path) -> FanoutData:
    data = FanoutData()
    largest = _largest(sizes)
    for c in sorted({c for _, c in sizes.fanout_runs}):
        async with AsyncExitStack() as stack:
            engines = {
                transport: await stack.enter_async_context(bench_engine(
                    work_dir, f"fanout-c{c}-{transport}", base_url=base_url, concurrency=c,
                    transport=transport))
                for transport in TRANSPORTS
            }
            calls = await stack.enter_async_context(baseline_calls(base_url, c))
            # Warm-up: connections open, code paths imported, as in a long-running service.
            for transport, (engine, log) in engines.items():
                await run_execution(engine, log, tasks=c, concurrency=c, transport="warm-up")
                data.transport_classes[transport] = transport_name(engine)
            for call in calls.values():
                await gather_once(call, tasks=c, concurrency=c)
            for rep in range(sizes.repeats):
                for tasks in [t for t, cc in sizes.fanout_runs if cc == c]:
                    # Other transports only at the largest size: the SPEC 7 comparison (1b).
                    transports = list(TRANSPORTS) if tasks == largest else [DEFAULT]
                    runners = transports + list(BASELINES)
                    shift = rep % len(runners)  # alternate the order against drift
                    for who in runners[shift:] + runners[:shift]:
                        collect_now()
                        if who in BASELINES:
                            run = await gather_once(calls[who], tasks=tasks, concurrency=c)
                            data.baseline.setdefault((tasks, c, who), []).append(run)
                            continue
                        engine, log = engines[who]
                        ours = await run_execution(
                            engine, log, tasks=tasks, concurrency=c, transport=who)
                        if ours.status != "completed":
                            raise RuntimeError(f"fan-out run ended {ours.status}")
                        data.ours.setdefault((tasks, c, who), []).append(ours)
    async with bench_engine(work_dir, "sequential", base_url=base_url, concurrency=1,
                            transport=DEFAULT) as (engine, log):
        await run_execution(engine, log, tasks=1, concurrency=1, transport="warm-up")
        one_by_one = await run_execution(
            engine, log, tasks=sizes.sequential_sample, concurrency=1, transport=DEFAULT)
    data.sequential_per_task_s = one_by_one.makespan_s / sizes.sequential_sample
    data.sequential_sample = sizes.sequential_sample
    return data


def _best(runs: list[EngineRun]) -> EngineRun:
    return min(runs, key=lambda r: r.makespan_s)


def _best_base(data: FanoutData, tasks: int, c: int, who: str) -> BaselineRun:
    return min(data.baseline[(tasks, c, who)], key=lambda r: r.makespan_s)


def makespan_section(sizes: Sizes, data: FanoutData) -> Section:
    latency = sizes.latency_ms / 1000
    section = Section(
        title="1. Fan-out makespan",
        meaning=(
            f"T tasks on one platform (the loopback fake provider in its own process, fixed "
            f"latency L = {sizes.latency_ms:g} ms) under max_concurrency C. Makespan runs from "
            "`engine.create` to the terminal status being durable (report built, last flush "
            "committed). Ideal = ceil(T / C) x L. Baselines = `asyncio.gather` under a "
            "semaphore of C over a bare client, nothing persisted: bare httpx (`httpx."
            "AsyncClient` over `httpx_aiohttp.AiohttpTransport`), bare aiohttp (`aiohttp."
            "ClientSession`), openai (the official AsyncOpenAI client). Sequential = the old "
            "design, calls one after another (our engine at C = 1). "
            f"Best of {sizes.repeats} runs. GC = time in garbage collections during the run "
            "(`gc.callbacks`), per task."
        ),
        headers=["T", "C", "ideal", "ours", "ours/ideal", "bare httpx", "ours/bare httpx",
                 "bare aiohttp", "openai", "ours/openai", "sequential", "ours/sequential",
                 "tail", "GC/task ours"],
    )
    largest = _largest(sizes)
    for (tasks, c, transport), runs in sorted(data.ours.items()):
        if transport != DEFAULT:
            continue
        ours = _best(runs)
        bare = _best_base(data, tasks, c, "bare httpx")
        aio = _best_base(data, tasks, c, "bare aiohttp")
        official = _best_base(data, tasks, c, "openai")
        ideal = math.ceil(tasks / c) * latency
        sequential = tasks * data.sequential_per_task_s
        extrapolated = tasks > data.sequential_sample
        seq_text = secs(sequential) + (" (extrapolated)" if extrapolated else "")
        section.rows.append([
            str(tasks), str(c), secs(ideal), secs(ours.makespan_s), ratio(ours.makespan_s / ideal),
            secs(bare.makespan_s), ratio(ours.makespan_s / bare.makespan_s),
            secs(aio.makespan_s), secs(official.makespan_s),
            ratio(ours.makespan_s / official.makespan_s), seq_text,
            f"{ours.makespan_s / sequential:.3f}x", ms(ours.tail_s), us(ours.gc_s / tasks),
        ])
        if tasks == largest:
            section.checks.append(Check(
                f"makespan <= 1.10 x ideal (T={tasks}, C={c})",
                f"{ours.makespan_s / ideal:.3f}x ({secs(ours.makespan_s)} vs {secs(ideal)})",
                ours.makespan_s <= 1.10 * ideal,
            ))
        if tasks >= 400:
            vs_ideal, vs_bare = ours.makespan_s / ideal, ours.makespan_s / bare.makespan_s
            ok = vs_ideal <= 1.10 or vs_bare <= 1.05
            section.checks.append(Check(
                f"makespan <= 1.10 x ideal or <= 1.05 x bare httpx (T={tasks}, C={c})",
                f"{vs_ideal:.3f}x ideal, {vs_bare:.3f}x bare httpx", ok,
            ))
            if not ok:
                section.causes.append(
                    f"T={tasks}, C={c}: {vs_ideal:.3f}x ideal, {vs_bare:.3f}x the bare httpx "
                    f"gather ({secs(bare.makespan_s)}); bare aiohttp took "
                    f"{secs(aio.makespan_s)}. Our tail (analysis stage, report, last flushes) "
                    f"is {ms(ours.tail_s)}; the rest is CPU per task delaying each slot's next "
                    "call on a shared 2-core machine (see 1c)."
                )
        section.checks.append(Check(
            f"ours <= 1.15 x baseline (T={tasks}, C={c})",
            f"{ratio(ours.makespan_s / official.makespan_s)} (openai)",
            ours.makespan_s <= 1.15 * official.makespan_s,
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


def baselines_section(sizes: Sizes, data: FanoutData) -> Section:
    section = Section(
        title="1c. Client baselines side by side: CPU per task",
        meaning=(
            "This process's CPU time per task (all threads) in the runs of section 1, best of "
            f"{sizes.repeats}: ours is the whole engine (client, limits, breaker, analysis of "
            "the fake's 135-character answer, SQLite writes, report), the others one bare "
            "client's call and JSON decoding. The gap between bare aiohttp and bare httpx is "
            "the httpx layer's own cost; the gap between ours and bare aiohttp is the engine's."
        ),
        headers=["T", "C", "ours", "bare aiohttp", "bare httpx", "openai", "ours - bare aiohttp",
                 "GC/task ours", "GC/task bare httpx"],
    )
    for (tasks, c, transport), runs in sorted(data.ours.items()):
        if transport != DEFAULT:
            continue
        cpu = {who: min(r.cpu_s for r in data.baseline[(tasks, c, who)]) / tasks
               for who in BASELINES}
        ours_cpu = min(r.cpu_s for r in runs) / tasks
        bare_gc = min(r.gc_s for r in data.baseline[(tasks, c, "bare httpx")]) / tasks
        section.rows.append([
            str(tasks), str(c), ms(ours_cpu), ms(cpu["bare aiohttp"]), ms(cpu["bare httpx"]),
            ms(cpu["openai"]), ms(ours_cpu - cpu["bare aiohttp"]),
            us(min(r.gc_s for r in runs) / tasks), us(bare_gc),
        ])
    return section


def transport_section(sizes: Sizes, data: FanoutData) -> Section:
    tasks = _largest(sizes)
    names = data.transport_classes
    section = Section(
        title="1b. Client behind the Provider protocol (SPEC 7)",
        meaning=(
            f"Our fan-out at T = {tasks}, same engine, the platform's provider over: "
            f"aiohttp directly (`{names.get('aiohttp', '?')}`, the service's default), httpx "
            f"over httpx-aiohttp (`{names.get('httpx-aiohttp', '?')}`, the client before issue "
            f"13) or httpx's own transport (`{names.get('httpcore', '?')}`; `sniffio` "
            "installed). Both httpx variants are driven by providers/transport.py without an "
            "`AsyncClient` (no cookie jar), URL and headers built once per platform. At a fixed "
            "provider latency the makespan is bounded by the ideal, so the CPU per task (on 2 "
            "cores, the fan-out's real cost) decides; best of the runs for each."
        ),
        headers=["T", "C", "client", "makespan", "CPU/task", "vs default"],
    )
    for c in sorted({c for t, c in sizes.fanout_runs if t == tasks}):
        cpu = {who: min(r.cpu_s for r in data.ours[(tasks, c, who)]) / tasks for who in TRANSPORTS}
        for who in TRANSPORTS:
            section.rows.append([
                str(tasks), str(c), who, secs(_best(data.ours[(tasks, c, who)]).makespan_s),
                ms(cpu[who]), f"{cpu[who] / cpu[DEFAULT]:.2f}x",
            ])
        cheapest = min(cpu, key=lambda who: cpu[who])
        section.checks.append(Check(
            f"SPEC 7: the service's default client costs the least CPU (T={tasks}, C={c})",
            f"{cheapest}: {ms(cpu[cheapest])}/task; "
            + ", ".join(f"{who} {ms(cpu[who])}" for who in TRANSPORTS if who != cheapest),
            cheapest == DEFAULT,
        ))
        if cheapest != DEFAULT:
            section.causes.append(
                f"C={c}: {cheapest} spent {ms(cpu[DEFAULT] - cpu[cheapest])} less CPU per task "
                "than the default in this run; re-measure on a quiet machine before switching."
            )
    return section
