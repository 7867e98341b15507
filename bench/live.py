"""3. The status route under load and 5. memory, on one real server process (bench.server).

The server first runs N small executions to their end, then M long ones; while those run, GET
/api/diagnoses/{id} and GET /health are loaded in alternating rounds; then the long ones are
cancelled. RSS and the engine cache are read at each step.
"""

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import httpx

from bench.loadgen import LoadResult, load
from bench.loadgen import client as load_client
from bench.loop import run_async
from bench.procs import Child, cpu_seconds, rss_kb, service
from bench.results import Check, Section, ms, percentile
from bench.sizes import Sizes

FAST, SLOW = "fast", "slow"


@dataclass
class Moment:
    label: str
    finished: int
    running: int
    cache: int
    rss_kb: int
    hwm_kb: int


async def _state(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/bench/state")
    response.raise_for_status()
    state: dict[str, Any] = response.json()
    return state


async def _moment(client: httpx.AsyncClient, server: Child, label: str) -> Moment:
    state = await _state(client)
    counts = state["by_status"]
    memory = rss_kb(server.pid)
    finished = sum(n for s, n in counts.items() if s not in ("queued", "running"))
    return Moment(label, finished, counts["running"] + counts["queued"], len(state["cache"]),
                  memory["VmRSS"], memory["VmHWM"])


async def _wait_until(client: httpx.AsyncClient, predicate: Any, what: str,
                      timeout_s: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        state = await _state(client)
        if predicate(state):
            return state
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not reached in {timeout_s}s ({state})")
        await asyncio.sleep(0.1)


async def _start(client: httpx.AsyncClient, n: int, *, platform: str, questions: int,
                 samples: int) -> list[str]:
    slots = asyncio.Semaphore(8)

    async def one(i: int) -> str:
        body = {"brand": "蔚来", "competitors": ["理想", "小鹏"], "platforms": [platform],
                "questions": [f"第{i}组第{q}问：新能源汽车推荐" for q in range(questions)],
                "samples": samples, "owner": "bench"}
        async with slots:
            response = await client.post("/api/diagnoses", json=body)
        response.raise_for_status()
        return str(response.json()["execution_id"])

    return list(await asyncio.gather(*(one(i) for i in range(n))))


Loads = dict[tuple[str, int], LoadResult]  # (route, concurrency) -> result


async def _measure(sizes: Sizes, server: Child) -> tuple[Loads, dict[tuple[str, int], float],
                                                         list[Moment], list[str]]:
    notes: list[str] = []
    async with load_client(server.base_url, concurrency=sizes.load_concurrency + 4) as client:
        moments = [await _moment(client, server, "idle, after start")]
        n_done = sizes.finished_executions
        await _start(client, n_done, platform=FAST, questions=sizes.finished_tasks_each, samples=1)
        await _wait_until(
            client, lambda s: not s["runner"] and s["by_status"]["completed"] == n_done,
            f"{n_done} executions completed")
        moments.append(await _moment(client, server, f"{n_done} finished"))
        ids = await _start(client, sizes.running_executions, platform=SLOW,
                           questions=sizes.running_questions, samples=sizes.running_samples)
        await _wait_until(client, lambda s: s["by_status"]["running"] == len(ids),
                          "long executions running")
        moments.append(await _moment(client, server, f"{n_done} finished + {len(ids)} running"))
        urls = {"/health": ["/health"], "status": [f"/api/diagnoses/{i}" for i in ids]}
        results: Loads = {}
        cpu: dict[tuple[str, int], float] = {}
        rounds = [(sizes.load_concurrency, sizes.load_requests // sizes.load_rounds)] * (
            sizes.load_rounds) + [(sizes.load_low_concurrency, sizes.load_requests // 4)]
        for round_no, (concurrency, requests) in enumerate(rounds):
            order = ["/health", "status"] if round_no % 2 == 0 else ["status", "/health"]
            for route in order:
                before = cpu_seconds(server.pid)
                result = await load(client, urls[route], requests=requests,
                                    concurrency=concurrency)
                key = (route, concurrency)
                cpu[key] = cpu.get(key, 0.0) + cpu_seconds(server.pid) - before
                results.setdefault(key, LoadResult()).add(result)
        after_load = await _moment(client, server, f"{n_done} finished + {len(ids)} running, "
                                   "after the load")
        moments.append(after_load)
        if after_load.running != len(ids):
            notes.append(
                f"{len(ids) - after_load.running} of the {len(ids)} executions ended during the "
                "load although all of them together need far longer: check that the platform's "
                "slots are still shared fairly between executions (engine/fairness.py)."
            )
        await asyncio.gather(*(client.post(f"/api/diagnoses/{i}/cancel") for i in ids))
        await _wait_until(client, lambda s: not s["runner"], "cancelled executions ended")
        moments.append(await _moment(client, server, f"{n_done} finished + {len(ids)} cancelled"))
    return results, cpu, moments, notes


def run(sizes: Sizes, fake: Child, work_dir: Any) -> tuple[Section, Section]:
    platforms = {FAST: 16, SLOW: sizes.running_concurrency}
    provider_url = fake.base_url + "/v1"
    with service(work_dir, "live", provider_url=provider_url, platforms=platforms) as server:
        results, cpu, moments, notes = run_async(_measure(sizes, server))
    return _status_section(sizes, results, cpu, notes), _memory_section(sizes, moments)


def _status_section(sizes: Sizes, results: Loads, cpu: dict[tuple[str, int], float],
                    notes: list[str]) -> Section:
    section = Section(
        title="3. Status route under load",
        meaning=(
            f"A real server process (`diagnosis serve`'s settings, uvicorn, SQLite file) with "
            f"{sizes.running_executions} executions running (each {sizes.running_questions} "
            f"questions x {sizes.running_samples} samples on a platform of max_concurrency "
            f"{sizes.running_concurrency}, L = {sizes.latency_ms:g} ms, so results and flushes "
            f"keep coming) and {sizes.finished_executions} finished. A closed-loop load "
            "generator (httpx over `AiohttpTransport`) in the bench process sends "
            f"{sizes.load_requests} GETs per route, "
            f"{sizes.load_concurrency} at a time, in {sizes.load_rounds} alternating rounds "
            "(status over the running ids, round-robin, no If-None-Match), then one round of "
            f"{sizes.load_requests // 4} per route at {sizes.load_low_concurrency} at a time "
            "(latency with little queueing). Latency is per request at the client; server CPU "
            "is the server process's CPU time per request. Client and server share the 2 "
            "cores, so absolute req/s is a floor. The targets are read at "
            f"{sizes.load_concurrency} concurrent."
        ),
        headers=["route", "concurrent", "requests", "errors", "req/s", "p50", "p99",
                 "server CPU/request"],
        notes=notes,
    )
    for (route, concurrency), result in results.items():
        name = "GET /api/diagnoses/{id}" if route == "status" else "GET /health"
        section.rows.append([
            name, str(concurrency), str(result.requests), str(result.errors), f"{result.rps:.0f}",
            ms(percentile(result.latencies, 50)), ms(percentile(result.latencies, 99)),
            ms(cpu[(route, concurrency)] / result.requests),
        ])
    status = results[("status", sizes.load_concurrency)]
    health = results[("/health", sizes.load_concurrency)]
    status_cpu = cpu[("status", sizes.load_concurrency)] / status.requests
    health_cpu = cpu[("/health", sizes.load_concurrency)] / health.requests
    share = status.rps / health.rps if health.rps else 0.0
    p99 = percentile(status.latencies, 99)
    section.checks += [
        Check("status route >= 50% of /health's throughput",
              f"{share:.0%} ({status.rps:.0f} vs {health.rps:.0f} req/s)", share >= 0.5),
        Check("status route p99 < 50 ms", ms(p99), p99 < 0.050),
        Check("no errors under load", f"{status.errors + health.errors} errors",
              status.errors + health.errors == 0),
    ]
    if p99 >= 0.050:
        section.causes.append(
            f"p99 misses 50 ms. With {sizes.load_concurrency} clients in a closed loop the mean "
            f"latency is {sizes.load_concurrency} / throughput "
            f"({sizes.load_concurrency / status.rps * 1000:.0f} ms at {status.rps:.0f} req/s), so "
            f"the server's CPU per request decides: {ms(status_cpu)} for a status read against "
            f"{ms(health_cpu)} for /health (a `SELECT 1`), on 2 cores shared with the load "
            f"generator, {sizes.running_executions} running executions and the fake provider."
        )
    return section


def _memory_section(sizes: Sizes, moments: list[Moment]) -> Section:
    section = Section(
        title="5. Memory and the engine cache",
        meaning=(
            "RSS (VmRSS) and peak (VmHWM) of the server process from /proc at each step of the "
            "run above; `cache` = len(engine.cache), `running` = executions queued or running "
            f"in the database. Finished executions are {sizes.finished_tasks_each}-task runs."
        ),
        headers=["moment", "finished", "running", "engine cache", "RSS", "peak RSS"],
    )
    for m in moments:
        section.rows.append([m.label, str(m.finished), str(m.running), str(m.cache),
                             f"{m.rss_kb / 1024:.1f} MiB", f"{m.hwm_kb / 1024:.1f} MiB"])
    bounded = all(m.cache == m.running for m in moments)
    section.checks.append(Check(
        "engine cache holds only running executions (finished ones leave it)",
        "; ".join(f"{m.cache} cached / {m.running} running" for m in moments), bounded,
    ))
    idle, busy, last = moments[0], moments[2], moments[-1]
    section.checks.append(Check(
        f"RSS with {sizes.finished_executions} finished + {sizes.running_executions} running",
        f"{busy.rss_kb / 1024:.1f} MiB (idle {idle.rss_kb / 1024:.1f} MiB, at the end "
        f"{last.rss_kb / 1024:.1f} MiB, peak {last.hwm_kb / 1024:.1f} MiB)", None,
    ))
    section.notes.append(
        "RSS does not fall back when executions end or are cancelled: CPython keeps freed "
        "memory in its arenas; what must not grow is the engine cache, checked above."
    )
    return section
